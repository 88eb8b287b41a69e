//! QUIC versions whose Initial packets can be read, with what differs between them: the
//! Initial salt, the HKDF labels and the long-header packet type codes.

/// QUIC version 1 (RFC 9000).
pub const V1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369 §3.1).
pub const V2: u32 = 0x6b33_43cf;
/// Facebook mvfst's versions: 0xfaceb001 follows draft-22, 0xfaceb002 and the experimental
/// 0xfaceb00e follow draft-27 (Wireshark's `quic_draft_version`; nDPI's corpus captures
/// quic-mvfst-27 and quic-mvfst-exp decrypt with the draft-23 salt).
pub const MVFST_22: u32 = 0xface_b001;
pub const MVFST_27: u32 = 0xface_b002;
pub const MVFST_EXP: u32 = 0xface_b00e;

/// draft-ietf-quic-tls-23 §5.2 (used by drafts 23 to 28).
const SALT_DRAFT_23: [u8; 20] = [
    0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65,
    0xbe, 0xf9, 0xf5, 0x02,
];
/// draft-ietf-quic-tls-29 §5.2 (drafts 29 to 32).
const SALT_DRAFT_29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];
/// RFC 9001 §5.2 (also drafts 33 and 34).
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// RFC 9369 §3.3.1.
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];

/// Google QUIC Q050: Initial packets protected as in draft-23 (same labels, AES-128-GCM and
/// header protection) with Google's own salt. From Wireshark's
/// epan/dissectors/packet-quic.c, `quic_derive_initial_secrets` (`hanshake_salt_draft_q50`).
pub const GQUIC_Q050: u32 = 0x5130_3530;
const SALT_Q050: [u8; 20] = [
    0x50, 0x45, 0x74, 0xef, 0xd0, 0x66, 0xfe, 0x2f, 0x9d, 0x94, 0x5c, 0xfc, 0xdb, 0xd3, 0xa7, 0xf0,
    0xd3, 0xb5, 0x6b, 0x45,
];

/// Long-header packet types, whatever their code on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
}

/// What one supported version needs for its Initial packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    pub wire: u32,
    pub salt: &'static [u8; 20],
    /// HKDF-Expand-Label labels for the packet key, IV and header-protection key
    /// (RFC 9001 §5.1; RFC 9369 §3.3.2 for v2).
    pub key_label: &'static [u8],
    pub iv_label: &'static [u8],
    pub hp_label: &'static [u8],
    v2: bool,
}

impl Version {
    /// The supported version for a wire value; `None` for anything else (gQUIC, greased,
    /// drafts before 23, version negotiation).
    pub fn from_wire(wire: u32) -> Option<Version> {
        let draft = match wire {
            MVFST_22 => return None,
            MVFST_27 | MVFST_EXP => 27,
            V1 => 34,
            V2 => {
                return Some(Version {
                    wire,
                    salt: &SALT_V2,
                    key_label: b"quicv2 key",
                    iv_label: b"quicv2 iv",
                    hp_label: b"quicv2 hp",
                    v2: true,
                })
            }
            w if w & 0xffff_ff00 == 0xff00_0000 => w & 0xff,
            _ => return None,
        };
        let salt = match draft {
            23..=28 => &SALT_DRAFT_23,
            29..=32 => &SALT_DRAFT_29,
            33..=34 => &SALT_V1,
            _ => return None,
        };
        Some(Version {
            wire,
            salt,
            key_label: b"quic key",
            iv_label: b"quic iv",
            hp_label: b"quic hp",
            v2: false,
        })
    }

    /// gQUIC Q050's Initial protection. Kept apart from [`Version::from_wire`]: what it
    /// protects is a gQUIC `CHLO`, not TLS (see [`super::gquic`]).
    pub fn gquic_q050() -> Version {
        Version {
            wire: GQUIC_Q050,
            salt: &SALT_Q050,
            key_label: b"quic key",
            iv_label: b"quic iv",
            hp_label: b"quic hp",
            v2: false,
        }
    }

    /// The long-header type of the first byte's bits 4-5 (RFC 9000 §17.2; RFC 9369 §3.2
    /// permutes them).
    pub fn packet_type(&self, first_byte: u8) -> PacketType {
        let bits = (first_byte >> 4) & 0x03;
        match (self.v2, bits) {
            (false, 0) | (true, 1) => PacketType::Initial,
            (false, 1) | (true, 2) => PacketType::ZeroRtt,
            (false, 2) | (true, 3) => PacketType::Handshake,
            _ => PacketType::Retry,
        }
    }

    /// The name events carry in `quic.version`.
    pub fn name(&self) -> String {
        family_name(self.wire).unwrap_or_else(|| format!("0x{:08x}", self.wire))
    }
}

/// The name of a QUIC-family version, readable or not: `1`, `2`, `draft-29`, `mvfst-27`,
/// `mvfst-exp`, gQUIC's `Q050`/`T051`, or `0x?a?a?a?a` for the reserved versions clients
/// send to force version negotiation (RFC 9000 §15). `None` for anything else.
pub fn family_name(wire: u32) -> Option<String> {
    let b = wire.to_be_bytes();
    Some(match wire {
        V1 => "1".to_owned(),
        V2 => "2".to_owned(),
        MVFST_22 => "mvfst-22".to_owned(),
        MVFST_27 => "mvfst-27".to_owned(),
        MVFST_EXP => "mvfst-exp".to_owned(),
        w if w & 0xffff_ff00 == 0xff00_0000 => format!("draft-{}", w & 0xff),
        w if w & 0x0f0f_0f0f == 0x0a0a_0a0a => format!("0x{w:08x}"),
        _ if (b[0] == b'Q' || b[0] == b'T') && b[1..].iter().all(u8::is_ascii_digit) => {
            String::from_utf8_lossy(&b).into_owned()
        }
        _ => return None,
    })
}
