//! Issue 13, live: `plainsight run` in a lab against nginx serving content over plain
//! HTTP and nginx only redirecting to HTTPS (findings asserted), and with `[probe]
//! enabled = true` against TLS 1.3 nginx servers driven by real curl handshakes: the
//! certificate that expires in 10 days (made here with openssl) is read by the probe
//! (`plainsight_tls_cert_expiry_seconds` about 10 days, an event with
//! `"source": "probe"`), `tls.hsts.missing` is raised on the servers without
//! `Strict-Transport-Security` (one http/1.1, one h2) and not on the one with it.
//!
//! Safety: TLS 1.3 servers the policy forbids (a denied port, a denied address, an
//! external address, an address of the agent's own node) are contacted by curl too;
//! tcpdump on every interface of the agent's namespace proves the agent sent them not
//! a single SYN, while the allowed ones got theirs, and the skip counters say why.
//!
//! A TLS 1.3 `openssl s_server` that completes the handshake (ALPN http/1.1) and never
//! answers the `HEAD /` proves the read timeout: its certificate is still reported, and
//! no HSTS verdict is made from silence.
//!
//! Topology: the lab's hub (where the agent runs, attached to the client's veth) gets
//! addresses of its own on the bridge, 10.210.0.30 and 198.51.100.30, so the probe can
//! reach the servers at all: a forbidden server is unreachable only by policy.
//! Namespaces `pb-probe-*`; agent metrics on 127.0.0.1:24100 in the hub; TLS servers on
//! ports 24143-24149.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use plainsight_tests::lab::{
    metric_sum, ns_cmd, parse_metrics, which, Hub, Lab, LiveAgent, CLIENT_IP, SERVER_IP,
};
use plainsight_tests::{sh, start_tcpdump, Guard};
use serde_json::Value;

const METRICS_PORT: u16 = 24100;
const HUB_IP: &str = "10.210.0.30";
/// A second address of the server, denied by `[probe] deny`.
const DENIED_IP: &str = "10.210.0.21";
/// TEST-NET-2: outside `[network] internal`.
const EXT_SERVER: &str = "198.51.100.20";
const EXT_CLIENT: &str = "198.51.100.10";
const EXT_HUB: &str = "198.51.100.30";
/// http/1.1, no HSTS, certificate valid 10 days.
const P_EXPIRING: u16 = 24143;
/// h2, with HSTS.
const P_HSTS: u16 = 24144;
/// Denied by `deny_ports`.
const P_DENIED_PORT: u16 = 24145;
/// On DENIED_IP.
const P_DENIED_NET: u16 = 24146;
/// On EXT_SERVER.
const P_EXTERNAL: u16 = 24147;
/// openssl s_server in the hub itself, on HUB_IP.
const P_OWN: u16 = 24148;
/// h2, no HSTS.
const P_H2_NO_HSTS: u16 = 24149;
/// openssl s_server (echo mode, never answers the HEAD): the read timeout ends the probe.
const P_SILENT: u16 = 24150;
const SNI_SILENT: &str = "silent.pb.test";
const SNI_EXPIRING: &str = "expiring.pb.test";
const SNI_HSTS: &str = "hsts.pb.test";
const SNI_H2: &str = "h2.pb.test";
const SNI_OTHER: &str = "other.pb.test";
const PLAIN_CONTENT: u16 = 80;
const PLAIN_REDIRECT: u16 = 8080;

fn self_signed(lab: &Lab, name: &str, cn: &str, days: u32) -> (String, String) {
    let (key, crt) = (
        lab.path(&format!("{name}.key")),
        lab.path(&format!("{name}.pem")),
    );
    sh(&[
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        &days.to_string(),
        "-subj",
        &format!("/CN={cn}"),
        "-addext",
        &format!("subjectAltName=DNS:{cn}"),
        "-keyout",
        &key,
        "-out",
        &crt,
    ]);
    (key, crt)
}

fn nginx_conf(lab: &Lab) -> String {
    let d = lab.dir.to_str().unwrap();
    let (k10, c10) = self_signed(lab, "expiring", SNI_EXPIRING, 10);
    let (ky, cy) = self_signed(lab, "year", SNI_HSTS, 365);
    let tls = |listen: &str, name: &str, key: &str, crt: &str, extra: &str| {
        format!(
            "  server {{ listen {listen}; server_name {name};\n    ssl_certificate {crt}; ssl_certificate_key {key};\n    ssl_protocols TLSv1.3;\n    {extra}\n    location / {{ return 200 \"tls1.3 hello\\n\"; }} }}\n"
        )
    };
    let mut servers = String::new();
    servers += &tls(
        &format!("{SERVER_IP}:{P_EXPIRING} ssl"),
        SNI_EXPIRING,
        &k10,
        &c10,
        "",
    );
    servers += &tls(
        &format!("{SERVER_IP}:{P_HSTS} ssl http2"),
        SNI_HSTS,
        &ky,
        &cy,
        "add_header Strict-Transport-Security \"max-age=31536000\" always;",
    );
    servers += &tls(
        &format!("{SERVER_IP}:{P_H2_NO_HSTS} ssl http2"),
        SNI_H2,
        &ky,
        &cy,
        "",
    );
    for listen in [
        format!("{SERVER_IP}:{P_DENIED_PORT} ssl"),
        format!("{DENIED_IP}:{P_DENIED_NET} ssl"),
        format!("{EXT_SERVER}:{P_EXTERNAL} ssl"),
    ] {
        servers += &tls(&listen, SNI_OTHER, &ky, &cy, "");
    }
    format!(
        r#"daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  default_type text/html;
  client_body_temp_path {d}/nginx-tmp; proxy_temp_path {d}/nginx-tmp;
  fastcgi_temp_path {d}/nginx-tmp; uwsgi_temp_path {d}/nginx-tmp; scgi_temp_path {d}/nginx-tmp;
  keepalive_timeout 0;
  server {{ listen {SERVER_IP}:{PLAIN_CONTENT};
    location / {{ return 200 "<html><body>content over plain HTTP</body></html>\n"; }} }}
  server {{ listen {SERVER_IP}:{PLAIN_REDIRECT};
    location / {{ return 301 https://redirect.pb.test$request_uri; }} }}
{servers}}}
"#
    )
}

fn spawn(ns: &str, args: &[&str], log: &str) -> Guard {
    let f = std::fs::File::create(log).unwrap();
    Guard(
        ns_cmd(ns, args)
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {args:?}: {e}")),
    )
}

/// Waits until `ns` listens on `addr:port` (TCP connect from inside it).
fn wait_listen(ns: &str, addr: &str, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let target = format!("/dev/tcp/{addr}/{port}");
    while !ns_cmd(ns, &["bash", "-c", &format!("exec 3<>{target}")])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
    {
        assert!(
            Instant::now() < deadline,
            "{ns}: {addr}:{port} never listened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn curl(lab: &Lab, args: &[&str]) -> String {
    let mut a = vec!["curl", "-sS", "-m", "10"];
    a.extend_from_slice(args);
    let out = ns_cmd(&lab.client_ns, &a).output().unwrap();
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A TLS 1.3 handshake (and one GET) from the client to `ip:port` as `sni`.
fn tls13_get(lab: &Lab, sni: &str, ip: &str, port: u16) {
    let resolve = format!("{sni}:{port}:{ip}");
    let url = format!("https://{sni}:{port}/");
    curl(
        lab,
        &["-k", "--tlsv1.3", "--http1.1", "--resolve", &resolve, &url],
    );
}

fn findings(e: &Value) -> BTreeSet<String> {
    e["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect()
}

fn detail<'a>(e: &'a Value, id: &str) -> &'a Value {
    e["finding_details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {e}"))
}

/// Waits for an event matching `pred`.
fn wait_event(agent: &LiveAgent, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Some(e) = agent.events().into_iter().find(|e| pred(e)) {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "no event for {what} within 40 s; events: {:?}\nstderr: {}",
            agent.events(),
            agent.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Destinations the hub's own addresses sent a TCP SYN to, from tcpdump's text output.
fn probe_syns(pcap: &str) -> BTreeSet<String> {
    let out = std::process::Command::new("tcpdump")
        .args([
            "-nn",
            "-r",
            pcap,
            "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
        ])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once(" IP ")?;
            let (src, rest) = rest.split_once(" > ")?;
            let dst = rest.split(':').next()?;
            (src.starts_with(&format!("{HUB_IP}.")) || src.starts_with(&format!("{EXT_HUB}.")))
                .then(|| dst.to_owned())
        })
        .collect()
}

#[test]
fn probe_reads_tls13_certificates_and_hsts_and_never_goes_where_forbidden() {
    assert!(
        which("nginx").is_some(),
        "nginx missing: run cargo xtask setup"
    );
    let lab = Lab::new("pb-probe", Hub::Netns);
    let hub = lab.hub_ns.clone().unwrap();
    // Addresses for the probe (hub), the denied server address and the external pair.
    for (ns, dev, ip) in [
        (hub.as_str(), lab.bridge.as_str(), HUB_IP),
        (hub.as_str(), lab.bridge.as_str(), EXT_HUB),
        (lab.server_ns.as_str(), "eth0", DENIED_IP),
        (lab.server_ns.as_str(), "eth0", EXT_SERVER),
        (lab.client_ns.as_str(), "eth0", EXT_CLIENT),
    ] {
        sh(&[
            "ip",
            "-n",
            ns,
            "addr",
            "add",
            &format!("{ip}/24"),
            "dev",
            dev,
        ]);
    }
    std::fs::create_dir_all(lab.dir.join("nginx-tmp")).unwrap();
    let conf = lab.path("nginx.conf");
    std::fs::write(&conf, nginx_conf(&lab)).unwrap();
    let nginx = which("nginx").unwrap();
    let _nginx = spawn(
        &lab.server_ns,
        &[&nginx, "-c", &conf, "-p", &lab.path("")],
        &lab.path("nginx.log"),
    );
    let (own_key, own_crt) = self_signed(&lab, "own", SNI_OTHER, 30);
    let _own = spawn(
        &hub,
        &[
            "openssl",
            "s_server",
            "-accept",
            &format!("{HUB_IP}:{P_OWN}"),
            "-tls1_3",
            "-cert",
            &own_crt,
            "-key",
            &own_key,
            "-www",
            "-quiet",
        ],
        &lab.path("own-s_server.log"),
    );
    for (ip, port) in [
        (SERVER_IP, PLAIN_CONTENT),
        (SERVER_IP, PLAIN_REDIRECT),
        (SERVER_IP, P_EXPIRING),
        (SERVER_IP, P_HSTS),
        (SERVER_IP, P_H2_NO_HSTS),
        (SERVER_IP, P_DENIED_PORT),
        (DENIED_IP, P_DENIED_NET),
        (EXT_SERVER, P_EXTERNAL),
    ] {
        wait_listen(&lab.server_ns, ip, port);
    }
    wait_listen(&hub, HUB_IP, P_OWN);
    // Its stdin stays open (piped, never written): at EOF s_server would stop.
    let (silent_key, silent_crt) = self_signed(&lab, "silent", SNI_SILENT, 60);
    let silent_log = std::fs::File::create(lab.path("silent-s_server.log")).unwrap();
    let _silent = Guard(
        ns_cmd(
            &lab.server_ns,
            &[
                "openssl",
                "s_server",
                "-accept",
                &format!("{SERVER_IP}:{P_SILENT}"),
                "-tls1_3",
                "-alpn",
                "http/1.1",
                "-cert",
                &silent_crt,
                "-key",
                &silent_key,
                "-quiet",
            ],
        )
        .stdin(Stdio::piped())
        .stdout(silent_log.try_clone().unwrap())
        .stderr(silent_log)
        .spawn()
        .unwrap(),
    );
    wait_listen(&lab.server_ns, SERVER_IP, P_SILENT);

    // Every SYN the agent's namespace sends, on any interface.
    let pcap = lab.path("hub-syn.pcap");
    let mut dump = start_tcpdump(&hub, "any", &pcap);

    let cfg = lab.path("probe.toml");
    std::fs::write(
        &cfg,
        format!(
            "[probe]\nenabled = true\ndeny = [\"{DENIED_IP}/32\"]\ndeny_ports = [{P_DENIED_PORT}]\nrate_per_minute = 600\nread_timeout_ms = 1500\n"
        ),
    )
    .unwrap();
    let mut agent = LiveAgent::start(&lab, METRICS_PORT, &["--config", &cfg]);

    // Plain HTTP: content, and a redirect to HTTPS.
    assert!(curl(&lab, &[&format!("http://{SERVER_IP}/")]).contains("content over plain HTTP"));
    curl(
        &lab,
        &[&format!("http://{SERVER_IP}:{PLAIN_REDIRECT}/login")],
    );
    // TLS 1.3 handshakes the agent cannot read a certificate from.
    tls13_get(&lab, SNI_EXPIRING, SERVER_IP, P_EXPIRING);
    tls13_get(&lab, SNI_HSTS, SERVER_IP, P_HSTS);
    tls13_get(&lab, SNI_H2, SERVER_IP, P_H2_NO_HSTS);
    tls13_get(&lab, SNI_OTHER, SERVER_IP, P_DENIED_PORT);
    tls13_get(&lab, SNI_OTHER, DENIED_IP, P_DENIED_NET);
    tls13_get(&lab, SNI_OTHER, EXT_SERVER, P_EXTERNAL);
    tls13_get(&lab, SNI_OTHER, HUB_IP, P_OWN);
    // A bare handshake (s_client closes at its stdin's EOF).
    let out = ns_cmd(
        &lab.client_ns,
        &[
            "openssl",
            "s_client",
            "-connect",
            &format!("{SERVER_IP}:{P_SILENT}"),
            "-servername",
            SNI_SILENT,
            "-tls1_3",
            "-alpn",
            "http/1.1",
        ],
    )
    .stdin(Stdio::null())
    .output()
    .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("TLSv1.3"),
        "s_client: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Twice more to the expiring server: still one probe per interval.
    tls13_get(&lab, SNI_EXPIRING, SERVER_IP, P_EXPIRING);
    tls13_get(&lab, SNI_EXPIRING, SERVER_IP, P_EXPIRING);

    // --- HTTP findings.
    let content = wait_event(&agent, "plain HTTP content", |e| {
        e["protocol"] == "http" && e["dst_port"] == PLAIN_CONTENT
    });
    assert_eq!(
        findings(&content),
        BTreeSet::from([
            "http.no_https_redirect".to_owned(),
            "plaintext.http".to_owned()
        ])
    );
    assert_eq!(
        detail(&content, "http.no_https_redirect")["evidence"]["status"],
        200
    );
    let redirect = wait_event(&agent, "plain HTTP redirect", |e| {
        e["protocol"] == "http" && e["dst_port"] == PLAIN_REDIRECT
    });
    assert_eq!(
        findings(&redirect),
        BTreeSet::from(["plaintext.http".to_owned()])
    );
    let p = detail(&redirect, "plaintext.http");
    assert_eq!(p["severity"], "low");
    assert_eq!(p["evidence"]["redirect"], "https");

    // --- Probed certificates.
    let probed = |sni: &'static str, port: u16| {
        wait_event(&agent, sni, move |e| {
            e["source"] == "probe" && e["tls"]["sni"] == sni && e["dst_port"] == port
        })
    };
    let exp = probed(SNI_EXPIRING, P_EXPIRING);
    assert_eq!(exp["dst_ip"], SERVER_IP);
    assert_eq!(exp["src_ip"], HUB_IP, "the probe's own socket");
    assert_eq!(exp["tls"]["version"], "TLS 1.3");
    assert_eq!(exp["tls"]["alpn_selected"], "http/1.1");
    assert_eq!(exp["tls"]["cert"]["san"][0], SNI_EXPIRING);
    let ids = findings(&exp);
    for id in [
        "tls.cert.expiring",
        "tls.cert.self_signed",
        "tls.hsts.missing",
    ] {
        assert!(ids.contains(id), "{id} missing: {ids:?}");
    }
    let h2 = probed(SNI_H2, P_H2_NO_HSTS);
    assert_eq!(h2["tls"]["alpn_selected"], "h2");
    assert!(findings(&h2).contains("tls.hsts.missing"), "{h2}");
    let hsts = probed(SNI_HSTS, P_HSTS);
    assert_eq!(hsts["tls"]["alpn_selected"], "h2");
    assert!(!findings(&hsts).contains("tls.hsts.missing"), "{hsts}");
    assert!(!findings(&hsts).contains("tls.cert.expiring"), "{hsts}");
    // The silent server: certificate read, the HEAD timed out, no HSTS verdict.
    let silent = probed(SNI_SILENT, P_SILENT);
    assert_eq!(silent["tls"]["alpn_selected"], "http/1.1");
    assert_eq!(silent["tls"]["cert"]["san"][0], SNI_SILENT);
    assert!(!findings(&silent).contains("tls.hsts.missing"), "{silent}");
    // It did get the HEAD (echo mode prints it) and kept the connection open: the probe
    // ended on its read timeout.
    let log = std::fs::read_to_string(lab.path("silent-s_server.log")).unwrap();
    assert!(log.contains("HEAD / HTTP/1.1"), "s_server log: {log}");

    // The captured TLS 1.3 flows themselves carried no certificate.
    let passive = wait_event(&agent, "passive TLS 1.3 flow", |e| {
        e.get("source").is_none() && e["dst_port"] == P_EXPIRING && e["src_ip"] == CLIENT_IP
    });
    assert!(passive["tls"]["cert"].is_null());

    // Metrics: the probed expiry is about 10 days; attempts and skips by reason.
    let deadline = Instant::now() + Duration::from_secs(10);
    let m = loop {
        let m = parse_metrics(&agent.metrics());
        // Published at the agent's next tick after the last probe's result.
        let skipped = metric_sum(&m, "plainsight_probe_skipped_total", &[]);
        let ok = metric_sum(&m, "plainsight_probe_attempts_total", &[("outcome", "ok")]);
        if (skipped >= 4.0 && ok >= 4.0) || Instant::now() > deadline {
            break m;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let left = metric_sum(
        &m,
        "plainsight_tls_cert_expiry_seconds",
        &[("server_name", SNI_EXPIRING)],
    );
    let days = left / 86_400.0;
    assert!(
        (9.9..=10.0).contains(&days),
        "expiry {left} s = {days} days"
    );
    assert_eq!(
        metric_sum(&m, "plainsight_probe_attempts_total", &[("outcome", "ok")]),
        4.0,
        "one probe each for the four allowed endpoints"
    );
    for reason in ["denied_port", "denied_network", "external", "own_node"] {
        assert_eq!(
            metric_sum(&m, "plainsight_probe_skipped_total", &[("reason", reason)]),
            1.0,
            "{reason}"
        );
    }
    assert_eq!(
        metric_sum(
            &m,
            "plainsight_findings_total",
            &[("id", "tls.hsts.missing")]
        ),
        2.0
    );

    // --- No connection where the policy forbids; one to each allowed endpoint.
    std::thread::sleep(Duration::from_millis(500));
    dump.interrupt();
    let syns = probe_syns(&pcap);
    for allowed in [P_EXPIRING, P_HSTS, P_H2_NO_HSTS, P_SILENT] {
        assert!(
            syns.contains(&format!("{SERVER_IP}.{allowed}")),
            "{allowed}: {syns:?}"
        );
    }
    for forbidden in [
        format!("{SERVER_IP}.{P_DENIED_PORT}"),
        format!("{DENIED_IP}.{P_DENIED_NET}"),
        format!("{EXT_SERVER}.{P_EXTERNAL}"),
        format!("{HUB_IP}.{P_OWN}"),
    ] {
        assert!(
            !syns.contains(&forbidden),
            "probe connected to forbidden {forbidden}"
        );
    }
    assert_eq!(syns.len(), 4, "only the four allowed endpoints: {syns:?}");
    agent.signal_and_wait(libc::SIGTERM);
}
