//! Plainsight: finds plaintext traffic and weak TLS from the first bytes of each flow.
//!
//! One pipeline serves live and offline modes (see `docs/architecture.md`):
//! `capture` → `flow` → `tls` / `plaintext` → `detect` → `export`.

pub mod capture;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod detect;
pub mod engine;
pub mod export;
pub mod flow;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod identity;
#[cfg(feature = "kubernetes")]
pub mod k8s;
pub mod offline;
pub mod plaintext;
pub mod privilege;
pub mod probe;
pub mod quic;
pub mod redact;
pub mod time;
pub mod tls;
