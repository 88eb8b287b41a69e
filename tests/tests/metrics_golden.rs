//! The live agent's /metrics after a fixed lab scenario, pinned by a golden file
//! (tests/golden/live_metrics.prom: the `plainsight_tls_handshakes_total` and
//! `plainsight_findings_total` families), checked by `promtool check metrics`; and the
//! alert rules checked by `promtool check rules`.
//!
//! Re-bless after an intended change: `PLAINSIGHT_BLESS=1 cargo xtask test metrics_golden`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use plainsight_tests::lab::{metric_sum, parse_metrics, which, Hub, Lab, LiveAgent, SNI_WEAK};

const FAMILIES: &[&str] = &[
    "plainsight_tls_handshakes_total",
    "plainsight_findings_total",
];
const FAILURES: usize = 12;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn promtool() -> String {
    which("promtool").expect("promtool missing: run `cargo xtask setup` (installs prometheus)")
}

/// The HELP, TYPE and sample lines of `families`, in exposition order. Nothing else is
/// normalised: the scenario is fixed, so every label value and count is too.
fn extract(text: &str, families: &[&str]) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let name = if let Some(rest) = line
            .strip_prefix("# HELP ")
            .or_else(|| line.strip_prefix("# TYPE "))
        {
            rest.split(' ').next().unwrap_or("")
        } else {
            line.split(['{', ' ']).next().unwrap_or("")
        };
        if families.contains(&name) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `promtool check metrics` on an exposition (a lint failure names the setting).
fn promtool_check(text: &str, stats: &str) {
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics (bpf_stats_enabled {stats}): {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn live_metrics_match_the_golden_file_and_pass_promtool() {
    let mut lab = Lab::new(&format!("ps-lab-gold{}", std::process::id()), Hub::Netns);
    lab.start_servers();
    let agent = LiveAgent::start(&lab, 9909, &[]);
    lab.hardened_curl(false);
    lab.hardened_curl(true);
    lab.weak_all();
    lab.plain_http();
    lab.psql();
    lab.failing_handshakes(FAILURES);
    // Every flow of the scenario must be finished and counted before the scrape.
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = agent.metrics();
        let s = parse_metrics(&text);
        let flows = metric_sum(&s, "plainsight_flows_total", &[]);
        let failures = metric_sum(
            &s,
            "plainsight_findings_total",
            &[("id", "tls.handshake.failure")],
        );
        if flows >= (7 + FAILURES) as f64 && failures >= FAILURES as f64 {
            // One more scrape after a pause: nothing may still be arriving.
            std::thread::sleep(Duration::from_millis(1500));
            break agent.metrics();
        }
        assert!(
            Instant::now() < deadline,
            "the scenario's flows were not all counted within 20 s:\n{text}\n{}",
            agent.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(250));
    };

    // promtool lints the whole exposition, with the kernel's run-time statistics off and
    // on (how users get the kernel-cost metrics), whatever this machine's setting is.
    let sysctl = "/proc/sys/kernel/bpf_stats_enabled";
    let before = std::fs::read_to_string(sysctl).unwrap();
    let runs = || {
        std::thread::sleep(Duration::from_millis(1500));
        let text = agent.metrics();
        let n = metric_sum(
            &parse_metrics(&text),
            "plainsight_kernel_program_runs_total",
            &[],
        );
        (text, n)
    };
    for on in ["0", "1"] {
        std::fs::write(sysctl, on).unwrap();
        let (_, start) = runs();
        lab.plain_http();
        let (text, end) = runs();
        promtool_check(&text, on);
        assert_eq!(
            on == "1",
            end > start,
            "bpf_stats_enabled={on}: runs {start} -> {end}"
        );
    }
    std::fs::write(sysctl, before.trim()).unwrap();
    promtool_check(&text, "as found");

    // A live TLS 1.2 handshake exports its certificate's notAfter as a Unix time, and
    // the seconds left are computed from it.
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-enddate", "-dateopt", "iso_8601", "-in"])
        .arg(lab.path("weak.pem"))
        .output()
        .unwrap();
    let end = String::from_utf8_lossy(&out.stdout);
    let end = end.trim().trim_start_matches("notAfter=");
    let date = Command::new("date")
        .args(["-u", "-d", end, "+%s"])
        .output()
        .unwrap();
    let not_after: f64 = String::from_utf8_lossy(&date.stdout)
        .trim()
        .parse()
        .unwrap();
    let s = parse_metrics(&text);
    let exported = metric_sum(
        &s,
        "plainsight_tls_cert_not_after_timestamp_seconds",
        &[("server_name", SNI_WEAK)],
    );
    assert_eq!(exported, not_after, "notAfter of {SNI_WEAK} ({end})");
    let left = metric_sum(
        &s,
        "plainsight_tls_cert_expiry_seconds",
        &[("server_name", SNI_WEAK)],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((not_after - now - left).abs() < 60.0, "seconds left {left}");

    let got = extract(&text, FAMILIES);
    assert!(
        FAMILIES
            .iter()
            .all(|f| got.contains(&format!("# TYPE {f} counter"))),
        "families missing from /metrics:\n{text}"
    );
    let golden = root().join("tests/golden/live_metrics.prom");
    if std::env::var_os("PLAINSIGHT_BLESS").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &got).unwrap();
        eprintln!("blessed {}", golden.display());
    }
    let want = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with PLAINSIGHT_BLESS=1 (after checking the output below)\n{got}",
            golden.display()
        )
    });
    assert!(
        got == want,
        "/metrics differ from {} (re-bless with PLAINSIGHT_BLESS=1 if intended)\n--- golden\n{want}\n--- live\n{got}",
        golden.display()
    );
}

#[test]
fn alert_rules_pass_promtool() {
    let rules = root().join("dashboards/alerts.yml");
    let out = Command::new(promtool())
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool check rules {}: {}\n{}{}",
        rules.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SUCCESS"), "{text}");
}

/// `promtool test rules` passes, and every rule has a firing case whose input series
/// starts absent (`_`) and a silent case.
#[test]
fn every_alert_rule_is_unit_tested_with_a_series_that_starts_absent() {
    let tests = root().join("dashboards/alerts.test.yml");
    let out = Command::new(promtool())
        .args(["test", "rules"])
        .arg(&tests)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool test rules: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let rules = std::fs::read_to_string(root().join("dashboards/alerts.yml")).unwrap();
    let text = std::fs::read_to_string(&tests).unwrap();
    // Split the test file into its cases; for each, the alert names it evaluates, whether
    // an input series starts absent, and whether it expects alerts.
    let cases: Vec<&str> = text.split("\n  - name: ").skip(1).collect();
    let names: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert!(names.len() >= 9, "{names:?}");
    for name in names {
        let about: Vec<&&str> = cases
            .iter()
            .filter(|c| c.contains(&format!("alertname: {name}\n")))
            .collect();
        let fires_from_absent = about.iter().any(|c| {
            c.contains("values: '_") && c.contains("exp_labels:") && {
                // The firing expectation is for this alert.
                c.split("alertname: ")
                    .skip(1)
                    .any(|e| e.starts_with(&format!("{name}\n")) && e.contains("exp_labels:"))
            }
        });
        let silent = about.iter().any(|c| {
            c.split("alertname: ")
                .skip(1)
                .any(|e| e.starts_with(&format!("{name}\n")) && e.contains("exp_alerts: []"))
        });
        assert!(
            fires_from_absent,
            "{name}: no firing case whose series starts absent"
        );
        assert!(silent, "{name}: no silent case");
    }
}
