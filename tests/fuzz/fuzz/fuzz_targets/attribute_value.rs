//! libFuzzer entry point for `rotor_fuzz::targets::attribute_value`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rotor_fuzz::targets::attribute_value(data));
