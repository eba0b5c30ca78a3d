//! cargo-fuzz target: `ralo::fuzzing::image_bytes` (its doc says what it checks).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ralo::fuzzing::image_bytes(data));
