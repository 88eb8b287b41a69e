//! The demo lab for newcomers (`cargo xtask demo`, or `cargo xtask run --demo`).
//!
//! Builds the lab of tests/src/lab.rs with its bridge in the host's network namespace
//! (`ps-demo-br`, ports `ps-demo-c` and `ps-demo-s`, no address on the host), starts
//! hardened and weak nginx, plain HTTP, PostgreSQL without TLS, runs
//! `plainsight run --iface ps-demo-c --listen 127.0.0.1:9909` in the host netns, and
//! drives one round of traffic every 2 s (with a burst of failing handshakes every
//! 10th round) until Ctrl-C or `--rounds N`. Everything is removed on exit; stale
//! `ps-demo-*` namespaces and links of an earlier run are removed at start.
//!
//! Usage: lab-demo [--rounds N] [--port P]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use plainsight_tests::lab::{cleanup_stale, metric_sum, parse_metrics, Hub, Lab, LiveAgent};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

const NAME: &str = "ps-demo";
const PID_FILE: &str = "/run/ps-demo-agent.pid";

fn main() {
    let mut rounds: u64 = 300;
    let mut port: u16 = 9909;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--rounds N")
            }
            "--port" => port = args.next().and_then(|v| v.parse().ok()).expect("--port P"),
            "-h" | "--help" => {
                println!("usage: lab-demo [--rounds N (default 300, 0 = until Ctrl-C)] [--port P (default 9909)]");
                return;
            }
            other => panic!("unknown argument {other:?} (try --help)"),
        }
    }
    // Our own handler, also when the parent (xtask) ignores SIGINT.
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }

    // Clients killed by the Ctrl-C itself are no news: report client failures only
    // while running.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !STOP.load(Ordering::SeqCst) {
            default_hook(info);
        }
    }));
    eprintln!("demo: removing leftovers of an earlier demo (ps-demo-* namespaces and links)");
    kill_stale_agent();
    cleanup_stale(
        &format!("{NAME}-"),
        &[
            &format!("{NAME}-c"),
            &format!("{NAME}-s"),
            &format!("{NAME}-br"),
        ],
    );

    eprintln!("demo: creating the lab (namespaces, certificates, nginx, PostgreSQL)");
    let mut lab = Lab::new(NAME, Hub::Host);
    lab.start_servers();

    eprintln!("demo: starting plainsight run on {}", lab.client_hub_if);
    let mut agent = LiveAgent::spawn(&lab, port, &[]);
    let _ = std::fs::write(PID_FILE, agent.pid().to_string());
    agent.wait_ready();

    println!(
        r#"
Plainsight demo lab is running.

  metrics:   curl -s http://{listen}/metrics | grep -E '^plainsight_(findings|tls_handshakes|tls_handshake_failure_spike)'
  health:    curl -s http://{listen}/healthz ; curl -s http://{listen}/readyz
  events:    tail -f {events}   (one JSON line per finished flow)
  agent log: {stderr}

  The agent runs in the host netns, attached to {cif} (the client's port on the
  bridge {br}); the lab's addresses exist only in namespaces {cns} and {sns}.
  Make your own traffic from the client namespace, e.g.:
    ip netns exec {cns} curl -s http://10.210.0.20/
    ip netns exec {cns} openssl s_client -connect 10.210.0.20:8443 -tls1_1 -cipher 'AES128-SHA:@SECLEVEL=0' </dev/null
  Prometheus: point a scrape job at {listen}; alert rules in dashboards/alerts.yml.

Traffic: one round every 2 s (hardened TLS 1.3 and 1.2, weak TLS 1.0/1.1/1.2, plain
HTTP, psql with a cleartext password, a failing handshake; a burst of 30 failing
handshakes every 10th round). {bound} Ctrl-C stops and removes everything.
"#,
        listen = agent.listen,
        events = agent.events,
        stderr = agent.stderr,
        cif = lab.client_hub_if,
        br = lab.bridge,
        cns = lab.client_ns,
        sns = lab.server_ns,
        bound = if rounds == 0 {
            "Runs until Ctrl-C.".to_owned()
        } else {
            format!("Stops after {rounds} rounds.")
        },
    );

    let mut n: u64 = 0;
    while !STOP.load(Ordering::SeqCst) && (rounds == 0 || n < rounds) {
        let start = Instant::now();
        let failures = if n % 10 == 9 { 30 } else { 1 };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lab.round(failures)));
        if r.is_err() && !STOP.load(Ordering::SeqCst) {
            eprintln!("demo: round {n} had a failing client (see above); continuing");
        }
        if let Ok(Some(st)) = agent.proc.0.try_wait() {
            eprintln!(
                "demo: the agent exited ({st}); stopping. Its log:\n{}",
                agent.stderr_text()
            );
            break;
        }
        n += 1;
        if n.is_multiple_of(5) {
            let s = parse_metrics(&agent.metrics());
            eprintln!(
                "demo: round {n}: flows {} | findings {} | handshake failures {} | spike {}",
                metric_sum(&s, "plainsight_flows_total", &[]),
                metric_sum(&s, "plainsight_findings_total", &[]),
                metric_sum(&s, "plainsight_tls_handshake_failures_total", &[]),
                metric_sum(&s, "plainsight_tls_handshake_failure_spike", &[]),
            );
        }
        while start.elapsed() < Duration::from_secs(2) && !STOP.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    eprintln!("demo: stopping the agent and removing the lab");
    if matches!(agent.proc.0.try_wait(), Ok(None)) {
        let st = agent.signal_and_wait(libc::SIGTERM);
        eprintln!("demo: agent exited with {st}");
    }
    let _ = std::fs::remove_file(PID_FILE);
    drop(lab);
    eprintln!("demo: done (events kept in /tmp/{NAME} until the next demo)");
}

/// A demo agent left running by a killed demo is still attached in the host netns.
fn kill_stale_agent() {
    let Ok(pid) = std::fs::read_to_string(PID_FILE) else {
        return;
    };
    let Ok(pid) = pid.trim().parse::<i32>() else {
        return;
    };
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm.trim() == "plainsight" {
        eprintln!("demo: stopping a stale demo agent (pid {pid})");
        // SAFETY: kill(2) on a pid whose comm we just checked.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        std::thread::sleep(Duration::from_secs(2));
    }
    let _ = std::fs::remove_file(PID_FILE);
}
