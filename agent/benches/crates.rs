//! The design card's crates against the hand-written code they would replace, on the same
//! input in the same run (docs/dependencies.md has the figures and the decisions):
//! - `link/*`: header slicing of every Ethernet frame of the pcap benchmark's captures by
//!   `capture::decode` and by etherparse's `SlicedPacket` and `LaxSlicedPacket`, each
//!   reducing a frame to the same facts (addresses, ports, payload length);
//! - `metrics/*`: one labelled counter increment, and a render of ~5,000 series, by
//!   `export::metrics` and by the `prometheus` and `prometheus-client` crates.
//!
//! `cargo bench -p plainsight --bench crates`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::hint::black_box;
use std::net::IpAddr;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use etherparse::{LaxNetSlice, LaxSlicedPacket, NetSlice, SlicedPacket, TransportSlice};
use pcap_parser::pcapng::Block;
use pcap_parser::{PcapBlockOwned, PcapError};
use plainsight::capture::decode::{decode, linktype};
use plainsight::export::metrics::{Metrics, Workloads};
use plainsight::time::Timestamp;

#[path = "../tests/common/corpus.rs"]
mod corpus_path;

/// The pcap benchmark's captures (benches/pcap.rs): TLS, HTTP/2, and a mixed pcapng.
const CAPTURES: &[&str] = &[
    "suricata-verify/tests/tls/tls-subjectaltname/input.pcap",
    "ja4/pcap/http2-with-cookies.pcapng",
    "pcap-parser/assets/wireshark_samples-test.pcapng",
];

/// Every Ethernet frame of a capture, as captured.
fn ethernet_frames(rel: &str) -> Vec<Vec<u8>> {
    let file = File::open(corpus_path::corpus_file(rel)).unwrap();
    let mut reader = pcap_parser::create_reader(1 << 20, file).unwrap();
    let mut legacy = 0u32;
    let mut ifaces = Vec::new();
    let mut out = Vec::new();
    loop {
        match reader.next() {
            Ok((len, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => legacy = (h.network.0 as u32) & 0xffff,
                    PcapBlockOwned::Legacy(b) if legacy == linktype::ETHERNET => {
                        out.push(b.data.to_vec())
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(i)) => {
                        ifaces.push(i.linktype.0 as u32)
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(e))
                        if ifaces.get(e.if_id as usize) == Some(&linktype::ETHERNET) =>
                    {
                        let cap = (e.caplen as usize).min(e.data.len());
                        out.push(e.data[..cap].to_vec())
                    }
                    _ => {}
                }
                reader.consume(len);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().unwrap(),
            Err(e) => panic!("{rel}: {e:?}"),
        }
    }
    out
}

/// What decode.rs gives the pipeline, reduced for comparison.
pub type Facts = (IpAddr, IpAddr, u16, u16, usize);

fn by_decode(f: &[u8]) -> Option<Facts> {
    let s = decode(linktype::ETHERNET, Timestamp(0), f, f.len() as u32).ok()?;
    Some((s.src_ip, s.dst_ip, s.src_port, s.dst_port, s.payload.len()))
}

fn ports(t: &TransportSlice<'_>) -> Option<(u16, u16, usize)> {
    match t {
        TransportSlice::Tcp(t) => Some((t.source_port(), t.destination_port(), t.payload().len())),
        TransportSlice::Udp(u) => Some((u.source_port(), u.destination_port(), u.payload().len())),
        _ => None,
    }
}

fn by_sliced(f: &[u8]) -> Option<Facts> {
    let p = SlicedPacket::from_ethernet(f).ok()?;
    let (src, dst) = match p.net.as_ref()? {
        NetSlice::Ipv4(s) => (
            IpAddr::V4(s.header().source_addr()),
            IpAddr::V4(s.header().destination_addr()),
        ),
        NetSlice::Ipv6(s) => (
            IpAddr::V6(s.header().source_addr()),
            IpAddr::V6(s.header().destination_addr()),
        ),
        NetSlice::Arp(_) => return None,
    };
    let (sp, dp, n) = ports(p.transport.as_ref()?)?;
    Some((src, dst, sp, dp, n))
}

fn by_lax(f: &[u8]) -> Option<Facts> {
    let p = LaxSlicedPacket::from_ethernet(f).ok()?;
    let (src, dst) = match p.net.as_ref()? {
        LaxNetSlice::Ipv4(s) => (
            IpAddr::V4(s.header().source_addr()),
            IpAddr::V4(s.header().destination_addr()),
        ),
        LaxNetSlice::Ipv6(s) => (
            IpAddr::V6(s.header().source_addr()),
            IpAddr::V6(s.header().destination_addr()),
        ),
        LaxNetSlice::Arp(_) => return None,
    };
    let (sp, dp, n) = ports(p.transport.as_ref()?)?;
    Some((src, dst, sp, dp, n))
}

fn link(c: &mut Criterion) {
    let frames: Vec<Vec<u8>> = CAPTURES.iter().flat_map(|r| ethernet_frames(r)).collect();
    let bytes: usize = frames.iter().map(Vec::len).sum();
    let mut g = c.benchmark_group("link");
    g.throughput(Throughput::Bytes(bytes as u64));
    let run = |f: fn(&[u8]) -> Option<Facts>| {
        let mut n = 0usize;
        for fr in &frames {
            if let Some(x) = f(black_box(fr)) {
                n += x.4 + usize::from(x.2);
            }
        }
        n
    };
    g.bench_function("decode_rs", |b| b.iter(|| black_box(run(by_decode))));
    g.bench_function("etherparse_sliced", |b| {
        b.iter(|| black_box(run(by_sliced)))
    });
    g.bench_function("etherparse_lax", |b| b.iter(|| black_box(run(by_lax))));
    g.finish();
}

/// 5,000 series of `plainsight_flows_total`: 4 static labels and 5 workload labels, 1,000
/// workloads × 5 protocols, like a busy node with the default label budget.
const SERIES: usize = 5_000;
const PROTOCOLS: [&str; 5] = ["http", "tls", "postgres", "redis", "dns"];
const LABELS: [&str; 9] = [
    "protocol",
    "encrypted",
    "scope",
    "transport",
    "src_namespace",
    "src_workload",
    "dst_namespace",
    "dst_workload",
    "dst_service",
];

fn workload(i: usize) -> [String; 5] {
    [
        format!("ns{}", i % 40),
        format!("deploy-{i}"),
        "prod".to_owned(),
        format!("db-{}", i % 17),
        format!("svc-{}", i % 17),
    ]
}

fn ours() -> Metrics {
    let mut m = Metrics::new();
    for i in 0..SERIES / PROTOCOLS.len() {
        let w = workload(i);
        let x = Workloads::of([&w[0], &w[1], &w[2], &w[3], &w[4]]);
        for p in PROTOCOLS {
            m.flows.add_with([p, "false", "internal", "tcp"], &x, 3.0);
        }
    }
    m
}

fn tikv() -> (prometheus::Registry, prometheus::IntCounterVec) {
    let reg = prometheus::Registry::new();
    let v = prometheus::IntCounterVec::new(
        prometheus::Opts::new("plainsight_flows_total", "Flows seen."),
        &LABELS,
    )
    .unwrap();
    reg.register(Box::new(v.clone())).unwrap();
    for i in 0..SERIES / PROTOCOLS.len() {
        let w = workload(i);
        for p in PROTOCOLS {
            let values = [
                p, "false", "internal", "tcp", &w[0], &w[1], &w[2], &w[3], &w[4],
            ];
            v.with_label_values(&values).inc_by(3);
        }
    }
    (reg, v)
}

type ClientFamily = prometheus_client::metrics::family::Family<
    Vec<(String, String)>,
    prometheus_client::metrics::counter::Counter,
>;

fn client_labels(p: &str, w: &[String; 5]) -> Vec<(String, String)> {
    let values = [
        p, "false", "internal", "tcp", &w[0], &w[1], &w[2], &w[3], &w[4],
    ];
    LABELS
        .iter()
        .zip(values)
        .map(|(k, v)| ((*k).to_owned(), v.to_owned()))
        .collect()
}

fn client() -> (prometheus_client::registry::Registry, ClientFamily) {
    let mut reg = prometheus_client::registry::Registry::default();
    let fam = ClientFamily::default();
    // prometheus-client appends `_total` to counters itself.
    reg.register("plainsight_flows", "Flows seen.", fam.clone());
    for i in 0..SERIES / PROTOCOLS.len() {
        let w = workload(i);
        for p in PROTOCOLS {
            fam.get_or_create(&client_labels(p, &w)).inc_by(3);
        }
    }
    (reg, fam)
}

fn metrics(c: &mut Criterion) {
    let mut g = c.benchmark_group("metrics");
    let w = workload(7);
    let x = Workloads::of([&w[0], &w[1], &w[2], &w[3], &w[4]]);

    let mut m = ours();
    g.bench_function("observe/plainsight", |b| {
        b.iter(|| {
            m.flows
                .add_with(black_box(["tls", "false", "internal", "tcp"]), &x, 1.0)
        })
    });
    let (reg, v) = tikv();
    let values = [
        "tls", "false", "internal", "tcp", &w[0], &w[1], &w[2], &w[3], &w[4],
    ];
    g.bench_function("observe/prometheus", |b| {
        b.iter(|| v.with_label_values(black_box(&values)).inc())
    });
    let (creg, fam) = client();
    let labels = client_labels("tls", &w);
    g.bench_function("observe/prometheus_client", |b| {
        b.iter(|| fam.get_or_create(black_box(&labels)).inc())
    });

    g.throughput(Throughput::Elements(SERIES as u64));
    g.bench_function("render_5k/plainsight", |b| {
        b.iter(|| black_box(m.render_at(1_800_000_000).len()))
    });
    g.bench_function("render_5k/prometheus", |b| {
        b.iter(|| {
            let text = prometheus::TextEncoder::new()
                .encode_to_string(&reg.gather())
                .unwrap();
            black_box(text.len())
        })
    });
    g.bench_function("render_5k/prometheus_client", |b| {
        b.iter(|| {
            let mut text = String::new();
            prometheus_client::encoding::text::encode(&mut text, &creg).unwrap();
            black_box(text.len())
        })
    });
    g.finish();
}

criterion_group!(benches, link, metrics);
criterion_main!(benches);
