//! Every map and global the programs share with userspace.
//!
//! Sizes here are defaults: the loader may override `max_entries` (tests shrink them to
//! force the full-map and full-ring paths).

use agent_common::{counter, CaptureConfig, FlowKey, FlowStats};
use aya_ebpf::{
    macros::map,
    maps::{HashMap, LruHashMap, PerCpuArray, RingBuf},
};

/// Load-time capture limits. Userspace overwrites it with `EbpfLoader::set_global`;
/// the programs read it with `read_volatile` so the compiler cannot fold the default in.
#[no_mangle]
static CONFIG: CaptureConfig = CaptureConfig::DEFAULT;

/// Per-direction flow statistics and capture state. LRU, so that on a busy node the
/// stalest flows make room instead of new flows going unseen.
#[map]
pub static FLOWS: LruHashMap<FlowKey, FlowStats> = LruHashMap::with_max_entries(65_536, 0);

/// Directions userspace has classified: capture stops at the next packet.
#[map]
pub static DONE: HashMap<FlowKey, u8> = HashMap::with_max_entries(16_384, 0);

/// Captured segments and FIN/RST events for userspace.
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(1 << 20, 0);

/// Drop and failure counters, indexed by `agent_common::counter`.
#[map]
pub static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);

/// The configuration as loaded.
#[inline(always)]
pub fn config() -> CaptureConfig {
    // SAFETY: CONFIG is a plain static of a Copy type; the volatile read keeps the
    // value the loader patched in from being replaced by the compile-time default.
    unsafe { core::ptr::read_volatile(&CONFIG) }
}

/// Adds one to a per-CPU counter. Per-CPU slots need no atomics.
#[inline(always)]
pub fn count(index: u32) {
    if let Some(slot) = COUNTERS.get_ptr_mut(index) {
        // SAFETY: the pointer comes from a successful lookup in a per-CPU array, so it
        // is valid and only this CPU writes to it while the program runs.
        unsafe { *slot += 1 };
    }
}
