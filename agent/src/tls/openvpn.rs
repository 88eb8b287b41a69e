//! TLS inside OpenVPN's control channel over TCP.
//!
//! Why: OpenVPN carries a real TLS handshake (ClientHello, certificates, suites) in its
//! P_CONTROL_V1 packets, and weak settings there matter as much as on HTTPS; tshark and nDPI
//! fingerprint it. Over TCP each OpenVPN packet has a 2-byte length prefix; the TLS bytes
//! are the payloads of the control packets in packet-id order, cut at arbitrary points, so
//! this module turns a direction's TCP stream into the TLS stream the [`super::Session`]
//! reads. Only the plain framing is handled (no `--tls-auth` HMAC, no `--tls-crypt`, which
//! encrypts the control channel); anything else just yields no TLS bytes.
//!
//! Format (OpenVPN's `ssl_pkt.h` / "OpenVPN protocol" in `doc/doxygen`): length(2),
//! opcode(5 bits) and key id(3 bits), session id(8), ack count(1), that many packet ids(4
//! each) and then the peer's session id(8) when the count is not 0, then for control
//! packets the message packet id(4) and the payload.

/// Opcodes (OpenVPN `ssl_pkt.h`).
const P_CONTROL_SOFT_RESET_V1: u8 = 3;
const P_CONTROL_V1: u8 = 4;
const P_ACK_V1: u8 = 5;
const P_CONTROL_HARD_RESET_CLIENT_V2: u8 = 7;
const P_CONTROL_HARD_RESET_SERVER_V2: u8 = 8;
const P_CONTROL_HARD_RESET_CLIENT_V3: u8 = 10;

/// Largest ack list OpenVPN sends (`RELIABLE_ACK_SIZE`).
const MAX_ACKS: usize = 8;

/// Whether a client's first bytes are an OpenVPN-over-TCP hard reset: length prefix that
/// matches a short packet, opcode HARD_RESET_CLIENT (v2 or v3), no acks, packet id 0.
pub fn probe(data: &[u8]) -> bool {
    let (Some(&hi), Some(&lo), Some(&op)) = (data.first(), data.get(1), data.get(2)) else {
        return false;
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    let opcode = op >> 3;
    let plain =
        opcode == P_CONTROL_HARD_RESET_CLIENT_V2 || opcode == P_CONTROL_HARD_RESET_CLIENT_V3;
    // opcode(1) + session id(8) + ack count(1) + packet id(4) = 14, without HMAC.
    plain && len == 14 && data.get(11) == Some(&0) && data.get(12..16) == Some(&[0, 0, 0, 0][..])
}

/// One direction's OpenVPN de-framing state.
#[derive(Default)]
pub struct Deframer {
    /// Bytes of the TCP stream already split into packets.
    off: usize,
    /// The control channel's payload so far: the TLS stream.
    tls: Vec<u8>,
    /// The next control packet id to append (retransmissions are dropped).
    next_id: u32,
    /// A packet did not parse: stop rather than append garbage.
    broken: bool,
}

impl std::fmt::Debug for Deframer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deframer")
            .field("off", &self.off)
            .field("tls", &crate::redact::Len(&self.tls))
            .field("next_id", &self.next_id)
            .field("broken", &self.broken)
            .finish()
    }
}

impl Deframer {
    /// Consumes the new complete packets of `stream` (the direction's whole contiguous
    /// prefix) and returns the TLS bytes gathered so far.
    pub fn update(&mut self, stream: &[u8]) -> &[u8] {
        while !self.broken {
            let Some(rest) = stream.get(self.off..) else {
                break;
            };
            let (Some(&hi), Some(&lo)) = (rest.first(), rest.get(1)) else {
                break;
            };
            let len = usize::from(u16::from_be_bytes([hi, lo]));
            let Some(pkt) = rest.get(2..2 + len) else {
                break; // incomplete
            };
            self.off += 2 + len;
            self.packet(pkt);
        }
        &self.tls
    }

    fn packet(&mut self, pkt: &[u8]) {
        let Some(&op) = pkt.first() else {
            self.broken = true;
            return;
        };
        let opcode = op >> 3;
        match opcode {
            P_CONTROL_V1 | P_CONTROL_SOFT_RESET_V1 | P_ACK_V1 => {}
            P_CONTROL_HARD_RESET_CLIENT_V2
            | P_CONTROL_HARD_RESET_SERVER_V2
            | P_CONTROL_HARD_RESET_CLIENT_V3 => {
                // Carries packet id 0 and no TLS: the control payload starts at id 1.
                self.next_id = self.next_id.max(1);
                return;
            }
            _ => return, // data channel: encrypted, not ours
        }
        // session id(8), then the ack list.
        let Some(&acks) = pkt.get(9) else {
            self.broken = true;
            return;
        };
        let acks = usize::from(acks);
        if acks > MAX_ACKS {
            self.broken = true;
            return;
        }
        if opcode != P_CONTROL_V1 {
            return;
        }
        let at = 10 + acks * 4 + if acks > 0 { 8 } else { 0 };
        let id = pkt
            .get(at..at + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok());
        let (Some(id), Some(payload)) = (id, pkt.get(at + 4..)) else {
            self.broken = true;
            return;
        };
        let id = u32::from_be_bytes(id);
        if id == self.next_id {
            self.tls.extend_from_slice(payload);
            self.next_id = id.wrapping_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client's hard reset of ndpi/tests/cfgs/default/pcap/openvpn_nohmac_tcp.pcapng
    /// (frame 4, `tshark -e tcp.payload`); the control packet below has that session id.
    const RESET: &str = "000e38507a28a78275788d0000000000";

    #[test]
    fn hard_reset_then_control_payload_in_id_order() {
        let reset = hex::decode(RESET).expect("hex");
        assert!(probe(&reset));
        assert!(!probe(b"\x16\x03\x01\x00\xdd"));
        // A P_CONTROL_V1 (0x20) with no acks, packet id 1, and 8 payload bytes.
        let mut stream = reset.clone();
        let mut ctl = vec![0x00, 0x16]; // length 22
        ctl.extend_from_slice(&hex::decode("20507a28a78275788d0000000001").expect("hex"));
        ctl.extend_from_slice(b"\x16\x03\x01\x00\xdd\x01\x00\x00");
        stream.extend_from_slice(&ctl);
        let mut d = Deframer::default();
        assert_eq!(
            d.update(&stream[..stream.len() - 1]),
            b"",
            "incomplete packet"
        );
        assert_eq!(d.update(&stream), b"\x16\x03\x01\x00\xdd\x01\x00\x00");
        // The same packet again (a retransmission) adds nothing.
        stream.extend_from_slice(&ctl);
        assert_eq!(d.update(&stream).len(), 8);
        // An ack-only packet (0x28) with one ack and the peer's session id.
        let ack = hex::decode("0016289ad747beb24d8a1b0100000001507a28a78275788d").expect("hex");
        stream.extend_from_slice(&ack);
        assert_eq!(d.update(&stream).len(), 8);
    }
}
