//! `cargo xtask bench-live`: the live agent under a flood of new TLS connections.
//!
//! In the lab (tests/src/lab.rs, hub in a namespace of its own), `plainsight run` is
//! attached to the client's hub-side veth while several parallel `openssl s_time -new`
//! clients make as many full TLS handshakes to the hardened nginx as they can for the
//! run's duration. Recorded, all measured: the connection rate the clients held, the
//! flows the agent reported, `plainsight_dropped_total` (goal: 0, kernel ring-buffer
//! full included), the agent's CPU (utime+stime from /proc/PID/stat over the run) and
//! its peak RSS (VmHWM). Written to stdout and to the file named by the first argument.
//!
//! Usage: bench-live OUT.md [--secs N] [--clients N]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use plainsight_tests::lab::{
    metric_sum, ns_cmd, parse_metrics, Hub, Lab, LiveAgent, PORT_HARDENED, SERVER_IP,
};

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

fn main() {
    let mut args = std::env::args().skip(1);
    let out_path = args
        .next()
        .expect("usage: bench-live OUT.md [--secs N] [--clients N]");
    let mut secs: u64 = 20;
    let mut clients: usize = 4;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--secs" => secs = args.next().and_then(|v| v.parse().ok()).expect("--secs N"),
            "--clients" => {
                clients = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--clients N")
            }
            other => panic!("unknown argument {other:?}"),
        }
    }
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;

    let mut lab = Lab::new(&format!("ps-bench-{}", std::process::id()), Hub::Netns);
    lab.start_servers();
    let mut agent = LiveAgent::start(&lab, 9909, &[]);
    let pid = agent.pid();
    let before = parse_metrics(&agent.metrics());
    let flows_before = metric_sum(&before, "plainsight_flows_total", &[("protocol", "tls")]);
    let all_before = metric_sum(&before, "plainsight_flows_total", &[]);

    let target = format!("{SERVER_IP}:{PORT_HARDENED}");
    // Other work on the machine skews every figure: record it.
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
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
    let mut outputs = String::new();
    for k in kids {
        let out = k.wait_with_output().expect("s_time");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // "N connections in X.XXs; Y connections/user sec, bytes read 0"
        let n = text
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
        connections += n;
        outputs.push_str(
            text.lines()
                .find(|l| l.contains("connections in"))
                .unwrap_or(""),
        );
        outputs.push('\n');
    }
    let wall = t0.elapsed();
    let ticks = cpu_ticks(pid) - ticks0;

    // Let the last flows finish (FIN seen) and be counted.
    let waited = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut after;
    loop {
        after = parse_metrics(&agent.metrics());
        // Every connection is one flow, whatever protocol the agent gave it.
        let seen = metric_sum(&after, "plainsight_flows_total", &[]) - all_before;
        if seen >= connections as f64 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let waited = waited.elapsed();
    let ticks_drain = cpu_ticks(pid) - ticks0;
    let hwm_kb = status_kb(pid, "VmHWM:");
    let rss_kb = status_kb(pid, "VmRSS:");
    let flows_seen =
        metric_sum(&after, "plainsight_flows_total", &[("protocol", "tls")]) - flows_before;
    let flows_all = metric_sum(&after, "plainsight_flows_total", &[]) - all_before;
    let handshakes = metric_sum(&after, "plainsight_tls_handshakes_total", &[]);
    let dropped: Vec<_> = after
        .iter()
        .filter(|s| s.name == "plainsight_dropped_total")
        .map(|s| {
            let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{{{}}} {}", labels.join(","), s.value)
        })
        .collect();
    let dropped_total = metric_sum(&after, "plainsight_dropped_total", &[]);
    let series = |name: &str| -> Vec<String> {
        after
            .iter()
            .filter(|s| s.name == name)
            .map(|s| {
                let labels: Vec<String> =
                    s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{name}{{{}}} {}", labels.join(","), s.value)
            })
            .collect()
    };
    let flows_series = series("plainsight_flows_total");
    let tracked = series("plainsight_flows_tracked");
    let events_read: Vec<_> = after
        .iter()
        .filter(|s| s.name == "plainsight_events_read_total")
        .map(|s| format!("{:?} {}", s.labels, s.value))
        .collect();
    let st = agent.signal_and_wait(libc::SIGTERM);

    // Client ports reused within the run: the same 5-tuple for a new connection.
    let events = plainsight_tests::lab::parse_events(
        &std::fs::read_to_string(&agent.events).unwrap_or_default(),
    );
    let mut per_port: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
    for e in &events {
        *per_port
            .entry(e["src_port"].as_u64().unwrap_or(0))
            .or_default() += 1;
    }
    let reused_ports = per_port.values().filter(|n| **n > 1).count();
    let non_tls = events.iter().filter(|e| e["protocol"] != "tls").count();
    let non_tls_reused = events
        .iter()
        .filter(|e| e["protocol"] != "tls" && per_port[&e["src_port"].as_u64().unwrap_or(0)] > 1)
        .count();
    let rate = connections as f64 / wall.as_secs_f64();
    let cpu_s = ticks as f64 / hz;
    let cpu_pct = 100.0 * cpu_s / wall.as_secs_f64();
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

    let mut md = String::new();
    let _ = writeln!(md, "# Live agent under a TLS connection flood\n");
    let _ = writeln!(
        md,
        "Measured by `cargo xtask bench-live` (tests/src/bin/bench-live.rs), never edited by hand.\n"
    );
    let _ = writeln!(
        md,
        "Setup: the lab of tests/src/lab.rs (client and server namespaces bridged in a hub \
         namespace); `plainsight run` (release build) attached to the client's hub-side veth \
         (default attach mode); {clients} parallel `openssl s_time -connect {target} -new -time {secs}` \
         against the hardened nginx (TLS 1.3, full handshake per connection). Machine: {ncpu} CPUs \
         ({cpu_model}), kernel {}. The clients, nginx and the agent share the CPUs.\n",
        kernel.trim()
    );
    let _ = writeln!(
        md,
        "/proc/loadavg before the run: `{}` (other processes were running; every figure is \
         for a shared machine).\n",
        load_before.trim()
    );
    let _ = writeln!(md, "| measure | value |\n|---|---|");
    let _ = writeln!(md, "| run (wall) | {:.1} s |", wall.as_secs_f64());
    let _ = writeln!(md, "| TLS connections made (s_time) | {connections} |");
    let _ = writeln!(md, "| rate held | {rate:.0} new TLS connections/s |");
    let _ = writeln!(
        md,
        "| flows reported by the agent (any protocol) | {flows_all} |"
    );
    let _ = writeln!(
        md,
        "| of which classified TLS | {flows_seen} ({:.1} %) |",
        100.0 * flows_seen / (connections as f64).max(1.0)
    );
    let _ = writeln!(md, "| TLS handshakes counted (all labels) | {handshakes} |");
    let _ = writeln!(md, "| plainsight_dropped_total (sum) | {dropped_total} |");
    let _ = writeln!(
        md,
        "| wait after the clients for flows to be reported | {:.1} s (gives up at 30 s) |",
        waited.as_secs_f64()
    );
    let _ = writeln!(
        md,
        "| agent CPU (utime+stime) | {cpu_s:.2} s = {cpu_pct:.1} % of one CPU |"
    );
    let _ = writeln!(
        md,
        "| agent CPU including the wait for the last flows | {:.2} s |",
        ticks_drain as f64 / hz
    );
    let _ = writeln!(
        md,
        "| agent peak RSS (VmHWM) | {:.1} MiB |",
        hwm_kb as f64 / 1024.0
    );
    let _ = writeln!(
        md,
        "| agent RSS at the end (VmRSS) | {:.1} MiB |",
        rss_kb as f64 / 1024.0
    );
    let _ = writeln!(md, "| agent exit after SIGTERM | {st} |");
    let _ = writeln!(
        md,
        "\nFrom the events file: {} events, {} distinct client ports, {reused_ports} client \
         ports used by more than one event (the client reused the port, so the 5-tuple, \
         within the run); {non_tls} events not classified TLS, {non_tls_reused} of them on a \
         reused port.",
        events.len(),
        per_port.len()
    );
    let _ = writeln!(md, "\nFlow series at the end:\n\n```");
    for l in flows_series.iter().chain(tracked.iter()) {
        let _ = writeln!(md, "{l}");
    }
    let _ = writeln!(md, "```");
    let _ = writeln!(md, "\nplainsight_dropped_total series at the end:\n");
    let _ = writeln!(md, "```");
    for d in &dropped {
        let _ = writeln!(md, "plainsight_dropped_total{d}");
    }
    if dropped.is_empty() {
        let _ = writeln!(md, "(no series)");
    }
    let _ = writeln!(
        md,
        "```\n\nplainsight_events_read_total: {}\n",
        events_read.join("; ")
    );
    let _ = writeln!(
        md,
        "openssl s_time output per client:\n\n```\n{}```",
        outputs
    );
    print!("{md}");
    std::fs::write(&out_path, &md).expect("write the report");
    drop(lab);
}
