//! Userspace readers for the raw kernel records.
//!
//! The ring buffer hands us byte slices whose alignment and length the kernel does not
//! promise to us in the type system, so every read checks the length first and uses
//! `read_unaligned`. Raw discriminants become Rust enums here, once, through `TryFrom`;
//! the rest of the agent never sees a raw `u8` kind.

use core::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::{event_kind, family, hook, proto, EventHeader, FlowKey};

/// Why a kernel record could not be turned into a domain value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("record is {got} bytes, shorter than the {need}-byte header")]
    ShortHeader { got: usize, need: usize },
    #[error("record claims {claimed} payload bytes but carries {available}")]
    ShortPayload { claimed: usize, available: usize },
    #[error("unknown address family {0}")]
    Family(u8),
    #[error("unknown transport protocol {0}")]
    Protocol(u8),
    #[error("unknown event kind {0}")]
    Kind(u8),
    #[error("unknown hook {0}")]
    Hook(u8),
}

/// Reads a `T` from the start of `bytes` if it is long enough.
fn read<T: Copy>(bytes: &[u8]) -> Result<T, ParseError> {
    let need = size_of::<T>();
    if bytes.len() < need {
        return Err(ParseError::ShortHeader {
            got: bytes.len(),
            need,
        });
    }
    // SAFETY: the length was checked above, `read_unaligned` has no alignment
    // requirement, and callers only instantiate T with the crate's Pod types.
    Ok(unsafe { core::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

/// Transport protocol of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl TryFrom<u8> for Protocol {
    type Error = ParseError;
    fn try_from(v: u8) -> Result<Self, ParseError> {
        match v {
            proto::TCP => Ok(Protocol::Tcp),
            proto::UDP => Ok(Protocol::Udp),
            other => Err(ParseError::Protocol(other)),
        }
    }
}

/// What a ring-buffer record reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Segment,
    Fin,
    Rst,
}

impl TryFrom<u8> for EventKind {
    type Error = ParseError;
    fn try_from(v: u8) -> Result<Self, ParseError> {
        match v {
            event_kind::SEGMENT => Ok(EventKind::Segment),
            event_kind::FIN => Ok(EventKind::Fin),
            event_kind::RST => Ok(EventKind::Rst),
            other => Err(ParseError::Kind(other)),
        }
    }
}

/// The TC hook that saw a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Ingress,
    Egress,
}

impl TryFrom<u8> for Hook {
    type Error = ParseError;
    fn try_from(v: u8) -> Result<Self, ParseError> {
        match v {
            hook::INGRESS => Ok(Hook::Ingress),
            hook::EGRESS => Ok(Hook::Egress),
            other => Err(ParseError::Hook(other)),
        }
    }
}

impl Hook {
    pub fn as_str(self) -> &'static str {
        match self {
            Hook::Ingress => "ingress",
            Hook::Egress => "egress",
        }
    }
}

/// A flow direction with typed addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoints {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub protocol: Protocol,
}

fn ip_from(family_byte: u8, addr: [u8; 16]) -> Result<IpAddr, ParseError> {
    match family_byte {
        family::IPV4 => Ok(IpAddr::V4(Ipv4Addr::new(
            addr[0], addr[1], addr[2], addr[3],
        ))),
        family::IPV6 => Ok(IpAddr::V6(Ipv6Addr::from(addr))),
        other => Err(ParseError::Family(other)),
    }
}

fn addr_bytes(ip: IpAddr) -> (u8, [u8; 16]) {
    match ip {
        IpAddr::V4(v4) => {
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&v4.octets());
            (family::IPV4, a)
        }
        IpAddr::V6(v6) => (family::IPV6, v6.octets()),
    }
}

impl TryFrom<&FlowKey> for Endpoints {
    type Error = ParseError;
    fn try_from(k: &FlowKey) -> Result<Self, ParseError> {
        Ok(Endpoints {
            src: SocketAddr::new(ip_from(k.family, k.src_addr)?, k.src_port),
            dst: SocketAddr::new(ip_from(k.family, k.dst_addr)?, k.dst_port),
            protocol: Protocol::try_from(k.protocol)?,
        })
    }
}

impl Endpoints {
    /// The kernel key for this direction. Mixed families fall back to the source's
    /// family; the kernel never produces such a key, so it simply never matches.
    pub fn to_key(&self) -> FlowKey {
        let (fam, src_addr) = addr_bytes(self.src.ip());
        let (_, dst_addr) = addr_bytes(self.dst.ip());
        FlowKey {
            src_addr,
            dst_addr,
            src_port: self.src.port(),
            dst_port: self.dst.port(),
            family: fam,
            protocol: match self.protocol {
                Protocol::Tcp => proto::TCP,
                Protocol::Udp => proto::UDP,
            },
            _pad: [0; 2],
        }
    }
}

/// A ring-buffer record, typed, borrowing its payload from the record. `Debug` shows the
/// payload's length only: payload can carry credentials.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    pub ts_ns: u64,
    pub endpoints: Endpoints,
    pub kind: EventKind,
    pub hook: Hook,
    pub seq: u32,
    pub ack: u32,
    pub tcp_flags: u8,
    /// Flags of the packet that opened the sending direction.
    pub first_flags: u8,
    pub ifindex: u32,
    pub wire_len: u32,
    pub payload_len: u32,
    pub payload: &'a [u8],
}

impl core::fmt::Debug for Event<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Event")
            .field("ts_ns", &self.ts_ns)
            .field("endpoints", &self.endpoints)
            .field("kind", &self.kind)
            .field("hook", &self.hook)
            .field("seq", &self.seq)
            .field("ack", &self.ack)
            .field("tcp_flags", &self.tcp_flags)
            .field("first_flags", &self.first_flags)
            .field("ifindex", &self.ifindex)
            .field("wire_len", &self.wire_len)
            .field("payload_len", &self.payload_len)
            .field("payload", &format_args!("<{} bytes>", self.payload.len()))
            .finish()
    }
}

impl<'a> TryFrom<&'a [u8]> for Event<'a> {
    type Error = ParseError;
    fn try_from(record: &'a [u8]) -> Result<Self, ParseError> {
        let h: EventHeader = read(record)?;
        let body = &record[size_of::<EventHeader>()..];
        let copied = h.copied_len as usize;
        let payload = body.get(..copied).ok_or(ParseError::ShortPayload {
            claimed: copied,
            available: body.len(),
        })?;
        Ok(Event {
            ts_ns: h.ts_ns,
            endpoints: Endpoints::try_from(&h.key)?,
            kind: EventKind::try_from(h.kind)?,
            hook: Hook::try_from(h.direction)?,
            seq: h.seq,
            ack: h.ack,
            tcp_flags: h.tcp_flags,
            first_flags: h.first_flags,
            ifindex: h.ifindex,
            wire_len: h.wire_len,
            payload_len: h.payload_len,
            payload,
        })
    }
}

/// Reads a raw header without interpreting it (for tests and diagnostics).
pub fn read_header(record: &[u8]) -> Result<EventHeader, ParseError> {
    read(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: u8, copied: u32) -> EventHeader {
        let mut key = FlowKey {
            family: family::IPV4,
            protocol: proto::TCP,
            src_port: 40000,
            dst_port: 443,
            ..FlowKey::default()
        };
        key.src_addr[..4].copy_from_slice(&[10, 0, 0, 1]);
        key.dst_addr[..4].copy_from_slice(&[10, 0, 0, 2]);
        EventHeader {
            ts_ns: 7,
            key,
            seq: 1,
            ack: 2,
            ifindex: 3,
            wire_len: 100,
            payload_len: 46,
            copied_len: copied,
            kind,
            direction: hook::EGRESS,
            tcp_flags: 0x18,
            first_flags: 0x02,
            _pad: [0; 4],
        }
    }

    fn bytes(h: &EventHeader, payload: &[u8]) -> std::vec::Vec<u8> {
        let mut v = std::vec![0u8; size_of::<EventHeader>()];
        // SAFETY: v is exactly size_of::<EventHeader>() long.
        unsafe { core::ptr::write_unaligned(v.as_mut_ptr().cast::<EventHeader>(), *h) };
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn parses_segment_at_odd_alignment() {
        let h = header(event_kind::SEGMENT, 3);
        let mut buf = std::vec![0u8];
        buf.extend(bytes(&h, b"abcXX"));
        let ev = Event::try_from(&buf[1..]).expect("valid record");
        assert_eq!(ev.payload, b"abc");
        assert_eq!(ev.kind, EventKind::Segment);
        assert_eq!(ev.hook, Hook::Egress);
        assert_eq!(ev.endpoints.src, "10.0.0.1:40000".parse().expect("addr"));
        assert_eq!(ev.endpoints.dst, "10.0.0.2:443".parse().expect("addr"));
        assert_eq!(ev.endpoints.to_key(), h.key);
    }

    #[test]
    fn rejects_short_records_and_bad_discriminants() {
        let h = header(event_kind::SEGMENT, 10);
        let b = bytes(&h, b"abc");
        assert_eq!(
            Event::try_from(&b[..]),
            Err(ParseError::ShortPayload {
                claimed: 10,
                available: 3
            })
        );
        assert_eq!(
            Event::try_from(&b[..79]),
            Err(ParseError::ShortHeader { got: 79, need: 80 })
        );
        let b = bytes(&header(9, 0), b"");
        assert_eq!(Event::try_from(&b[..]), Err(ParseError::Kind(9)));
        let mut h = header(event_kind::FIN, 0);
        h.key.family = 5;
        assert_eq!(
            Event::try_from(&bytes(&h, b"")[..]),
            Err(ParseError::Family(5))
        );
    }

    #[test]
    fn reversed_key_round_trips() {
        let h = header(event_kind::SEGMENT, 0);
        assert_eq!(h.key.reversed().reversed(), h.key);
        assert_eq!(h.key.reversed().src_port, 443);
    }
}
