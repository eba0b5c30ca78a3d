//! The DNS server: listening sockets, the UDP workers with their fast path,
//! TCP connections, and the general path through hickory.

mod fast;
mod handler;
mod listen;
mod reply;
mod run;
mod tcp;
mod udp;
mod wire;

pub use handler::Handler;
pub use listen::{Listeners, worker_count};
pub use reply::Capture;
pub use run::{Error, Settings, run};
pub use udp::fast_answer;
