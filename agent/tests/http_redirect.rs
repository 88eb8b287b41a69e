//! `http.no_https_redirect` and the redirect-only `plaintext.http` on real nginx captures
//! (tests/corpus/local/http-redirect/, recorded by its record.sh): `plainsight pcap` as a
//! user runs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[path = "common/corpus.rs"]
mod corpus_path;

/// The findings (id → finding object) of the one HTTP flow of `file`.
fn http_findings(file: &str) -> serde_json::Map<String, serde_json::Value> {
    let path = corpus_path::corpus_file(&format!("local/http-redirect/{file}"));
    let out = Command::new(env!("CARGO_BIN_EXE_plainsight"))
        .args([
            "pcap",
            path.to_str().unwrap(),
            "--format",
            "json",
            "--no-summary",
        ])
        .output()
        .expect("run plainsight");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("event JSON"))
        .collect();
    let http: Vec<_> = events.iter().filter(|e| e["protocol"] == "http").collect();
    assert_eq!(http.len(), 1, "one HTTP flow in {file}: {events:?}");
    http[0]["finding_details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["id"].as_str().unwrap().to_owned(), f.clone()))
        .collect()
}

#[test]
fn nginx_serving_content_over_http_raises_no_https_redirect() {
    let f = http_findings("nginx-content.pcap");
    let ids: Vec<&str> = f.keys().map(String::as_str).collect();
    assert_eq!(ids, ["http.no_https_redirect", "plaintext.http"]);
    let c = &f["http.no_https_redirect"];
    assert_eq!(c["severity"], "medium");
    assert_eq!(c["evidence"]["status"], 200);
    assert!(c["evidence"].get("redirect").is_none(), "{c}");
    assert_eq!(f["plaintext.http"]["severity"], "medium");
}

#[test]
fn nginx_only_redirecting_to_https_is_low_with_redirect_evidence() {
    let f = http_findings("nginx-redirect.pcap");
    let ids: Vec<&str> = f.keys().map(String::as_str).collect();
    assert_eq!(ids, ["plaintext.http"]);
    let p = &f["plaintext.http"];
    assert_eq!(p["severity"], "low");
    assert_eq!(p["evidence"]["redirect"], "https");
}

#[test]
fn keep_alive_redirect_then_content_is_judged_as_content() {
    let f = http_findings("nginx-redirect-then-content.pcap");
    let c = &f["http.no_https_redirect"];
    assert_eq!(c["evidence"]["status"], 200);
    assert_eq!(c["evidence"]["redirect"], "https");
    assert_eq!(f["plaintext.http"]["severity"], "medium");
    assert!(f["plaintext.http"]["evidence"].get("redirect").is_none());
}
