//! Offline throughput: pcap decoding alone, and decoding plus the flow table with reassembly.
//! The capture is read into memory first so the numbers measure parsing, not the disk.

use std::hint::black_box;
use std::io::Cursor;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use plainsight::capture::pcap::PcapSource;
use plainsight::flow::table::{Limits, Table};

#[path = "../tests/common/corpus.rs"]
mod corpus_path;

/// TCP-heavy captures (TLS and HTTP/2), plus a UDP-heavy pcapng.
const CAPTURES: &[&str] = &[
    "suricata-verify/tests/tls/tls-subjectaltname/input.pcap",
    "ja4/pcap/http2-with-cookies.pcapng",
    "pcap-parser/assets/wireshark_samples-test.pcapng",
];

fn load(rel: &str) -> Vec<u8> {
    let path = corpus_path::corpus_file(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("corpus capture {}: {e}", path.display()))
}

fn bench(c: &mut Criterion) {
    for rel in CAPTURES {
        let bytes = load(rel);
        // "tls-subjectaltname_input.pcap": the folder tells the suite apart from the file.
        let mut parts: Vec<&str> = rel.rsplit('/').take(2).collect();
        parts.reverse();
        let name = parts.join("_");
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function("decode", |b| {
            b.iter(|| {
                let mut src = PcapSource::from_reader(Cursor::new(bytes.clone())).expect("open");
                let mut payload = 0usize;
                let stats = src.for_each_segment(|s| payload += s.payload.len());
                black_box((stats.is_ok(), payload))
            })
        });
        group.bench_function("decode+table", |b| {
            b.iter(|| {
                let mut src = PcapSource::from_reader(Cursor::new(bytes.clone())).expect("open");
                let mut table: Table<()> = Table::new(Limits::default());
                let mut grew = 0u64;
                let mut ended = 0usize;
                let r = src.for_each_segment(|s| {
                    if let Ok(o) = table.packet(s, |_| ()) {
                        grew += u64::from(o.grew);
                    }
                    ended += table.expire(s.ts).len();
                });
                ended += table.drain_all().len();
                black_box((r.is_ok(), grew, ended))
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
