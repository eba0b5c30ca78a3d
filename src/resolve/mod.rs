//! The path of one query, step by step: rate limit, access, local names,
//! blocking, cache, forwarding. [`chain`] strings the steps together in
//! that order.

pub mod access;
pub mod answer;
pub mod block;
pub mod cache;
pub mod chain;
pub mod forward;
pub mod local;
pub mod outcome;
pub mod ratelimit;
pub mod stored;

pub use answer::Answer;
pub use chain::{Question, Quick, QuickQuestion, Resolver};
pub use outcome::Outcome;
pub use ratelimit::Admission;
