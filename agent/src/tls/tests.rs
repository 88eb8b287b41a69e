//! Session tests over real bytes.
//!
//! Fixtures under `agent/tests/fixtures/tls/` are both directions of one TCP connection,
//! extracted from the public corpus (`tests/corpus/`, see its README) with
//! `tshark -z follow,tcp,raw` (`ftps_hrr_cert_request` from a lab capture of
//! tests/tests/servers.rs instead). Expected fingerprints come from the corpus' peer outputs:
//! JA3/JA3S from tshark 4.0.17, JA4 from FoxIO's snapshots (or the spec where FoxIO's tool
//! and the spec disagree, as noted per test).

use std::collections::BTreeSet;

use super::*;
use crate::detect::Severity;
use crate::time::Timestamp;

macro_rules! fixture {
    ($name:literal) => {
        (
            &include_bytes!(concat!("../../tests/fixtures/tls/", $name, ".c2s.bin"))[..],
            &include_bytes!(concat!("../../tests/fixtures/tls/", $name, ".s2c.bin"))[..],
        )
    };
}

#[path = "../../tests/common/corpus.rs"]
mod corpus_path;

/// Read a file of the corpus at test time; fail loudly when it is missing.
fn corpus(rel: &str) -> Vec<u8> {
    let path = corpus_path::corpus_file(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("corpus file {}: {e}", path.display()))
}

/// Feed both directions with growing prefixes, `step` bytes at a time, alternating the way
/// segments would interleave on a real connection.
fn run_chunked(c2s: &[u8], s2c: &[u8], step: usize) -> Session {
    let mut s = Session::new();
    let (mut a, mut b) = (0, 0);
    while a < c2s.len() || b < s2c.len() {
        a = (a + step).min(c2s.len());
        s.feed(Direction::ToServer, &c2s[..a]);
        b = (b + step).min(s2c.len());
        s.feed(Direction::ToClient, &s2c[..b]);
    }
    s
}

/// Run the flow with several segmentations (and both whole-direction orders) and check that
/// they all agree; return the whole-flow session.
fn run(c2s: &[u8], s2c: &[u8]) -> Session {
    let whole = run_chunked(c2s, s2c, usize::MAX);
    let want = serde_json::to_string(whole.info()).expect("serialise");
    let mut server_first = Session::new();
    server_first.feed(Direction::ToClient, s2c);
    server_first.feed(Direction::ToServer, c2s);
    let mut variants = vec![("server first", server_first)];
    for step in [1usize, 5, 100, 1448] {
        variants.push(("chunked", run_chunked(c2s, s2c, step)));
    }
    for (what, s) in variants {
        let got = serde_json::to_string(s.info()).expect("serialise");
        assert_eq!(got, want, "{what} feeding disagrees");
    }
    whole
}

fn ids(s: &Session, now: Timestamp) -> BTreeSet<&'static str> {
    s.findings(now).into_iter().map(|f| f.id).collect()
}

fn finding(s: &Session, now: Timestamp, id: &str) -> Finding {
    s.findings(now)
        .into_iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no {id} in {:?}", ids(s, now)))
}

/// 2020-01-01, a "now" inside most corpus certificates' lifetimes is not needed: tests that
/// check dates pick their own.
const T2020: Timestamp = Timestamp(1_577_836_800 * Timestamp::NANOS_PER_SEC);

#[test]
fn chrome_kyber_grease_ech() {
    let (c, s) = fixture!("chrome_kyber");
    let sess = run(c, s);
    let i = sess.info();
    // tshark 4.0.17 (peers/…/chrome-1250-tls-x25519-kyber.pcap.tsv).
    assert_eq!(i.ja3.as_deref(), Some("9d33d8206d4fec4c8b1423c728f4cd3c"));
    assert_eq!(i.ja3s.as_deref(), Some("eb1d94daa7e0344597e756a1fb6e7054"));
    // Suricata 7.0.10 peer (FoxIO has no snapshot for this capture).
    assert_eq!(
        i.ja4.as_deref(),
        Some("t13d1516h2_8daaf6152771_02713d6af862")
    );
    assert_eq!(i.version.as_deref(), Some("TLS 1.3"));
    assert_eq!(i.client_versions, ["TLS 1.3", "TLS 1.2"]);
    assert_eq!(i.cipher.as_deref(), Some("TLS_AES_128_GCM_SHA256"));
    assert_eq!(i.sni.as_deref(), Some("lh3.google.com"));
    assert_eq!(i.alpn, ["h2", "http/1.1"]);
    assert_eq!(
        i.groups,
        ["X25519Kyber768Draft00", "x25519", "secp256r1", "secp384r1"]
    );
    assert_eq!(i.group_selected.as_deref(), Some("X25519Kyber768Draft00"));
    assert!(i.established);
    assert!(!i.resumed);
    assert!(i.cert.is_none(), "TLS 1.3 certificates are encrypted");
    let hs = sess.handshake();
    let ch = hs.client_hello.as_ref().expect("client hello");
    assert!(ch.ech);
    assert!(ch.key_share_groups.contains(&0x6399));
    assert!(sess.done());
    let found = ids(&sess, T2020);
    assert!(found.is_empty(), "modern Chrome to Google: {found:?}");
}

#[test]
fn non_ascii_alpn_follows_spec() {
    let (c, s) = fixture!("nonascii_alpn");
    let i = run(c, s).info().clone();
    assert_eq!(i.ja3.as_deref(), Some("1c258ebef8eee2dfa3df6d8d07285af9"));
    assert_eq!(i.ja3s.as_deref(), Some("eb1d94daa7e0344597e756a1fb6e7054"));
    // FoxIO's snapshot says t13d151699_…; the spec's hex rule (our choice) gives `bd` for the
    // first ALPN value 0xBA 0xAD. The hashes are FoxIO's.
    assert_eq!(
        i.ja4.as_deref(),
        Some("t13d1516bd_8daaf6152771_e5627efa2ab1")
    );
    assert_eq!(i.sni.as_deref(), Some("clientservices.googleapis.com"));
}

#[test]
fn tls10_no_extensions_left_after_sni_alpn() {
    let (c, s) = fixture!("tls10_github");
    let sess = run(c, s);
    let i = sess.info();
    assert_eq!(
        i.ja4.as_deref(),
        Some("t10d230100_6a57a6f57151_000000000000")
    );
    assert_eq!(i.ja3.as_deref(), Some("06a92bf69b367389d2feb0d70501ddfe"));
    assert_eq!(i.ja3s.as_deref(), Some("d2e6f7ef558ea8036c7e21b163b2d1af"));
    assert_eq!(i.version.as_deref(), Some("TLS 1.0"));
    assert_eq!(i.cipher.as_deref(), Some("TLS_RSA_WITH_RC4_128_SHA"));
    assert!(i.established);
    let cert = i.cert.as_ref().expect("certificate");
    assert!(cert.san.iter().any(|n| n == "github.com"), "{:?}", cert.san);
    let now = T2020;
    let f = finding(&sess, now, "tls.version.deprecated");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.evidence_text("version").as_deref(), Some("TLS 1.0"));
    let f = finding(&sess, now, "tls.cipher.weak");
    assert_eq!(f.evidence_text("reason").as_deref(), Some("RC4"));
    let found = ids(&sess, now);
    for id in [
        "tls.cipher.no_forward_secrecy",
        "tls.client.max_version_low",
        "tls.client.weak_offered",
        "tls.cert.weak_signature",
    ] {
        assert!(found.contains(id), "{id} missing from {found:?}");
    }
    // The server acknowledged renegotiation_info (0xff01) in its ServerHello.
    assert!(!found.contains("tls.renegotiation.insecure"));
    assert!(!found.contains("tls.cipher.cbc"));
    assert!(!found.contains("tls.sni.missing"));
}

#[test]
fn tls10_without_signature_algorithms() {
    let (c, s) = fixture!("kakao_tls10");
    let sess = run(c, s);
    let i = sess.info();
    // Spec form (FoxIO's rules; nDPI agrees on the hash): no trailing `_` without sig algs.
    assert_eq!(
        i.ja4.as_deref(),
        Some("t10i120300_b275ccc1cd51_a875e5012fde")
    );
    assert_eq!(i.ja3.as_deref(), Some("4b79ae67eb3b2cf1c75e68ea0100ca1b"));
    assert_eq!(i.ja3s.as_deref(), Some("4ea82b75038dd27e8a1cb69d8b839b26"));
    assert_eq!(i.cipher.as_deref(), Some("TLS_RSA_WITH_AES_128_CBC_SHA"));
    assert_eq!(i.sni, None);
    assert!(sess.handshake().new_session_ticket);
    let f = finding(&sess, T2020, "tls.cipher.no_forward_secrecy");
    assert_eq!(f.evidence_text("key_exchange").as_deref(), Some("RSA"));
    let found = ids(&sess, T2020);
    for id in [
        "tls.sni.missing",
        "tls.cipher.cbc",
        "tls.cipher.no_forward_secrecy",
        "tls.session_ticket",
    ] {
        assert!(found.contains(id), "{id} missing from {found:?}");
    }
}

#[test]
fn firefox_hello_only() {
    let (c, s) = fixture!("firefox_tls12");
    let sess = run(c, s);
    let i = sess.info();
    assert_eq!(
        i.ja4.as_deref(),
        Some("t13d1715h2_5b57614c22b0_3d5424432f57")
    );
    assert_eq!(i.ja3.as_deref(), Some("579ccef312d18482fc42e2b822ca2430"));
    assert_eq!(i.version, None);
    assert!(!i.established);
    assert!(i.groups.iter().any(|g| g == "ffdhe2048"));
    assert!(!sess.done());
    // No close seen: no failure claimed.
    assert!(!ids(&sess, T2020).contains("tls.handshake.failure"));
}

#[test]
fn badcurveball_alert_and_cert() {
    let (c, s) = fixture!("badcurveball");
    let sess = run(c, s);
    let i = sess.info();
    assert_eq!(
        i.ja4.as_deref(),
        Some("t13d1615h2_46e7e9700bed_45f260be83e2")
    );
    assert_eq!(i.ja3.as_deref(), Some("66918128f1b9b03303d77c6f2eefd128"));
    assert_eq!(i.ja3s.as_deref(), Some("2d1eb5817ece335c24904f516ad5da12"));
    assert_eq!(i.version.as_deref(), Some("TLS 1.2"));
    assert_eq!(i.alert.as_deref(), Some("certificate_unknown"));
    assert!(!i.established);
    assert!(i.cert.is_some());
    assert!(sess.done());
    let f = finding(&sess, T2020, "tls.handshake.failure");
    assert_eq!(
        f.evidence_text("reason").as_deref(),
        Some("certificate_unknown")
    );
    assert_eq!(f.evidence_text("sent_by").as_deref(), Some("client"));
    // The client offered TLS 1.3, the server picked 1.2.
    assert!(ids(&sess, T2020).contains("tls.downgrade.version"));
}

#[test]
fn sslv2_connection() {
    let (c, s) = fixture!("sslv2");
    let sess = run(c, s);
    let i = sess.info();
    assert_eq!(i.version.as_deref(), Some("SSL 2.0"));
    assert_eq!(i.client_versions, ["SSL 2.0"]);
    assert_eq!(i.ja3, None);
    assert!(i.cipher.is_some(), "CLIENT-MASTER-KEY names the cipher");
    assert!(i.established);
    let f = finding(&sess, T2020, "tls.version.deprecated");
    assert_eq!(f.severity, Severity::Critical);
    let found = ids(&sess, T2020);
    assert!(found.contains("tls.cipher.weak"), "{found:?}");
    assert!(found.contains("tls.client.max_version_low"));
    assert!(
        !found.contains("tls.sni.missing"),
        "SSLv2 has no SNI to send"
    );
}

#[test]
fn sslv2_compatible_hello_then_tls10() {
    let (c, s) = fixture!("sslv2_compat");
    let sess = run(c, s);
    let i = sess.info();
    assert!(sess
        .handshake()
        .client_hello
        .as_ref()
        .is_some_and(|c| c.sslv2_record));
    assert_eq!(i.client_versions, ["TLS 1.0"]);
    assert_eq!(i.version.as_deref(), Some("TLS 1.0"));
    assert_eq!(i.cipher.as_deref(), Some("TLS_RSA_WITH_RC4_128_MD5"));
    assert_eq!(i.ja3s.as_deref(), Some("53611273a714cb4789c8222932efd5a7"));
    assert!(i.established);
    assert!(i.cert.is_some());
}

#[test]
fn heartbleed_request() {
    let (c, s) = fixture!("heartbleed");
    let sess = run(c, s);
    let i = sess.info();
    assert_eq!(i.ja3.as_deref(), Some("0fbff214b79f536d55d3d39fb31f4d8d"));
    assert_eq!(i.ja3s.as_deref(), Some("a95ca7eab4d47d051a5cd4fb7b6005dc"));
    // payload_length 16365 in a 16368-byte record: no room for the 16 bytes of padding.
    let f = finding(&sess, T2020, "tls.heartbeat.heartbleed");
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.evidence_text("payload_length").as_deref(), Some("16365"));
    assert_eq!(f.evidence_text("record_length").as_deref(), Some("16368"));
    assert_eq!(f.evidence_text("sent_by").as_deref(), Some("client"));
    assert!(ids(&sess, T2020).contains("tls.heartbeat.enabled"));
}

#[test]
fn protocol_version_alert_with_fallback_scsv() {
    let (c, s) = fixture!("fallback_alert");
    let sess = run(c, s);
    let i = sess.info();
    assert_eq!(i.ja3.as_deref(), Some("d78489b860c8bf7838a6ff0b4d131541"));
    assert!(i.fallback_scsv);
    assert_eq!(i.alert.as_deref(), Some("protocol_version"));
    let found = ids(&sess, T2020);
    assert!(found.contains("tls.downgrade.fallback_scsv"), "{found:?}");
    let f = finding(&sess, T2020, "tls.handshake.failure");
    assert_eq!(f.evidence_text("sent_by").as_deref(), Some("server"));
}

#[test]
fn handshake_failure_alert() {
    let (c, s) = fixture!("hs_failure");
    let sess = run(c, s);
    assert_eq!(sess.info().alert.as_deref(), Some("handshake_failure"));
    assert_eq!(
        sess.info().ja3.as_deref(),
        Some("62bd27c43a9a4d7fcbc45d8c9e7e04dd")
    );
    let f = finding(&sess, T2020, "tls.handshake.failure");
    assert_eq!(
        f.evidence_text("reason").as_deref(),
        Some("handshake_failure")
    );
    assert!(sess.done());
}

#[test]
fn reset_after_client_hello_is_a_failure() {
    let (c, _) = fixture!("firefox_tls12");
    let mut sess = Session::new();
    sess.feed(Direction::ToServer, c);
    sess.on_close(Close::Rst(Direction::ToClient));
    let f = finding(&sess, T2020, "tls.handshake.failure");
    assert_eq!(
        f.evidence_text("reason").as_deref(),
        Some("reset after ClientHello")
    );
    assert_eq!(f.evidence_text("sent_by").as_deref(), Some("server"));
    assert!(sess.done());
}

#[test]
fn hello_retry_request_flow() {
    // zeek/Traces/tls/hrr.pcap: HRR, compat CCS, second ClientHello, real ServerHello.
    let (c, s) = fixture!("hrr");
    let sess = run(c, s);
    let i = sess.info();
    assert_eq!(i.version.as_deref(), Some("TLS 1.3"));
    assert_eq!(i.cipher.as_deref(), Some("TLS_AES_256_GCM_SHA384"));
    // tshark: the HRR has JA3S 15af977c…, the real ServerHello 907bf3ec…; tshark and
    // Suricata report the HRR's (the first ServerHello-format message), and so do we.
    assert_eq!(i.ja3s.as_deref(), Some("15af977ce25de452b96affa2addb1036"));
    assert_eq!(i.ja3.as_deref(), Some("0f14b679807628ec7f9c02cada3ee941"));
    assert_eq!(i.group_selected.as_deref(), Some("secp256r1"));
    assert!(i.established);
    let hs = sess.handshake();
    assert!(hs.hello_retry_request.is_some());
    assert!(
        hs.client_hello_retry.is_some(),
        "second ClientHello parsed in the clear"
    );
    assert_eq!(
        hs.hello_retry_request
            .as_ref()
            .and_then(|h| h.key_share_group),
        Some(23)
    );
}

#[test]
fn tls13_draft18_short_server_hello() {
    let (c, s) = fixture!("tls13_draft18");
    let sess = run(c, s);
    let i = sess.info();
    assert_eq!(i.ja3s.as_deref(), Some("b8a8031b301aef7618403061e9f33065"));
    assert_eq!(i.version.as_deref(), Some("TLS 1.3"));
    assert_eq!(i.cipher.as_deref(), Some("TLS_AES_128_GCM_SHA256"));
    assert_eq!(i.client_versions[0], "TLS 1.3 draft 18");
    assert!(
        i.group_selected.is_some(),
        "draft key_share (code point 40)"
    );
    assert!(i.established);
}

#[test]
fn tls13_draft19_early_data() {
    let (c, s) = fixture!("tls13_draft19_early_data");
    let sess = run(c, s);
    let i = sess.info();
    assert_eq!(i.ja3s.as_deref(), Some("98608fd44e22395cd5b24412b9b24ba7"));
    assert!(i.resumed, "pre_shared_key accepted");
    assert!(i.established);
    let f = finding(&sess, T2020, "tls.early_data");
    assert_eq!(f.evidence_text("psk_accepted").as_deref(), Some("true"));
}

#[test]
fn tls13_psk_resumption() {
    let (c, s) = fixture!("tls13_psk");
    let i = run(c, s).info().clone();
    assert_eq!(i.version.as_deref(), Some("TLS 1.3"));
    assert_eq!(i.cipher.as_deref(), Some("TLS_CHACHA20_POLY1305_SHA256"));
    assert!(i.resumed && i.established);
}

#[test]
fn tls12_abbreviated_handshake_is_resumed() {
    let (c, s) = fixture!("tls12_resumed");
    let sess = run(c, s);
    let i = sess.info();
    assert_eq!(i.version.as_deref(), Some("TLS 1.2"));
    assert!(i.resumed && i.established);
    assert!(i.cert.is_none());
    assert_eq!(i.cipher.as_deref(), Some("TLS_RSA_WITH_RC4_128_MD5"));
    let f = finding(&sess, T2020, "tls.cipher.weak");
    assert_eq!(f.evidence_text("reason").as_deref(), Some("RC4"));
}

#[test]
fn midstream_capture_reports_nothing_false() {
    // tls_certificate_too_long.pcap starts mid-connection with an encrypted alert record.
    let (c, s) = fixture!("midstream_alert");
    let sess = run(c, s);
    assert_eq!(sess.info().alert, None);
    assert!(sess.findings(T2020).is_empty());
}

#[test]
fn name_mismatch_www_vs_apex() {
    let (c, s) = fixture!("name_mismatch");
    let sess = run(c, s);
    let cert = sess.info().cert.as_ref().expect("cert");
    assert_eq!(cert.san, ["lilawelt.net"]);
    assert_eq!(cert.serial, "38C175340AF8A2D022A32CD075EBD0F6");
    assert_eq!(cert.not_after, "2019-09-26T21:10:38Z");
    let f = finding(&sess, T2020, "tls.cert.name_mismatch");
    assert_eq!(f.evidence_text("sni").as_deref(), Some("www.lilawelt.net"));
    assert_eq!(f.evidence.get("sni_is_ip"), None);
    let f = finding(&sess, T2020, "tls.cert.expired");
    assert_eq!(f.severity, Severity::High);
}

#[test]
fn ip_literal_sni_is_compared_with_ip_sans() {
    let (c, s) = fixture!("teams_ip_sni");
    let sess = run(c, s);
    assert_eq!(sess.info().sni.as_deref(), Some("52.114.250.152"));
    let f = finding(&sess, T2020, "tls.cert.name_mismatch");
    assert_eq!(f.evidence_text("sni_is_ip").as_deref(), Some("true"));
}

#[test]
fn ml_dsa_certificate() {
    let (c, s) = fixture!("mldsa_cert");
    let sess = run(c, s);
    let cert = sess.info().cert.as_ref().expect("cert");
    assert_eq!(cert.key_type, "ML-DSA-44");
    assert_eq!(cert.sig_alg, "ML-DSA-44");
    assert!(cert.self_signed);
    assert!(!ids(&sess, T2020).contains("tls.cert.weak_key"));
}

#[test]
fn generalized_time_and_weak_rsa_key() {
    let (c, s) = fixture!("generalizedtime");
    let sess = run(c, s);
    let cert = sess.info().cert.as_ref().expect("cert");
    assert_eq!(cert.not_after, "2025-09-01T13:33:37Z");
    assert_eq!(cert.serial, "03E8");
    let f = finding(&sess, T2020, "tls.cert.weak_key");
    assert_eq!(f.evidence_text("key_bits").as_deref(), Some("1024"));
    let f = finding(&sess, T2020, "tls.cert.weak_signature");
    assert_eq!(
        f.evidence_text("sig_alg").as_deref(),
        Some("sha1WithRSAEncryption")
    );
    // 2025-08-20: twelve days before notAfter.
    let aug20 = Timestamp(1_755_648_000 * Timestamp::NANOS_PER_SEC);
    let f = finding(&sess, aug20, "tls.cert.expiring");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.evidence_text("days_left").as_deref(), Some("12"));
}

fn illustrated(version: &str, names: &[&str]) -> Vec<u8> {
    names
        .iter()
        .flat_map(|n| {
            corpus(&format!(
                "illustrated/illustrated-{version}/captures/caps/{n}"
            ))
        })
        .collect()
}

#[test]
fn illustrated_tls12_full_flow() {
    let c = illustrated(
        "tls12",
        &[
            "clienthello",
            "clientkeyexchange",
            "clientccs",
            "clientfinished",
            "clientdata",
        ],
    );
    let s = illustrated(
        "tls12",
        &[
            "serverhello",
            "servercert",
            "serverkeyexchange",
            "serverhellodone",
            "serverccs",
            "serverfinished",
            "serverdata",
        ],
    );
    let sess = run(&c, &s);
    let i = sess.info();
    assert_eq!(i.version.as_deref(), Some("TLS 1.2"));
    assert_eq!(
        i.cipher.as_deref(),
        Some("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")
    );
    assert_eq!(i.group_selected.as_deref(), Some("x25519"));
    assert!(i.established);
    assert!(!i.resumed);
    let cert = i.cert.as_ref().expect("certificate");
    assert_eq!(cert.key_type, "RSA");
    assert_eq!(cert.key_bits, Some(2048));
    assert_eq!(cert.sig_alg, "sha256WithRSAEncryption");
    assert!(cert.issuer.contains("Example CA"), "{}", cert.issuer);
    assert!(
        cert.subject.contains("example.ulfheim.net"),
        "{}",
        cert.subject
    );
    assert!(!cert.self_signed);
    assert!(sess.done());
    // In its validity period nothing is wrong with the certificate itself.
    let nb = Timestamp(
        u64::try_from(cert.not_before_unix + 86_400).unwrap_or(0) * Timestamp::NANOS_PER_SEC,
    );
    let found = ids(&sess, nb);
    assert!(found.contains("tls.cipher.cbc"), "{found:?}");
    assert!(
        !found.iter().any(|f| f.starts_with("tls.cert.")),
        "{found:?}"
    );
    // After notAfter: expired.
    let late = Timestamp(
        u64::try_from(cert.not_after_unix + 10 * 86_400).unwrap_or(0) * Timestamp::NANOS_PER_SEC,
    );
    let f = finding(&sess, late, "tls.cert.expired");
    assert_eq!(f.evidence_text("days_expired").as_deref(), Some("10"));
    // Five days before notAfter: expiring, high.
    let soon = Timestamp(
        u64::try_from(cert.not_after_unix - 5 * 86_400).unwrap_or(0) * Timestamp::NANOS_PER_SEC,
    );
    let f = finding(&sess, soon, "tls.cert.expiring");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.evidence_text("days_left").as_deref(), Some("5"));
}

#[test]
fn illustrated_tls13_flow() {
    let c = illustrated(
        "tls13",
        &[
            "clienthello",
            "clientccs",
            "clientencfinished",
            "clientencdata",
        ],
    );
    let s = illustrated(
        "tls13",
        &[
            "serverhello",
            "serverccs",
            "serverencextensions",
            "serverenccert",
            "serverenccertverify",
            "serverencfinished",
        ],
    );
    let sess = run(&c, &s);
    let i = sess.info();
    assert_eq!(i.version.as_deref(), Some("TLS 1.3"));
    assert_eq!(i.cipher.as_deref(), Some("TLS_AES_256_GCM_SHA384"));
    assert_eq!(i.group_selected.as_deref(), Some("x25519"));
    assert_eq!(i.sni.as_deref(), Some("example.ulfheim.net"));
    assert!(i.established);
    assert!(sess.done());
}

#[test]
fn tls13_empty_client_certificate_before_finished_is_established() {
    // Made by tests/tests/servers.rs (vsftpd, Python ftplib, AUTH TLS): the server asks
    // for a client certificate, so the client's first encrypted record is its empty
    // Certificate (8 + 1 + 16 = 25 bytes), then the Finished. Behind a HelloRetryRequest.
    let (c, s) = fixture!("ftps_hrr_cert_request");
    let sess = run(c, s);
    let i = sess.info();
    assert_eq!(i.version.as_deref(), Some("TLS 1.3"));
    assert!(sess.handshake().hello_retry_request.is_some());
    assert!(i.established, "an empty client Certificate is not an alert");
    assert!(sess.done());
}

#[test]
fn tls13_client_alert_instead_of_finished_is_not_established() {
    let mut c = illustrated("tls13", &["clienthello", "clientccs"]);
    // An encrypted alert: 2 bytes + content type + 16-byte tag.
    c.extend_from_slice(&[23, 3, 3, 0, 19]);
    c.extend_from_slice(&[0x42; 19]);
    let s = illustrated(
        "tls13",
        &["serverhello", "serverccs", "serverencextensions"],
    );
    let sess = run(&c, &s);
    assert!(!sess.info().established);
}

/// The illustrated TLS 1.2 server flight behind a client that offered TLS 1.3, with the
/// ServerHello edited by `edit(hello_bytes, session_id_len)`.
fn tls13_client_vs_tls12_server(edit: impl Fn(&mut Vec<u8>, usize)) -> Session {
    let c = illustrated("tls13", &["clienthello"]);
    let mut sh = illustrated("tls12", &["serverhello"]);
    let sid_len = usize::from(sh[43]);
    edit(&mut sh, sid_len);
    let mut s = sh;
    s.extend(illustrated(
        "tls12",
        &["servercert", "serverkeyexchange", "serverhellodone"],
    ));
    run(&c, &s)
}

#[test]
fn downgrade_without_sentinel() {
    let sess = tls13_client_vs_tls12_server(|_, _| {});
    let f = finding(&sess, T2020, "tls.downgrade.version");
    assert_eq!(f.evidence_text("version").as_deref(), Some("TLS 1.2"));
    assert_eq!(
        f.evidence_text("client_max_version").as_deref(),
        Some("TLS 1.3")
    );
    assert!(!ids(&sess, T2020).contains("tls.downgrade.sentinel"));
}

#[test]
fn downgrade_sentinel_in_server_random() {
    let sess = tls13_client_vs_tls12_server(|sh, _| {
        // ServerHello.random is bytes 11..43 of the record; the sentinel is its last 8.
        sh[35..43].copy_from_slice(b"DOWNGRD\x01");
    });
    let f = finding(&sess, T2020, "tls.downgrade.sentinel");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.evidence_text("sentinel").as_deref(), Some("TLS 1.2"));
    assert!(!ids(&sess, T2020).contains("tls.downgrade.version"));
}

#[test]
fn deflate_compression_selected() {
    let sess = tls13_client_vs_tls12_server(|sh, sid| {
        // record(5) hs(4) version(2) random(32) sid_len(1) sid cipher(2) → compression.
        sh[44 + sid + 2] = 1;
    });
    let f = finding(&sess, T2020, "tls.compression");
    assert_eq!(f.evidence_text("method").as_deref(), Some("1"));
}

#[test]
fn inappropriate_fallback_alert() {
    let (c, _) = fixture!("fallback_alert");
    // A fatal inappropriate_fallback alert (RFC 7507 §2) in a TLS 1.0 record.
    let s = [21u8, 3, 1, 0, 2, 2, 86];
    let sess = run(c, &s);
    assert_eq!(sess.info().alert.as_deref(), Some("inappropriate_fallback"));
    let found = ids(&sess, T2020);
    assert!(
        found.contains("tls.downgrade.inappropriate_fallback"),
        "{found:?}"
    );
    assert!(found.contains("tls.downgrade.fallback_scsv"), "{found:?}");
    let f = finding(&sess, T2020, "tls.handshake.failure");
    assert_eq!(
        f.evidence_text("reason").as_deref(),
        Some("inappropriate_fallback")
    );
}

#[test]
fn warning_alert_is_not_a_failure() {
    let (c, _) = fixture!("fallback_alert");
    let s = [21u8, 3, 1, 0, 2, 1, 112]; // warning unrecognized_name
    let sess = run(c, &s);
    assert_eq!(sess.info().alert.as_deref(), Some("unrecognized_name"));
    assert!(!ids(&sess, T2020).contains("tls.handshake.failure"));
    assert!(!sess.done());
}

#[test]
fn leaf_certificate_from_a_cut_chain() {
    // A capture budget that ends inside the chain's last certificate: the leaf still counts.
    let (c, s) = fixture!("tls10_github");
    let full = run(c, s);
    let cut = run(c, &s[..s.len() - 500]);
    let want = full.info().cert.as_ref().expect("full chain");
    let got = cut.info().cert.as_ref().expect("leaf from a partial chain");
    assert_eq!(got, want);
    assert!(cut.handshake().cert_chain_len < full.handshake().cert_chain_len);
    assert!(!cut.handshake().server_hello_done);
}

#[test]
fn inconsistent_certificate_length_is_order_independent() {
    // zeek tls1.2-protocol-violation.pcap: the Certificate message claims 256 bytes while
    // its list claims 3820. Every segmentation must agree (run() checks), and no certificate
    // is read past the message boundary.
    let (c, s) = fixture!("bad_cert_length");
    let sess = run(c, s);
    assert_eq!(sess.info().version.as_deref(), Some("TLS 1.2"));
    assert!(sess.info().cert.is_none());
    assert!(sess.handshake().certificate_seen);
    assert!(
        !sess.info().resumed,
        "a full handshake with a broken certificate"
    );
}

#[test]
fn oversized_handshake_message_is_skipped() {
    // ServerHello, then a CertificateRequest far larger than the reassembly cap, then
    // ServerHelloDone: the parser must skip the big one and still see the last.
    let mut s = illustrated("tls12", &["serverhello"]);
    let big = 3 * MAX_HANDSHAKE_BUFFER;
    let mut msg = vec![handshake::HS_CERTIFICATE_REQUEST, 0, 0, 0];
    msg[1..4].copy_from_slice(&u32::try_from(big).expect("fits").to_be_bytes()[1..]);
    msg.resize(4 + big, 0x5a);
    msg.extend_from_slice(&[handshake::HS_SERVER_HELLO_DONE, 0, 0, 0]);
    for chunk in msg.chunks(16_384) {
        let len = u16::try_from(chunk.len()).expect("record length");
        s.extend_from_slice(&[22, 3, 3]);
        s.extend_from_slice(&len.to_be_bytes());
        s.extend_from_slice(chunk);
    }
    let c = illustrated("tls12", &["clienthello"]);
    let sess = run_chunked(&c, &s, 1448);
    assert!(sess.handshake().server_hello_done);
    assert_eq!(sess.handshake().stopped, [None, None]);
}

#[test]
fn handshake_message_split_over_records() {
    // tls-parser's fixture: one ClientHello in two records.
    let mut c = corpus("tls-parser/assets/tls_record_ch_fragmented_1.bin");
    c.extend(corpus("tls-parser/assets/tls_record_ch_fragmented_2.bin"));
    let sess = run(&c, &[]);
    let ch = sess
        .handshake()
        .client_hello
        .as_ref()
        .expect("reassembled hello");
    assert!(!ch.ciphers.is_empty());
    assert!(sess.info().ja3.is_some());
}

#[test]
fn dhe_client_hello_asset() {
    let c = corpus("tls-parser/assets/client_hello_dhe.bin");
    let sess = run(&c, &[]);
    let ch = sess.handshake().client_hello.as_ref().expect("hello");
    assert!(ch
        .ciphers
        .iter()
        .filter_map(|c| suites::lookup(*c))
        .any(|s| s.kx == suites::Kx::Dhe));
}

#[test]
fn probe_classifies() {
    let (c, s) = fixture!("chrome_kyber");
    assert_eq!(probe(c), Probe::Yes);
    assert_eq!(probe(s), Probe::Yes);
    assert_eq!(probe(&c[..3]), Probe::NeedMore);
    assert_eq!(probe(&c[..5]), Probe::NeedMore);
    assert_eq!(probe(&[]), Probe::NeedMore);
    let (v2, _) = fixture!("sslv2");
    assert_eq!(probe(v2), Probe::Yes);
    assert_eq!(probe(b"GET / HTTP/1.1\r\n"), Probe::No);
    assert_eq!(probe(b"SSH-2.0-OpenSSH"), Probe::No);
    assert_eq!(probe(&[0x16, 0x03, 0x09]), Probe::No);
    let (_, alert) = fixture!("hs_failure");
    assert_eq!(probe(alert), Probe::Yes);
}

/// A tiny deterministic generator, so the fuzz-like tests are reproducible.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

#[test]
fn truncated_and_garbled_input_never_panics() {
    let flows = [
        fixture!("chrome_kyber"),
        fixture!("tls10_github"),
        fixture!("sslv2"),
        fixture!("heartbleed"),
        fixture!("badcurveball"),
        fixture!("kakao_tls10"),
    ];
    let mut rng = Lcg(0x5eed);
    for (c, s) in flows {
        // Every truncation of the client side.
        for cut in 0..c.len().min(700) {
            let mut sess = Session::new();
            sess.feed(Direction::ToServer, &c[..cut]);
            sess.feed(Direction::ToClient, s);
            let _ = sess.findings(T2020);
            let _ = serde_json::to_string(sess.info());
        }
        // Random byte flips, in both directions.
        for _ in 0..300 {
            let mut c2 = c.to_vec();
            let mut s2 = s.to_vec();
            for _ in 0..4 {
                if !c2.is_empty() {
                    let i = (rng.next() as usize) % c2.len();
                    c2[i] = rng.next() as u8;
                }
                if !s2.is_empty() {
                    let i = (rng.next() as usize) % s2.len();
                    s2[i] = rng.next() as u8;
                }
            }
            let sess = run_chunked(&c2, &s2, 1 + (rng.next() as usize) % 700);
            let _ = sess.findings(T2020);
            let _ = sess.done();
        }
    }
    // Pure noise, and noise behind a valid-looking header.
    for n in 0..200 {
        let mut buf: Vec<u8> = (0..n * 7).map(|_| rng.next() as u8).collect();
        let mut sess = Session::new();
        sess.feed(Direction::ToServer, &buf);
        buf.splice(0..0, [22, 3, 1, 0, 200, 1, 0, 0, 196]);
        sess.feed(Direction::ToClient, &buf);
        let _ = sess.findings(T2020);
    }
}

#[test]
fn shrinking_prefix_is_ignored() {
    let (c, s) = fixture!("tls10_github");
    let mut sess = run_chunked(c, s, usize::MAX);
    let before = serde_json::to_string(sess.info()).expect("json");
    sess.feed(Direction::ToServer, &c[..10]);
    sess.feed(Direction::ToClient, &[]);
    assert_eq!(serde_json::to_string(sess.info()).expect("json"), before);
}

#[test]
fn json_shape_is_the_contract() {
    let (c, s) = fixture!("tls10_github");
    let v = serde_json::to_value(run(c, s).info()).expect("json");
    let obj = v.as_object().expect("object");
    for k in [
        "version",
        "client_versions",
        "cipher",
        "sni",
        "alpn",
        "alpn_selected",
        "groups",
        "group_selected",
        "ja3",
        "ja3s",
        "ja4",
        "fallback_scsv",
        "established",
        "resumed",
        "alert",
        "cert",
    ] {
        assert!(obj.contains_key(k), "missing {k}");
    }
    assert!(obj["alpn_selected"].is_null());
    let cert = obj["cert"].as_object().expect("cert object");
    for k in [
        "subject",
        "issuer",
        "serial",
        "not_before",
        "not_after",
        "key_type",
        "key_bits",
        "sig_alg",
        "san",
        "self_signed",
    ] {
        assert!(cert.contains_key(k), "missing cert.{k}");
    }
    assert!(!cert.contains_key("common_names"));
    let empty = serde_json::to_value(Session::new().info()).expect("json");
    assert!(empty["version"].is_null() && empty["cert"].is_null());
}

/// The illustrated TLS 1.3 handshake with the client's first encrypted record replaced by
/// one of `len` bytes, of which only `present` travel (the capture budget may end inside).
fn tls13_client_first_record(len: usize, present: usize) -> Session {
    let mut c = illustrated("tls13", &["clienthello", "clientccs"]);
    c.extend_from_slice(&[23, 3, 3]);
    c.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
    c.extend(std::iter::repeat_n(0x42, present.min(len)));
    let s = illustrated(
        "tls13",
        &["serverhello", "serverccs", "serverencextensions"],
    );
    run(&c, &s)
}

#[test]
fn tls13_client_auth_is_inferred_from_the_client_first_record_length() {
    use super::{ClientAuth, ClientAuthSource};
    let probe = tls13_client_first_record(100, 100);
    // The Finished length follows the suite's hash (RFC 8446 §4.4.4) and AEAD tag.
    let fin = match probe.info().cipher.as_deref() {
        Some("TLS_AES_256_GCM_SHA384") => 4 + 48 + 1 + 16,
        Some("TLS_AES_128_GCM_SHA256" | "TLS_CHACHA20_POLY1305_SHA256") => 4 + 32 + 1 + 16,
        other => panic!("illustrated suite {other:?}"),
    };
    for (len, want) in [
        (fin, ClientAuth::None),
        (8 + 1 + 16, ClientAuth::Requested),
        (fin + 8, ClientAuth::Requested),
        (1106, ClientAuth::Presented),
        (125, ClientAuth::Presented),
        // A padded Finished, or anything between: not guessed.
        (fin + 1, ClientAuth::Unknown),
        (124, ClientAuth::Unknown),
        // An encrypted alert: the client refused the handshake.
        (19, ClientAuth::Unknown),
    ] {
        let sess = tls13_client_first_record(len, len);
        assert_eq!(sess.info().client_auth, want, "first record of {len} bytes");
        assert_eq!(sess.info().client_auth_source, ClientAuthSource::Inferred);
    }
    // The header is enough: a chain past the capture budget still reads as presented.
    let cut = tls13_client_first_record(4000, 10);
    assert_eq!(cut.info().client_auth, ClientAuth::Presented);
    // No client flight yet: unknown.
    let c = illustrated("tls13", &["clienthello"]);
    let s = illustrated("tls13", &["serverhello"]);
    assert_eq!(run(&c, &s).info().client_auth, ClientAuth::Unknown);
}

#[test]
fn tls13_refused_empty_certificate_waits_for_the_server_verdict() {
    let mut c = illustrated("tls13", &["clienthello", "clientccs"]);
    c.extend_from_slice(&[23, 3, 3, 0, 25]);
    c.extend_from_slice(&[0x42; 25]);
    let mut sess = Session::new();
    let s = illustrated(
        "tls13",
        &["serverhello", "serverccs", "serverencextensions"],
    );
    sess.feed(Direction::ToClient, &s);
    sess.feed(Direction::ToServer, &c);
    assert!(sess.info().established);
    assert!(
        !sess.done(),
        "the server's answer to the empty Certificate is still to come"
    );
    // certificate_required: an encrypted alert (2 + 1 + 16 bytes).
    let mut s2 = s.clone();
    s2.extend_from_slice(&[23, 3, 3, 0, 19]);
    s2.extend_from_slice(&[0x42; 19]);
    let mut refused = Session::new();
    refused.feed(Direction::ToClient, &s);
    refused.feed(Direction::ToServer, &c);
    refused.feed(Direction::ToClient, &s2);
    assert_eq!(refused.handshake().client_auth_refused, Some(true));
    assert!(refused.done());
    // A NewSessionTicket-sized record: accepted.
    let mut s3 = s;
    s3.extend_from_slice(&[23, 3, 3, 0, 250]);
    s3.extend_from_slice(&[0x42; 250]);
    let mut accepted = Session::new();
    accepted.feed(Direction::ToClient, &s3[..s3.len() - 255]);
    accepted.feed(Direction::ToServer, &c);
    accepted.feed(Direction::ToClient, &s3);
    assert_eq!(accepted.handshake().client_auth_refused, Some(false));
    assert!(accepted.done());
}
