//! The agent binary, live, on a veth pair between two network namespaces the test
//! creates and removes: real servers and clients, tcpdump on the same interface as the
//! reference, and checks that detaching leaves nothing behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use aya::programs::{SchedClassifier, TcAttachType};
use plainsight_tests::{
    read_pcap, reassemble, sh, start_agent, start_tcpdump, wait_port, Guard, VethPair,
};
use serde_json::Value;

/// Segment events from the agent's JSON lines.
#[derive(Debug, Clone)]
struct KernelSeg {
    src: SocketAddr,
    dst: SocketAddr,
    kind: String,
    seq: u32,
    payload_len: u32,
    payload: Vec<u8>,
}

fn parse_output(out: &str) -> (Vec<KernelSeg>, Vec<Value>, Value) {
    let mut segs = Vec::new();
    let mut flows = Vec::new();
    let mut counters = Value::Null;
    for line in out.lines() {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}"));
        match v["type"].as_str() {
            Some("segment") => segs.push(KernelSeg {
                src: v["src"].as_str().unwrap().parse().unwrap(),
                dst: v["dst"].as_str().unwrap().parse().unwrap(),
                kind: v["kind"].as_str().unwrap().to_owned(),
                seq: v["seq"].as_u64().unwrap_or(0) as u32,
                payload_len: v["payload_len"].as_u64().unwrap() as u32,
                // The tests that read payload start the agent with `--payload`.
                payload: v["payload_hex"]
                    .as_str()
                    .map(|h| hex::decode(h).unwrap())
                    .unwrap_or_default(),
            }),
            Some("flow") => flows.push(v),
            Some("counters") => counters = v,
            other => panic!("unknown line type {other:?}"),
        }
    }
    assert!(
        counters.is_object(),
        "the agent prints its counters on exit"
    );
    (segs, flows, counters)
}

/// Asserts that what the kernel captured, per direction, is byte-identical to what
/// tcpdump captured on the same interface: every captured segment matches the pcap
/// packet with the same sequence number, and the reassembled kernel stream is a prefix
/// of the reassembled tcpdump stream. Returns the kernel streams by direction.
fn assert_matches_pcap(
    segs: &[KernelSeg],
    pcap: &str,
) -> BTreeMap<(SocketAddr, SocketAddr), Vec<u8>> {
    let packets = read_pcap(pcap);
    assert!(!packets.is_empty(), "tcpdump captured nothing");
    let mut dirs: BTreeMap<(SocketAddr, SocketAddr), Vec<&KernelSeg>> = BTreeMap::new();
    for s in segs.iter().filter(|s| s.kind == "segment") {
        dirs.entry((s.src, s.dst)).or_default().push(s);
    }
    assert!(!dirs.is_empty(), "the agent captured no segment");
    let mut streams = BTreeMap::new();
    for ((src, dst), ks) in &dirs {
        for k in ks {
            let p = packets
                .iter()
                .find(|p| p.src == *src && p.dst == *dst && p.seq == k.seq && !p.payload.is_empty())
                .unwrap_or_else(|| panic!("no pcap packet for {src}->{dst} seq {}", k.seq));
            assert_eq!(
                k.payload_len as usize,
                p.payload.len(),
                "payload length on the wire"
            );
            assert_eq!(
                &k.payload[..],
                &p.payload[..k.payload.len()],
                "bytes of seq {}",
                k.seq
            );
        }
        let kernel = reassemble(ks.iter().map(|k| (k.seq, &k.payload[..])));
        let wire = reassemble(
            packets
                .iter()
                .filter(|p| p.src == *src && p.dst == *dst)
                .map(|p| (p.seq, &p.payload[..])),
        );
        assert!(!kernel.is_empty());
        assert_eq!(&kernel[..], &wire[..kernel.len()], "{src}->{dst} stream");
        streams.insert((*src, *dst), kernel);
    }
    streams
}

fn tmpdir(tag: &str) -> String {
    let d = format!("/tmp/plainsight-test-{tag}-{}", std::process::id());
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stop_tcpdump(mut t: Guard) {
    let st = t.interrupt();
    assert!(st.success() || st.code().is_none(), "tcpdump: {st}");
}

#[test]
fn curl_http_capture_matches_tcpdump() {
    let net = VethPair::new("http", 1500);
    let dir = tmpdir("http");
    std::fs::write(
        format!("{dir}/index.html"),
        "hello from the server side\n".repeat(200),
    )
    .unwrap();
    let _server = Guard(
        VethPair::cmd(
            &net.ns_b,
            &[
                "python3",
                "-m",
                "http.server",
                "8080",
                "--bind",
                &net.ip_b,
                "--directory",
                &dir,
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    wait_port(&net.ns_a, &net.ip_b, 8080);
    let pcap = format!("{dir}/http.pcap");
    let tcpdump = start_tcpdump(&net.ns_a, &net.if_a, &pcap);
    let mut agent = start_agent(&net.ns_a, &["--iface", &net.if_a, "--payload"]);

    let body = VethPair::cmd(
        &net.ns_a,
        &[
            "curl",
            "-sS",
            "--fail",
            &format!("http://{}:8080/index.html", net.ip_b),
        ],
    )
    .output()
    .unwrap();
    assert!(body.status.success(), "curl failed");
    assert_eq!(body.stdout.len(), 27 * 200);
    std::thread::sleep(Duration::from_millis(500));

    assert!(agent.interrupt().success(), "agent exit status");
    stop_tcpdump(tcpdump);
    let (segs, flows, counters) = parse_output(&agent.stdout_all());
    let streams = assert_matches_pcap(&segs, &pcap);

    let server: SocketAddr = format!("{}:8080", net.ip_b).parse().unwrap();
    let req = streams
        .iter()
        .find(|((_, d), _)| *d == server)
        .expect("request direction")
        .1;
    assert!(
        req.starts_with(b"GET /index.html HTTP/1.1\r\n"),
        "{:?}",
        String::from_utf8_lossy(req)
    );
    assert!(req.ends_with(b"\r\n\r\n"), "the whole request is captured");
    let resp = streams
        .iter()
        .find(|((s, _), _)| *s == server)
        .expect("response direction")
        .1;
    assert!(resp.starts_with(b"HTTP/1.0 200 OK\r\n"));
    // Both FINs reach userspace.
    assert_eq!(segs.iter().filter(|s| s.kind == "fin").count(), 2);
    assert_eq!(flows.len(), 2, "one flow entry per direction: {flows:?}");
    for f in &flows {
        assert!(f["packets"].as_u64().unwrap() >= 4);
        assert_eq!(
            f["tcp_flags"].as_u64().unwrap() & 0x13,
            0x13,
            "SYN, ACK and FIN seen: {f}"
        );
    }
    let c = &counters["counters"];
    for lost in [
        "ringbuf_full",
        "flow_update_failed",
        "load_bytes_failed",
        "unparsable",
    ] {
        assert_eq!(c[lost].as_u64(), Some(0), "{lost}: {counters}");
    }
    assert_eq!(counters["bad_records"].as_u64(), Some(0));
}

fn make_cert(dir: &str) {
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
        "2",
        "-subj",
        "/CN=plainsight.test",
        "-keyout",
        &format!("{dir}/key.pem"),
        "-out",
        &format!("{dir}/cert.pem"),
    ]);
}

fn tls_server(net: &VethPair, dir: &str) -> Guard {
    let g = Guard(
        VethPair::cmd(
            &net.ns_b,
            &[
                "openssl",
                "s_server",
                "-accept",
                &format!("{}:4433", net.ip_b),
                "-cert",
                &format!("{dir}/cert.pem"),
                "-key",
                &format!("{dir}/key.pem"),
                "-tls1_3",
                "-quiet",
            ],
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    wait_port(&net.ns_a, &net.ip_b, 4433);
    g
}

fn tls_client(net: &VethPair, extra: &[&str]) {
    let mut args = vec!["openssl", "s_client", "-connect"];
    let target = format!("{}:4433", net.ip_b);
    args.push(&target);
    args.extend_from_slice(&["-tls1_3", "-servername", "plainsight.test"]);
    args.extend_from_slice(extra);
    let mut child = VethPair::cmd(&net.ns_a, &args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"hello over tls\n").unwrap();
        // Closing stdin makes s_client finish after the handshake.
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("TLSv1.3"),
        "handshake did not complete: {text}"
    );
}

/// The TLS record layer: type 22 (handshake), then a ClientHello (1) / ServerHello (2).
fn assert_handshake_record(stream: &[u8], msg_type: u8) -> usize {
    assert_eq!(stream[0], 22, "handshake record");
    assert_eq!(stream[5], msg_type, "handshake message type");
    5 + usize::from(u16::from_be_bytes([stream[3], stream[4]]))
}

#[test]
fn tls13_handshake_capture_matches_tcpdump() {
    let net = VethPair::new("tls", 1500);
    let dir = tmpdir("tls");
    make_cert(&dir);
    let _server = tls_server(&net, &dir);
    let pcap = format!("{dir}/tls.pcap");
    let tcpdump = start_tcpdump(&net.ns_a, &net.if_a, &pcap);
    let mut agent = start_agent(
        &net.ns_a,
        &["--iface", &net.if_a, "--attach", "netlink", "--payload"],
    );
    tls_client(&net, &[]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(agent.interrupt().success());
    stop_tcpdump(tcpdump);
    let (segs, _, _) = parse_output(&agent.stdout_all());
    let streams = assert_matches_pcap(&segs, &pcap);
    let server: SocketAddr = format!("{}:4433", net.ip_b).parse().unwrap();
    let ch = streams
        .iter()
        .find(|((_, d), _)| *d == server)
        .expect("client direction")
        .1;
    let ch_len = assert_handshake_record(ch, 1);
    assert!(ch.len() >= ch_len, "whole ClientHello captured");
    let sh_stream = streams
        .iter()
        .find(|((s, _), _)| *s == server)
        .expect("server direction")
        .1;
    assert_handshake_record(sh_stream, 2);
}

/// MTU 576 and one segment per skb (no GSO) make a ClientHello with a long ALPN list
/// cross several TCP segments; the default budget must still capture it whole.
#[test]
fn clienthello_spanning_segments_is_captured_whole() {
    let net = VethPair::new("split", 576);
    for (ns, ifc) in [(&net.ns_a, &net.if_a), (&net.ns_b, &net.if_b)] {
        sh(&["ip", "-n", ns, "link", "set", ifc, "gso_max_segs", "1"]);
    }
    let dir = tmpdir("split");
    make_cert(&dir);
    let _server = tls_server(&net, &dir);
    let pcap = format!("{dir}/split.pcap");
    let tcpdump = start_tcpdump(&net.ns_a, &net.if_a, &pcap);
    let mut agent = start_agent(&net.ns_a, &["--iface", &net.if_a, "--payload"]);
    let alpn: Vec<String> = (0..12)
        .map(|i| format!("proto-{i}-{}", "x".repeat(90)))
        .collect();
    tls_client(&net, &["-alpn", &alpn.join(",")]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(agent.interrupt().success());
    stop_tcpdump(tcpdump);
    let (segs, _, _) = parse_output(&agent.stdout_all());
    let streams = assert_matches_pcap(&segs, &pcap);
    let server: SocketAddr = format!("{}:4433", net.ip_b).parse().unwrap();
    let n_client_segs = segs
        .iter()
        .filter(|s| s.kind == "segment" && s.dst == server)
        .count();
    assert!(
        n_client_segs >= 2,
        "ClientHello should span segments, got {n_client_segs}"
    );
    let ch = streams
        .iter()
        .find(|((_, d), _)| *d == server)
        .expect("client direction")
        .1;
    let ch_len = assert_handshake_record(ch, 1);
    assert!(
        ch_len > 2 * 524,
        "ClientHello of {ch_len} bytes is larger than two MSS"
    );
    assert!(
        ch.len() >= ch_len,
        "ClientHello captured whole: {} of {ch_len}",
        ch.len()
    );
}

/// Runs `f` on a thread that has entered network namespace `ns`.
fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap();
        use std::os::fd::AsRawFd as _;
        // SAFETY: setns on a valid netns fd affects only this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}");
        f()
    })
    .join()
    .unwrap()
}

/// Names of tcx programs on both hooks of `iface` in `ns`.
fn tcx_programs(ns: &str, iface: &str) -> Vec<String> {
    let iface = iface.to_owned();
    in_netns(ns, move || {
        let mut names = Vec::new();
        for hook in [TcAttachType::Ingress, TcAttachType::Egress] {
            let (_, progs) = SchedClassifier::query_tcx(&iface, hook).unwrap();
            names.extend(
                progs
                    .iter()
                    .map(|p| p.name_as_str().unwrap_or("?").to_owned()),
            );
        }
        names
    })
}

fn tc_state(ns: &str, iface: &str) -> (String, String) {
    let filters = sh(&["tc", "-n", ns, "filter", "show", "dev", iface, "ingress"])
        + &sh(&["tc", "-n", ns, "filter", "show", "dev", iface, "egress"]);
    let qdiscs = sh(&["tc", "-n", ns, "qdisc", "show", "dev", iface]);
    (filters, qdiscs)
}

fn assert_clean(net: &VethPair) {
    let (filters, qdiscs) = tc_state(&net.ns_a, &net.if_a);
    assert!(filters.trim().is_empty(), "filters left: {filters}");
    assert!(!qdiscs.contains("clsact"), "qdisc left: {qdiscs}");
    assert!(
        tcx_programs(&net.ns_a, &net.if_a).is_empty(),
        "tcx links left"
    );
}

#[test]
fn tcx_attach_detaches_on_sigint_and_refuses_a_second_agent() {
    let net = VethPair::new("tcx", 1500);
    let mut agent = start_agent(&net.ns_a, &["--iface", &net.if_a, "--attach", "tcx"]);
    let progs = tcx_programs(&net.ns_a, &net.if_a);
    assert_eq!(
        progs,
        vec!["plainsight_ingr", "plainsight_egre"],
        "kernel names are cut to 15 bytes"
    );
    let (filters, qdiscs) = tc_state(&net.ns_a, &net.if_a);
    assert!(
        filters.trim().is_empty() && !qdiscs.contains("clsact"),
        "tcx needs no qdisc"
    );

    // A second agent must not double-attach.
    let second = VethPair::cmd(
        &net.ns_a,
        &[
            plainsight_tests::agent_bin().to_str().unwrap(),
            "capture",
            "--iface",
            &net.if_a,
        ],
    )
    .output()
    .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("refusing to attach twice"));
    assert_eq!(tcx_programs(&net.ns_a, &net.if_a).len(), 2);

    assert!(agent.interrupt().success());
    assert_clean(&net);
}

#[test]
fn netlink_attach_detaches_on_sigint_and_cleans_up_after_a_crash() {
    let net = VethPair::new("nl", 1500);
    let mut agent = start_agent(&net.ns_a, &["--iface", &net.if_a, "--attach", "netlink"]);
    let (filters, qdiscs) = tc_state(&net.ns_a, &net.if_a);
    assert!(qdiscs.contains("clsact"), "{qdiscs}");
    assert_eq!(
        filters.matches("plainsight_ingress").count(),
        1,
        "{filters}"
    );
    assert_eq!(filters.matches("plainsight_egress").count(), 1, "{filters}");
    assert!(tcx_programs(&net.ns_a, &net.if_a).is_empty());
    assert!(agent.interrupt().success());
    assert_clean(&net);

    // A crash (SIGKILL) leaves netlink filters behind; the next start removes them
    // and attaches exactly once.
    let mut crashed = start_agent(&net.ns_a, &["--iface", &net.if_a, "--attach", "netlink"]);
    crashed.0.kill().unwrap();
    crashed.0.wait().unwrap();
    let (filters, _) = tc_state(&net.ns_a, &net.if_a);
    assert_eq!(
        filters.matches("plainsight_ingress").count(),
        1,
        "a stale filter is expected after SIGKILL"
    );
    let mut agent = start_agent(&net.ns_a, &["--iface", &net.if_a, "--attach", "netlink"]);
    let (filters, _) = tc_state(&net.ns_a, &net.if_a);
    assert_eq!(
        filters.matches("plainsight_ingress").count(),
        1,
        "{filters}"
    );
    assert_eq!(filters.matches("plainsight_egress").count(), 1, "{filters}");
    assert!(agent.interrupt().success());
    assert_clean(&net);
}

#[test]
fn a_foreign_clsact_qdisc_and_filter_survive_the_agent() {
    let net = VethPair::new("foreign", 1500);
    sh(&[
        "tc", "-n", &net.ns_a, "qdisc", "add", "dev", &net.if_a, "clsact",
    ]);
    // A foreign cls_bpf filter: our own empty program's object would do, but a
    // classic-BPF "accept all" keeps it independent of the agent.
    sh(&[
        "tc",
        "-n",
        &net.ns_a,
        "filter",
        "add",
        "dev",
        &net.if_a,
        "ingress",
        "prio",
        "7",
        "bpf",
        "bytecode",
        "1,6 0 0 4294967295,",
    ]);
    let mut agent = start_agent(&net.ns_a, &["--iface", &net.if_a, "--attach", "netlink"]);
    assert!(agent.interrupt().success());
    let (filters, qdiscs) = tc_state(&net.ns_a, &net.if_a);
    assert!(qdiscs.contains("clsact"), "someone else's qdisc stays");
    assert!(
        filters.contains("pref 7 bpf") && !filters.contains("plainsight"),
        "{filters}"
    );
}

/// The library API the engine uses: flows appear in the kernel map, `mark_done` stops
/// capture for both directions, `evict_idle` removes idle flows and orphaned `DONE` keys.
#[test]
fn mark_done_and_evict_idle_through_the_library() {
    use agent_common::parse::{Endpoints, Protocol};
    use agent_common::{capture_state, counter};
    use plainsight::capture::live::{AttachMode, LiveCapture, LoadOptions};

    let net = VethPair::new("lib", 1500);
    let dir = tmpdir("lib");
    let _server = Guard(
        VethPair::cmd(
            &net.ns_b,
            &[
                "python3",
                "-m",
                "http.server",
                "8080",
                "--protocol",
                "HTTP/1.1",
                "--bind",
                &net.ip_b,
                "--directory",
                &dir,
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    wait_port(&net.ns_a, &net.ip_b, 8080);
    let (ns_a, if_a, ip_a, ip_b) = (
        net.ns_a.clone(),
        net.if_a.clone(),
        net.ip_a.clone(),
        net.ip_b.clone(),
    );
    in_netns(&net.ns_a.clone(), move || {
        let mut cap = LiveCapture::load(&LoadOptions::default()).unwrap();
        cap.attach(std::slice::from_ref(&if_a), AttachMode::Tcx)
            .unwrap();
        // A persistent HTTP/1.1 connection: two requests over one flow, marked done
        // between them.
        let script = format!(
            "exec 3<>/dev/tcp/{ip_b}/8080; printf 'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' >&3; sleep 0.5; \
             printf 'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' >&3; sleep 0.5; exec 3>&-"
        );
        let mut client = VethPair::cmd(&ns_a, &["bash", "-c", &script])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(250));
        let flows = cap.flows().unwrap();
        let fwd = flows
            .iter()
            .find(|(k, _)| k.dst_port == 8080)
            .map(|(k, _)| *k)
            .expect("client flow in the kernel map");
        let ep = Endpoints::try_from(&fwd).unwrap();
        assert_eq!(ep.src.ip().to_string(), ip_a);
        assert_eq!(ep.protocol, Protocol::Tcp);
        let before = cap.counters().unwrap()[counter::SEGMENTS_CAPTURED as usize];
        assert!(before >= 2, "request and response of the first exchange");
        cap.mark_done(&ep).unwrap();
        assert_eq!(cap.done_entries().unwrap(), 2);
        assert!(client.wait().unwrap().success());
        let flows = cap.flows().unwrap();
        for (k, s) in flows
            .iter()
            .filter(|(k, _)| k.dst_port == 8080 || k.src_port == 8080)
        {
            assert_eq!(s.capture_state, capture_state::DONE, "{k:?}");
        }
        let c = cap.counters().unwrap();
        assert_eq!(c[counter::CAPTURE_DONE as usize], 2);
        assert_eq!(
            c[counter::SEGMENTS_CAPTURED as usize],
            before,
            "nothing captured after done"
        );

        let evicted = cap.evict_idle(Duration::ZERO).unwrap();
        assert_eq!(evicted.len(), flows.len());
        assert!(cap.flows().unwrap().is_empty());
        assert_eq!(
            cap.done_entries().unwrap(),
            0,
            "DONE keys go with their flows"
        );
        cap.detach().unwrap();
    });
}
