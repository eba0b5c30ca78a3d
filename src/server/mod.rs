//! The DNS server: the sockets (UDP workers that read and answer in
//! batches, TCP connections with caps) and the one [`Handler`] that turns
//! each message into its answer. TCP is ralo's own accept loop, not
//! hickory-server's `Server`, for three reasons measured against
//! hickory-server 0.26's `register_listener` with a handler that takes
//! 500 ms for one name: it held 1000 of 1000 connections opened from one
//! client address (no cap in all or per client, where ralo closes the 33rd);
//! a query pipelined behind the slow one was answered after 501 ms, with the
//! slow one (queries of a connection one after another, where ralo answers
//! each as it is ready); and its `ResponseHandler` takes only hickory's
//! `MessageResponse`, so blocked and cached answers could not be written by
//! the one renderer UDP uses.

mod handler;
mod listen;
mod pulse;
mod query;
mod render;
mod tcp;
mod udp;

pub use handler::{Arrival, Handler, Later, Moment, Now};
pub use listen::{Error, Listeners, Settings, run, worker_count};
pub use pulse::Pulse;
