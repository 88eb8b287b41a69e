//! The human summary printed at the end of a pcap run, and the grouped flow table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::detect::Severity;
use crate::engine::FlowRecord;

/// Aggregates flow records for the closing summary.
#[derive(Debug, Default)]
pub struct Summary {
    flows: u64,
    by_protocol: BTreeMap<&'static str, (u64, bool)>,
    tls_versions: BTreeMap<String, u64>,
    findings: BTreeMap<(Severity, &'static str), u64>,
    worst: Option<Severity>,
}

impl Summary {
    pub fn add(&mut self, r: &FlowRecord) {
        self.flows += 1;
        let e = self
            .by_protocol
            .entry(r.protocol)
            .or_insert((0, r.encrypted));
        e.0 += 1;
        if let Some(v) = r.tls.as_ref().and_then(|t| t.version.as_deref()) {
            *self.tls_versions.entry(v.to_owned()).or_insert(0) += 1;
        }
        for f in &r.findings {
            *self.findings.entry((f.severity, f.id)).or_insert(0) += 1;
            self.worst = self.worst.max(Some(f.severity));
        }
    }

    /// The findings at or above `threshold`, most severe first, with their flow counts:
    /// what `--fail-on` names when it exits 1.
    pub fn at_or_above(&self, threshold: Severity) -> Vec<(Severity, &'static str, u64)> {
        self.findings
            .iter()
            .rev()
            .filter(|((sev, _), _)| *sev >= threshold)
            .map(|((sev, id), n)| (*sev, *id, *n))
            .collect()
    }

    /// The highest severity raised, for `--fail-on`.
    pub fn worst(&self) -> Option<Severity> {
        self.worst
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "flows: {}", self.flows);
        if !self.by_protocol.is_empty() {
            let _ = writeln!(out, "protocols:");
            for (p, (n, enc)) in &self.by_protocol {
                let tag = if *enc { "encrypted" } else { "cleartext" };
                let _ = writeln!(out, "  {p:<16} {n:>8}  {tag}");
            }
        }
        if !self.tls_versions.is_empty() {
            let _ = writeln!(out, "tls versions:");
            for (v, n) in &self.tls_versions {
                let _ = writeln!(out, "  {v:<16} {n:>8}");
            }
        }
        if self.findings.is_empty() {
            let _ = writeln!(out, "findings: none");
        } else {
            let _ = writeln!(out, "findings:");
            for ((sev, id), n) in self.findings.iter().rev() {
                let _ = writeln!(out, "  {:<9}{id:<40} {n:>8}", sev.as_str());
            }
        }
        out
    }
}

/// The `--format table` view: flows grouped by finding and destination, so that a capture
/// of ten thousand flows reads in one screen. A flow with several findings counts in each
/// of their groups; a flow with none forms a group of its own (`-`).
#[derive(Debug, Default)]
pub struct Table {
    groups: BTreeMap<GroupKey, Group>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct GroupKey {
    /// Reversed so that the most severe groups sort first; `None` (no finding) last.
    severity: std::cmp::Reverse<Option<Severity>>,
    finding: &'static str,
    destination: String,
    transport: &'static str,
    protocol: &'static str,
}

#[derive(Debug, Default)]
struct Group {
    flows: u64,
    clients: std::collections::BTreeSet<std::net::IpAddr>,
    /// The first flow's notable detail (TLS version, cipher, SNI; or the finding's evidence).
    detail: String,
}

const NO_FINDING: &str = "-";

impl Table {
    pub fn add(&mut self, r: &FlowRecord) {
        let keys: Vec<(Option<Severity>, &'static str, String)> = if r.findings.is_empty() {
            vec![(None, NO_FINDING, tls_detail(r))]
        } else {
            r.findings
                .iter()
                .map(|f| {
                    let ev: Vec<String> = f
                        .evidence
                        .iter()
                        .filter(|(k, _)| !matches!(**k, "protocol" | "locality"))
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    (Some(f.severity), f.id, ev.join(" "))
                })
                .collect()
        };
        for (severity, finding, detail) in keys {
            let g = self
                .groups
                .entry(GroupKey {
                    severity: std::cmp::Reverse(severity),
                    finding,
                    destination: r.key.server.to_string(),
                    transport: r.key.transport.as_str(),
                    protocol: r.protocol,
                })
                .or_default();
            if g.flows == 0 {
                g.detail = detail;
            }
            g.flows += 1;
            g.clients.insert(r.key.client.ip());
        }
    }

    /// Header and aligned rows, most severe first, then by flow count; at most `top` rows
    /// unless `top` is `None`, with a line saying how many were left out.
    pub fn render(&self, top: Option<usize>) -> String {
        let mut rows: Vec<(&GroupKey, &Group)> = self.groups.iter().collect();
        rows.sort_by(|a, b| {
            (&a.0.severity, std::cmp::Reverse(a.1.flows), a.0).cmp(&(
                &b.0.severity,
                std::cmp::Reverse(b.1.flows),
                b.0,
            ))
        });
        let shown = top.map_or(rows.len(), |n| n.min(rows.len()));
        let header = [
            "SEVERITY",
            "FINDING",
            "DESTINATION",
            "PROTO",
            "FLOWS",
            "CLIENTS",
            "DETAIL",
        ];
        let cells: Vec<[String; 7]> = rows
            .iter()
            .take(shown)
            .map(|(k, g)| {
                [
                    k.severity.0.map_or(NO_FINDING, Severity::as_str).to_owned(),
                    k.finding.to_owned(),
                    format!("{} {}", k.transport, k.destination),
                    k.protocol.to_owned(),
                    g.flows.to_string(),
                    g.clients.len().to_string(),
                    g.detail.clone(),
                ]
            })
            .collect();
        let mut width = header.map(str::len);
        for row in &cells {
            for (w, c) in width.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, row: &[&str]| {
            let mut text = String::new();
            for (i, (c, w)) in row.iter().zip(width).enumerate() {
                // Counts align right, text left; the last column is not padded.
                if i == 4 || i == 5 {
                    let _ = write!(text, "{c:>w$}  ");
                } else if i == row.len() - 1 {
                    text.push_str(c);
                } else {
                    let _ = write!(text, "{c:<w$}  ");
                }
            }
            let _ = writeln!(out, "{}", text.trim_end());
        };
        line(&mut out, &header);
        for row in &cells {
            let refs: Vec<&str> = row.iter().map(String::as_str).collect();
            line(&mut out, &refs);
        }
        if shown < rows.len() {
            let _ = writeln!(
                out,
                "... {} more group(s); --all prints every one, --top N the first N",
                rows.len() - shown
            );
        }
        out
    }
}

/// TLS facts worth a glance, for a flow without findings.
fn tls_detail(r: &FlowRecord) -> String {
    let mut detail = Vec::new();
    if let Some(t) = &r.tls {
        if let Some(v) = &t.version {
            detail.push(v.to_string());
        }
        if let Some(c) = &t.cipher {
            detail.push(c.to_string());
        }
        if let Some(s) = &t.sni {
            detail.push(format!("sni={s}"));
        }
    }
    detail.join(" ")
}
