//! The compiled rule image: one immutable, pointer-free, little-endian byte
//! buffer that the updater builds (`builder`) and the server maps and queries in
//! place (`view`); `format` holds the layout, the name hash and the errors.

mod builder;
mod format;
#[cfg(test)]
mod model_tests;
mod view;

pub use builder::{GroupId, ImageBuilder, ListId, Settled};
pub use format::{
    Error, FORMAT_VERSION, HEADER_LEN, MAGIC, MAX_GROUPS, MAX_LIST_NAME, MAX_LISTS, MAX_SETS,
    name_hash,
};
pub use view::{ClientRecord, Image, Lookup, Match, Verdict};

/// The documented checksum (xxh3-64 of bytes 24..), for fuzzing a corrupt
/// image past its checksum.
pub(crate) use format::checksum;
