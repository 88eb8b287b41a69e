//! Google QUIC (gQUIC) Q046 and Q050: the server name and user agent of the client's hello.
//!
//! Before Google moved to TLS (T050, T051, then IETF QUIC), gQUIC's handshake was QUIC
//! Crypto: the client's first packet carries a `CHLO` message, a table of 4-byte tags and
//! values (`SNI\0` the server name, `UAID` the user agent, `VER\0`, `PAD\0`…), not a TLS
//! ClientHello, so it goes to [`QuicInfo`](super::QuicInfo) and `tls` stays null.
//!
//! - Q046 sends it in the clear, in a STREAM frame of stream 1, behind a 12-byte message
//!   authentication hash (FNV-1a 128 of the header, the frames and `Client`). The hash is
//!   checked, so random bytes that look like a header are refused.
//! - Q050 protects its Initial packets as IETF QUIC draft-23 does, with Google's own salt
//!   ([`Version::gquic_q050`]); AES-GCM authenticates. The CHLO is in a CRYPTO frame (gQUIC
//!   frame type 0x08, varint offset and length).
//!
//! Only the client's first packet is read: gQUIC clients pad the CHLO to fill one packet.
//! A CHLO cut short still gives the tags whose values are whole.

use super::keys::Keys;
use super::packet::{self, Parsed};
use super::version::{PacketType, Version, GQUIC_Q050};

/// gQUIC Q046 (`Q046` in ASCII).
pub const GQUIC_Q046: u32 = 0x5130_3436;

/// Most tag/value entries in a CHLO (Chromium's `kMaxEntries` in its crypto framer).
const MAX_ENTRIES: usize = 128;
/// Longest server name kept: a DNS name is at most 253 bytes (RFC 1035 §2.3.4).
const MAX_SNI: usize = 255;
/// Longest user agent kept.
const MAX_USER_AGENT: usize = 256;
/// Q046's message authentication hash: the low 96 bits of FNV-1a 128.
const HASH_LEN: usize = 12;
/// The crypto (handshake) stream of gQUIC before CRYPTO frames.
const CRYPTO_STREAM: u64 = 1;

/// What the client's `CHLO` says, as untrusted text (capped, control characters escaped).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hello {
    pub sni: Option<String>,
    pub user_agent: Option<String>,
}

/// The `CHLO` of a client's first gQUIC datagram of version `wire`, if the packet is a
/// Q046 or Q050 Initial that authenticates and carries one.
pub fn client_hello(wire: u32, datagram: &[u8]) -> Option<Hello> {
    match wire {
        GQUIC_Q046 => handshake_data(q046_frames(datagram)?, Framing::Stream),
        GQUIC_Q050 => handshake_data(&q050_frames(datagram)?, Framing::Crypto),
        _ => None,
    }
}

/// The frames of a Q046 Initial packet, once its hash checks. Header: flags (long form,
/// fixed bit, type 0 = Initial, packet-number length in the low 2 bits), version, one byte
/// of connection ID lengths (4 bits each, 0 or n + 3), the IDs, the packet number.
fn q046_frames(d: &[u8]) -> Option<&[u8]> {
    let b0 = *d.first()?;
    if b0 & 0xf0 != 0xc0 {
        return None;
    }
    let cid_len = |n: u8| if n == 0 { 0 } else { usize::from(n) + 3 };
    let lens = *d.get(5)?;
    let pn_len = usize::from(b0 & 0x03) + 1;
    let header_len = 6 + cid_len(lens >> 4) + cid_len(lens & 0x0f) + pn_len;
    let header = d.get(..header_len)?;
    let hash = d.get(header_len..header_len + HASH_LEN)?;
    let frames = d.get(header_len + HASH_LEN..)?;
    // Chromium's NullDecrypter: FNV-1a 128 over the header, the plaintext and the sender's
    // perspective, truncated to 96 bits, sent little-endian.
    let want = fnv1a_128(&[header, frames, b"Client"]).to_le_bytes();
    (want.get(..HASH_LEN)? == hash).then_some(frames)
}

fn fnv1a_128(parts: &[&[u8]]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = (1 << 88) + 0x13b;
    parts
        .iter()
        .flat_map(|p| p.iter())
        .fold(OFFSET, |h, &b| (h ^ u128::from(b)).wrapping_mul(PRIME))
}

/// The decrypted payload of a Q050 client Initial packet.
fn q050_frames(d: &[u8]) -> Option<Vec<u8>> {
    let Parsed::Long(h) = packet::parse_as(d, |w| (w == GQUIC_Q050).then(Version::gquic_q050))
    else {
        return None;
    };
    if h.typ != PacketType::Initial || h.dcid.is_empty() {
        return None;
    }
    let keys = Keys::pair(&h.version, h.dcid)?;
    let [client, _] = &keys;
    packet::open(client, &h, d, None).map(|(_, plain)| plain)
}

/// Where a version carries its handshake.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// STREAM frames of stream 1 (Q046).
    Stream,
    /// CRYPTO frames (Q050).
    Crypto,
}

/// The first handshake frame whose data is a `CHLO`, parsed. gQUIC frames a first packet
/// may hold: PING (0x07), the handshake frame, other STREAM frames with a length; PADDING
/// (0x00) runs to the end of the packet, and anything else ends the walk.
fn handshake_data(frames: &[u8], framing: Framing) -> Option<Hello> {
    let mut at = 0;
    loop {
        let typ = *frames.get(at)?;
        at += 1;
        let (stream, data) = match typ {
            0x07 => continue,
            0x08 if framing == Framing::Crypto => {
                let _offset = packet::varint(frames, &mut at)?;
                let len = usize::try_from(packet::varint(frames, &mut at)?).ok()?;
                (CRYPTO_STREAM, frames.get(at..at.checked_add(len)?)?)
            }
            0x80.. if framing == Framing::Stream => stream_frame(typ, frames, &mut at)?,
            _ => return None,
        };
        at += data.len();
        if stream == CRYPTO_STREAM {
            if let Some(hello) = parse_chlo(data) {
                return Some(hello);
            }
        }
    }
}

/// A gQUIC STREAM frame after its type byte `1FDOOOSS` (big-endian fields from Q039 on):
/// stream ID of SS + 1 bytes, offset of 0 or OOO + 1 bytes, a 2-byte length if D is set
/// (else the data runs to the end). Returns the stream ID and the data; `at` is left at
/// the data.
fn stream_frame<'a>(typ: u8, frames: &'a [u8], at: &mut usize) -> Option<(u64, &'a [u8])> {
    let mut be = |n: usize| -> Option<u64> {
        let bytes = frames.get(*at..*at + n)?;
        *at += n;
        Some(bytes.iter().fold(0, |v, &b| v << 8 | u64::from(b)))
    };
    let stream = be(usize::from(typ & 0x03) + 1)?;
    let offset_len = usize::from((typ >> 2) & 0x07);
    be(if offset_len == 0 { 0 } else { offset_len + 1 })?;
    let data = if typ & 0x20 != 0 {
        let len = usize::try_from(be(2)?).ok()?;
        frames.get(*at..at.checked_add(len)?)?
    } else {
        frames.get(*at..)?
    };
    Some((stream, data))
}

/// A `CHLO` message: tag, entry count (u16), 2 bytes of padding, then per entry a tag and
/// the end offset of its value (u32 each, little-endian), then the values back to back.
/// Tags must ascend and end offsets must not go back (Chromium's framer refuses the rest);
/// values past the end of `msg` (a CHLO cut short) are skipped.
pub fn parse_chlo(msg: &[u8]) -> Option<Hello> {
    if msg.get(..4)? != b"CHLO" {
        return None;
    }
    let count = usize::from(u16::from_le_bytes([*msg.get(4)?, *msg.get(5)?]));
    if count > MAX_ENTRIES {
        return None;
    }
    let values_at = 8 + count * 8;
    let table = msg.get(8..values_at)?;
    let values = msg.get(values_at..).unwrap_or_default();
    let mut hello = Hello::default();
    let (mut start, mut last) = (0usize, None);
    for entry in table.chunks_exact(8) {
        let tag = entry.get(..4)?;
        let end = entry.get(4..8)?;
        let end = usize::try_from(u32::from_le_bytes([end[0], end[1], end[2], end[3]])).ok()?;
        let key = u32::from_le_bytes([tag[0], tag[1], tag[2], tag[3]]);
        if last.is_some_and(|l| key <= l) || end < start {
            return None;
        }
        if let Some(v) = values.get(start..end) {
            match tag {
                b"SNI\0" => hello.sni = Some(text(v, MAX_SNI)),
                b"UAID" => hello.user_agent = Some(text(v, MAX_USER_AGENT)),
                _ => {}
            }
        }
        (start, last) = (end, Some(key));
    }
    Some(hello)
}

/// Untrusted bytes as event text of at most `max` bytes: invalid UTF-8 replaced, control
/// characters escaped (`\n`, `\u{1b}`) so they cannot forge lines in text output.
fn text(v: &[u8], max: usize) -> String {
    let mut out = String::with_capacity(max.min(v.len()));
    for c in String::from_utf8_lossy(v.get(..max).unwrap_or(v)).chars() {
        let piece: String = if c.is_control() {
            c.escape_default().collect()
        } else {
            c.into()
        };
        if out.len() + piece.len() > max {
            break;
        }
        out.push_str(&piece);
    }
    out
}
