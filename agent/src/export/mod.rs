//! Sinks: JSON-lines events, Prometheus metrics, the HTTP endpoint, the human summary.
