//! The table of targets by name, as `fuzz/` and the corpus replay know them.

use super::{client_query, config_text, image_bytes, image_model, list_text, upstream_answer};

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
