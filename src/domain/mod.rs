//! Domain names: the normalized text that lists, the image and the tools
//! agree on ([`text`]), and names as they travel in DNS messages ([`wire`]).

mod text;
pub mod wire;

pub use text::{Domain, DomainError, normalize_into};
