//! cargo-fuzz target: `ralo::fuzzing::upstream_answer` (its doc says what it checks).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ralo::fuzzing::upstream_answer(data));
