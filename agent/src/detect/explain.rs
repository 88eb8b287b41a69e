//! The catalogue rendered for people: `plainsight explain` (a list, or one finding's
//! card) and the finding tables of docs/findings.md, which are generated from here so
//! that the two cannot drift apart.

use std::fmt::Write;

use super::{catalogue, FindingDef};

/// One line per finding: id, default severity, title.
pub fn list() -> String {
    let defs: Vec<&FindingDef> = catalogue::all().collect();
    let width = defs.iter().map(|d| d.id.len()).max().unwrap_or(0);
    let mut out = String::new();
    for d in defs {
        let _ = writeln!(
            out,
            "{:width$}  {:8}  {}",
            d.id,
            d.severity.as_str(),
            d.title
        );
    }
    out
}

/// The card of one finding.
pub fn card(d: &FindingDef) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", d.id, d.title);
    let _ = writeln!(out, "severity:    {}", severity(d));
    let _ = writeln!(out, "trigger:     {}", d.description);
    if !d.evidence.is_empty() {
        let _ = writeln!(out, "evidence:    {}", d.evidence);
    }
    let _ = writeln!(out, "remediation: {}", d.remediation);
    for (i, r) in d.references.iter().enumerate() {
        let label = if i == 0 { "references:" } else { "" };
        let _ = writeln!(out, "{label:12} {r}");
    }
    out
}

fn severity(d: &FindingDef) -> String {
    if d.severity_note.is_empty() {
        d.severity.as_str().to_owned()
    } else {
        format!("{} (default); {}", d.severity, d.severity_note)
    }
}

/// The Markdown table of the findings whose id starts with one of `prefixes`.
pub fn markdown_table(prefixes: &[&str]) -> String {
    let mut out = String::from(
        "| id | title | severity | trigger | evidence | remediation | references |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for d in catalogue::all().filter(|d| prefixes.iter().any(|p| d.id.starts_with(p))) {
        let sev = if d.severity_note.is_empty() {
            d.severity.as_str()
        } else {
            d.severity_note
        };
        let evidence = if d.evidence.is_empty() {
            "—"
        } else {
            d.evidence
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            d.id,
            d.title,
            sev,
            d.description,
            evidence,
            d.remediation,
            d.references.join("; ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/findings.md");
    /// Generated blocks of docs/findings.md: marker name and the id prefixes they hold.
    const BLOCKS: &[(&str, &[&str])] = &[
        ("tls", &["tls."]),
        (
            "plaintext",
            &[
                "plaintext.",
                "starttls.",
                "postgres.",
                "mysql.",
                "kafka.",
                "http.",
            ],
        ),
    ];

    /// docs/findings.md with every generated block rendered from the catalogue.
    fn rendered(doc: &str) -> String {
        let mut out = String::new();
        let mut rest = doc;
        for (name, prefixes) in BLOCKS {
            let begin = format!("<!-- generated: {name} ");
            let end = format!("<!-- end generated: {name} -->");
            let b = rest
                .find(&begin)
                .unwrap_or_else(|| panic!("{begin} missing"));
            let open_end = rest[b..].find("-->\n").map(|i| b + i + 4);
            let open_end = open_end.unwrap_or_else(|| panic!("{begin} not closed"));
            let e = rest.find(&end).unwrap_or_else(|| panic!("{end} missing"));
            out.push_str(&rest[..open_end]);
            out.push_str(&markdown_table(prefixes));
            rest = &rest[e..];
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn docs_findings_tables_match_the_catalogue() {
        let doc = std::fs::read_to_string(DOC).unwrap_or_else(|e| panic!("{DOC}: {e}"));
        let want = rendered(&doc);
        if std::env::var_os("PLAINSIGHT_WRITE_DOCS").is_some() {
            std::fs::write(DOC, &want).unwrap_or_else(|e| panic!("{DOC}: {e}"));
            return;
        }
        assert!(
            doc == want,
            "docs/findings.md differs from the catalogue: run PLAINSIGHT_WRITE_DOCS=1 cargo test -p plainsight docs_findings"
        );
        // Both ways: every catalogue id is in a generated block, and every id the
        // document names in backticks with a finding's shape exists in the catalogue.
        for d in catalogue::all() {
            assert!(
                BLOCKS
                    .iter()
                    .any(|(_, p)| p.iter().any(|p| d.id.starts_with(p))),
                "{} is in no generated block",
                d.id
            );
        }
        // Event field paths that share a finding's shape.
        const FIELDS: &[&str] = &["plaintext.protocol"];
        let unknown: Vec<&str> = doc
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|w| {
                BLOCKS
                    .iter()
                    .flat_map(|(_, p)| p.iter())
                    .any(|p| w.starts_with(p) && w.len() > p.len())
            })
            .filter(|w| {
                w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_')
            })
            .filter(|w| catalogue::get(w).is_none() && !FIELDS.contains(w))
            .collect();
        assert!(
            unknown.is_empty(),
            "docs/findings.md names finding ids that do not exist: {unknown:?}"
        );
    }

    #[test]
    fn explain_lists_every_id_and_every_card_is_complete() {
        let list = list();
        for d in catalogue::all() {
            assert!(
                list.lines()
                    .any(|l| l.split_whitespace().next() == Some(d.id)),
                "{} not listed",
                d.id
            );
            let c = card(d);
            for part in [d.title, d.description, d.remediation] {
                assert!(c.contains(part), "{}: card lacks {part:?}", d.id);
            }
            assert!(!d.references.is_empty(), "{} has no reference", d.id);
        }
    }
}
