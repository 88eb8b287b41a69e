//! JSON-lines events: one line per finished flow, the same schema in pcap and live modes.
//!
//! The fields are a public contract, described by `docs/event.schema.json` (JSON Schema
//! draft 2020-12) and docs/events.md; tests validate every event they see against it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::detect::Finding;
use crate::engine::FlowRecord;
use crate::identity::Identity;
use crate::plaintext::PlaintextInfo;
use crate::quic::QuicInfo;
use crate::time::Timestamp;
use crate::tls::TlsInfo;

/// The version of `docs/event.schema.json` that events follow. Fields are added within a
/// version, never renamed or removed; a change that breaks readers bumps it.
pub const SCHEMA_VERSION: u32 = 1;

/// The event as a serde value: the reference for [`super::json::event`], which writes the
/// lines themselves (faster, same bytes; the tests and the fuzz target compare the two).
#[derive(Debug, Serialize)]
pub struct Event<'a> {
    pub schema_version: u32,
    pub ts: Timestamp,
    pub src_ip: String,
    pub src_port: u16,
    pub dst_ip: String,
    pub dst_port: u16,
    pub transport: &'static str,
    /// `probe` for the record of a `[probe]` connection; absent for captured flows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'static str>,
    pub protocol: &'static str,
    pub encrypted: bool,
    /// The client's Kubernetes identity (`[kubernetes]` on, and the address is the
    /// cluster's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_k8s: Option<&'a Identity>,
    /// The server's: a pod, a service's ClusterIP, or a node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_k8s: Option<&'a Identity>,
    pub tls: Option<&'a TlsInfo>,
    /// `protocol: quic` only: the QUIC version. Absent otherwise, so the other events keep
    /// their shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quic: Option<&'a QuicInfo>,
    pub plaintext: Option<&'a PlaintextInfo>,
    /// First seen mid-stream and recognised from mid-conversation messages (no handshake
    /// seen: handshake findings cannot fire). Absent otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub midstream: bool,
    /// The proxy preamble (`socks4`, `socks4a`, `socks5`, `http_connect`) the protocol was
    /// found behind. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<&'static str>,
    /// Finding ids, for simple consumers.
    pub findings: Vec<&'static str>,
    /// The same findings with severity and evidence.
    pub finding_details: &'a [Finding],
    pub flow: FlowCounters,
}

#[derive(Debug, Serialize)]
pub struct FlowCounters {
    pub duration: f64,
    pub packets_to_server: u64,
    pub packets_to_client: u64,
    pub bytes_to_server: u64,
    pub bytes_to_client: u64,
    /// The first bytes had a hole; findings may be incomplete.
    pub gap: bool,
}

impl<'a> Event<'a> {
    pub fn from_record(r: &'a FlowRecord) -> Self {
        Event {
            schema_version: SCHEMA_VERSION,
            ts: r.first_seen,
            src_ip: r.key.client.ip().to_string(),
            src_port: r.key.client.port(),
            dst_ip: r.key.server.ip().to_string(),
            dst_port: r.key.server.port(),
            transport: r.key.transport.as_str(),
            source: r.source,
            protocol: r.protocol,
            encrypted: r.encrypted,
            src_k8s: r.k8s.src.as_ref(),
            dst_k8s: r.k8s.dst.as_ref(),
            tls: r.tls.as_ref(),
            quic: r.quic.as_ref(),
            plaintext: r.plaintext.as_ref(),
            midstream: r.midstream,
            proxy: r.proxy,
            findings: r.findings.iter().map(|f| f.id).collect(),
            finding_details: &r.findings,
            flow: FlowCounters {
                duration: r.last_seen.saturating_sub(r.first_seen) as f64 / 1e9,
                packets_to_server: r.packets[0],
                packets_to_client: r.packets[1],
                bytes_to_server: r.bytes[0],
                bytes_to_client: r.bytes[1],
                gap: r.gap,
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("cannot open event file {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("cannot rotate event file {path}: {source}")]
    Rotate { path: PathBuf, source: io::Error },
    #[error("cannot write events: {0}")]
    Write(#[from] io::Error),
    #[error("cannot encode an event: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Writes events as JSON lines to stdout or to a file rotated by size.
#[derive(Debug)]
pub struct EventWriter {
    out: Output,
    written: u64,
    /// The line being written, kept between lines so that its capacity is reused.
    line: Vec<u8>,
}

#[derive(Debug)]
enum Output {
    Stdout(io::Stdout),
    /// Stdout in large writes, for `plainsight pcap`: one `write(2)` per line (what
    /// `Stdout`'s line buffering does) was 20,000 system calls on the handshake mix.
    StdoutBuffered(BufWriter<io::Stdout>),
    File {
        path: PathBuf,
        file: BufWriter<File>,
        rotate_bytes: u64,
        keep: u32,
    },
    Sink,
}

impl EventWriter {
    pub fn stdout() -> Self {
        EventWriter {
            out: Output::Stdout(io::stdout()),
            written: 0,
            line: Vec::new(),
        }
    }

    /// Stdout, written in blocks of 64 KiB rather than line by line: for a batch run
    /// whose reader waits for the end anyway. [`flush`](Self::flush) at the end.
    pub fn stdout_buffered() -> Self {
        EventWriter {
            out: Output::StdoutBuffered(BufWriter::with_capacity(1 << 16, io::stdout())),
            written: 0,
            line: Vec::new(),
        }
    }

    /// Discards events (when only metrics or the summary are wanted).
    pub fn sink() -> Self {
        EventWriter {
            out: Output::Sink,
            written: 0,
            line: Vec::new(),
        }
    }

    /// Appends to `path`; when it grows past `rotate_bytes` (0 = never) it becomes
    /// `path.1`, older files shift up, and at most `keep` rotated files remain.
    pub fn file(path: &Path, rotate_bytes: u64, keep: u32) -> Result<Self, EventsError> {
        let file = open_append(path)?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(EventWriter {
            out: Output::File {
                path: path.to_owned(),
                file: BufWriter::new(file),
                rotate_bytes,
                keep,
            },
            written,
            line: Vec::new(),
        })
    }

    pub fn write(&mut self, record: &FlowRecord) -> Result<(), EventsError> {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        let result = self.write_line(&mut line, record);
        self.line = line;
        result
    }

    fn write_line(&mut self, line: &mut Vec<u8>, record: &FlowRecord) -> Result<(), EventsError> {
        super::json::event(line, record)?;
        line.push(b'\n');
        self.maybe_rotate(line.len() as u64)?;
        match &mut self.out {
            Output::Stdout(s) => s.lock().write_all(line)?,
            Output::StdoutBuffered(s) => s.write_all(line)?,
            Output::File { file, .. } => file.write_all(line)?,
            Output::Sink => {}
        }
        self.written += line.len() as u64;
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), EventsError> {
        match &mut self.out {
            Output::Stdout(s) => s.flush()?,
            Output::StdoutBuffered(s) => s.flush()?,
            Output::File { file, .. } => file.flush()?,
            Output::Sink => {}
        }
        Ok(())
    }

    fn maybe_rotate(&mut self, next: u64) -> Result<(), EventsError> {
        let Output::File {
            path,
            file,
            rotate_bytes,
            keep,
        } = &mut self.out
        else {
            return Ok(());
        };
        if *rotate_bytes == 0 || self.written == 0 || self.written + next <= *rotate_bytes {
            return Ok(());
        }
        file.flush()?;
        let rotate_err = |source| EventsError::Rotate {
            path: path.clone(),
            source,
        };
        if *keep == 0 {
            fs::remove_file(&*path).map_err(rotate_err)?;
        } else {
            for i in (1..*keep).rev() {
                let from = rotated(path, i);
                if from.exists() {
                    fs::rename(&from, rotated(path, i + 1)).map_err(rotate_err)?;
                }
            }
            fs::rename(&*path, rotated(path, 1)).map_err(rotate_err)?;
        }
        *file = BufWriter::new(open_append(path)?);
        self.written = 0;
        Ok(())
    }
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// Mode of event files this process creates: events name internal hosts and users and
/// which of them talk in the clear, so only the agent's own user may read them. A file
/// that already exists keeps the mode it has (the operator's choice); rotation creates
/// fresh files, so rotated output is 0600 too.
pub const FILE_MODE: u32 = 0o600;

fn open_append(path: &Path) -> Result<File, EventsError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(|source| EventsError::Open {
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn record() -> FlowRecord {
        FlowRecord::for_test("http", 80)
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).map_or(0, |m| m.permissions().mode() & 0o777)
    }

    #[test]
    fn kubernetes_identities_are_in_the_event_only_when_known() -> Result<(), serde_json::Error> {
        use std::sync::Arc;
        let mut r = record();
        let plain = serde_json::to_value(Event::from_record(&r))?;
        assert!(plain.get("src_k8s").is_none() && plain.get("dst_k8s").is_none());
        r.k8s.dst = Some(Identity {
            namespace: Some(Arc::from("shop")),
            pod: Some(Arc::from("db-0")),
            workload: Arc::from("db"),
            workload_kind: crate::identity::WorkloadKind::StatefulSet,
            service: None,
        });
        let v = serde_json::to_value(Event::from_record(&r))?;
        assert!(v.get("src_k8s").is_none());
        assert_eq!(
            v["dst_k8s"],
            serde_json::json!({"namespace": "shop", "pod": "db-0", "workload": "db", "workload_kind": "StatefulSet"})
        );
        Ok(())
    }

    #[test]
    fn event_files_and_rotated_ones_are_private() -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("plainsight-events-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        let path = dir.join("events.json");
        // Rotate after every line, keep two.
        let mut w = EventWriter::file(&path, 1, 2)?;
        for _ in 0..4 {
            w.write(&record())?;
        }
        w.flush()?;
        for p in [path.clone(), rotated(&path, 1), rotated(&path, 2)] {
            assert!(p.exists(), "{} missing", p.display());
            assert_eq!(mode(&p), FILE_MODE, "{}", p.display());
        }
        assert!(!rotated(&path, 3).exists());
        fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
