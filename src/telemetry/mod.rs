//! Telemetry: counters and a ring of recent queries that the server writes
//! into a shared-memory segment and that readers (`ralo stats`, `ralo tail`,
//! the Prometheus exporter in [`crate::metrics`], the query log) read
//! without ever slowing it down. [`Telemetry`] is the server's side
//! (`writer`: the file's life and the adds), [`Segment`] a reader's
//! (`reader`); both see the words through the same [`View`] (`layout`: the
//! table of every word); `ring` holds the ring's protocol. Nothing here
//! writes a disk per query: [`QueryLog`], off by default, appends the ring
//! to a file in batches.

mod error;
mod kinds;
mod layout;
mod querylog;
mod reader;
mod ring;
mod snapshot;
mod writer;

pub use error::Error;
pub use kinds::{LATENCY_BOUNDS_MS, QType};
pub use layout::{Header, Layout, VERSION, View};
pub use querylog::QueryLog;
pub use reader::Segment;
pub use ring::{Cursor, Event, Ring};
pub use snapshot::{Counters, MinuteBucket, UpstreamCounters, share, top};
pub use writer::{Query, Telemetry};
