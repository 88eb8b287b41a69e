//! QUIC, live: a real QUIC client and server (quinn over rustls, `src/bin/quic-peer.rs`) in
//! the lab's namespaces, `plainsight run` on the client's hub-side veth. Two connections:
//! one with a ClientHello that fits one Initial packet, one whose ClientHello (41 ALPN
//! values, about 2.5 KB) needs CRYPTO frames in two Initial packets in two datagrams, as
//! post-quantum key shares do. The events and /metrics must report both handshakes, and a
//! tcpdump capture of the same interface, fed to `plainsight pcap`, must say the same.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use plainsight_tests::lab::{
    metric_sum, ns_cmd, parse_events, parse_metrics, pcap_stdout, run_timeout, Hub, Lab, LiveAgent,
    SERVER_IP, SNI_HARDENED,
};
use plainsight_tests::{start_tcpdump, Guard};
use serde_json::Value;

/// The QUIC server's UDP port and the agent's metrics port (this test's range: 24200-24299).
const PORT: u16 = 24243;
const AGENT_PORT: u16 = 24280;

/// UDP flows end after 2 s idle, so the test need not wait the default 60 s.
const CONFIG: &str = "[limits]\nudp_idle_secs = 2\n";

/// The fields pcap and live must agree on, per QUIC flow (keyed by the client port).
fn quic_view(events: &[Value]) -> BTreeMap<u64, Vec<Value>> {
    events
        .iter()
        .filter(|e| e["protocol"] == "quic")
        .map(|e| {
            let t = &e["tls"];
            let v = [
                e["dst_port"].clone(),
                e["transport"].clone(),
                e["encrypted"].clone(),
                e["quic"]["version"].clone(),
                t["sni"].clone(),
                t["alpn"].clone(),
                t["version"].clone(),
                t["cipher"].clone(),
                t["group_selected"].clone(),
                t["ja3"].clone(),
                t["ja4"].clone(),
                t["established"].clone(),
                Value::from(
                    e["findings"]
                        .as_array()
                        .map(|a| a.len())
                        .unwrap_or_default(),
                ),
            ];
            (e["src_port"].as_u64().unwrap(), v.to_vec())
        })
        .collect()
}

fn quic_client(lab: &Lab, peer: &str, big: bool) {
    let addr = format!("{SERVER_IP}:{PORT}");
    let ca = lab.path("ca.pem");
    let mut args = vec![peer, "client", addr.as_str(), SNI_HARDENED, ca.as_str()];
    if big {
        args.push("--big");
    }
    let out = run_timeout(ns_cmd(&lab.client_ns, &args), None, Duration::from_secs(20));
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "pong",
        "quic-peer client (big: {big}): {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn live_quic_handshakes_are_reported_and_match_pcap() {
    let lab = Lab::new(&format!("qu{}", std::process::id()), Hub::Netns);
    lab.make_certs();
    let hub = lab.hub_ns.clone().unwrap();
    let cfg = lab.path("plainsight.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let pcap = lab.path("quic.pcap");
    let mut tcpdump = start_tcpdump(&hub, &lab.client_hub_if, &pcap);
    let mut agent = LiveAgent::start(&lab, AGENT_PORT, &["--config", &cfg]);

    let peer = env!("CARGO_BIN_EXE_quic-peer");
    let cert = lab.path("hardened.pem");
    let key = lab.path("hardened.key");
    let listen = format!("{SERVER_IP}:{PORT}");
    let _server = Guard(
        ns_cmd(&lab.server_ns, &[peer, "server", &listen, &cert, &key])
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn quic-peer server"),
    );
    // Wait for the UDP socket, so that no client attempt meets a closed port.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = ns_cmd(
            &lab.server_ns,
            &["ss", "-Hlun", &format!("sport = :{PORT}")],
        )
        .output()
        .unwrap();
        if !String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "quic-peer server never listened");
        std::thread::sleep(Duration::from_millis(100));
    }

    quic_client(&lab, peer, false);
    quic_client(&lab, peer, true);

    // Both flows end 2 s after their last packet; then they are counted.
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = agent.metrics();
        let s = parse_metrics(&text);
        if metric_sum(&s, "plainsight_flows_total", &[("protocol", "quic")]) >= 2.0 {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no 2 QUIC flows in /metrics within 30 s:\n{text}\nstderr:\n{}",
            agent.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let s = parse_metrics(&text);
    assert_eq!(
        metric_sum(
            &s,
            "plainsight_flows_total",
            &[
                ("protocol", "quic"),
                ("encrypted", "true"),
                ("transport", "udp")
            ]
        ),
        2.0,
        "QUIC flows, encrypted, over UDP:\n{text}"
    );
    assert_eq!(
        metric_sum(
            &s,
            "plainsight_tls_handshakes_total",
            &[
                ("tls_version", "TLS 1.3"),
                ("alpn_offered", "h3"),
                ("alpn_negotiated", "unknown"),
                ("group_class", "classical"),
            ]
        ),
        2.0,
        "both QUIC handshakes completed:\n{text}"
    );
    // Nothing of the handshakes is dropped. The kernel's byte budget (8 KiB a direction)
    // may end inside a 1-RTT datagram sent after the handshake, before the agent's `done`
    // mark reaches the kernel: that cut is counted as copy_truncated and is allowed here.
    let dropped: Vec<_> = s
        .iter()
        .filter(|x| x.name == "plainsight_dropped_total" && x.value > 0.0)
        .filter(|x| x.label("reason") != Some("copy_truncated"))
        .collect();
    assert!(dropped.is_empty(), "nothing may be dropped: {dropped:?}");

    let st = agent.signal_and_wait(libc::SIGTERM);
    assert_eq!(st.code(), Some(0), "stderr:\n{}", agent.stderr_text());
    let st = tcpdump.interrupt();
    assert!(st.success() || st.code().is_none(), "tcpdump: {st}");

    let events = agent.events();
    let quic: Vec<&Value> = events.iter().filter(|e| e["protocol"] == "quic").collect();
    assert_eq!(quic.len(), 2, "two QUIC events: {events:#?}");
    let mut alpn_counts = Vec::new();
    for e in &quic {
        let t = &e["tls"];
        assert_eq!(e["transport"], "udp", "{e}");
        assert_eq!(e["encrypted"], true, "{e}");
        assert_eq!(e["dst_port"], PORT, "{e}");
        assert_eq!(e["quic"]["version"], "1", "{e}");
        assert_eq!(t["sni"], SNI_HARDENED, "{e}");
        assert_eq!(t["alpn"][0], "h3", "{e}");
        assert_eq!(t["version"], "TLS 1.3", "{e}");
        assert_eq!(t["established"], true, "{e}");
        assert!(t["cipher"].as_str().unwrap().starts_with("TLS_"), "{e}");
        let ja4 = t["ja4"].as_str().unwrap();
        assert!(
            ja4.starts_with("q13d") && ja4.get(8..10) == Some("h3"),
            "JA4 of a QUIC ClientHello with SNI and ALPN h3: {ja4}"
        );
        assert!(
            e["findings"].as_array().unwrap().is_empty(),
            "a hardened TLS 1.3 handshake raises nothing: {e}"
        );
        alpn_counts.push(t["alpn"].as_array().unwrap().len());
    }
    alpn_counts.sort_unstable();
    assert_eq!(
        alpn_counts,
        [1, 41],
        "the large ClientHello was reassembled from two datagrams"
    );

    // pcap/live parity on the same interface.
    let offline = parse_events(&pcap_stdout(&pcap, &["--config", &cfg]));
    assert_eq!(
        quic_view(&events),
        quic_view(&offline),
        "live and pcap QUIC events differ"
    );
}
