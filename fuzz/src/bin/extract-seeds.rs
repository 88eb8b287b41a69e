//! Writes the seed inputs of every fuzz target to `fuzz/seeds/<target>/`, extracted from
//! the capture corpus and the test fixtures' captures:
//! `extract-seeds [--out DIR] [CORPUS [FIXTURES...]]`, defaults `tests/corpus`,
//! `agent/tests/fixtures` and `fuzz/seeds`, relative to the repository root (where
//! `cargo xtask fuzz --seeds` runs it). Every directory is searched recursively for
//! `.pcap`, `.pcapng` and `.cap` files (gzipped too).
//!
//! Each capture is read with the agent's own pcap reader; its flows are cut into the
//! input formats documented in `plainsight::fuzzing`. A few seeds per protocol, each
//! small, so the committed set stays small and covers every parser's entry paths.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use agent_common::parse::{Endpoints, Protocol as KProto};
use agent_common::{event_kind, hook, EventHeader};
use plainsight::capture::pcap::PcapSource;
use plainsight::capture::TcpMeta;
use plainsight::flow::{CanonicalKey, Transport};
use plainsight::fuzzing::encode_chunk;
use plainsight::plaintext::Protocol;
use plainsight::tls;

/// Largest seed written; libFuzzer's default -max_len follows the seeds.
const MAX_SEED: usize = 16 * 1024;
/// Segments kept per flow.
const MAX_SEGMENTS: usize = 64;
/// Seeds kept per target and kind (protocol for `plaintext`).
const PER_KIND: usize = 4;
/// Raw captures copied as `pcap` seeds are at most this large.
const MAX_PCAP_SEED: u64 = 8 * 1024;

struct Seg {
    src: SocketAddr,
    dst: SocketAddr,
    tcp: Option<TcpMeta>,
    payload: Vec<u8>,
}

struct FlowSegs {
    transport: Transport,
    /// The first sender: the client as far as the seeds are concerned.
    client: SocketAddr,
    segs: Vec<Seg>,
}

#[derive(Default)]
struct Seeds {
    /// target → kind → seeds.
    by_target: BTreeMap<&'static str, BTreeMap<String, Vec<Vec<u8>>>>,
}

impl Seeds {
    fn add(&mut self, target: &'static str, kind: &str, seed: Vec<u8>) {
        if seed.is_empty() || seed.len() > MAX_SEED {
            return;
        }
        let kinds = self.by_target.entry(target).or_default();
        let v = kinds.entry(kind.to_owned()).or_default();
        if v.len() < PER_KIND && !v.contains(&seed) {
            v.push(seed);
        }
    }
}

fn main() -> ExitCode {
    let mut out = PathBuf::from("fuzz/seeds");
    let mut dirs = Vec::new();
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        if a == "--out" {
            match args.next() {
                Some(o) => out = PathBuf::from(o),
                None => {
                    eprintln!("extract-seeds: --out needs a directory");
                    return ExitCode::from(2);
                }
            }
        } else {
            dirs.push(PathBuf::from(a));
        }
    }
    if dirs.is_empty() {
        dirs = vec![
            PathBuf::from("tests/corpus"),
            PathBuf::from("agent/tests/fixtures"),
        ];
    }
    let mut files = Vec::new();
    for d in &dirs {
        if !d.is_dir() {
            eprintln!("extract-seeds: {} is not a directory", d.display());
            return ExitCode::from(2);
        }
        walk(d, &mut files);
    }
    files.sort();
    let mut seeds = Seeds::default();
    let mut read = 0;
    for f in &files {
        if extract(f, &mut seeds) {
            read += 1;
        }
    }
    match write(&out, &seeds) {
        Ok(n) => {
            eprintln!(
                "extract-seeds: {n} seeds from {read} of {} captures in {} → {}",
                files.len(),
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("extract-seeds: writing {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if let Some(name) = p.file_name().and_then(|n| n.to_str()) {
            let name = name.strip_suffix(".gz").unwrap_or(name);
            if [".pcap", ".pcapng", ".cap"]
                .iter()
                .any(|s| name.ends_with(s))
            {
                out.push(p);
            }
        }
    }
}

/// Reads one capture into flows and adds its seeds; false when it did not read.
fn extract(path: &Path, seeds: &mut Seeds) -> bool {
    let Ok(mut src) = PcapSource::open(path) else {
        return false;
    };
    let mut flows: HashMap<CanonicalKey, FlowSegs> = HashMap::new();
    let mut order = Vec::new();
    while let Ok(Some(s)) = src.next_segment() {
        let a = SocketAddr::new(s.src_ip, s.src_port);
        let b = SocketAddr::new(s.dst_ip, s.dst_port);
        let key = CanonicalKey::new(a, b, s.transport);
        let f = flows.entry(key).or_insert_with(|| {
            order.push(key);
            FlowSegs {
                transport: s.transport,
                client: a,
                segs: Vec::new(),
            }
        });
        if f.segs.len() < MAX_SEGMENTS {
            f.segs.push(Seg {
                src: a,
                dst: b,
                tcp: s.tcp,
                payload: s.payload.to_vec(),
            });
        }
    }
    for key in &order {
        if let Some(f) = flows.get(key) {
            flow_seeds(f, seeds);
        }
    }
    if std::fs::metadata(path).is_ok_and(|m| m.len() <= MAX_PCAP_SEED) {
        if let Ok(raw) = std::fs::read(path) {
            let kind = if raw.starts_with(&[0x1f, 0x8b]) {
                "gzip"
            } else if raw.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
                "pcapng"
            } else {
                "pcap"
            };
            seeds.add("pcap", kind, raw);
        }
    }
    true
}

/// Payload segments in capture order as chunks, direction bit relative to the client.
fn chunked(f: &FlowSegs) -> Vec<u8> {
    let mut v = Vec::new();
    for s in f.segs.iter().filter(|s| !s.payload.is_empty()) {
        let dir = u8::from(s.src != f.client);
        encode_chunk(&mut v, dir, &s.payload);
    }
    v
}

fn flow_seeds(f: &FlowSegs, seeds: &mut Seeds) {
    let first = f.segs.iter().find(|s| !s.payload.is_empty());
    let Some(first) = first else {
        return;
    };
    let data = chunked(f);
    let udp = f.transport == Transport::Udp;
    let port = first.dst.port().min(first.src.port());
    if udp && tls::dtls::probe(&first.payload).is_some() {
        seeds.add("dtls", "dtls", data.clone());
    } else if !udp && matches!(tls::probe(&first.payload), tls::Probe::Yes) {
        seeds.add("tls", &format!("tls-{port}"), data.clone());
    } else {
        // The agent's own recogniser names the protocol.
        let mut s = if udp {
            plainsight::plaintext::Session::new_datagram(port)
        } else {
            plainsight::plaintext::Session::new(port)
        };
        let mut held: [Vec<u8>; 2] = Default::default();
        for c in plainsight::fuzzing::chunks(&data) {
            let dir = c.direction();
            if udp {
                s.feed(dir, c.bytes);
            } else if let Some(b) = held.get_mut(dir.index()) {
                b.extend_from_slice(c.bytes);
                s.feed(dir, b);
            }
        }
        if let Some(name) = s.protocol() {
            if let Some(i) = Protocol::ALL.iter().position(|p| p.as_str() == name) {
                let sel = u8::try_from(i).unwrap_or(0) | if udp { 0x80 } else { 0 };
                let mut seed = vec![sel];
                seed.extend_from_slice(&data);
                seeds.add("plaintext", name, seed);
                // The same bytes through recognition.
                let mut seed = vec![18 | if udp { 0x80 } else { 0 }];
                seed.extend_from_slice(&data);
                seeds.add("plaintext", &format!("{name}-sniffed"), seed);
                if name == "http2" {
                    hpack_seeds(f, seeds);
                }
            }
        }
    }
    if !udp {
        stream_seed(f, seeds);
    }
    ring_seeds(f, seeds);
}

/// HEADERS frame blocks of each direction (RFC 9113 §6.2), one chunk each, behind a
/// table-size byte of 64 (× 64 = 4096).
fn hpack_seeds(f: &FlowSegs, seeds: &mut Seeds) {
    for to_client in [false, true] {
        let mut stream: Vec<u8> = Vec::new();
        for s in f.segs.iter().filter(|s| (s.src != f.client) == to_client) {
            stream.extend_from_slice(&s.payload);
        }
        let mut pos = if stream.starts_with(b"PRI * HTTP/2.0") {
            24
        } else {
            0
        };
        let mut seed = vec![64u8];
        while let Some(h) = stream.get(pos..pos + 9) {
            let len = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
            let (ty, flags) = (h[3], h[4]);
            let Some(mut p) = stream.get(pos + 9..pos + 9 + len) else {
                break;
            };
            pos += 9 + len;
            if ty != 1 {
                continue;
            }
            if flags & 0x08 != 0 {
                let pad = usize::from(p.first().copied().unwrap_or(0));
                p = p.get(1..p.len().saturating_sub(pad)).unwrap_or_default();
            }
            if flags & 0x20 != 0 {
                p = p.get(5..).unwrap_or_default();
            }
            encode_chunk(&mut seed, 0, p);
        }
        if seed.len() > 1 {
            seeds.add(
                "hpack",
                if to_client { "response" } else { "request" },
                seed,
            );
        }
    }
}

/// The client direction's segments in the `stream` target's format.
fn stream_seed(f: &FlowSegs, seeds: &mut Seeds) {
    let mut seed = Vec::new();
    seed.extend_from_slice(&4096u16.to_be_bytes());
    seed.extend_from_slice(&4096u16.to_be_bytes());
    seed.push(64);
    let mut n = 0;
    for s in f.segs.iter().filter(|s| s.src == f.client) {
        let Some(t) = s.tcp else { continue };
        let syn = u8::from(t.has(TcpMeta::SYN));
        let mut seq = t.seq;
        let mut pieces: Vec<&[u8]> = s.payload.chunks(255).collect();
        if pieces.is_empty() {
            pieces.push(&[]);
        }
        for p in pieces {
            seed.push(syn);
            seed.extend_from_slice(&seq.to_be_bytes());
            seed.push(u8::try_from(p.len()).unwrap_or(255));
            seed.extend_from_slice(p);
            seq = seq.wrapping_add(u32::try_from(p.len()).unwrap_or(0));
            n += 1;
        }
    }
    if n > 1 {
        let kind = if f
            .segs
            .iter()
            .any(|s| s.tcp.is_some_and(|t| t.has(TcpMeta::SYN)))
        {
            "syn"
        } else {
            "midstream"
        };
        seeds.add("stream", kind, seed);
    }
}

/// The first payload segment as a ring-buffer record (the kernel's `EventHeader` plus
/// the copied bytes).
fn ring_seeds(f: &FlowSegs, seeds: &mut Seeds) {
    let Some(s) = f.segs.iter().find(|s| !s.payload.is_empty()) else {
        return;
    };
    let ep = Endpoints {
        src: s.src,
        dst: s.dst,
        protocol: match f.transport {
            Transport::Tcp => KProto::Tcp,
            Transport::Udp => KProto::Udp,
        },
    };
    let payload = s.payload.get(..256).unwrap_or(&s.payload);
    let len = u32::try_from(payload.len()).unwrap_or(0);
    let t = s.tcp.unwrap_or_default();
    let h = EventHeader {
        ts_ns: 1,
        key: ep.to_key(),
        seq: t.seq,
        ack: t.ack,
        ifindex: 2,
        wire_len: len + 40,
        payload_len: len,
        copied_len: len,
        kind: event_kind::SEGMENT,
        direction: hook::INGRESS,
        tcp_flags: t.flags,
        first_flags: t.first_flags,
        _pad: [0; 4],
    };
    let mut rec = vec![0u8; size_of::<EventHeader>()];
    // SAFETY: `rec` is exactly one EventHeader long; the write is unaligned.
    unsafe { std::ptr::write_unaligned(rec.as_mut_ptr().cast::<EventHeader>(), h) };
    rec.extend_from_slice(payload);
    let kind = match (s.src.is_ipv4(), f.transport) {
        (true, Transport::Tcp) => "tcp4",
        (true, Transport::Udp) => "udp4",
        (false, Transport::Tcp) => "tcp6",
        (false, Transport::Udp) => "udp6",
    };
    seeds.add("ring_event", kind, rec);
}

/// FNV-1a, for stable seed file names.
fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Replaces each target's seed directory; returns the number of seeds written.
fn write(out: &Path, seeds: &Seeds) -> std::io::Result<usize> {
    let mut n = 0;
    for (target, kinds) in &seeds.by_target {
        let dir = out.join(target);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        for (kind, list) in kinds {
            for s in list {
                std::fs::write(dir.join(format!("{kind}-{:016x}", fnv(s))), s)?;
                n += 1;
            }
        }
    }
    Ok(n)
}
