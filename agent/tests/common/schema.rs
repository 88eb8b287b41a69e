//! The event JSON Schema (`docs/event.schema.json`, draft 2020-12), compiled once, for the
//! tests that check every event they read against it (corpus captures and live labs).

use std::sync::OnceLock;

static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();

fn validator() -> &'static jsonschema::Validator {
    VALIDATOR.get_or_init(|| {
        let text = include_str!("../../../docs/event.schema.json");
        let schema: serde_json::Value =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("event.schema.json: {e}"));
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("event.schema.json does not compile: {e}"))
    })
}

/// Every way `event` breaks the schema, as `path: message` lines; empty when it is valid.
pub fn event_errors(event: &serde_json::Value) -> Vec<String> {
    validator()
        .iter_errors(event)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}
