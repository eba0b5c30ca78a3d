//! The path of one query, step by step: access, local names, blocking,
//! cache, forwarding. [`chain`] strings the steps together in that order.

pub mod access;
pub mod answer;
pub mod block;
pub mod cache;
pub mod chain;
pub mod forward;
pub mod local;
pub mod outcome;

pub use answer::Answer;
pub use chain::{Question, Quick, QuickQuestion, Resolver};
pub use outcome::Outcome;
