//! `docs/detection-accuracy.md`: per protocol, how often our `protocol` agrees with what
//! Zeek (`conn.log` `service`) and nDPI (`[proto: …]`) say a flow is, and what we say
//! instead when we differ.
//!
//! Built from the same joined outcomes as the agreement report (field `protocol`, sources
//! `zeek-conn` and `ndpi`), so the join, normalisation and exceptions are the same.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::compare::{Outcome, Verdict};
use crate::model::{Field, Source};

pub const COMMAND: &str =
    "PLAINSIGHT_WRITE_AGREEMENT=1 cargo test -p plainsight --test golden detection_accuracy";

/// The sources a protocol label is taken from, in table order.
pub const SOURCES: [Source; 2] = [Source::ZeekConn, Source::Ndpi];

/// Agreement floor asserted per (source, protocol) row with at least [`FLOOR_MIN_FLOWS`]
/// flows: see `FLOORS` in main.rs for the per-row values and why.
pub const FLOOR_MIN_FLOWS: usize = 5;

/// One row: one protocol as one source names it.
#[derive(Debug, Default, Clone)]
pub struct Row {
    /// Flows the source labels with this protocol (joined to a capture we ran).
    pub flows: usize,
    /// We label them the same (or an accepted alternative).
    pub agree: usize,
    /// We label them differently, by our label.
    pub confusions: BTreeMap<String, usize>,
    /// We have no event for the flow.
    pub missing: usize,
    /// Differences listed in exceptions.toml.
    pub excused: usize,
}

impl Row {
    pub fn pct(&self) -> f64 {
        if self.flows == 0 {
            0.0
        } else {
            100.0 * self.agree as f64 / self.flows as f64
        }
    }

    fn disagree(&self) -> usize {
        self.confusions.values().sum()
    }

    fn top_confusions(&self, n: usize) -> String {
        let mut v: Vec<(&String, &usize)> = self.confusions.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let parts: Vec<String> = v
            .into_iter()
            .take(n)
            .map(|(k, c)| format!("{k} ({c})"))
            .collect();
        if parts.is_empty() {
            "–".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// The protocol a source names: the first of its alternatives (`smtp|tls` → `smtp`).
fn label(value: &str) -> String {
    value.split('|').next().unwrap_or(value).to_string()
}

/// Rows keyed by (source, protocol).
pub fn table<'a>(
    outcomes: impl IntoIterator<Item = &'a Outcome>,
) -> BTreeMap<(Source, String), Row> {
    let mut t: BTreeMap<(Source, String), Row> = BTreeMap::new();
    for o in outcomes {
        if o.expect.field != Field::Protocol || !SOURCES.contains(&o.expect.source) {
            continue;
        }
        let row = t
            .entry((o.expect.source, label(&o.expect.value)))
            .or_default();
        row.flows += 1;
        match o.verdict {
            Verdict::Agree => row.agree += 1,
            Verdict::Disagree => {
                let ours = o.ours.clone().unwrap_or_else(|| "null".to_string());
                *row.confusions.entry(ours).or_default() += 1;
            }
            Verdict::Missing => row.missing += 1,
            Verdict::Excused => row.excused += 1,
        }
    }
    t
}

pub fn render(outcomes: &[Outcome]) -> String {
    let t = table(outcomes);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<!-- Generated file, do not edit. Regenerate with:\n     {COMMAND}\n     (PLAINSIGHT_BIN=/path/to/plainsight to test another build; PLAINSIGHT_CORPUS=/path/to/corpus) -->"
    );
    let _ = writeln!(s, "# Detection accuracy per protocol\n");
    let _ = writeln!(
        s,
        "Regenerate with `{COMMAND}` (the harness is `agent/tests/golden/`, module `detection.rs`).\n"
    );
    let _ = writeln!(s, "For every flow of the corpus that Zeek (`conn.log` `service`, source `zeek-conn`) or nDPI (`[proto: …]` in `result/*.out`, source `ndpi`) labels with a protocol the event schema has, the flow is joined to our event (5-tuple, either direction) and our `protocol` compared. *flows*: flows the source labels so; *agree*: we say the same (for `smtp,ssl`-style labels, either name); *differ*: we say something else, broken down under *we say instead*; *missing*: no event of ours for the flow; *excused*: listed in `agent/tests/golden/exceptions.toml`. Labels the schema has no name for (e.g. nDPI's `Google`, Zeek's `ntp`) are not compared. `unknown_binary`/`unknown_text` are our labels for payload we do not recognise; `none` means we saw no payload.\n");
    for src in SOURCES {
        let _ = writeln!(s, "## Against {src}\n");
        let _ = writeln!(
            s,
            "| protocol | flows | agree | % | differ | missing | excused | we say instead (top 3) |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---|");
        let mut total = Row::default();
        for ((so, proto), r) in &t {
            if *so != src {
                continue;
            }
            let _ = writeln!(
                s,
                "| {proto} | {} | {} | {:.1} | {} | {} | {} | {} |",
                r.flows,
                r.agree,
                r.pct(),
                r.disagree(),
                r.missing,
                r.excused,
                r.top_confusions(3)
            );
            total.flows += r.flows;
            total.agree += r.agree;
            total.missing += r.missing;
            total.excused += r.excused;
            for (k, v) in &r.confusions {
                *total.confusions.entry(k.clone()).or_default() += v;
            }
        }
        let _ = writeln!(
            s,
            "| **all** | {} | {} | {:.1} | {} | {} | {} | {} |\n",
            total.flows,
            total.agree,
            total.pct(),
            total.disagree(),
            total.missing,
            total.excused,
            total.top_confusions(3)
        );
    }
    let _ = writeln!(s, "## Regression floors\n");
    let _ = writeln!(s, "The test `detection_accuracy` fails when a row with at least {FLOOR_MIN_FLOWS} flows falls below its floor (`FLOORS` in `agent/tests/golden/main.rs`, set just under the numbers measured when the table was introduced), or when a row with a floor disappears.\n");
    s
}
