//! `plainsight::fuzzing::ring_event`: see its doc for the input format.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| plainsight::fuzzing::ring_event(data));
