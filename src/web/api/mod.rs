//! The Pi-hole-v6-compatible API under `/api`: the same paths, methods,
//! field names and status codes for the subset ralo serves (docs/api.md).

// Handlers answer `Result<Response, Response>`, axum's own shape: the error
// is a whole response, built once for a failed request, never on a path
// that runs per DNS query.
#![allow(clippy::result_large_err)]

mod blocking;
mod clients;
mod domains;
mod groups;
mod info;
mod lists;
mod queries;
mod reply;
mod routes;
mod session;
mod stats;

pub use queries::row_json;
pub use reply::{error, not_found, status_word};
pub use routes::{open_routes, routes};
