//! `exceptions.toml`: documented, precise disagreements with a source.
//!
//! An entry excuses one outcome only when capture, flow (either direction),
//! field, the expected value AND our value all match (values compared in
//! normal form; `ours = "null"` means our event has no value or no event).
//! `source` narrows it to one source; without it the entry applies to every
//! source that expects that value. So an entry cannot hide a different
//! regression on the same flow.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::{normalize, values_agree, Expect, Field, FlowKey, Source};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawException {
    pub capture: String,
    #[serde(default)]
    pub source: Option<String>,
    pub flow: String,
    pub field: String,
    pub expected: String,
    pub ours: String,
    pub reason: String,
    pub evidence: String,
}

#[derive(Debug, Clone)]
pub struct Exception {
    pub raw: RawException,
    pub source: Option<Source>,
    pub flow: FlowKey,
    pub field: Field,
    /// Normalised.
    pub expected: String,
    /// Normalised; None = null / no event.
    pub ours: Option<String>,
    pub reason: String,
}

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    exception: Vec<RawException>,
}

#[derive(Debug, Default, Clone)]
pub struct Exceptions {
    pub list: Vec<Exception>,
}

pub fn path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/exceptions.toml")
}

impl Exceptions {
    pub fn parse(text: &str) -> Result<Exceptions, String> {
        let f: File = toml::from_str(text).map_err(|e| format!("exceptions.toml: {e}"))?;
        let mut list = Vec::new();
        for (i, raw) in f.exception.into_iter().enumerate() {
            let at = format!("exceptions.toml entry {} ({})", i + 1, raw.capture);
            let field = Field::from_name(&raw.field).ok_or_else(|| {
                format!(
                    "{at}: unknown field {:?} (one of {})",
                    raw.field,
                    Field::ALL.map(|f| f.name()).join(", ")
                )
            })?;
            let source = match &raw.source {
                None => None,
                Some(s) => Some(Source::from_name(s).ok_or_else(|| {
                    format!(
                        "{at}: unknown source {s:?} (one of {})",
                        Source::ALL.map(|f| f.name()).join(", ")
                    )
                })?),
            };
            let flow = FlowKey::parse_display(&raw.flow)
                .ok_or_else(|| format!("{at}: flow {:?} is not `ip:port <-> ip:port`", raw.flow))?;
            if raw.reason.trim().len() < 10 || raw.evidence.trim().len() < 10 {
                return Err(format!("{at}: reason and evidence must explain the entry"));
            }
            let expected = normalize(field, &raw.expected).ok_or_else(|| {
                format!("{at}: expected value {:?} does not normalise", raw.expected)
            })?;
            let ours = match raw.ours.trim() {
                "" | "null" => None,
                v => Some(
                    normalize(field, v)
                        .ok_or_else(|| format!("{at}: ours {v:?} does not normalise"))?,
                ),
            };
            list.push(Exception {
                source,
                flow,
                field,
                expected,
                ours,
                reason: raw.reason.trim().to_string(),
                raw,
            });
        }
        Ok(Exceptions { list })
    }

    pub fn load() -> Result<Exceptions, String> {
        let p = path();
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        Exceptions::parse(&text)
    }

    /// The entry excusing this expectation given our value, if any.
    pub fn find(&self, x: &Expect, ours: Option<&str>) -> Option<&Exception> {
        let flow = x.flow?;
        self.list.iter().find(|e| {
            e.raw.capture == x.capture
                && e.field == x.field
                && e.source.is_none_or(|s| s == x.source)
                && e.flow.canonical() == flow.canonical()
                && values_agree(x.field, &e.expected, &x.value)
                && match (&e.ours, ours) {
                    (None, None) => true,
                    (Some(a), Some(b)) => a == b,
                    _ => false,
                }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_must_be_precise_and_explained() {
        let ok = r#"
[[exception]]
capture = "c.pcap"
source = "zeek-ssl"
flow = "10.0.0.1:5 <-> [::1]:443"
field = "version"
expected = "TLSv12"
ours = "null"
reason = "the baseline comes from a script that rewrites the version"
evidence = "zeek/Baseline/x/_TEST_LINES.txt loads a custom script"
"#;
        let e = Exceptions::parse(ok).unwrap();
        assert_eq!(e.list[0].expected, "TLS 1.2");
        assert_eq!(e.list[0].ours, None);
        let x = Expect {
            capture: "c.pcap".into(),
            flow: FlowKey::parse_display("[::1]:443 <-> 10.0.0.1:5"),
            field: Field::Version,
            value: "TLS 1.2".into(),
            source: Source::ZeekSsl,
            ordinal: 0,
            origin: "o".into(),
            transport: None,
            alt_flow: None,
        };
        assert!(e.find(&x, None).is_some());
        assert!(e.find(&x, Some("TLS 1.1")).is_none(), "must name our value");
        let bad = ok.replace(
            "reason = \"the baseline comes from a script that rewrites the version\"",
            "reason = \"x\"",
        );
        assert!(Exceptions::parse(&bad).is_err());
        let bad = ok.replace("field = \"version\"", "field = \"versoin\"");
        assert!(Exceptions::parse(&bad)
            .unwrap_err()
            .contains("unknown field"));
    }
}
