//! `cargo xtask stress`: runs the flood tests (tests/tests/flood.rs) against the real agent
//! with `PLAINSIGHT_STRESS_REPORT` set, then writes docs/reliability.md from the figures
//! they recorded. Nothing in the document is typed by hand.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::{cargo, run as run_cmd};

/// The lock every helper that creates namespaces or attaches programs takes.
const LOCK: &str = "/tmp/plainsight-root-tests.lock";

/// The test command, as the document quotes it.
const TEST_CMD: &str = "flock /tmp/plainsight-root-tests.lock cargo test -p plainsight-tests \
                        --test flood -- --test-threads=1";

pub fn run(root: &Path) -> Result<()> {
    run_cmd(
        cargo()
            .current_dir(root)
            .args(["build", "-p", "plainsight", "--bin", "plainsight"]),
    )?;
    let report = root.join("target/stress-report.jsonl");
    let _ = std::fs::remove_file(&report);
    let status = Command::new("flock")
        .current_dir(root)
        .arg(LOCK)
        .arg(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "test",
            "-p",
            "plainsight-tests",
            "--test",
            "flood",
            "--",
            "--test-threads=1",
        ])
        .env("PLAINSIGHT_BIN", root.join("target/debug/plainsight"))
        .env("PLAINSIGHT_STRESS_REPORT", &report)
        .status()
        .context("run the flood tests")?;
    if !status.success() {
        bail!("the flood tests failed ({status}); docs/reliability.md not written");
    }
    let text = std::fs::read_to_string(&report).context("read the stress report")?;
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("parse the stress report")?;
    let doc = render(&lines, &conditions());
    let out = root.join("docs/reliability.md");
    std::fs::write(&out, doc).with_context(|| format!("write {}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}

/// Kernel, CPUs and date of the run.
fn conditions() -> String {
    let sh = |args: &[&str]| {
        Command::new(args[0])
            .args(&args[1..])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    format!(
        "kernel {}, {} CPUs (shared with other work while measured), {}",
        sh(&["uname", "-r"]),
        sh(&["nproc"]),
        sh(&["date", "-u", "+%Y-%m-%d %H:%M UTC"])
    )
}

fn num(v: &Value, k: &str) -> f64 {
    v.get(k).and_then(Value::as_f64).unwrap_or(0.0)
}

fn int(v: &Value, k: &str) -> String {
    let n = num(v, k) as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mib(v: &Value, k: &str) -> String {
    format!("{:.1} MiB", num(v, k) / (1024.0 * 1024.0))
}

fn scenario<'a>(lines: &'a [Value], name: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["scenario"] == name).collect()
}

fn render(lines: &[Value], conditions: &str) -> String {
    let mut d = String::new();
    let _ = writeln!(
        d,
        "# Reliability under hostile traffic\n\n\
         Written by `cargo xtask stress` ({conditions}); do not edit by hand. Every figure \
         comes from one run of\n\n```sh\n{TEST_CMD}\n```\n\n\
         with `PLAINSIGHT_STRESS_REPORT` set (the tests record what they measured) and the \
         debug build of `plainsight run` (`target/debug/plainsight`). Each scenario runs the \
         real agent in the lab's network namespaces (tests/src/lab.rs) with `[limits] \
         max_flows = 1024`, `max_memory_bytes = 16 MiB`, `kernel_scan_secs = 1` and \
         `[spike] max_services = 64`, unless said otherwise. Frames come from a raw socket in \
         the client namespace, spoofed from the lab's own /24 to the lab server, which never \
         answers them (tests/src/flood.rs). During every flood the lab's real clients (curl \
         over TLS 1.3 to nginx, curl over plain HTTP, psql with a password) run, and each of \
         their flows must be reported once with the right protocol and findings \
         (\"lab flows\" below).\n\n\
         Peak RSS is the agent's `VmHWM`; the baseline is its `VmRSS` once ready. The tests \
         assert peak ≤ baseline + `max_memory_bytes`, and `plainsight_state_bytes` ≤ \
         `max_memory_bytes`.\n"
    );
    let lab = |v: &Value| {
        if v["lab_flows_ok"] == true {
            "all reported correctly"
        } else {
            "NOT checked"
        }
    };
    for v in scenario(lines, "spoofed_fin") {
        let _ = writeln!(
            d,
            "## Spoofed FIN flood\n\n`spoofed_fin_flood_evicts_payloadless_flows_and_lab_flows_survive`: \
             {} payload-less FIN+ACK segments on new tuples in {:.1} s.\n\n\
             | what | count |\n|---|---:|\n\
             | flows evicted, payload-less (`flow_table`/`evicted_payloadless`) | {} |\n\
             | new flows refused (`flow_table`/`full`) | {} |\n\
             | events the kernel could not queue (`kernel`/`ringbuf_full`) | {} |\n\
             | flows held at the end (`plainsight_flows_tracked`) | {} |\n\
             | lab flows | {} |\n| peak RSS (baseline) | {} ({}) |\n| counted state | {} |\n\n\
             Evicted + refused + held + ring-full accounts for every tuple sent (the lab's \
             flows are the only others).\n",
            int(v, "sent"),
            num(v, "secs"),
            int(v, "evicted_payloadless"),
            int(v, "full"),
            int(v, "ringbuf_full"),
            int(v, "tracked"),
            lab(v),
            mib(v, "peak_rss"),
            mib(v, "baseline_rss"),
            mib(v, "state_bytes"),
        );
    }
    for v in scenario(lines, "syn_100k") {
        let _ = writeln!(
            d,
            "## SYN flood, 100,000 tuples\n\n`syn_flood_of_100k_tuples_is_counted_in_the_kernel_map`: \
             {} SYNs on new tuples in {:.1} s. A payload-less SYN raises no event, so only the \
             kernel's flow map sees them; it holds {} directions (2 × `max_flows`) and its LRU \
             makes room.\n\n\
             | what | count |\n|---|---:|\n\
             | kernel flow-map entries evicted by its LRU (`kernel`/`flow_map_lru_evicted`) | {} |\n\
             | BPF map memory held by the agent (fdinfo `memlock`, all maps) | {} |\n\
             | lab flows | {} |\n| peak RSS (baseline) | {} ({}) |\n",
            int(v, "sent"),
            num(v, "secs"),
            int(v, "kernel_map_entries"),
            int(v, "kernel_lru_evicted"),
            mib(v, "map_memlock"),
            lab(v),
            mib(v, "peak_rss"),
            mib(v, "baseline_rss"),
        );
    }
    for v in scenario(lines, "udp") {
        let _ = writeln!(
            d,
            "## UDP flood\n\n`udp_flood_evicts_unanswered_flows_and_lab_flows_survive`: {} \
             datagrams (32 bytes of noise each) on new tuples in {:.1} s.\n\n\
             | what | count |\n|---|---:|\n\
             | flows evicted, unanswered (`flow_table`/`evicted_one_way`) | {} |\n\
             | new flows refused (`flow_table`/`full`) | {} |\n\
             | events the kernel could not queue (`kernel`/`ringbuf_full`) | {} |\n\
             | flows held at the end | {} |\n\
             | lab flows | {} |\n| peak RSS (baseline) | {} ({}) |\n| counted state | {} |\n",
            int(v, "sent"),
            num(v, "secs"),
            int(v, "evicted_one_way"),
            int(v, "full"),
            int(v, "ringbuf_full"),
            int(v, "tracked"),
            lab(v),
            mib(v, "peak_rss"),
            mib(v, "baseline_rss"),
            mib(v, "state_bytes"),
        );
    }
    for v in scenario(lines, "random_sni") {
        let _ = writeln!(
            d,
            "## 10,000 random server names\n\n`ten_thousand_random_server_names_stay_bounded`: \
             {} ClientHellos, each with its own SNI, then a RST on each tuple ({:.1} s in all). \
             Each flow ends as a handshake failure and feeds the spike detector.\n\n\
             | what | count |\n|---|---:|\n\
             | services evicted by the spike detector, least recently seen (`spike`/`evicted`) | {} |\n\
             | services held (`plainsight_tls_handshake_failure_ratio` series) | {} |\n\
             | spike detector bytes / label bytes (`plainsight_state_bytes`) | {} / {} |\n\
             | `/metrics` size | {} bytes |\n\
             | lab flows | {} |\n| peak RSS (baseline) | {} ({}) |\n",
            int(v, "sent"),
            num(v, "secs"),
            int(v, "spike_evicted"),
            int(v, "spike_services"),
            int(v, "spike_bytes"),
            int(v, "label_bytes"),
            int(v, "metrics_bytes"),
            lab(v),
            mib(v, "peak_rss"),
            mib(v, "baseline_rss"),
        );
    }
    for v in scenario(lines, "ringbuf_overload") {
        let _ = writeln!(
            d,
            "## Ring-buffer overload\n\n`ring_buffer_overload_is_counted_exactly_and_shutdown_stays_prompt`: \
             `ringbuf_bytes = 16384`, {} datagrams on new tuples as fast as the socket takes \
             them ({:.2} s).\n\n\
             | what | count |\n|---|---:|\n\
             | kernel ring reserve failures (`kernel`/`ringbuf_full`) | {} |\n\
             | events the kernel queued (`plainsight_events_read_total{{source=\"kernel_submitted\"}}`) | {} |\n\
             | events the agent read (`source=\"ringbuf\"`) | {} |\n\
             | SIGTERM to exit, under a flood at full speed | {:.2} s |\n\
             | lab flows (during a 1,000/s flood) | {} |\n| peak RSS (baseline) | {} ({}) |\n\n\
             Reserve failures + queued = datagrams sent, and read = queued, exactly (the test \
             asserts both). The agent reads at most 4,096 events per wake-up, so the tick, \
             the kernel scan and the signals still run.\n",
            int(v, "sent"),
            num(v, "secs"),
            int(v, "ringbuf_full"),
            int(v, "kernel_submitted"),
            int(v, "read"),
            num(v, "shutdown_secs"),
            lab(v),
            mib(v, "peak_rss"),
            mib(v, "baseline_rss"),
        );
    }
    let scale = scenario(lines, "scale");
    if !scale.is_empty() {
        let _ = writeln!(
            d,
            "## 10,000 and 100,000 flows\n\n`scale_to_10k_and_100k_flows`: `max_flows` = N + 64 \
             and `max_memory_bytes` = 1 GiB, so nothing is evicted (and the default \
             `kernel_scan_secs`); after the lab's clients \
             were reported correctly, N UDP datagrams on new tuples at the rate shown.\n\n\
             | flows sent | rate sent | events read/s | flows held | lost in the ring | peak RSS (baseline) | flow table (counted) | BPF map memory |\n\
             |---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for v in scale {
            let _ = writeln!(
                d,
                "| {} | {}/s | {} | {} | {} | {} ({}) | {} | {} |",
                int(v, "flows"),
                int(v, "rate"),
                int(v, "events_per_sec"),
                int(v, "tracked"),
                int(v, "ringbuf_full"),
                mib(v, "peak_rss"),
                mib(v, "baseline_rss"),
                mib(v, "table_bytes"),
                mib(v, "map_memlock"),
            );
        }
        let _ = writeln!(
            d,
            "\nEvents read/s is the events read over the time the flood took; when it is \
             below the rate sent, the ring filled and the kernel counted the rest \
             (`ringbuf_full`), which is what \"lost in the ring\" shows. The flow table's \
             count covers the map's allocation and the stream buffers; the process's growth \
             above its baseline is larger (per-flow analyser state on the heap, allocator \
             slack), which is why the cap bounds the state and the tests bound RSS by \
             baseline + cap."
        );
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_scenario_with_its_numbers() {
        let lines: Vec<Value> = [
            r#"{"scenario":"spoofed_fin","sent":30000,"secs":3.0,"evicted_payloadless":28989,"full":0,"ringbuf_full":0,"tracked":1011,"peak_rss":33554432,"baseline_rss":20971520,"state_bytes":1048576,"lab_flows_ok":true}"#,
            r#"{"scenario":"scale","flows":100000,"rate":25000,"events_per_sec":16160.9,"tracked":64632,"ringbuf_full":35368,"peak_rss":1048576,"baseline_rss":1048576,"table_bytes":1048576,"map_memlock":1048576}"#,
        ]
        .iter()
        .map(|l| serde_json::from_str(l).expect("fixture"))
        .collect();
        let d = render(&lines, "test");
        assert!(d.contains(
            "| flows evicted, payload-less (`flow_table`/`evicted_payloadless`) | 28,989 |"
        ));
        assert!(d.contains("| 100,000 | 25,000/s | 16,160 | 64,632 | 35,368 |"));
        assert!(d.contains("all reported correctly"));
        assert!(d.contains(TEST_CMD));
    }
}
