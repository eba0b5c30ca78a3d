//! `exchange::Error`: everything that can go wrong while sealing, mapping,
//! persisting or handing over an image, each message saying how to fix it.
//! Refusals that travel to a peer are plain reasons inside a `REFUSED` frame
//! (see `request::Reply`); this type is for the caller on this side.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// An error of the shared-memory exchange.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The image has no bytes.
    #[error(
        "refusing an empty image: a valid image has at least a header; rebuild it with `ralo update`"
    )]
    EmptyImage,

    /// The image is larger than [`MAX_IMAGE_BYTES`](super::MAX_IMAGE_BYTES).
    #[error(
        "the image is {len} bytes, above the {max}-byte limit: use fewer or smaller blocklists"
    )]
    TooLarge {
        /// Size of the image in bytes.
        len: u64,
        /// The limit in bytes.
        max: u64,
    },

    /// `memfd_create` failed.
    #[error(
        "could not create an in-memory file for the image ({source}): ralo needs Linux 3.17 or newer with memfd_create allowed (check seccomp or container settings)"
    )]
    Memfd {
        /// The OS error.
        source: io::Error,
    },

    /// Filling the memfd with the image bytes failed.
    #[error("could not copy the image into memory ({source}): check free memory and `ulimit -f`")]
    Fill {
        /// The OS error.
        source: io::Error,
    },

    /// Adding the seals failed.
    #[error("could not seal the image memfd ({source}): the kernel must support F_ADD_SEALS")]
    Seal {
        /// The OS error.
        source: io::Error,
    },

    /// The fd does not support seals: a regular file on disk, a pipe, a socket…
    #[error(
        "the image fd is not a sealed memfd (F_GET_SEALS: {source}): only images published by `ralo update` are accepted"
    )]
    NotMemfd {
        /// The OS error from `F_GET_SEALS` or `fstat`.
        source: io::Error,
    },

    /// The memfd lacks one or more of the four required seals, so it could
    /// still change under a reader.
    #[error(
        "the image memfd lacks the seal(s) {missing}, so it could still change: publish it with `ralo update`, which seals write, shrink, grow and seal"
    )]
    MissingSeals {
        /// Names of the missing seals, e.g. `F_SEAL_WRITE | F_SEAL_SEAL`.
        missing: String,
    },

    /// `mmap` of the sealed image failed.
    #[error(
        "could not map the {len}-byte image read-only ({source}): check free address space and `ulimit -v`"
    )]
    Map {
        /// Bytes that were to be mapped.
        len: u64,
        /// The OS error.
        source: io::Error,
    },

    /// A file-system operation on an image file or the socket path failed.
    #[error("could not {action} {path} ({source}): check that the path exists and its permissions")]
    File {
        /// What was being done, e.g. `"open"`, `"rename onto"`.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },

    /// No server listens on the socket.
    #[error(
        "no ralo server is listening on {path}: start `ralo serve`, or check its runtime directory"
    )]
    ServerNotRunning {
        /// The socket path that was tried.
        path: PathBuf,
    },

    /// Another server already listens on the socket.
    #[error(
        "another ralo server is already listening on {path}: stop it first, or give this one another runtime directory"
    )]
    AlreadyRunning {
        /// The socket path.
        path: PathBuf,
    },

    /// Something that is not a socket sits where the socket should be.
    #[error("{path} exists and is not a socket: remove it, or choose another runtime directory")]
    NotASocket {
        /// The path.
        path: PathBuf,
    },

    /// Creating, binding or listening on the socket failed.
    #[error(
        "could not listen on {path} ({source}): the directory must exist, be writable by this user, and the path be under 108 bytes"
    )]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },

    /// Sending to or receiving from the server failed.
    #[error(
        "lost the connection to the ralo server on {path} ({source}): check the `ralo serve` log"
    )]
    Socket {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },

    /// The server did not reply in time.
    #[error(
        "the ralo server on {path} did not reply within {timeout:?}: check the `ralo serve` log; it may be stuck"
    )]
    Timeout {
        /// The socket path.
        path: PathBuf,
        /// How long the client waited.
        timeout: Duration,
    },

    /// The server's reply could not be understood.
    #[error(
        "the ralo server on {path} sent a reply this client cannot read ({reason}): run the same ralo version for serve and update"
    )]
    BadReply {
        /// The socket path.
        path: PathBuf,
        /// What was wrong with the reply.
        reason: String,
    },
}
