//! Flows: canonical keys, the bounded flow table and per-direction stream reassembly.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Direction relative to the flow's client (the side that opened it, or was first seen).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    ToServer,
    ToClient,
}

impl Direction {
    pub fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }

    pub fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ToServer => "to_server",
            Direction::ToClient => "to_client",
        }
    }
}

/// A flow's identity, oriented client → server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub transport: Transport,
}

/// Direction-independent form of a [`FlowKey`], for table lookups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CanonicalKey {
    pub lo: SocketAddr,
    pub hi: SocketAddr,
    pub transport: Transport,
}

impl CanonicalKey {
    pub fn new(a: SocketAddr, b: SocketAddr, transport: Transport) -> Self {
        if a <= b {
            CanonicalKey {
                lo: a,
                hi: b,
                transport,
            }
        } else {
            CanonicalKey {
                lo: b,
                hi: a,
                transport,
            }
        }
    }
}

impl FlowKey {
    pub fn canonical(&self) -> CanonicalKey {
        CanonicalKey::new(self.client, self.server, self.transport)
    }

    /// The direction of a packet from `src` within this flow.
    pub fn direction_of(&self, src: SocketAddr) -> Direction {
        if src == self.client {
            Direction::ToServer
        } else {
            Direction::ToClient
        }
    }

    pub fn client_ip(&self) -> IpAddr {
        self.client.ip()
    }

    pub fn server_ip(&self) -> IpAddr {
        self.server.ip()
    }
}

pub mod stream;
pub mod table;
