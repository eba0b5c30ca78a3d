//! The updater process (`ralo update`): sources → image → publish, once or
//! watching for changes. It never serves DNS; the server never parses lists.

pub mod lock;
pub mod once;
pub mod status;
pub mod watch;

pub use once::{Delivery, Error, Report, Trigger, Updater};
pub use status::{ListStatus, Status};
