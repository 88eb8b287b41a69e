//! Findings: what the analysers concluded about a flow, with stable ids and severities.
//!
//! Each analyser (`tls`, `plaintext`) owns the definitions of its findings in its own
//! `findings` module; [`catalogue`] joins them so that docs, metrics and tests see one list.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub mod catalogue;
pub mod explain;
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

/// The static description of one finding id: what `plainsight explain`, the events'
/// `finding_details`, docs/findings.md (generated from it) and alerts show a user.
#[derive(Clone, Copy, Debug)]
pub struct FindingDef {
    /// Stable dotted id, e.g. `tls.version.deprecated`. Never renamed once released.
    pub id: &'static str,
    /// The default severity (before `[severity]` overrides).
    pub severity: Severity,
    /// When the rule raises other severities than the default, which and when; else empty.
    pub severity_note: &'static str,
    /// A few words for tables and alert summaries.
    pub title: &'static str,
    /// What triggers it.
    pub description: &'static str,
    /// The evidence keys it carries (Markdown); empty when it carries none.
    pub evidence: &'static str,
    /// What to do about it, one line.
    pub remediation: &'static str,
    /// Where the rule comes from: RFCs, NIST SP 800-52r2, Mozilla's guidance, CVEs, CWEs.
    pub references: &'static [&'static str],
}

/// One evidence value, with its natural JSON type: a count is a number, a flag a
/// boolean, a set of names a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Evidence {
    Text(String),
    Number(serde_json::Number),
    Bool(bool),
    List(Vec<String>),
}

impl Evidence {
    /// The text of a `Text` value (names, versions, reasons).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Evidence::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Evidence::Text(s) => f.write_str(s),
            Evidence::Number(n) => write!(f, "{n}"),
            Evidence::Bool(b) => write!(f, "{b}"),
            Evidence::List(l) => f.write_str(&l.join(",")),
        }
    }
}

impl From<String> for Evidence {
    fn from(v: String) -> Self {
        Evidence::Text(v)
    }
}
impl From<std::borrow::Cow<'_, str>> for Evidence {
    fn from(v: std::borrow::Cow<'_, str>) -> Self {
        Evidence::Text(v.into_owned())
    }
}
impl From<&str> for Evidence {
    fn from(v: &str) -> Self {
        Evidence::Text(v.to_owned())
    }
}
impl From<bool> for Evidence {
    fn from(v: bool) -> Self {
        Evidence::Bool(v)
    }
}
impl From<Vec<String>> for Evidence {
    fn from(v: Vec<String>) -> Self {
        Evidence::List(v)
    }
}
macro_rules! evidence_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Evidence {
            fn from(v: $t) -> Self {
                Evidence::Number(v.into())
            }
        }
    )*};
}
evidence_from_int!(u8, u16, u32, u64, i32, i64);
impl From<usize> for Evidence {
    fn from(v: usize) -> Self {
        Evidence::Number((v as u64).into())
    }
}
impl From<f64> for Evidence {
    /// Rounded to two decimals (ratios and baselines); a non-finite value becomes text.
    fn from(v: f64) -> Self {
        serde_json::Number::from_f64((v * 100.0).round() / 100.0)
            .map_or_else(|| Evidence::Text(v.to_string()), Evidence::Number)
    }
}

/// A finding's evidence, in key order (the event's `evidence` object). A handful of
/// entries, so a sorted `Vec`: the `BTreeMap` it replaces allocated, filled and walked a
/// node per finding, 4% of the handshake mix (docs/profile-pcap.md, third pass).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EvidenceMap(Vec<(&'static str, Evidence)>);

impl EvidenceMap {
    pub fn new() -> Self {
        EvidenceMap(Vec::new())
    }

    /// Adds or replaces the value of `key`; returns the value replaced.
    pub fn insert(&mut self, key: &'static str, value: Evidence) -> Option<Evidence> {
        match self.0.binary_search_by(|(k, _)| (*k).cmp(key)) {
            Ok(i) => self.0.get_mut(i).map(|(_, v)| std::mem::replace(v, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&Evidence> {
        let i = self.0.binary_search_by(|(k, _)| (*k).cmp(key)).ok()?;
        self.0.get(i).map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Entries in key order, as `BTreeMap::iter` gives them.
    pub fn iter(&self) -> impl Iterator<Item = (&&'static str, &Evidence)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<'a> IntoIterator for &'a EvidenceMap {
    type Item = (&'a &'static str, &'a Evidence);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (&'static str, Evidence)>,
        fn(&'a (&'static str, Evidence)) -> (&'a &'static str, &'a Evidence),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

/// As a map, like the `BTreeMap` it replaces.
impl fmt::Debug for EvidenceMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for EvidenceMap {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// One concrete finding on one flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    /// The catalogue's title and remediation, so that every event says what to do.
    pub title: &'static str,
    pub remediation: &'static str,
    /// Facts that justify it: versions, suite names, protocol verbs. Never a secret.
    pub evidence: EvidenceMap,
}

impl Finding {
    /// A finding with the catalogue's default severity for `def`.
    pub fn new(def: &FindingDef) -> Self {
        Finding {
            id: def.id,
            severity: def.severity,
            title: def.title,
            remediation: def.remediation,
            evidence: EvidenceMap::new(),
        }
    }

    pub fn with(mut self, key: &'static str, value: impl Into<Evidence>) -> Self {
        self.evidence.insert(key, value.into());
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// An evidence value as text (tests and table output).
    pub fn evidence_text(&self, key: &str) -> Option<String> {
        self.evidence.get(key).map(ToString::to_string)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::collections::BTreeMap;

    use super::*;

    /// The sorted `Vec` keeps the `BTreeMap`'s contract: key order, last value wins, the same
    /// JSON and the same `Debug`.
    #[test]
    fn evidence_map_behaves_like_the_btreemap() {
        let entries: [(&'static str, Evidence); 5] = [
            ("version", "TLS 1.0".into()),
            ("cipher", "TLS_RSA_WITH_RC4_128_SHA".into()),
            ("days_left", 3u64.into()),
            ("version", "TLS 1.1".into()),
            ("alpn", Evidence::List(vec!["h2".into()])),
        ];
        let mut map = EvidenceMap::new();
        let mut reference = BTreeMap::new();
        for (k, v) in entries {
            assert_eq!(map.insert(k, v.clone()), reference.insert(k, v));
        }
        assert_eq!(map.len(), 4);
        let got: Vec<_> = map.iter().collect();
        let want: Vec<_> = reference.iter().collect();
        assert_eq!(got, want);
        assert_eq!(map.get("version"), reference.get("version"));
        assert!(map.get("absent").is_none() && !map.contains_key("absent"));
        assert_eq!(
            serde_json::to_string(&map).unwrap(),
            serde_json::to_string(&reference).unwrap()
        );
        assert_eq!(format!("{map:?}"), format!("{reference:?}"));
        assert!(EvidenceMap::default().is_empty());
    }
}
