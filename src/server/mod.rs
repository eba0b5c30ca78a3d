//! The DNS server: the sockets (UDP workers that read and answer in
//! batches, TCP connections with caps) and the one [`Handler`] that turns
//! each message into its answer.
//!
//! TCP is ralo's own accept loop, not hickory-server's `Server`: hickory's
//! TCP listener (0.26) accepts every connection, with no cap in all or per
//! client; it answers the queries of one connection one after another, so
//! one slow upstream answer holds every query pipelined behind it; and its
//! `ResponseHandler` takes only hickory's `MessageResponse`, so blocked and
//! cached answers could not be written by the one renderer UDP uses. What
//! `tests/it/tcp.rs` and `tests/it/limits.rs` prove — idle and trickle
//! closing, both caps, concurrent pipelining, a connection flood beside UDP
//! — needs all three.

mod handler;
mod listen;
mod query;
mod render;
mod tcp;
mod udp;

pub use handler::{Arrival, Handler, Later, Now};
pub use listen::{Error, Listeners, Settings, run, worker_count};
