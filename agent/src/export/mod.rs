//! Sinks: JSON-lines events, Prometheus metrics, the HTTP endpoint, the human summary.

// Wired in once the engine lands: pub mod events; pub mod summary;
pub mod http;
pub mod metrics;
