//! Sinks: JSON-lines events, Prometheus metrics, the HTTP endpoint, the human summary.

pub mod events;
pub mod http;
pub mod json;
pub mod metrics;
pub mod summary;
