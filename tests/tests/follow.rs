//! `plainsight run` on a "node": a namespace with a bridge and one veth per "pod"
//! namespace, pods created and deleted while traffic runs, as on a Kubernetes node.
//!
//! ```text
//!   [pod N ns] eth0 ──veth── podN ─┐
//!                                  psbr 10.233.0.1 (node ns: HTTP server, the agent)
//!   [pod M ns] eth0 ──veth── podM ─┘
//! ```
//!
//! The agent follows `pod*` (so the bridge is not attached and every packet crosses
//! exactly one attached interface). Checked: each interface is attached or fails on its
//! own, removed ones leave nothing behind (not even a link descriptor in the agent),
//! `/readyz` and the attach metrics tell the truth, a SIGKILL and restart duplicates
//! nothing. And the two-hop case: a flow crossing a pod veth and the uplink is counted
//! once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use plainsight::capture::live::{AttachMode, LiveCapture, LoadOptions};
use plainsight_tests::lab::{
    attached, http_get, metric_sum, ns_cmd, parse_events, parse_metrics, run_timeout,
};
use plainsight_tests::{agent_bin, read_pcap, require_root, sh, start_tcpdump, wait_port, Guard};
use serde_json::Value;

const BRIDGE_IP: &str = "10.233.0.1";
const HTTP_PORT: u16 = 8080;

/// The node namespace, its bridge and HTTP server, and the pods. Removed on drop.
struct Node {
    ns: String,
    dir: String,
    tag: String,
    /// Live pods by number.
    pods: BTreeSet<u32>,
    _server: Option<Guard>,
}

impl Node {
    fn new(tag: &str) -> Node {
        require_root();
        let tag = format!("ps-fw{tag}{}", std::process::id());
        let ns = format!("{tag}-node");
        let dir = format!("/tmp/{tag}");
        cleanup(&tag);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(format!("{dir}/index.html"), "hello from the node\n").unwrap();
        sh(&["ip", "netns", "add", &ns]);
        sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        // A fixed address: otherwise the bridge takes its lowest port's, which changes
        // as pods come and go, and the pods' cached neighbour entries go stale.
        sh(&[
            "ip",
            "-n",
            &ns,
            "link",
            "add",
            "psbr",
            "address",
            "02:00:00:00:02:33",
            "type",
            "bridge",
        ]);
        sh(&[
            "ip",
            "-n",
            &ns,
            "link",
            "set",
            "psbr",
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
        ]);
        sh(&[
            "ip",
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{BRIDGE_IP}/24"),
            "dev",
            "psbr",
        ]);
        sh(&["ip", "-n", &ns, "link", "set", "psbr", "up"]);
        let server = Guard(
            ns_cmd(
                &ns,
                &[
                    "python3",
                    "-m",
                    "http.server",
                    &HTTP_PORT.to_string(),
                    "--bind",
                    BRIDGE_IP,
                    "--directory",
                    &dir,
                ],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        );
        wait_port(&ns, BRIDGE_IP, HTTP_PORT);
        Node {
            ns,
            dir,
            tag,
            pods: BTreeSet::new(),
            _server: Some(server),
        }
    }

    fn pod_ns(&self, n: u32) -> String {
        format!("{}-p{n}", self.tag)
    }

    fn pod_ip(n: u32) -> String {
        format!("10.233.0.{}", 10 + n)
    }

    fn pod_if(n: u32) -> String {
        format!("pod{n}")
    }

    /// A pod namespace with a veth into the bridge.
    fn add_pod(&mut self, n: u32) {
        let pns = self.pod_ns(n);
        let ifc = Self::pod_if(n);
        let _ = Command::new("ip").args(["netns", "del", &pns]).output();
        sh(&["ip", "netns", "add", &pns]);
        sh(&[
            "ip", "link", "add", &ifc, "netns", &self.ns, "type", "veth", "peer", "name", "eth0",
            "netns", &pns,
        ]);
        sh(&["ip", "-n", &self.ns, "link", "set", &ifc, "master", "psbr"]);
        sh(&["ip", "-n", &self.ns, "link", "set", &ifc, "up"]);
        sh(&["ip", "-n", &pns, "link", "set", "lo", "up"]);
        sh(&[
            "ip",
            "-n",
            &pns,
            "addr",
            "add",
            &format!("{}/24", Self::pod_ip(n)),
            "dev",
            "eth0",
        ]);
        sh(&["ip", "-n", &pns, "link", "set", "eth0", "up"]);
        self.pods.insert(n);
    }

    /// Deletes the pod's namespace, and with it both ends of its veth.
    fn del_pod(&mut self, n: u32) {
        sh(&["ip", "netns", "del", &self.pod_ns(n)]);
        self.pods.remove(&n);
    }

    /// One HTTP request from pod `n` from source port `port`: Ok, or curl's complaint.
    fn try_request(&self, n: u32, port: Option<u16>) -> Result<(), String> {
        let url = format!("http://{BRIDGE_IP}:{HTTP_PORT}/index.html");
        let mut args = vec![
            "curl",
            "-sS",
            "--fail",
            "--max-time",
            "5",
            "-o",
            "/dev/null",
        ];
        let p;
        if let Some(port) = port {
            p = port.to_string();
            args.extend_from_slice(&["--local-port", &p]);
        }
        args.push(&url);
        let out = run_timeout(
            ns_cmd(&self.pod_ns(n), &args),
            None,
            Duration::from_secs(10),
        );
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn request(&self, n: u32, port: Option<u16>) -> bool {
        self.try_request(n, port).is_ok()
    }

    /// Waits until the bridge forwards for pod `n` (its port leaves the learning state).
    fn wait_pod(&self, n: u32) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.request(n, None) {
            assert!(Instant::now() < deadline, "pod {n} never reached the node");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self._server.take();
        cleanup(&self.tag);
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Deletes every namespace whose name starts with `tag`.
fn cleanup(tag: &str) {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    for ns in String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(tag))
    {
        let _ = Command::new("ip").args(["netns", "del", ns]).output();
    }
}

/// `plainsight run` in a namespace: events, stdout and stderr in files.
struct Agent {
    proc: Guard,
    ns: String,
    listen: String,
    events: String,
    stderr: String,
}

impl Agent {
    fn start(ns: &str, dir: &str, port: u16, args: &[&str]) -> Agent {
        let mut a = Self::spawn(ns, dir, port, args);
        a.wait_for("/readyz 200", |a| a.get("/readyz").0 == 200);
        a
    }

    fn spawn(ns: &str, dir: &str, port: u16, args: &[&str]) -> Agent {
        let bin = agent_bin();
        let events = format!("{dir}/events-{port}.jsonl");
        let stderr = format!("{dir}/agent-{port}.stderr");
        let listen = format!("127.0.0.1:{port}");
        let _ = std::fs::remove_file(&events);
        let mut a = vec![
            bin.to_str().unwrap(),
            "run",
            "--events",
            &events,
            "--listen",
            &listen,
        ];
        a.extend_from_slice(args);
        let child = ns_cmd(ns, &a)
            .env("RUST_LOG", "info")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Agent {
            proc: Guard(child),
            ns: ns.to_owned(),
            listen,
            events,
            stderr,
        }
    }

    fn pid(&self) -> i32 {
        self.proc.0.id() as i32
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// GET `path`: (status, body); status 0 when nothing answered.
    fn get(&self, path: &str) -> (u16, String) {
        http_get(
            Some(&self.ns),
            &format!("http://{}{path}", self.listen),
            &[],
        )
    }

    fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let (code, body) = self.get("/metrics");
        assert_eq!(code, 200, "/metrics: {body}");
        metric_sum(&parse_metrics(&body), name, labels)
    }

    /// Polls `pred` for 20 s at most.
    fn wait_for(&mut self, what: &str, pred: impl Fn(&Agent) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = self.proc.0.try_wait() {
                panic!(
                    "the agent exited ({st}) waiting for {what}:\n{}",
                    self.stderr_text()
                );
            }
            if pred(self) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "never {what} within 20 s; /readyz {:?}\nmetrics:\n{}\nstderr:\n{}",
                self.get("/readyz"),
                self.get("/metrics").1,
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// BPF link descriptors the agent holds (one per tcx attachment).
    fn link_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| {
                std::fs::read_link(e.path())
                    .is_ok_and(|t| t.to_string_lossy() == "anon_inode:bpf_link")
            })
            .count()
    }

    fn signal_and_wait(&mut self, sig: i32) -> ExitStatus {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.pid(), sig) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = self.proc.0.try_wait().unwrap() {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "no exit within 30 s of signal {sig}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn events(&self) -> Vec<Value> {
        parse_events(&std::fs::read_to_string(&self.events).unwrap_or_default())
    }
}

/// Requests from every live pod, over and over, until stopped.
struct Traffic {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Traffic {
    fn start(node: &Node, pods: Arc<Mutex<BTreeSet<u32>>>) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let tag = node.tag.clone();
        let thread = std::thread::spawn(move || {
            let mut answered = 0;
            while !s.load(Ordering::SeqCst) {
                let now: Vec<u32> = pods.lock().unwrap().iter().copied().collect();
                for n in now {
                    let url = format!("http://{BRIDGE_IP}:{HTTP_PORT}/index.html");
                    let ok = ns_cmd(
                        &format!("{tag}-p{n}"),
                        &["curl", "-s", "--max-time", "1", "-o", "/dev/null", &url],
                    )
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|st| st.success());
                    answered += u64::from(ok);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            answered
        });
        Traffic {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops and returns the number of answered requests.
    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Writes the agent's configuration: follow `pod*` only.
fn follow_config(node: &Node) -> String {
    let p = format!("{}/follow.toml", node.dir);
    std::fs::write(&p, "[capture]\ninterfaces_include = [\"pod*\"]\n").unwrap();
    p
}

/// Source ports for the requests that prove a pod is analysed: one per pod and round.
fn probe_port(round: u16, pod: u32) -> u16 {
    // Below the ephemeral range (32768-60999), so the traffic thread never holds one.
    20000 + round * 100 + pod as u16
}

/// Sends one request from each pod in `pods` from its probe port of `round`.
fn probe(node: &Node, pods: &BTreeSet<u32>, round: u16) {
    for &n in pods {
        if let Err(e) = node.try_request(n, Some(probe_port(round, n))) {
            panic!("pod {n}, round {round}: request failed: {e}");
        }
    }
}

/// Whether the events hold an HTTP flow from each pod's probe port of `round`.
fn probed(events: &[Value], pods: &BTreeSet<u32>, round: u16) -> bool {
    pods.iter().all(|&n| {
        events.iter().any(|e| {
            e["src_ip"] == Node::pod_ip(n).as_str()
                && e["src_port"].as_u64() == Some(u64::from(probe_port(round, n)))
                && e["protocol"] == "http"
        })
    })
}

/// Asserts the events hold an HTTP flow from each pod's probe port of `round`.
fn assert_probed(events: &[Value], pods: &BTreeSet<u32>, round: u16) {
    for &n in pods {
        let ip = Node::pod_ip(n);
        let port = probe_port(round, n);
        let found = events.iter().any(|e| {
            e["src_ip"] == ip.as_str()
                && e["src_port"].as_u64() == Some(u64::from(port))
                && e["protocol"] == "http"
        });
        assert!(
            found,
            "no HTTP event from pod {n} ({ip}:{port}) in round {round}"
        );
    }
}

/// tcx attachments of pod `n`'s interface: exactly plainsight's two, once each.
fn assert_attached_once(node: &Node, n: u32, mode: AttachMode) {
    let now = attached(Some(&node.ns), &Node::pod_if(n));
    let want: Vec<String> = match mode {
        AttachMode::Tcx => vec![
            "tcx Ingress: plainsight_ingr".into(),
            "tcx Egress: plainsight_egre".into(),
        ],
        AttachMode::Netlink => {
            let ours = |hook: &str, prog: &str| {
                now.iter()
                    .filter(|l| l.starts_with(hook) && l.contains(prog))
                    .count()
            };
            assert_eq!(
                ours("tc ingress", "plainsight_ingress"),
                1,
                "pod{n}: {now:?}"
            );
            assert_eq!(ours("tc egress", "plainsight_egress"), 1, "pod{n}: {now:?}");
            assert_eq!(ours("", "plainsight"), 2, "pod{n}: nothing else: {now:?}");
            assert_eq!(ours("tcx", ""), 0, "pod{n}: no tcx link: {now:?}");
            return;
        }
    };
    assert_eq!(now, want, "pod{n}");
}

/// Nothing of plainsight's on pod `n`: no tcx program, no filter, no clsact qdisc.
fn assert_clean(node: &Node, n: u32) {
    let ifc = Node::pod_if(n);
    let left = attached(Some(&node.ns), &ifc);
    assert!(left.is_empty(), "pod{n}: left attached: {left:?}");
    let q = sh(&["tc", "-n", &node.ns, "qdisc", "show", "dev", &ifc]);
    assert!(!q.contains("clsact"), "pod{n}: qdisc left: {q}");
}

fn shared(pods: &BTreeSet<u32>) -> Arc<Mutex<BTreeSet<u32>>> {
    Arc::new(Mutex::new(pods.clone()))
}

#[test]
fn interfaces_added_and_removed_in_bursts_are_all_followed() {
    let mut node = Node::new("burst");
    for n in 0..2 {
        node.add_pod(n);
        node.wait_pod(n);
    }
    let cfg = follow_config(&node);
    let mut agent = Agent::start(&node.ns, &node.dir, 9931, &["--config", &cfg]);
    let live = shared(&node.pods);
    let traffic = Traffic::start(&node, Arc::clone(&live));

    // Bursts: eight pods at once, four removed at once (two of them just created), two
    // more, one of which is gone again before the agent can have seen it.
    for n in 2..10 {
        node.add_pod(n);
    }
    for n in [0, 3, 5, 7] {
        node.del_pod(n);
    }
    node.add_pod(10);
    node.add_pod(11);
    node.del_pod(10);
    *live.lock().unwrap() = node.pods.clone();
    let survivors = node.pods.clone();
    assert_eq!(survivors.len(), 7);

    agent.wait_for("every surviving pod attached", |a| {
        a.metric("plainsight_attached_interfaces", &[]) == survivors.len() as f64
            && a.get("/readyz").0 == 200
    });
    for &n in &survivors {
        assert_attached_once(&node, n, AttachMode::Tcx);
    }
    assert_eq!(
        agent.link_fds(),
        2 * survivors.len(),
        "one tcx link per hook and surviving pod; the removed ones' are closed"
    );
    let answered = traffic.stop();
    assert!(answered > 0, "traffic ran during the bursts");
    for &n in &survivors {
        node.wait_pod(n);
    }
    probe(&node, &survivors, 1);
    std::thread::sleep(Duration::from_millis(1500));
    let failures: f64 = agent.metric("plainsight_attach_failures_total", &[]);
    let other = agent.metric("plainsight_attach_failures_total", &[("reason", "other")]);
    assert_eq!(other, 0.0, "every failure has a known reason");
    let st = agent.signal_and_wait(libc::SIGTERM);
    assert_eq!(st.code(), Some(0), "{}", agent.stderr_text());
    assert_probed(&agent.events(), &survivors, 1);
    for &n in &survivors {
        assert_clean(&node, n);
    }
    eprintln!("attach failures during the bursts: {failures}");
}

/// A pod deleted while attached: the others keep being analysed and /readyz stays
/// 200 (the pod is no longer wanted). With `--iface`, a named interface that vanishes
/// makes /readyz 503 until it is back, and the new one (same name, new index) is
/// attached again.
#[test]
fn an_interface_deleted_while_attached_leaves_the_others_working() {
    let mut node = Node::new("del");
    for n in 0..3 {
        node.add_pod(n);
        node.wait_pod(n);
    }
    let cfg = follow_config(&node);
    let mut agent = Agent::start(&node.ns, &node.dir, 9932, &["--config", &cfg]);
    assert_eq!(agent.metric("plainsight_attached_interfaces", &[]), 3.0);
    let live = shared(&node.pods);
    let traffic = Traffic::start(&node, Arc::clone(&live));
    std::thread::sleep(Duration::from_millis(500));
    live.lock().unwrap().remove(&1);
    node.del_pod(1);
    agent.wait_for("two interfaces attached", |a| {
        a.metric("plainsight_attached_interfaces", &[]) == 2.0
    });
    assert_eq!(agent.get("/readyz").0, 200, "everything wanted is attached");
    assert_eq!(agent.link_fds(), 4, "the deleted pod's links are closed");
    traffic.stop();
    probe(&node, &node.pods.clone(), 1);
    std::thread::sleep(Duration::from_millis(1500));
    let st = agent.signal_and_wait(libc::SIGTERM);
    assert_eq!(st.code(), Some(0), "{}", agent.stderr_text());
    assert_probed(&agent.events(), &node.pods, 1);

    // Named interfaces.
    let mut agent = Agent::start(
        &node.ns,
        &node.dir,
        9933,
        &["--iface", "pod0", "--iface", "pod2"],
    );
    node.del_pod(2);
    agent.wait_for("/readyz 503 without pod2", |a| {
        a.get("/readyz").0 == 503 && a.metric("plainsight_attached_interfaces", &[]) == 1.0
    });
    probe(&node, &BTreeSet::from([0]), 2);
    node.add_pod(2);
    agent.wait_for("pod2 attached again", |a| {
        a.get("/readyz").0 == 200 && a.metric("plainsight_attached_interfaces", &[]) == 2.0
    });
    assert_attached_once(&node, 2, AttachMode::Tcx);
    node.wait_pod(2);
    probe(&node, &BTreeSet::from([0, 2]), 3);
    std::thread::sleep(Duration::from_millis(1500));
    let st = agent.signal_and_wait(libc::SIGTERM);
    assert_eq!(st.code(), Some(0), "{}", agent.stderr_text());
    let events = agent.events();
    assert_probed(&events, &BTreeSet::from([0]), 2);
    assert_probed(&events, &BTreeSet::from([0, 2]), 3);
    for n in [0, 2] {
        assert_clean(&node, n);
    }
}

/// Holds a plainsight tcx attachment on `iface` in `ns` from this process (as a second
/// agent would), until dropped.
struct Holder {
    release: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Holder {
    fn new(ns: &str, iface: &str) -> Holder {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let path = format!("/var/run/netns/{ns}");
        let iface = iface.to_owned();
        let thread = std::thread::spawn(move || {
            use std::os::fd::AsRawFd as _;
            let f = std::fs::File::open(&path).unwrap();
            // SAFETY: setns on a valid netns fd affects only this thread.
            assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
            let mut cap = LiveCapture::load(&LoadOptions::default()).unwrap();
            cap.attach(std::slice::from_ref(&iface), AttachMode::Tcx)
                .unwrap();
            ready_tx.send(()).unwrap();
            let _ = rx.recv();
            cap.detach().unwrap();
        });
        ready_rx.recv().unwrap();
        Holder {
            release: Some(tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        self.release.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An interface that cannot be attached (another agent holds it) fails alone: the
/// agent starts, the others are attached and analysed, new pods are still followed,
/// /readyz says 503 and the failure is counted, until the interface is free and the
/// retry attaches it.
#[test]
fn an_interface_that_cannot_be_attached_fails_alone() {
    let mut node = Node::new("iso");
    for n in 0..3 {
        node.add_pod(n);
        node.wait_pod(n);
    }
    let holder = Holder::new(&node.ns, "pod1");
    let cfg = follow_config(&node);
    let mut agent = Agent::spawn(&node.ns, &node.dir, 9934, &["--config", &cfg]);
    agent.wait_for("two of three attached, not ready", |a| {
        a.get("/readyz").0 == 503
            && a.metric("plainsight_attached_interfaces", &[]) == 2.0
            && a.metric(
                "plainsight_attach_failures_total",
                &[("reason", "already_attached")],
            ) >= 1.0
    });
    node.add_pod(3);
    node.wait_pod(3);
    agent.wait_for("the new pod attached", |a| {
        a.metric("plainsight_attached_interfaces", &[]) == 3.0
    });
    for n in [0, 2, 3] {
        assert_attached_once(&node, n, AttachMode::Tcx);
    }
    assert_eq!(agent.get("/readyz").0, 503, "pod1 is still not watched");
    probe(&node, &BTreeSet::from([0, 2, 3]), 1);

    drop(holder);
    agent.wait_for("pod1 attached on retry, ready", |a| {
        a.get("/readyz").0 == 200 && a.metric("plainsight_attached_interfaces", &[]) == 4.0
    });
    assert_attached_once(&node, 1, AttachMode::Tcx);
    probe(&node, &BTreeSet::from([0, 1, 2, 3]), 2);
    std::thread::sleep(Duration::from_millis(1500));
    let st = agent.signal_and_wait(libc::SIGTERM);
    assert_eq!(st.code(), Some(0), "{}", agent.stderr_text());
    let events = agent.events();
    assert_probed(&events, &BTreeSet::from([0, 2, 3]), 1);
    assert_probed(&events, &BTreeSet::from([0, 1, 2, 3]), 2);
    for n in 0..4 {
        assert_clean(&node, n);
    }
}

/// SIGKILL leaves netlink filters behind (tcx links die with the process); the next
/// start removes them and attaches once, in either mode, while traffic runs; a clean
/// stop leaves nothing.
#[test]
fn sigkill_and_restart_duplicate_nothing() {
    let mut node = Node::new("kill");
    for n in 0..3 {
        node.add_pod(n);
        node.wait_pod(n);
    }
    let pods = node.pods.clone();
    let cfg = follow_config(&node);
    let traffic = Traffic::start(&node, shared(&pods));
    let steps = [
        (AttachMode::Netlink, "netlink"),
        (AttachMode::Netlink, "netlink"),
        (AttachMode::Tcx, "tcx"),
        (AttachMode::Tcx, "tcx"),
    ];
    for (i, (mode, name)) in steps.iter().enumerate() {
        let mut agent = Agent::start(
            &node.ns,
            &node.dir,
            9935 + i as u16,
            &["--config", &cfg, "--attach", name],
        );
        for &n in &pods {
            assert_attached_once(&node, n, *mode);
        }
        if *mode == AttachMode::Netlink {
            assert_eq!(agent.link_fds(), 0, "netlink mode holds no link");
        } else {
            assert_eq!(agent.link_fds(), 2 * pods.len());
        }
        probe(&node, &pods, 10 + i as u16);
        // Closed flows are reported after a 2 s linger (flow::table).
        let deadline = Instant::now() + Duration::from_secs(10);
        while !probed(&agent.events(), &pods, 10 + i as u16) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(250));
        }
        assert_probed(&agent.events(), &pods, 10 + i as u16);
        agent.signal_and_wait(libc::SIGKILL);
        for &n in &pods {
            let left = attached(Some(&node.ns), &Node::pod_if(n));
            match mode {
                AttachMode::Netlink => assert_eq!(
                    left.iter().filter(|l| l.contains("plainsight")).count(),
                    2,
                    "stale filters: {left:?}"
                ),
                AttachMode::Tcx => {
                    assert!(left.is_empty(), "tcx links die with the process: {left:?}")
                }
            }
        }
    }
    let mut agent = Agent::start(&node.ns, &node.dir, 9940, &["--config", &cfg]);
    for &n in &pods {
        assert_attached_once(&node, n, AttachMode::Tcx);
    }
    assert!(traffic.stop() > 0);
    let st = agent.signal_and_wait(libc::SIGTERM);
    assert_eq!(st.code(), Some(0), "{}", agent.stderr_text());
    for &n in &pods {
        assert_clean(&node, n);
    }
}

/// A flow crossing two attached interfaces of the node (the pod's veth, then the
/// uplink) is one flow, counted once: its packet counts are those of one interface.
///
/// ```text
///   [client ns] eth0 ──veth── pod0 [node ns, routing] up0 ──veth── eth0 [server ns]
///     10.234.1.2              10.234.1.1        10.234.2.1          10.234.2.2
/// ```
#[test]
fn a_flow_across_pod_veth_and_uplink_is_counted_once() {
    require_root();
    let tag = format!("ps-fwhop{}", std::process::id());
    cleanup(&tag);
    let (node, client, server) = (
        format!("{tag}-node"),
        format!("{tag}-cli"),
        format!("{tag}-srv"),
    );
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            cleanup(&self.0);
        }
    }
    let _cleanup = Cleanup(tag.clone());
    let dir = format!("/tmp/{tag}");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(format!("{dir}/index.html"), "x".repeat(20_000)).unwrap();
    for ns in [&node, &client, &server] {
        sh(&["ip", "netns", "add", ns]);
        sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    sh(&[
        "ip",
        "netns",
        "exec",
        &node,
        "sysctl",
        "-qw",
        "net.ipv4.ip_forward=1",
    ]);
    for (ns, node_if, node_ip, peer_ip) in [
        (&client, "pod0", "10.234.1.1", "10.234.1.2"),
        (&server, "up0", "10.234.2.1", "10.234.2.2"),
    ] {
        sh(&[
            "ip", "link", "add", node_if, "netns", &node, "type", "veth", "peer", "name", "eth0",
            "netns", ns,
        ]);
        sh(&[
            "ip",
            "-n",
            &node,
            "addr",
            "add",
            &format!("{node_ip}/24"),
            "dev",
            node_if,
        ]);
        sh(&["ip", "-n", &node, "link", "set", node_if, "up"]);
        sh(&[
            "ip",
            "-n",
            ns,
            "addr",
            "add",
            &format!("{peer_ip}/24"),
            "dev",
            "eth0",
        ]);
        sh(&["ip", "-n", ns, "link", "set", "eth0", "up"]);
        sh(&["ip", "-n", ns, "route", "add", "default", "via", node_ip]);
    }
    let _http = Guard(
        ns_cmd(
            &server,
            &[
                "python3",
                "-m",
                "http.server",
                "8080",
                "--bind",
                "10.234.2.2",
                "--directory",
                &dir,
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    wait_port(&client, "10.234.2.2", 8080);
    let pcap = format!("{dir}/pod0.pcap");
    let mut tcpdump = start_tcpdump(&node, "pod0", &pcap);
    let mut agent = Agent::start(&node, &dir, 9941, &["--iface", "pod0", "--iface", "up0"]);
    let out = run_timeout(
        ns_cmd(
            &client,
            &[
                "curl",
                "-sS",
                "--fail",
                "--local-port",
                "41000",
                "-o",
                "/dev/null",
                "http://10.234.2.2:8080/index.html",
            ],
        ),
        None,
        Duration::from_secs(10),
    );
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_millis(1500));
    let other_hop = agent.metric(
        "plainsight_events_read_total",
        &[("source", "kernel_other_hop")],
    );
    let st = agent.signal_and_wait(libc::SIGTERM);
    assert_eq!(st.code(), Some(0), "{}", agent.stderr_text());
    let st = tcpdump.interrupt();
    assert!(st.success() || st.code().is_none(), "tcpdump: {st}");

    let events: Vec<Value> = agent
        .events()
        .into_iter()
        .filter(|e| e["src_port"].as_u64() == Some(41000))
        .collect();
    assert_eq!(events.len(), 1, "one flow, one event: {events:?}");
    let e = &events[0];
    assert_eq!(e["protocol"], "http", "{e}");
    let packets = read_pcap(&pcap);
    let to_server = packets.iter().filter(|p| p.src.port() == 41000).count() as u64;
    let to_client = packets.iter().filter(|p| p.dst.port() == 41000).count() as u64;
    assert!(
        to_server >= 4 && to_client >= 4,
        "tcpdump saw the flow: {to_server}/{to_client}"
    );
    assert_eq!(
        (
            e["flow"]["packets_to_server"].as_u64(),
            e["flow"]["packets_to_client"].as_u64()
        ),
        (Some(to_server), Some(to_client)),
        "packet counts are those of one interface (tcpdump on pod0): {e}"
    );
    assert_eq!(
        other_hop,
        (to_server + to_client) as f64,
        "every packet was seen again on the uplink and not counted there"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
