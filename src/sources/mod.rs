//! List sources: turns each configured `[[lists]]` / `[[allowlists]]` source
//! (a local file or a URL) into list text, keeping a last good copy of every
//! URL source so that a dead or broken source never silently drops its names.
//!
//! - [`fetch`](Fetcher): the entry point, spec in, text and [`Origin`] out.
//! - `text`: [`ListText`], a list's text in a file (read line by line when
//!   compiled) or, rarely, in memory.
//! - `http`: one guarded download (TLS, redirects, size cap, conditional GET).
//! - `guard`: where a download may go: no redirect into the local network.
//! - `local`: reading a local list file, bounded ([`read_list_file`]).
//! - `checks`: refusing empty, binary, HTML and shrunken bodies.
//! - `store`: the last good copies in `state_dir/sources/`, written atomically.
//! - `error`: [`Error`], for a source that yields nothing at all.

mod checks;
mod error;
mod fetch;
mod guard;
mod http;
mod local;
mod store;
mod text;

pub use checks::into_text;
pub use error::Error;
pub use fetch::{Fetched, Fetcher, Limits, Location, Origin, SourceSpec};
pub use local::{LocalError, open_list_file, read_list_file};
pub use store::{stored_file, stored_text};
pub use text::ListText;
