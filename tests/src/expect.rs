//! What the lab's scenarios (tests/src/lab.rs) must produce, as JSON events: shared by
//! the live-agent test and the offline (pcap) check of the same traffic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use serde_json::Value;

use crate::lab::{
    CLIENT_IP, PORT_HARDENED, PORT_HTTP, PORT_PG, PORT_STRICT, PORT_WEAK, SERVER_IP, SNI_HARDENED,
    SNI_WEAK,
};

/// The findings of the hardened server's flows: only `tls.mtls.absent` (both lab ends are
/// internal and the server asks for no client certificate). A CA-signed ECDSA certificate
/// valid for a year, TLS 1.2/1.3 with ECDHE-AEAD suites only, no tickets.
pub const HARDENED_FINDINGS: &[&str] = &["tls.mtls.absent"];

/// The finding ids of an event.
pub fn ids(e: &Value) -> BTreeSet<String> {
    e["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("event without a findings list: {e}"))
        .iter()
        .map(|v| v.as_str().expect("finding id string").to_owned())
        .collect()
}

pub fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

pub fn by_port(events: &[Value], port: u16) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["dst_port"].as_u64() == Some(u64::from(port)))
        .collect()
}

/// Asserts the events of one run of: hardened curl TLS 1.3 and TLS 1.2, the three weak
/// s_client handshakes, curl plain HTTP, psql, and `failures` failing handshakes.
pub fn assert_lab_events(events: &[Value], failures: usize) {
    assert!(!events.is_empty(), "no events");
    for e in events {
        let ends = set(&[
            e["src_ip"].as_str().unwrap_or("?"),
            e["dst_ip"].as_str().unwrap_or("?"),
        ]);
        assert_eq!(
            ends,
            set(&[CLIENT_IP, SERVER_IP]),
            "a flow outside the lab: {e}"
        );
    }

    // (a) hardened: TLS 1.3 and TLS 1.2, established, no tls.* finding at all.
    let hardened = by_port(events, PORT_HARDENED);
    assert_eq!(hardened.len(), 2, "two hardened flows: {hardened:?}");
    let versions: BTreeSet<_> = hardened
        .iter()
        .map(|e| e["tls"]["version"].as_str().unwrap_or("none").to_owned())
        .collect();
    assert_eq!(versions, set(&["TLS 1.2", "TLS 1.3"]));
    for e in &hardened {
        assert_eq!(e["protocol"], "tls", "{e}");
        assert_eq!(e["encrypted"], true, "{e}");
        assert_eq!(e["tls"]["sni"], SNI_HARDENED, "{e}");
        assert_eq!(e["tls"]["established"], true, "{e}");
        assert_eq!(
            ids(e),
            set(HARDENED_FINDINGS),
            "findings on the hardened server: {e}"
        );
        assert_eq!(e["tls"]["client_auth"], "none", "{e}");
    }
    let tls12 = hardened
        .iter()
        .find(|e| e["tls"]["version"] == "TLS 1.2")
        .unwrap();
    assert!(
        tls12["tls"]["cipher"].as_str().is_some_and(
            |c| c.starts_with("TLS_ECDHE_") && (c.contains("GCM") || c.contains("CHACHA20"))
        ),
        "hardened TLS 1.2 suite: {tls12}"
    );

    // (b) weak: exactly these findings per version.
    let weak = by_port(events, PORT_WEAK);
    assert_eq!(weak.len(), 3, "three weak flows: {weak:?}");
    let old = [
        "tls.version.deprecated",
        "tls.cipher.no_forward_secrecy",
        "tls.cipher.cbc",
        "tls.client.max_version_low",
        // The weak server issues RFC 5077 tickets (info).
        "tls.session_ticket",
        // Internal ends, no client certificate requested.
        "tls.mtls.absent",
    ];
    let twelve = [
        "tls.cipher.no_forward_secrecy",
        "tls.cipher.cbc",
        "tls.session_ticket",
        "tls.mtls.absent",
    ];
    for (version, want) in [
        ("TLS 1.0", &old[..]),
        ("TLS 1.1", &old[..]),
        ("TLS 1.2", &twelve[..]),
    ] {
        let e = weak
            .iter()
            .find(|e| e["tls"]["version"] == version)
            .unwrap_or_else(|| panic!("no weak flow with {version}: {weak:?}"));
        assert_eq!(e["tls"]["cipher"], "TLS_RSA_WITH_AES_128_CBC_SHA", "{e}");
        assert_eq!(e["tls"]["sni"], SNI_WEAK, "{e}");
        assert_eq!(
            ids(e),
            set(want),
            "findings of the weak {version} flow: {e}"
        );
    }

    // (c) plain HTTP.
    let http = by_port(events, PORT_HTTP);
    assert_eq!(http.len(), 1, "{http:?}");
    assert_eq!(http[0]["protocol"], "http");
    assert_eq!(http[0]["encrypted"], false);
    assert!(ids(http[0]).contains("plaintext.http"), "{}", http[0]);

    // (d) PostgreSQL without TLS, with a cleartext password.
    let pg = by_port(events, PORT_PG);
    assert_eq!(pg.len(), 1, "{pg:?}");
    assert_eq!(pg[0]["protocol"], "postgres");
    assert_eq!(
        ids(pg[0]),
        set(&["plaintext.postgres", "plaintext.credentials"]),
        "{}",
        pg[0]
    );
    // (e) failing handshakes: every one a failure, the spike on exactly one.
    let fails = by_port(events, PORT_STRICT);
    assert_eq!(fails.len(), failures, "one event per failed handshake");
    for e in &fails {
        assert!(ids(e).contains("tls.handshake.failure"), "{e}");
        assert!(!ids(e).contains("tls.mtls.absent"), "not established: {e}");
        assert_eq!(e["tls"]["alert"], "protocol_version", "{e}");
        assert_eq!(e["tls"]["established"], false, "{e}");
    }
    let spikes: Vec<_> = fails
        .iter()
        .filter(|e| ids(e).contains("tls.handshake.failure_spike"))
        .collect();
    assert_eq!(
        spikes.len(),
        1,
        "the spike rides on the flow that starts it"
    );
    let detail = spikes[0]["finding_details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "tls.handshake.failure_spike")
        .expect("finding_details for the spike");
    assert!(detail["severity"].is_string(), "{detail}");

    // Every event is one of the scenarios.
    assert_eq!(
        events.len(),
        hardened.len() + weak.len() + http.len() + pg.len() + fails.len(),
        "unexpected events: {events:?}"
    );
}
