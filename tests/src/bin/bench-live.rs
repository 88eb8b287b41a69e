//! `cargo xtask bench-live`: what the live agent costs the traffic it watches.
//!
//! In the lab (tests/src/lab.rs, hub in a namespace of its own), with offloads off on
//! every veth end and the bridge (MTU-sized segments, as on a wire):
//!
//! 1. **Throughput.** iperf3 from the client to the server namespace, in alternating
//!    rounds: no program, `plainsight run` attached to the client's hub-side veth, and
//!    the empty TC program (`plainsight_empty`, the floor any TC program costs) on the
//!    same veth. Median of the rounds, and each median as a ratio of the baseline's.
//! 2. **TLS connection flood, stepped.** One agent; parallel `openssl s_time -new`
//!    clients against the hardened nginx, 1, 2, 4… of them, one step after the other,
//!    so the offered handshake rate steps up until the clients (which share the CPUs
//!    with nginx and the agent) cannot go faster. Per step: the rate held, the flows the
//!    agent reported, the growth of `plainsight_dropped_total` (goal: 0), and the
//!    agent's CPU (utime+stime from /proc/PID/stat) per 1,000 handshakes.
//!
//! Written as Markdown to stdout and to OUT.md, and as `key<TAB>value` lines to
//! OUT.md.tsv for `cargo xtask bench`.
//!
//! Usage: bench-live OUT.md [--secs N] [--steps 1,2,4,8] [--rounds N] [--iperf-secs N]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use aya::programs::TcAttachType;
use plainsight::capture::live::{AttachMode, LiveCapture, LoadOptions};
use plainsight_tests::lab::{
    in_netns, metric_sum, ns_cmd, parse_metrics, Hub, Lab, LiveAgent, Sample, PORT_HARDENED,
    SERVER_IP,
};
use plainsight_tests::Guard;

const AGENT_PORT: u16 = 9955;
const IPERF_PORT: u16 = 9956;

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("agent /proc stat");
    // Fields after the parenthesised comm: state is field 3; utime 14, stime 15.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn status_kb(pid: u32, key: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("agent /proc status");
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{key} missing in /proc/{pid}/status"))
}

/// One iperf3 run from the client namespace: received bits/s.
fn iperf(lab: &Lab, secs: u64) -> f64 {
    let out = ns_cmd(
        &lab.client_ns,
        &[
            "iperf3",
            "-c",
            SERVER_IP,
            "-p",
            &IPERF_PORT.to_string(),
            "-t",
            &secs.to_string(),
            "-J",
        ],
    )
    .stdin(Stdio::null())
    .output()
    .expect("run iperf3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "iperf3 failed: {text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("iperf3 -J output");
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap_or_else(|| panic!("no end.sum_received in {text}"))
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// The `plainsight_dropped_total` series that grew between two scrapes.
fn drop_growth(before: &[Sample], after: &[Sample]) -> String {
    let mut out = Vec::new();
    for s in after
        .iter()
        .filter(|s| s.name == "plainsight_dropped_total")
    {
        let was = before
            .iter()
            .find(|b| b.name == s.name && b.labels == s.labels)
            .map_or(0.0, |b| b.value);
        if s.value > was {
            let labels: Vec<&str> = s.labels.iter().map(|(_, v)| v.as_str()).collect();
            out.push(format!("{} +{}", labels.join("/"), s.value - was));
        }
    }
    out.join(", ")
}

struct Step {
    clients: usize,
    connections: u64,
    wall: f64,
    flows: f64,
    dropped: f64,
    /// `stage/reason +N` for every `plainsight_dropped_total` series that grew.
    drop_reasons: String,
    cpu_s: f64,
}

/// `clients` parallel `openssl s_time -new` for `secs`; the agent's figures around it.
fn flood(lab: &Lab, agent: &LiveAgent, clients: usize, secs: u64, hz: f64) -> Step {
    let pid = agent.pid();
    let before = parse_metrics(&agent.metrics());
    let flows_before = metric_sum(&before, "plainsight_flows_total", &[]);
    let dropped_before = metric_sum(&before, "plainsight_dropped_total", &[]);
    let target = format!("{SERVER_IP}:{PORT_HARDENED}");
    let ticks0 = cpu_ticks(pid);
    let t0 = Instant::now();
    let kids: Vec<Child> = (0..clients)
        .map(|_| {
            ns_cmd(
                &lab.client_ns,
                &[
                    "openssl",
                    "s_time",
                    "-connect",
                    &target,
                    "-new",
                    "-time",
                    &secs.to_string(),
                ],
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn openssl s_time")
        })
        .collect();
    let mut connections: u64 = 0;
    for k in kids {
        let out = k.wait_with_output().expect("s_time");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // "N connections in X.XXs; Y connections/user sec, bytes read 0"
        connections += text
            .lines()
            .filter(|l| l.contains("connections in"))
            .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
            .next()
            .unwrap_or_else(|| {
                panic!(
                    "openssl s_time gave no count: {text}\n{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
    }
    let wall = t0.elapsed().as_secs_f64();
    // Wait until every connection is reported (FIN seen), at most 30 s: the CPU the
    // agent spends on them includes that tail.
    let deadline = Instant::now() + Duration::from_secs(30);
    let after = loop {
        let m = parse_metrics(&agent.metrics());
        let seen = metric_sum(&m, "plainsight_flows_total", &[]) - flows_before;
        if seen >= connections as f64 || Instant::now() > deadline {
            break m;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let ticks = cpu_ticks(pid) - ticks0;
    Step {
        clients,
        connections,
        wall,
        flows: metric_sum(&after, "plainsight_flows_total", &[]) - flows_before,
        dropped: metric_sum(&after, "plainsight_dropped_total", &[]) - dropped_before,
        drop_reasons: drop_growth(&before, &after),
        cpu_s: ticks as f64 / hz,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage =
        "usage: bench-live OUT.md [--secs N] [--steps 1,2,4,8] [--rounds N] [--iperf-secs N]";
    let out_path = args.next().expect(usage);
    let mut secs: u64 = 8;
    let mut steps: Vec<usize> = vec![1, 2, 4, 8];
    let mut rounds: usize = 10;
    let mut iperf_secs: u64 = 3;
    while let Some(a) = args.next() {
        let v = args
            .next()
            .unwrap_or_else(|| panic!("{a} needs a value; {usage}"));
        match a.as_str() {
            "--secs" => secs = v.parse().expect("--secs N"),
            "--steps" => {
                steps = v
                    .split(',')
                    .map(|s| s.parse().expect("--steps 1,2,4"))
                    .collect()
            }
            "--rounds" => rounds = v.parse().expect("--rounds N"),
            "--iperf-secs" => iperf_secs = v.parse().expect("--iperf-secs N"),
            other => panic!("unknown argument {other:?}; {usage}"),
        }
    }
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let started = Instant::now();
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let mut lab = Lab::new(
        &format!("ps-bc-live{}", std::process::id() % 10000),
        Hub::Netns,
    );
    let hub = lab.hub_ns.clone().expect("hub namespace");
    lab.offloads_off();
    lab.start_servers();
    let _iperf_server = Guard(
        ns_cmd(
            &lab.server_ns,
            &[
                "iperf3",
                "-s",
                "-B",
                SERVER_IP,
                "-p",
                &IPERF_PORT.to_string(),
            ],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn iperf3 -s (package iperf3)"),
    );
    lab.wait_port(IPERF_PORT);

    // 1. Throughput, alternating: baseline, agent, empty program, then again.
    let (mut base, mut with_agent, mut with_empty) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..rounds {
        base.push(iperf(&lab, iperf_secs));
        let mut agent = LiveAgent::start(&lab, AGENT_PORT, &[]);
        with_agent.push(iperf(&lab, iperf_secs));
        agent.signal_and_wait(libc::SIGTERM);
        let iface = lab.client_hub_if.clone();
        // The empty program is attached from a thread inside the hub namespace (where
        // the veth is) and detached there after the run.
        let client_ns = lab.client_ns.clone();
        with_empty.push(in_netns(Some(&hub), move || {
            use agent_common::names::PROG_EMPTY;
            let mut cap = LiveCapture::load(&LoadOptions::default()).expect("load");
            cap.attach_one(
                &iface,
                AttachMode::Tcx,
                &[
                    (TcAttachType::Ingress, PROG_EMPTY),
                    (TcAttachType::Egress, PROG_EMPTY),
                ],
            )
            .expect("attach the empty program");
            let out = ns_cmd(
                &client_ns,
                &[
                    "iperf3",
                    "-c",
                    SERVER_IP,
                    "-p",
                    &IPERF_PORT.to_string(),
                    "-t",
                    &iperf_secs.to_string(),
                    "-J",
                ],
            )
            .stdin(Stdio::null())
            .output()
            .expect("run iperf3");
            cap.detach().expect("detach");
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("iperf3 -J");
            v["end"]["sum_received"]["bits_per_second"]
                .as_f64()
                .expect("bits_per_second")
        }));
        eprintln!(
            "bench-live: iperf3 round {}/{rounds}: baseline {:.2}, agent {:.2}, empty {:.2} Gbit/s",
            r + 1,
            base[r] / 1e9,
            with_agent[r] / 1e9,
            with_empty[r] / 1e9
        );
    }
    let (mb, ma, me) = (median(&base), median(&with_agent), median(&with_empty));
    // Per-round ratios too: rounds are adjacent in time, so they share the machine's load.
    let round_ratio: Vec<f64> = base.iter().zip(&with_agent).map(|(b, a)| a / b).collect();
    let round_ratio_empty: Vec<f64> = base.iter().zip(&with_empty).map(|(b, e)| e / b).collect();

    // 2. The stepped TLS flood, one agent throughout.
    let mut agent = LiveAgent::start(&lab, AGENT_PORT, &[]);
    let pid = agent.pid();
    let mut results = Vec::new();
    for &c in &steps {
        let s = flood(&lab, &agent, c, secs, hz);
        eprintln!(
            "bench-live: {c} clients: {} connections in {:.1} s ({:.0}/s), {} flows, {} dropped, agent {:.2} s CPU",
            s.connections,
            s.wall,
            s.connections as f64 / s.wall,
            s.flows,
            s.dropped,
            s.cpu_s
        );
        results.push(s);
    }
    let hwm_kb = status_kb(pid, "VmHWM:");
    let st = agent.signal_and_wait(libc::SIGTERM);
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let rate = |s: &Step| s.connections as f64 / s.wall;
    let per_k = |s: &Step| 1e6 * s.cpu_s / (s.connections as f64).max(1.0);
    let clean: Vec<&Step> = results
        .iter()
        .filter(|s| s.dropped == 0.0 && s.flows >= s.connections as f64)
        .collect();
    let best = clean
        .iter()
        .copied()
        .max_by(|a, b| rate(a).total_cmp(&rate(b)));
    let all_cpu: f64 = results.iter().map(|s| s.cpu_s).sum();
    let all_conn: u64 = results.iter().map(|s| s.connections).sum();

    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("?")
        .trim()
        .to_owned();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    // SAFETY: sysconf has no preconditions.
    let ncpu = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    let steps_arg: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
    let cmd = format!(
        "bench-live OUT.md --secs {secs} --steps {} --rounds {rounds} --iperf-secs {iperf_secs}",
        steps_arg.join(",")
    );

    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Live agent: throughput cost and TLS connection flood\n"
    );
    let _ = writeln!(
        md,
        "Measured by `cargo xtask bench-live` (tests/src/bin/bench-live.rs: `{cmd}`), never \
         edited by hand. Machine: {ncpu} CPUs ({cpu_model}), kernel {}. /proc/loadavg before: \
         `{}`, after: `{}` (other work shares the machine; the clients, the servers and the \
         agent share its CPUs too). Whole run: {:.0} s.\n",
        kernel.trim(),
        load_before.trim(),
        load_after.trim(),
        started.elapsed().as_secs_f64()
    );
    let _ = writeln!(
        md,
        "## iperf3 across the lab's veth, offloads off\n\n`iperf3 -c {SERVER_IP} -t {iperf_secs}` \
         from the client namespace, {rounds} alternating rounds (no program; `plainsight run` \
         attached to the client's hub-side veth; `plainsight_empty` on both hooks of the same \
         veth); `ethtool -K … tso off gso off gro off` on every veth end and the bridge.\n"
    );
    let _ = writeln!(
        md,
        "| setup | median Gbit/s | vs baseline (medians) | median of per-round ratios | all rounds, Gbit/s |\n|---|---:|---:|---:|---|"
    );
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{:.2}", x / 1e9))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = writeln!(
        md,
        "| no program (baseline) | {:.2} | 1.000 | 1.000 | {} |",
        mb / 1e9,
        fmt(&base)
    );
    let _ = writeln!(
        md,
        "| empty TC program | {:.2} | {:.3} | {:.3} | {} |",
        me / 1e9,
        me / mb,
        median(&round_ratio_empty),
        fmt(&with_empty)
    );
    let _ = writeln!(
        md,
        "| plainsight run | {:.2} | {:.3} | {:.3} | {} |",
        ma / 1e9,
        ma / mb,
        median(&round_ratio),
        fmt(&with_agent)
    );
    let _ = writeln!(
        md,
        "\n## TLS connection flood, stepped\n\nOne `plainsight run` throughout; each step runs \
         N parallel `openssl s_time -connect {SERVER_IP}:{PORT_HARDENED} -new -time {secs}` \
         (TLS 1.3, a full handshake per connection) against the hardened nginx, then waits \
         (at most 30 s) until the agent has reported every connection. CPU is the agent's \
         utime+stime over the step, that wait included.\n"
    );
    let _ = writeln!(
        md,
        "| clients | connections | rate held /s | flows reported | dropped (growth) | agent CPU s | agent CPU % of one core | agent CPU ms per 1,000 handshakes |\n|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for s in &results {
        let _ = writeln!(
            md,
            "| {} | {} | {:.0} | {} | {}{} | {:.2} | {:.1} | {:.0} |",
            s.clients,
            s.connections,
            rate(s),
            s.flows,
            s.dropped,
            if s.drop_reasons.is_empty() {
                String::new()
            } else {
                format!(" ({})", s.drop_reasons)
            },
            s.cpu_s,
            100.0 * s.cpu_s / s.wall,
            per_k(s)
        );
    }
    match best {
        Some(b) => {
            let _ = writeln!(
                md,
                "\nHighest rate held with 0 drops and every connection reported: **{:.0} new TLS \
                 connections/s** ({} clients). {}",
                rate(b),
                b.clients,
                if clean.len() == results.len() {
                    "No step dropped anything: the limit is what the clients and nginx reach \
                     on this machine, not the agent."
                } else {
                    "Other steps dropped events or missed flows (table: stage/reason of the drops)."
                }
            );
        }
        None => {
            let _ = writeln!(md, "\nEvery step dropped events or missed flows.");
        }
    }
    let _ = writeln!(
        md,
        "Agent CPU over all steps: {:.0} ms per 1,000 handshakes ({all_conn} connections). \
         Peak RSS (VmHWM): {:.1} MiB. Exit after SIGTERM: {st}.",
        1e6 * all_cpu / (all_conn as f64).max(1.0),
        hwm_kb as f64 / 1024.0
    );
    print!("{md}");
    std::fs::write(&out_path, &md).expect("write the report");

    let mut tsv = String::new();
    let _ = writeln!(tsv, "iperf_base_gbps\t{:.3}", mb / 1e9);
    let _ = writeln!(tsv, "iperf_agent_gbps\t{:.3}", ma / 1e9);
    let _ = writeln!(tsv, "iperf_empty_gbps\t{:.3}", me / 1e9);
    let _ = writeln!(tsv, "iperf_agent_ratio\t{:.3}", ma / mb);
    let _ = writeln!(tsv, "iperf_empty_ratio\t{:.3}", me / mb);
    let _ = writeln!(tsv, "iperf_rounds\t{rounds}");
    let _ = writeln!(
        tsv,
        "cpu_ms_per_1000_handshakes\t{:.0}",
        1e6 * all_cpu / (all_conn as f64).max(1.0)
    );
    let _ = writeln!(
        tsv,
        "max_rate_zero_drops\t{:.0}",
        best.map(rate).unwrap_or(0.0)
    );
    let _ = writeln!(
        tsv,
        "dropped_total\t{}",
        results.iter().map(|s| s.dropped).sum::<f64>()
    );
    let _ = writeln!(tsv, "peak_rss_mib\t{:.1}", hwm_kb as f64 / 1024.0);
    let _ = writeln!(tsv, "command\t{cmd}");
    std::fs::write(format!("{out_path}.tsv"), tsv).expect("write the tsv");
    drop(lab);
}
