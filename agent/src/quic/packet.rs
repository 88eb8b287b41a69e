//! Long-header packets (RFC 9000 §17.2), header protection removal (RFC 9001 §5.4) and the
//! frames an Initial packet may carry (RFC 9000 §12.4, §19).

use super::keys::Keys;
use super::version::{PacketType, Version};

/// Longest connection ID in QUIC v1 and v2 (RFC 9000 §17.2).
const MAX_CID: usize = 20;

/// A variable-length integer (RFC 9000 §16) at `*at`, advancing it.
pub fn varint(data: &[u8], at: &mut usize) -> Option<u64> {
    let first = *data.get(*at)?;
    let len = 1usize << (first >> 6);
    let bytes = data.get(*at..*at + len)?;
    let mut v = u64::from(first & 0x3f);
    for b in bytes.iter().skip(1) {
        v = (v << 8) | u64::from(*b);
    }
    *at += len;
    Some(v)
}

/// The parsed, still protected, header of one long-header packet.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct LongHeader<'a> {
    pub version: Version,
    pub typ: PacketType,
    pub dcid: &'a [u8],
    pub scid: &'a [u8],
    /// Offset of the (protected) packet number.
    pub pn_offset: usize,
    /// Offset just past this packet: the next coalesced packet starts there.
    pub end: usize,
}

impl std::fmt::Debug for LongHeader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LongHeader")
            .field("version", &self.version.wire)
            .field("typ", &self.typ)
            .field("dcid_len", &self.dcid.len())
            .field("pn_offset", &self.pn_offset)
            .field("end", &self.end)
            .finish()
    }
}

/// What starts `data`.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A long-header packet of a supported version.
    Long(LongHeader<'a>),
    /// A long header of another version (or version negotiation): skip `end` bytes.
    Other { end: usize },
    /// A short-header (1-RTT) packet: it fills the rest of the datagram.
    Short,
    /// Not a QUIC packet we can frame.
    Invalid,
}

/// Parses the long header at the start of `data` (a datagram, or what follows a
/// coalesced packet in it).
pub fn parse(data: &[u8]) -> Parsed<'_> {
    parse_as(data, Version::from_wire)
}

/// [`parse`], with `known` telling which wire versions have readable Initial packets.
pub fn parse_as(data: &[u8], known: impl Fn(u32) -> Option<Version>) -> Parsed<'_> {
    let Some(&b0) = data.first() else {
        return Parsed::Invalid;
    };
    if b0 & 0x80 == 0 {
        return Parsed::Short;
    }
    let mut at = 1;
    let Some(v) = data.get(1..5) else {
        return Parsed::Invalid;
    };
    let wire = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
    at += 4;
    let cid = |at: &mut usize| -> Option<&[u8]> {
        let len = usize::from(*data.get(*at)?);
        let id = data.get(*at + 1..*at + 1 + len)?;
        *at += 1 + len;
        Some(id)
    };
    let (Some(dcid), Some(scid)) = (cid(&mut at), cid(&mut at)) else {
        return Parsed::Invalid;
    };
    let Some(version) = known(wire) else {
        // Long headers of unknown versions have no known length: the rest is skipped.
        return Parsed::Other { end: data.len() };
    };
    // The fixed bit (0x40) is not checked: peers may grease it (RFC 9287).
    if dcid.len() > MAX_CID || scid.len() > MAX_CID {
        return Parsed::Invalid;
    }
    let typ = version.packet_type(b0);
    if typ == PacketType::Retry {
        return Parsed::Other { end: data.len() };
    }
    if typ == PacketType::Initial {
        let Some(token_len) = varint(data, &mut at) else {
            return Parsed::Invalid;
        };
        let Some(next) = usize::try_from(token_len)
            .ok()
            .and_then(|n| at.checked_add(n))
        else {
            return Parsed::Invalid;
        };
        at = next;
    }
    let Some(length) = varint(data, &mut at) else {
        return Parsed::Invalid;
    };
    let end = usize::try_from(length).ok().and_then(|n| at.checked_add(n));
    match end {
        Some(end) if end <= data.len() && length >= 20 => Parsed::Long(LongHeader {
            version,
            typ,
            dcid,
            scid,
            pn_offset: at,
            end,
        }),
        _ => Parsed::Invalid,
    }
}

/// Removes header protection and decrypts `packet` (the bytes of one packet, from its
/// first byte to `hdr.end`). `largest` is the largest packet number opened so far in this
/// direction and packet-number space, for the packet number's full value (RFC 9000 §A.3).
/// Returns the packet number and the plaintext payload, or `None` if the keys do not open
/// it (another connection's keys, or not QUIC at all: AES-GCM authenticates).
pub fn open(
    keys: &Keys,
    hdr: &LongHeader<'_>,
    packet: &[u8],
    largest: Option<u64>,
) -> Option<(u64, Vec<u8>)> {
    let mut buf = packet.get(..hdr.end)?.to_vec();
    let sample = buf.get(hdr.pn_offset + 4..hdr.pn_offset + 20)?;
    let mask = keys.mask(sample)?;
    let b0 = buf.first_mut()?;
    *b0 ^= mask[0] & 0x0f;
    let pn_len = usize::from(*b0 & 0x03) + 1;
    let mut truncated = 0u64;
    for (i, m) in mask.iter().skip(1).take(pn_len).enumerate() {
        let b = buf.get_mut(hdr.pn_offset + i)?;
        *b ^= m;
        truncated = (truncated << 8) | u64::from(*b);
    }
    let pn = decode_pn(largest, truncated, pn_len);
    let (header, payload) = buf.split_at_mut(hdr.pn_offset + pn_len);
    let plain = keys.open(pn, header, payload)?;
    Some((pn, plain.to_vec()))
}

/// The full packet number from its truncated form (RFC 9000 §A.3).
fn decode_pn(largest: Option<u64>, truncated: u64, pn_len: usize) -> u64 {
    let Some(largest) = largest else {
        return truncated;
    };
    let expected = largest + 1;
    let win = 1u64 << (pn_len * 8);
    let hwin = win / 2;
    let mask = win - 1;
    let candidate = (expected & !mask) | truncated;
    if candidate + hwin <= expected && candidate < (1 << 62) - win {
        candidate + win
    } else if candidate > expected + hwin && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

/// A frame of an Initial packet that matters here.
#[derive(Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    Crypto {
        offset: u64,
        data: &'a [u8],
    },
    /// CONNECTION_CLOSE: the error code; 0x0100 + alert for a TLS alert (RFC 9001 §4.8).
    Close {
        code: u64,
    },
}

impl std::fmt::Debug for Frame<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Frame::Crypto { offset, data } => f
                .debug_struct("Crypto")
                .field("offset", offset)
                .field("data", &crate::redact::Len(data))
                .finish(),
            Frame::Close { code } => f.debug_struct("Close").field("code", code).finish(),
        }
    }
}

/// The CRYPTO and CONNECTION_CLOSE frames of a decrypted Initial payload. PADDING, PING
/// and ACK are skipped; any other frame type is not allowed in an Initial packet (RFC 9000
/// §12.4) and ends the parse, keeping what came before. `Err` carries that partial list.
pub fn frames(payload: &[u8]) -> Result<Vec<Frame<'_>>, Vec<Frame<'_>>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < payload.len() {
        let Some(typ) = varint(payload, &mut at) else {
            return Err(out);
        };
        let ok = match typ {
            0x00 | 0x01 => Some(()),
            0x02 | 0x03 => skip_ack(payload, &mut at, typ == 0x03),
            0x06 => (|| {
                let offset = varint(payload, &mut at)?;
                let len = usize::try_from(varint(payload, &mut at)?).ok()?;
                let data = payload.get(at..at.checked_add(len)?)?;
                at += len;
                out.push(Frame::Crypto { offset, data });
                Some(())
            })(),
            0x1c | 0x1d => (|| {
                let code = varint(payload, &mut at)?;
                if typ == 0x1c {
                    varint(payload, &mut at)?; // frame type
                }
                let len = usize::try_from(varint(payload, &mut at)?).ok()?;
                at = at.checked_add(len)?;
                out.push(Frame::Close { code });
                Some(())
            })(),
            _ => None,
        };
        if ok.is_none() {
            return Err(out);
        }
    }
    Ok(out)
}

fn skip_ack(p: &[u8], at: &mut usize, ecn: bool) -> Option<()> {
    varint(p, at)?; // largest acknowledged
    varint(p, at)?; // delay
    let ranges = varint(p, at)?;
    varint(p, at)?; // first range
    for _ in 0..ranges.min(p.len() as u64) {
        varint(p, at)?;
        varint(p, at)?;
    }
    if ecn {
        for _ in 0..3 {
            varint(p, at)?;
        }
    }
    Some(())
}
