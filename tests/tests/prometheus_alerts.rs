//! End to end on a real Prometheus (Debian's package): it scrapes a live agent in a lab
//! namespace every second and evaluates `dashboards/alerts.yml` every second. A finding
//! that happens once must make its alert active, as it does for a user.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use plainsight_tests::lab::{Hub, Lab, LiveAgent};
use plainsight_tests::prometheus::Prometheus;

fn active(prom: &Prometheus, name: &str) -> Option<String> {
    prom.alerts()
        .into_iter()
        .find(|a| a["labels"]["alertname"] == name)
        .map(|a| a["state"].as_str().unwrap_or("").to_owned())
}

#[test]
fn one_cleartext_credential_makes_the_alert_active_within_30_s() {
    let mut lab = Lab::new(&format!("ps-lab-prom{}", std::process::id()), Hub::Netns);
    lab.start_servers();
    let agent = LiveAgent::start(&lab, 9921, &[]);
    let prom = Prometheus::start(&lab, 9922, &agent.listen);
    // Two scrapes of an agent that has seen nothing yet.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !prom.target_up() {
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped the agent"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        active(&prom, "PlainsightCleartextCredentials"),
        None,
        "silent before"
    );

    // One plain HTTP request with Basic credentials.
    lab.basic_auth_get("alice", "pr0m-e2e-pw");
    let sent = Instant::now();
    let state = loop {
        if let Some(s) = active(&prom, "PlainsightCleartextCredentials") {
            break s;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(30),
            "the credentials alert is not active 30 s after one cleartext credential; agent: {}",
            agent
                .metrics()
                .lines()
                .filter(|l| l.contains("plaintext.credentials"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    eprintln!(
        "PlainsightCleartextCredentials {state} {:.1} s after the request",
        sent.elapsed().as_secs_f64()
    );
    assert!(state == "pending" || state == "firing", "{state}");
    // What fired is what the agent counted, once.
    let n = prom.query("sum(plainsight_findings_total{id=\"plaintext.credentials\"})");
    assert_eq!(n.len(), 1);
    assert_eq!(n[0]["value"][1], "1", "{n:?}");
}
