//! Every link type the pcap mode reads, on a real capture of it: the public corpus where it
//! has one, else a capture recorded in a lab namespace (`tests/corpus/local/linktypes/`,
//! README.md there says how). Each runs the whole pcap pipeline (reader, decoder, engine)
//! and checks the flows and protocols found, and that no packet was skipped unexplained.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use plainsight::capture::pcap::{PcapSource, Skip, Stats};
use plainsight::config::Config;
use plainsight::engine::{Engine, FlowRecord};

#[path = "common/corpus.rs"]
mod corpus_path;

fn corpus(rel: &str) -> PathBuf {
    corpus_path::corpus_file(rel)
}

/// The link type in a capture's header (legacy pcap) or its interfaces (pcapng), so each
/// test proves it reads the link type it is named after.
fn linktypes(path: &Path) -> BTreeSet<u32> {
    let mut d = std::fs::read(path).unwrap();
    if d.starts_with(&[0x1f, 0x8b]) {
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&d[..]), &mut raw).unwrap();
        d = raw;
    }
    let u32_at = |at: usize, le: bool| {
        let b: [u8; 4] = d[at..at + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    match &d[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => {
            BTreeSet::from([u32_at(20, true) & 0xffff])
        }
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => {
            BTreeSet::from([u32_at(20, false) & 0xffff])
        }
        [0x0a, 0x0d, 0x0d, 0x0a] => {
            let le = d[8..12] == [0x4d, 0x3c, 0x2b, 0x1a];
            let mut out = BTreeSet::new();
            let mut at = 0;
            while at + 12 <= d.len() {
                let (kind, len) = (u32_at(at, le), u32_at(at + 4, le) as usize);
                if kind == 1 {
                    let lt = if le {
                        u16::from_le_bytes([d[at + 8], d[at + 9]])
                    } else {
                        u16::from_be_bytes([d[at + 8], d[at + 9]])
                    };
                    out.insert(u32::from(lt));
                }
                at += len.max(12);
            }
            out
        }
        m => panic!("{}: not a capture ({m:?})", path.display()),
    }
}

/// One flow as `transport client -> server:port protocol sni`.
fn line(r: &FlowRecord) -> String {
    let sni = r
        .tls
        .as_ref()
        .and_then(|t| t.sni.clone())
        .unwrap_or_default();
    format!(
        "{} {} -> {} {} {sni}",
        r.key.transport.as_str(),
        r.key.client.ip(),
        r.key.server,
        r.protocol
    )
    .trim_end()
    .to_owned()
}

/// Run a capture through the pipeline: its flows (sorted lines) and the reader's counters.
fn run(path: &Path) -> (Vec<String>, Stats) {
    let mut engine = Engine::new(&Config::default());
    let mut src = PcapSource::open(path).unwrap();
    let mut records = Vec::new();
    while let Some(seg) = src.next_segment().expect("reads to the end") {
        engine.process(&seg, &mut records);
    }
    engine.finish(&mut records);
    let mut lines: Vec<String> = records.iter().map(line).collect();
    lines.sort();
    let stats = src.stats();
    assert_eq!(stats.packets, stats.segments + stats.skipped.total());
    assert_eq!(stats.skipped.get(Skip::UnsupportedLinktype), 0);
    (lines, stats)
}

/// Checks the link type, that every packet became a segment, and the flows.
fn check(path: PathBuf, linktype: &[u32], packets: u64, flows: &[&str]) {
    assert_eq!(
        linktypes(&path),
        linktype.iter().copied().collect(),
        "{}",
        path.display()
    );
    let (lines, stats) = run(&path);
    assert_eq!(stats.packets, packets, "{}", path.display());
    assert_eq!(stats.skipped.total(), 0, "{}: {:?}", path.display(), stats);
    let mut want: Vec<String> = flows.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    assert_eq!(lines, want, "{}", path.display());
}

fn local(name: &str) -> PathBuf {
    corpus(&format!("local/linktypes/{name}"))
}

/// The lab's three flows: HTTP over IPv4 and IPv6, TLS 1.3 with SNI.
const LAB: [&str; 3] = [
    "tcp 10.244.44.1 -> 10.244.44.2:24480 http",
    "tcp fd44::1 -> [fd44::2]:24480 http",
    "tcp 10.244.44.1 -> 10.244.44.2:24443 tls lk.test",
];

/// The local captures have ephemeral client ports; the lines above have none.
fn lab_lines(path: PathBuf, linktype: u32, packets: u64, flows: &[&str]) {
    assert_eq!(linktypes(&path), BTreeSet::from([linktype]));
    let (lines, stats) = run(&path);
    assert_eq!(stats.packets, packets, "{}", path.display());
    assert_eq!(stats.skipped.total(), 0, "{stats:?}");
    let mut want: Vec<&str> = flows.to_vec();
    want.sort_unstable();
    assert_eq!(lines, want, "{}", path.display());
}

#[test]
fn linux_cooked_v1_recorded_with_tcpdump_any() {
    lab_lines(local("sll.pcap"), 113, 43, &LAB);
}

#[test]
fn linux_cooked_v2_recorded_with_tcpdump_any() {
    lab_lines(local("sll2.pcap"), 276, 42, &LAB);
}

#[test]
fn nflog_recorded_from_an_iptables_rule() {
    lab_lines(local("nflog.pcap"), 239, 35, &LAB);
}

#[test]
fn raw_ip_recorded_on_a_tun_device() {
    lab_lines(
        local("raw.pcap"),
        101,
        32,
        &[
            "tcp 10.244.45.1 -> 10.244.45.2:24480 http",
            "tcp 10.244.45.1 -> 10.244.45.2:24443 tls lk.test",
        ],
    );
}

#[test]
fn linux_cooked_v1_and_v2_from_the_corpus() {
    check(
        corpus("zeek/Traces/tls/openjdk-25.0.2-zeek.org.pcap"),
        &[276],
        6,
        &["tcp 192.168.64.6 -> 192.0.78.150:443 tls zeek.org"],
    );
    let path = corpus("ndpi/tests/cfgs/default/pcap/http2.pcapng");
    assert_eq!(linktypes(&path), BTreeSet::from([113]));
    let (lines, _) = run(&path);
    assert!(lines.iter().any(|l| l.ends_with(" http2")), "{lines:?}");
}

#[test]
fn raw_ip_from_the_corpus() {
    check(
        corpus("zeek/Traces/tls/ocsp-empty-responderid.pcap"),
        &[228],
        7,
        &["tcp 10.0.0.1 -> 10.0.0.2:80 http"],
    );
    let path = corpus("zeek/Traces/tls/ml-dsa-44-cert.pcap");
    assert_eq!(linktypes(&path), BTreeSet::from([101]));
    let (lines, stats) = run(&path);
    assert_eq!(stats.skipped.total(), 0);
    assert!(lines.iter().any(|l| l.contains(" tls")), "{lines:?}");
}

#[test]
fn bsd_loopback_null_from_the_corpus() {
    // illustrated-tls13: a TLS 1.3 handshake on macOS's lo0 (little-endian AF_INET).
    let path = corpus("illustrated/illustrated-tls13/captures/capture.pcap");
    assert_eq!(linktypes(&path), BTreeSet::from([0]));
    let (lines, stats) = run(&path);
    assert_eq!(stats.skipped.total(), 0, "{stats:?}");
    assert_eq!(
        lines,
        ["tcp 127.0.0.1 -> 127.0.0.1:8400 tls example.ulfheim.net"]
    );
}

#[test]
fn ppp_from_the_corpus() {
    // One QUIC Initial over PPP (nDPI's dlt_ppp.pcap): before PPP was read it was skipped
    // as an unsupported link type and the flow did not exist.
    let path = corpus("ndpi/tests/cfgs/default/pcap/dlt_ppp.pcap");
    assert_eq!(linktypes(&path), BTreeSet::from([9]));
    let (lines, stats) = run(&path);
    assert_eq!((stats.packets, stats.segments), (1, 1));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("udp 193.167.0.252 -> 193.167.100.100:443 "),
        "{lines:?}"
    );
}

#[test]
fn pppoe_session_from_the_corpus() {
    // Arkime's pppoe.pcap: Ethernet type 0x8864 session frames around an SSLv3 handshake.
    check(
        corpus("arkime/tests/pcap/pppoe.pcap"),
        &[1],
        10,
        &["tcp 172.202.246.57 -> 64.12.189.217:443 tls"],
    );
}

#[test]
fn pcapng_with_interfaces_of_several_link_types() {
    // Zeek's LDAP trace: interfaces of link types 1, 113 and 274 (ETHERNET_MPACKET) in one
    // section; the packets are on an Ethernet one, VLAN-tagged IPv6.
    check(
        corpus("zeek/Traces/ldap/gap-data-missing.pcapng"),
        &[1, 113, 274],
        18,
        &["tcp 2a00:6020:ad0b:8381:fd70:e2f9:f031:9dc4 -> [2a00:6020:ad0b:8380::10]:389 ldap"],
    );
}

#[test]
fn an_unsupported_link_type_is_named_and_exits_3_after_the_other_inputs() {
    // The recorded SLL capture with its header's link type changed to 147 (USER0, a type
    // private to whoever wrote the file): nothing in it can be decoded. A second, good input
    // on the same command line is still analysed.
    let mut bytes = std::fs::read(local("sll.pcap")).unwrap();
    bytes[20..24].copy_from_slice(&147u32.to_le_bytes());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let bad = dir.join("linktype-user0.pcap");
    std::fs::write(&bad, &bytes).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_plainsight"))
        .args(["pcap", "--format", "json"])
        .arg(&bad)
        .arg(local("nflog.pcap"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(
            "link type 147 (USER0) is not supported: 43 packets not decoded, the first at byte offset 24"
        ),
        "{err}"
    );
    assert!(err.contains("unsupported_linktype=43"), "{err}");
    let events = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        events.lines().count(),
        3,
        "the NFLOG capture's flows: {events}"
    );
}

/// What tshark 4.0.17 says of one 802.11 frame (`peers/tshark-4.0.17/….wlan.tsv`), mapped to
/// the reason a monitor of IP traffic must give it: IEEE 802.11-2020 §9.2.4.1 (Frame Control:
/// protocol version 0, type 2 = data, subtypes with bit 2 set carry no frame body, the
/// Protected Frame bit), RFC 1042 (LLC/SNAP carries the EtherType).
fn tshark_reason(cols: &[&str]) -> Option<Skip> {
    let num = |s: &str| -> Option<u32> {
        match s.strip_prefix("0x") {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => s.parse().ok(),
        }
    };
    let (version, kind, subtype) = (num(cols[1]), num(cols[2]), num(cols[3]));
    if version != Some(0) || kind.is_none() {
        return Some(Skip::Malformed);
    }
    if kind != Some(2) || subtype.is_some_and(|s| s & 4 != 0) {
        return Some(Skip::NonIp);
    }
    if cols[4] == "1" {
        return Some(Skip::Protected);
    }
    match cols[5] {
        "0x0800" | "0x86dd" => None,
        _ => Some(Skip::NonIp),
    }
}

/// Runs an 802.11 capture and checks, reason by reason, that every frame was skipped or
/// decoded as tshark's dissection of the same file says it should be.
fn wlan_agrees_with_tshark(rel: &str, linktype: u32, frames: u64) -> Stats {
    let path = corpus(rel);
    assert_eq!(linktypes(&path), BTreeSet::from([linktype]), "{rel}");
    let (_, stats) = run(&path);
    let tsv = corpus(&format!(
        "peers/tshark-4.0.17/{}.wlan.tsv",
        rel.trim_end_matches(".gz")
    ));
    let tsv = std::fs::read_to_string(&tsv).unwrap();
    let mut want = std::collections::BTreeMap::<&str, u64>::new();
    let mut rows = 0;
    for row in tsv.lines().skip(1) {
        let mut cols: Vec<&str> = row.split('\t').collect();
        cols.resize(6, "");
        rows += 1;
        let key = tshark_reason(&cols).map_or("segment", Skip::as_str);
        *want.entry(key).or_default() += 1;
    }
    let mut got = std::collections::BTreeMap::<&str, u64>::new();
    for (reason, n) in stats.skipped.iter().filter(|(_, n)| *n > 0) {
        got.insert(reason.as_str(), n);
    }
    if stats.segments > 0 {
        got.insert("segment", stats.segments);
    }
    assert_eq!((stats.packets, rows), (frames, frames), "{rel}");
    assert_eq!(got, want, "{rel}: plainsight (left) and tshark (right)");
    stats
}

// Real 802.11 captures from two public test suites (tests/corpus/README.md, "Link-type
// captures"). None carries unencrypted IP: a monitor-mode capture of a protected network
// shows data frames encrypted, and the suites have no open-network capture. They prove the
// radiotap and 802.11 header walk (extended presence bitmaps, QoS, null data, the
// Protected bit, invalid versions) against tshark; 802.11 data frames carrying IP, a real
// capture of them, are in nDPI's `capwap_data.pcapng` (CAPWAP from a Wi-Fi access point),
// checked by `pcap_corpus.rs`.

#[test]
fn radiotap_wpa2_handshake_and_traffic_agrees_with_tshark() {
    // Wireshark's wpa-Induction: beacons, probes, ACKs and RTS/CTS, the EAPOL 4-way
    // handshake (LLC/SNAP, EtherType 0x888e) and 280 CCMP-protected data frames; 10 frames
    // with protocol versions 2 and 3 (received corrupted) are malformed.
    let stats = wlan_agrees_with_tshark("wireshark/test/captures/wpa-Induction.pcap.gz", 127, 1093);
    assert_eq!(
        (
            stats.skipped.get(Skip::Protected),
            stats.skipped.get(Skip::Malformed)
        ),
        (280, 10)
    );
}

#[test]
fn radiotap_qos_data_of_an_eap_tls_login_agrees_with_tshark() {
    // Wireshark's wpa-eap-tls: QoS data frames (subtype 8, a 2-byte QoS field before the
    // LLC header) carrying the 802.1X EAP-TLS exchange, then protected traffic.
    let stats = wlan_agrees_with_tshark("wireshark/test/captures/wpa-eap-tls.pcap.gz", 127, 86);
    assert_eq!(stats.skipped.get(Skip::NonIp), 25);
}

#[test]
fn radiotap_extended_presence_bitmaps_agree_with_tshark() {
    // tcpdump's 802.11_exthdr: radiotap headers of 83 to 93 bytes with chained presence
    // words (bit 31) and vendor namespaces; management, control and null-data frames.
    wlan_agrees_with_tshark("tcpdump/tests/ieee802.11_exthdr.pcap", 127, 26);
    // 802.11_rx-stbc: protected QoS data frames behind a radiotap MCS field.
    wlan_agrees_with_tshark("tcpdump/tests/ieee802.11_rx-stbc.pcap", 127, 3);
}

#[test]
fn damaged_80211_frames_are_counted_not_fatal() {
    // tcpdump's regression captures for out-of-bounds reads: truncated information
    // elements (link type 105, no radiotap) and frames with invalid versions behind
    // radiotap. Each is counted under a reason and the run goes on.
    wlan_agrees_with_tshark("tcpdump/tests/ieee802.11_tim_ie_oobr.pcap", 105, 4);
    wlan_agrees_with_tshark("tcpdump/tests/oobr_parse_elements.pcap", 105, 1);
    wlan_agrees_with_tshark("tcpdump/tests/ieee802.11_meshhdr-oobr.pcap", 127, 1);
    wlan_agrees_with_tshark("tcpdump/tests/ieee802.11_rates_oobr.pcap", 127, 1);
}

#[test]
fn ppp_with_ipv4_and_mpls_from_tcpdump_tests() {
    // tcpdump's lspping-fec-ldp: a router's PPP link (link type 9, address and control
    // bytes) with PPP protocols 0x0021 (IPv4) and 0x0281 (MPLS unicast, RFC 3032 labels
    // before IPv4). The four flows are those of tshark's `-z conv,tcp -z conv,udp`.
    check(
        corpus("tcpdump/tests/lspping-fec-ldp.pcap"),
        &[9],
        13,
        &[
            "tcp 12.4.4.4 -> 12.8.8.8:179 unknown_binary",
            "tcp 12.4.4.4 -> 12.1.1.1:179 unknown_binary",
            "udp 12.4.4.4 -> 127.0.0.1:3503 unknown_binary",
            "udp 10.20.0.1 -> 12.4.4.4:4786 unknown_binary",
        ],
    );
}
