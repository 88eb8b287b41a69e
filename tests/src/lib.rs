//! Helpers shared by the integration tests: crafted frames, network namespaces made
//! and removed by the test, the agent process, and pcap reading.
//!
//! Everything here panics on failure: a kernel test that cannot set itself up must
//! fail loudly, never pass by skipping.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub mod expect;
pub mod flood;
pub mod frames;
pub mod k8s;
pub mod lab;
pub mod prometheus;

/// The capabilities `plainsight run` needs and nothing more, as `setpriv` names them
/// (docs/security.md): tests/tests/privilege.rs proves them as uid 65534, and
/// tests/tests/deploy.rs holds the DaemonSet's `capabilities.add` to exactly this list.
pub const LEAST_PRIVILEGE_CAPS: [&str; 3] = ["bpf", "net_admin", "perfmon"];

/// Runs a command and panics with its output unless it succeeds.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts the test runs as root: the kernel tests cannot do anything useful otherwise.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(euid, 0, "kernel tests need root (BPF, netns, tc)");
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Two network namespaces joined by a veth pair, removed on drop.
///
/// Addresses exist only inside the namespaces (10.200.N.1 and 10.200.N.2, and
/// fd00:200:N::1/2), so test traffic never reaches the host's own interfaces.
#[derive(Debug)]
pub struct VethPair {
    pub ns_a: String,
    pub ns_b: String,
    pub if_a: String,
    pub if_b: String,
    pub ip_a: String,
    pub ip_b: String,
    pub ip6_a: String,
    pub ip6_b: String,
}

impl VethPair {
    pub fn new(tag: &str, mtu: u32) -> Self {
        require_root();
        let n = NEXT.fetch_add(1, Ordering::SeqCst) + (std::process::id() % 100) * 2;
        let subnet = n % 250 + 1;
        let ns_a = format!("ps-test-{tag}-{}-a", std::process::id());
        let ns_b = format!("ps-test-{tag}-{}-b", std::process::id());
        // Leftovers of a crashed earlier run with the same pid would make `add` fail.
        for ns in [&ns_a, &ns_b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
        let pair = VethPair {
            ns_a,
            ns_b,
            if_a: "psv-a".into(),
            if_b: "psv-b".into(),
            ip_a: format!("10.200.{subnet}.1"),
            ip_b: format!("10.200.{subnet}.2"),
            ip6_a: format!("fd00:200:{subnet}::1"),
            ip6_b: format!("fd00:200:{subnet}::2"),
        };
        sh(&["ip", "netns", "add", &pair.ns_a]);
        sh(&["ip", "netns", "add", &pair.ns_b]);
        sh(&[
            "ip", "link", "add", &pair.if_a, "netns", &pair.ns_a, "type", "veth", "peer", "name",
            &pair.if_b, "netns", &pair.ns_b,
        ]);
        for (ns, ifc, ip, ip6) in [
            (&pair.ns_a, &pair.if_a, &pair.ip_a, &pair.ip6_a),
            (&pair.ns_b, &pair.if_b, &pair.ip_b, &pair.ip6_b),
        ] {
            let mtu_n = mtu;
            let mtu = mtu.to_string();
            sh(&["ip", "-n", ns, "link", "set", ifc, "mtu", &mtu]);
            sh(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{ip}/24"),
                "dev",
                ifc,
            ]);
            // IPv6 needs an MTU of at least 1280.
            if mtu_n >= 1280 {
                sh(&[
                    "ip",
                    "-n",
                    ns,
                    "addr",
                    "add",
                    &format!("{ip6}/64"),
                    "dev",
                    ifc,
                    "nodad",
                ]);
            }
            sh(&["ip", "-n", ns, "link", "set", ifc, "up"]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        pair
    }

    /// `ip netns exec <ns> args...` as a Command.
    pub fn cmd(ns: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).args(args);
        c
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        // Deleting a namespace removes its veth end, and with it the peer.
        for ns in [&self.ns_a, &self.ns_b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// A child process killed on drop (servers, tcpdump).
#[derive(Debug)]
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Guard {
    /// The exit status once the process exits, or `None` if it still runs after `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(st)) = self.0.try_wait() {
                return Some(st);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGINT and waits (bounded) for the process to exit.
    pub fn interrupt(&mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = self.0.try_wait().expect("wait") {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "process did not exit after SIGINT"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stdout_all(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut o) = self.0.stdout.take() {
            o.read_to_string(&mut s).expect("read stdout");
        }
        s
    }

    pub fn stderr_all(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut o) = self.0.stderr.take() {
            o.read_to_string(&mut s).expect("read stderr");
        }
        s
    }
}

/// The agent binary built by `cargo xtask test` (env `PLAINSIGHT_BIN`), or the
/// workspace's debug build.
pub fn agent_bin() -> PathBuf {
    let p = std::env::var_os("PLAINSIGHT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/plainsight")
        });
    assert!(
        p.exists(),
        "agent binary {} missing: run `cargo xtask test` (it builds it first)",
        p.display()
    );
    p
}

/// Starts `plainsight capture` inside `ns` and waits until it reports it attached.
pub fn start_agent(ns: &str, args: &[&str]) -> Guard {
    let bin = agent_bin();
    let bin = bin.to_str().expect("utf-8 path");
    let mut full = vec![bin, "capture"];
    full.extend_from_slice(args);
    let child = VethPair::cmd(ns, &full)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn agent");
    let mut g = Guard(child);
    // The agent logs "attached" on stderr once both hooks are in place.
    let mut err = g.0.stderr.take().expect("stderr");
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("attached") {
        assert!(
            Instant::now() < deadline,
            "agent did not attach: {}",
            String::from_utf8_lossy(&seen)
        );
        let n = err.read(&mut buf).expect("read agent stderr");
        assert!(
            n > 0,
            "agent exited before attaching: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    // Keep draining stderr so the agent never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = err.read_to_end(&mut sink);
    });
    g
}

/// Starts tcpdump on `iface` in `ns`, writing `path`, and waits until it listens.
pub fn start_tcpdump(ns: &str, iface: &str, path: &str) -> Guard {
    let child = VethPair::cmd(
        ns,
        // No filter expression: on this kernel "tcp or udp" matched nothing, and the
        // dissector ignores other traffic anyway.
        // --immediate-mode: with TPACKET_V3 blocks, packets still in an unretired block
        // when SIGINT arrives were counted "received" but never written.
        &[
            "tcpdump",
            "--immediate-mode",
            "-i",
            iface,
            "-U",
            "-s",
            "0",
            "-w",
            path,
            "-n",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn tcpdump (is it installed? run cargo xtask setup)");
    let mut g = Guard(child);
    let mut err = g.0.stderr.take().expect("stderr");
    let mut seen = Vec::new();
    let mut buf = [0u8; 512];
    while !String::from_utf8_lossy(&seen).contains("listening on") {
        let n = err.read(&mut buf).expect("read tcpdump stderr");
        assert!(n > 0, "tcpdump exited: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = err.read_to_end(&mut sink);
    });
    g
}

/// Waits until a TCP port accepts connections inside `ns`.
pub fn wait_port(ns: &str, ip: &str, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let ok = VethPair::cmd(
            ns,
            &["bash", "-c", &format!("exec 3<>/dev/tcp/{ip}/{port}")],
        )
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
        if ok {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "port {ip}:{port} never opened in {ns}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One TCP/UDP packet from a pcap file: addresses, ports, seq and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapSegment {
    pub src: std::net::SocketAddr,
    pub dst: std::net::SocketAddr,
    pub seq: u32,
    pub flags: u8,
    pub payload: Vec<u8>,
}

/// Reads a classic pcap (Ethernet link type, as tcpdump writes on a veth).
pub fn read_pcap(path: &str) -> Vec<PcapSegment> {
    use pcap_parser::traits::PcapReaderIterator;
    use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError};
    let file = std::fs::File::open(path).expect("open pcap");
    let mut reader = LegacyPcapReader::new(1 << 20, file).expect("pcap header");
    let mut out = Vec::new();
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                if let PcapBlockOwned::Legacy(b) = block {
                    if let Some(seg) = frames::dissect(b.data) {
                        out.push(seg);
                    }
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().expect("refill"),
            Err(e) => panic!("pcap error: {e:?}"),
        }
    }
    out
}

/// Concatenates the payload of `segs` from `src` to `dst` in sequence order, each
/// sequence range once (retransmissions dropped), starting at the lowest seq.
pub fn reassemble<'a>(segs: impl IntoIterator<Item = (u32, &'a [u8])>) -> Vec<u8> {
    let mut v: Vec<(u32, &[u8])> = segs.into_iter().filter(|(_, p)| !p.is_empty()).collect();
    v.sort_by_key(|(s, _)| *s);
    let mut out = Vec::new();
    let Some(&(base, _)) = v.first() else {
        return out;
    };
    for (seq, p) in v {
        let start = seq.wrapping_sub(base) as usize;
        let end = start + p.len();
        if end <= out.len() {
            continue;
        }
        assert!(start <= out.len(), "gap in stream at offset {start}");
        out.extend_from_slice(&p[out.len() - start..]);
    }
    out
}
