//! Plaintext protocol recognition from the first bytes of each direction, STARTTLS
//! tracking and cleartext-credential detection (secrets redacted at the source).
//!
//! Owner: the plaintext work (issue 4). The engine uses only the API below.

pub mod findings;

use serde::Serialize;

use crate::config::Policy;
use crate::detect::Finding;
use crate::flow::{Direction, FlowKey};

/// The `plaintext` object of a JSON event.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PlaintextInfo {}

#[derive(Debug, Default)]
pub struct Session {
    info: PlaintextInfo,
}

impl Session {
    pub fn new(_server_port: u16) -> Self {
        Session::default()
    }

    /// `data` is the whole contiguous prefix of `dir` so far.
    pub fn feed(&mut self, _dir: Direction, _data: &[u8]) {}

    /// Protocol name once recognised (`http`, `postgres`, `ssh`, `unknown_text`…).
    pub fn protocol(&self) -> Option<&'static str> {
        None
    }

    /// After a STARTTLS go-ahead: the byte offsets, per direction (to_server, to_client),
    /// where TLS begins.
    pub fn tls_offsets(&self) -> Option<[usize; 2]> {
        None
    }

    pub fn done(&self) -> bool {
        false
    }

    pub fn info(&self) -> &PlaintextInfo {
        &self.info
    }

    pub fn findings(&self, _key: &FlowKey, _policy: &Policy) -> Vec<Finding> {
        Vec::new()
    }
}
