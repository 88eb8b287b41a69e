//! The hand-written event line (`export::json`) against serde's writing of the same `Event`,
//! for every record the engine reports on every capture of the corpus (`tests/corpus/`):
//! real TLS, QUIC, DTLS and plaintext records, with certificates, evidence and odd bytes in
//! names, must come out byte for byte the same.

use plainsight::capture::pcap::PcapSource;
use plainsight::config::Config;
use plainsight::engine::{Engine, FlowRecord};
use plainsight::export::events::Event;
use plainsight::export::json;

#[path = "common/corpus.rs"]
mod corpus_path;

/// Every record of the capture at `rel`, as `plainsight pcap --all-flows` would report them.
fn records(rel: &str) -> Vec<FlowRecord> {
    let path = corpus_path::corpus_file(rel);
    let mut out = Vec::new();
    let Ok(mut src) = PcapSource::open(&path) else {
        return out; // not a capture this reader opens (covered by pcap_corpus.rs)
    };
    let mut engine = Engine::new(&Config::default());
    while let Ok(Some(seg)) = src.next_segment() {
        engine.process(&seg, &mut out);
    }
    engine.finish(&mut out);
    out
}

#[test]
fn every_corpus_record_writes_as_serde_does() {
    let index = std::fs::read_to_string(corpus_path::corpus_file("INDEX.tsv")).expect("INDEX.tsv");
    let (mut captures, mut lines, mut with_tls, mut with_cert) = (0, 0, 0, 0);
    let mut line = Vec::new();
    for rel in index.lines().skip(1).filter_map(|l| l.split('\t').next()) {
        captures += 1;
        for r in records(rel) {
            line.clear();
            json::event(&mut line, &r).expect("event line");
            let reference = serde_json::to_vec(&Event::from_record(&r)).expect("serde");
            assert!(
                line == reference,
                "{rel}: event lines differ\n mine: {}\nserde: {}",
                String::from_utf8_lossy(&line),
                String::from_utf8_lossy(&reference)
            );
            lines += 1;
            with_tls += usize::from(r.tls.is_some());
            with_cert += usize::from(r.tls.as_ref().is_some_and(|t| t.cert.is_some()));
        }
    }
    // The corpus is large and varied; a reader or engine that silently yields nothing
    // would make this test vacuous.
    assert!(captures > 500, "{captures} captures");
    assert!(
        lines > 5_000 && with_tls > 500 && with_cert > 200,
        "{lines} lines, {with_tls} TLS, {with_cert} with a certificate"
    );
    eprintln!(
        "{captures} captures, {lines} records ({with_tls} TLS, {with_cert} with a certificate)"
    );
}
