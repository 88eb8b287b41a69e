//! Sinks: JSON-lines events, Prometheus metrics, the HTTP endpoint, the human summary.

pub mod events;
pub mod metrics;
pub mod summary;
