//! Runs the analyser on captures: time-boxed, at most two at a time, never
//! panicking on what the binary does.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ours::{parse_event, Event};

/// Per-capture time box.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// Parallel runs (the machines have two cores, shared).
pub const THREADS: usize = 2;

/// `PLAINSIGHT_BIN`, else the package's own binary.
pub fn binary() -> PathBuf {
    match std::env::var_os("PLAINSIGHT_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_BIN_EXE_plainsight")),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Exit status 0.
    Ok,
    /// Exit status 3 with a message naming the offset: a truncated or
    /// malformed capture reported as an input error.
    InputError(String),
    /// Anything else: signal, panic, other exit status, time-out, spawn error.
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub capture: String,
    pub status: Status,
    pub events: Vec<Event>,
    /// stdout lines that are not valid events: (line number, error).
    pub bad_lines: Vec<(usize, String)>,
    /// Lines that break docs/event.schema.json (line number, every violation).
    pub schema_errors: Vec<(usize, String)>,
    pub elapsed: Duration,
}

fn tail(s: &str, n: usize) -> String {
    let t: Vec<&str> = s.lines().rev().take(n).collect();
    t.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

/// Kills the child's process group (its own, see `process_group(0)`), so
/// that grandchildren holding the output pipes die too.
fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) with a negative pid signals that process group; no
        // memory is involved.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// Runs `BIN pcap FILE --format json --all-flows --no-summary`.
pub fn run_capture(bin: &Path, root: &Path, capture: &str, timeout: Duration) -> RunOutcome {
    let start = Instant::now();
    let mut out = RunOutcome {
        capture: capture.to_string(),
        status: Status::Ok,
        events: Vec::new(),
        bad_lines: Vec::new(),
        schema_errors: Vec::new(),
        elapsed: Duration::ZERO,
    };
    use std::os::unix::process::CommandExt;
    let child = Command::new(bin)
        .process_group(0)
        .arg("pcap")
        .arg(root.join(capture))
        .args(["--format", "json", "--all-flows", "--no-summary"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            out.status = Status::Failed(format!("cannot start {}: {e}", bin.display()));
            return out;
        }
    };
    let mut so = child.stdout.take();
    let mut se = child.stderr.take();
    let t_out = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(s) = so.as_mut() {
            let _ = s.read_to_end(&mut b);
        }
        b
    });
    let t_err = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(s) = se.as_mut() {
            let _ = s.read_to_end(&mut b);
        }
        b
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if start.elapsed() >= timeout => {
                kill_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                out.status = Status::Failed(format!("wait failed: {e}"));
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap_or_default()).to_string();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap_or_default()).to_string();
    out.elapsed = start.elapsed();
    for (i, line) in stdout.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_event(line) {
            Ok(e) => out.events.push(e),
            Err(e) => out.bad_lines.push((i + 1, e)),
        }
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
            let errors = crate::schema::event_errors(&v);
            if !errors.is_empty() {
                out.schema_errors.push((i + 1, errors.join("; ")));
            }
        }
    }
    let Some(st) = status else {
        if out.status == Status::Ok {
            out.status = Status::Failed(format!(
                "timed out after {} s (killed)",
                timeout.as_secs_f32()
            ));
        }
        return out;
    };
    let panicked = stderr.contains("panicked at");
    out.status = match st.code() {
        Some(0) if !panicked => Status::Ok,
        Some(0) => Status::Failed(format!("exit 0 but panicked: {}", tail(&stderr, 3))),
        Some(3) if stderr.to_ascii_lowercase().contains("offset") && !panicked => {
            Status::InputError(tail(&stderr, 2))
        }
        Some(c) => Status::Failed(format!("exit status {c}: {}", tail(&stderr, 3))),
        None => {
            use std::os::unix::process::ExitStatusExt;
            Status::Failed(format!(
                "killed by signal {}: {}",
                st.signal().unwrap_or(0),
                tail(&stderr, 3)
            ))
        }
    };
    out
}

/// Runs every capture on [`THREADS`] threads; results in input order.
pub fn run_all(bin: &Path, root: &Path, captures: &[String], timeout: Duration) -> Vec<RunOutcome> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<RunOutcome>>> = Mutex::new(vec![None; captures.len()]);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(c) = captures.get(i) else { break };
                let r = run_capture(bin, root, c, timeout);
                if let Ok(mut g) = results.lock() {
                    g[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .zip(captures)
        .map(|(r, c)| {
            r.unwrap_or_else(|| RunOutcome {
                capture: c.clone(),
                status: Status::Failed("runner thread lost the result".to_string()),
                events: Vec::new(),
                bad_lines: Vec::new(),
                schema_errors: Vec::new(),
                elapsed: Duration::ZERO,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/fixtures/fake-plainsight.sh")
    }

    #[test]
    fn classifies_exit_statuses_signals_panics_and_timeouts() {
        let root = Path::new("/nonexistent-corpus");
        let caps: Vec<String> = [
            "ok.pcap",
            "fake-hang.pcap",
            "fake-crash.pcap",
            "fake-panic.pcap",
            "fake-truncated.pcap",
            "fake-badjson.pcap",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let t0 = Instant::now();
        let r = run_all(&fake(), root, &caps, Duration::from_secs(2));
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "time box not applied"
        );
        assert_eq!(r[0].status, Status::Ok);
        assert_eq!(r[0].events.len(), 3);
        assert!(
            matches!(&r[1].status, Status::Failed(m) if m.contains("timed out")),
            "{:?}",
            r[1].status
        );
        assert!(
            matches!(&r[2].status, Status::Failed(m) if m.contains("signal 11")),
            "{:?}",
            r[2].status
        );
        assert!(
            matches!(&r[3].status, Status::Failed(m) if m.contains("exit status 101")),
            "{:?}",
            r[3].status
        );
        assert!(
            matches!(&r[4].status, Status::InputError(m) if m.contains("offset")),
            "{:?}",
            r[4].status
        );
        assert_eq!(r[5].status, Status::Ok);
        assert_eq!(r[5].bad_lines.len(), 1);
        let missing = run_capture(Path::new("/nonexistent/plainsight"), root, "x", TIMEOUT);
        assert!(matches!(missing.status, Status::Failed(m) if m.contains("cannot start")));
    }
}
