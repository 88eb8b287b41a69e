//! Plainsight TC programs: per-direction flow accounting and handshake capture.
//!
//! Every program returns `TC_ACT_PIPE`: a monitor must never drop, redirect or end
//! classification for traffic, so it always hands the packet on to whatever comes next
//! (the next tcx program or clsact filter, or the stack). Failures are counted in the
//! per-CPU `COUNTERS` map, never logged, because logging on the packet path costs
//! more than the work itself.
#![no_std]
#![no_main]

mod capture;
mod egress;
mod empty;
mod ingress;
mod maps;
mod parse;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}
