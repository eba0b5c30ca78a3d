//! `control::Error`: everything that can go wrong on this side of the
//! control socket — binding it in the server, reaching the server from a
//! client — each message saying how to fix it. What a peer did wrong travels
//! back to it as the reason of a `REFUSED` reply (`protocol::FrameError`).

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// An error of the control socket.
#[derive(Debug, thiserror::Error)]
pub enum Error {
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

    /// A stale socket file could not be removed.
    #[error("could not {action} {path} ({source}): check the permissions of its directory")]
    File {
        /// What was being done, e.g. `"remove the stale socket"`.
        action: &'static str,
        /// The path involved.
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
