//! The shared-memory exchange: how a compiled image travels from `ralo update`
//! to `ralo serve` without a copy, and why it can never change under a reader.
//!
//! This is the only module of ralo that uses `unsafe` (the `mmap` in
//! [`Mapping`], and in [`SharedWords`] for the telemetry segment); every
//! unsafe block carries a `// SAFETY:` comment.
//!
//! # The handoff
//!
//! 1. The updater puts the image bytes in a sealed memfd
//!    ([`SealedImage::create`]): an anonymous in-memory file that then gets
//!    `F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL`. From that moment
//!    nobody (not even the updater that holds the fd) can write, truncate, grow
//!    or unseal it: the kernel refuses `write`, `pwrite`, `ftruncate`,
//!    `fallocate` and writable shared maps with `EPERM`, and no call removes a
//!    seal.
//! 2. The updater passes the fd over the server's Unix socket ([`publish`]).
//! 3. The server accepts only an fd that carries all four seals
//!    ([`SealedImage::from_fd`]) and maps it read-only ([`SealedImage::map`]).
//!    Because the size can never shrink, every page of the [`Mapping`] stays
//!    backed, so reading it can never raise `SIGBUS`; because of `F_SEAL_WRITE`
//!    the bytes the server checked are the bytes it answers from, for as long
//!    as the mapping lives. The mapping outlives the fd and the updater: it is
//!    unmapped when the last `Mapping` (usually the last in-flight lookup's
//!    `Arc`) is dropped.
//!
//! At boot the server reads the last good image that the updater
//! [`persist()`]ed (write temp, fsync, rename, fsync directory) into a sealed
//! memfd of its own ([`SealedImage::from_file`]), so rewriting the file later
//! changes nothing it serves.
//!
//! # Protocol note, version 1
//!
//! The server ([`Listener`]) listens on a Unix stream socket, normally
//! `<runtime dir>/ralo.sock`, created with mode 0600. It serves one
//! connection at a time (on its own thread; no DNS query waits on it). Each
//! connection carries exactly one request frame from the client and one reply
//! frame from the server, then closes.
//!
//! On accept the server reads the peer's `SO_PEERCRED`; a uid outside the
//! allowed set (by default its own uid and 0) gets `REFUSED`.
//!
//! A frame is a 16-byte header, then the payload; all integers little-endian:
//!
//! | offset | size | field                                   |
//! |--------|------|-----------------------------------------|
//! | 0      | 4    | magic `b"RALO"`                         |
//! | 4      | 2    | protocol version, `1`                   |
//! | 6      | 2    | kind                                    |
//! | 8      | 4    | payload length, at most 65 536          |
//! | 12     | 4    | reserved, `0`                           |
//!
//! | kind | name     | direction | payload                                    |
//! |------|----------|-----------|--------------------------------------------|
//! | 1    | PUBLISH  | request   | u64 generation, u64 image length; exactly one fd (`SCM_RIGHTS`) |
//! | 2    | ACCEPTED | reply     | u64 generation now serving                 |
//! | 3    | REFUSED  | reply     | u64 generation still serving, UTF-8 reason |
//! | 4    | STATUS   | request   | none                                       |
//! | 5    | CURRENT  | reply     | u64 generation now serving                 |
//! | 6    | SET_BLOCKING | request | u64 blocking off until (Unix ms; 0 on, `u64::MAX` until switched on) |
//! | 7    | GET_STATE | request  | none                                       |
//! | 8    | STATE    | reply     | u64 generation now serving, u64 blocking off until (0: on) |
//!
//! Anything the server cannot take (bad magic, a version newer than its own,
//! an unknown kind, an oversize or malformed payload, a wrong number of fds, an
//! fd that is not a fully sealed memfd, a peer that says nothing for 2 s or
//! hangs up mid-frame) gets a `REFUSED` reply whose reason says what to fix,
//! when the peer can still read it, and is logged; the server keeps serving.
//! A reply is always sent with the server's own version.
//!
//! Adding a kind (say "disable blocking for 5 minutes") is one `Kind` variant
//! with its number, one payload struct implementing `Payload`, and one
//! `Message` variant; old servers refuse it as an unknown kind. Changing the
//! meaning or layout of an existing kind bumps the version.

mod client;
mod error;
mod listener;
mod mapping;
mod persist;
mod protocol;
mod request;
mod sealed;
mod shm;
#[cfg(test)]
mod test_server;
mod wire;

pub use client::{publish, set_blocking, state, status};
pub use error::Error;
pub use listener::{Listener, default_allowed_uids};
pub use mapping::Mapping;
pub use persist::{persist, write_atomic};
pub use protocol::{MAX_PAYLOAD, PROTOCOL_VERSION};
pub use request::{Reply, Request};
pub use sealed::{MAX_IMAGE_BYTES, SealedImage};
pub use shm::{FileId, SharedWords};
pub use wire::REQUEST_TIMEOUT;
