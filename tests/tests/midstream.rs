//! Flows seen mid-stream, live: a TLS connection (openssl s_client to s_server) and a
//! PostgreSQL session (psql) stay open while the agent is restarted. The agent that was
//! running when they opened saw their handshakes; the one started after sees them only from
//! the middle. Both must classify them alike (`tls`, encrypted; `postgres`), the second with
//! `midstream: true`, and `plainsight_flows_total{encrypted="true"}` must be the same for
//! the open flows before and after the restart (issue 14, scope 2).
//!
//! Flows end here by idling past `tcp_idle_secs` (3 s), which is when they are counted, so
//! each agent's count is read while the connections stay open.
//!
//! Also (scope 4): SMTP through a SOCKS 5 proxy with a password (curl through a small RFC 1928
//! server written here) is `smtp` with `proxy: "socks5"`, and the proxy password is a
//! credential that never reaches the output. Both tests record the traffic with tcpdump and
//! check that `plainsight pcap` on the recording says the same.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::process::{ChildStdin, Stdio};
use std::time::{Duration, Instant};

use plainsight_tests::lab::{
    metric_sum, ns_cmd, parse_events, parse_metrics, pcap_stdout, Hub, Lab, LiveAgent, PORT_PG,
    PYTHON, SERVER_IP, SMTP_PLAIN_PORT,
};
use plainsight_tests::{start_tcpdump, Guard};
use serde_json::Value;

/// This file's ports (the `ms` lab's range, 24300-24399): /metrics, the TLS server, the
/// SOCKS proxy and the second test's /metrics.
const PORT_METRICS: u16 = 24300;
const PORT_TLS: u16 = 24301;
const PORT_SOCKS: u16 = 24302;
const PORT_METRICS_2: u16 = 24303;

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

/// The events of the flows to `port` on the server that carried payload (a packet after a
/// close can open a payload-less flow of its own: `none`, no finding).
fn to_port(events: &[Value], port: u16) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["dst_port"] == port || e["src_port"] == port)
        .filter(|e| e["protocol"] != "none")
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

    // Restart while both connections stay open: the new agent meets them mid-stream, and
    // so does a recording started now.
    let hub = lab.hub_ns.clone().unwrap();
    let pcap = lab.path("midstream.pcap");
    let mut tcpdump = start_tcpdump(&hub, &lab.client_hub_if, &pcap);
    let after = LiveAgent::start(&lab, PORT_METRICS, &["--config", &cfg]);
    tls.push(3, "more over tls");
    server.push(2, "more from the server");
    pg.push(3, "select 41 + 1;");
    let text = counted(&after);
    let enc_after = flows(&text, &[("encrypted", "true")]);
    let pg_after = flows(&text, &[("protocol", "postgres")]);
    let events_after = after.events();
    tcpdump.interrupt();
    let offline = offline_events(&pcap);
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
    // The recording, read offline, says the same of both flows.
    for (port, protocol) in [(PORT_TLS, "tls"), (PORT_PG, "postgres")] {
        let e = to_port(&offline, port);
        assert_eq!(e.len(), 1, "offline {port}: {offline:#?}");
        assert_eq!(e[0]["protocol"], protocol, "offline: {offline:#?}");
        assert_eq!(e[0]["midstream"], true, "offline: {offline:#?}");
    }
    // The password travelled before the restart; neither agent wrote it anywhere.
    for text in [
        std::fs::read_to_string(&after.events).unwrap_or_default(),
        after.stderr_text(),
    ] {
        assert!(!text.contains(&lab.pg_password));
    }
}

/// `plainsight pcap` on a recording: its events.
fn offline_events(pcap: &str) -> Vec<Value> {
    parse_events(&pcap_stdout(pcap, &[]))
}

/// A SOCKS 5 server (RFC 1928, CONNECT only) that wants RFC 1929 username/password:
/// argv host port user password.
const SOCKS5_SERVER: &str = r#"
import socket, struct, sys, threading
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode(), sys.argv[4].encode()

def recvn(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise OSError("eof")
        b += d
    return b

def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    finally:
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass

def handle(c):
    try:
        _, n = recvn(c, 2)
        if 2 not in recvn(c, n):
            c.sendall(b"\x05\xff")
            return
        c.sendall(b"\x05\x02")
        _, ulen = recvn(c, 2)
        u = recvn(c, ulen)
        p = recvn(c, recvn(c, 1)[0])
        if (u, p) != (user, pw):
            c.sendall(b"\x01\x01")
            return
        c.sendall(b"\x01\x00")
        _, cmd, _, atyp = recvn(c, 4)
        if cmd != 1 or atyp != 1:
            c.sendall(b"\x05\x07\x00\x01" + bytes(6))
            return
        addr = socket.inet_ntoa(recvn(c, 4))
        (dport,) = struct.unpack("!H", recvn(c, 2))
        up = socket.create_connection((addr, dport))
        h, p2 = up.getsockname()[:2]
        c.sendall(b"\x05\x00\x00\x01" + socket.inet_aton(h) + struct.pack("!H", p2))
        threading.Thread(target=pipe, args=(up, c), daemon=True).start()
        pipe(c, up)
    except OSError:
        pass

srv = socket.create_server((host, port))
while True:
    conn, _ = srv.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
"#;

#[test]
fn smtp_through_a_socks5_proxy_is_smtp_and_the_proxy_password_a_credential() {
    let lab = Lab::new(&format!("ms{}s", std::process::id()), Hub::Netns);
    lab.make_certs();
    let _smtp = lab.start_smtp();
    let password = format!("Sox5-{}", std::process::id());
    let port = PORT_SOCKS.to_string();
    let _socks = Guard(
        ns_cmd(
            &lab.server_ns,
            &[
                PYTHON,
                "-c",
                SOCKS5_SERVER,
                SERVER_IP,
                &port,
                "alice",
                &password,
            ],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("socks server"),
    );
    lab.wait_port(PORT_SOCKS);
    let hub = lab.hub_ns.clone().unwrap();
    let pcap = lab.path("socks5-smtp.pcap");
    let mut tcpdump = start_tcpdump(&hub, &lab.client_hub_if, &pcap);
    let mut agent = LiveAgent::start(&lab, PORT_METRICS_2, &[]);

    let mail = lab.path("mail.txt");
    std::fs::write(&mail, "Subject: via socks\r\n\r\nhello\r\n").unwrap();
    let proxy = format!("socks5://alice:{password}@{SERVER_IP}:{PORT_SOCKS}");
    let url = format!("smtp://{SERVER_IP}:{SMTP_PLAIN_PORT}");
    let out = lab.client(
        &[
            "curl",
            "-sS",
            "--max-time",
            "10",
            "-x",
            &proxy,
            &url,
            "--mail-from",
            "a@lab.test",
            "--mail-rcpt",
            "b@lab.test",
            "-T",
            &mail,
        ],
        None,
    );
    assert!(out.status.success(), "curl through SOCKS 5: {out:?}");
    std::thread::sleep(Duration::from_secs(1));
    agent.signal_and_wait(libc::SIGTERM);
    tcpdump.interrupt();

    let live = to_port(&agent.events(), PORT_SOCKS);
    let offline = to_port(&offline_events(&pcap), PORT_SOCKS);
    for (mode, events) in [("live", &live), ("offline", &offline)] {
        assert_eq!(events.len(), 1, "{mode}: {events:#?}");
        let e = &events[0];
        assert_eq!(e["protocol"], "smtp", "{mode}: {e:#}");
        assert_eq!(e["proxy"], "socks5", "{mode}: {e:#}");
        let ids: Vec<&str> = e["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(ids.contains(&"plaintext.smtp"), "{mode}: {ids:?}");
        assert!(ids.contains(&"plaintext.credentials"), "{mode}: {ids:?}");
        assert_eq!(e["plaintext"]["credentials"][0], "socks5", "{mode}: {e:#}");
    }
    for text in [
        std::fs::read_to_string(&agent.events).unwrap_or_default(),
        agent.stderr_text(),
        agent.stdout_text(),
    ] {
        assert!(
            !text.contains(&password),
            "the proxy password reached the output"
        );
    }
}
