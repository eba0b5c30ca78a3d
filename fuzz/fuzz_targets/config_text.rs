//! cargo-fuzz target: `ralo::fuzzing::config_text` (its doc says what it checks).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ralo::fuzzing::config_text(data));
