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
