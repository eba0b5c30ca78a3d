//! The person-facing commands, one file each.

mod answered;
pub mod check;
pub mod clients;
pub mod disable;
pub mod household;
pub mod serve;
pub mod stats;
pub mod tail;
pub mod update;
pub mod web;
pub mod who;
