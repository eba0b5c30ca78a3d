//! The bodies of the fuzz targets in `fuzz/`: each takes arbitrary bytes,
//! drives one of ralo's input boundaries and panics when an oracle is broken.
//! The cargo-fuzz crate only calls them; the integration tests replay the
//! committed corpus through them, so CI needs no fuzzer to run it.

mod client_query;
mod config_text;
mod image_bytes;
mod image_model;
mod list_text;
mod upstream_answer;

pub use client_query::client_query;
pub use config_text::config_text;
pub use image_bytes::image_bytes;
pub use image_model::image_model;
pub use list_text::list_text;
pub use upstream_answer::{ID as UPSTREAM_ID, QUESTIONS as UPSTREAM_QUESTIONS, upstream_answer};

/// A target's body: one input in, a panic when an oracle is broken.
pub type Target = fn(&[u8]);

/// Every target by its name in `fuzz/fuzz_targets/`, `fuzz/corpus/` and
/// `fuzz/regressions/`.
pub const TARGETS: [(&str, Target); 6] = [
    ("client_query", client_query),
    ("upstream_answer", upstream_answer),
    ("list_text", list_text),
    ("image_bytes", image_bytes),
    ("image_model", image_model),
    ("config_text", config_text),
];
