//! `plainsight run`, end to end, in the lab (tests/src/lab.rs): real nginx (hardened,
//! weak, TLS 1.2-only), plain HTTP, PostgreSQL without TLS and failing handshakes,
//! with the agent attached to the client's hub-side veth in a namespace of its own.
//! The events file and /metrics are checked against what each scenario must produce,
//! and a tcpdump capture of the same interface, fed to `plainsight pcap`, must give
//! the same flows, findings and handshake fields (pcap/live parity).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use plainsight_tests::expect::ids;
use plainsight_tests::lab::{
    attached, metric_sum, ns_cmd, parse_events, parse_metrics, pcap_stdout, Hub, Lab, LiveAgent,
    PORT_HTTP, PORT_WEAK, SERVER_IP, SNI_HARDENED, SNI_WEAK,
};
use plainsight_tests::{agent_bin, sh, start_tcpdump, Guard, VethPair};
use serde_json::Value;

/// Failing handshakes in the burst: well above `min_failures` below.
const FAILURES: usize = 25;

/// The spike detector's parameters for these tests (the defaults, spelled out).
const CONFIG: &str =
    "[spike]\nthreshold = 3.0\newma_alpha = 0.1\nmin_failures = 10\nmax_services = 1024\n";

/// Polls /metrics until `pred` holds (or 20 s pass); returns the last scrape.
fn scrape_until(agent: &LiveAgent, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = agent.metrics();
        if pred(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "/metrics never showed {what} within 20 s:\n{text}\nagent stderr:\n{}",
            agent.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The scenario every live test drives, in a fixed order.
fn drive(lab: &Lab, failures: usize) {
    lab.hardened_curl(false);
    lab.hardened_curl(true);
    lab.weak_all();
    lab.plain_http();
    lab.psql();
    let took = lab.failing_handshakes(failures);
    assert!(
        took < Duration::from_secs(9),
        "the failure burst must fit one 10 s spike window; it took {took:?}"
    );
}

/// What parity compares per flow: the 5-tuple, then the finding ids and handshake.
type FlowKey = (String, u64, String, u64, String);

fn parity_view(events: &[Value]) -> BTreeMap<FlowKey, (BTreeSet<String>, Vec<Value>)> {
    let mut m = BTreeMap::new();
    for e in events {
        // pcap mode leaves out flows with neither a protocol nor a finding.
        if e["protocol"] == "none" && ids(e).is_empty() {
            continue;
        }
        let key = (
            e["src_ip"].as_str().unwrap_or("?").to_owned(),
            e["src_port"].as_u64().unwrap_or(0),
            e["dst_ip"].as_str().unwrap_or("?").to_owned(),
            e["dst_port"].as_u64().unwrap_or(0),
            e["transport"].as_str().unwrap_or("?").to_owned(),
        );
        let t = &e["tls"];
        let hs = ["version", "cipher", "sni", "ja3", "ja3s", "ja4"]
            .iter()
            .map(|f| t.get(*f).cloned().unwrap_or(Value::Null))
            .collect();
        let prev = m.insert(key.clone(), (ids(e), hs));
        assert!(prev.is_none(), "two events for flow {key:?}");
    }
    m
}

fn write_config(lab: &Lab, text: &str) -> String {
    let p = lab.path("plainsight.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn live_agent_reports_every_lab_scenario_and_matches_pcap() {
    let mut lab = Lab::new(&format!("ps-lab-ag{}", std::process::id()), Hub::Netns);
    lab.start_servers();
    let hub = lab.hub_ns.clone().unwrap();
    let cfg = write_config(&lab, CONFIG);
    let pcap = lab.path("live.pcap");
    let mut tcpdump = start_tcpdump(&hub, &lab.client_hub_if, &pcap);
    let mut agent = LiveAgent::start(&lab, 9909, &["--config", &cfg]);
    assert!(
        !attached(Some(&hub), &lab.client_hub_if).is_empty(),
        "/readyz said ready but nothing is attached to {}",
        lab.client_hub_if
    );
    assert!(
        attached(Some(&hub), &lab.server_hub_if).is_empty(),
        "only the named interface is attached"
    );
    let (code, _) = agent.get("/healthz");
    assert_eq!(code, 200, "/healthz");

    drive(&lab, FAILURES);

    // Flows are reported once finished: wait until the last ones are counted.
    let text = scrape_until(&agent, "all failures and a spike", |t| {
        let s = parse_metrics(t);
        metric_sum(
            &s,
            "plainsight_findings_total",
            &[("id", "tls.handshake.failure")],
        ) >= FAILURES as f64
            && metric_sum(
                &s,
                "plainsight_findings_total",
                &[("id", "plaintext.credentials")],
            ) >= 1.0
    });
    let s = parse_metrics(&text);
    let spike: Vec<_> = s
        .iter()
        .filter(|x| x.name == "plainsight_tls_handshake_failure_spike")
        .collect();
    assert!(
        spike.iter().any(|x| x.value == 1.0),
        "plainsight_tls_handshake_failure_spike must be 1 right after the burst: {spike:?}"
    );
    let count = |id: &str| metric_sum(&s, "plainsight_findings_total", &[("id", id)]);
    for (id, n) in [
        ("tls.version.deprecated", 2.0),
        ("tls.client.max_version_low", 2.0),
        ("tls.cipher.no_forward_secrecy", 3.0),
        ("tls.cipher.cbc", 3.0),
        ("plaintext.http", 1.0),
        ("plaintext.postgres", 1.0),
        ("plaintext.credentials", 1.0),
        ("tls.handshake.failure", FAILURES as f64),
        ("tls.handshake.failure_spike", 1.0),
    ] {
        assert_eq!(
            count(id),
            n,
            "plainsight_findings_total{{id=\"{id}\"}}:\n{text}"
        );
    }
    assert_eq!(
        metric_sum(
            &s,
            "plainsight_tls_handshake_failures_total",
            &[("reason", "protocol_version")]
        ),
        FAILURES as f64,
        "failures by reason:\n{text}"
    );
    for (v, n) in [
        ("TLS 1.0", 1.0),
        ("TLS 1.1", 1.0),
        ("TLS 1.2", 2.0),
        ("TLS 1.3", 1.0),
    ] {
        assert_eq!(
            metric_sum(&s, "plainsight_tls_handshakes_total", &[("tls_version", v)]),
            n,
            "handshakes with {v}:\n{text}"
        );
    }
    assert!(
        metric_sum(&s, "plainsight_flows_total", &[("protocol", "tls")]) >= (5 + FAILURES) as f64,
        "TLS flows counted:\n{text}"
    );
    let dropped: Vec<_> = s
        .iter()
        .filter(|x| x.name == "plainsight_dropped_total" && x.value > 0.0)
        .collect();
    assert!(
        dropped.is_empty(),
        "nothing may be dropped at this rate: {dropped:?}"
    );
    assert!(
        metric_sum(&s, "plainsight_events_read_total", &[]) > 0.0,
        "events read from the kernel:\n{text}"
    );

    // SIGTERM: flush, detach, exit 0.
    let st = agent.signal_and_wait(libc::SIGTERM);
    assert_eq!(
        st.code(),
        Some(0),
        "exit status after SIGTERM; stderr:\n{}",
        agent.stderr_text()
    );
    let left = attached(Some(&hub), &lab.client_hub_if);
    assert!(left.is_empty(), "left attached after SIGTERM: {left:?}");
    let st = tcpdump.interrupt();
    assert!(st.success() || st.code().is_none(), "tcpdump: {st}");

    let events = agent.events();
    plainsight_tests::expect::assert_lab_events(&events, FAILURES);
    let metrics_now = text.clone();
    for (what, content) in [
        (
            "events file",
            std::fs::read_to_string(&agent.events).unwrap(),
        ),
        ("agent stdout", agent.stdout_text()),
        ("agent stderr", agent.stderr_text()),
        ("/metrics", metrics_now),
    ] {
        assert!(
            !content.contains(&lab.pg_password),
            "the PostgreSQL password appears in the {what}"
        );
    }

    // pcap/live parity on the same interface.
    let offline = parse_events(&pcap_stdout(&pcap, &["--config", &cfg]));
    let live = parity_view(&events);
    let off = parity_view(&offline);
    let only_live: Vec<_> = live.keys().filter(|k| !off.contains_key(*k)).collect();
    let only_pcap: Vec<_> = off.keys().filter(|k| !live.contains_key(*k)).collect();
    assert!(
        only_live.is_empty() && only_pcap.is_empty(),
        "flows only live: {only_live:?}; only in pcap mode: {only_pcap:?}"
    );
    for (k, v) in &live {
        assert_eq!(Some(v), off.get(k), "live vs pcap for flow {k:?}");
    }
}

#[test]
fn bad_config_exits_2_before_attaching_anything() {
    let net = VethPair::new("badcfg", 1500);
    let dir = format!("/tmp/plainsight-test-badcfg-{}", std::process::id());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in [
        ("alpha.toml", "[spike]\newma_alpha = 1.5\n"),
        ("unknown-key.toml", "[spike]\nthreshhold = 3.0\n"),
        ("not-toml.toml", "[spike\n"),
    ] {
        let cfg = format!("{dir}/{name}");
        std::fs::write(&cfg, text).unwrap();
        let mut child = Guard(
            VethPair::cmd(
                &net.ns_a,
                &[
                    agent_bin().to_str().unwrap(),
                    "run",
                    "--config",
                    &cfg,
                    "--iface",
                    &net.if_a,
                    "--events",
                    &format!("{dir}/events.jsonl"),
                    "--listen",
                    "127.0.0.1:9911",
                ],
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        let st = loop {
            if let Some(st) = child.0.try_wait().unwrap() {
                break st;
            }
            // Whatever it does before exiting, it must never attach.
            let now = attached(Some(&net.ns_a), &net.if_a);
            assert!(
                now.is_empty(),
                "{name}: attached with a bad config: {now:?}"
            );
            assert!(
                Instant::now() < deadline,
                "{name}: the agent kept running with a bad config"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let err = child.stderr_all();
        assert_eq!(
            st.code(),
            Some(2),
            "{name}: exit status {st}; stderr: {err}"
        );
        assert!(
            !err.trim().is_empty(),
            "{name}: a bad config must be explained on stderr"
        );
        let left = attached(Some(&net.ns_a), &net.if_a);
        assert!(left.is_empty(), "{name}: left attached: {left:?}");
        let qdiscs = sh(&["tc", "-n", &net.ns_a, "qdisc", "show", "dev", &net.if_a]);
        assert!(
            !qdiscs.contains("clsact"),
            "{name}: a clsact qdisc was added: {qdiscs}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigint_and_sigterm_exit_0_detach_and_flush_open_flows() {
    let mut lab = Lab::new(&format!("ps-lab-sig{}", std::process::id()), Hub::Netns);
    lab.start_servers();
    let hub = lab.hub_ns.clone().unwrap();
    for (sig, attach) in [(libc::SIGINT, "netlink"), (libc::SIGTERM, "tcx")] {
        let mut agent = LiveAgent::start(&lab, 9912, &["--attach", attach]);
        let now = attached(Some(&hub), &lab.client_hub_if);
        match attach {
            "tcx" => assert!(
                now.iter().any(|l| l.starts_with("tcx")),
                "--attach tcx: {now:?}"
            ),
            _ => assert!(
                now.iter().any(|l| l.starts_with("tc "))
                    && !now.iter().any(|l| l.starts_with("tcx")),
                "--attach netlink: {now:?}"
            ),
        }
        // A flow still open at the signal: a TCP connection that sent a request head
        // and waits. Its event must be flushed on exit.
        let mut open = Guard(
            lab_client_hold(&lab)
                .spawn()
                .expect("spawn the held connection"),
        );
        std::thread::sleep(Duration::from_millis(1500));
        let st = agent.signal_and_wait(sig);
        assert_eq!(
            st.code(),
            Some(0),
            "exit after signal {sig}: {st}\n{}",
            agent.stderr_text()
        );
        let left = attached(Some(&hub), &lab.client_hub_if);
        assert!(
            left.is_empty(),
            "left attached after signal {sig}: {left:?}"
        );
        let qdiscs = sh(&["tc", "-n", &hub, "qdisc", "show", "dev", &lab.client_hub_if]);
        assert!(
            !qdiscs.contains("clsact"),
            "qdisc left after signal {sig}: {qdiscs}"
        );
        let events = agent.events();
        assert!(
            events
                .iter()
                .any(|e| e["dst_port"].as_u64() == Some(u64::from(PORT_HTTP))
                    && ids(e).contains("plaintext.http")),
            "the open plain-HTTP flow is flushed on signal {sig}: {events:?}"
        );
        let _ = open.0.kill();
    }
}

/// A plain-HTTP connection that sends a request head without the final blank line
/// and stays open (nginx waits for the rest), for 30 s at most.
fn lab_client_hold(lab: &Lab) -> Command {
    let script = format!(
        "exec 3<>/dev/tcp/{SERVER_IP}/{PORT_HTTP}; printf 'GET /held HTTP/1.1\\r\\nHost: lab\\r\\n' >&3; sleep 30"
    );
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &lab.client_ns, "bash", "-c", &script]);
    c
}

/// SIGHUP reloads the policy from --config: a severity override applies to the next
/// flows; a broken file is refused and the running policy kept (the agent stays up).
#[test]
fn sighup_reloads_the_policy_and_keeps_it_when_the_new_file_is_bad() {
    let mut lab = Lab::new(&format!("ps-lab-hup{}", std::process::id()), Hub::Netns);
    lab.start_servers();
    let cfg = write_config(&lab, "");
    let mut agent = LiveAgent::start(&lab, 9913, &["--config", &cfg]);
    let http_findings = |agent: &LiveAgent, sev: &str, n: f64| {
        scrape_until(agent, &format!("{n} plaintext.http at {sev}"), |t| {
            metric_sum(
                &parse_metrics(t),
                "plainsight_findings_total",
                &[("id", "plaintext.http"), ("severity", sev)],
            ) == n
        });
    };
    lab.plain_http();
    http_findings(&agent, "medium", 1.0);

    std::fs::write(&cfg, "[severity]\n\"plaintext.http\" = \"low\"\n").unwrap();
    sighup_and_wait_for(&agent, "policy reloaded");
    lab.plain_http();
    http_findings(&agent, "low", 1.0);

    std::fs::write(&cfg, "[severity]\n\"plaintext.http\" = \"catastrophic\"\n").unwrap();
    sighup_and_wait_for(&agent, "reload failed");
    assert!(
        matches!(agent.proc.0.try_wait(), Ok(None)),
        "the agent must survive a bad reload"
    );
    lab.plain_http();
    http_findings(&agent, "low", 2.0);
    let (code, _) = agent.get("/readyz");
    assert_eq!(code, 200, "/readyz after a refused reload");
    let st = agent.signal_and_wait(libc::SIGTERM);
    assert_eq!(st.code(), Some(0), "{}", agent.stderr_text());
}

/// Sends SIGHUP and waits (10 s at most) until the agent logs `line` after it.
fn sighup_and_wait_for(agent: &LiveAgent, line: &str) {
    let before = agent.stderr_text().matches(line).count();
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(agent.pid() as i32, libc::SIGHUP) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while agent.stderr_text().matches(line).count() == before {
        assert!(
            Instant::now() < deadline,
            "no {line:?} logged after SIGHUP:\n{}",
            agent.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A client that reuses its source port makes a new connection on the same 5-tuple
/// (nginx closes first, so the TIME_WAIT is on the server, which accepts the new SYN).
/// Each connection is a flow of its own, classified from its own handshake. Found by
/// `cargo xtask bench-live`, where the client's reused ports came back as
/// `protocol: "none"`.
#[test]
fn a_reused_client_port_starts_a_new_flow() {
    let mut lab = Lab::new(&format!("ps-lab-reuse{}", std::process::id()), Hub::Netns);
    lab.start_servers();
    let mut agent = LiveAgent::start(&lab, 9914, &[]);
    for _ in 0..3 {
        lab.hardened_curl_from(false, &["--local-port", "40123"]);
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_millis(1000));
    let st = agent.signal_and_wait(libc::SIGTERM);
    assert_eq!(st.code(), Some(0), "{}", agent.stderr_text());
    let events = agent.events();
    let reused: Vec<_> = events
        .iter()
        .filter(|e| e["src_port"].as_u64() == Some(40123))
        .collect();
    assert_eq!(
        reused.len(),
        3,
        "three connections from port 40123 (one after the other) must be three flows; got {} events: {reused:?}", reused.len()
    );
    for e in &reused {
        assert_eq!(
            e["protocol"], "tls",
            "each connection classified on its own: {e}"
        );
        assert_eq!(e["tls"]["version"], "TLS 1.3", "{e}");
    }
}

/// A client retrying with a lower version sends TLS_FALLBACK_SCSV (RFC 7507); a server
/// that supports a higher version refuses with inappropriate_fallback. Real OpenSSL on
/// both ends, captured live.
#[test]
fn fallback_scsv_against_a_better_server_is_an_inappropriate_fallback() {
    let mut lab = Lab::new(&format!("ps-lab-fb{}", std::process::id()), Hub::Netns);
    lab.start_servers();
    let mut agent = LiveAgent::start(&lab, 9915, &[]);
    let target = format!("{SERVER_IP}:{PORT_WEAK}");
    let out = lab.client(
        &[
            "openssl",
            "s_client",
            "-connect",
            &target,
            "-servername",
            SNI_WEAK,
            "-tls1_1",
            "-fallback_scsv",
            "-cipher",
            "AES128-SHA:@SECLEVEL=0",
        ],
        Some(b""),
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("inappropriate fallback"),
        "the server must refuse the fallback: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_millis(3000));
    let st = agent.signal_and_wait(libc::SIGTERM);
    assert_eq!(st.code(), Some(0), "{}", agent.stderr_text());
    let events = agent.events();
    let flow = events
        .iter()
        .find(|e| e["dst_port"].as_u64() == Some(u64::from(PORT_WEAK)))
        .unwrap_or_else(|| panic!("no event for the fallback connection: {events:?}"));
    let found = ids(flow);
    for id in [
        "tls.downgrade.fallback_scsv",
        "tls.downgrade.inappropriate_fallback",
        "tls.handshake.failure",
    ] {
        assert!(found.contains(id), "{id} missing from {flow}");
    }
}

/// The downgrade attack RFC 8446 §4.1.3 guards against, in the lab: a middlebox hides
/// the client's supported_versions extension (renames its type to a GREASE value, RFC
/// 8701, so every length stays right), the TLS 1.3-capable server negotiates TLS 1.2 and
/// marks its random with DOWNGRD\x01, and the client aborts. The agent sees the client's
/// real ClientHello and the marked ServerHello. argv = ip, listen port, server port.
const DOWNGRADER: &str = r#"
import sys, socket, struct, threading
ip, listen_port, server_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def hide_supported_versions(hello):
    # record(5) + handshake header(4) + version(2) + random(32)
    i = 5 + 4 + 2 + 32
    i += 1 + hello[i]                                   # session id
    i += 2 + struct.unpack(">H", hello[i:i+2])[0]       # cipher suites
    i += 1 + hello[i]                                   # compression methods
    end = i + 2 + struct.unpack(">H", hello[i:i+2])[0]
    i += 2
    out = bytearray(hello)
    while i + 4 <= end:
        typ, n = struct.unpack(">HH", hello[i:i+4])
        if typ == 0x002b:
            out[i:i+2] = b"\x0a\x0a"
        i += 4 + n
    return bytes(out)

def read_record(sock):
    head = b""
    while len(head) < 5:
        chunk = sock.recv(5 - len(head))
        if not chunk:
            return head
        head += chunk
    body = b""
    n = struct.unpack(">H", head[3:5])[0]
    while len(body) < n:
        chunk = sock.recv(n - len(body))
        if not chunk:
            break
        body += chunk
    return head + body

def pipe(a, b):
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

def serve(client):
    server = socket.create_connection((ip, server_port))
    server.sendall(hide_supported_versions(read_record(client)))
    threading.Thread(target=pipe, args=(server, client), daemon=True).start()
    pipe(client, server)

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((ip, listen_port))
ls.listen(16)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

#[test]
fn a_middlebox_hiding_tls13_meets_the_downgrade_sentinel() {
    const SERVER_PORT: u16 = 4433;
    const PROXY_PORT: u16 = 4434;
    let lab = Lab::new(&format!("ps-lab-dg{}", std::process::id()), Hub::Netns);
    lab.make_certs();
    let accept = format!("{SERVER_IP}:{SERVER_PORT}");
    let _server = Guard(
        ns_cmd(
            &lab.server_ns,
            &[
                "openssl",
                "s_server",
                "-accept",
                &accept,
                "-cert",
                &lab.path("hardened.pem"),
                "-key",
                &lab.path("hardened.key"),
                "-quiet",
                "-naccept",
                "1000",
            ],
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl s_server"),
    );
    let _proxy = Guard(
        ns_cmd(
            &lab.server_ns,
            &[
                "/usr/bin/python3",
                "-c",
                DOWNGRADER,
                SERVER_IP,
                &PROXY_PORT.to_string(),
                &SERVER_PORT.to_string(),
            ],
        )
        .spawn()
        .expect("downgrading proxy"),
    );
    lab.wait_port(SERVER_PORT);
    lab.wait_port(PROXY_PORT);
    let mut agent = LiveAgent::start(&lab, 9916, &[]);
    let target = format!("{SERVER_IP}:{PROXY_PORT}");
    let out = lab.client(
        &[
            "openssl",
            "s_client",
            "-connect",
            &target,
            "-servername",
            SNI_HARDENED,
        ],
        Some(b""),
    );
    // OpenSSL's client checks the sentinel and refuses the downgrade.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("inappropriate fallback") || stderr.contains("illegal parameter"),
        "the client must detect the downgrade: {stderr}"
    );
    std::thread::sleep(Duration::from_millis(2000));
    let st = agent.signal_and_wait(libc::SIGTERM);
    assert_eq!(st.code(), Some(0), "{}", agent.stderr_text());
    let events = agent.events();
    let flow = events
        .iter()
        .find(|e| e["dst_port"].as_u64() == Some(u64::from(PROXY_PORT)))
        .unwrap_or_else(|| panic!("no event for the downgraded connection: {events:?}"));
    let found = ids(flow);
    for id in ["tls.downgrade.sentinel", "tls.handshake.failure"] {
        assert!(found.contains(id), "{id} missing from {flow}");
    }
    assert_eq!(flow["tls"]["version"], "TLS 1.2", "{flow}");
    assert!(
        flow["tls"]["client_versions"]
            .as_array()
            .is_some_and(|v| v.iter().any(|x| x == "TLS 1.3")),
        "the agent saw the client's real offer: {flow}"
    );
}
