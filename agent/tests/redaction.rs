//! Secrets seen in cleartext never reach any output. Every corpus capture whose raw
//! bytes carry a password in a well-known form (FTP/POP3 `PASS`, IMAP `LOGIN`, HTTP Basic,
//! SMTP/IMAP `AUTH PLAIN`) is analysed by the real binary, and neither its events nor its
//! summary may contain that password, nor its log on stderr, at the default level and at
//! `RUST_LOG=trace` (every `Debug` a log line might print included).

use std::path::PathBuf;
use std::process::Command;

#[path = "common/corpus.rs"]
mod corpus_path;

fn corpus() -> PathBuf {
    corpus_path::corpus_root()
}

/// RFC 4648 base64, enough for the test (the agent has its own decoder).
fn b64(s: &[u8]) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for v in s.iter().copied().map_while(val) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn line_after(data: &[u8], at: usize) -> &[u8] {
    let rest = &data[at..];
    let end = rest
        .iter()
        .position(|b| *b == b'\r' || *b == b'\n')
        .unwrap_or(rest.len().min(200));
    &rest[..end]
}

fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    hay.windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i + needle.len())
        .collect()
}

/// Passwords in the raw capture bytes, by the protocols' own framing.
fn secrets(raw: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for at in find_all(raw, b"PASS ")
        .into_iter()
        .chain(find_all(raw, b"pass "))
    {
        // A command line of its own: the password runs to CRLF.
        let line = line_after(raw, at);
        if raw.get(at + line.len()) == Some(&b'\r') {
            out.push(line.to_vec());
        }
    }
    for at in find_all(raw, b" LOGIN ") {
        let line = line_after(raw, at);
        if let Some(sp) = line.iter().rposition(|b| *b == b' ') {
            out.push(
                line[sp + 1..]
                    .iter()
                    .copied()
                    .filter(|b| *b != b'"')
                    .collect(),
            );
        }
    }
    for at in find_all(raw, b"Authorization: Basic ") {
        let dec = b64(line_after(raw, at));
        if let Some(colon) = dec.iter().position(|b| *b == b':') {
            out.push(dec[colon + 1..].to_vec());
        }
    }
    for at in find_all(raw, b"AUTH PLAIN ") {
        let dec = b64(line_after(raw, at));
        if let Some(pw) = dec.rsplit(|b| *b == 0).next() {
            out.push(pw.to_vec());
        }
    }
    out.into_iter()
        .filter_map(|s| String::from_utf8(s).ok())
        .map(|s| s.trim().to_owned())
        // Short or generic strings also occur in unrelated fields.
        .filter(|s| s.len() >= 5 && s.chars().all(|c| c.is_ascii_graphic()))
        .collect()
}

#[test]
fn no_password_from_the_corpus_reaches_the_output() {
    let index = std::fs::read_to_string(corpus().join("INDEX.tsv"))
        .expect("tests/corpus/INDEX.tsv must exist");
    let mut checked_captures = 0;
    let mut checked_secrets = 0;
    let mut credential_findings = 0;
    for line in index.lines().skip(1) {
        let path = corpus().join(line.split('\t').next().unwrap());
        let mut raw = std::fs::read(&path).unwrap();
        if raw.starts_with(&[0x1f, 0x8b]) {
            let mut dec = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&raw[..]), &mut dec)
                .unwrap();
            raw = dec;
        }
        let found = secrets(&raw);
        if found.is_empty() {
            continue;
        }
        for log in [None, Some("trace")] {
            // On stdin: the file's name is in the debug log and could match a "password"
            // (zeek's fake-long-commands.pcap answers "Response to PASS command").
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_plainsight"));
            cmd.args(["pcap", "--format", "json", "-"])
                .stdin(std::fs::File::open(&path).unwrap());
            match log {
                Some(level) => cmd.env("RUST_LOG", level),
                None => cmd.env_remove("RUST_LOG"),
            };
            let out = cmd.output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let text = format!("{}{stderr}", String::from_utf8_lossy(&out.stdout));
            if log.is_some() {
                // The filter took effect: the per-input debug line is there.
                assert!(
                    stderr.contains("input read"),
                    "{}: RUST_LOG=trace printed no debug log: {stderr}",
                    path.display()
                );
            } else {
                credential_findings += text.matches("\"plaintext.credentials\"").count();
            }
            for s in &found {
                assert!(
                    !text.contains(s.as_str()),
                    "{}: the output (RUST_LOG={log:?}) contains a password seen in the capture",
                    path.display()
                );
                checked_secrets += 1;
            }
        }
        checked_captures += 1;
    }
    assert!(
        checked_captures >= 5 && checked_secrets >= 20,
        "too few captures with passwords were checked ({checked_captures}, {checked_secrets})"
    );
    assert!(
        credential_findings >= checked_captures,
        "credentials were found in {checked_captures} captures but reported {credential_findings} times"
    );
}
