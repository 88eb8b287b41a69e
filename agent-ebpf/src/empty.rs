//! A program that does nothing: the floor the benchmark compares the real ones to.

use aya_ebpf::{bindings::TC_ACT_PIPE, macros::classifier, programs::TcContext};

#[classifier]
pub fn plainsight_empty(_ctx: TcContext) -> i32 {
    TC_ACT_PIPE as i32
}
