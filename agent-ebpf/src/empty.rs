//! A program that does nothing: the floor the benchmark compares the real ones to, and
//! the "next program" the coexistence tests attach after the real ones.

use aya_ebpf::{bindings::TC_ACT_UNSPEC, macros::classifier, programs::TcContext};

#[classifier]
pub fn plainsight_empty(_ctx: TcContext) -> i32 {
    TC_ACT_UNSPEC
}
