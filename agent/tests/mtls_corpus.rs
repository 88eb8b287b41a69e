//! Mutual TLS on real captures (tests/corpus/local/mtls/, recorded by its tools/record.sh):
//! `plainsight pcap` on each gives the expected `tls.client_auth`, its source, the TLS 1.2
//! client certificate's names, and `tls.mtls.absent` where the client presented nothing
//! and the handshake completed. The captures are between 10.224.0.1 and 10.224.0.2: both
//! internal under the default `[network]`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;

#[path = "common/corpus.rs"]
mod corpus_path;
#[path = "common/schema.rs"]
mod schema;

/// One flow's expectation: client_auth, and whether tls.mtls.absent is raised.
type Flow = (&'static str, bool);

const P: Flow = ("presented", false);
const NONE: Flow = ("none", true);
/// Requested, the server accepted the empty answer: the finding.
const REQ: Flow = ("requested", true);
/// Requested, the server refused the empty answer: no finding (nothing was protected).
const REQ_REFUSED: Flow = ("requested", false);
/// The second connection resumed the first's session: no Certificate messages at all.
const RESUMED: Flow = ("unknown", false);

/// Capture name (without `.pcap`) and its flows in order. The truth is what each client was
/// told to do (tools/record.sh) and, for resumption, what the client reported.
const CASES: &[(&str, &[Flow])] = &[
    ("tls13-openssl-none", &[NONE]),
    ("tls13-openssl-rsa", &[P]),
    ("tls13-openssl-ec", &[P]),
    ("tls13-openssl-nocert-optional", &[REQ]),
    ("tls13-openssl-nocert-required", &[REQ_REFUSED]),
    ("tls13-openssl-rsa-resumed", &[P, RESUMED]),
    ("tls13-curl-none", &[NONE]),
    ("tls13-curl-rsa-twice", &[P, RESUMED]),
    ("tls13-curl-ec", &[P]),
    ("tls13-rustls-none", &[NONE]),
    ("tls13-rustls-rsa", &[P]),
    ("tls13-rustls-ec-twice", &[P, RESUMED]),
    ("tls13-rustls-nocert-optional", &[REQ]),
    ("tls13-go-none", &[NONE]),
    ("tls13-go-rsa-twice", &[P, RESUMED]),
    ("tls13-go-ec", &[P]),
    ("tls13-go-nocert-optional", &[REQ]),
    ("tls12-openssl-none", &[NONE]),
    ("tls12-openssl-rsa", &[P]),
    ("tls12-openssl-ec", &[P]),
    ("tls12-openssl-nocert-optional", &[REQ]),
    ("tls12-openssl-nocert-required", &[REQ_REFUSED]),
    ("tls12-openssl-rsa-resumed", &[P, RESUMED]),
    ("tls12-curl-none", &[NONE]),
    ("tls12-curl-rsa-twice", &[P, RESUMED]),
    ("tls12-curl-ec", &[P]),
    ("tls12-rustls-none", &[NONE]),
    ("tls12-rustls-rsa", &[P]),
    ("tls12-rustls-ec-twice", &[P, RESUMED]),
    ("tls12-rustls-nocert-optional", &[REQ]),
    ("tls12-go-none", &[NONE]),
    ("tls12-go-rsa-twice", &[P, RESUMED]),
    ("tls12-go-ec", &[P]),
    ("tls12-go-nocert-optional", &[REQ]),
];

fn events(capture: &str, config: Option<&str>) -> Vec<serde_json::Value> {
    let path = corpus_path::corpus_file(&format!("local/mtls/{capture}.pcap"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plainsight"));
    cmd.args(["pcap", "--format", "json", "--all-flows", "--no-summary"]);
    let cfg;
    if let Some(text) = config {
        cfg = std::env::temp_dir().join(format!("mtls-corpus-{}.toml", std::process::id()));
        std::fs::File::create(&cfg)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        cmd.arg("--config").arg(&cfg);
    }
    let out = cmd.arg(&path).output().unwrap();
    assert!(out.status.success(), "{capture}: {out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn has(e: &serde_json::Value, id: &str) -> bool {
    e["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f.as_str() == Some(id))
}

#[test]
fn client_auth_and_mtls_absent_on_every_capture() {
    let mut wrong = Vec::new();
    for (capture, flows) in CASES {
        let evs = events(capture, None);
        assert_eq!(evs.len(), flows.len(), "{capture}: {evs:#?}");
        for (n, (e, (auth, absent))) in evs.iter().zip(flows.iter()).enumerate() {
            let errors = schema::event_errors(e);
            assert!(errors.is_empty(), "{capture}: {errors:?}");
            let tls = &e["tls"];
            let source = if capture.starts_with("tls13") {
                "inferred"
            } else {
                "handshake"
            };
            let got = (
                tls["client_auth"].as_str().unwrap(),
                tls["client_auth_source"].as_str().unwrap(),
                has(e, "tls.mtls.absent"),
            );
            if got != (*auth, source, *absent) {
                wrong.push(format!(
                    "{capture} flow {n}: got {got:?}, want {:?}",
                    (auth, source, absent)
                ));
            }
            // TLS 1.2 shows who the client is; TLS 1.3 encrypts it.
            let cert = &tls["client_cert"];
            match (source, *auth) {
                ("handshake", "presented") => {
                    let key = if capture.contains("rsa") {
                        "client-rsa"
                    } else {
                        "client-ec"
                    };
                    assert_eq!(cert["subject"], format!("O=mt lab, CN={key}"), "{capture}");
                    let san: Vec<&str> = cert["san"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap())
                        .collect();
                    assert_eq!(
                        san.first().copied(),
                        Some(format!("spiffe://mt.test/ns/default/sa/{key}").as_str()),
                        "{capture}"
                    );
                }
                _ => assert!(cert.is_null(), "{capture} flow {n}: {cert}"),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn mtls_require_and_allow_rules_scope_the_finding() {
    let absent = |cfg: Option<&str>| {
        let evs = events("tls13-openssl-none", cfg);
        has(&evs[0], "tls.mtls.absent")
    };
    assert!(
        absent(None),
        "default: internal, and both ends are internal"
    );
    assert!(absent(Some("[mtls]\nrequire = \"all\"\n")));
    assert!(!absent(Some("[mtls]\nrequire = \"none\"\n")));
    // Internal scope with the capture's addresses no longer internal.
    assert!(!absent(Some(
        "[network]\ninternal = [\"192.168.0.0/16\"]\n"
    )));
    assert!(absent(Some(
        "[network]\ninternal = [\"192.168.0.0/16\"]\n[mtls]\nrequire = \"all\"\n"
    )));
    // An allow rule for this destination silences it; one for another port does not.
    let allow = |port: u16| {
        format!("[[allow]]\nfinding = \"tls.mtls.absent\"\ndestination = \"10.224.0.2/32\"\nport = {port}\n")
    };
    assert!(!absent(Some(&allow(24001))));
    assert!(absent(Some(&allow(24002))));
    let evs = events("tls13-openssl-none", None);
    let f = evs[0]["finding_details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "tls.mtls.absent")
        .unwrap()
        .clone();
    assert_eq!(f["evidence"]["client_auth"], "none");
    assert_eq!(f["evidence"]["client_auth_source"], "inferred");
    assert_eq!(f["evidence"]["scope"], "internal");
}

/// The fixture folder holds exactly the captures this test knows (a new one must be added
/// to `CASES` with its truth), and a README line for each.
#[test]
fn every_capture_is_covered_and_documented() {
    let dir: PathBuf = corpus_path::corpus_root().join("local/mtls");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".pcap").map(str::to_owned))
        .collect();
    files.sort();
    let mut known: Vec<String> = CASES.iter().map(|c| c.0.to_owned()).collect();
    known.sort();
    assert_eq!(files, known);
    for f in &files {
        assert!(
            readme.contains(&format!("`{f}.pcap`")),
            "README.md has no line for {f}.pcap"
        );
    }
}
