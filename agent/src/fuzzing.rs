//! Entry points for the coverage-guided fuzz targets in `fuzz/` (feature `fuzzing`).
//!
//! Each function drives one parser the way the engine does, on arbitrary bytes, and
//! checks the invariants that must hold whatever the input; a panic is a bug. Inputs
//! that carry several pieces (both directions of a flow, datagrams, header blocks) are
//! split into [`chunks`]. Not a stable API.

use std::io::Cursor;

use crate::capture::live::{convert, Clock};
use crate::capture::pcap::PcapSource;
use crate::config::Config;
use crate::engine::Engine;
use crate::flow::stream::Stream;
use crate::flow::{Direction, FlowKey, Transport};
use crate::plaintext::{self, hpack, Protocol};
use crate::time::Timestamp;
use crate::tls::{self, dtls, Close};

/// One piece of a multi-part input: `flags` (bit 0: direction, 1 = to the client) and
/// the bytes. Wire form: `flags:u8 len:u16be bytes[len]`; a short last piece is kept.
#[derive(Clone, Copy)]
pub struct Chunk<'a> {
    pub flags: u8,
    pub bytes: &'a [u8],
}

impl std::fmt::Debug for Chunk<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunk")
            .field("flags", &self.flags)
            .field("bytes", &crate::redact::Len(self.bytes))
            .finish()
    }
}

impl Chunk<'_> {
    pub fn direction(&self) -> Direction {
        if self.flags & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        }
    }
}

/// Splits `data` into [`Chunk`]s.
pub fn chunks(mut data: &[u8]) -> impl Iterator<Item = Chunk<'_>> {
    std::iter::from_fn(move || {
        let (&flags, rest) = data.split_first()?;
        let len = match rest {
            [hi, lo, ..] => usize::from(u16::from_be_bytes([*hi, *lo])),
            _ => 0,
        };
        let body = rest.get(2..).unwrap_or_default();
        let (bytes, tail) = body.split_at(len.min(body.len()));
        data = tail;
        Some(Chunk { flags, bytes })
    })
}

/// The inverse of [`chunks`], for seed extraction and tests.
pub fn encode_chunk(out: &mut Vec<u8>, flags: u8, bytes: &[u8]) {
    let len = bytes.len().min(usize::from(u16::MAX));
    out.push(flags);
    out.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(bytes.get(..len).unwrap_or(bytes));
}

/// Both directions' prefixes grown chunk by chunk, as reassembly hands them on.
fn prefixes<'a>(data: &'a [u8], mut feed: impl FnMut(Direction, &[u8], Chunk<'a>)) {
    let mut held: [Vec<u8>; 2] = Default::default();
    for c in chunks(data) {
        let dir = c.direction();
        if let Some(buf) = held.get_mut(dir.index()) {
            buf.extend_from_slice(c.bytes);
            feed(dir, buf, c);
        }
    }
}

/// TLS records and handshake messages (SSLv2 hellos, certificates, alerts, heartbeats
/// included): a [`tls::Session`] fed both directions' growing prefixes. Bits 2-3 of the
/// last chunk's flags say how the flow ended (FIN, RST, timeout).
pub fn tls(data: &[u8]) {
    let mut s = tls::Session::new();
    let mut last = None;
    prefixes(data, |dir, prefix, c| {
        if dir == Direction::ToServer {
            let _ = tls::probe(prefix);
        }
        s.feed(dir, prefix);
        last = Some(c);
    });
    if let Some(c) = last {
        s.on_close(match (c.flags >> 2) & 3 {
            0 => Close::Fin(c.direction()),
            1 => Close::Rst(c.direction()),
            _ => Close::Timeout,
        });
    }
    let _ = s.done();
    let _ = serde_json::to_string(s.info());
    let _ = s.findings(Timestamp(0));
}

/// DTLS: every chunk is one datagram. Bit 1 of the first chunk's flags says which
/// direction the DTLS client sends in.
pub fn dtls(data: &[u8]) {
    let client = match chunks(data).next() {
        Some(c) if c.flags & 2 != 0 => Direction::ToClient,
        _ => Direction::ToServer,
    };
    let mut session = tls::Session::new();
    let mut d = dtls::Dtls::new(client);
    for c in chunks(data) {
        let _ = dtls::probe(c.bytes);
        if dtls::is_stun(c.bytes) {
            continue;
        }
        d.feed(&mut session, c.direction(), c.bytes);
    }
    let _ = serde_json::to_string(session.info());
    let _ = session.findings(Timestamp(0));
}

/// HPACK (RFC 7541): every chunk is one complete header block, decoded against the
/// same dynamic table; the first byte sets the table size SETTINGS value (× 64).
/// Decoding stops at the first error, as the HTTP/2 analyser does.
pub fn hpack(data: &[u8]) {
    let Some((&size, rest)) = data.split_first() else {
        return;
    };
    let mut d = hpack::Decoder::new();
    d.set_settings_table_size(u32::from(size) * 64);
    for c in chunks(rest) {
        let mut fields = 0usize;
        if d.decode(c.bytes, |_, _| fields += 1).is_err() {
            break;
        }
        // The table never holds more than its maximum (RFC 7541 §4.1).
        assert!(d.table_size() <= (usize::from(size) * 64).max(4096));
    }
}

/// The plaintext recognisers. The first byte picks the analyser: `n % 19` indexes
/// [`Protocol::ALL`] (without `UnknownBinary`) and the 19th value runs recognition
/// itself (every sniffer, PROXY headers, STARTTLS hand-over); bit 7 makes it a UDP flow,
/// where each chunk is a datagram instead of a piece of the growing prefix.
pub fn plaintext(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let datagram = sel & 0x80 != 0;
    let pick = usize::from(sel & 0x7f) % 19;
    let port = 0;
    let mut s = match Protocol::ALL.get(pick) {
        Some(&p) if pick < 18 => plaintext::Session::with_protocol(p, port, datagram),
        _ if datagram => plaintext::Session::new_datagram(port),
        _ => plaintext::Session::new(port),
    };
    if datagram {
        for c in chunks(rest) {
            s.feed(c.direction(), c.bytes);
        }
    } else {
        prefixes(rest, |dir, prefix, _| s.feed(dir, prefix));
    }
    let _ = s.protocol();
    let _ = s.tls_offsets();
    let _ = s.done();
    let _ = serde_json::to_string(s.info());
    let key = FlowKey {
        client: std::net::SocketAddr::from(([10, 0, 0, 1], 40000)),
        server: std::net::SocketAddr::from(([10, 0, 0, 2], 1)),
        transport: if datagram {
            Transport::Udp
        } else {
            Transport::Tcp
        },
    };
    let _ = s.findings(&key, &Config::default().policy());
}

/// Stream reassembly. Header: cap (u16be, at least 1), pending byte cap (u16be),
/// pending segment cap (u8). Then segments: `flags:u8 seq:u32be len:u8 bytes`, where
/// flags bit 0 is SYN, bit 1 closes the stream after the segment, bit 2 stops it.
/// Checks the bounds the module promises.
pub fn stream(data: &[u8]) {
    let Some((head, mut rest)) = data.split_first_chunk::<5>() else {
        return;
    };
    let cap = usize::from(u16::from_be_bytes([head[0], head[1]])).max(1);
    let pending_cap = usize::from(u16::from_be_bytes([head[2], head[3]]));
    let max_segments = usize::from(head[4]);
    let mut s = Stream::with_limits(cap, pending_cap, max_segments);
    while let Some((h, tail)) = rest.split_first_chunk::<6>() {
        let flags = h[0];
        let seq = u32::from_be_bytes([h[1], h[2], h[3], h[4]]);
        let len = usize::from(h[5]).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        rest = tail;
        let before = s.contiguous().len();
        s.push(seq, flags & 1 != 0, payload);
        if !s.is_stopped() {
            assert!(
                s.contiguous().len() >= before,
                "the contiguous prefix shrank"
            );
        }
        assert!(s.contiguous().len() <= cap, "prefix beyond the cap");
        assert!(s.pending_bytes() <= pending_cap, "pending beyond its cap");
        if flags & 2 != 0 {
            s.close();
        }
        if flags & 4 != 0 {
            s.stop();
            assert!(s.contiguous().is_empty());
        }
    }
    let _ = s.counters();
}

/// The pcap/pcapng reader (gzip included) and packet decoding, then the whole engine on
/// what it decodes, as `plainsight pcap` does.
pub fn pcap(data: &[u8]) {
    let Ok(mut source) = PcapSource::from_reader(Cursor::new(data.to_vec())) else {
        return;
    };
    let mut engine = Engine::new(&Config::default());
    let mut out = Vec::new();
    // Bounded: a small input cannot hold more packets than bytes.
    for _ in 0..=data.len() {
        match source.next_segment() {
            Ok(Some(seg)) => engine.process(&seg, &mut out),
            Ok(None) | Err(_) => break,
        }
    }
    engine.finish(&mut out);
    let mut line = Vec::new();
    for r in &out {
        // The hand-written event line must match the serde reference byte for byte.
        line.clear();
        let reference = serde_json::to_vec(&crate::export::events::Event::from_record(r));
        let mine = crate::export::json::event(&mut line, r);
        if let (Ok(reference), Ok(())) = (reference, mine) {
            assert_eq!(line, reference);
        }
    }
}

/// Ring-buffer records from the kernel (`capture::live::convert`).
pub fn ring_event(data: &[u8]) {
    let clock = Clock::new();
    if let Ok(seg) = convert(data, &clock) {
        assert!(seg.payload.len() <= data.len());
        let _ = seg.as_segment();
        let _ = seg.endpoints();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip() {
        let mut v = Vec::new();
        encode_chunk(&mut v, 0, b"abc");
        encode_chunk(&mut v, 1, b"");
        encode_chunk(&mut v, 3, b"de");
        let got: Vec<(u8, &[u8])> = chunks(&v).map(|c| (c.flags, c.bytes)).collect();
        assert_eq!(got, vec![(0, &b"abc"[..]), (1, &b""[..]), (3, &b"de"[..])]);
        // A short last piece keeps what is there.
        let got: Vec<(u8, &[u8])> = chunks(&[1, 0, 9, b'x'])
            .map(|c| (c.flags, c.bytes))
            .collect();
        assert_eq!(got, vec![(1, &b"x"[..])]);
    }
}
