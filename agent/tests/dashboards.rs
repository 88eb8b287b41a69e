//! Every metric the dashboards and alert rules use exists in the registry.

use std::fs;
use std::path::Path;

use plainsight::export::metrics::Metrics;

/// Tokens that start with `plainsight_` and are not part of a longer identifier.
fn metric_names_in(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut names = Vec::new();
    let mut i = 0;
    while let Some(pos) = text[i..].find("plainsight_") {
        let start = i + pos;
        let mut end = start;
        while end < bytes.len() && ident(bytes[end]) {
            end += 1;
        }
        if start == 0 || !ident(bytes[start - 1]) {
            names.push(&text[start..end]);
        }
        i = end;
    }
    names
}

#[test]
fn dashboards_and_alerts_use_only_registered_metrics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards");
    let known = Metrics::new().names();
    let mut checked = 0;
    for entry in fs::read_dir(&dir).expect("dashboards/ exists") {
        let path = entry.unwrap().path();
        let text = fs::read_to_string(&path).unwrap();
        for name in metric_names_in(&text) {
            assert!(
                known.contains(&name),
                "{} uses {name}, which the registry does not define",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 20,
        "the dashboards should use the metrics; found {checked} uses"
    );
}

#[test]
fn the_scanner_finds_names() {
    assert_eq!(
        metric_names_in("rate(plainsight_flows_total{x=\"y\"}[5m]) / plainsight_dropped_total"),
        vec!["plainsight_flows_total", "plainsight_dropped_total"]
    );
    assert!(metric_names_in("xplainsight_foo").is_empty());
}

/// The documents and the code name the same things: every metric, finding id and
/// configuration key a document names exists in the code, and every metric and key the
/// code has is documented.
#[test]
fn docs_and_code_name_the_same_metrics_findings_and_keys() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut docs = vec![root.join("README.md")];
    for entry in fs::read_dir(root.join("docs")).expect("docs/") {
        let p = entry.expect("entry").path();
        // Benchmark records quote what was measured, under the names of the day.
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.extension().is_some_and(|e| e == "md") && !name.starts_with("bench-") {
            docs.push(p);
        }
    }
    let known = Metrics::new().names();
    let readme = fs::read_to_string(root.join("README.md")).expect("README");
    let mut problems = Vec::new();
    for name in &known {
        if !readme.contains(&format!("`{name}`")) {
            problems.push(format!("README.md's metric table lacks `{name}`"));
        }
    }
    // Event field paths (`tls.version`) share a finding id's shape: take them from the schema.
    let schema: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(root.join("docs/event.schema.json")).expect("schema"),
    )
    .expect("schema JSON");
    let mut fields = Vec::new();
    for (obj, path) in [
        ("tls", "/$defs/tls/properties"),
        ("plaintext", "/$defs/plaintext/properties"),
        ("flow", "/properties/flow/properties"),
    ] {
        if let Some(props) = schema.pointer(path).and_then(|p| p.as_object()) {
            fields.extend(props.keys().map(|k| format!("{obj}.{k}")));
        }
    }
    let ids: Vec<&str> = plainsight::detect::catalogue::all().map(|d| d.id).collect();
    let prefixes = [
        "tls.",
        "plaintext.",
        "starttls.",
        "postgres.",
        "mysql.",
        "kafka.",
    ];
    for doc in &docs {
        let text = fs::read_to_string(doc).expect("doc");
        let shown = doc.strip_prefix(&root).unwrap_or(doc).display().to_string();
        for name in metric_names_in(&text) {
            // `plainsight_` alone, or a prefix written as `plainsight_tls_*`, is prose.
            if name.ends_with('_') || text.contains(&format!("{name}*")) {
                continue;
            }
            // The kernel programs' names, not metrics.
            if [
                "plainsight_ingress",
                "plainsight_egress",
                "plainsight_empty",
            ]
            .contains(&name)
            {
                continue;
            }
            if !known.contains(&name) {
                problems.push(format!(
                    "{shown} names metric {name}, which the code does not define"
                ));
            }
        }
        for word in text.split('`').skip(1).step_by(2) {
            // A finding id's family (`tls.cert.`, `plaintext.`): other tools' field names
            // quoted for comparison (Suricata's `tls.sni`) are not ours to check.
            let family = |w: &str| {
                let two: Vec<&str> = w.splitn(3, '.').take(2).collect();
                let fam = format!("{}.", two.join("."));
                ids.iter().any(|id| id.starts_with(&fam))
                    || ["plaintext.", "starttls.", "postgres.", "mysql.", "kafka."]
                        .iter()
                        .any(|p| w.starts_with(p))
            };
            let shaped = prefixes
                .iter()
                .any(|p| word.starts_with(p) && word.len() > p.len())
                && family(word)
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_');
            if shaped && !ids.contains(&word) && !fields.iter().any(|f| f == word) {
                problems.push(format!(
                    "{shown} names `{word}`: no finding id or event field"
                ));
            }
        }
    }
    // Configuration keys: each documented key exists in the commented default file and
    // each key of the default file is documented (the latter is checked key by key in
    // the library's config tests; here, the documented ones must exist).
    let default = plainsight::config::Config::default_toml();
    let conf = fs::read_to_string(root.join("docs/configuration.md")).expect("configuration.md");
    for line in conf.lines() {
        if let Some(rest) = line.strip_prefix("| `") {
            let key = rest.split('`').next().unwrap_or("");
            let written = default.lines().any(|l| {
                let l = l.trim_start_matches('#').trim();
                l.starts_with(&format!("{key} =")) || l.starts_with(&format!("{key}="))
            });
            if !written {
                problems.push(format!(
                    "docs/configuration.md documents `{key}`, which the default configuration does not have"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
