//! Capped per-direction TCP stream reassembly.
