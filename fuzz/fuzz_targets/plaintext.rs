//! `plainsight::fuzzing::plaintext`: see its doc for the input format.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| plainsight::fuzzing::plaintext(data));
