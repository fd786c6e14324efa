//! libFuzzer entry point for `rotor_fuzz::targets::expression`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rotor_fuzz::targets::expression(data));
