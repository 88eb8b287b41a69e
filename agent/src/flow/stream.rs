//! Capped per-direction TCP stream reassembly.
//!
//! Plainsight only needs the *first* bytes of each direction (a ClientHello, a protocol
//! banner, a login), so a [`Stream`] keeps the contiguous prefix of one direction up to a cap
//! and nothing after it. Memory per flow is therefore bounded by the cap plus a bounded
//! out-of-order buffer.
//!
//! Behaviour, and why:
//! - **Initial sequence number.** From the SYN (ISN + 1, RFC 9293 §3.4) when seen; otherwise
//!   the first data segment seen starts the stream (midstream pickup, e.g. the capture started
//!   late). Bytes that then arrive *before* that start cannot be placed and count as
//!   retransmitted.
//! - **Sequence arithmetic** is modulo 2^32 (RFC 9293 §3.4): offsets are `seq - base` with
//!   wrapping subtraction, read as signed, so an ISN near `u32::MAX` works.
//! - **Out of order.** A segment beyond the contiguous end is buffered (bounded in bytes and in
//!   segment count) and merged when the hole fills. What does not fit is dropped and counted,
//!   and the stream is marked as having a gap.
//! - **Retransmissions** of bytes already held are ignored (counted).
//! - **Overlaps: first wins.** When a segment re-sends bytes we already accepted (in the
//!   contiguous prefix or in the out-of-order buffer) with *different* content, the bytes
//!   accepted first are kept and the difference is counted in `overlap_bytes`. This is the
//!   "first" policy in Suricata's terms (BSD/Linux-like targets); one policy, applied
//!   everywhere, so a crafted overlap cannot make us see something other than the first copy.
//! - **Gap.** [`Stream::close`] with out-of-order data still pending (the hole never filled)
//!   marks the stream as having a gap, as does dropping out-of-order bytes for lack of room.
//! - **Stop.** In live mode the engine stops both streams (through the table's
//!   `stop_streams`, which keeps its byte count right) once the flow needs no more payload:
//!   buffers are freed and later segments only count towards `bytes_after_stop`.
//! - Once the contiguous prefix reaches the cap, no further sequence analysis is done: later
//!   payload only counts as `beyond_cap_bytes`. That keeps long flows cheap and avoids
//!   misreading sequence numbers 2 GiB later.

use std::collections::BTreeMap;

/// Default limit on buffered out-of-order segments: tiny segments must not make the map huge.
pub const DEFAULT_MAX_PENDING_SEGMENTS: usize = 64;

/// How many differing SYN ISNs are remembered before the first data segment.
const MAX_ALT_BASES: usize = 3;

/// Drop and anomaly counters of one stream direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamCounters {
    /// Payload bytes not kept because they lie beyond the cap (or arrived after it was full).
    pub beyond_cap_bytes: u64,
    /// Bytes re-sent with the same content as bytes already held.
    pub retransmitted_bytes: u64,
    /// Bytes re-sent with content different from what was accepted first (first copy kept).
    pub overlap_bytes: u64,
    /// Out-of-order segments buffered for a later merge.
    pub ooo_segments: u64,
    /// Out-of-order bytes dropped because the pending buffer was full.
    pub ooo_dropped_bytes: u64,
    /// Out-of-order pieces dropped because the pending buffer was full.
    pub ooo_dropped_segments: u64,
    /// Payload bytes seen after [`Stream::stop`].
    pub bytes_after_stop: u64,
}

/// One direction of a TCP connection, reassembled up to a cap. `Debug` shows how many
/// bytes are held, never the bytes (see [`crate::redact`]).
#[derive(Clone)]
pub struct Stream {
    cap: usize,
    pending_cap: usize,
    max_pending_segments: usize,
    /// Sequence number of the first byte of `data`.
    base: Option<u32>,
    /// Other stream starts announced by SYNs with a different ISN before any data arrived
    /// (a port reused by a new connection, or a peer that answers a retransmitted SYN with a
    /// fresh ISN): the first data segment picks the start it fits (see [`Stream::push`]).
    alt_bases: [Option<u32>; MAX_ALT_BASES],
    /// The contiguous prefix, at most `cap` bytes.
    data: Vec<u8>,
    /// Out-of-order pieces by offset from `base`; non-overlapping, all beyond `data.len()`
    /// and below `cap`.
    pending: BTreeMap<usize, Vec<u8>>,
    pending_bytes: usize,
    gap: bool,
    stopped: bool,
    counters: StreamCounters,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("cap", &self.cap)
            .field("pending_cap", &self.pending_cap)
            .field("max_pending_segments", &self.max_pending_segments)
            .field("base", &self.base)
            .field("alt_bases", &self.alt_bases)
            .field("data", &crate::redact::Len(&self.data))
            .field("pending_segments", &self.pending.len())
            .field("pending_bytes", &self.pending_bytes)
            .field("gap", &self.gap)
            .field("stopped", &self.stopped)
            .field("counters", &self.counters)
            .finish()
    }
}

impl Stream {
    /// A stream keeping the first `cap_bytes` bytes; the out-of-order buffer may hold up to
    /// `cap_bytes` too (it can never usefully hold more: pieces lie below the cap).
    pub fn new(cap_bytes: usize) -> Self {
        Self::with_limits(cap_bytes, cap_bytes, DEFAULT_MAX_PENDING_SEGMENTS)
    }

    /// A stream with explicit out-of-order limits (bytes and segments).
    pub fn with_limits(cap_bytes: usize, pending_cap: usize, max_pending_segments: usize) -> Self {
        Stream {
            cap: cap_bytes,
            pending_cap,
            max_pending_segments,
            base: None,
            alt_bases: [None; MAX_ALT_BASES],
            data: Vec::new(),
            pending: BTreeMap::new(),
            pending_bytes: 0,
            gap: false,
            stopped: false,
            counters: StreamCounters::default(),
        }
    }

    /// The contiguous prefix reassembled so far.
    pub fn contiguous(&self) -> &[u8] {
        &self.data
    }

    /// Whether bytes are known to be missing (see the module doc).
    pub fn has_gap(&self) -> bool {
        self.gap
    }

    /// Whether the contiguous prefix has reached the cap.
    pub fn is_full(&self) -> bool {
        self.data.len() >= self.cap
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    pub fn counters(&self) -> StreamCounters {
        self.counters
    }

    /// Bytes currently buffered out of order.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// Heap bytes held: the prefix's allocation and the out-of-order pieces (each with a
    /// B-tree slot and a `Vec` header), for the flow table's byte cap.
    pub fn heap_bytes(&self) -> usize {
        const PIECE_OVERHEAD: usize = size_of::<usize>() + size_of::<Vec<u8>>();
        self.data.capacity() + self.pending_bytes + self.pending.len() * PIECE_OVERHEAD
    }

    /// The sequence number of the first stream byte, once known.
    pub fn base_seq(&self) -> Option<u32> {
        self.base
    }

    /// The engine has what it needs: free the buffers and ignore further data.
    pub fn stop(&mut self) {
        self.stopped = true;
        self.data = Vec::new();
        self.pending = BTreeMap::new();
        self.pending_bytes = 0;
    }

    /// The direction ended (flow closed, expired or capture over). Pending out-of-order data
    /// means a hole never filled: a gap. The pending buffer is freed; the prefix stays.
    pub fn close(&mut self) {
        if !self.pending.is_empty() {
            self.gap = true;
        }
        self.pending = BTreeMap::new();
        self.pending_bytes = 0;
    }

    /// Add one segment. `syn` is whether the segment carried SYN (its sequence number is then
    /// the ISN and data starts at ISN + 1). Returns true if the contiguous prefix grew.
    pub fn push(&mut self, seq: u32, syn: bool, payload: &[u8]) -> bool {
        if self.stopped {
            self.counters.bytes_after_stop += payload.len() as u64;
            return false;
        }
        if self.is_full() {
            self.counters.beyond_cap_bytes += payload.len() as u64;
            return false;
        }
        let seq = if syn {
            let first = seq.wrapping_add(1);
            // A SYN fixes the start unless data already did (a retransmitted SYN after
            // midstream pickup must not move the stream).
            match self.base {
                None => self.base = Some(first),
                Some(b) if b != first && self.data.is_empty() && self.pending.is_empty() => {
                    let known = self.alt_bases.contains(&Some(first));
                    if let Some(slot) = self.alt_bases.iter_mut().find(|a| a.is_none()) {
                        if !known {
                            *slot = Some(first);
                        }
                    }
                }
                Some(_) => {}
            }
            first
        } else {
            seq
        };
        if payload.is_empty() {
            return false;
        }
        if self.data.is_empty() && self.pending.is_empty() {
            self.pick_base(seq);
        }
        let base = *self.base.get_or_insert(seq);
        // Signed distance from the stream start, modulo 2^32.
        let rel = i64::from(seq.wrapping_sub(base) as i32);
        let mut payload = payload;
        let mut start = rel;
        if start < 0 {
            // Bytes before the stream start: cannot be placed; treat as retransmitted.
            let before = usize::try_from(-start)
                .unwrap_or(usize::MAX)
                .min(payload.len());
            self.counters.retransmitted_bytes += before as u64;
            payload = payload.get(before..).unwrap_or_default();
            start = 0;
            if payload.is_empty() {
                return false;
            }
        }
        let start = usize::try_from(start).unwrap_or(usize::MAX);
        // Keep only what lies below the cap.
        let end = start.saturating_add(payload.len());
        let kept_end = end.min(self.cap);
        if kept_end < end {
            self.counters.beyond_cap_bytes += (end - kept_end.max(start)) as u64;
        }
        if start >= kept_end {
            return false;
        }
        let payload = payload.get(..kept_end - start).unwrap_or_default();
        let have = self.data.len();
        if start > have {
            self.buffer(start, payload, false);
            return false;
        }
        // Overlap with the accepted prefix: first wins.
        let overlap = (have - start).min(payload.len());
        if let (Some(old), Some(new)) = (
            self.data.get(start..start + overlap),
            payload.get(..overlap),
        ) {
            let (retrans, differing) = compare(old, new);
            self.counters.retransmitted_bytes += retrans;
            self.counters.overlap_bytes += differing;
        }
        let fresh = payload.get(overlap..).unwrap_or_default();
        if fresh.is_empty() {
            return false;
        }
        if self.pending.is_empty() {
            // Nothing buffered out of order: the bytes go straight to the prefix, without
            // the copy into a pending piece that the general path makes (one allocation
            // and copy per in-order segment, for the same result).
            self.data.extend_from_slice(fresh);
            return true;
        }
        // New in-order bytes still go through the pending map, so that bytes buffered out of
        // order earlier keep precedence where they overlap (first wins), then merge at once.
        self.buffer(have, fresh, true);
        self.merge_pending();
        self.data.len() > have
    }

    /// Before the first byte is placed: when several SYNs announced different ISNs, keep the
    /// start this data segment lies closest after, within the cap. Seen with TCP Fast Open
    /// retries where the server's SYN-ACKs carry two ISNs and the data follows the second
    /// (suricata-verify tcp-fastopen-10-syn-data-ignore).
    fn pick_base(&mut self, seq: u32) {
        let Some(base) = self.base else {
            return;
        };
        let fits = |b: u32| {
            let rel = i64::from(seq.wrapping_sub(b) as i32);
            (0..self.cap as i64).contains(&rel).then_some(rel)
        };
        if fits(base).is_some() {
            return;
        }
        let best = self
            .alt_bases
            .iter()
            .flatten()
            .filter_map(|b| fits(*b).map(|rel| (rel, *b)))
            .min();
        if let Some((_, b)) = best {
            self.base = Some(b);
            self.alt_bases = [None; MAX_ALT_BASES];
        }
    }

    /// Compare a re-sent range with what was accepted first, and count it.
    fn count_overlap(&mut self, old: &[u8], new: &[u8]) {
        let (retrans, differing) = compare(old, new);
        self.counters.retransmitted_bytes += retrans;
        self.counters.overlap_bytes += differing;
    }

    /// Buffer a piece at `start` (>= contiguous end, piece below the cap), keeping pieces
    /// already buffered where they overlap (first wins). `in_order` pieces are merged right
    /// after, so the out-of-order limits and counters do not apply to them.
    fn buffer(&mut self, start: usize, payload: &[u8], in_order: bool) {
        let end = start + payload.len();
        // Collect the parts of [start, end) not covered by existing pieces.
        let mut fresh: Vec<(usize, &[u8])> = Vec::new();
        let mut cursor = start;
        // A piece starting before `start` may reach into it.
        let first_key = self
            .pending
            .range(..=start)
            .next_back()
            .map(|(k, _)| *k)
            .unwrap_or(start);
        let mut overlaps: Vec<(usize, usize, usize)> = Vec::new();
        for (&k, v) in self.pending.range(first_key..end) {
            let (ps, pe) = (k, k + v.len());
            if pe <= cursor {
                continue;
            }
            if ps > cursor {
                if let Some(part) = payload.get(cursor - start..ps - start) {
                    fresh.push((cursor, part));
                }
            }
            let os = ps.max(cursor);
            let oe = pe.min(end);
            overlaps.push((k, os, oe));
            cursor = oe;
            if cursor >= end {
                break;
            }
        }
        if cursor < end {
            if let Some(part) = payload.get(cursor - start..) {
                fresh.push((cursor, part));
            }
        }
        for (k, os, oe) in overlaps {
            let old = self
                .pending
                .get(&k)
                .and_then(|v| v.get(os - k..oe - k))
                .map(<[u8]>::to_vec)
                .unwrap_or_default();
            if let Some(new) = payload.get(os - start..oe - start) {
                self.count_overlap(&old, new);
            }
        }
        for (at, part) in fresh {
            if part.is_empty() {
                continue;
            }
            if !in_order {
                if self.pending_bytes + part.len() > self.pending_cap
                    || self.pending.len() >= self.max_pending_segments
                {
                    self.counters.ooo_dropped_bytes += part.len() as u64;
                    self.counters.ooo_dropped_segments += 1;
                    self.gap = true;
                    continue;
                }
                self.counters.ooo_segments += 1;
            }
            self.pending_bytes += part.len();
            self.pending.insert(at, part.to_vec());
        }
    }

    /// Move buffered pieces that now touch the contiguous end into it.
    fn merge_pending(&mut self) {
        while let Some(entry) = self.pending.first_entry() {
            let at = *entry.key();
            let have = self.data.len();
            if at > have {
                break;
            }
            let piece = entry.remove();
            self.pending_bytes -= piece.len();
            let skip = have - at;
            if let (Some(old), Some(new)) =
                (self.data.get(at..), piece.get(..skip.min(piece.len())))
            {
                let old = old.to_vec();
                self.count_overlap(&old, new);
            }
            if let Some(rest) = piece.get(skip..) {
                self.data.extend_from_slice(rest);
            }
        }
    }
}

/// `(same, differing)` byte counts of a re-sent range against the bytes accepted first.
fn compare(old: &[u8], new: &[u8]) -> (u64, u64) {
    let differing = old.iter().zip(new).filter(|(a, b)| a != b).count();
    let same = old.len().min(new.len()) - differing;
    (same as u64, differing as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_from_syn() {
        let mut s = Stream::new(100);
        assert!(!s.push(1000, true, b""));
        assert_eq!(s.base_seq(), Some(1001));
        assert!(s.push(1001, false, b"hello "));
        assert!(s.push(1007, false, b"world"));
        assert_eq!(s.contiguous(), b"hello world");
        assert!(!s.has_gap());
    }

    #[test]
    fn midstream_pickup_starts_at_first_data() {
        let mut s = Stream::new(100);
        assert!(s.push(5000, false, b"abc"));
        assert!(s.push(5003, false, b"def"));
        assert_eq!(s.contiguous(), b"abcdef");
        // Bytes from before the pickup point cannot be placed.
        assert!(!s.push(4998, false, b"xy"));
        assert_eq!(s.counters().retransmitted_bytes, 2);
    }

    #[test]
    fn out_of_order_buffered_then_merged() {
        let mut s = Stream::new(100);
        s.push(0, true, b"");
        assert!(!s.push(7, false, b"world"));
        assert!(!s.push(12, false, b"!"));
        assert_eq!(s.contiguous(), b"");
        assert_eq!(s.counters().ooo_segments, 2);
        assert_eq!(s.pending_bytes(), 6);
        assert!(s.push(1, false, b"hello "));
        assert_eq!(s.contiguous(), b"hello world!");
        assert_eq!(s.pending_bytes(), 0);
        s.close();
        assert!(!s.has_gap());
    }

    #[test]
    fn retransmission_ignored() {
        let mut s = Stream::new(100);
        s.push(0, true, b"");
        assert!(s.push(1, false, b"abcdef"));
        assert!(!s.push(1, false, b"abcdef"));
        assert!(!s.push(3, false, b"cd"));
        assert_eq!(s.contiguous(), b"abcdef");
        assert_eq!(s.counters().retransmitted_bytes, 8);
        assert_eq!(s.counters().overlap_bytes, 0);
    }

    #[test]
    fn overlap_first_wins_in_prefix() {
        let mut s = Stream::new(100);
        s.push(0, true, b"");
        s.push(1, false, b"GET /a");
        // Re-sends "/a" as "/b" and extends: the first copy stays, new bytes are appended.
        assert!(s.push(5, false, b"/b HTTP"));
        assert_eq!(s.contiguous(), b"GET /a HTTP");
        assert_eq!(s.counters().overlap_bytes, 1);
        assert_eq!(s.counters().retransmitted_bytes, 1);
    }

    #[test]
    fn overlap_first_wins_in_pending() {
        let mut s = Stream::new(100);
        s.push(0, true, b"");
        s.push(5, false, b"EFGH"); // offsets 4..8
                                   // A conflicting copy of 6..10: 6..8 conflict ("XY" vs "GH"), 8..10 are new.
        s.push(7, false, b"XYIJ");
        assert_eq!(s.counters().overlap_bytes, 2);
        assert!(s.push(1, false, b"ABCD"));
        assert_eq!(s.contiguous(), b"ABCDEFGHIJ");
        // In-order data that overlaps bytes buffered earlier: the buffered bytes came first and
        // win; the in-order bytes fill only the hole.
        let mut t = Stream::new(100);
        t.push(0, true, b"");
        t.push(3, false, b"zz"); // offsets 2..4, buffered
        assert!(t.push(1, false, b"abcd"));
        assert_eq!(t.contiguous(), b"abzz");
        assert_eq!(t.counters().overlap_bytes, 2);
    }

    #[test]
    fn sequence_wraparound() {
        let mut s = Stream::new(100);
        let isn = u32::MAX - 2;
        s.push(isn, true, b"");
        assert_eq!(s.base_seq(), Some(u32::MAX - 1));
        assert!(s.push(u32::MAX - 1, false, b"ab"));
        // Next segment's sequence number wrapped past zero; an out-of-order one first.
        assert!(!s.push(2, false, b"ef"));
        assert!(s.push(0, false, b"cd"));
        assert_eq!(s.contiguous(), b"abcdef");
    }

    #[test]
    fn cap_limits_prefix_and_counts_the_rest() {
        let mut s = Stream::new(8);
        s.push(0, true, b"");
        assert!(s.push(1, false, b"0123456"));
        assert!(s.push(8, false, b"789ab"));
        assert_eq!(s.contiguous(), b"01234567");
        assert!(s.is_full());
        assert_eq!(s.counters().beyond_cap_bytes, 4);
        assert!(!s.push(13, false, b"cdef"));
        assert_eq!(s.counters().beyond_cap_bytes, 8);
        // Out-of-order data entirely beyond the cap is never buffered.
        let mut t = Stream::new(8);
        t.push(0, true, b"");
        assert!(!t.push(20, false, b"far"));
        assert_eq!(t.pending_bytes(), 0);
        assert_eq!(t.counters().beyond_cap_bytes, 3);
    }

    #[test]
    fn data_follows_the_syn_whose_isn_it_fits() {
        // Two SYN-ACKs with different ISNs, the old one retransmitted last; the data
        // follows the second (tcp-fastopen-10-syn-data-ignore).
        let mut s = Stream::new(100);
        s.push(1000, true, b"");
        s.push(5_000_000, true, b"");
        s.push(1000, true, b"");
        assert!(s.push(5_000_001, false, b"hello"));
        assert_eq!(s.contiguous(), b"hello");
        assert_eq!(s.base_seq(), Some(5_000_001));
        // Data that fits the first ISN keeps it.
        let mut t = Stream::new(100);
        t.push(1000, true, b"");
        t.push(5_000_000, true, b"");
        assert!(t.push(1001, false, b"x"));
        assert_eq!(t.base_seq(), Some(1001));
        // Once data is placed, a SYN with another ISN changes nothing.
        t.push(9_000_000, true, b"");
        assert!(!t.push(9_000_001, false, b"y"));
        assert_eq!(t.contiguous(), b"x");
    }

    #[test]
    fn gap_when_pending_at_close() {
        let mut s = Stream::new(100);
        s.push(0, true, b"");
        s.push(1, false, b"abc");
        s.push(10, false, b"later");
        assert!(!s.has_gap());
        s.close();
        assert!(s.has_gap());
        assert_eq!(s.contiguous(), b"abc");
        assert_eq!(s.pending_bytes(), 0);
    }

    #[test]
    fn pending_buffer_is_bounded() {
        let mut s = Stream::with_limits(1000, 10, 2);
        s.push(0, true, b"");
        s.push(100, false, b"0123456789AB"); // 12 bytes > 10: dropped
        assert_eq!(s.counters().ooo_dropped_bytes, 12);
        assert!(s.has_gap());
        s.push(200, false, b"a");
        s.push(300, false, b"b");
        s.push(400, false, b"c"); // third piece: over the segment limit
        assert_eq!(s.counters().ooo_segments, 2);
        assert_eq!(s.counters().ooo_dropped_bytes, 13);
    }

    #[test]
    fn stop_frees_and_ignores() {
        let mut s = Stream::new(100);
        s.push(0, true, b"");
        s.push(1, false, b"abc");
        s.push(10, false, b"zz");
        s.stop();
        assert!(s.is_stopped());
        assert_eq!(s.contiguous(), b"");
        assert_eq!(s.pending_bytes(), 0);
        assert!(!s.push(4, false, b"def"));
        assert_eq!(s.counters().bytes_after_stop, 3);
    }

    #[test]
    fn syn_with_data_and_retransmitted_syn() {
        let mut s = Stream::new(100);
        // TCP Fast Open: data on the SYN starts at ISN + 1.
        assert!(s.push(99, true, b"tfo"));
        assert!(s.push(103, false, b"!"));
        assert!(!s.push(99, true, b"tfo"));
        assert_eq!(s.contiguous(), b"tfo!");
    }

    /// Any arrival order of segments with duplicates and overlapping copies of the same bytes
    /// reassembles to the original prefix (no conflicting content here).
    #[test]
    fn shuffled_duplicated_segments_reassemble() {
        let msg: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut rnd = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for round in 0..50 {
            let isn = (round as u32).wrapping_mul(0x9E37_79B9);
            let mut segs = Vec::new();
            let mut at = 0;
            while at < msg.len() {
                let len = 1 + rnd(300);
                let end = (at + len).min(msg.len());
                segs.push((at, end));
                // Sometimes an overlapping re-segmented copy.
                if rnd(4) == 0 {
                    let s2 = at.saturating_sub(rnd(50));
                    segs.push((s2, (end + rnd(50)).min(msg.len())));
                }
                at = end;
            }
            for i in (1..segs.len()).rev() {
                let j = rnd(i + 1);
                segs.swap(i, j);
            }
            let cap = 2048;
            let mut s = Stream::with_limits(cap, cap, 1024);
            s.push(isn, true, b"");
            for (a, b) in &segs {
                let seq = isn.wrapping_add(1).wrapping_add(*a as u32);
                s.push(seq, false, msg.get(*a..*b).expect("range"));
            }
            assert_eq!(
                s.contiguous(),
                msg.get(..cap).expect("cap"),
                "round {round}"
            );
            assert_eq!(s.counters().overlap_bytes, 0);
            s.close();
            assert!(!s.has_gap());
        }
    }
}
