//! TC ingress hook: packets arriving on an interface.

use agent_common::hook;
use aya_ebpf::{bindings::TC_ACT_UNSPEC, macros::classifier, programs::TcContext};

use crate::{capture, maps};

#[classifier]
pub fn plainsight_ingress(ctx: TcContext) -> i32 {
    if let Err(counter) = try_plainsight_ingress(&ctx) {
        maps::count(counter);
    }
    TC_ACT_UNSPEC
}

/// Errors are counter indices: the only thing the packet path may do with a failure.
#[inline(always)]
fn try_plainsight_ingress(ctx: &TcContext) -> Result<(), u32> {
    capture::handle(ctx, hook::INGRESS)
}
