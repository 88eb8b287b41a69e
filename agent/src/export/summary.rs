//! The human summary printed at the end of a pcap run, and the one-line-per-flow table.

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
        if let Some(v) = r.tls.as_ref().and_then(|t| t.version.clone()) {
            *self.tls_versions.entry(v).or_insert(0) += 1;
        }
        for f in &r.findings {
            *self.findings.entry((f.severity, f.id)).or_insert(0) += 1;
            self.worst = self.worst.max(Some(f.severity));
        }
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

/// One human-readable line per flow.
pub fn table_row(r: &FlowRecord) -> String {
    let mut detail = String::new();
    if let Some(t) = &r.tls {
        if let Some(v) = &t.version {
            let _ = write!(detail, " {v}");
        }
        if let Some(c) = &t.cipher {
            let _ = write!(detail, " {c}");
        }
        if let Some(s) = &t.sni {
            let _ = write!(detail, " sni={s}");
        }
    }
    let ids: Vec<String> = r
        .findings
        .iter()
        .map(|f| format!("{}({})", f.id, f.severity))
        .collect();
    format!(
        "{} {} -> {} {:<10}{}{}",
        r.key.transport,
        r.key.client,
        r.key.server,
        r.protocol,
        detail,
        if ids.is_empty() {
            String::new()
        } else {
            format!("  [{}]", ids.join(", "))
        }
    )
}
