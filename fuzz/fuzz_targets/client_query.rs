//! cargo-fuzz target: `ralo::fuzzing::client_query` (its doc says what it checks).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ralo::fuzzing::client_query(data));
