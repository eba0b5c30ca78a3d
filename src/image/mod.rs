//! The compiled rule image: one immutable, pointer-free, little-endian byte
//! buffer that the updater builds (`builder`, `write`) and the server maps and queries in
//! place (`view`, `lookup`); `format` holds the layout, the name hash and the errors;
//! `regex` compiles the regex rules into the DFA the image carries and runs it;
//! `guarded` turns `$denyallow` rules into entries; `answers` reads the
//! custom answers (`$dnsrewrite`) it carries; `scope` reads the clients of
//! `$client` lists.

#[cfg(test)]
mod answer_model_tests;
mod answers;
mod builder;
mod format;
mod guarded;
mod lookup;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod precedence_tests;
mod regex;
#[cfg(test)]
mod regex_model_tests;
mod scope;
mod view;
mod walk;
mod write;

pub use answers::{RewriteVerdict, Rewritten};
pub use builder::{
    GroupId, ImageBuilder, ListId, MAX_ANSWERS, MAX_ANSWERS_PER_NAME, RefusedRegex, Settled,
};
pub use format::{
    Error, FORMAT_VERSION, HEADER_LEN, MAGIC, MAX_GROUPS, MAX_GUARDS, MAX_LIST_NAME, MAX_LISTS,
    MAX_REGEXES, MAX_SETS, name_hash,
};
pub use regex::{MAX_PATTERN_DFA, MAX_SET_DFA, RegexError};
pub use view::{ClientRecord, Image, ImageBytes, Lookup, Match, RegexRule, Verdict};

/// The documented checksum (xxh3-64 of bytes 24..), for fuzzing a corrupt
/// image past its checksum.
pub(crate) use format::checksum;
