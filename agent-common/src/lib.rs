//! The kernel/userspace contract: `#[repr(C)]` types with fixed-width fields only.
//!
//! Both sides compile these definitions, so a layout change is a compile error on one
//! side or a failed size assertion, never a silent misread. Nothing here is a `bool`,
//! `usize`, `Option` or Rust enum, because their layout is not a stable ABI between a
//! `bpfel` object and the host. Discriminants are `u8`/`u32` constants instead.
//!
//! With the `user` feature, the types implement `aya::Pod` and the [`parse`] module
//! offers length-checked readers for ring-buffer records.
#![no_std]

#[cfg(feature = "user")]
extern crate std;

/// Map names, shared so the loader and the programs cannot drift apart.
pub mod names {
    /// LRU hash: [`crate::FlowKey`] → [`crate::FlowStats`], one entry per flow direction.
    pub const FLOWS: &str = "FLOWS";
    /// Hash: [`crate::FlowKey`] → `u8`; userspace inserts a direction to stop its capture.
    pub const DONE: &str = "DONE";
    /// Ring buffer of [`crate::EventHeader`] records followed by payload bytes.
    pub const EVENTS: &str = "EVENTS";
    /// Per-CPU `u64` counters indexed by the `counter::*` constants.
    pub const COUNTERS: &str = "COUNTERS";
    /// The load-time [`crate::CaptureConfig`] global.
    pub const CONFIG: &str = "CONFIG";
    /// Program names (the symbol names in the object).
    pub const PROG_INGRESS: &str = "plainsight_ingress";
    pub const PROG_EGRESS: &str = "plainsight_egress";
    pub const PROG_EMPTY: &str = "plainsight_empty";
}

/// Address family discriminants used in [`FlowKey::family`].
pub mod family {
    pub const IPV4: u8 = 4;
    pub const IPV6: u8 = 6;
}

/// IP protocol numbers (IANA) used in [`FlowKey::protocol`].
pub mod proto {
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
}

/// Which hook saw the packet ([`EventHeader::direction`]).
pub mod hook {
    pub const INGRESS: u8 = 0;
    pub const EGRESS: u8 = 1;
}

/// Ring-buffer record kinds ([`EventHeader::kind`]).
pub mod event_kind {
    /// A captured payload segment (its flags may include FIN or RST).
    pub const SEGMENT: u8 = 1;
    /// A TCP FIN that carried no captured payload.
    pub const FIN: u8 = 2;
    /// A TCP RST that carried no captured payload.
    pub const RST: u8 = 3;
}

/// Per-direction capture state ([`FlowStats::capture_state`]).
pub mod capture_state {
    /// Still copying payload into the ring buffer.
    pub const ACTIVE: u8 = 0;
    /// Userspace said it has seen enough (the `DONE` map).
    pub const DONE: u8 = 1;
    /// The segment or byte budget is spent.
    pub const BUDGET_SPENT: u8 = 2;
}

/// TCP flag bits as in the header's flag byte (RFC 9293 §3.1).
pub mod tcp_flag {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// Indices into the per-CPU `COUNTERS` array. Every drop or failure on the packet
/// path has one, because the kernel side cannot log.
pub mod counter {
    /// Packets seen by the capture programs (both hooks).
    pub const PACKETS: u32 = 0;
    /// Packets that were not IPv4/IPv6 (ARP, LLDP, ...). Not an error.
    pub const NON_IP: u32 = 1;
    /// IP packets whose transport is neither TCP nor UDP. Not an error.
    pub const NON_TCP_UDP: u32 = 2;
    /// Headers cut short, bad IHL/data offset, or more than two VLAN tags.
    pub const UNPARSABLE: u32 = 3;
    /// IPv6 extension-header chains longer than the parser's bound.
    pub const IPV6_EXT_TOO_DEEP: u32 = 4;
    /// Non-first IP fragments: no transport header to key on.
    pub const IP_FRAGMENT: u32 = 5;
    /// New flow directions inserted into `FLOWS`. Evictions by the LRU are
    /// `FLOW_CREATED - entries - removed by userspace`.
    pub const FLOW_CREATED: u32 = 6;
    /// `FLOWS` insert failed (for example the LRU found no node to reuse).
    pub const FLOW_UPDATE_FAILED: u32 = 7;
    /// `bpf_ringbuf_reserve` failed: the ring buffer is full; the event is lost.
    pub const RINGBUF_FULL: u32 = 8;
    /// A captured segment was shorter than its payload (event or budget cap).
    pub const COPY_TRUNCATED: u32 = 9;
    /// `bpf_skb_load_bytes` of the payload failed; the event was discarded.
    pub const LOAD_BYTES_FAILED: u32 = 10;
    /// Segment events submitted.
    pub const SEGMENTS_CAPTURED: u32 = 11;
    /// FIN/RST events submitted.
    pub const END_EVENTS: u32 = 12;
    /// Directions whose capture stopped because userspace marked them done.
    pub const CAPTURE_DONE: u32 = 13;
    /// Directions whose capture stopped because the budget was spent.
    pub const CAPTURE_BUDGET_SPENT: u32 = 14;
    /// A SYN reused the 4-tuple of a direction that had ended (FIN/RST): restarted.
    pub const FLOW_REUSED: u32 = 15;
    /// Packets of a direction seen on an interface other than the one that owns it
    /// ([`crate::FlowStats::ifindex`]): the same packet on its next hop through this
    /// node (pod veth, then uplink). Not counted or captured again. Not a loss.
    pub const OTHER_HOP: u32 = 16;
    /// Number of counters (the array's size).
    pub const COUNT: u32 = 17;

    /// Stable names, indexed by counter, for metrics and JSON output.
    pub const NAMES: [&str; COUNT as usize] = [
        "packets",
        "non_ip",
        "non_tcp_udp",
        "unparsable",
        "ipv6_ext_too_deep",
        "ip_fragment",
        "flow_created",
        "flow_update_failed",
        "ringbuf_full",
        "copy_truncated",
        "load_bytes_failed",
        "segments_captured",
        "end_events",
        "capture_done",
        "capture_budget_spent",
        "flow_reused",
        "other_hop",
    ];
}

/// Largest payload one event carries. A power of two so the kernel can clamp the
/// copy length with a mask the verifier understands; 4 KiB holds a two-segment
/// post-quantum ClientHello even when GSO hands it over as one packet.
pub const MAX_EVENT_PAYLOAD: usize = 4096;

/// One direction of a flow, as seen on the wire: source → destination.
///
/// Addresses are 16 bytes for both families; IPv4 uses the first 4 and zeroes the rest.
/// Ports are in host byte order.
///
/// 8-byte aligned (the layout is the same: 40 bytes): the BPF backend may then build and
/// copy keys a word at a time instead of a byte at a time.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FlowKey {
    pub src_addr: [u8; 16],
    pub dst_addr: [u8; 16],
    pub src_port: u16,
    pub dst_port: u16,
    /// [`family::IPV4`] or [`family::IPV6`].
    pub family: u8,
    /// [`proto::TCP`] or [`proto::UDP`].
    pub protocol: u8,
    pub _pad: [u8; 2],
}

impl FlowKey {
    /// The opposite direction of the same flow.
    pub const fn reversed(&self) -> FlowKey {
        FlowKey {
            src_addr: self.dst_addr,
            dst_addr: self.src_addr,
            src_port: self.dst_port,
            dst_port: self.src_port,
            family: self.family,
            protocol: self.protocol,
            _pad: [0; 2],
        }
    }
}

/// Statistics and capture state of one flow direction (the `FLOWS` map value).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FlowStats {
    pub packets: u64,
    /// Bytes on the wire (`skb->len`), link-layer headers included.
    pub bytes: u64,
    /// `bpf_ktime_get_ns` (CLOCK_MONOTONIC) of the first and last packet.
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    /// Payload bytes copied into the ring buffer so far.
    pub captured_bytes: u32,
    /// Segment events emitted so far.
    pub captured_segments: u16,
    /// OR of every TCP flag byte seen in this direction.
    pub tcp_flags: u8,
    /// One of [`capture_state`].
    pub capture_state: u8,
    /// TCP flags of the packet that opened this direction (or restarted it on reuse).
    /// Payload-less SYNs raise no event, so this is how userspace learns who connected.
    pub first_flags: u8,
    /// Padding as scalars: an array (`[u8; 3]`, `[u8; 7]`) costs the BPF backend a call
    /// to memset on every flow insert.
    pub _pad8: u8,
    pub _pad16: u16,
    /// The interface that owns this direction: the first one it was seen on (or the
    /// one a reused tuple restarted on). A packet crossing two attached interfaces
    /// (pod veth, then uplink) is counted and captured on its first hop only.
    pub ifindex: u32,
}

/// Header of every ring-buffer record; `copied_len` payload bytes follow it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct EventHeader {
    /// `bpf_ktime_get_ns` (CLOCK_MONOTONIC).
    pub ts_ns: u64,
    pub key: FlowKey,
    pub seq: u32,
    pub ack: u32,
    pub ifindex: u32,
    /// `skb->len`: the packet's length as the hook saw it.
    pub wire_len: u32,
    /// Transport payload length according to the IP and TCP/UDP headers.
    pub payload_len: u32,
    /// Payload bytes that follow this header (≤ `payload_len`, ≤ [`MAX_EVENT_PAYLOAD`]).
    pub copied_len: u32,
    /// One of [`event_kind`].
    pub kind: u8,
    /// One of [`hook`].
    pub direction: u8,
    pub tcp_flags: u8,
    /// [`FlowStats::first_flags`] of the sending direction.
    pub first_flags: u8,
    pub _pad: [u8; 4],
}

/// Capture limits, written into the object at load time (`EbpfLoader::set_global`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaptureConfig {
    /// Payload bytes copied per flow direction before capture stops.
    pub byte_budget: u32,
    /// Segment events per flow direction before capture stops.
    pub segment_budget: u32,
    /// Bit set of `config_flag::*`.
    pub flags: u32,
    /// Records are submitted without waking the reader (`BPF_RB_NO_WAKEUP`) while
    /// fewer than this many bytes are unread; past it they force a wake-up. The reader
    /// also looks at the ring on a short timer. A wake-up per record was most of a short
    /// connection's kernel cost. 0: the kernel's default (wake a reader that has caught up).
    pub wakeup_bytes: u32,
}

/// Bits of [`CaptureConfig::flags`].
pub mod config_flag {
    /// Copy payload of UDP flows too (DNS, QUIC Initial, ...).
    pub const CAPTURE_UDP: u32 = 1;
    /// Stamp established packets with `bpf_ktime_get_coarse_ns` (5.11+) instead of
    /// `bpf_ktime_get_ns`: the precise clock was a third of an established packet's
    /// cost on a KVM guest (`docs/bench-kernel.md`). Userspace sets it only after probing
    /// the helper; the verifier then never visits the other branch, so the object still
    /// loads on kernels without the helper.
    pub const COARSE_CLOCK: u32 = 2;
}

impl CaptureConfig {
    /// 8 KiB and sixteen segments per direction. The bytes hold a ClientHello with a
    /// post-quantum key share (about 1.8 KiB, two segments at MTU 1500) with room for
    /// the ServerHello flight. The segments are for line-oriented servers that write
    /// a reply line per segment (asyncio sets TCP_NODELAY): an SMTP EHLO answer alone
    /// can take seven, and the STARTTLS go-ahead and ServerHello come after it.
    pub const DEFAULT: CaptureConfig = CaptureConfig {
        byte_budget: 8192,
        segment_budget: 16,
        flags: config_flag::CAPTURE_UDP,
        wakeup_bytes: 0,
    };
}

impl Default for CaptureConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

const _: () = assert!(size_of::<FlowKey>() == 40);
const _: () = assert!(align_of::<FlowKey>() == 8);
const _: () = assert!(size_of::<FlowStats>() == 48);
const _: () = assert!(size_of::<EventHeader>() == 80);
const _: () = assert!(align_of::<EventHeader>() == 8);
const _: () = assert!(size_of::<CaptureConfig>() == 16);
const _: () = assert!(counter::NAMES.len() == counter::COUNT as usize);

#[cfg(feature = "user")]
mod pod {
    // SAFETY: all four are repr(C), made only of integers and byte arrays, with
    // explicit padding fields, so every bit pattern is valid and there are no holes.
    unsafe impl aya::Pod for super::FlowKey {}
    unsafe impl aya::Pod for super::FlowStats {}
    unsafe impl aya::Pod for super::EventHeader {}
    unsafe impl aya::Pod for super::CaptureConfig {}
}

#[cfg(feature = "user")]
pub mod parse;
