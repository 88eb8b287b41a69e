//! Packet sources. Only `capture::live` imports aya and only `capture::pcap` reads files;
//! both hand the rest of the pipeline the same [`Segment`].

use std::fmt;
use std::net::IpAddr;

use crate::flow::Transport;
use crate::redact::Len;
use crate::time::Timestamp;

/// TCP header fields the flow and stream stages need.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpMeta {
    pub seq: u32,
    pub ack: u32,
    /// Raw flag byte: FIN=0x01, SYN=0x02, RST=0x04, PSH=0x08, ACK=0x10 (RFC 9293 §3.1).
    pub flags: u8,
    /// Flags of the packet that opened the sender's direction, where the source knows
    /// them without this packet carrying them (live capture raises no event for a
    /// payload-less SYN); 0 when unknown.
    pub first_flags: u8,
}

impl TcpMeta {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// One transport-layer segment, as either capture source sees it. `Debug` shows the
/// payload's length only (see [`crate::redact`]).
#[derive(Clone, Copy)]
pub struct Segment<'a> {
    pub ts: Timestamp,
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub transport: Transport,
    /// Present for TCP only.
    pub tcp: Option<TcpMeta>,
    /// Transport payload as captured (may be shorter than on the wire).
    pub payload: &'a [u8],
    /// Length of the whole packet on the wire, for byte counters.
    pub wire_len: u32,
}

impl fmt::Debug for Segment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("ts", &self.ts)
            .field("src_ip", &self.src_ip)
            .field("dst_ip", &self.dst_ip)
            .field("src_port", &self.src_port)
            .field("dst_port", &self.dst_port)
            .field("transport", &self.transport)
            .field("tcp", &self.tcp)
            .field("payload", &Len(self.payload))
            .field("wire_len", &self.wire_len)
            .finish()
    }
}

pub mod decode;
pub mod live;
pub mod pcap;
