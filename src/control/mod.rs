//! The control socket between `ralo serve` and its clients (`ralo update`
//! and the CLI): one request frame, one reply frame, and a publish's image
//! memfd beside its frame; no `unsafe`.

mod client;
mod error;
mod frame;
mod listener;
mod protocol;
mod socket;
#[cfg(test)]
mod test_server;

pub use client::{pause_group, publish, set_blocking, state};
pub use error::Error;
pub use frame::{MAX_PAYLOAD, PROTOCOL_VERSION};
pub use listener::{Listener, default_allowed_uids};
pub use protocol::{Reply, Request};
pub use socket::REQUEST_TIMEOUT;
