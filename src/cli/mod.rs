//! The person-facing commands, one file each.

pub mod serve;
pub mod update;
