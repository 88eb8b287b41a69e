//! Flows seen mid-stream, live: a TLS connection (openssl s_client to s_server) and a
//! PostgreSQL session (psql) stay open while the agent is restarted. The agent that was
//! running when they opened saw their handshakes; the one started after sees them only from
//! the middle. Both must classify them alike (`tls`, encrypted; `postgres`), the second with
//! `midstream: true`, and `plainsight_flows_total{encrypted="true"}` must be the same for
//! the open flows before and after the restart (issue 14, scope 2).
//!
//! Flows end here by idling past `tcp_idle_secs` (3 s), which is when they are counted, so
//! each agent's count is read while the connections stay open.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::process::{ChildStdin, Stdio};
use std::time::{Duration, Instant};

use plainsight_tests::lab::{
    metric_sum, ns_cmd, parse_metrics, Hub, Lab, LiveAgent, PORT_PG, SERVER_IP,
};
use plainsight_tests::Guard;
use serde_json::Value;

/// This test's ports (the `ms` lab's range, 24300-24399): the TLS server and /metrics.
const PORT_TLS: u16 = 24301;
const PORT_METRICS: u16 = 24300;

const CONFIG: &str = "[limits]\ntcp_idle_secs = 3\n";

/// A long-lived client whose standard input the test writes to, one line at a time.
struct Conn {
    proc: Guard,
    stdin: ChildStdin,
    what: &'static str,
}

impl Conn {
    fn open(ns: &str, args: &[&str], envs: &[(&str, &str)], what: &'static str) -> Conn {
        let mut cmd = ns_cmd(ns, args);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let stdin = child.stdin.take().unwrap();
        Conn {
            proc: Guard(child),
            stdin,
            what,
        }
    }

    /// Writes `n` lines, a few hundred milliseconds apart, so that each travels in a
    /// segment (a TLS record, a PostgreSQL Query) of its own.
    fn push(&mut self, n: usize, line: &str) {
        for i in 0..n {
            writeln!(self.stdin, "{line}").unwrap();
            self.stdin.flush().unwrap();
            std::thread::sleep(Duration::from_millis(300));
            assert!(
                self.proc.0.try_wait().unwrap().is_none(),
                "{} exited after line {i}",
                self.what
            );
        }
    }
}

fn flows(text: &str, labels: &[(&str, &str)]) -> f64 {
    metric_sum(&parse_metrics(text), "plainsight_flows_total", labels)
}

/// Polls /metrics until the TLS and the PostgreSQL flow were both counted (20 s at most).
fn counted(agent: &LiveAgent) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = agent.metrics();
        let tls = flows(&text, &[("protocol", "tls")]);
        let pg = flows(&text, &[("protocol", "postgres")]);
        if tls >= 1.0 && pg >= 1.0 {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "the open flows were not counted within 20 s:\n{text}\nagent stderr:\n{}",
            agent.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The events of the flows to `port` on the server.
fn to_port(events: &[Value], port: u16) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["dst_port"] == port || e["src_port"] == port)
        .cloned()
        .collect()
}

#[test]
fn open_tls_and_postgres_flows_keep_their_class_across_an_agent_restart() {
    let mut lab = Lab::new(&format!("ms{}", std::process::id()), Hub::Netns);
    lab.start_servers();
    let cfg = lab.path("plainsight.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let (cert, key) = (lab.path("hardened.pem"), lab.path("hardened.key"));
    let accept = PORT_TLS.to_string();
    let mut server = Conn::open(
        &lab.server_ns,
        &[
            "openssl", "s_server", "-quiet", "-accept", &accept, "-cert", &cert, "-key", &key,
        ],
        &[],
        "openssl s_server",
    );
    lab.wait_port(PORT_TLS);

    // The agent that sees the connections open.
    let mut before = LiveAgent::start(&lab, PORT_METRICS, &["--config", &cfg]);
    let connect = format!("{SERVER_IP}:{PORT_TLS}");
    let mut tls = Conn::open(
        &lab.client_ns,
        &[
            "openssl", "s_client", "-quiet", "-ign_eof", "-connect", &connect,
        ],
        &[],
        "openssl s_client",
    );
    let conninfo =
        format!("host={SERVER_IP} port={PORT_PG} user=postgres dbname=postgres sslmode=disable");
    let psql = Lab::pg_bin("psql");
    let mut pg = Conn::open(
        &lab.client_ns,
        &[&psql, "-X", "-A", "-t", &conninfo],
        &[("PGPASSWORD", &lab.pg_password)],
        "psql",
    );
    std::thread::sleep(Duration::from_secs(1));
    tls.push(3, "hello over tls");
    server.push(2, "hello from the server");
    pg.push(3, "select 40 + 2;");
    let text = counted(&before);
    let enc_before = flows(&text, &[("encrypted", "true")]);
    let pg_before = flows(&text, &[("protocol", "postgres")]);
    assert_eq!(enc_before, 1.0, "one encrypted flow (the TLS one):\n{text}");
    before.signal_and_wait(libc::SIGTERM);
    let events_before = before.events();
    drop(before);

    // Restart while both connections stay open: the new agent meets them mid-stream.
    let after = LiveAgent::start(&lab, PORT_METRICS, &["--config", &cfg]);
    tls.push(3, "more over tls");
    server.push(2, "more from the server");
    pg.push(3, "select 41 + 1;");
    let text = counted(&after);
    let enc_after = flows(&text, &[("encrypted", "true")]);
    let pg_after = flows(&text, &[("protocol", "postgres")]);
    let events_after = after.events();
    let ctx = format!(
        "/metrics after the restart:\n{text}\nevents before: {events_before:#?}\nevents after: {events_after:#?}"
    );
    assert_eq!(
        enc_after, enc_before,
        "plainsight_flows_total{{encrypted=\"true\"}} after the restart must equal its value before, for the same open flows\n{ctx}"
    );
    assert_eq!(
        pg_after, pg_before,
        "the PostgreSQL flow is counted alike\n{ctx}"
    );
    assert_eq!(
        flows(&text, &[("protocol", "unknown_binary")]),
        0.0,
        "nothing left unknown\n{ctx}"
    );

    // Before: seen from the handshake, so no mid-stream mark.
    let tls_before = to_port(&events_before, PORT_TLS);
    assert!(
        tls_before.iter().any(|e| e["protocol"] == "tls"
            && e["encrypted"] == true
            && e["tls"]["established"] == true
            && e.get("midstream").is_none()),
        "{ctx}"
    );
    // After: TLS from its application-data records, no handshake field.
    let tls_after = to_port(&events_after, PORT_TLS);
    assert_eq!(tls_after.len(), 1, "{ctx}");
    let t = &tls_after[0];
    assert_eq!(t["protocol"], "tls", "{ctx}");
    assert_eq!(t["encrypted"], true, "{ctx}");
    assert_eq!(t["midstream"], true, "{ctx}");
    assert_eq!(t["tls"]["midstream"], true, "{ctx}");
    assert!(
        t["tls"]["version"].is_null() && t["tls"]["ja4"].is_null(),
        "{ctx}"
    );
    assert!(
        t["findings"].as_array().unwrap().is_empty(),
        "no handshake finding without a handshake\n{ctx}"
    );
    // PostgreSQL from its messages; the cleartext finding still fires.
    let pg_after_events = to_port(&events_after, PORT_PG);
    assert_eq!(pg_after_events.len(), 1, "{ctx}");
    let p = &pg_after_events[0];
    assert_eq!(p["protocol"], "postgres", "{ctx}");
    assert_eq!(p["midstream"], true, "{ctx}");
    assert!(
        p["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "plaintext.postgres"),
        "{ctx}"
    );
    // The password travelled before the restart; neither agent wrote it anywhere.
    for text in [
        std::fs::read_to_string(&after.events).unwrap_or_default(),
        after.stderr_text(),
    ] {
        assert!(!text.contains(&lab.pg_password));
    }
}
