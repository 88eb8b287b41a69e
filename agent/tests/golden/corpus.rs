//! The corpus: where it is, INDEX.tsv, and dispatch of every expected-output
//! file to its loader.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::model::Expect;
use crate::{arkime, foxio, ndpi, peers, suricata_verify, zeek};

#[path = "../common/corpus.rs"]
mod corpus_path;

/// `PLAINSIGHT_CORPUS`, else `tests/corpus/` of this repository.
pub fn root() -> PathBuf {
    corpus_path::corpus_root()
}

/// The corpus root, or a panic that says how to point the harness at it: a
/// golden test never passes by skipping.
pub fn require_root() -> PathBuf {
    let r = root();
    assert!(
        r.join("INDEX.tsv").is_file(),
        "corpus not found: {}/INDEX.tsv is missing (set PLAINSIGHT_CORPUS to the corpus folder)",
        r.display()
    );
    r
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub path: String,
    pub tags: Vec<String>,
    pub outputs: Vec<String>,
}

pub fn read_index(root: &Path) -> Result<Vec<Entry>, String> {
    let text = std::fs::read_to_string(root.join("INDEX.tsv"))
        .map_err(|e| format!("{}/INDEX.tsv: {e}", root.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if i == 0 && line.starts_with("path\t") {
            continue;
        }
        let mut cols = line.split('\t');
        let Some(path) = cols.next().filter(|p| !p.is_empty()) else {
            continue;
        };
        let split = |s: Option<&str>, sep: char| -> Vec<String> {
            s.unwrap_or("")
                .split(sep)
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        };
        let tags = split(cols.next(), ',');
        let outputs = split(cols.next(), ';');
        out.push(Entry {
            path: path.to_string(),
            tags,
            outputs,
        });
    }
    Ok(out)
}

/// Expectations of one capture, plus notes (skipped files, unused formats).
#[derive(Debug, Default)]
pub struct Loaded {
    pub expects: Vec<Expect>,
    pub notes: Vec<String>,
    /// Loader errors (unreadable or malformed expected outputs).
    pub errors: Vec<String>,
}

/// Which loader reads an expected-output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    FoxIo,
    Zeek,
    SuricataVerify,
    Arkime,
    Ndpi,
    Eve,
    Tshark,
    /// Formats the harness does not read (FoxIO Python/Wireshark JSON, the
    /// FoxIO Zeek logs, Zeek non-log outputs, illustrated-tls raw records).
    Unused,
}

pub fn kind_of(path: &str) -> Kind {
    if path.starts_with("ja4/rust/") && path.ends_with(".snap") {
        Kind::FoxIo
    } else if path.starts_with("zeek/Baseline/") {
        Kind::Zeek
    } else if path.starts_with("suricata-verify/") && path.ends_with("test.yaml") {
        Kind::SuricataVerify
    } else if path.starts_with("arkime/") && path.ends_with(".test") {
        Kind::Arkime
    } else if path.starts_with("ndpi/") && path.ends_with(".out") {
        Kind::Ndpi
    } else if path.starts_with("peers/suricata") && path.ends_with(".eve.json") {
        Kind::Eve
    } else if path.starts_with("peers/tshark") && path.ends_with(".tsv") {
        Kind::Tshark
    } else {
        Kind::Unused
    }
}

pub fn load_capture(root: &Path, entry: &Entry) -> Loaded {
    let mut l = Loaded::default();
    let mut zeek_folders = BTreeSet::new();
    for out in &entry.outputs {
        let kind = kind_of(out);
        if kind == Kind::Zeek {
            if let Some((folder, _)) = out.rsplit_once('/') {
                zeek_folders.insert(folder.to_string());
            }
            continue;
        }
        if kind == Kind::Unused {
            continue;
        }
        let text = match std::fs::read_to_string(root.join(out)) {
            Ok(t) => t,
            Err(e) => {
                l.errors.push(format!("{out}: {e}"));
                continue;
            }
        };
        let r = match kind {
            Kind::FoxIo => foxio::parse(&entry.path, out, &text),
            Kind::SuricataVerify => suricata_verify::parse(&entry.path, out, &text),
            Kind::Arkime => arkime::parse(&entry.path, out, &text),
            Kind::Ndpi => ndpi::parse(&entry.path, out, &text),
            Kind::Eve => peers::parse_eve(&entry.path, out, &text),
            Kind::Tshark => peers::parse_tshark(&entry.path, out, &text),
            Kind::Zeek | Kind::Unused => Ok(Vec::new()),
        };
        match r {
            Ok(v) => l.expects.extend(v),
            Err(e) => l.errors.push(e),
        }
    }
    for folder in zeek_folders {
        match zeek::load_folder(root, &entry.path, &folder, &mut l.notes) {
            Ok(v) => l.expects.extend(v),
            Err(e) => l.errors.push(e),
        }
    }
    // The same baseline row often sits in several test folders (Zeek tests
    // re-run a trace; several Suricata-verify tests share a pcap): keep the
    // first, so each expectation is counted once.
    let mut seen = std::collections::HashSet::new();
    l.expects.retain(|x| {
        seen.insert((
            x.source,
            x.flow.map(|f| f.canonical()),
            x.ordinal,
            x.field,
            x.value.clone(),
        ))
    });
    l
}
