//! Flows seen mid-stream and protocols behind proxy preambles, on real captures from the
//! public corpus (tests/corpus/), through the whole engine: what issue 14 (scopes 2 and 4)
//! must recognise, flow by flow, with the peers that agree named.

use std::path::PathBuf;

use plainsight::capture::pcap::PcapSource;
use plainsight::config::Config;
use plainsight::engine::{Engine, FlowRecord};

#[path = "common/corpus.rs"]
mod corpus_path;

fn records(rel: &str) -> Vec<FlowRecord> {
    let path: PathBuf = corpus_path::corpus_file(rel);
    let mut engine = Engine::new(&Config::default());
    let mut src = PcapSource::open(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let mut out = Vec::new();
    let _ = src.for_each_segment(|seg| engine.process(seg, &mut out));
    engine.finish(&mut out);
    out
}

/// The record of the TCP flow whose client port is `client_port`.
fn flow(recs: &[FlowRecord], client_port: u16) -> &FlowRecord {
    recs.iter()
        .find(|r| r.key.client.port() == client_port || r.key.server.port() == client_port)
        .unwrap_or_else(|| panic!("no flow with port {client_port}"))
}

#[test]
fn tls_application_data_seen_mid_stream_is_tls_and_encrypted() {
    // ja4/pcap/tls3.pcapng starts inside nine HTTPS connections (no SYN, no hello);
    // contentline-irc-5k-line.pcap holds TLS on port 12345 that Suricata logs as `tls`.
    for (cap, port) in [
        ("ja4/pcap/tls3.pcapng", 63120),
        ("ja4/pcap/ssh2.pcapng", 49430),
        (
            "zeek/Traces/contentline/contentline-irc-5k-line.pcap",
            61556,
        ),
        ("ndpi/tests/cfgs/default/pcap/vk.pcapng", 60436),
    ] {
        let recs = records(cap);
        let r = flow(&recs, port);
        assert_eq!(r.protocol, "tls", "{cap} {port}");
        assert!(r.encrypted, "{cap} {port}");
        assert!(r.midstream, "{cap} {port}");
        let tls = r.tls.as_ref().expect("tls object");
        assert!(
            tls.midstream && tls.version.is_none() && tls.ja4.is_none(),
            "{cap}"
        );
        assert!(
            r.findings.is_empty(),
            "no handshake finding: {cap} {:?}",
            r.findings
        );
        assert!(r.plaintext.is_none(), "{cap} {port}");
    }
}

#[test]
fn flows_seen_from_their_start_are_not_midstream() {
    for cap in [
        "ja4/pcap/tls3.pcapng",
        "ndpi/tests/cfgs/default/pcap/socks.pcap",
    ] {
        for r in records(cap) {
            let from_start = r
                .tls
                .as_ref()
                .is_some_and(|t| !t.client_versions.is_empty())
                || r.proxy.is_some();
            if from_start {
                assert!(!r.midstream, "{cap} {:?}", r.key);
            }
        }
    }
}

#[test]
fn http_behind_socks4_4a_and_5_is_http() {
    // nDPI logs these four as SOCKS carrying "GET / HTTP/1.1"; before, `unknown_text`.
    let recs = records("ndpi/tests/cfgs/default/pcap/socks.pcap");
    for (port, proxy) in [
        (53533, "socks4"),
        (53534, "socks4a"),
        (53535, "socks5"),
        (1637, "socks5"),
    ] {
        let r = flow(&recs, port);
        assert_eq!(r.protocol, "http", "{port}");
        assert_eq!(r.proxy, Some(proxy), "{port}");
        let ids: Vec<_> = r.findings.iter().map(|f| f.id).collect();
        assert!(ids.contains(&"plaintext.http"), "{port}: {ids:?}");
    }
    let recs = records("ndpi/tests/cfgs/default/pcap/shadowsocks.pcap");
    let r = flow(&recs, 37904);
    assert_eq!((r.protocol, r.proxy), ("http", Some("socks5")));
}

#[test]
fn tls_behind_socks_and_connect_is_tls_with_the_proxy_named() {
    // Arkime logs socks4-https as tls (its client's hello is not in the capture);
    // Suricata logs the CONNECT flows as tls.
    let recs = records("arkime/tests/pcap/socks4-https.pcap");
    let r = flow(&recs, 50606);
    assert_eq!((r.protocol, r.proxy), ("tls", Some("socks4a")));
    assert!(r.tls.as_ref().is_some_and(|t| t.cert.is_some()));
    for (cap, port) in [
        ("ja4/pcap/https-connect.pcap", 54723),
        ("ndpi/tests/cfgs/default/pcap/http_connect.pcap", 1714),
        (
            "suricata-verify/tests/http-connect/http-connect-tls/input.pcap",
            60472,
        ),
    ] {
        let recs = records(cap);
        let r = flow(&recs, port);
        assert_eq!(
            (r.protocol, r.proxy),
            ("tls", Some("http_connect")),
            "{cap}"
        );
    }
    let recs = records("zeek/Traces/socks-with-ssl.pcap");
    let r = flow(&recs, 59580);
    assert_eq!(
        (r.protocol, r.proxy, r.encrypted),
        ("tls", Some("socks5"), true)
    );
}

#[test]
fn recorded_tls_and_postgres_seen_mid_stream() {
    // tests/corpus/local/midstream/README.md: recorded after both connections opened.
    let recs = records("local/midstream/tls-postgres-midstream.pcap");
    let tls = flow(&recs, 24301);
    assert_eq!(
        (tls.protocol, tls.encrypted, tls.midstream),
        ("tls", true, true)
    );
    let pg = flow(&recs, 5432);
    assert_eq!(
        (pg.protocol, pg.encrypted, pg.midstream),
        ("postgres", false, true)
    );
    let ids: Vec<_> = pg.findings.iter().map(|f| f.id).collect();
    assert_eq!(ids, vec!["plaintext.postgres"]);
}

#[test]
fn recorded_smtp_behind_socks5_with_a_password() {
    // tests/corpus/local/proxy/README.md: curl through a SOCKS 5 server wanting a password.
    let recs = records("local/proxy/smtp-socks5-auth.pcap");
    let r = flow(&recs, 24302);
    assert_eq!((r.protocol, r.proxy), ("smtp", Some("socks5")));
    let cred = r
        .findings
        .iter()
        .find(|f| f.id == "plaintext.credentials")
        .expect("the SOCKS 5 password is a cleartext credential");
    let text = format!("{:?} {:?}", cred, r.plaintext);
    assert!(text.contains("socks5"), "{text}");
    assert!(
        !text.contains("Sox5-23004"),
        "the password must not be reported"
    );
}
