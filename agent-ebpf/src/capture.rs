//! The per-packet work both hooks share: flow accounting, then handshake capture.
//!
//! The common case, an established flow whose capture has stopped, costs the header
//! parse, one LRU lookup, a coarse clock read and a few stores. Only payload of
//! directions still capturing looks at the `DONE` map or touches the ring buffer; a
//! new flow without payload (a SYN) is one insert.

use core::{ffi::c_void, hint::black_box, mem::size_of};

use agent_common::{
    capture_state, config_flag, counter, event_kind, proto, tcp_flag, EventHeader, FlowKey,
    FlowStats, MAX_EVENT_PAYLOAD,
};
use aya_ebpf::{
    bindings::{BPF_NOEXIST, BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::{bpf_ktime_get_coarse_ns, bpf_ktime_get_ns, bpf_skb_load_bytes},
    programs::TcContext,
};

use crate::{
    maps::{self, count, DONE, EVENTS, FLOWS},
    parse::{self, Parsed},
};

const HDR: usize = size_of::<EventHeader>();
/// Reservation size classes: small segments must not take a 4 KiB slot each, or a
/// burst of ACK-sized payloads would fill the ring. Powers of two so the copy length
/// can be clamped with a mask.
const SMALL: usize = 256;
const MEDIUM: usize = 2048;
const _: () = assert!(MAX_EVENT_PAYLOAD.is_power_of_two() && MEDIUM < MAX_EVENT_PAYLOAD);

#[inline(always)]
pub fn handle(ctx: &TcContext, hook: u8) -> Result<(), u32> {
    count(counter::PACKETS);
    let mut slot = core::mem::MaybeUninit::uninit();
    let p = parse::parse(ctx, &mut slot)?;
    let cfg = maps::config();
    let wire_len = ctx.len();
    // SAFETY: ctx.skb points to the program's __sk_buff context.
    let ifindex = unsafe { (*ctx.skb.skb).ifindex };
    let wants_payload = p.payload_len > 0
        && (p.key.protocol == proto::TCP || cfg.flags & config_flag::CAPTURE_UDP != 0);

    // A SYN most often opens a direction: insert first, so that a new connection costs
    // one map operation. A SYN on a known direction (retransmitted, or a reused tuple)
    // fails the insert and takes the lookup below.
    let syn = p.tcp_flags & tcp_flag::SYN != 0;
    let created = syn && insert_fresh(&p.key, wire_len, p.tcp_flags, ifindex);
    if created && !wants_payload {
        return end_event(ctx, p, hook, p.tcp_flags);
    }
    let stats = match FLOWS.get_ptr_mut(&p.key) {
        // SAFETY: a live pointer into the map value; concurrent writers on other CPUs
        // can lose an increment, an accepted inaccuracy for a monitor.
        Some(s) if created => unsafe { &mut *s },
        Some(s) => {
            // SAFETY: as above.
            let st = unsafe { &mut *s };
            if syn && reused(st) {
                // A SYN (or SYN-ACK) on a direction that already carried a connection:
                // the 4-tuple was reused by a new one (RFC 9293 §3.3.2, TIME-WAIT reuse),
                // captured afresh.
                restart(&p.key, st, wire_len, p.tcp_flags, precise_now(), ifindex);
            } else if st.ifindex != ifindex {
                // The same packet on its next hop through this node (pod veth, then
                // uplink): the key has no interface in it, so counting it here would
                // count it twice and capture its payload twice.
                count(counter::OTHER_HOP);
                return Ok(());
            } else {
                st.packets += 1;
                st.bytes += u64::from(wire_len);
                // The coarse clock can read up to a tick behind the precise one that
                // stamped the flow's start: never move `last_seen_ns` backwards.
                let now = packet_now(&cfg);
                if now > st.last_seen_ns {
                    st.last_seen_ns = now;
                }
                st.tcp_flags |= p.tcp_flags;
            }
            st
        }
        None if created => return Err(counter::FLOW_UPDATE_FAILED),
        None => {
            // Not a SYN: a UDP flow, or a TCP flow first seen mid-stream.
            insert_fresh(&p.key, wire_len, p.tcp_flags, ifindex);
            if !wants_payload {
                // Nothing to capture, so no second lookup for the value just inserted.
                return end_event(ctx, p, hook, p.tcp_flags);
            }
            match FLOWS.get_ptr_mut(&p.key) {
                // SAFETY: pointer from a successful lookup; see above on concurrent writers.
                Some(s) => unsafe { &mut *s },
                None => return Err(counter::FLOW_UPDATE_FAILED),
            }
        }
    };

    let opened = stats.first_flags;
    // Bare ACKs, SYNs and FINs of a direction still capturing have nothing to copy, so
    // they skip the `DONE` lookup too: the mark is noticed at the next payload.
    if stats.capture_state != capture_state::ACTIVE || !wants_payload {
        return end_event(ctx, p, hook, opened);
    }
    if DONE.get_ptr(&p.key).is_some() {
        stats.capture_state = capture_state::DONE;
        count(counter::CAPTURE_DONE);
        return end_event(ctx, p, hook, opened);
    }

    let left = cfg.byte_budget.saturating_sub(stats.captured_bytes);
    if left == 0 || u32::from(stats.captured_segments) >= cfg.segment_budget {
        // Only reachable with a budget of zero: a spent budget is noticed below.
        stats.capture_state = capture_state::BUDGET_SPENT;
        count(counter::CAPTURE_BUDGET_SPENT);
        return end_event(ctx, p, hook, opened);
    }
    let mut copy = p.payload_len;
    if copy > left {
        copy = left;
    }
    if copy > MAX_EVENT_PAYLOAD as u32 {
        copy = MAX_EVENT_PAYLOAD as u32;
    }
    let hdr = header(
        ctx,
        p,
        hook,
        precise_now(),
        event_kind::SEGMENT,
        copy,
        opened,
    );
    let res = if copy <= SMALL as u32 {
        emit::<{ HDR + SMALL }, SMALL>(ctx, &hdr, p.payload_off, copy)
    } else if copy <= MEDIUM as u32 {
        emit::<{ HDR + MEDIUM }, MEDIUM>(ctx, &hdr, p.payload_off, copy)
    } else {
        emit::<{ HDR + MAX_EVENT_PAYLOAD }, MAX_EVENT_PAYLOAD>(ctx, &hdr, p.payload_off, copy)
    };
    // A lost event does not use up budget: the next segment gets its chance.
    res?;
    count(counter::SEGMENTS_CAPTURED);
    if copy < p.payload_len {
        count(counter::COPY_TRUNCATED);
    }
    stats.captured_bytes += copy;
    stats.captured_segments += 1;
    if stats.captured_bytes >= cfg.byte_budget
        || u32::from(stats.captured_segments) >= cfg.segment_budget
    {
        stats.capture_state = capture_state::BUDGET_SPENT;
        count(counter::CAPTURE_BUDGET_SPENT);
    }
    Ok(())
}

/// Inserts a direction's first packet unless another CPU (or an earlier packet) has
/// inserted it: true when this call created it. The start is stamped with the precise
/// clock: userspace compares a flow's start with its own last event to tell a reused
/// tuple from the connection it already classified.
#[inline(always)]
fn insert_fresh(key: &FlowKey, wire_len: u32, flags: u8, ifindex: u32) -> bool {
    let fresh = fresh(wire_len, flags, precise_now(), ifindex);
    let created = FLOWS.insert(key, &fresh, u64::from(BPF_NOEXIST)).is_ok();
    if created {
        count(counter::FLOW_CREATED);
    }
    created
}

/// The clock of event records and flow starts: monotonic, to the nanosecond.
#[inline(always)]
fn precise_now() -> u64 {
    // SAFETY: a helper with no arguments.
    unsafe { bpf_ktime_get_ns() }
}

/// The clock of an established packet's `last_seen_ns`: the coarse monotonic clock
/// (same epoch, a tick's resolution) where userspace found the helper.
#[inline(always)]
fn packet_now(cfg: &agent_common::CaptureConfig) -> u64 {
    if cfg.flags & config_flag::COARSE_CLOCK != 0 {
        // SAFETY: a helper with no arguments; only reached when the loader probed it.
        unsafe { bpf_ktime_get_coarse_ns() }
    } else {
        precise_now()
    }
}

/// Whether this direction already carried a connection, so that a SYN on it starts a
/// new one rather than retransmitting the handshake. A FIN or RST is not enough: when
/// one side resets, the other direction ends without either (a client's RST after the
/// server's last data), and its capture, stopped by the `DONE` mark, must still restart
/// for the next connection's ServerHello. Payload captured or capture stopped both mean
/// the handshake was over. Only read for packets that carry SYN.
#[inline(always)]
fn reused(st: &FlowStats) -> bool {
    st.tcp_flags & (tcp_flag::FIN | tcp_flag::RST) != 0
        || st.captured_segments != 0
        || st.capture_state != capture_state::ACTIVE
}

/// Starts a reused flow direction over: fresh counters and budget, no `DONE` mark.
#[inline(always)]
fn restart(key: &FlowKey, st: &mut FlowStats, wire_len: u32, flags: u8, now: u64, ifindex: u32) {
    *st = fresh(wire_len, flags, now, ifindex);
    let _ = DONE.remove(key);
    count(counter::FLOW_REUSED);
}

/// The stats of a flow direction's first packet.
#[inline(always)]
fn fresh(wire_len: u32, flags: u8, now: u64, ifindex: u32) -> FlowStats {
    FlowStats {
        packets: 1,
        bytes: u64::from(wire_len),
        first_seen_ns: now,
        last_seen_ns: now,
        captured_bytes: 0,
        captured_segments: 0,
        tcp_flags: flags,
        capture_state: capture_state::ACTIVE,
        first_flags: flags,
        _pad8: 0,
        _pad16: 0,
        ifindex,
    }
}

#[inline(always)]
fn header(
    ctx: &TcContext,
    p: &Parsed,
    hook: u8,
    now: u64,
    kind: u8,
    copied: u32,
    first_flags: u8,
) -> EventHeader {
    EventHeader {
        ts_ns: now,
        key: p.key,
        seq: p.seq,
        ack: p.ack,
        // SAFETY: ctx.skb points to the program's __sk_buff context.
        ifindex: unsafe { (*ctx.skb.skb).ifindex },
        wire_len: ctx.len(),
        payload_len: p.payload_len,
        copied_len: copied,
        kind,
        direction: hook,
        tcp_flags: p.tcp_flags,
        first_flags,
        _pad: [0; 4],
    }
}

/// Reports a TCP FIN or RST that no segment event carried, so userspace learns the end
/// of every flow, captured or not.
#[inline(always)]
fn end_event(ctx: &TcContext, p: &Parsed, hook: u8, first_flags: u8) -> Result<(), u32> {
    let kind = if p.tcp_flags & tcp_flag::RST != 0 {
        event_kind::RST
    } else if p.tcp_flags & tcp_flag::FIN != 0 {
        event_kind::FIN
    } else {
        return Ok(());
    };
    if p.key.protocol != proto::TCP {
        return Ok(());
    }
    let hdr = header(ctx, p, hook, precise_now(), kind, 0, first_flags);
    match EVENTS.reserve::<EventHeader>(0) {
        Some(mut entry) => {
            entry.write(hdr);
            entry.submit(submit_flags());
            count(counter::END_EVENTS);
            Ok(())
        }
        None => Err(counter::RINGBUF_FULL),
    }
}

/// Reserves `TOTAL = HDR + CAP` bytes, writes the header and copies `len` (1..=CAP)
/// payload bytes straight from the skb into the reservation, with no stack buffer.
///
/// Not inlined: each size class must keep its own mask next to its own reservation.
/// Inlined, LLVM proved the masks redundant (it knows `len ≤ 4096`), merged the three
/// classes and handed the verifier a 4095-byte bound against a 2128-byte reservation.
#[inline(never)]
fn emit<const TOTAL: usize, const CAP: usize>(
    ctx: &TcContext,
    hdr: &EventHeader,
    off: u32,
    len: u32,
) -> Result<(), u32> {
    let Some(mut entry) = EVENTS.reserve_bytes(TOTAL, 0) else {
        return Err(counter::RINGBUF_FULL);
    };
    let base = entry.as_mut_ptr();
    // SAFETY: the reservation is TOTAL ≥ HDR bytes long; the write is unaligned-safe.
    unsafe { core::ptr::write_unaligned(base.cast::<EventHeader>(), *hdr) };
    // The verifier must see 1 ≤ n ≤ CAP; black_box hides what LLVM knows about `len`
    // so it cannot drop the mask as redundant.
    let n = (black_box(len).wrapping_sub(1) & (CAP as u32 - 1)) + 1;
    // SAFETY: base + HDR .. base + HDR + CAP lies inside the reservation and n ≤ CAP.
    let ret = unsafe {
        bpf_skb_load_bytes(
            ctx.skb.skb.cast::<c_void>(),
            off,
            base.add(HDR).cast::<c_void>(),
            n,
        )
    };
    if ret != 0 {
        entry.discard(BPF_RB_NO_WAKEUP.into());
        return Err(counter::LOAD_BYTES_FAILED);
    }
    entry.submit(submit_flags());
    Ok(())
}

/// Wake the reader only once `wakeup_bytes` are waiting (see [`agent_common::CaptureConfig`]):
/// the unread count includes this record, so it is never below the record's size.
#[inline(always)]
fn submit_flags() -> u64 {
    let threshold = u64::from(maps::config().wakeup_bytes);
    if threshold == 0 {
        0
    } else if EVENTS.query(BPF_RB_AVAIL_DATA.into()) >= threshold {
        BPF_RB_FORCE_WAKEUP.into()
    } else {
        BPF_RB_NO_WAKEUP.into()
    }
}
