//! `ralo web`: the household's admin page and a Pi-hole-v6-compatible API,
//! and the durable consumer of the query ring (history in SQLite).

pub mod api;
pub mod app;
pub mod auth;
pub mod follow;
pub mod groups_edit;
pub mod history;
pub mod lists_edit;
pub mod page;
pub mod run;
