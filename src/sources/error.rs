//! [`Error`]: why a source yielded no text at all. A download that fails
//! while a last good copy exists is not an error; it is
//! [`super::Origin::LastGood`].

use std::io;
use std::path::PathBuf;

/// Why [`super::Fetcher`] could not be built or could give no text for a
/// source. Each message names the source and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The folder for last good copies could not be created.
    #[error(
        "cannot create the folder for last good list copies {}: {source}; check that the state directory exists and that ralo's user may write to it",
        path.display()
    )]
    StateDir {
        /// The folder.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A limit is out of range.
    #[error("invalid source fetch limit: {0}")]
    Limits(String),
    /// The HTTP client could not be built.
    #[error("cannot set up the HTTPS client: {reason}; check the system's TLS root certificates")]
    Client {
        /// What reqwest said, with its causes.
        reason: String,
    },
    /// The extra root certificate given to [`super::Fetcher::with_extra_root`]
    /// is not usable.
    #[error(
        "the extra root certificate is not usable: {reason}; pass one or more PEM certificates"
    )]
    ExtraRoot {
        /// What is wrong with it.
        reason: String,
    },
    /// The URL does not parse.
    #[error(
        "source `{name}`: `{url}` is not a valid URL ({reason}); write it as https://host/path"
    )]
    BadUrl {
        /// The source's name.
        name: String,
        /// The URL as configured.
        url: String,
        /// What the parser said.
        reason: String,
    },
    /// The URL's scheme is neither `https` nor `http`.
    #[error(
        "source `{name}`: `{url}` uses the unsupported scheme `{scheme}`; use an https:// URL, or a local path for a file"
    )]
    UnsupportedScheme {
        /// The source's name.
        name: String,
        /// The URL as configured.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// An `http://` URL on a source without `allow_http`.
    #[error(
        "source `{name}`: `{url}` is plain http://, which anyone on the way can alter; use its https:// address, or set `allow_http = true` on this source if the server offers nothing else"
    )]
    HttpNotAllowed {
        /// The source's name.
        name: String,
        /// The URL as configured.
        url: String,
    },
    /// A local list could not be read.
    #[error(
        "source `{name}`: cannot read the local list {}: {source}; check the path in the config and that ralo's user may read the file",
        path.display()
    )]
    LocalRead {
        /// The source's name.
        name: String,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A local list is larger than `Limits::max_bytes`.
    #[error(
        "source `{name}`: the local list {} is {size} bytes, more than the {limit}-byte limit; split it into several sources",
        path.display()
    )]
    LocalTooLarge {
        /// The source's name.
        name: String,
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A local list path names a device, a pipe or a folder.
    #[error(
        "source `{name}`: {} is not a regular file (a device, a pipe or a folder); give the path of a list file",
        path.display()
    )]
    LocalNotAFile {
        /// The source's name.
        name: String,
        /// The path.
        path: PathBuf,
    },
    /// A URL source failed and there is no last good copy to fall back on.
    #[error(
        "source `{name}`: fetching {url} failed ({reason}) and there is no last good copy yet; check the URL in a browser and the network, then run `ralo update` again"
    )]
    NoLastGood {
        /// The source's name.
        name: String,
        /// The URL.
        url: String,
        /// Why the fetch failed or was refused.
        reason: String,
    },
}
