//! ralo: a DNS sinkhole for a home network's Raspberry Pi.
//!
//! # Layout
//!
//! - [`vocab`]: the shared words — `Outcome`, `ListId`, `Protocol`,
//!   `Admission` — that everything else imports and that imports nothing.
//! - [`querytypes`]: the query types a rule is restricted to (Pi-hole's
//!   `;querytype=`), a mask that imports nothing either.
//! - [`answer`]: the custom answers a list may give (`$dnsrewrite`, hosts
//!   addresses served), which import nothing either.
//! - [`config`]: `ralo.toml`, every key documented and checked.
//! - [`domain`]: names — normalized text (lower-case, punycode, validated)
//!   and wire form (the one label walk and lower-casing).
//! - [`lists`]: parsing hosts, plain-domain and adblock lists into rules.
//! - [`groups`]: devices and groups — the kernel's address → MAC tables and
//!   the schedule windows of a list.
//! - [`image`]: the compiled, pointer-free blocklist image and its lookup.
//! - [`compile`]: configured sources → one image.
//! - [`sources`]: fetching list sources (files, HTTPS) with a last good copy on disk.
//! - [`exchange`]: the memory shared between processes — images in sealed
//!   memfds, their read-only mappings, the persisted copy, the telemetry
//!   segment's words; the only module with `unsafe`.
//! - [`control`]: the control socket between `ralo serve` and its clients
//!   (`ralo update`, the CLI): one request and one reply per connection, a
//!   publish's memfd beside its frame.
//! - [`update`]: the updater process: sources → image → persist → publish.
//! - [`intake`]: the server's intake: the boot image, and the thread that takes
//!   images and switches from the control socket.
//! - [`supervise`]: `ralo serve` starting and restarting its updater child.
//! - [`notify`]: systemd's readiness and watchdog keep-alives for `ralo serve`.
//! - [`resolve`]: the decision for one question — access, rate limit, local,
//!   block, cache — in one function, and forwarding what needs upstream.
//! - [`server`]: sockets (batched UDP workers, TCP with connection caps) and
//!   the one handler that reads a query, asks for the decision and writes it.
//! - [`telemetry`]: counters and the ring of recent queries in a shared
//!   segment the server writes and `stats` / `tail` read.
//! - [`metrics`]: the Prometheus endpoint, from the telemetry counters.
//! - [`web`]: `ralo web`, the admin page and the Pi-hole compatible API, and
//!   the query history in SQLite that it keeps from the telemetry ring.
//! - [`cli`]: the person-facing commands.
//! - `fuzzing`: the bodies of the fuzz targets in `fuzz/` (hidden from the docs).

#![deny(unsafe_code)]

pub mod answer;
pub mod cli;
pub mod compile;
pub mod config;
pub mod control;
pub mod domain;
#[allow(unsafe_code)]
pub mod exchange;
#[doc(hidden)]
pub mod fuzzing;
pub mod groups;
pub mod image;
pub mod intake;
pub mod lists;
pub mod metrics;
pub mod notify;
pub mod querytypes;
pub mod resolve;
pub mod server;
pub mod sources;
pub mod supervise;
pub mod telemetry;
pub mod update;
pub mod vocab;
pub mod web;
