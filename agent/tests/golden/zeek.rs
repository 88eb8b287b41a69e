//! Zeek btest baselines: `zeek/Baseline/<test>/` with `_TEST_LINES.txt`.
//!
//! `_TEST_LINES.txt` is interpreted to learn which trace produced each
//! baseline file: `zeek … -r $TRACES/x.pcap` runs a trace (its native logs
//! `ssl.log`, `x509.log`, `conn.log` now come from it); `cp`/`mv A B`,
//! `cat A > B`, `cat A >> B` (concatenation in run order) and
//! `zeek-cut … < A > B` carry the attribution over. A file concatenated from
//! several runs is split into blocks at each header (`#fields` line, or the
//! column line of `zeek-cut -m`), block i belonging to the i-th trace; when
//! the block count does not match the runs, the file is skipped with a note.
//!
//! - `ssl.log` rows give version, cipher, server_name (SNI), next_protocol
//!   (ALPN selected); `x509.log` rows are joined to them through
//!   `cert_chain_fps[0]` (SHA-256 of the host certificate), or
//!   `cert_chain_fuids[0]` = `id` in older logs. x509 rows no ssl row names
//!   are not attributable to a flow and are dropped.
//! - `conn.log` `service` gives the protocol (`smtp,ssl` → `smtp|tls`).
//! - `ts` is masked in baselines, so rows with the same tuple are ordered by
//!   their position in the file.

use std::collections::HashMap;
use std::path::Path;

use crate::model::{map_protocol, records_to_expects, Expect, Field, FlowKey, Record, Source};

/// Native log names a new `zeek` run overwrites.
const NATIVE: [&str; 3] = ["ssl.log", "x509.log", "conn.log"];

/// Which traces (corpus-relative paths) each file of the test folder holds,
/// in run order.
pub fn attribute_files(test_lines: &str) -> HashMap<String, Vec<String>> {
    let mut files: HashMap<String, Vec<String>> = HashMap::new();
    // What each file held when `btest-diff` compared it: the baseline.
    let mut diffed: HashMap<String, Vec<String>> = HashMap::new();
    let mut current: Option<String> = None;
    let lookup = |files: &HashMap<String, Vec<String>>, cur: &Option<String>, name: &str| {
        if let Some(v) = files.get(name) {
            return v.clone();
        }
        if NATIVE.contains(&name) {
            if let Some(c) = cur {
                return vec![c.clone()];
            }
        }
        Vec::new()
    };
    for line in test_lines.lines() {
        let Some(cmd) = line.trim().strip_prefix("# @TEST-EXEC:") else {
            continue;
        };
        for seg in cmd.split("&&").flat_map(|s| s.split(';')) {
            let seg = seg.trim();
            let toks: Vec<&str> = seg.split_whitespace().collect();
            if toks.is_empty() {
                continue;
            }
            // Skip `VAR=value` prefixes.
            let first = toks
                .iter()
                .position(|t| !t.contains('=') || t.starts_with('-'))
                .unwrap_or(0);
            let prog = toks[first];
            if prog == "zeek" || prog.ends_with("/zeek") {
                if let Some(i) = toks.iter().position(|t| *t == "-r") {
                    let trace = toks.get(i + 1).copied().unwrap_or("");
                    let rel = trace
                        .strip_prefix("$TRACES/")
                        .or_else(|| trace.strip_prefix("${TRACES}/"));
                    current = rel.map(|r| format!("zeek/Traces/{r}"));
                    for n in NATIVE {
                        files.remove(n);
                    }
                }
                continue;
            }
            let redirect = |op: &str| -> Option<&str> {
                let i = toks.iter().position(|t| *t == op)?;
                toks.get(i + 1).copied()
            };
            match prog {
                "btest-diff" => {
                    if let Some(name) = toks.last() {
                        let v = lookup(&files, &current, name);
                        diffed.insert(name.to_string(), v);
                    }
                }
                "cp" | "mv" if toks.len() >= first + 3 => {
                    let a = toks[toks.len() - 2];
                    let b = toks[toks.len() - 1];
                    let v = lookup(&files, &current, a);
                    files.insert(b.to_string(), v);
                    if prog == "mv" {
                        files.insert(a.to_string(), Vec::new());
                    }
                }
                "cat" => {
                    let inputs: Vec<&str> = toks[first + 1..]
                        .iter()
                        .take_while(|t| **t != ">" && **t != ">>" && **t != "|")
                        .copied()
                        .collect();
                    let mut v = Vec::new();
                    for a in inputs {
                        v.extend(lookup(&files, &current, a));
                    }
                    if let Some(b) = redirect(">") {
                        files.insert(b.to_string(), v);
                    } else if let Some(b) = redirect(">>") {
                        files.entry(b.to_string()).or_default().extend(v);
                    }
                }
                "zeek-cut" => {
                    if let (Some(a), Some(b)) = (redirect("<"), redirect(">")) {
                        let v = lookup(&files, &current, a);
                        files.insert(b.to_string(), v);
                    } else if let (Some(a), Some(b)) = (redirect("<"), redirect(">>")) {
                        let v = lookup(&files, &current, a);
                        files.entry(b.to_string()).or_default().extend(v);
                    }
                }
                _ => {}
            }
        }
    }
    // Native logs of the last run that were never copied.
    if let Some(c) = current {
        for n in NATIVE {
            files
                .entry(n.to_string())
                .or_insert_with(|| vec![c.clone()]);
        }
    }
    files.extend(diffed);
    files
}

/// One block of a Zeek log: its kind (`#path`, or guessed from the columns)
/// and rows as column → value maps.
#[derive(Debug, Default)]
pub struct Block {
    pub path: Option<String>,
    pub rows: Vec<HashMap<String, String>>,
}

/// Splits a (possibly concatenated) Zeek TSV log into blocks.
pub fn parse_blocks(text: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut cols: Vec<String> = Vec::new();
    let mut pending_path: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("###") {
            continue;
        }
        if let Some(p) = line.strip_prefix("#path\t") {
            pending_path = Some(p.trim().to_string());
            continue;
        }
        if let Some(f) = line.strip_prefix("#fields\t") {
            cols = f.split('\t').map(str::to_string).collect();
            blocks.push(Block {
                path: pending_path.take(),
                rows: Vec::new(),
            });
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        // `zeek-cut -m` writes a plain column line.
        if line.split('\t').any(|c| c == "id.orig_h")
            && line.split('\t').any(|c| c == "uid" || c == "ts")
        {
            cols = line.split('\t').map(str::to_string).collect();
            blocks.push(Block::default());
            continue;
        }
        if cols.is_empty() || line.trim().is_empty() {
            continue;
        }
        let row: HashMap<String, String> = cols
            .iter()
            .cloned()
            .zip(line.split('\t').map(str::to_string))
            .collect();
        if let Some(b) = blocks.last_mut() {
            b.rows.push(row);
        }
    }
    blocks
}

fn kind_of(block: &Block, file_name: &str) -> Option<&'static str> {
    let by_path = block
        .path
        .as_deref()
        .map(|p| p.trim_start_matches("manager."));
    let name = by_path.unwrap_or(file_name);
    if name.contains("x509") || name.starts_with("x5") {
        Some("x509")
    } else if name.starts_with("ssl") {
        Some("ssl")
    } else if name.starts_with("conn") {
        Some("conn")
    } else {
        // Guess from the columns.
        let r = block.rows.first()?;
        if r.contains_key("cipher") {
            Some("ssl")
        } else if r.contains_key("service") && r.contains_key("id.orig_h") {
            Some("conn")
        } else if r.contains_key("certificate.subject") {
            Some("x509")
        } else {
            None
        }
    }
}

fn flow_of(row: &HashMap<String, String>) -> Option<FlowKey> {
    FlowKey::parse(
        row.get("id.orig_h")?,
        row.get("id.orig_p")?,
        row.get("id.resp_h")?,
        row.get("id.resp_p")?,
    )
}

/// Loads the expectations of one test folder for one capture.
pub fn load_folder(
    corpus: &Path,
    capture: &str,
    folder: &str,
    notes: &mut Vec<String>,
) -> Result<Vec<Expect>, String> {
    let dir = corpus.join(folder);
    let lines = std::fs::read_to_string(dir.join("_TEST_LINES.txt"))
        .map_err(|e| format!("{folder}/_TEST_LINES.txt: {e}"))?;
    let attribution = attribute_files(&lines);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{folder}: {e}"))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n != "_TEST_LINES.txt")
        .collect();
    names.sort();

    // (file, rows) per kind, for this capture only.
    let mut ssl: Vec<(String, Vec<HashMap<String, String>>)> = Vec::new();
    let mut x509: Vec<HashMap<String, String>> = Vec::new();
    let mut conn: Vec<(String, Vec<HashMap<String, String>>)> = Vec::new();
    for name in names {
        let Some(traces) = attribution.get(&name) else {
            continue;
        };
        if traces.is_empty() {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(dir.join(&name)) else {
            continue;
        };
        if !text.contains("id.orig_h")
            && !text.contains("certificate.")
            && !text.contains("#path\tx509")
        {
            continue;
        }
        let blocks = parse_blocks(&text);
        if blocks.is_empty() {
            continue;
        }
        let per_block: Vec<&String> = if traces.len() == 1 {
            blocks.iter().map(|_| &traces[0]).collect()
        } else if traces.len() == blocks.len() {
            traces.iter().collect()
        } else {
            notes.push(format!(
                "{folder}/{name}: {} blocks for {} runs ({}); skipped",
                blocks.len(),
                traces.len(),
                traces.join(", ")
            ));
            continue;
        };
        let origin = format!("{folder}/{name}");
        for (b, t) in blocks.into_iter().zip(per_block) {
            if t != capture {
                continue;
            }
            match kind_of(&b, &name) {
                Some("ssl") => ssl.push((origin.clone(), b.rows)),
                Some("x509") => x509.extend(b.rows),
                Some("conn") => conn.push((origin.clone(), b.rows)),
                _ => {}
            }
        }
    }

    // Certificates by fingerprint (or file id in old logs).
    let mut certs: HashMap<String, &HashMap<String, String>> = HashMap::new();
    for row in &x509 {
        for key in ["fingerprint", "id"] {
            if let Some(k) = row.get(key).filter(|k| *k != "-") {
                certs.insert(k.clone(), row);
            }
        }
    }

    let mut out = Vec::new();
    for (origin, rows) in ssl {
        let mut records = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let Some(flow) = flow_of(row) else { continue };
            let mut r = Record::new(Some(flow), i as f64);
            let get = |k: &str| row.get(k).map(String::as_str).unwrap_or("");
            r.push(Field::Version, get("version"));
            r.push(Field::Cipher, get("cipher"));
            r.push(Field::Sni, get("server_name"));
            r.push(Field::AlpnSelected, get("next_protocol"));
            let host_fp = ["cert_chain_fps", "cert_chain_fuids"]
                .iter()
                .find_map(|k| row.get(*k))
                .and_then(|v| v.split(',').next())
                .filter(|v| *v != "-" && *v != "(empty)");
            if let Some(c) = host_fp.and_then(|fp| certs.get(fp)) {
                let cg = |k: &str| c.get(k).map(String::as_str).unwrap_or("");
                r.push(Field::CertSubject, cg("certificate.subject"));
                r.push(Field::CertIssuer, cg("certificate.issuer"));
                r.push(Field::CertSerial, cg("certificate.serial"));
                r.push(Field::CertNotBefore, cg("certificate.not_valid_before"));
                r.push(Field::CertNotAfter, cg("certificate.not_valid_after"));
                r.push(Field::CertSan, cg("san.dns"));
            }
            records.push(r);
        }
        out.extend(records_to_expects(
            capture,
            &origin,
            Source::ZeekSsl,
            records,
        ));
    }
    for (origin, rows) in conn {
        let mut records = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let Some(flow) = flow_of(row) else { continue };
            let Some(service) = row.get("service") else {
                continue;
            };
            let alts: Vec<&str> = service.split(',').filter_map(map_protocol).collect();
            if alts.is_empty() {
                continue;
            }
            let mut r = Record::new(Some(flow), i as f64);
            r.transport = match row.get("proto").map(String::as_str) {
                Some("tcp") => Some("tcp"),
                Some("udp") => Some("udp"),
                _ => None,
            };
            r.push(Field::Protocol, &alts.join("|"));
            records.push(r);
        }
        out.extend(records_to_expects(
            capture,
            &origin,
            Source::ZeekConn,
            records,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_lines_attribute_concatenated_and_copied_logs() {
        let lines = "\
# @TEST-EXEC: zeek -b -r $TRACES/tls/dtls1_0.pcap %INPUT
# @TEST-EXEC: btest-diff ssl.log
# @TEST-EXEC: zeek -b -r $TRACES/tls/dtls1_2.pcap %INPUT
# @TEST-EXEC: mv x509.log x1_2.log
# @TEST-EXEC: cp ssl.log ssl1_2.log
# @TEST-EXEC: cat ssl.log > all.log
# @TEST-EXEC: OPENSSL_X=1 zeek -b -C -r ${TRACES}/tls/b.pcap %INPUT
# @TEST-EXEC: cat ssl.log >> all.log
# @TEST-EXEC: zeek-cut -m uid service < conn.log > conn.cut
";
        let a = attribute_files(lines);
        assert_eq!(a["ssl1_2.log"], vec!["zeek/Traces/tls/dtls1_2.pcap"]);
        assert_eq!(
            a["all.log"],
            vec!["zeek/Traces/tls/dtls1_2.pcap", "zeek/Traces/tls/b.pcap"]
        );
        assert_eq!(a["conn.cut"], vec!["zeek/Traces/tls/b.pcap"]);
        // The baseline is what the file held when btest-diff ran.
        assert_eq!(a["ssl.log"], vec!["zeek/Traces/tls/dtls1_0.pcap"]);
        assert_eq!(a["x1_2.log"], vec!["zeek/Traces/tls/dtls1_2.pcap"]);
        assert_eq!(a["x509.log"], vec!["zeek/Traces/tls/b.pcap"]);
    }

    #[test]
    fn blocks_split_at_headers() {
        let text = "### btest\n#separator \\x09\n#path\tssl\n#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tversion\nX\t1.1.1.1\t1\t2.2.2.2\t443\tTLSv12\n#close\n#path\tssl\n#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tversion\nX\t1.1.1.1\t2\t2.2.2.2\t443\tTLSv13\n";
        let b = parse_blocks(text);
        assert_eq!(b.len(), 2);
        assert_eq!(b[1].rows[0]["version"], "TLSv13");
        assert_eq!(b[0].path.as_deref(), Some("ssl"));
    }
}
