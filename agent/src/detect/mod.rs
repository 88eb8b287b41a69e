//! Findings: what the analysers concluded about a flow, with stable ids and severities.
//!
//! Each analyser (`tls`, `plaintext`) owns the definitions of its findings in its own
//! `findings` module; [`catalogue`] joins them so that docs, metrics and tests see one list.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub mod catalogue;
pub mod spike;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown severity {0:?} (expected info, low, medium, high or critical)")]
pub struct UnknownSeverity(String);

impl FromStr for Severity {
    type Err = UnknownSeverity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownSeverity(s.to_owned()))
    }
}

/// The static description of one finding id, for docs and remediation text.
#[derive(Clone, Copy, Debug)]
pub struct FindingDef {
    /// Stable dotted id, e.g. `tls.version.deprecated`. Never renamed once released.
    pub id: &'static str,
    pub severity: Severity,
    /// What triggers it, one sentence.
    pub trigger: &'static str,
    /// What to do about it, one line.
    pub remediation: &'static str,
}

/// One concrete finding on one flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    /// Facts that justify it: versions, suite names, protocol verbs. Never a secret.
    pub evidence: BTreeMap<&'static str, String>,
}

impl Finding {
    /// A finding with the catalogue's default severity for `def`.
    pub fn new(def: &FindingDef) -> Self {
        Finding {
            id: def.id,
            severity: def.severity,
            evidence: BTreeMap::new(),
        }
    }

    pub fn with(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.evidence.insert(key, value.into());
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
}
