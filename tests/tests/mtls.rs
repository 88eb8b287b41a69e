//! Mutual TLS, live: `plainsight run` on the lab's client-side hub interface while curl
//! connects to `openssl s_server` instances in the server namespace: one that requires a
//! client certificate (`-Verify 1`), one that asks for none and one that asks but accepts
//! an empty answer (`-verify 1`), over TLS 1.3 and TLS 1.2, with and without a client
//! certificate (RSA, with a SPIFFE URI SAN). Asserts each flow's `tls.client_auth`, its
//! source, the TLS 1.2 client certificate's names, `tls.mtls.absent` exactly where the
//! client presented nothing and the handshake went through, and the `client_auth` label
//! of `plainsight_tls_handshakes_total`. A tcpdump capture of the same interface, fed to
//! `plainsight pcap`, must say the same for every flow (pcap/live parity: in live mode the
//! kernel stops capturing a flow once the engine has seen enough).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use plainsight_tests::expect::ids;
use plainsight_tests::lab::{
    metric_sum, ns_cmd, parse_events, parse_metrics, pcap_stdout, Hub, Lab, LiveAgent, SERVER_IP,
    SNI_HARDENED,
};
use plainsight_tests::{sh, start_tcpdump, Guard};
use serde_json::Value;

/// Ports of this test (24000-24099): servers, then the clients' local ports, then /metrics.
const REQUIRED: u16 = 24010;
const PLAIN: u16 = 24011;
const OPTIONAL: u16 = 24012;
const METRICS_PORT: u16 = 24099;
const SPIFFE: &str = "spiffe://lab.test/ns/mt/sa/client";

/// One connection: the client's local port, server port, TLS 1.3 or 1.2, with a client
/// certificate or not; then what the agent must say.
struct Case {
    local: u16,
    server: u16,
    tls13: bool,
    cert: bool,
    client_auth: &'static str,
    absent: bool,
    /// The handshake completes (a TLS 1.2 server refusing an empty Certificate says so in
    /// a plaintext alert; a TLS 1.3 one only after the client's Finished).
    established: bool,
}

const CASES: &[Case] = &[
    Case {
        local: 24020,
        server: REQUIRED,
        tls13: true,
        cert: true,
        client_auth: "presented",
        absent: false,
        established: true,
    },
    Case {
        local: 24021,
        server: REQUIRED,
        tls13: true,
        cert: false,
        client_auth: "requested",
        absent: false,
        established: true,
    },
    Case {
        local: 24022,
        server: REQUIRED,
        tls13: false,
        cert: true,
        client_auth: "presented",
        absent: false,
        established: true,
    },
    Case {
        local: 24023,
        server: REQUIRED,
        tls13: false,
        cert: false,
        client_auth: "requested",
        absent: false,
        established: false,
    },
    Case {
        local: 24024,
        server: PLAIN,
        tls13: true,
        cert: false,
        client_auth: "none",
        absent: true,
        established: true,
    },
    Case {
        local: 24025,
        server: PLAIN,
        tls13: false,
        cert: false,
        client_auth: "none",
        absent: true,
        established: true,
    },
    Case {
        local: 24026,
        server: OPTIONAL,
        tls13: true,
        cert: false,
        client_auth: "requested",
        absent: true,
        established: true,
    },
];

/// A client certificate signed by the lab CA: RSA 2048, SAN = a SPIFFE ID and a DNS name.
fn make_client_cert(lab: &Lab) {
    let (key, csr, crt, ext) = (
        lab.path("client.key"),
        lab.path("client.csr"),
        lab.path("client.pem"),
        lab.path("client.ext"),
    );
    std::fs::write(
        &ext,
        format!("subjectAltName=URI:{SPIFFE},DNS:client.lab.test\nextendedKeyUsage=clientAuth\n"),
    )
    .unwrap();
    sh(&[
        "openssl",
        "req",
        "-new",
        "-nodes",
        "-newkey",
        "rsa:2048",
        "-subj",
        "/O=Plainsight Lab/CN=mt-client",
        "-keyout",
        &key,
        "-out",
        &csr,
    ]);
    sh(&[
        "openssl",
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &lab.path("ca.pem"),
        "-CAkey",
        &lab.path("ca.key"),
        "-set_serial",
        "4242",
        "-days",
        "30",
        "-sha256",
        "-extfile",
        &ext,
        "-out",
        &crt,
    ]);
}

fn s_server(lab: &Lab, port: u16, verify: &[&str]) -> Guard {
    let port = port.to_string();
    let (cert, key, ca) = (
        lab.path("hardened.pem"),
        lab.path("hardened.key"),
        lab.path("ca.pem"),
    );
    let mut a = vec![
        "openssl", "s_server", "-quiet", "-www", "-accept", &port, "-cert", &cert, "-key", &key,
        "-CAfile", &ca,
    ];
    a.extend_from_slice(verify);
    let log = std::fs::File::create(lab.dir.join(format!("s_server-{port}.log"))).unwrap();
    let child = ns_cmd(&lab.server_ns, &a)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("openssl s_server");
    Guard(child)
}

fn connect(lab: &Lab, c: &Case) {
    let resolve = format!("{SNI_HARDENED}:{}:{SERVER_IP}", c.server);
    let url = format!("https://{SNI_HARDENED}:{}/", c.server);
    let local = c.local.to_string();
    let (ca, cert, key) = (
        lab.path("ca.pem"),
        lab.path("client.pem"),
        lab.path("client.key"),
    );
    let mut a = vec![
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "--cacert",
        &ca,
        "--resolve",
        &resolve,
        "--local-port",
        &local,
    ];
    if c.tls13 {
        a.push("--tlsv1.3");
    } else {
        a.extend_from_slice(&["--tlsv1.2", "--tls-max", "1.2"]);
    }
    if c.cert {
        a.extend_from_slice(&["--cert", &cert, "--key", &key]);
    }
    a.push(&url);
    let out = lab.client(&a, None);
    // The server that requires a certificate refuses the clients without one.
    let refused = c.server == REQUIRED && !c.cert;
    assert_eq!(
        out.status.success(),
        !refused,
        "curl from :{} to :{}: {}\n{}",
        c.local,
        c.server,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn client_auth_events_findings_and_metric_label_live() {
    let lab = Lab::new("mt-live", Hub::Netns);
    lab.make_certs();
    make_client_cert(&lab);
    let _servers = [
        s_server(&lab, REQUIRED, &["-Verify", "1"]),
        s_server(&lab, PLAIN, &[]),
        s_server(&lab, OPTIONAL, &["-verify", "1"]),
    ];
    for p in [REQUIRED, PLAIN, OPTIONAL] {
        lab.wait_port(p);
    }
    let hub = lab.hub_ns.clone().expect("a hub namespace");
    let pcap = lab.path("live.pcap");
    let mut tcpdump = start_tcpdump(&hub, &lab.client_hub_if, &pcap);
    let mut agent = LiveAgent::start(&lab, METRICS_PORT, &[]);
    for c in CASES {
        connect(&lab, c);
    }

    // Every flow ends with FIN; wait until all are counted.
    let completed = CASES.iter().filter(|c| c.established).count() as f64;
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = agent.metrics();
        let s = parse_metrics(&text);
        let done = metric_sum(&s, "plainsight_tls_handshakes_total", &[]) >= completed
            && metric_sum(&s, "plainsight_tls_handshake_failures_total", &[]) >= 1.0;
        if done {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "handshakes never all counted:\n{text}\n{}",
            agent.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let s = parse_metrics(&text);
    for (auth, n) in [
        ("presented", 2.0),
        ("requested", 2.0),
        ("none", 2.0),
        ("unknown", 0.0),
    ] {
        assert_eq!(
            metric_sum(
                &s,
                "plainsight_tls_handshakes_total",
                &[("client_auth", auth)]
            ),
            n,
            "client_auth=\"{auth}\":\n{text}"
        );
    }
    assert_eq!(
        metric_sum(
            &s,
            "plainsight_findings_total",
            &[("id", "tls.mtls.absent")]
        ),
        3.0,
        "{text}"
    );

    let st = agent.signal_and_wait(libc::SIGTERM);
    assert_eq!(st.code(), Some(0), "{}", agent.stderr_text());
    let events = agent.events();
    for c in CASES {
        let e: &Value = events
            .iter()
            .find(|e| e["src_port"] == u64::from(c.local) && e["dst_port"] == u64::from(c.server))
            .unwrap_or_else(|| panic!("no event for :{} → :{}: {events:#?}", c.local, c.server));
        let tls = &e["tls"];
        let want_version = if c.tls13 { "TLS 1.3" } else { "TLS 1.2" };
        assert_eq!(tls["version"], want_version, "{e}");
        assert_eq!(tls["client_auth"], c.client_auth, "{e}");
        let source = if c.tls13 { "inferred" } else { "handshake" };
        assert_eq!(tls["client_auth_source"], source, "{e}");
        assert_eq!(tls["established"], c.established, "{e}");
        assert_eq!(ids(e).contains("tls.mtls.absent"), c.absent, "{e}");
        if !c.established {
            assert!(ids(e).contains("tls.handshake.failure"), "{e}");
        }
        if !c.tls13 && c.cert {
            assert_eq!(
                tls["client_cert"]["subject"], "O=Plainsight Lab, CN=mt-client",
                "{e}"
            );
            assert_eq!(
                tls["client_cert"]["san"],
                serde_json::json!([SPIFFE, "client.lab.test"]),
                "{e}"
            );
        } else {
            assert!(
                tls["client_cert"].is_null(),
                "names only travel in TLS 1.2: {e}"
            );
        }
    }
    let st = tcpdump.interrupt();
    assert!(st.success() || st.code().is_none(), "tcpdump: {st}");
    let offline = parse_events(&pcap_stdout(&pcap, &[]));
    let view = |events: &[Value]| {
        let mut v: Vec<String> = events
            .iter()
            .filter(|e| e["protocol"] == "tls")
            .map(|e| {
                format!(
                    "{} {} {} {} {:?}",
                    e["src_port"],
                    e["tls"]["client_auth"],
                    e["tls"]["client_auth_source"],
                    e["tls"]["client_cert"],
                    ids(e)
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(view(&offline), view(&events), "pcap and live disagree");
    let text = std::fs::read_to_string(&agent.events).unwrap();
    assert!(
        !text.contains("PRIVATE KEY") && !text.contains("BEGIN CERTIFICATE"),
        "no key or certificate body in events"
    );
}
