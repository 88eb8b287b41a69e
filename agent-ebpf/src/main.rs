//! Plainsight TC programs: per-direction flow accounting and handshake capture.
//!
//! Every program returns `TC_ACT_UNSPEC` (-1), which is `TCX_NEXT` under tcx: a monitor
//! must never drop, redirect or end classification, so it always hands the packet on to
//! whatever comes next (the next tcx program, the next clsact filter, or the stack).
//! `tcx_run` stops at the first program that returns anything else, so `TC_ACT_PIPE`
//! or `TC_ACT_OK` would hide every packet from the tcx programs attached after ours
//! (Cilium's, for one). Under clsact, cls_bpf in direct-action mode passes `OK`, `SHOT`,
//! `STOLEN`, `TRAP`, `REDIRECT` and `UNSPEC` through and maps anything else to
//! `UNSPEC`, so only `UNSPEC` means "next filter" there as well. Failures are counted
//! in the per-CPU `COUNTERS` map, never logged, because logging on the packet path
//! costs more than the work itself.
#![no_std]
#![no_main]

mod capture;
mod egress;
mod empty;
mod ingress;
mod maps;
mod parse;

/// The object's licence, read by the kernel at load time: GPL-compatible, so the
/// programs may call GPL-only helpers, and as aya's template declares it.
#[no_mangle]
#[link_section = "license"]
pub static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}
