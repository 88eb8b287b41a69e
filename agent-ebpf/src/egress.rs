//! TC egress hook: packets leaving an interface.

use agent_common::hook;
use aya_ebpf::{bindings::TC_ACT_UNSPEC, macros::classifier, programs::TcContext};

use crate::{capture, maps};

#[classifier]
pub fn plainsight_egress(ctx: TcContext) -> i32 {
    if let Err(counter) = try_plainsight_egress(&ctx) {
        maps::count(counter);
    }
    TC_ACT_UNSPEC
}

/// Errors are counter indices: the only thing the packet path may do with a failure.
#[inline(always)]
fn try_plainsight_egress(ctx: &TcContext) -> Result<(), u32> {
    capture::handle(ctx, hook::EGRESS)
}
