//! The bounded flow table.
//!
//! Why it looks like this:
//! - **Bounded, in flows and in bytes.** `max_flows` caps the entries and `max_bytes` the
//!   memory they hold (entries plus stream buffers, counted as they grow). A table that only
//!   refused new flows when full could be kept full by a few hundred spoofed packets per
//!   second and go blind; so under pressure it evicts the *least useful* flows first, in a
//!   batch (Suricata's emergency eviction): closed flows still lingering, payload-less
//!   flows, flows nothing answered (payload one way: a flood of ClientHellos is classified
//!   but one-way), then two-way flows nothing was recognised in, then classified ones,
//!   oldest first within each class. A newcomer never
//!   evicts a flow more useful than itself: a payload-less packet meeting a table of
//!   classified flows is refused instead. Every eviction and refusal is counted.
//! - **Generic app state.** The engine keeps its per-flow classifier state in `Flow::app`, so one
//!   lookup serves both layers.
//! - **Client/server.** SYN without ACK: the sender is the client. SYN+ACK: the sender is the
//!   server. The same holds for the packet that opened the sender's direction, when the
//!   capture reports it ([`TcpMeta::first_flags`], live mode). Otherwise, if exactly one
//!   port is a service port (below 1024, or in [`WELL_KNOWN_SERVICE_PORTS`]), that side is
//!   the server; else the first sender is the client.
//!   The orientation is fixed when the flow is created.
//! - **Time is packet time.** Expiry uses the timestamps it is given, so pcap runs are
//!   deterministic; flows are returned sorted (first seen, then key), never in hash order.
//! - **Cheap expiry.** [`Table::expire`] scans at most once per `scan_interval_ns` of packet
//!   time; between scans it only hands back flows already finished (a closed TCP flow replaced
//!   by a new connection on the same 4-tuple).
//! - **Closed TCP flows** (FIN both ways, or RST) are removed `close_linger_ns` after the close,
//!   so final ACKs and retransmissions still land in the same flow.
//! - UDP payloads are not reassembled: datagram boundaries matter (DTLS, QUIC) and the caller
//!   has the datagram in the segment. UDP flows' streams stay empty.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::net::{IpAddr, SocketAddr};

use super::stream::Stream;
use super::{CanonicalKey, Direction, FlowKey, Transport};
use crate::capture::{Segment, TcpMeta};
use crate::time::Timestamp;

/// Service ports at or above 1024 that identify the server side of a flow seen mid-stream
/// (IANA service name registry): MSSQL 1433, MQTT 1883, Oracle 1521, ZooKeeper 2181,
/// MySQL 3306, RDP 3389, XMPP 5222, PostgreSQL 5432, SIP 5060/5061, AMQP 5671/5672,
/// IRC 6667/6697, Redis 6379, HTTP alternates 8000/8080/8443/8888, MQTT-TLS 8883,
/// Kafka 9092, Elasticsearch 9200, memcached 11211, MongoDB 27017.
pub const WELL_KNOWN_SERVICE_PORTS: &[u16] = &[
    1433, 1521, 1883, 2181, 3306, 3389, 5060, 5061, 5222, 5432, 5671, 5672, 6379, 6667, 6697, 8000,
    8080, 8443, 8883, 8888, 9092, 9200, 11211, 27017,
];

/// Whether a port identifies a server (see [`WELL_KNOWN_SERVICE_PORTS`]).
pub fn is_service_port(port: u16) -> bool {
    port < 1024 || WELL_KNOWN_SERVICE_PORTS.contains(&port)
}

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Table bounds and timeouts (nanoseconds of packet time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_flows: usize,
    /// An idle TCP flow is expired after this long without packets.
    pub tcp_idle: u64,
    /// An idle UDP flow is expired after this long without packets.
    pub udp_idle: u64,
    /// A closed TCP flow (FIN both ways, or RST) is removed this long after the close.
    pub close_linger: u64,
    /// Bytes kept per stream direction.
    pub stream_cap: usize,
    /// Minimum packet time between two expiry scans.
    pub scan_interval: u64,
    /// Bytes the table may hold: entries plus stream buffers ([`Table::bytes`]).
    pub max_bytes: usize,
}

impl Default for Limits {
    /// Timeouts in the range Suricata and Zeek use by default: 5 min TCP, 1 min UDP.
    fn default() -> Self {
        Limits {
            max_flows: 65_536,
            tcp_idle: 300 * NANOS_PER_SEC,
            udp_idle: 60 * NANOS_PER_SEC,
            close_linger: 2 * NANOS_PER_SEC,
            stream_cap: 16 * 1024,
            scan_interval: NANOS_PER_SEC,
            max_bytes: 512 << 20,
        }
    }
}

/// How useful a flow is to keep, least useful first (the eviction order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Worth {
    /// A TCP flow already closed (FIN both ways or RST), only lingering for stray
    /// retransmissions: evicting it just reports it a little early.
    Closed,
    /// No payload seen in either direction (SYN/FIN/RST-only, or a spoofed packet).
    Payloadless,
    /// Payload in one direction only: nothing answered (yet). Every new flow starts here,
    /// and so does every spoofed or scanning packet with a payload, whatever it carries.
    OneWay,
    /// Payload both ways, nothing recognised.
    Unclassified,
    /// Payload both ways, and the engine recognised the protocol ([`Flow::classified`]).
    Classified,
}

impl Worth {
    pub fn as_str(self) -> &'static str {
        match self {
            Worth::Closed => "closed",
            Worth::Payloadless => "payloadless",
            Worth::OneWay => "one_way",
            Worth::Unclassified => "unclassified",
            Worth::Classified => "classified",
        }
    }
}

/// Flows evicted per emergency pass, as a share of `max_flows`: one scan pays for many
/// admissions, so a flood costs a constant amount of work per packet.
const EVICT_BATCH_DIVISOR: usize = 64;

/// After a scan found nothing a newcomer may evict, newcomers of that class or below are
/// refused without a scan for this long (packet time): a flood meeting a table of useful
/// flows must not cost a walk of the whole table per packet.
const REFUSE_WINDOW_NS: u64 = NANOS_PER_SEC / 10;

/// The table is at `max_flows`; the packet's new flow was not admitted (and was counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("flow table full ({max_flows} flows): new flow dropped")]
pub struct TableFull {
    pub max_flows: usize,
}

/// Table-wide counters, for metrics and the run summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableCounters {
    pub flows_created: u64,
    /// Flows removed for being idle.
    pub flows_expired: u64,
    /// TCP flows removed after FIN both ways or RST (after the linger, or replaced by a new SYN).
    pub flows_closed: u64,
    /// Flows removed by [`Table::remove`].
    pub flows_removed: u64,
    /// New flows not admitted because the table was full of more useful flows.
    pub dropped_flows: u64,
    /// Flows evicted to make room, by [`Worth`] (index = `Worth as usize`).
    pub evicted: [u64; 5],
    /// Packets given to [`Table::packet`] that found or created a flow.
    pub packets: u64,
}

/// Why a flow left the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    Idle,
    Closed,
    Removed,
    EndOfCapture,
    /// Evicted under pressure (flow count or bytes) to admit a new flow.
    Evicted,
}

/// One bidirectional flow. Index 0 of every pair is [`Direction::ToServer`], 1 is
/// [`Direction::ToClient`] (see [`Direction::index`]).
#[derive(Debug)]
pub struct Flow<V> {
    /// Oriented client → server.
    pub key: FlowKey,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub packets: [u64; 2],
    /// Wire bytes.
    pub bytes: [u64; 2],
    /// Transport payload bytes (as captured).
    pub payload_bytes: [u64; 2],
    /// OR of the TCP flag bytes seen in each direction.
    pub tcp_flags: [u8; 2],
    pub fin: [bool; 2],
    pub rst: [bool; 2],
    pub streams: [Stream; 2],
    /// Set when the flow leaves the table.
    pub end_reason: Option<EndReason>,
    /// When the TCP flow was seen closed (FIN both ways or RST).
    pub closed_at: Option<Timestamp>,
    /// Per direction, the sequence number after its FIN (or at its RST).
    pub end_seq: [Option<u32>; 2],
    /// Set by the engine once it recognised the protocol: such flows are evicted last.
    pub classified: bool,
    pub app: V,
}

impl<V> Flow<V> {
    fn new(key: FlowKey, ts: Timestamp, stream_cap: usize, app: V) -> Self {
        Flow {
            key,
            first_seen: ts,
            last_seen: ts,
            packets: [0; 2],
            bytes: [0; 2],
            payload_bytes: [0; 2],
            tcp_flags: [0; 2],
            fin: [false; 2],
            rst: [false; 2],
            streams: [Stream::new(stream_cap), Stream::new(stream_cap)],
            end_reason: None,
            closed_at: None,
            end_seq: [None; 2],
            classified: false,
            app,
        }
    }

    /// The eviction class (see [`Worth`]).
    pub fn worth(&self) -> Worth {
        let ways = self.payload_bytes.iter().filter(|b| **b > 0).count();
        if self.is_closed() {
            Worth::Closed
        } else if ways == 0 {
            Worth::Payloadless
        } else if ways == 1 {
            Worth::OneWay
        } else if self.classified {
            Worth::Classified
        } else {
            Worth::Unclassified
        }
    }

    /// Heap bytes held by the stream buffers.
    fn heap_bytes(&self) -> usize {
        self.streams.iter().map(Stream::heap_bytes).sum()
    }

    pub fn stream(&self, dir: Direction) -> &Stream {
        match dir {
            Direction::ToServer => &self.streams[0],
            Direction::ToClient => &self.streams[1],
        }
    }

    pub fn stream_mut(&mut self, dir: Direction) -> &mut Stream {
        match dir {
            Direction::ToServer => &mut self.streams[0],
            Direction::ToClient => &mut self.streams[1],
        }
    }

    /// Whether the TCP connection has ended (FIN both ways or any RST).
    pub fn is_closed(&self) -> bool {
        self.closed_at.is_some()
    }

    fn finish(&mut self, reason: EndReason) {
        self.end_reason = Some(reason);
        for s in &mut self.streams {
            s.close();
        }
    }

    fn sort_key(&self) -> (Timestamp, FlowKey) {
        (self.first_seen, self.key)
    }
}

/// What [`Table::packet`] did with a segment.
#[derive(Debug)]
pub struct PacketOutcome<'a, V> {
    pub flow: &'a mut Flow<V>,
    pub direction: Direction,
    /// Whether this packet created the flow.
    pub created: bool,
    /// Whether the direction's contiguous stream prefix grew (TCP only).
    pub grew: bool,
}

/// A map key with its hash, computed once per packet.
///
/// Why: every packet looks its flow up (up to three probes: closed-flow reuse, admission,
/// insert), and `SocketAddr`'s derived `Hash` feeds SipHash a dozen small writes: three
/// hashes of it were a third of pcap mode's instructions on bulk traffic. The key is
/// hashed once, in one write, with the table's own [`RandomState`] (SipHash keyed per
/// process: flow keys are chosen by whoever sends packets, so the hash must stay keyed
/// against HashDoS); the map's hasher only passes that value on ([`PassThrough`]).
#[derive(Clone, Copy, Debug)]
struct Slot {
    hash: u64,
    key: CanonicalKey,
}

impl PartialEq for Slot {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.key == other.key
    }
}

impl Eq for Slot {}

impl Hash for Slot {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Hands the precomputed [`Slot::hash`] to the map unchanged.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (by `Slot`); fold anything else in rather than lose it.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// Writes one endpoint (address, then port) at `out[at..]`; returns where it ends. Equal
/// keys give equal bytes (the IPv6 flow label and scope are left out, which only makes
/// more keys share a hash). IPv4 takes 6 bytes, not 18: SipHash's cost grows with them.
fn put_endpoint(out: &mut [u8; 37], at: usize, a: &SocketAddr) -> usize {
    let end = match a.ip() {
        IpAddr::V4(v4) => put(out, at, &v4.octets()),
        IpAddr::V6(v6) => put(out, at, &v6.octets()),
    };
    put(out, end, &a.port().to_be_bytes())
}

fn put(out: &mut [u8; 37], at: usize, bytes: &[u8]) -> usize {
    let end = at + bytes.len();
    if let Some(o) = out.get_mut(at..end) {
        o.copy_from_slice(bytes);
    }
    end
}

/// The flow table.
#[derive(Debug)]
pub struct Table<V> {
    limits: Limits,
    /// Keys the flow hashes (see [`Slot`]).
    keys: RandomState,
    flows: HashMap<Slot, Flow<V>, BuildHasherDefault<PassThrough>>,
    /// Flows that left the table between expiry calls (e.g. replaced by a new connection).
    finished: Vec<Flow<V>>,
    next_scan: Option<Timestamp>,
    counters: TableCounters,
    /// Heap bytes of the stream buffers, counted as they grow and shrink.
    stream_bytes: usize,
    /// A scan found no victim for newcomers of this class or below; refuse them without
    /// another scan until this time ([`REFUSE_WINDOW_NS`]).
    refuse: Option<(Worth, Timestamp)>,
}

impl<V> Table<V> {
    pub fn new(limits: Limits) -> Self {
        Table {
            limits,
            keys: RandomState::new(),
            flows: HashMap::default(),
            finished: Vec::new(),
            next_scan: None,
            counters: TableCounters::default(),
            stream_bytes: 0,
            refuse: None,
        }
    }

    /// Bytes of one slot of the map: key, flow and hashbrown's control byte.
    pub const SLOT_BYTES: usize = size_of::<(Slot, Flow<V>)>() + 1;

    /// The map key of `key`: one keyed SipHash over its bytes (13 for IPv4, 37 for IPv6),
    /// in a single write.
    fn slot(&self, key: CanonicalKey) -> Slot {
        let mut bytes = [0u8; 37];
        let end = put_endpoint(&mut bytes, 0, &key.lo);
        let end = put_endpoint(&mut bytes, end, &key.hi);
        let end = put(&mut bytes, end, &[key.transport as u8]);
        let mut h = self.keys.build_hasher();
        h.write(bytes.get(..end).unwrap_or(&bytes));
        Slot {
            hash: h.finish(),
            key,
        }
    }

    /// Bytes of the map's allocation at `capacity` (hashbrown keeps at most 7/8 of its
    /// buckets full).
    fn map_bytes(capacity: usize) -> usize {
        (capacity + capacity / 7 + 1) * Self::SLOT_BYTES
    }

    /// Bytes held now: the map's allocation (by capacity: it never shrinks) plus the
    /// stream buffers (see [`Limits::max_bytes`]).
    pub fn bytes(&self) -> usize {
        Self::map_bytes(self.flows.capacity()) + self.stream_bytes
    }

    /// Takes a flow out of the map and its buffers out of the count.
    fn take(&mut self, slot: &Slot) -> Option<Flow<V>> {
        let f = self.flows.remove(slot)?;
        self.stream_bytes = self.stream_bytes.saturating_sub(f.heap_bytes());
        Some(f)
    }

    /// The engine needs no more payload of this flow: free both stream buffers now rather
    /// than when the flow ends.
    pub fn stop_streams(&mut self, key: &FlowKey) {
        let slot = self.slot(key.canonical());
        if let Some(f) = self.flows.get_mut(&slot) {
            let before = f.heap_bytes();
            for s in &mut f.streams {
                s.stop();
            }
            self.stream_bytes = self
                .stream_bytes
                .saturating_sub(before - f.heap_bytes().min(before));
        }
    }

    /// Whether holding `extra` more entries would break a bound. The map may double its
    /// allocation on an insert once it is more than half full (hashbrown grows rather than
    /// rehashing in place when deleted slots use up its spare room and it is over half
    /// full, which is what churn under a flood does): that is what is counted then.
    fn over(&self, extra: usize) -> bool {
        let len = self.flows.len() + extra;
        if len > self.limits.max_flows {
            return true;
        }
        let cap = self.flows.capacity();
        let cap = if extra > 0 && len > cap / 2 {
            (cap + 1).max(4) * 2
        } else {
            cap
        };
        Self::map_bytes(cap) + self.stream_bytes > self.limits.max_bytes
    }

    /// Streams grew past the byte cap: evict, least useful and oldest first, until under.
    fn shed(&mut self) {
        let mut victims: Vec<(Worth, Timestamp, CanonicalKey)> = self
            .flows
            .iter()
            .map(|(k, f)| (f.worth(), f.last_seen, k.key))
            .collect();
        victims.sort_unstable();
        for (worth, _, k) in victims {
            if !self.over(0) {
                break;
            }
            self.evict(&k, worth);
        }
    }

    /// Emergency eviction: makes room for one new flow of class `newcomer` by evicting a
    /// batch of the least useful flows (never one more useful than the newcomer). Returns
    /// whether there is room now.
    fn make_room(&mut self, newcomer: Worth) -> bool {
        let mut victims: Vec<(Worth, Timestamp, CanonicalKey)> = self
            .flows
            .iter()
            .map(|(k, f)| (f.worth(), f.last_seen, k.key))
            .filter(|(w, _, _)| *w <= newcomer)
            .collect();
        if victims.is_empty() {
            return false;
        }
        let batch = (self.limits.max_flows / EVICT_BATCH_DIVISOR).max(1);
        let n = batch.min(victims.len());
        if n < victims.len() {
            victims.select_nth_unstable(n);
        }
        let mut chosen: Vec<_> = victims.get(..n).unwrap_or_default().to_vec();
        chosen.sort_unstable();
        let mut rest = victims.get(n..).unwrap_or_default().to_vec();
        let mut evicted_any = false;
        for (i, (worth, _, k)) in chosen.into_iter().enumerate() {
            // Classified flows go one at a time: only as many as the newcomer needs.
            if worth == Worth::Classified && i > 0 && !self.over(1) {
                break;
            }
            self.evict(&k, worth);
            evicted_any = true;
        }
        // Bytes may still be over (large streams): keep going in order until there is room.
        if self.over(1) {
            rest.sort_unstable();
            for (worth, _, k) in rest {
                if !self.over(1) {
                    break;
                }
                self.evict(&k, worth);
                evicted_any = true;
            }
        }
        evicted_any && !self.over(1)
    }

    fn evict(&mut self, k: &CanonicalKey, worth: Worth) {
        let slot = self.slot(*k);
        if let Some(mut f) = self.take(&slot) {
            if let Some(c) = self.counters.evicted.get_mut(worth as usize) {
                *c += 1;
            }
            f.finish(EndReason::Evicted);
            self.finished.push(f);
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn counters(&self) -> TableCounters {
        self.counters
    }

    /// Flows currently in the table.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Look a flow up by its key (either orientation).
    pub fn get(&self, key: &FlowKey) -> Option<&Flow<V>> {
        self.flows.get(&self.slot(key.canonical()))
    }

    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Flow<V>> {
        let slot = self.slot(key.canonical());
        self.flows.get_mut(&slot)
    }

    /// Account one segment: find or create its flow, update counters, reassemble TCP payload.
    pub fn packet(
        &mut self,
        seg: &Segment<'_>,
        make: impl FnOnce(&FlowKey) -> V,
    ) -> Result<PacketOutcome<'_, V>, TableFull> {
        let src = SocketAddr::new(seg.src_ip, seg.src_port);
        let dst = SocketAddr::new(seg.dst_ip, seg.dst_port);
        let ckey = self.slot(CanonicalKey::new(src, dst, seg.transport));
        let tcp = seg.tcp.filter(|_| seg.transport == Transport::Tcp);
        let opens = tcp.is_some_and(|t| t.has(TcpMeta::SYN) && !t.has(TcpMeta::ACK));
        if self.over(0) {
            self.shed();
        }

        // A new connection on the 4-tuple of a closed one: finish the old flow first.
        // Live capture does not report payload-less SYNs, so data at or past the sequence
        // number where the old connection ended (its FIN or RST) also starts a new one:
        // the old connection can send nothing there. (ISNs for one 4-tuple grow with time,
        // RFC 6528, so a reused tuple's new data lands just past the old end.)
        let past_end = |f: &Flow<V>| {
            tcp.is_some_and(|t| {
                let i = f.key.direction_of(src).index();
                !seg.payload.is_empty()
                    && !t.has(TcpMeta::RST)
                    && f.end_seq
                        .get(i)
                        .copied()
                        .flatten()
                        .is_some_and(|end| t.seq.wrapping_sub(end) < 1 << 31)
            })
        };
        // One probe answers both "is there a flow" and "is it a closed one being reused"
        // (`opens` implies TCP).
        let reuse = self
            .flows
            .get(&ckey)
            .map(|f| tcp.is_some() && f.is_closed() && (opens || past_end(f)));
        if reuse == Some(true) {
            if let Some(mut old) = self.take(&ckey) {
                old.finish(EndReason::Closed);
                self.counters.flows_closed += 1;
                self.finished.push(old);
            }
        }

        let created = reuse != Some(false);
        if created && self.over(1) {
            let worth = if seg.payload.is_empty() {
                Worth::Payloadless
            } else {
                Worth::OneWay
            };
            let skip = self
                .refuse
                .is_some_and(|(w, until)| worth <= w && seg.ts < until);
            if skip || !self.make_room(worth) {
                if !skip {
                    let until = Timestamp(seg.ts.0.saturating_add(REFUSE_WINDOW_NS));
                    self.refuse = Some((worth, until));
                }
                self.counters.dropped_flows += 1;
                return Err(TableFull {
                    max_flows: self.limits.max_flows,
                });
            }
        }
        let stream_cap = self.limits.stream_cap;
        let flow = self.flows.entry(ckey).or_insert_with(|| {
            let key = orient(src, dst, seg.transport, tcp, seg.src_port, seg.dst_port);
            let app = make(&key);
            Flow::new(key, seg.ts, stream_cap, app)
        });
        if created {
            self.counters.flows_created += 1;
        }
        self.counters.packets += 1;

        let direction = flow.key.direction_of(src);
        let i = direction.index();
        flow.last_seen = flow.last_seen.max(seg.ts);
        if let Some(c) = flow.packets.get_mut(i) {
            *c += 1;
        }
        if let Some(c) = flow.bytes.get_mut(i) {
            *c += u64::from(seg.wire_len);
        }
        if let Some(c) = flow.payload_bytes.get_mut(i) {
            *c += seg.payload.len() as u64;
        }
        let mut grew = false;
        if let Some(t) = tcp {
            if let Some(f) = flow.tcp_flags.get_mut(i) {
                *f |= t.flags;
            }
            if t.has(TcpMeta::FIN) {
                if let Some(f) = flow.fin.get_mut(i) {
                    *f = true;
                }
                // The FIN takes one sequence number after its data (RFC 9293 §3.4).
                let end = t.seq.wrapping_add(seg.payload.len() as u32).wrapping_add(1);
                if let Some(e) = flow.end_seq.get_mut(i) {
                    *e = Some(end);
                }
            }
            if t.has(TcpMeta::RST) {
                if let Some(f) = flow.rst.get_mut(i) {
                    *f = true;
                }
                if let Some(e) = flow.end_seq.get_mut(i) {
                    e.get_or_insert(t.seq);
                }
            }
            if let Some(s) = flow.streams.get_mut(i) {
                let before = s.heap_bytes();
                grew = s.push(t.seq, t.has(TcpMeta::SYN), seg.payload);
                self.stream_bytes = (self.stream_bytes + s.heap_bytes()).saturating_sub(before);
            }
            let closed = (flow.fin[0] && flow.fin[1]) || flow.rst[0] || flow.rst[1];
            if closed && flow.closed_at.is_none() {
                flow.closed_at = Some(seg.ts);
            }
        }
        Ok(PacketOutcome {
            flow,
            direction,
            created,
            grew,
        })
    }

    /// Flows that ended by `now`: idle ones, closed TCP flows past their linger, and flows
    /// finished since the last call. Sorted by first seen, then key.
    pub fn expire(&mut self, now: Timestamp) -> Vec<Flow<V>> {
        let mut out = Vec::new();
        self.expire_into(now, &mut out);
        out
    }

    /// Whether [`expire`](Self::expire) at `now` has anything to do: a scan is due or
    /// flows finished since the last call. Cheap, for the per-packet path.
    pub fn expiry_due(&self, now: Timestamp) -> bool {
        self.next_scan.is_none_or(|t| now >= t) || !self.finished.is_empty()
    }

    /// [`expire`](Self::expire), appending to `out`: a caller that keeps `out` between
    /// calls reuses its capacity (flows are large; growing a fresh `Vec` for every batch
    /// was 17 M instructions of reallocation on the recorded handshake mix).
    pub fn expire_into(&mut self, now: Timestamp, out: &mut Vec<Flow<V>>) {
        if !self.expiry_due(now) {
            // The common case, once per packet: nothing to hand back.
            return;
        }
        let due = self.next_scan.is_none_or(|t| now >= t);
        let start = out.len();
        out.append(&mut self.finished);
        if due {
            self.next_scan = Some(Timestamp(now.0.saturating_add(self.limits.scan_interval)));
            let limits = self.limits;
            let ended: Vec<(Slot, EndReason)> = self
                .flows
                .iter()
                .filter_map(|(k, f)| ended_by(f, now, &limits).map(|r| (*k, r)))
                .collect();
            for (k, reason) in ended {
                if let Some(mut f) = self.take(&k) {
                    match reason {
                        EndReason::Closed => self.counters.flows_closed += 1,
                        _ => self.counters.flows_expired += 1,
                    }
                    f.finish(reason);
                    out.push(f);
                }
            }
        }
        if let Some(batch) = out.get_mut(start..) {
            batch.sort_by_cached_key(Flow::sort_key);
        }
    }

    /// Take one flow out (e.g. the engine is done with it).
    pub fn remove(&mut self, key: &FlowKey) -> Option<Flow<V>> {
        let slot = self.slot(key.canonical());
        let mut f = self.take(&slot)?;
        self.counters.flows_removed += 1;
        f.finish(EndReason::Removed);
        Some(f)
    }

    /// End of capture: every flow, sorted by first seen, then key.
    pub fn drain_all(&mut self) -> Vec<Flow<V>> {
        let mut out = std::mem::take(&mut self.finished);
        for (_, mut f) in self.flows.drain() {
            f.finish(EndReason::EndOfCapture);
            out.push(f);
        }
        self.stream_bytes = 0;
        out.sort_by_cached_key(Flow::sort_key);
        out
    }
}

/// Why a flow should leave the table at `now`, if it should.
fn ended_by<V>(f: &Flow<V>, now: Timestamp, limits: &Limits) -> Option<EndReason> {
    if let Some(closed) = f.closed_at {
        if now.saturating_sub(closed) >= limits.close_linger {
            return Some(EndReason::Closed);
        }
    }
    let idle = match f.key.transport {
        Transport::Tcp => limits.tcp_idle,
        Transport::Udp => limits.udp_idle,
    };
    (now.saturating_sub(f.last_seen) >= idle).then_some(EndReason::Idle)
}

/// Decide who is the client for a new flow (see the module doc).
fn orient(
    src: SocketAddr,
    dst: SocketAddr,
    transport: Transport,
    tcp: Option<TcpMeta>,
    src_port: u16,
    dst_port: u16,
) -> FlowKey {
    const SYN_ACK: u8 = TcpMeta::SYN | TcpMeta::ACK;
    let opener = tcp.map(|t| {
        if t.has(TcpMeta::SYN) {
            t.flags
        } else {
            t.first_flags
        }
    });
    let sender_is_client = match opener.map(|f| f & SYN_ACK) {
        Some(TcpMeta::SYN) => true,
        Some(SYN_ACK) => false,
        _ => match (is_service_port(src_port), is_service_port(dst_port)) {
            (false, true) => true,
            (true, false) => false,
            _ => true,
        },
    };
    if sender_is_client {
        FlowKey {
            client: src,
            server: dst,
            transport,
        }
    } else {
        FlowKey {
            client: dst,
            server: src,
            transport,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;

    const C: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const S: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    const SEC: u64 = NANOS_PER_SEC;

    fn tcp<'a>(t: u64, from_client: bool, flags: u8, seq: u32, payload: &'a [u8]) -> Segment<'a> {
        let (src_ip, dst_ip, src_port, dst_port) = if from_client {
            (C, S, 40000, 443)
        } else {
            (S, C, 443, 40000)
        };
        Segment {
            ts: Timestamp(t),
            src_ip,
            dst_ip,
            src_port,
            dst_port,
            transport: Transport::Tcp,
            tcp: Some(TcpMeta {
                seq,
                flags,
                ..TcpMeta::default()
            }),
            payload,
            wire_len: 54 + payload.len() as u32,
        }
    }

    fn udp(t: u64, sport: u16, dport: u16) -> Segment<'static> {
        Segment {
            ts: Timestamp(t),
            src_ip: C,
            dst_ip: S,
            src_port: sport,
            dst_port: dport,
            transport: Transport::Udp,
            tcp: None,
            payload: b"q",
            wire_len: 43,
        }
    }

    const SYN: u8 = TcpMeta::SYN;
    const SYNACK: u8 = TcpMeta::SYN | TcpMeta::ACK;
    const ACK: u8 = TcpMeta::ACK;
    const FINACK: u8 = TcpMeta::FIN | TcpMeta::ACK;

    fn limits() -> Limits {
        Limits {
            max_flows: 4,
            tcp_idle: 10 * SEC,
            udp_idle: 5 * SEC,
            close_linger: SEC,
            stream_cap: 64,
            scan_interval: 0,
            max_bytes: usize::MAX,
        }
    }

    #[test]
    fn handshake_orients_and_reassembles_both_directions() {
        let mut t: Table<u32> = Table::new(limits());
        let o = t
            .packet(&tcp(1, true, SYN, 100, b""), |_| 7)
            .expect("admitted");
        assert!(o.created);
        assert_eq!(o.direction, Direction::ToServer);
        assert_eq!(o.flow.key.server.port(), 443);
        let o = t
            .packet(&tcp(2, false, SYNACK, 900, b""), |_| 0)
            .expect("ok");
        assert_eq!(o.direction, Direction::ToClient);
        assert!(!o.created);
        let o = t
            .packet(&tcp(3, true, ACK, 101, b"GET"), |_| 0)
            .expect("ok");
        assert!(o.grew);
        let o = t
            .packet(&tcp(4, false, ACK, 901, b"200"), |_| 0)
            .expect("ok");
        assert!(o.grew);
        let f = o.flow;
        assert_eq!(f.app, 7, "made once, by the first packet");
        assert_eq!(f.stream(Direction::ToServer).contiguous(), b"GET");
        assert_eq!(f.stream(Direction::ToClient).contiguous(), b"200");
        assert_eq!(f.packets, [2, 2]);
        assert_eq!(f.bytes, [54 + 54 + 3, 54 + 54 + 3]);
        assert_eq!(f.tcp_flags, [SYN | ACK, SYNACK]);
        assert_eq!(f.first_seen, Timestamp(1));
        assert_eq!(f.last_seen, Timestamp(4));
        assert_eq!(t.counters().flows_created, 1);
    }

    #[test]
    fn synack_first_makes_sender_the_server() {
        let mut t: Table<()> = Table::new(limits());
        // Server port 443 is high here on purpose: flags win over ports.
        let o = t
            .packet(&tcp(1, false, SYNACK, 5, b""), |_| ())
            .expect("ok");
        assert_eq!(o.direction, Direction::ToClient);
        assert_eq!(o.flow.key.client.ip(), C);
    }

    #[test]
    fn reported_opener_flags_beat_ports_and_first_sender() {
        // Live capture: a server-first protocol on high ports (SMTP on 2525) whose SYNs
        // raised no event. The banner arrives first; the kernel says the server's
        // direction opened with SYN+ACK.
        let banner = |first_flags| {
            let mut s = tcp(1, false, ACK, 5, b"220 hi\r\n");
            s.src_port = 2525;
            s.dst_port = 40000;
            s.src_ip = S;
            s.dst_ip = C;
            s.tcp = Some(TcpMeta {
                seq: 5,
                flags: ACK,
                first_flags,
                ..TcpMeta::default()
            });
            s
        };
        let mut t: Table<()> = Table::new(limits());
        let o = t.packet(&banner(SYNACK), |_| ()).expect("ok");
        assert_eq!(o.direction, Direction::ToClient);
        assert_eq!(o.flow.key.server.port(), 2525);
        // Without the hint, the first sender would have been taken for the client.
        let mut t: Table<()> = Table::new(limits());
        let o = t.packet(&banner(0), |_| ()).expect("ok");
        assert_eq!(o.flow.key.client.port(), 2525);
        // A direction that opened with a bare SYN is the client's.
        let mut t: Table<()> = Table::new(limits());
        let o = t.packet(&banner(SYN), |_| ()).expect("ok");
        assert_eq!(o.flow.key.client.port(), 2525);
    }

    #[test]
    fn midstream_uses_service_ports_then_first_sender() {
        let mut t: Table<()> = Table::new(limits());
        // Server speaks first mid-stream: port 443 still makes it the server.
        let o = t.packet(&tcp(1, false, ACK, 5, b"x"), |_| ()).expect("ok");
        assert_eq!(o.direction, Direction::ToClient);
        assert_eq!(o.flow.key.server.port(), 443);
        // Well-known high port.
        let o = t.packet(&udp(1, 50000, 5432), |_| ()).expect("ok");
        assert_eq!(o.flow.key.server.port(), 5432);
        // Neither a service port: the first sender is the client.
        let o = t.packet(&udp(1, 50001, 50002), |_| ()).expect("ok");
        assert_eq!(o.flow.key.client.port(), 50001);
        assert_eq!(o.direction, Direction::ToServer);
        // Both service ports: first sender again.
        let o = t.packet(&udp(1, 53, 123), |_| ()).expect("ok");
        assert_eq!(o.flow.key.client.port(), 53);
    }

    /// The server's answer to [`udp`] from client port `sport` to port 53.
    fn reply(t: u64, sport: u16) -> Segment<'static> {
        Segment {
            src_ip: S,
            dst_ip: C,
            src_port: 53,
            dst_port: sport,
            ..udp(t, 53, sport)
        }
    }

    /// A payload-less TCP packet from client port `sport` (a spoofed FIN).
    fn fin(t: u64, sport: u16) -> Segment<'static> {
        let mut s = tcp(t, true, FINACK, 7, b"");
        s.src_port = sport;
        s
    }

    #[test]
    fn full_table_evicts_payloadless_flows_for_new_ones() {
        // Before: a full table refused every new flow, so spoofed FINs kept it blind.
        let mut t: Table<()> = Table::new(Limits {
            max_flows: 64,
            ..limits()
        });
        for p in 0..64 {
            t.packet(&fin(1 + u64::from(p), 1000 + p), |_| ())
                .expect("room");
        }
        assert_eq!(t.len(), 64);
        // A real flow with payload still gets in: the oldest payload-less flow goes.
        let o = t
            .packet(&tcp(100, true, ACK, 1, b"GET /"), |_| ())
            .expect("admitted under pressure");
        assert!(o.created);
        let c = t.counters();
        assert_eq!(c.dropped_flows, 0);
        assert_eq!(c.evicted[Worth::Payloadless as usize], 1, "batch of 64/64");
        assert_eq!(t.len(), 64);
        let gone = t.expire(Timestamp(100));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].end_reason, Some(EndReason::Evicted));
        assert_eq!(gone[0].key.client.port(), 1000, "the oldest first");
        // More spoofed FINs evict each other, never the flow with payload.
        for p in 0..1000 {
            t.packet(&fin(200 + u64::from(p), 2000 + p), |_| ())
                .expect("a FIN evicts an older FIN");
        }
        assert!(
            t.get(&o_key()).is_some(),
            "the real flow survived the flood"
        );
        assert_eq!(t.counters().evicted[Worth::Payloadless as usize], 1001);
        assert_eq!(t.counters().evicted[Worth::OneWay as usize], 0);
    }

    fn o_key() -> FlowKey {
        FlowKey {
            client: SocketAddr::new(C, 40000),
            server: SocketAddr::new(S, 443),
            transport: Transport::Tcp,
        }
    }

    #[test]
    fn newcomers_never_evict_more_useful_flows() {
        let mut t: Table<()> = Table::new(Limits {
            max_flows: 2,
            ..limits()
        });
        t.packet(&udp(1, 1000, 53), |_| ()).expect("first");
        let k = t
            .packet(&udp(1, 1001, 53), |_| ())
            .expect("second")
            .flow
            .key;
        t.packet(&reply(1, 1001), |_| ()).expect("answered");
        t.get_mut(&k).expect("held").classified = true;
        // A payload-less newcomer meets flows with payload: refused and counted.
        let err = t.packet(&fin(2, 5000), |_| ()).expect_err("full");
        assert_eq!(err, TableFull { max_flows: 2 });
        assert_eq!(t.counters().dropped_flows, 1);
        // A newcomer with payload evicts the unanswered flow, not the classified one.
        t.packet(&udp(3, 1002, 53), |_| ()).expect("admitted");
        assert!(t.get(&k).is_some());
        assert_eq!(t.counters().evicted, [0, 0, 1, 0, 0]);
        // Another newcomer: the older unanswered one goes.
        t.packet(&udp(4, 1003, 53), |_| ()).expect("admitted");
        assert!(t.get(&k).is_some());
        assert_eq!(t.counters().evicted, [0, 0, 2, 0, 0]);
        // Two-way flows only: a one-way newcomer is refused.
        t.packet(&reply(5, 1003), |_| ()).expect("answered");
        t.packet(&udp(6, 1004, 53), |_| ())
            .expect_err("full of answered flows");
        assert_eq!(t.counters().dropped_flows, 2);
        // Existing flows still take packets.
        assert!(t.packet(&udp(5, 1001, 53), |_| ()).is_ok());
        // A closed flow, lingering, is the first to go, even for a payload-less newcomer.
        let mut t: Table<()> = Table::new(Limits {
            max_flows: 2,
            ..limits()
        });
        let k = t.packet(&udp(1, 1000, 53), |_| ()).expect("first").flow.key;
        t.get_mut(&k).expect("held").classified = true;
        t.packet(&tcp(2, true, ACK, 1, b"hi"), |_| ())
            .expect("second");
        t.packet(&tcp(3, false, TcpMeta::RST, 9, b""), |_| ())
            .expect("closes it");
        t.packet(&fin(4, 5000), |_| ())
            .expect("takes the closed flow's place");
        assert_eq!(t.counters().evicted[Worth::Closed as usize], 1);
        assert!(t.get(&k).is_some());
    }

    #[test]
    fn a_refused_class_is_not_rescanned_within_the_window() {
        let mut t: Table<()> = Table::new(Limits {
            max_flows: 1,
            ..limits()
        });
        t.packet(&tcp(1, true, ACK, 1, b"hi"), |_| ())
            .expect("first");
        t.packet(&tcp(2, false, ACK, 900, b"ok"), |_| ())
            .expect("answered");
        t.packet(&udp(10, 1000, 53), |_| ())
            .expect_err("nothing a one-way newcomer may evict");
        // The flow closes: it could go now, but the window refuses without looking.
        t.packet(&tcp(11, false, TcpMeta::RST, 902, b""), |_| ())
            .expect("closes it");
        t.packet(&udp(12, 1001, 53), |_| ())
            .expect_err("refused within the window");
        assert_eq!(t.counters().dropped_flows, 2);
        t.packet(&udp(10 + REFUSE_WINDOW_NS, 1002, 53), |_| ())
            .expect("after the window the scan finds the closed flow");
        assert_eq!(t.counters().evicted[Worth::Closed as usize], 1);
    }

    #[test]
    fn byte_cap_counts_stream_buffers_and_evicts() {
        let half = vec![b'a'; 4096];
        let seg = |t: u64, port: u16, seq: u32| {
            let mut s = tcp(t, true, ACK, seq, &half);
            s.src_port = port;
            s
        };
        let capped = |max_bytes| {
            Table::<()>::new(Limits {
                max_flows: 64, // an eviction batch of one
                stream_cap: 8192,
                max_bytes,
                ..limits()
            })
        };
        let mut t = capped(usize::MAX);
        for p in 0..2 {
            t.packet(&seg(1, 3000 + p, 1), |_| ()).expect("room");
        }
        let held = t.bytes();
        assert!(held >= 2 * 4096 + 2 * Table::<()>::SLOT_BYTES, "{held}");
        // The same traffic under a cap of exactly that: the second flow's buffer grows
        // past it, and the next packet sheds the oldest, least useful flow.
        let mut t = capped(held);
        let mut keys = Vec::new();
        for p in 0..2 {
            keys.push(
                t.packet(&seg(1 + u64::from(p), 3000 + p, 1), |_| ())
                    .expect("room")
                    .flow
                    .key,
            );
        }
        assert_eq!(t.bytes(), held);
        t.packet(&seg(3, 3001, 4097), |_| ()).expect("more data");
        assert!(t.bytes() > held, "{} <= {held}", t.bytes());
        t.packet(&seg(4, 3001, 4097), |_| ())
            .expect("a retransmission");
        assert!(t.bytes() <= held, "{} > {held}", t.bytes());
        assert_eq!(t.counters().evicted[Worth::OneWay as usize], 1);
        assert!(t.get(&keys[0]).is_none(), "the oldest went");
        // Stopping streams gives their bytes back at once.
        let before = t.bytes();
        t.stop_streams(&keys[1]);
        assert!(t.bytes() + 8192 <= before, "{} -> {}", before, t.bytes());
        // A new flow is admitted only with room for the map's possible growth.
        t.packet(&seg(5, 3002, 1), |_| ()).expect("room made");
        assert!(t.bytes() <= held, "{} > {held}", t.bytes());
        t.drain_all();
        assert_eq!(t.bytes(), Table::<()>::map_bytes(t.flows.capacity()));
    }

    #[test]
    fn idle_expiry_by_transport() {
        let mut t: Table<()> = Table::new(limits());
        t.packet(&tcp(0, true, SYN, 1, b""), |_| ()).expect("ok");
        t.packet(&udp(0, 1000, 53), |_| ()).expect("ok");
        assert!(t.expire(Timestamp(4 * SEC)).is_empty());
        let gone = t.expire(Timestamp(5 * SEC));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].key.transport, Transport::Udp);
        assert_eq!(gone[0].end_reason, Some(EndReason::Idle));
        let gone = t.expire(Timestamp(10 * SEC));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].key.transport, Transport::Tcp);
        assert_eq!(t.counters().flows_expired, 2);
        assert!(t.is_empty());
    }

    #[test]
    fn closed_flows_leave_after_linger() {
        let mut t: Table<()> = Table::new(limits());
        t.packet(&tcp(0, true, SYN, 1, b""), |_| ()).expect("ok");
        t.packet(&tcp(SEC, true, FINACK, 2, b""), |_| ())
            .expect("ok");
        assert!(
            t.expire(Timestamp(3 * SEC)).is_empty(),
            "one FIN is not a close"
        );
        let o = t
            .packet(&tcp(3 * SEC, false, FINACK, 9, b""), |_| ())
            .expect("ok");
        assert_eq!(o.flow.fin, [true, true]);
        assert!(
            t.expire(Timestamp(3 * SEC + SEC / 2)).is_empty(),
            "lingering"
        );
        let gone = t.expire(Timestamp(4 * SEC));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].end_reason, Some(EndReason::Closed));
        assert_eq!(t.counters().flows_closed, 1);
        // RST closes at once (plus linger).
        t.packet(&tcp(10 * SEC, true, SYN, 1, b""), |_| ())
            .expect("ok");
        let o = t
            .packet(&tcp(10 * SEC, false, TcpMeta::RST, 0, b""), |_| ())
            .expect("ok");
        assert_eq!(o.flow.rst, [false, true]);
        assert_eq!(t.expire(Timestamp(11 * SEC)).len(), 1);
    }

    #[test]
    fn far_data_on_closed_tuple_starts_a_new_flow_without_a_syn() {
        // Live capture reports no payload-less SYN: the new connection shows up as data.
        let mut t: Table<u8> = Table::new(limits());
        t.packet(&tcp(0, true, ACK, 100, b"old"), |_| 1)
            .expect("ok");
        t.packet(&tcp(1, true, FINACK, 103, b""), |_| 1)
            .expect("ok");
        t.packet(&tcp(1, false, FINACK, 900, b""), |_| 1)
            .expect("ok");
        // A retransmission in the old sequence space stays with the old flow.
        let o = t
            .packet(&tcp(2, true, ACK, 100, b"old"), |_| 1)
            .expect("ok");
        assert!(!o.created);
        // The new connection's ISN is a little past the old end (RFC 6528).
        let o = t
            .packet(&tcp(3, true, ACK, 4_000_104, b"new"), |_| 2)
            .expect("ok");
        assert!(o.created);
        assert_eq!(o.flow.stream(Direction::ToServer).contiguous(), b"new");
        let gone = t.expire(Timestamp(4));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].stream(Direction::ToServer).contiguous(), b"old");
    }

    #[test]
    fn new_syn_on_closed_tuple_starts_a_new_flow() {
        let mut t: Table<u8> = Table::new(limits());
        t.packet(&tcp(0, true, SYN, 1, b""), |_| 1).expect("ok");
        t.packet(&tcp(1, true, ACK, 2, b"old"), |_| 1).expect("ok");
        t.packet(&tcp(2, false, TcpMeta::RST, 0, b""), |_| 1)
            .expect("ok");
        let o = t.packet(&tcp(3, true, SYN, 5000, b""), |_| 2).expect("ok");
        assert!(o.created);
        assert_eq!(o.flow.app, 2);
        let o = t
            .packet(&tcp(4, true, ACK, 5001, b"new"), |_| 2)
            .expect("ok");
        assert_eq!(o.flow.stream(Direction::ToServer).contiguous(), b"new");
        let gone = t.expire(Timestamp(5));
        assert_eq!(gone.len(), 1, "the old connection is handed back");
        assert_eq!(gone[0].app, 1);
        assert_eq!(gone[0].stream(Direction::ToServer).contiguous(), b"old");
    }

    #[test]
    fn expiry_scans_are_rate_limited() {
        let mut t: Table<()> = Table::new(Limits {
            scan_interval: 10 * SEC,
            ..limits()
        });
        t.packet(&udp(0, 1000, 53), |_| ()).expect("ok");
        assert!(t.expire(Timestamp(1)).is_empty()); // scans, nothing idle; next scan at 10 s
        assert!(
            t.expire(Timestamp(6 * SEC)).is_empty(),
            "idle, but no scan due yet"
        );
        assert!(
            t.expire(Timestamp(10 * SEC)).is_empty(),
            "next scan at 10 s + 1 ns"
        );
        assert_eq!(t.expire(Timestamp(10 * SEC + 1)).len(), 1);
    }

    #[test]
    fn drain_all_is_sorted_and_closes_streams() {
        let mut t: Table<()> = Table::new(limits());
        t.packet(&udp(5, 1001, 53), |_| ()).expect("ok");
        t.packet(&udp(3, 1000, 53), |_| ()).expect("ok");
        t.packet(&tcp(4, true, SYN, 0, b""), |_| ()).expect("ok");
        t.packet(&tcp(6, true, ACK, 10, b"hole"), |_| ())
            .expect("ok");
        let all = t.drain_all();
        let firsts: Vec<u64> = all.iter().map(|f| f.first_seen.0).collect();
        assert_eq!(firsts, vec![3, 4, 5]);
        assert!(all
            .iter()
            .all(|f| f.end_reason == Some(EndReason::EndOfCapture)));
        assert!(
            all[1].stream(Direction::ToServer).has_gap(),
            "pending data at close"
        );
        assert!(t.is_empty());
    }

    #[test]
    fn remove_takes_one_flow() {
        let mut t: Table<()> = Table::new(limits());
        let key = t.packet(&udp(0, 1000, 53), |_| ()).expect("ok").flow.key;
        let f = t.remove(&key).expect("present");
        assert_eq!(f.end_reason, Some(EndReason::Removed));
        assert!(t.remove(&key).is_none());
        assert_eq!(t.counters().flows_removed, 1);
    }
}
