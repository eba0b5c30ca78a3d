//! The query history of `ralo web` in SQLite: the file and its writes
//! (`store`, where the design is told), the query log (`query`), the
//! counts of the dashboard and charts (`counts`).

mod counts;
mod error;
mod query;
mod store;
#[cfg(test)]
mod tests;

pub use counts::{ClientSlots, Day, Slot, Summary};
pub use error::Error;
pub use query::{Filter, Page, Row};
pub use store::{Flushed, History, Resume};
