//! The path of one query: [`decide`] says what a question gets — access,
//! rate limit, local names, blocking, cache — in one function, and forwards
//! the ones that need upstream.

pub mod access;
pub mod block;
pub mod cache;
pub mod choice;
pub mod decide;
pub mod entry;
pub mod forward;
pub mod local;
pub mod policy;
pub mod ratelimit;
pub mod refresh;
pub mod route;

pub use decide::{Decided, Decision, Question, Refetch, Refusal, Resolver, ServedImage};
pub use entry::Entry;
