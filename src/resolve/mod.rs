//! The path of one query: [`decide`] says what a question gets — access,
//! rate limit, local names, blocking, cache — in one function, and forwards
//! the ones that need upstream ([`forward`]: plain, or over the kept DoT and
//! DoH connections of `encrypted`, trusting the CAs of `trust`, with DoH
//! hosts found by `bootstrap`; the fastest upstream first, [`choice`]; the
//! router's zones to their own resolvers, [`route`]); which lists apply to
//! whom, [`policy`], and which `$client` lists reach a client, [`scope`],
//! both recognising devices as [`devices`] says.

pub mod access;
pub mod block;
mod bootstrap;
pub mod cache;
pub mod choice;
pub mod decide;
pub mod devices;
mod encrypted;
pub mod entry;
pub mod forward;
pub mod local;
pub mod policy;
pub mod ratelimit;
pub mod refresh;
pub mod route;
pub mod scope;
#[cfg(test)]
mod scope_model_tests;
mod trust;

pub use decide::{Decided, Decision, Question, Refetch, Refusal, Resolver, ServedImage};
pub use encrypted::{DOWN, IDLE};
pub use entry::Entry;
