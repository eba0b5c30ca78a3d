//! Domain names: the normalized text that lists, the image and the tools
//! agree on ([`Domain`]), names as they travel in DNS messages ([`wire`]),
//! and reverse-lookup names and zones ([`reverse`]).

pub mod reverse;
mod text;
pub mod wire;

pub use text::{Domain, DomainError, is_below, normalize_into};
