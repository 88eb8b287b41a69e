//! Parser throughput on real handshakes from the corpus fixtures.
//!
//! Why: the TLS parser runs on every new flow's first bytes, so its cost bounds how many
//! new connections per second one core can classify.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use plainsight::flow::Direction;
use plainsight::tls::{fingerprint, handshake, Session};

const CHROME_C2S: &[u8] = include_bytes!("../tests/fixtures/tls/chrome_kyber.c2s.bin");
const CHROME_S2C: &[u8] = include_bytes!("../tests/fixtures/tls/chrome_kyber.s2c.bin");
const GITHUB_C2S: &[u8] = include_bytes!("../tests/fixtures/tls/tls10_github.c2s.bin");
const GITHUB_S2C: &[u8] = include_bytes!("../tests/fixtures/tls/tls10_github.s2c.bin");

/// The ClientHello body of the first record (after the 5-byte record and 4-byte message headers).
fn hello_body(flow: &[u8]) -> &[u8] {
    let len = usize::from(u16::from_be_bytes([flow[3], flow[4]]));
    &flow[9..5 + len]
}

fn benches(c: &mut Criterion) {
    let body = hello_body(CHROME_C2S);
    let mut g = c.benchmark_group("client_hello");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| handshake::parse_client_hello(black_box(body)))
    });
    let ch = handshake::parse_client_hello(body).expect("fixture parses");
    g.bench_function("ja3", |b| b.iter(|| fingerprint::ja3(black_box(&ch))));
    g.bench_function("ja4", |b| b.iter(|| fingerprint::ja4(black_box(&ch))));
    g.finish();

    let mut g = c.benchmark_group("session");
    for (name, c2s, s2c) in [
        ("tls13_chrome", CHROME_C2S, CHROME_S2C),
        ("tls10_with_cert", GITHUB_C2S, GITHUB_S2C),
    ] {
        g.throughput(Throughput::Bytes((c2s.len() + s2c.len()) as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut s = Session::new();
                s.feed(Direction::ToServer, black_box(c2s));
                s.feed(Direction::ToClient, black_box(s2c));
                s.info().established
            })
        });
        // Segment-by-segment feeding, as the engine does: the prefix grows by one MSS.
        g.bench_function(format!("{name}_segmented"), |b| {
            b.iter(|| {
                let mut s = Session::new();
                let (mut a, mut z) = (0, 0);
                while a < c2s.len() || z < s2c.len() {
                    a = (a + 1448).min(c2s.len());
                    z = (z + 1448).min(s2c.len());
                    s.feed(Direction::ToServer, &c2s[..a]);
                    s.feed(Direction::ToClient, &s2c[..z]);
                }
                s.info().established
            })
        });
    }
    g.finish();
}

criterion_group!(tls, benches);
criterion_main!(tls);
