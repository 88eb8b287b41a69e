//! Plainsight next to other TC programs, and the `auto` attach mode.
//!
//! A monitor must never hide traffic from the programs attached after it (Cilium's, a
//! firewall's): every packet it sees must reach the next tcx program or clsact filter.
//! The "next program" here is the object's own `plainsight_empty`, loaded a second
//! time and attached after the real ones; the kernel's run counts (BPF_ENABLE_STATS)
//! say exactly how many packets each program ran on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io;
use std::process::Stdio;
use std::time::Duration;

use agent_common::{counter, names};
use aya::programs::tc::{NlOptions, TcAttachOptions};
use aya::programs::{LinkOrder, ProgramError, SchedClassifier, TcAttachType};
use aya::sys::{enable_stats, Stats, SyscallError};
use aya::Ebpf;
use plainsight::capture::live::{self, AttachMode, LiveCapture, LiveError, LoadOptions};
use plainsight::config;
use plainsight::daemon::attach_mode;
use plainsight_tests::lab::in_netns;
use plainsight_tests::{sh, wait_port, Guard, VethPair};

/// Datagrams per echo burst: each is one packet out and one reply in.
const PINGS: u64 = 40;

/// A veth pair with IPv6 off, so that nothing but the test's own traffic crosses it
/// (no router solicitations or MLD reports arriving mid-count).
fn quiet_pair(tag: &str) -> VethPair {
    let net = VethPair::new(tag, 1500);
    for ns in [&net.ns_a, &net.ns_b] {
        sh(&[
            "ip",
            "netns",
            "exec",
            ns,
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
        ]);
    }
    net
}

/// A UDP echo server on `ip`:[`ECHO_PORT`] in `ns`.
fn echo_server(ns: &str, ip: &str) -> Guard {
    let script = format!(
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.bind(('{ip}', {ECHO_PORT}))\nwhile True:\n    d, a = s.recvfrom(2048)\n    s.sendto(d, a)\n"
    );
    let g = Guard(
        VethPair::cmd(ns, &["python3", "-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Ready once it answers.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        if VethPair::cmd(ns, &["ss", "-Hlun", &format!("sport = :{ECHO_PORT}")])
            .output()
            .is_ok_and(|o| !o.stdout.is_empty())
        {
            return g;
        }
    }
    panic!("UDP echo server did not start");
}

const ECHO_PORT: u16 = 7007;

/// `count` UDP datagrams from `ns` to the echo server at `ip`, each answered before
/// the next is sent: exactly `count` packets out and `count` in.
fn ping(ns: &str, ip: &str, count: u64) {
    let script = format!(
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.settimeout(2)\nfor i in range({count}):\n    s.sendto(b'ping %d' % i, ('{ip}', {ECHO_PORT}))\n    s.recvfrom(2048)\n"
    );
    let out = VethPair::cmd(ns, &["python3", "-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "UDP echo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run counts: (plainsight ingress, plainsight egress, the program after them).
fn runs(cap: &LiveCapture, next: &Ebpf) -> (u64, u64, u64) {
    let next: &SchedClassifier = next.program(names::PROG_EMPTY).unwrap().try_into().unwrap();
    (
        cap.program_info(names::PROG_INGRESS).unwrap().run_count(),
        cap.program_info(names::PROG_EGRESS).unwrap().run_count(),
        next.info().unwrap().run_count(),
    )
}

/// Attaches plainsight in `mode`, then a second program after it on both hooks, sends
/// pings and a TCP exchange, and checks that the second program ran on every packet.
fn next_program_sees_every_packet(mode: AttachMode) {
    let net = quiet_pair(match mode {
        AttachMode::Tcx => "coex-tcx",
        AttachMode::Netlink => "coex-nl",
    });
    let dir = format!("/tmp/plainsight-test-coex-{}", std::process::id());
    std::fs::create_dir_all(&dir).unwrap();
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
    let _echo = echo_server(&net.ns_b, &net.ip_b);
    let ns_a = net.ns_a.clone();
    let if_a = net.if_a.clone();
    let (ns, ip_b) = (net.ns_a.clone(), net.ip_b.clone());
    in_netns(Some(&ns_a), move || {
        // Counted only while this descriptor is open; it does not touch the sysctl.
        let _stats = enable_stats(Stats::RunTime).expect("BPF_ENABLE_STATS");
        let mut cap = LiveCapture::load(&LoadOptions::default()).unwrap();
        cap.attach(std::slice::from_ref(&if_a), mode).unwrap();
        let mut next = live::load(&LoadOptions::default()).unwrap();
        {
            let prog: &mut SchedClassifier = next
                .program_mut(names::PROG_EMPTY)
                .unwrap()
                .try_into()
                .unwrap();
            for hook in [TcAttachType::Ingress, TcAttachType::Egress] {
                let options = match mode {
                    AttachMode::Tcx => TcAttachOptions::TcxOrder(LinkOrder::last()),
                    // Plainsight's filters get the kernel's first automatic priority,
                    // 49152; a larger number runs later.
                    AttachMode::Netlink => TcAttachOptions::Netlink(NlOptions {
                        priority: 60000,
                        ..NlOptions::default()
                    }),
                };
                prog.attach_with_options(&if_a, hook, options).unwrap();
            }
        }
        let order = plainsight_tests::lab::attached(None, &if_a);
        let ours = order
            .iter()
            .position(|l| l.contains("plainsight_ingr"))
            .expect("plainsight on ingress");
        let theirs = order
            .iter()
            .position(|l| l.contains("plainsight_empt"))
            .expect("the next program on ingress");
        assert!(ours < theirs, "the next program runs after ours: {order:?}");

        // Warm up ARP, so the counted burst is exactly PINGS packets each way.
        ping(&ns, &ip_b, 1);
        std::thread::sleep(Duration::from_millis(100));
        let before = runs(&cap, &next);
        ping(&ns, &ip_b, PINGS);
        std::thread::sleep(Duration::from_millis(100));
        let after = runs(&cap, &next);
        let (ing, eg, nxt) = (after.0 - before.0, after.1 - before.1, after.2 - before.2);
        assert_eq!(
            (ing, eg),
            (PINGS, PINGS),
            "plainsight saw each echo request and reply once"
        );
        assert_eq!(
            nxt,
            2 * PINGS,
            "{mode:?}: the program after plainsight's ran on {nxt} of {} packets",
            2 * PINGS
        );

        // TCP through the capture path (flow created, payload captured).
        let before = runs(&cap, &next);
        let out = VethPair::cmd(
            &ns,
            &[
                "curl",
                "-sS",
                "--fail",
                "-o",
                "/dev/null",
                &format!("http://{ip_b}:8080/"),
            ],
        )
        .output()
        .unwrap();
        assert!(out.status.success(), "curl");
        std::thread::sleep(Duration::from_millis(200));
        let after = runs(&cap, &next);
        let ours = (after.0 - before.0) + (after.1 - before.1);
        assert!(ours >= 6, "a TCP exchange is at least 6 packets: {ours}");
        assert_eq!(
            after.2 - before.2,
            ours,
            "{mode:?}: the next program saw every TCP packet"
        );
        let c = cap.counters().unwrap();
        assert!(c[counter::SEGMENTS_CAPTURED as usize] >= 2, "{c:?}");
        cap.detach().unwrap();
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_tcx_program_after_plainsight_sees_every_packet() {
    next_program_sees_every_packet(AttachMode::Tcx);
}

#[test]
fn a_clsact_filter_after_plainsight_sees_every_packet() {
    next_program_sees_every_packet(AttachMode::Netlink);
}

/// What a kernel without tcx answers: BPF_PROG_QUERY does not know BPF_TCX_INGRESS.
fn no_tcx() -> Result<(), LiveError> {
    Err(LiveError::Program {
        name: "tcx probe",
        source: ProgramError::SyscallError(SyscallError {
            call: "bpf_prog_query",
            io_error: io::Error::from_raw_os_error(libc::EINVAL),
        }),
    })
}

/// `auto` asks the kernel: this one has tcx; a kernel whose probe fails gets netlink
/// clsact, and the programs attached that way see the traffic.
#[test]
fn auto_probes_for_tcx_and_falls_back_to_netlink() {
    let net = quiet_pair("auto");
    let _echo = echo_server(&net.ns_b, &net.ip_b);
    let (ns_a, if_a) = (net.ns_a.clone(), net.if_a.clone());
    let real = in_netns(Some(&ns_a), || {
        attach_mode(None, config::AttachMode::Auto, live::probe_tcx)
    });
    assert_eq!(real, AttachMode::Tcx, "kernel 6.6+ has tcx");
    assert_eq!(
        attach_mode(Some(AttachMode::Tcx), config::AttachMode::Auto, no_tcx),
        AttachMode::Tcx,
        "--attach wins over auto"
    );
    assert_eq!(
        attach_mode(None, config::AttachMode::Tcx, no_tcx),
        AttachMode::Tcx,
        "an explicit configuration is not probed"
    );
    let mode = attach_mode(None, config::AttachMode::Auto, no_tcx);
    assert_eq!(mode, AttachMode::Netlink);

    let (ns, ip_b) = (ns_a.clone(), net.ip_b.clone());
    let (packets, state) = in_netns(Some(&ns_a), move || {
        let mut cap = LiveCapture::load(&LoadOptions::default()).unwrap();
        cap.attach(std::slice::from_ref(&if_a), mode).unwrap();
        let state = plainsight_tests::lab::attached(None, &if_a);
        ping(&ns, &ip_b, 1);
        std::thread::sleep(Duration::from_millis(100));
        let before = cap.counters().unwrap()[counter::PACKETS as usize];
        ping(&ns, &ip_b, PINGS);
        std::thread::sleep(Duration::from_millis(100));
        let after = cap.counters().unwrap()[counter::PACKETS as usize];
        cap.detach().unwrap();
        (after - before, state)
    });
    assert!(
        state
            .iter()
            .any(|l| l.starts_with("tc ingress") && l.contains("plainsight_ingress"))
            && state
                .iter()
                .any(|l| l.starts_with("tc egress") && l.contains("plainsight_egress"))
            && !state.iter().any(|l| l.starts_with("tcx")),
        "the fallback attaches clsact filters, not tcx links: {state:?}"
    );
    assert_eq!(
        packets,
        2 * PINGS,
        "the netlink-attached programs saw every request and reply"
    );
    let left = plainsight_tests::lab::attached(Some(&net.ns_a), &net.if_a);
    assert!(left.is_empty(), "detached: {left:?}");
}
