//! The per-packet hot paths, one at a time, so that a regression shows as a diff here
//! before it shows in `scripts/bench-pcap.sh` (docs/profile-pcap.md has the profile they
//! come from). The ClientHello parse is in `benches/tls.rs` (`client_hello/parse`).
//!
//! `cargo bench -p plainsight --bench hotpath`

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use plainsight::capture::decode::decode;
use plainsight::capture::{Segment, TcpMeta};
use plainsight::config::Config;
use plainsight::engine::Engine;
use plainsight::flow::table::{Limits, Table};
use plainsight::flow::{Direction, Transport};
use plainsight::plaintext;
use plainsight::time::Timestamp;

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
/// A full-sized segment: what a bulk transfer is made of.
const MSS: usize = 1448;

/// A TCP segment of the test connection (client 10.0.0.1:40000, server 10.0.0.2:80).
fn seg(t: u64, to_server: bool, flags: u8, seq: u32, payload: &[u8]) -> Segment<'_> {
    let (src_ip, dst_ip, src_port, dst_port) = if to_server {
        (CLIENT, SERVER, 40000, 80)
    } else {
        (SERVER, CLIENT, 80, 40000)
    };
    Segment {
        ts: Timestamp(t),
        src_ip,
        dst_ip,
        src_port,
        dst_port,
        transport: Transport::Tcp,
        tcp: Some(TcpMeta {
            seq,
            flags,
            ..TcpMeta::default()
        }),
        payload,
        wire_len: 54 + payload.len() as u32,
    }
}

/// One Ethernet/IPv4/TCP frame carrying `payload` (checksums left at 0: not checked).
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 20];
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&((40 + payload.len()) as u16).to_be_bytes());
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&[10, 0, 0, 2]);
    ip[16..20].copy_from_slice(&[10, 0, 0, 1]);
    let tcp = &mut f[34..54];
    tcp[0..2].copy_from_slice(&80u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&40000u16.to_be_bytes());
    tcp[4..8].copy_from_slice(&123_456u32.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = TcpMeta::ACK;
    f.extend_from_slice(payload);
    f
}

const REQUEST: &[u8] =
    b"GET /big.bin HTTP/1.1\r\nHost: bulk.lab\r\nUser-Agent: curl/8.14.1\r\nAccept: */*\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/octet-stream\r\nContent-Length: 50000000\r\n\r\n";

fn benches(c: &mut Criterion) {
    let bulk = vec![0xa5u8; MSS];

    let mut g = c.benchmark_group("decode");
    let f = frame(&bulk);
    g.throughput(Throughput::Bytes(f.len() as u64));
    g.bench_function("ethernet_ipv4_tcp", |b| {
        b.iter(|| decode(1, Timestamp(1), black_box(&f), f.len() as u32).map(|s| s.payload.len()))
    });
    g.finish();

    // The flow table on a flow past its stream cap: lookup and counters only.
    let mut g = c.benchmark_group("table");
    g.throughput(Throughput::Elements(1));
    g.bench_function("packet_established", |b| {
        let mut table: Table<()> = Table::new(Limits::default());
        let mut seq = 1u32;
        b.iter(|| {
            let o = table.packet(black_box(&seg(1, false, TcpMeta::ACK, seq, &bulk)), |_| ());
            seq = seq.wrapping_add(MSS as u32);
            o.map(|o| o.grew)
        })
    });
    g.finish();

    // The whole engine on an HTTP flow already classified and past its stream cap.
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(1));
    g.bench_function("finished_flow_segment", |b| {
        let mut engine = Engine::new(&Config::default());
        let mut out = Vec::new();
        let (ci, si) = (1000u32, 5000u32);
        engine.process(&seg(1, true, TcpMeta::SYN, ci, &[]), &mut out);
        engine.process(
            &seg(2, false, TcpMeta::SYN | TcpMeta::ACK, si, &[]),
            &mut out,
        );
        engine.process(&seg(3, true, TcpMeta::ACK, ci + 1, REQUEST), &mut out);
        engine.process(&seg(4, false, TcpMeta::ACK, si + 1, RESPONSE), &mut out);
        let mut seq = si + 1 + RESPONSE.len() as u32;
        for _ in 0..16 {
            engine.process(&seg(5, false, TcpMeta::ACK, seq, &bulk), &mut out);
            seq = seq.wrapping_add(MSS as u32);
        }
        let mut t = 6u64;
        b.iter(|| {
            engine.process(
                black_box(&seg(t, false, TcpMeta::ACK, seq, &bulk)),
                &mut out,
            );
            seq = seq.wrapping_add(MSS as u32);
            t += 1_000;
            out.clear();
        });
        assert_eq!(engine.flows_tracked(), 1, "the flow stayed in the table");
    });
    g.finish();

    // Recognition of a flow's first segment: a known protocol, and bytes no recogniser
    // claims (every recogniser looks at them).
    let mut g = c.benchmark_group("plaintext_first_segment");
    let unknown: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37) | 0x80).collect();
    for (name, port, data) in [
        ("http_request", 80u16, REQUEST),
        ("unknown_binary", 40_001, unknown.as_slice()),
    ] {
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function(name, |b| {
            b.iter_batched(
                || plaintext::Session::new(port),
                |mut s| {
                    s.feed(Direction::ToServer, black_box(data));
                    s.protocol()
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(hotpath, benches);
criterion_main!(hotpath);
