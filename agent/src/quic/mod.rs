//! QUIC (RFC 9000/9001; v2 RFC 9369; drafts 23-34 and mvfst): the TLS handshake carried in
//! Initial packets.
//!
//! QUIC encrypts even its first packets, but with keys derived from the client's
//! Destination Connection ID and a salt published for each version ([`keys`]): they are
//! public by design, so reading them decrypts no user data. Only Initial packets are
//! opened: they carry the ClientHello and the ServerHello in CRYPTO frames, which are put
//! back in order ([`crypto`]) and handed to the same [`tls::Session`] as TLS over TCP, so
//! SNI, ALPN, groups, the negotiated suite, JA3 and JA4 (with QUIC's `q` prefix) and the
//! TLS findings come from the same code. Handshake, 0-RTT and 1-RTT packets are only
//! framed and skipped: their keys come from the key exchange.
//!
//! Google QUIC before TLS (Q046, Q050) carries a `CHLO` of its own instead ([`gquic`]): its
//! server name and user agent go to the `quic` object, and `tls` stays null.
//!
//! Why a separate module beside `tls::dtls`: DTLS frames records, QUIC frames packets with
//! their own protection; the TLS side is shared either way.

pub mod crypto;
pub mod gquic;
pub mod keys;
pub mod packet;
pub mod version;

use serde::Serialize;

use crate::flow::Direction;
use crate::tls;
use keys::Keys;
use packet::{Frame, Parsed};
use version::{PacketType, Version};

/// The `quic` object of a JSON event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QuicInfo {
    /// `1`, `2`, `draft-29`, `mvfst-27`…: the version of the client's Initial packets.
    pub version: String,
    /// gQUIC Q046/Q050 only: the `SNI` tag of the client's `CHLO` (IETF QUIC has it in
    /// `tls.sni`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// gQUIC Q046/Q050 only: the `UAID` tag (the client's user agent) of its `CHLO`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// Smallest Handshake packet payload (length field) from the client that can hold its
/// Finished: 36 bytes of message, a 16-byte AEAD tag and a packet number byte. A shorter
/// one can only be an ACK or a CONNECTION_CLOSE.
const CLIENT_FINISHED_MIN: usize = 36 + 16 + 1;

/// Smallest datagram that carries a client's first Initial packet (RFC 9000 §14.1; gQUIC
/// pads its CHLO the same way). With a QUIC-family version in a long header, a datagram this
/// size is taken as QUIC even when its Initial cannot be read.
const CLIENT_INITIAL_MIN: usize = 1200;

/// Per-flow QUIC state, kept beside the flow's TLS [`tls::Session`].
#[derive(Debug)]
pub struct Quic {
    /// The version on the wire of the client's first packet.
    wire: u32,
    /// The flow direction the QUIC client's datagrams travel in.
    client: Direction,
    /// Destination Connection ID the keys come from, and client (0) / server (1) keys;
    /// `None` for a version whose Initial packets are not read (gQUIC, draft-22, a version
    /// negotiation probe): the flow is QUIC, its handshake unknown.
    dcid: Vec<u8>,
    keys: Option<[Keys; 2]>,
    /// CRYPTO streams by role (index = `Direction::index` of the role).
    streams: [crypto::Stream; 2],
    /// Bytes of each stream already handed to TLS as whole messages.
    delivered: [usize; 2],
    largest_pn: [Option<u64>; 2],
    /// Initial packets of a known version that the keys did not open.
    pub undecryptable: u64,
    /// gQUIC Q046/Q050: what the client's `CHLO` said.
    gquic: Option<gquic::Hello>,
}

impl Quic {
    /// Starts QUIC analysis if `datagram` begins with a client Initial packet of a
    /// supported version that its own Destination Connection ID's keys open. AES-GCM
    /// authenticates, so anything else (DNS, DTLS, a guess on random bytes) is refused.
    /// A datagram of at least [`CLIENT_INITIAL_MIN`] bytes starting with a long header
    /// (form and fixed bits set) of another QUIC-family version also starts one, without
    /// keys; for gQUIC Q046/Q050 its `CHLO` is read then.
    pub fn start(dir: Direction, datagram: &[u8]) -> Option<Quic> {
        match packet::parse(datagram) {
            Parsed::Long(h) if h.typ == PacketType::Initial && h.dcid.len() >= 8 => {
                // RFC 9000 §7.2: a client's first Destination Connection ID is at least 8
                // bytes.
                let keys = Keys::pair(&h.version, h.dcid)?;
                packet::open(&keys[0], &h, datagram, None)?;
                Some(Quic::new(dir, h.version.wire, h.dcid, Some(keys)))
            }
            Parsed::Long(_) => None,
            _ => {
                let wire = datagram.get(1..5)?;
                let wire = u32::from_be_bytes([wire[0], wire[1], wire[2], wire[3]]);
                let long = datagram.first().is_some_and(|b| b & 0xc0 == 0xc0);
                let readable = Version::from_wire(wire).is_some();
                (long && !readable && datagram.len() >= CLIENT_INITIAL_MIN)
                    .then(|| version::family_name(wire))
                    .flatten()
                    .map(|_| Quic {
                        gquic: gquic::client_hello(wire, datagram),
                        ..Quic::new(dir, wire, &[], None)
                    })
            }
        }
    }

    fn new(client: Direction, wire: u32, dcid: &[u8], keys: Option<[Keys; 2]>) -> Quic {
        Quic {
            wire,
            client,
            dcid: dcid.to_vec(),
            keys,
            streams: Default::default(),
            delivered: [0; 2],
            largest_pn: [None; 2],
            undecryptable: 0,
            gquic: None,
        }
    }

    pub fn info(&self) -> QuicInfo {
        QuicInfo {
            version: version::family_name(self.wire)
                .unwrap_or_else(|| format!("0x{:08x}", self.wire)),
            sni: self.gquic.as_ref().and_then(|h| h.sni.clone()),
            user_agent: self.gquic.as_ref().and_then(|h| h.user_agent.clone()),
        }
    }

    /// Whether its Initial packets are read (a TLS session goes with it).
    pub fn readable(&self) -> bool {
        self.keys.is_some()
    }

    /// The flow direction of the QUIC client (the sender of the first Initial).
    pub fn client(&self) -> Direction {
        self.client
    }

    /// CRYPTO frames refused at the reassembly cap, both directions.
    pub fn refused(&self) -> u64 {
        self.streams.iter().map(|s| s.refused).sum()
    }

    /// Bytes held for reassembly.
    pub fn held_bytes(&self) -> usize {
        self.streams.iter().map(crypto::Stream::held).sum()
    }

    /// Feeds one UDP datagram of flow direction `dir`: each coalesced packet in turn.
    pub fn feed(&mut self, session: &mut tls::Session, dir: Direction, datagram: &[u8]) {
        if self.keys.is_none() {
            return;
        }
        let role = if dir == self.client {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let mut rest = datagram;
        while let Some(&b0) = rest.first() {
            match packet::parse(rest) {
                Parsed::Long(h) => {
                    match h.typ {
                        PacketType::Initial => self.on_initial(session, role, &h, rest),
                        PacketType::Handshake
                            if role == Direction::ToServer
                                && h.end - h.pn_offset >= CLIENT_FINISHED_MIN =>
                        {
                            session.on_quic_went_on();
                        }
                        _ => {}
                    }
                    rest = rest.get(h.end..).unwrap_or_default();
                }
                Parsed::Other { end } => rest = rest.get(end..).unwrap_or_default(),
                Parsed::Short if b0 & 0x40 != 0 => {
                    // A 1-RTT packet: the client has its handshake keys and went on.
                    if role == Direction::ToServer {
                        session.on_quic_went_on();
                    }
                    return;
                }
                // Zero padding after the last packet, or bytes that are not QUIC.
                Parsed::Short | Parsed::Invalid => return,
            }
        }
    }

    fn on_initial(
        &mut self,
        session: &mut tls::Session,
        role: Direction,
        h: &packet::LongHeader<'_>,
        bytes: &[u8],
    ) {
        let i = role.index();
        let largest = self.largest_pn.get(i).copied().flatten();
        let opened = self
            .keys
            .as_ref()
            .and_then(|k| k.get(i))
            .and_then(|k| packet::open(k, h, bytes, largest));
        let opened = match opened {
            Some(o) => Some(o),
            // After a Retry the client starts over with a new Destination Connection ID
            // (RFC 9001 §5.2): keys from that one.
            None if role == Direction::ToServer && h.dcid != self.dcid.as_slice() => {
                let keys = Keys::pair(&h.version, h.dcid);
                let o = keys
                    .as_ref()
                    .and_then(|k| packet::open(&k[0], h, bytes, None));
                if let (Some(k), Some(_)) = (keys, &o) {
                    self.keys = Some(k);
                    self.dcid = h.dcid.to_vec();
                    self.largest_pn = [None; 2];
                }
                o
            }
            None => None,
        };
        let Some((pn, plain)) = opened else {
            self.undecryptable += 1;
            return;
        };
        if let Some(l) = self.largest_pn.get_mut(i) {
            *l = Some(l.map_or(pn, |l| l.max(pn)));
        }
        let frames = packet::frames(&plain).unwrap_or_else(|partial| partial);
        let Some(stream) = self.streams.get_mut(i) else {
            return;
        };
        for f in frames {
            match f {
                Frame::Crypto { offset, data } => stream.add(offset, data),
                Frame::Close { code } => session.on_quic_close(role, code),
            }
        }
        self.deliver(session, role);
    }

    /// Hands every whole handshake message now contiguous to the TLS session.
    fn deliver(&mut self, session: &mut tls::Session, role: Direction) {
        let i = role.index();
        let (Some(stream), Some(done)) = (self.streams.get(i), self.delivered.get_mut(i)) else {
            return;
        };
        let data = stream.contiguous();
        loop {
            let Some(head) = data.get(*done..*done + 4) else {
                return;
            };
            let len = usize::from(head[1]) << 16 | usize::from(head[2]) << 8 | usize::from(head[3]);
            let Some(body) = data.get(*done + 4..*done + 4 + len) else {
                return;
            };
            *done += 4 + len;
            session.on_quic_message(role, head[0], body);
        }
    }
}

#[cfg(test)]
mod tests;
