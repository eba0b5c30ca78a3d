//! The bodies of the fuzz targets in `fuzz/`: each takes arbitrary bytes,
//! drives one of ralo's input boundaries and panics when an oracle is broken.
//! The cargo-fuzz crate only calls them; the integration tests replay the
//! committed corpus through them, so CI needs no fuzzer to run it.

mod client_query;
mod config_text;
mod image_bytes;
mod image_model;
mod list_text;
mod targets;
mod upstream_answer;

pub use client_query::client_query;
pub use config_text::config_text;
pub use image_bytes::image_bytes;
pub use image_model::image_model;
pub use list_text::list_text;
pub use targets::{TARGETS, Target};
pub use upstream_answer::{ID as UPSTREAM_ID, QUESTIONS as UPSTREAM_QUESTIONS, upstream_answer};
