//! TLS handshake analysis: records, handshake messages, certificates, fingerprints, findings.
//!
//! Owner: the TLS work (issue 3). The engine uses only the API below.

pub mod findings;

use serde::Serialize;

use crate::detect::Finding;
use crate::flow::Direction;
use crate::time::Timestamp;

/// Whether a direction's first bytes look like TLS (or SSLv2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    Yes,
    No,
    NeedMore,
}

pub fn probe(_data: &[u8]) -> Probe {
    Probe::No
}

/// How a flow ended, for handshake-failure detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Close {
    Fin(Direction),
    Rst(Direction),
    /// Idle timeout or end of capture.
    Timeout,
}

/// The `tls` object of a JSON event. Field names are a public contract.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TlsInfo {}

/// Per-connection TLS state.
#[derive(Debug, Default)]
pub struct Session {
    info: TlsInfo,
}

impl Session {
    pub fn new() -> Self {
        Session::default()
    }

    /// `data` is the whole contiguous prefix of `dir` so far; the session remembers what it parsed.
    pub fn feed(&mut self, _dir: Direction, _data: &[u8]) {}

    pub fn on_close(&mut self, _close: Close) {}

    pub fn info(&self) -> &TlsInfo {
        &self.info
    }

    /// True once nothing more in the clear is expected (handshake encrypted or failed).
    pub fn done(&self) -> bool {
        false
    }

    /// Findings for this connection, with `now` the packet (or wall) clock.
    pub fn findings(&self, _now: Timestamp) -> Vec<Finding> {
        Vec::new()
    }
}
