//! `plainsight pcap` on a QUIC capture recorded here with real quinn peers
//! (`tests/corpus/local/quic/README.md`): one ClientHello in one Initial packet, one in
//! three Initial packets sent as a single GSO datagram. Expected values are tshark's
//! reading of the same file (the README lists them).

use std::process::Command;

#[path = "common/corpus.rs"]
mod corpus_path;

#[test]
fn quinn_lab_capture_gives_both_quic_handshakes() {
    let file = corpus_path::corpus_file("local/quic/quinn-lab.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_plainsight"))
        .args(["pcap", "--format", "json", "--all-flows", "--no-summary"])
        .arg(&file)
        .output()
        .expect("run plainsight pcap");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON event"))
        .collect();
    assert_eq!(events.len(), 2, "{events:#?}");
    let mut ja4 = Vec::new();
    for e in &events {
        let t = &e["tls"];
        assert_eq!(e["protocol"], "quic", "{e}");
        assert_eq!(e["transport"], "udp", "{e}");
        assert_eq!(e["encrypted"], true, "{e}");
        assert_eq!(e["quic"]["version"], "1", "{e}");
        assert_eq!(t["sni"], "quic.lab.test", "{e}");
        assert_eq!(t["version"], "TLS 1.3", "{e}");
        assert_eq!(t["cipher"], "TLS_AES_256_GCM_SHA384", "{e}");
        assert_eq!(t["group_selected"], "x25519", "{e}");
        assert_eq!(t["established"], true, "{e}");
        let alpn = t["alpn"].as_array().expect("alpn list");
        let want = if e["src_port"] == 51316 { 41 } else { 1 };
        assert_eq!(alpn.len(), want, "{e}");
        assert_eq!(alpn[0], "h3");
        // q: QUIC; 13: TLS 1.3; d: SNI; 03 ciphers; 11 extensions; h3. The cipher hash is
        // that of 1301,1302,1303, as in FoxIO's QUIC snapshots.
        let j = t["ja4"].as_str().expect("ja4").to_owned();
        assert!(j.starts_with("q13d0311h3_55b375c5d22e_"), "{j}");
        ja4.push(j);
    }
    // rustls shuffles its extensions per connection: JA4 sorts them, so both agree.
    assert_eq!(ja4[0], ja4[1]);
    assert_ne!(events[0]["tls"]["ja3"], events[1]["tls"]["ja3"]);
}
