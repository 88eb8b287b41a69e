//! `docs/corpus-agreement.md`: agreement per field and source, explained and
//! unexplained disagreements, capture failures.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::compare::{crosscheck, tally, Outcome, Tally, Verdict, PEER_PAIRS};
use crate::corpus::{Entry, Loaded};
use crate::model::{Field, Source};
use crate::runner::Status;
use crate::CorpusRun;

pub const COMMAND: &str =
    "PLAINSIGHT_WRITE_AGREEMENT=1 cargo test -p plainsight --test golden agreement_report";

fn pct(a: usize, n: usize) -> String {
    if n == 0 {
        "–".to_string()
    } else {
        format!("{:.1}", 100.0 * a as f64 / n as f64)
    }
}

fn cell(s: &str) -> String {
    let s = s.replace('|', "\\|").replace('\n', " ");
    if s.chars().count() > 120 {
        let t: String = s.chars().take(117).collect();
        format!("{t}…")
    } else {
        s
    }
}

pub fn render(run: &CorpusRun, loaded: &[(Entry, Loaded)]) -> String {
    let mut s = String::new();
    let outcomes: Vec<&Outcome> = run.outcomes.iter().collect();
    let t = tally(outcomes.iter().copied());
    let _ = writeln!(s, "<!-- Generated file, do not edit. Regenerate with:\n     {COMMAND}\n     (PLAINSIGHT_BIN=/path/to/plainsight to test another build; PLAINSIGHT_CORPUS=/path/to/corpus) -->");
    let _ = writeln!(s, "# Corpus agreement\n");
    let _ = writeln!(
        s,
        "Regenerate with `{COMMAND}` (the harness is `agent/tests/golden/`).\n"
    );
    let failed = run
        .runs
        .iter()
        .filter(|r| matches!(r.status, Status::Failed(_)))
        .count();
    let input_err = run
        .runs
        .iter()
        .filter(|r| matches!(r.status, Status::InputError(_)))
        .count();
    let _ = writeln!(
        s,
        "Captures run: {} ({} failed, {} rejected as truncated input). Expectations compared: {}.\n",
        run.runs.len(),
        failed,
        input_err,
        run.outcomes.len()
    );
    let _ = writeln!(s, "How to read it: each expected value of a source is joined to our event for the same flow (5-tuple in either direction; several flows with one tuple are paired in time order). *agree*: same value after normalisation; *disagree*: different value; *missing*: no event for the flow or a null field; *excused*: a disagreement listed, with its reason, in `agent/tests/golden/exceptions.toml`. `%` = agree / compared, where compared counts all four. Distinguished names are compared on CN and O only, case-insensitively, when the strings differ (the tools format DNs differently). TLS 1.3 drafts count as TLS 1.3.\n");

    // Per source.
    let _ = writeln!(s, "## Per source\n");
    let _ = writeln!(
        s,
        "| source | agree | compared | % | disagree | missing | excused |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|");
    for src in Source::ALL {
        let mut sum = Tally::default();
        for ((so, _), v) in &t {
            if *so == src {
                sum.agree += v.agree;
                sum.disagree += v.disagree;
                sum.missing += v.missing;
                sum.excused += v.excused;
            }
        }
        let _ = writeln!(
            s,
            "| {src} | {} | {} | {} | {} | {} | {} |",
            sum.agree,
            sum.compared(),
            pct(sum.agree, sum.compared()),
            sum.disagree,
            sum.missing,
            sum.excused
        );
    }

    // Per field and source.
    let _ = writeln!(s, "\n## Per field and source\n");
    let _ = writeln!(
        s,
        "| field | source | agree | compared | % | disagree | missing | excused |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|");
    let mut by_field: BTreeMap<Field, Vec<(Source, Tally)>> = BTreeMap::new();
    for ((src, f), v) in &t {
        by_field.entry(*f).or_default().push((*src, *v));
    }
    for (f, rows) in by_field {
        for (src, v) in rows {
            let _ = writeln!(
                s,
                "| {f} | {src} | {} | {} | {} | {} | {} | {} |",
                v.agree,
                v.compared(),
                pct(v.agree, v.compared()),
                v.disagree,
                v.missing,
                v.excused
            );
        }
    }

    // Sources against each other.
    let _ = writeln!(s, "\n## The sources against each other\n");
    let _ = writeln!(s, "Context for the tables above: where two sources give a value for the same flow, how often they agree (no analyser involved; corpus README, Known disagreements).\n");
    let _ = writeln!(
        s,
        "| field | source | other source | agree | both have it | % | first disagreement |"
    );
    let _ = writeln!(s, "|---|---|---|---:|---:|---:|---|");
    for (a, field, b, _) in PEER_PAIRS {
        let c = crosscheck(
            loaded.iter().map(|(_, l)| l.expects.as_slice()),
            a,
            field,
            b,
        );
        let _ = writeln!(
            s,
            "| {field} | {a} | {b} | {} | {} | {} | {} |",
            c.agree,
            c.total,
            pct(c.agree, c.total),
            cell(c.examples.first().map(String::as_str).unwrap_or(""))
        );
    }

    // Explained.
    let _ = writeln!(s, "\n## Explained disagreements (exceptions.toml)\n");
    let excused: Vec<&&Outcome> = outcomes
        .iter()
        .filter(|o| o.verdict == Verdict::Excused)
        .collect();
    if excused.is_empty() {
        let _ = writeln!(s, "None.");
    } else {
        let _ = writeln!(
            s,
            "| capture | flow | source | field | expected | ours | reason |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|");
        for o in excused {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | `{}` | `{}` | {} |",
                cell(&o.expect.capture),
                o.expect.flow.map(|f| f.to_string()).unwrap_or_default(),
                o.expect.source,
                o.expect.field,
                cell(&o.expect.value),
                cell(o.ours.as_deref().unwrap_or("null")),
                cell(&o.note)
            );
        }
    }
    let stale: Vec<String> = run
        .exceptions
        .list
        .iter()
        .filter(|e| {
            !run.outcomes.iter().any(|o| {
                o.verdict == Verdict::Excused
                    && o.expect.capture == e.raw.capture
                    && o.expect.field == e.field
                    && o.expect.flow.map(|f| f.canonical()) == Some(e.flow.canonical())
            })
        })
        .map(|e| {
            format!(
                "- {} {} {} (ours now differs from `{}`)",
                e.raw.capture, e.raw.flow, e.raw.field, e.raw.ours
            )
        })
        .collect();
    if !stale.is_empty() {
        let _ = writeln!(s, "\nExceptions that matched nothing in this run (the analyser changed, or the flow now agrees):\n");
        for l in stale {
            let _ = writeln!(s, "{l}");
        }
    }

    // Unexplained.
    let bad: Vec<&&Outcome> = outcomes
        .iter()
        .filter(|o| o.verdict == Verdict::Disagree)
        .collect();
    let _ = writeln!(s, "\n## Unexplained disagreements ({})\n", bad.len());
    if !bad.is_empty() {
        let _ = writeln!(
            s,
            "| capture | flow | source | field | expected | ours | expected output |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    }
    for o in bad.iter().take(300) {
        let _ = writeln!(
            s,
            "| {} | {} | {}#{} | {} | `{}` | `{}` | {} |",
            cell(&o.expect.capture),
            o.expect
                .flow
                .map(|f| f.to_string())
                .unwrap_or_else(|| "(any flow)".to_string()),
            o.expect.source,
            o.expect.ordinal,
            o.expect.field,
            cell(&o.expect.value),
            cell(o.ours.as_deref().unwrap_or("null")),
            cell(&o.expect.origin)
        );
    }
    if bad.len() > 300 {
        let _ = writeln!(
            s,
            "\n… and {} more (run the test to see them all).",
            bad.len() - 300
        );
    }

    // Missing summary per capture.
    let mut missing: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &outcomes {
        if o.verdict == Verdict::Missing {
            *missing.entry(o.expect.capture.as_str()).or_default() += 1;
        }
    }
    let _ = writeln!(
        s,
        "\n## Missing values per capture ({} captures)\n",
        missing.len()
    );
    let mut m: Vec<(&str, usize)> = missing.into_iter().collect();
    m.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (c, n) in m.iter().take(100) {
        let _ = writeln!(s, "- {c}: {n}");
    }
    if m.len() > 100 {
        let _ = writeln!(s, "- … and {} more captures", m.len() - 100);
    }

    // TLS captures without a TLS event.
    let silent: Vec<&str> = run
        .entries
        .iter()
        .zip(&run.runs)
        .filter(|(e, r)| {
            e.tags.iter().any(|t| t == "tls")
                && !e.tags.iter().any(|t| t == "quic" || t == "dtls")
                && r.status == Status::Ok
                && !r
                    .events
                    .iter()
                    .any(|ev| ev.values.get(&Field::Protocol).is_some_and(|p| p == "tls"))
        })
        .map(|(e, _)| e.path.as_str())
        .collect();
    let _ = writeln!(
        s,
        "\n## TCP captures tagged `tls` in INDEX.tsv with no `tls` event ({})\n",
        silent.len()
    );
    for c in silent.iter().take(100) {
        let _ = writeln!(s, "- {c}");
    }
    if silent.len() > 100 {
        let _ = writeln!(s, "- … and {} more", silent.len() - 100);
    }

    // Failures.
    let _ = writeln!(s, "\n## Capture failures\n");
    let mut any = false;
    for r in &run.runs {
        match &r.status {
            Status::Failed(m) => {
                any = true;
                let _ = writeln!(s, "- {}: {}", r.capture, cell(m));
            }
            Status::InputError(m) => {
                any = true;
                // The error names the file by its path on this machine: keep the
                // document the same wherever it is generated.
                let root = crate::corpus::root().display().to_string();
                let m = m.replace(&format!("{root}/"), "");
                let _ = writeln!(s, "- {} (input error, accepted): {}", r.capture, cell(&m));
            }
            Status::Ok => {}
        }
        if !r.bad_lines.is_empty() {
            any = true;
            let _ = writeln!(
                s,
                "- {}: {} stdout line(s) not per the event schema, first: line {}: {}",
                r.capture,
                r.bad_lines.len(),
                r.bad_lines[0].0,
                cell(&r.bad_lines[0].1)
            );
        }
    }
    if !any {
        let _ = writeln!(s, "None.");
    }

    // Loader notes.
    if !run.notes.is_empty() || !run.load_errors.is_empty() {
        let _ = writeln!(s, "\n## Loader notes\n");
        for n in run.load_errors.iter().chain(&run.notes) {
            let _ = writeln!(s, "- {}", cell(n));
        }
    }
    s
}
