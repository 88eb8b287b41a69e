//! The record layer: framing of TLS records (RFC 8446 §5.1, RFC 5246 §6.2.1) and of the
//! SSL 2.0 record that carries a version-2 compatible ClientHello (RFC 5246 appendix E.2).
//!
//! Framing only: the contents are interpreted in `handshake` and `mod`. Nothing here allocates,
//! so it can be called on every new segment.

use tls_parser::nom::Err as NomErr;
use tls_parser::parse_tls_raw_record;

use super::TlsError;

/// Record content types (RFC 8446 §5.1; heartbeat from RFC 6520 §3).
pub const CT_CHANGE_CIPHER_SPEC: u8 = 20;
pub const CT_ALERT: u8 = 21;
pub const CT_HANDSHAKE: u8 = 22;
pub const CT_APPLICATION_DATA: u8 = 23;
pub const CT_HEARTBEAT: u8 = 24;

/// TLSPlaintext.length must not exceed 2^14 (RFC 8446 §5.1); ciphertext may add up to 2048
/// bytes (RFC 5246 §6.2.3). Anything larger is not TLS.
pub const MAX_RECORD_LEN: usize = (1 << 14) + 2048;

/// Size of the TLS record header: type(1) version(2) length(2).
pub const HEADER_LEN: usize = 5;

/// One complete TLS record, borrowed from the stream.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub content_type: u8,
    pub version: u16,
    pub payload: &'a [u8],
}

/// The payload's length only (after a ChangeCipherSpec it is application data).
impl std::fmt::Debug for Record<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("content_type", &self.content_type)
            .field("version", &self.version)
            .field("payload", &crate::redact::Len(self.payload))
            .finish()
    }
}

/// The outcome of trying to read one record at the start of `data`.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<'a> {
    /// A complete record, and how many bytes it used (header included).
    Record(Record<'a>, usize),
    /// The record is not complete yet: wait for more bytes.
    Incomplete,
}

/// Whether a record header is plausible TLS: known content type, major version 3
/// (SSL 3.0 to TLS 1.3 all use 3.x on the record layer) and a sane length.
pub fn plausible_header(data: &[u8]) -> Option<bool> {
    let (&ct, rest) = data.split_first()?;
    if !(CT_CHANGE_CIPHER_SPEC..=CT_HEARTBEAT).contains(&ct) {
        return Some(false);
    }
    let &major = rest.first()?;
    if major != 3 {
        return Some(false);
    }
    let &minor = rest.get(1)?;
    if minor > 4 {
        return Some(false);
    }
    let hi = usize::from(*rest.get(2)?);
    let lo = usize::from(*rest.get(3)?);
    Some(((hi << 8) | lo) <= MAX_RECORD_LEN)
}

/// Read one TLS record from the start of `data`.
pub fn next_record(data: &[u8]) -> Result<Next<'_>, TlsError> {
    match plausible_header(data) {
        None => return Ok(Next::Incomplete),
        Some(false) => return Err(TlsError::BadRecordHeader),
        Some(true) => {}
    }
    match parse_tls_raw_record(data) {
        Ok((rest, raw)) => {
            let used = data.len().saturating_sub(rest.len());
            Ok(Next::Record(
                Record {
                    content_type: raw.hdr.record_type.0,
                    version: raw.hdr.version.0,
                    payload: raw.data,
                },
                used,
            ))
        }
        Err(NomErr::Incomplete(_)) => Ok(Next::Incomplete),
        Err(_) => Err(TlsError::BadRecordHeader),
    }
}

/// An SSL 2.0 record (draft-hickman-netscape-ssl-00 §1.2), two-byte header form only: the
/// form every SSLv2 and SSLv2-compatible hello uses (the three-byte form carries padding,
/// which only block-encrypted records need).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ssl2Record<'a> {
    pub payload: &'a [u8],
}

impl std::fmt::Debug for Ssl2Record<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ssl2Record")
            .field("payload", &crate::redact::Len(self.payload))
            .finish()
    }
}

/// Whether `data` starts like an SSL 2.0 record whose first message has type `msg_type`
/// (1 = CLIENT-HELLO, 4 = SERVER-HELLO).
pub fn looks_ssl2(data: &[u8], msg_type: u8) -> bool {
    match (data.first(), data.get(1), data.get(2)) {
        (Some(&b0), Some(&b1), Some(&t)) => {
            let len = (usize::from(b0 & 0x7f) << 8) | usize::from(b1);
            b0 & 0x80 != 0 && t == msg_type && len >= 3
        }
        _ => false,
    }
}

/// Read one two-byte-header SSL 2.0 record.
pub fn next_ssl2_record(data: &[u8]) -> Result<Option<(Ssl2Record<'_>, usize)>, TlsError> {
    let (Some(&b0), Some(&b1)) = (data.first(), data.get(1)) else {
        return Ok(None);
    };
    if b0 & 0x80 == 0 {
        return Err(TlsError::BadRecordHeader);
    }
    let len = (usize::from(b0 & 0x7f) << 8) | usize::from(b1);
    let end = len.saturating_add(2);
    match data.get(2..end) {
        Some(payload) => Ok(Some((Ssl2Record { payload }, end))),
        None => Ok(None),
    }
}

/// Verdict of [`app_data_chain`] on one direction of a flow seen mid-stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chain {
    /// Two or more application-data records, back to back.
    Yes,
    /// Not enough bytes to tell yet.
    Wait,
    No,
}

/// Record headers a chain needs before a mid-stream flow is called TLS.
const CHAIN_MIN_RECORDS: usize = 2;
/// Ciphertext of an AEAD record carries at least a 16-byte tag (RFC 8446 §5.2; TLS 1.2 GCM
/// and ChaCha20-Poly1305 too), and a CBC record a MAC and a block.
const MIN_APP_DATA_LEN: usize = 16;

/// Whether one direction of a flow first seen mid-stream (no handshake captured) is a run of
/// TLS application-data records (RFC 8446 §5.1): type 23, one record-layer version for the
/// run (3.0 to 3.3), lengths within the ciphertext limit, each header exactly where the
/// previous record ends, at least two headers. The capture may start inside a record, so the
/// run may start at any offset within the first record's worth of bytes; the run must then
/// continue to the end of the data. Random bytes pass two such headers with odds around
/// 2^-40 per offset.
pub fn app_data_chain(data: &[u8]) -> Chain {
    let scan = data.len().min(MAX_RECORD_LEN + HEADER_LEN);
    let mut wait = false;
    // Only a content-type byte can start a run: the other offsets are skipped without a
    // header parse (this scan runs again on every segment until the flow is decided).
    let starts = data[..scan]
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == CT_APPLICATION_DATA)
        .map(|(i, _)| i);
    for start in starts {
        match chain_at(data.get(start..).unwrap_or(&[])) {
            Chain::Yes => return Chain::Yes,
            Chain::Wait => wait = true,
            Chain::No => {}
        }
    }
    // A plausible first header waits for its record to end, up to one maximal record.
    if (wait || data.len() < HEADER_LEN) && data.len() <= 2 * (MAX_RECORD_LEN + HEADER_LEN) {
        Chain::Wait
    } else {
        Chain::No
    }
}

fn chain_at(data: &[u8]) -> Chain {
    let mut at = 0usize;
    let mut headers = 0;
    let mut version = None;
    while let Some(h) = data.get(at..at + HEADER_LEN) {
        let v = u16::from_be_bytes([h[1], h[2]]);
        let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
        let ok = h[0] == CT_APPLICATION_DATA
            && (0x0300..=0x0303).contains(&v)
            && version.is_none_or(|first| first == v)
            && (MIN_APP_DATA_LEN..=MAX_RECORD_LEN).contains(&len);
        if !ok {
            return Chain::No;
        }
        version = Some(v);
        headers += 1;
        at += HEADER_LEN + len;
    }
    if headers >= CHAIN_MIN_RECORDS {
        Chain::Yes
    } else if headers == 1 {
        // The first record, whole or not: the next header decides.
        Chain::Wait
    } else {
        Chain::No
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_then_complete() {
        let rec = [22u8, 3, 1, 0, 3, 1, 2, 3, 0xff];
        for cut in 0..8 {
            assert_eq!(
                next_record(&rec[..cut]).ok(),
                Some(Next::Incomplete),
                "cut {cut}"
            );
        }
        match next_record(&rec) {
            Ok(Next::Record(r, used)) => {
                assert_eq!(used, 8);
                assert_eq!(r.content_type, 22);
                assert_eq!(r.version, 0x0301);
                assert_eq!(r.payload, &[1, 2, 3]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(next_record(b"GET / HTTP/1.1\r\n").is_err());
        assert!(
            next_record(&[22, 3, 1, 0xff, 0xff]).is_err(),
            "oversized length"
        );
        assert!(next_record(&[22, 2, 0]).is_err());
    }

    #[test]
    fn application_data_chain() {
        let rec = |len: usize| {
            let mut r = vec![23, 3, 3, (len >> 8) as u8, len as u8];
            r.resize(HEADER_LEN + len, 0xa5);
            r
        };
        let one = rec(40);
        assert_eq!(app_data_chain(&one), Chain::Wait, "one record is not a run");
        let mut two = one.clone();
        two.extend(rec(100));
        assert_eq!(app_data_chain(&two), Chain::Yes);
        // The second header may be all that is there of the second record.
        assert_eq!(app_data_chain(&two[..one.len() + 5]), Chain::Yes);
        // A capture that starts inside a record finds the run further on.
        let mut tail = vec![0x11; 30];
        tail.extend(&two);
        assert_eq!(app_data_chain(&tail), Chain::Yes);
        // Handshake records, mixed versions and too-short records are not a run.
        let mut hs = two.clone();
        hs[0] = 22;
        hs[one.len()] = 22;
        assert_eq!(app_data_chain(&hs), Chain::No);
        // Two versions: not a run (the second header alone may start one: wait).
        let mut mixed = two.clone();
        mixed[one.len() + 2] = 1;
        assert_eq!(app_data_chain(&mixed), Chain::Wait);
        assert_eq!(
            app_data_chain(&[rec(3), rec(3), rec(3)].concat()),
            Chain::No
        );
        assert_eq!(
            app_data_chain(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n"),
            Chain::No
        );
    }

    #[test]
    fn ssl2_framing() {
        let rec = [0x80, 0x03, 0x01, 0x00, 0x02, 0x99];
        assert!(looks_ssl2(&rec, 1));
        assert!(!looks_ssl2(&rec, 4));
        let got = next_ssl2_record(&rec).ok().flatten();
        assert_eq!(got.map(|(r, n)| (r.payload.len(), n)), Some((3, 5)));
        assert_eq!(next_ssl2_record(&rec[..4]).ok(), Some(None));
    }
}
