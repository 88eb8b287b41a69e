//! Least privilege: `plainsight run` as uid 65534 with exactly the capabilities
//! docs/security.md lists (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON) attaches, analyses a
//! real plain-HTTP flow and serves /metrics; with any one of them dropped it fails
//! with an error naming the missing capability, and leaves nothing attached. The
//! agent logs at `RUST_LOG=trace` (aya's and rustls' logs included): the HTTP Basic
//! password the client sends must still appear in none of its outputs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use plainsight_tests::lab::{
    attached, http_get, metric_sum, parse_events, parse_metrics, Hub, Lab, SERVER_IP,
};
use plainsight_tests::{agent_bin, Guard, LEAST_PRIVILEGE_CAPS};

/// The documented set, shared with the DaemonSet's test (tests/tests/deploy.rs).
const CAPS: [&str; 3] = LEAST_PRIVILEGE_CAPS;
const NOBODY: &str = "65534";
const PORT: u16 = 9915;
const PASSWORD: &str = "Priv-Basic-s3cret";

/// `plainsight run` in the lab's hub as `nobody` with exactly `caps` (inheritable,
/// ambient and bounding set: nothing else can be regained). Events on stdout.
fn spawn_agent(lab: &Lab, caps: &[&str], tag: &str) -> (Guard, String, String) {
    let set = caps
        .iter()
        .map(|c| format!("+{c}"))
        .collect::<Vec<_>>()
        .join(",");
    let set = if set.is_empty() {
        "-all".to_owned()
    } else {
        format!("-all,{set}")
    };
    let bin = agent_bin();
    let listen = format!("127.0.0.1:{PORT}");
    let stdout = lab.path(&format!("{tag}.stdout"));
    let stderr = lab.path(&format!("{tag}.stderr"));
    let args = [
        "setpriv",
        "--reuid",
        NOBODY,
        "--regid",
        NOBODY,
        "--clear-groups",
        "--inh-caps",
        &set,
        "--ambient-caps",
        &set,
        "--bounding-set",
        &set,
        "--",
        bin.to_str().unwrap(),
        "run",
        "--iface",
        &lab.client_hub_if,
        "--events",
        "-",
        "--listen",
        &listen,
    ];
    let child = lab
        .hub_cmd(&args)
        .env("RUST_LOG", "trace")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("spawn setpriv plainsight run");
    (Guard(child), stdout, stderr)
}

fn hub_curl(lab: &Lab, path: &str) -> (u16, String) {
    http_get(
        lab.hub_ns.as_deref(),
        &format!("http://127.0.0.1:{PORT}{path}"),
        &[],
    )
}

/// `Uid:` and `CapEff:` of a running process.
fn uid_and_caps(pid: u32) -> (String, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let uid = field("Uid:")
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (uid, u64::from_str_radix(&field("CapEff:"), 16).unwrap())
}

#[test]
fn run_as_nobody_with_exactly_the_documented_capabilities() {
    let lab = Lab::new(&format!("ps-priv{}", std::process::id()), Hub::Netns);
    // A plain HTTP server (real traffic, nothing of the lab's TLS setup needed).
    let _server = lab.plain_http_server();

    let (mut agent, stdout, stderr) = spawn_agent(&lab, &CAPS, "full");
    let deadline = Instant::now() + Duration::from_secs(30);
    while hub_curl(&lab, "/readyz").0 != 200 {
        if let Ok(Some(st)) = agent.0.try_wait() {
            panic!(
                "plainsight run as nobody exited: {st}\n{}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "not ready within 30 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    // It really is nobody, with those three capabilities and nothing else
    // (`ip netns exec` and `setpriv` exec, so the child's pid is the agent's).
    let (uid, eff) = uid_and_caps(agent.0.id());
    assert_eq!(uid, NOBODY);
    assert_eq!(eff, (1 << 39) | (1 << 12) | (1 << 38), "CapEff {eff:#x}");
    let hooks = attached(lab.hub_ns.as_deref(), &lab.client_hub_if);
    assert_eq!(hooks.len(), 2, "ingress and egress attached: {hooks:?}");

    for _ in 0..3 {
        lab.basic_auth_get("priv", PASSWORD);
    }
    // The flows end with FIN: the agent reports them within its close linger.
    let deadline = Instant::now() + Duration::from_secs(40);
    let metrics = loop {
        let (code, body) = hub_curl(&lab, "/metrics");
        assert_eq!(code, 200, "/metrics: {body}");
        let s = parse_metrics(&body);
        if metric_sum(&s, "plainsight_flows_total", &[("protocol", "http")]) >= 3.0 {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "no http flows in /metrics within 40 s:\n{body}\nstderr: {}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let s = parse_metrics(&metrics);
    assert!(metric_sum(&s, "plainsight_findings_total", &[("id", "plaintext.http")]) >= 3.0);

    // SIGTERM: a clean stop, events written, nothing left attached.
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(agent.0.id() as i32, libc::SIGTERM) };
    let st = agent
        .wait_exit(Duration::from_secs(30))
        .expect("no exit after SIGTERM");
    assert!(
        st.success(),
        "exit {st}: {}",
        std::fs::read_to_string(&stderr).unwrap_or_default()
    );
    let events = parse_events(&std::fs::read_to_string(&stdout).unwrap());
    assert!(
        events
            .iter()
            .filter(|e| e["protocol"] == "http" && e["dst_ip"] == SERVER_IP)
            .count()
            >= 3,
        "events: {events:?}"
    );
    assert!(attached(lab.hub_ns.as_deref(), &lab.client_hub_if).is_empty());
    assert!(
        metric_sum(
            &s,
            "plainsight_findings_total",
            &[("id", "plaintext.credentials")]
        ) >= 3.0
    );
    let log = std::fs::read_to_string(&stderr).unwrap();
    assert!(
        log.lines()
            .filter(|l| l.contains("TRACE") || l.contains("DEBUG"))
            .count()
            > 0,
        "RUST_LOG=trace printed no debug or trace line"
    );
    for (what, text) in [
        ("stderr", log),
        ("events", std::fs::read_to_string(&stdout).unwrap()),
        ("metrics", metrics.clone()),
    ] {
        assert!(
            !text.contains(PASSWORD),
            "the password is in the agent's {what}"
        );
    }

    // One capability fewer: a clear error naming it, exit 4, nothing attached.
    for drop in CAPS {
        let caps: Vec<&str> = CAPS.iter().copied().filter(|c| *c != drop).collect();
        let (mut agent, _, stderr) = spawn_agent(&lab, &caps, &format!("without-{drop}"));
        let st = agent
            .wait_exit(Duration::from_secs(30))
            .unwrap_or_else(|| panic!("still running without {drop}"));
        let err = std::fs::read_to_string(&stderr).unwrap();
        assert_eq!(st.code(), Some(4), "without {drop}: {st}\n{err}");
        let name = format!("CAP_{}", drop.to_uppercase());
        assert!(
            err.contains(&format!("missing capabilities: {name};")),
            "without {drop}, stderr does not name {name}:\n{err}"
        );
        assert!(
            attached(lab.hub_ns.as_deref(), &lab.client_hub_if).is_empty(),
            "left attached without {drop}"
        );
    }
}
