//! Reader + flow table + reassembly over real captures: the ClientHello must come out whole.

use std::path::{Path, PathBuf};

use plainsight::capture::pcap::PcapSource;
use plainsight::flow::table::{Flow, Limits, Table};
use plainsight::flow::{Direction, Transport};

#[path = "common/corpus.rs"]
mod corpus_path;

fn corpus(rel: &str) -> PathBuf {
    corpus_path::corpus_file(rel)
}

/// Run a capture through the table; every flow at the end, sorted.
fn flows(path: &Path) -> Vec<Flow<()>> {
    let mut table: Table<()> = Table::new(Limits {
        stream_cap: 64 * 1024,
        ..Limits::default()
    });
    let mut src = PcapSource::open(path).expect("open");
    let mut ended = Vec::new();
    let _ = src.for_each_segment(|seg| {
        let _ = table.packet(seg, |_| ());
        ended.extend(table.expire(seg.ts));
    });
    ended.extend(table.drain_all());
    ended
}

/// Length of the first TLS handshake message if the stream holds all of it (walking the
/// records it spans), per RFC 8446 §5.1 (record: type(1) version(2) length(2)) and §4
/// (handshake: type(1) length(3)).
fn whole_client_hello(stream: &[u8]) -> Option<usize> {
    let mut hs = Vec::new();
    let mut at = 0;
    while let Some(hdr) = stream.get(at..at + 5) {
        if hdr[0] != 0x16 || hdr[1] != 0x03 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([hdr[3], hdr[4]]));
        hs.extend_from_slice(stream.get(at + 5..at + 5 + len)?);
        at += 5 + len;
        if hs.len() >= 4 {
            if hs[0] != 0x01 {
                return None;
            }
            let want =
                (usize::from(hs[1]) << 16 | usize::from(hs[2]) << 8 | usize::from(hs[3])) + 4;
            if hs.len() >= want {
                return Some(want);
            }
        }
    }
    None
}

fn client_hellos(flows: &[Flow<()>]) -> Vec<usize> {
    flows
        .iter()
        .filter(|f| f.key.transport == Transport::Tcp)
        .filter_map(|f| whole_client_hello(f.stream(Direction::ToServer).contiguous()))
        .collect()
}

#[test]
fn split_client_hellos_reassemble_whole() {
    for rel in [
        "ndpi/tests/cfgs/default/pcap/tls_with_huge_ch.pcapng",
        "suricata-verify/tests/lua/lua-tlslib-02/input.pcap",
        "suricata-verify/tests/tls/tls-client-hello-frag-01/dump_mtu300.pcap",
    ] {
        let fl = flows(&corpus(rel));
        let hellos = client_hellos(&fl);
        assert!(
            !hellos.is_empty(),
            "{rel}: no whole ClientHello in any client stream"
        );
        eprintln!("{rel}: ClientHello sizes {hellos:?}");
    }
    // The MTU-300 capture splits one ClientHello over several segments.
    let fl = flows(&corpus(
        "suricata-verify/tests/tls/tls-client-hello-frag-01/dump_mtu300.pcap",
    ));
    assert!(client_hellos(&fl).iter().any(|n| *n > 300));
}

/// TLS captures where no client stream *starts* with a whole ClientHello, and why. Everything
/// else tagged `tls` (minus STARTTLS, DTLS, QUIC, SSLv2) must give one.
const EXPECTED_MISSES: &[(&str, &str)] = &[
    (
        "arkime/tests/pcap/https-connect.pcap",
        "HTTP CONNECT proxy: stream starts with CONNECT",
    ),
    ("ja4/pcap/https-connect.pcap", "HTTP CONNECT proxy"),
    (
        "arkime/tests/pcap/socks-https-example.pcap",
        "SOCKS handshake first",
    ),
    ("ja4/pcap/socks-https-example.pcap", "SOCKS handshake first"),
    ("zeek/Traces/socks-with-ssl.pcap", "SOCKS handshake first"),
    (
        "zeek/Traces/tls/xmpp-dialback-starttls.pcap",
        "XMPP STARTTLS, untagged",
    ),
    (
        "ndpi/tests/cfgs/default/pcap/capwap_data.pcapng",
        "inside a CAPWAP UDP tunnel",
    ),
    (
        "ndpi/tests/cfgs/default/pcap/vxlan.pcap",
        "inside a VXLAN UDP tunnel",
    ),
    (
        "ndpi/tests/cfgs/default/pcap/ja3_lots_of_cipher_suites_2_anon.pcap",
        "inside GTP-U",
    ),
    (
        "ndpi/tests/cfgs/default/pcap/openvpn.pcap",
        "TLS inside OpenVPN framing",
    ),
    (
        "ndpi/tests/cfgs/default/pcap/openvpn_nohmac.pcapng",
        "TLS inside OpenVPN framing",
    ),
    (
        "ndpi/tests/cfgs/default/pcap/openvpn_nohmac_tcp.pcapng",
        "TLS inside OpenVPN framing",
    ),
    (
        "ndpi/tests/cfgs/default/pcap/rdp2.pcap",
        "TLS after RDP X.224 negotiation",
    ),
    (
        "ndpi/tests/cfgs/default/pcap/tls_1.2_unidirectional_server.pcapng",
        "server side only",
    ),
    (
        "ndpi/tests/cfgs/default/pcap/tls_1.3_unidirectional_server.pcapng",
        "server side only",
    ),
    (
        "ndpi/tests/cfgs/default/pcap/tls_missing_ch_frag.pcap",
        "a ClientHello segment is missing",
    ),
    (
        "ndpi/tests/cfgs/default/pcap/ossfuzz_seed_fake_traces_1.pcapng",
        "fake trace: 1 junk byte first",
    ),
];

/// Across every TCP TLS capture in the corpus (no STARTTLS, no DTLS/QUIC), the table finds a
/// ClientHello at the start of a client stream, except in the known cases above.
#[test]
fn tls_captures_yield_client_hellos() {
    let index = std::fs::read_to_string(corpus("INDEX.tsv")).expect("INDEX.tsv");
    let mut total = 0;
    let mut missing = Vec::new();
    for line in index.lines().skip(1) {
        let mut cols = line.split('\t');
        let rel = cols.next().unwrap_or_default();
        let tags: Vec<&str> = cols.next().unwrap_or_default().split(',').collect();
        if !tags.contains(&"tls")
            || tags
                .iter()
                .any(|t| matches!(*t, "dtls" | "quic" | "starttls" | "sslv2-hello" | "sslv2"))
        {
            continue;
        }
        total += 1;
        let fl = flows(&corpus(rel));
        if client_hellos(&fl).is_empty() {
            missing.push(rel.to_string());
        }
    }
    eprintln!(
        "{} of {total} TLS captures without a whole ClientHello:",
        missing.len()
    );
    for m in &missing {
        eprintln!("  {m}");
    }
    assert!(total > 150, "{total}");
    let unexpected: Vec<_> = missing
        .iter()
        .filter(|m| !EXPECTED_MISSES.iter().any(|(p, _)| p == m))
        .collect();
    assert!(
        unexpected.is_empty(),
        "ClientHello not reassembled in {unexpected:?}"
    );
}

/// Distinct conversations per transport match tshark 4.0's `-z conv,tcp` / `-z conv,udp`
/// (which group by address/port pair over the whole capture).
#[test]
fn conversation_counts_match_tshark() {
    use std::collections::BTreeSet;
    for (rel, tcp, udp) in [
        (
            "suricata-verify/tests/tls/tls-subjectaltname/input.pcap",
            68,
            40,
        ),
        ("ja4/pcap/http2-with-cookies.pcapng", 1, 0),
        ("ja4/pcap/tls3.pcapng", 26, 34),
        ("pcap-parser/assets/wireshark_samples-test.pcapng", 2, 1147),
    ] {
        let mut table: Table<()> = Table::new(Limits {
            max_flows: 1 << 20,
            tcp_idle: u64::MAX,
            udp_idle: u64::MAX,
            ..Limits::default()
        });
        let mut src = PcapSource::open(&corpus(rel)).expect("open");
        let mut ended = Vec::new();
        src.for_each_segment(|seg| {
            table.packet(seg, |_| ()).expect("room");
            ended.extend(table.expire(seg.ts));
        })
        .expect("reads");
        ended.extend(table.drain_all());
        let distinct = |t: Transport| {
            ended
                .iter()
                .filter(|f| f.key.transport == t)
                .map(|f| f.key.canonical())
                .collect::<BTreeSet<_>>()
                .len()
        };
        assert_eq!(distinct(Transport::Tcp), tcp, "{rel}: TCP conversations");
        assert_eq!(distinct(Transport::Udp), udp, "{rel}: UDP conversations");
        let created = table.counters().flows_created as usize;
        assert_eq!(
            created,
            ended.len(),
            "{rel}: every created flow handed back once"
        );
    }
}
