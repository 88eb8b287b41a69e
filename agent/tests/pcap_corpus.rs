//! The offline reader against real captures from the corpus (`tests/corpus/`).

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use plainsight::capture::pcap::{Format, PcapError, PcapSource, Skip, Stats};
use plainsight::flow::Transport;

#[path = "common/corpus.rs"]
mod corpus_path;

fn corpus(rel: &str) -> PathBuf {
    corpus_path::corpus_file(rel)
}

/// Read a whole capture, returning the stats, the segments' (ts, payload length) and the error.
fn read_all(path: &Path) -> (Stats, Vec<(u64, usize, Transport)>, Option<PcapError>) {
    let mut src = PcapSource::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut segs = Vec::new();
    let res = src.for_each_segment(|s| segs.push((s.ts.0, s.payload.len(), s.transport)));
    (src.stats(), segs, res.err())
}

#[test]
fn ntp_pcap_reads_fully() {
    let (stats, segs, err) = read_all(&corpus("pcap-parser/assets/ntp.pcap"));
    assert!(err.is_none(), "{err:?}");
    assert_eq!(stats.packets, 12, "capinfos says 12 packets");
    assert_eq!(stats.segments, 12);
    assert_eq!(stats.segments, segs.len() as u64);
    assert_eq!(stats.packets, stats.segments + stats.skipped.total());
    assert!(segs.iter().all(|s| s.2 == Transport::Udp), "NTP is UDP");
    // NTP payloads are 48 bytes.
    assert!(segs.iter().all(|s| s.1 == 48), "{segs:?}");
    // Timestamps are non-decreasing in this capture.
    assert!(segs.windows(2).all(|w| w[0].0 <= w[1].0));
}

#[test]
fn pcapng_big_and_little_endian_agree() {
    for name in ["test001", "test016", "test017"] {
        let (s_le, le, e1) = read_all(&corpus(&format!("pcap-parser/assets/{name}-le.pcapng")));
        let (s_be, be, e2) = read_all(&corpus(&format!("pcap-parser/assets/{name}-be.pcapng")));
        assert!(e1.is_none() && e2.is_none(), "{name}: {e1:?} {e2:?}");
        assert_eq!(le, be, "{name}: same packets whichever the byte order");
        assert_eq!(s_le.packets, s_be.packets, "{name}");
        assert_eq!(s_le.skipped, s_be.skipped, "{name}");
    }
}

#[test]
fn wireshark_sample_pcapng() {
    let path = corpus("pcap-parser/assets/wireshark_samples-test.pcapng");
    let mut src = PcapSource::open(&path).expect("open");
    let mut n = 0u64;
    let stats = src.for_each_segment(|_| n += 1).expect("reads fully");
    assert_eq!(src.format(), Format::PcapNg);
    // Ground truth from tshark 4.0: 5898 frames, 3936 match `tcp or udp`; the rest is ARP and
    // LLC (1810, not IP) and IGMP/ICMPv6 (152).
    assert_eq!(stats.packets, 5898);
    assert_eq!(n, 3936);
    assert_eq!(stats.skipped.get(Skip::NonIp), 1810);
    assert_eq!(stats.skipped.get(Skip::OtherL4), 152);
    assert_eq!(stats.packets, stats.segments + stats.skipped.total());
}

#[test]
fn modified_format_pcap() {
    let (stats, _segs, err) = read_all(&corpus("pcap-parser/assets/modified-format.pcap"));
    assert!(err.is_none(), "{err:?}");
    assert!(stats.packets > 0);
}

#[test]
fn truncated_capture_names_offset_after_delivering_earlier_segments() {
    // Cut a good capture in the middle of its last record.
    let bytes = std::fs::read(corpus("pcap-parser/assets/ntp.pcap")).expect("read");
    let (full, full_segs, _) = read_all(&corpus("pcap-parser/assets/ntp.pcap"));
    let cut = bytes.len() - 10;
    let mut src = PcapSource::from_reader(Cursor::new(bytes[..cut].to_vec())).expect("header ok");
    let mut got = 0u64;
    let err = src.for_each_segment(|_| got += 1).expect_err("truncated");
    assert_eq!(
        got,
        full_segs.len() as u64 - 1,
        "all complete records delivered first"
    );
    let off = err.offset().expect("offset");
    assert!(matches!(err, PcapError::Truncated { .. }), "{err:?}");
    assert!(off > 24 && off < cut as u64, "offset {off} inside the file");
    assert!(
        err.to_string().contains(&off.to_string()),
        "message names the offset: {err}"
    );
    assert_eq!(src.stats().segments, full.segments - 1);
}

#[test]
fn corpus_err_files_fail_with_offsets() {
    for name in ["err-eof.bin", "err-buffertoosmall.pcapng"] {
        let path = corpus(&format!("pcap-parser/assets/{name}"));
        match PcapSource::open(&path) {
            Ok(mut src) => {
                let r = src.for_each_segment(|_| {});
                eprintln!("{name}: {r:?} {:?}", src.stats());
                if let Err(e) = r {
                    assert!(e.offset().is_some(), "{name}: {e}");
                }
            }
            Err(e) => {
                eprintln!("{name}: open: {e}");
                assert!(e.offset().is_some(), "{name}: {e}");
            }
        }
    }
}

#[test]
fn gzip_detected_by_magic_not_name() {
    let raw = std::fs::read(corpus("pcap-parser/assets/test016-le.pcapng")).expect("read");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&raw).expect("gz");
    let gz = enc.finish().expect("gz");
    let (_, plain, _) = read_all(&corpus("pcap-parser/assets/test016-le.pcapng"));
    let mut src = PcapSource::from_reader(Cursor::new(gz.clone())).expect("open gz");
    assert!(src.compressed());
    let mut segs = Vec::new();
    src.for_each_segment(|s| segs.push((s.ts.0, s.payload.len(), s.transport)))
        .expect("reads");
    assert_eq!(segs, plain);
    // A truncated gzip stream is an error with an offset (this one is small enough that the
    // first read already hits the cut).
    let mut src = PcapSource::from_reader(Cursor::new(gz[..gz.len() / 2].to_vec()))
        .expect("a cut gzip capture still opens");
    let mut n = 0usize;
    let err = src.for_each_segment(|_| n += 1).expect_err("cut gzip");
    assert!(err.offset().is_some(), "{err}");
    assert!(n < plain.len(), "{n} of {}", plain.len());
}

/// A gzip capture cut in half yields the flows of its first half, as the plain capture
/// cut at the same point does, with the same error kind (exit status 3 in `pcap`).
#[test]
fn gzip_cut_in_half_reads_like_the_plain_capture_cut_there() {
    for rel in [
        "suricata-verify/tests/bug-4877/input.pcap",
        "ja4/pcap/tls12.pcap",
    ] {
        let raw = std::fs::read(corpus(rel)).expect("read");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&raw).expect("gz");
        let gz = enc.finish().expect("gz");
        let cut = &gz[..gz.len() / 2];
        // What decompresses before the cut, read as a plain capture.
        let mut prefix = Vec::new();
        let _ = std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(cut), &mut prefix);
        let mut want = Vec::new();
        if let Ok(mut src) = PcapSource::from_reader(Cursor::new(prefix)) {
            let _ = src.for_each_segment(|s| want.push((s.ts.0, s.payload.len())));
        }
        let mut got = Vec::new();
        let res = PcapSource::from_reader(Cursor::new(cut.to_vec()))
            .and_then(|mut src| src.for_each_segment(|s| got.push((s.ts.0, s.payload.len()))));
        let err = res.expect_err("a cut gzip capture is an input error");
        assert!(err.offset().is_some(), "{rel}: {err}");
        assert_eq!(got, want, "{rel}: segments before the cut");
    }
}

#[test]
fn truncated_big_gzip_delivers_segments_before_the_cut() {
    let raw =
        std::fs::read(corpus("pcap-parser/assets/wireshark_samples-test.pcapng")).expect("read");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&raw).expect("gz");
    let gz = enc.finish().expect("gz");
    let mut src =
        PcapSource::from_reader(Cursor::new(gz[..gz.len() * 3 / 4].to_vec())).expect("open");
    let mut n = 0u64;
    let err = src.for_each_segment(|_| n += 1).expect_err("cut gzip");
    let off = err.offset().expect("offset");
    assert!(n > 10, "segments before the cut were delivered: {n}");
    assert!(off > 0 && off < raw.len() as u64, "{err}");
    assert!(err.to_string().contains("offset"), "{err}");
}

#[test]
fn not_a_capture_is_an_error_at_offset_zero() {
    let err = PcapSource::from_reader(Cursor::new(b"hello world, not a pcap file at all".to_vec()))
        .expect_err("garbage");
    assert_eq!(err.offset(), Some(0), "{err}");
    let err = PcapSource::from_reader(Cursor::new(Vec::new())).expect_err("empty");
    assert_eq!(err.offset(), Some(0), "{err}");
}

#[test]
fn every_indexed_capture_reads_or_fails_with_offset() {
    let index = std::fs::read_to_string(corpus("INDEX.tsv")).expect("INDEX.tsv");
    let mut files = 0;
    let mut failed = Vec::new();
    let mut total = Stats::default();
    for line in index.lines().skip(1) {
        let rel = line.split('\t').next().unwrap_or_default();
        if rel.is_empty() {
            continue;
        }
        let path = corpus(rel);
        files += 1;
        let result = PcapSource::open(&path).and_then(|mut src| {
            let r = src.for_each_segment(|s| {
                assert!(s.payload.len() <= 65535 + 65535);
            });
            let st = src.stats();
            total.packets += st.packets;
            total.segments += st.segments;
            assert_eq!(
                st.packets,
                st.segments + st.skipped.total(),
                "{rel}: every packet accounted"
            );
            r
        });
        if let Err(e) = result {
            assert!(e.offset().is_some(), "{rel}: error without offset: {e}");
            failed.push(format!("{rel}: {e}"));
        }
    }
    eprintln!(
        "{files} captures, {} packets, {} segments, {} failed:",
        total.packets,
        total.segments,
        failed.len()
    );
    for f in &failed {
        eprintln!("  {f}");
    }
    assert!(files > 600, "INDEX.tsv lists {files} captures");
    assert!(total.segments > 10_000);
}

#[test]
fn skip_reasons_have_stable_labels() {
    let labels: Vec<_> = Skip::ALL.iter().map(|s| s.as_str()).collect();
    assert!(labels.contains(&"fragment") && labels.contains(&"non_ip"));
}

/// Segment counts and payload byte totals per transport agree with tshark 4.0
/// (`tcp.len` and `udp.length - 8` summed over frames that are not ICMP errors).
#[test]
fn payload_totals_match_tshark() {
    for (rel, tcp, udp) in [
        (
            "suricata-verify/tests/tls/tls-subjectaltname/input.pcap",
            (2982, 1_369_609),
            (104, 8671),
        ),
        ("ja4/pcap/tls3.pcapng", (386, 248_579), (794, 636_492)),
    ] {
        let mut src = PcapSource::open(&corpus(rel)).expect("open");
        let mut got_tcp = (0u64, 0u64);
        let mut got_udp = (0u64, 0u64);
        src.for_each_segment(|s| {
            let t = match s.transport {
                Transport::Tcp => &mut got_tcp,
                Transport::Udp => &mut got_udp,
            };
            t.0 += 1;
            t.1 += s.payload.len() as u64;
        })
        .expect("reads");
        assert_eq!(got_tcp, tcp, "{rel}: TCP (segments, payload bytes)");
        assert_eq!(got_udp, udp, "{rel}: UDP (datagrams, payload bytes)");
    }
}

/// Every segment's (source address, destination port) of a capture.
fn endpoints(rel: &str) -> Vec<(String, u16)> {
    let path = corpus(rel);
    let mut src = PcapSource::open(&path).unwrap_or_else(|e| panic!("open {rel}: {e}"));
    let mut out = Vec::new();
    let res = src.for_each_segment(|s| out.push((s.src_ip.to_string(), s.dst_port)));
    assert!(res.is_ok(), "{rel}: {res:?}");
    out
}

/// UDP tunnels are unwrapped to the inner flow that carries the TLS handshake (addresses as
/// tshark 4.0.17 dissects them).
#[test]
fn udp_tunnels_yield_the_inner_flows() {
    // VXLAN (RFC 7348), outer UDP 4789: inner 10.10.20.4 -> 157.240.224.35:443.
    let v = endpoints("ndpi/tests/cfgs/default/pcap/vxlan.pcap");
    assert!(v.contains(&("10.10.20.4".to_owned(), 443)), "{v:?}");
    assert!(
        v.iter().all(|(_, port)| *port != 4789),
        "no outer VXLAN segment left"
    );
    // CAPWAP data (RFC 5415) carrying byte-swapped 802.11 data frames: 10.1.3.68 -> :443.
    let c = endpoints("ndpi/tests/cfgs/default/pcap/capwap_data.pcapng");
    assert!(c.contains(&("10.1.3.68".to_owned(), 443)), "{c:?}");
    // GTP-U (3GPP TS 29.281): 192.168.147.177 -> 151.121.193.160:443 inside UDP 2152.
    let g = endpoints("ndpi/tests/cfgs/default/pcap/ja3_lots_of_cipher_suites_2_anon.pcap");
    assert!(g.contains(&("192.168.147.177".to_owned(), 443)), "{g:?}");
    assert!(
        g.iter().all(|(_, port)| *port != 2152),
        "no outer GTP-U segment left"
    );
    // IPv6 in IPv4 (protocol 41) was already unwrapped: the TLS flow's inner IPv6 source.
    let s = endpoints("ndpi/tests/cfgs/default/pcap/6in4tunnel.pcap");
    assert!(
        s.contains(&("2001:470:1f17:13f:3e97:eff:fe73:4dec".to_owned(), 443)),
        "{s:?}"
    );
}
