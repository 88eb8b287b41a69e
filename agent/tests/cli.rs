//! The `plainsight` binary as a user runs it: exit codes, `--fail-on`, the grouped table,
//! a cut gzip capture, and `explain`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};

#[path = "common/corpus.rs"]
mod corpus_path;

fn plainsight(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plainsight"))
        .args(args)
        .output()
        .expect("run plainsight")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// FTP in the clear (medium) and TLS: a capture with a finding to fail on.
fn ftp_capture() -> String {
    corpus_path::corpus_file("suricata-verify/tests/bug-4877/input.pcap")
        .display()
        .to_string()
}

#[test]
fn fail_on_exits_1_and_names_the_findings() {
    let cap = ftp_capture();
    let out = plainsight(&["pcap", &cap, "--fail-on", "medium"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("--fail-on medium: plaintext.ftp (medium) on 1 flow(s)"),
        "{err}"
    );
    // Above every raised severity: exit 0 and no such line.
    let out = plainsight(&["pcap", &cap, "--fail-on", "critical"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("--fail-on"));
}

#[test]
fn gzip_capture_cut_in_half_yields_its_first_flows_and_exit_3() {
    let raw = std::fs::read(ftp_capture()).expect("read");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&raw).expect("gz");
    let gz = enc.finish().expect("gz");
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cut-in-half.pcap.gz");
    std::fs::write(&path, &gz[..gz.len() / 2]).expect("write");
    let out = plainsight(&["pcap", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let events: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("event JSON"))
        .collect();
    assert!(
        events.iter().any(|e| e["protocol"] == "ftp"),
        "the FTP control flow of the first half is reported: {events:?}"
    );
    let err = text(&out.stderr);
    assert!(err.contains("read error at byte offset"), "{err}");
}

#[test]
fn table_groups_by_finding_and_destination_with_a_header() {
    let cap = ftp_capture();
    let out = plainsight(&["pcap", &cap, "--format", "table", "--no-summary"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("SEVERITY  FINDING"), "{stdout}");
    let ftp = lines
        .iter()
        .find(|l| l.contains("plaintext.ftp"))
        .unwrap_or_else(|| panic!("{stdout}"));
    let cols: Vec<&str> = ftp.split_whitespace().collect();
    assert_eq!(
        &cols[..7],
        &[
            "medium",
            "plaintext.ftp",
            "tcp",
            "192.168.100.230:21",
            "ftp",
            "1",
            "1"
        ],
        "{stdout}"
    );
    // The four FTP data connections (unknown_binary, no finding) share one destination
    // port each, so they are four groups without a finding, after every finding.
    let first_plain = lines
        .iter()
        .position(|l| l.starts_with("- "))
        .expect("{stdout}");
    assert!(lines[1..first_plain].iter().all(|l| !l.starts_with("- ")));
    // Columns are aligned: FINDING starts at the same offset on every row.
    let at = lines[0].find("FINDING").expect("header");
    for l in &lines[1..] {
        assert!(
            l.len() > at && !l[..at].ends_with(|c: char| !c.is_whitespace()),
            "{l}"
        );
    }
    // --top limits the groups and says how many were left out; --all shows them all.
    let top1 = text(
        &plainsight(&[
            "pcap",
            &cap,
            "--format",
            "table",
            "--no-summary",
            "--top",
            "1",
        ])
        .stdout,
    );
    assert_eq!(top1.lines().count(), 3, "{top1}");
    assert!(top1.contains("more group(s)"), "{top1}");
    let all = text(
        &plainsight(&[
            "pcap",
            &cap,
            "--format",
            "table",
            "--no-summary",
            "--all",
            "--top",
            "1",
        ])
        .stdout,
    );
    assert_eq!(all.lines().count(), lines.len(), "{all}");
}

#[test]
fn explain_lists_the_catalogue_and_prints_a_card() {
    let out = plainsight(&["explain"]);
    assert_eq!(out.status.code(), Some(0));
    let list = text(&out.stdout);
    for id in [
        "tls.cipher.weak",
        "plaintext.credentials",
        "tls.handshake.failure_spike",
    ] {
        assert!(list.lines().any(|l| l.starts_with(id)), "{id}");
    }
    let card = text(&plainsight(&["explain", "plaintext.credentials"]).stdout);
    assert!(
        card.contains("remediation: Rotate the exposed credential"),
        "{card}"
    );
    assert!(card.contains("references:"), "{card}");
    let out = plainsight(&["explain", "no.such.finding"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown finding id"));
}

/// Configurations that `run` must refuse before it attaches anything: `config check` and
/// `run` both exit 2, and the error names the file, the line and the key.
#[test]
fn bad_configurations_exit_2_in_check_and_run_naming_file_line_and_key() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad-configs");
    std::fs::create_dir_all(&dir).expect("dir");
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").expect("write");
    let garbage = garbage.display().to_string();
    // (name, file text, the key the error must name, the line it is on)
    let cases: Vec<(&str, String, &str, usize)> = vec![
        (
            "unknown key",
            "[network]\ninternals = [\"10.0.0.0/8\"]\n".into(),
            "internals",
            2,
        ),
        (
            "bad CIDR",
            "\n[network]\ninternal = [\"10.0.0.0/33\"]\n".into(),
            "internal",
            3,
        ),
        (
            "unknown protocol",
            "[[allow]]\nprotocol = \"gopher\"\n".into(),
            "allow[0].protocol",
            2,
        ),
        (
            "empty allow rule",
            "[[allow]]\nprotocol = \"dns\"\n\n[[allow]]\ncomment = \"x\"\n".into(),
            "allow[1]",
            4,
        ),
        (
            "unknown allowed finding",
            "[[allow]]\nfinding = \"tls.nope\"\n".into(),
            "allow[0].finding",
            2,
        ),
        (
            "unknown severity id",
            "[severity]\n\"tls.nope\" = \"low\"\n".into(),
            "severity.\"tls.nope\"",
            2,
        ),
        (
            "bad severity value",
            "[severity]\n\"tls.early_data\" = \"of\"\n".into(),
            "tls.early_data",
            2,
        ),
        (
            "budget too small",
            "[capture]\nattach = \"auto\"\nbudget_bytes = 100\n".into(),
            "capture.budget_bytes",
            3,
        ),
        (
            "bad interface glob",
            "[capture]\ninterfaces_include = [\"eth/0\"]\n".into(),
            "capture.interfaces_include[0]",
            2,
        ),
        (
            "zero flows",
            "[limits]\nmax_flows = 0\n".into(),
            "limits.max_flows",
            2,
        ),
        (
            "half TLS",
            "[http]\ntls_cert = \"/etc/hostname\"\n".into(),
            "http.tls_cert",
            2,
        ),
        (
            "missing certificate",
            "[http]\ntls_cert = \"/nonexistent/tls.crt\"\ntls_key = \"/nonexistent/tls.key\"\n"
                .into(),
            "http.tls_cert",
            2,
        ),
        (
            "certificate not PEM",
            format!("[http]\ntls_key = \"{garbage}\"\ntls_cert = \"{garbage}\"\n"),
            "http.tls_cert",
            3,
        ),
        (
            "events directory missing",
            "[events]\npath = \"/nonexistent-dir/events.json\"\n".into(),
            "events.path",
            2,
        ),
        (
            "events path is a directory",
            "[events]\npath = \"/tmp\"\n".into(),
            "events.path",
            2,
        ),
        (
            "bad listen address",
            "[http]\nlisten = \"localhost\"\n".into(),
            "listen",
            2,
        ),
        (
            "bad EWMA",
            "[spike]\newma_alpha = 2.0\n".into(),
            "spike.ewma_alpha",
            2,
        ),
    ];
    assert!(cases.len() >= 10);
    for (i, (name, text, key, line)) in cases.iter().enumerate() {
        let path = dir.join(format!("bad-{i}.toml"));
        std::fs::write(&path, text).expect("write");
        let p = path.display().to_string();
        let check = plainsight(&["config", "check", &p]);
        let err = text_of(&check.stderr);
        assert_eq!(check.status.code(), Some(2), "{name}: config check: {err}");
        let located = err.contains(&format!("{p}:{line}:"))
            || err.contains(&format!("{p}: TOML parse error at line {line},"));
        assert!(located, "{name}: the error names {p} line {line}: {err}");
        assert!(err.contains(key), "{name}: the error names {key}: {err}");
        // `run` refuses it the same way, before attaching: the interface does not exist
        // and the endpoint is on a free loopback port, so a config wrongly accepted fails
        // later with another status instead of touching this host.
        let mut args = vec![
            "run",
            "--config",
            &p,
            "--iface",
            "ps-none0",
            "--listen",
            "127.0.0.1:0",
        ];
        if *key != "events.path" {
            args.extend(["--events", "-"]);
        }
        let run = plainsight(&args);
        let err = text_of(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{name}: run: {err}");
        assert!(err.contains(key), "{name}: run names {key}: {err}");
    }
}

fn text_of(b: &[u8]) -> String {
    text(b)
}
