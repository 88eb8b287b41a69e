//! The JSON event line (`export::json`, hand-written) against serde_json's writing of the same
//! `Event`, on records the engine made from corpus captures, so that a regression of the
//! writer shows here as a diff (docs/profile-pcap.md has the profile that motivated it).
//!
//! `cargo bench -p plainsight --bench events`

use std::hint::black_box;
use std::io::Cursor;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use plainsight::capture::pcap::PcapSource;
use plainsight::config::Config;
use plainsight::engine::{Engine, FlowRecord};
use plainsight::export::events::Event;
use plainsight::export::json;

#[path = "../tests/common/corpus.rs"]
mod corpus_path;

/// A TLS 1.2 handshake with a certificate (the `tls` and `cert` objects, findings), and
/// cleartext HTTP (the `plaintext` object through serde).
const CAPTURES: &[(&str, &str)] = &[
    (
        "tls_subjectaltname",
        "suricata-verify/tests/tls/tls-subjectaltname/input.pcap",
    ),
    ("http1", "ja4/pcap/http1.pcapng"),
];

/// Every record the engine reports for `rel`, as `plainsight pcap` would write them.
fn records(rel: &str) -> Vec<FlowRecord> {
    let path = corpus_path::corpus_file(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut src = PcapSource::from_reader(Cursor::new(bytes)).expect("open");
    let mut engine = Engine::new(&Config::default());
    let mut out = Vec::new();
    while let Ok(Some(seg)) = src.next_segment() {
        engine.process(&seg, &mut out);
    }
    engine.finish(&mut out);
    out.retain(|r| r.protocol != "none");
    assert!(!out.is_empty(), "{rel}: no record");
    out
}

fn bench(c: &mut Criterion) {
    for (name, rel) in CAPTURES {
        let recs = records(rel);
        let mut line = Vec::new();
        let mut total = 0;
        for r in &recs {
            line.clear();
            json::event(&mut line, r).expect("event");
            total += line.len();
        }
        let mut g = c.benchmark_group(format!("event_line/{name}"));
        g.throughput(Throughput::Bytes(total as u64));
        g.bench_function("export_json", |b| {
            b.iter(|| {
                for r in &recs {
                    line.clear();
                    json::event(&mut line, black_box(r)).expect("event");
                    black_box(&line);
                }
            });
        });
        g.bench_function("serde_json_reference", |b| {
            b.iter(|| {
                for r in &recs {
                    black_box(
                        serde_json::to_vec(&Event::from_record(black_box(r))).expect("serde"),
                    );
                }
            });
        });
        g.finish();
    }
}

criterion_group!(events, bench);
criterion_main!(events);
