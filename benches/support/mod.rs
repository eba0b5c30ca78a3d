//! What the criterion benches (`lookup`, `compile`) share:
//! the real lists in the shared data folder and seeded synthetic names.
//! Each bench uses part of it, hence the allowances.
#![allow(dead_code, unreachable_pub)]

pub mod data;
pub mod synthetic;
