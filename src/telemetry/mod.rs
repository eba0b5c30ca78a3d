//! Telemetry: counters and a ring of recent queries that the server writes
//! into a shared-memory segment and that readers (`ralo stats`, `ralo tail`,
//! the Prometheus exporter in [`crate::metrics`]) read without ever slowing
//! it down.
//!
//! [`Telemetry`] is the server's side: [`Telemetry::record`] after each
//! query, [`Telemetry::upstream_answered`] / [`Telemetry::upstream_failed`]
//! after each upstream try, [`Telemetry::rate_limited`] for each message of
//! a client over its rate limit, [`Telemetry::upstream_overloaded`] for each
//! question over the forwarder's in-flight cap, and a few header fields.
//! Version 2 of the layout added the counters of words 161 to 163. [`Segment`] is a
//! reader's side. Both see the segment through the same [`View`].
//!
//! # The segment
//!
//! A file, `<[paths] runtime>/telemetry`, made by `ralo serve` at start:
//! written as `telemetry.<pid>.new`, sized once, mapped, filled in, then
//! renamed over the old one once the server holds its sockets
//! ([`Telemetry::install`]), so a reader never sees a half-made segment, a
//! second server that fails to start leaves the first one's alone, and
//! a reader of the old one keeps valid memory (it notices the new inode and
//! reopens, see [`Segment::replaced`]). The file is never truncated or
//! resized, so no reader can take `SIGBUS`. Mode 0640: query names and client
//! addresses are the household's business. Put `runtime` on tmpfs (`/run`):
//! the server warns when the segment would be written back to a disk.
//!
//! The server maps it read-write, readers read-only
//! ([`SharedWords`](crate::exchange::SharedWords)). Every word is an
//! `AtomicU64` in native byte order, read and written only with atomic
//! operations: no data race, no lock, and the server never waits for anyone.
//!
//! # Layout, version 2
//!
//! All offsets and sizes are in 8-byte words. Three sections: header,
//! counters, ring. A reader checks the magic, then refuses any version other
//! than its own ([`VERSION`]) with [`Error::Version`], then checks every
//! size below against the file's size before it touches a counter.
//!
//! **Header** (64 words at word 0)
//!
//! | word | field |
//! |------|-------|
//! | 0 | magic `b"RALOTELE"` (stored last, when the header is complete) |
//! | 1 | layout version, `1` |
//! | 2 | size of the file in bytes |
//! | 3, 4 | where the counters start (64) and how many words they take (432) |
//! | 5 | where the ring starts (496) |
//! | 6, 7 | ring slots (a power of two) and words per slot (24) |
//! | 8 | server start, ms since the Unix epoch |
//! | 9 | server pid |
//! | 10 | image generation serving |
//! | 11 | blocking off until (Unix ms); 0 on, `u64::MAX` until switched on |
//! | 12 | server stopped at (Unix ms); 0 while it runs |
//! | 13 | number of upstreams (at most 8) |
//! | 16 + 3i … | upstream i: IPv6 (IPv4-mapped) address as two big-endian halves, port |
//!
//! **Counters** (432 words at word 64), monotonic since the server started;
//! relaxed atomic adds. A query is one add, to the cell of its outcome, type
//! and protocol: readers sum the cells by outcome, by type, by protocol and
//! in all.
//!
//! | words | counters |
//! |-------|----------|
//! | 0–159 | queries, cell `(o × 10 + t) × 2 + p`: outcome `o` in [`OUTCOMES`] order (blocked, allowed, cached, stale, forwarded, local, refused, failed), type `t` in [`QType::ALL`] order (A, AAAA, HTTPS, CNAME, MX, TXT, PTR, SRV, SVCB, other), protocol `p` (udp, tcp) |
//! | 160 | ring events dropped because a slot was still being written (a producer a whole lap behind) |
//! | 161, 162 | messages of rate-limited clients refused, and dropped unanswered (`[access] rate_limit_*`); they are not queries above |
//! | 163 | questions turned away by the forwarder because `[upstream] max_inflight` upstream queries were already in flight (answered stale or SERVFAIL, and counted as such above) |
//! | 168 + 16i … | upstream i: tries, failures, answer latency sum (µs), then 11 latency buckets (≤ 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000 ms, more) |
//! | 296 + 2m … | minute bucket m (of 64; the minute since the epoch mod 64): queries, then blocked, each packed as `minute << 32 \| count` |
//!
//! **Ring** (at word 496): word 0 is the head, the number of events ever
//! claimed; the slots start at word 8, 24 words each, event `n` in slot
//! `n mod slots`:
//!
//! | word | field |
//! |------|-------|
//! | 0 | sequence: `2n + 1` while event `n` is written, `2n + 2` when complete |
//! | 1 | time, ms since the Unix epoch |
//! | 2, 3 | client address, IPv6 (IPv4-mapped), big-endian halves |
//! | 4 | query type (bits 0–15), outcome index (16–23), protocol (24–31), name length (32–39), flags (40–47: 1 name truncated, 2 list truncated), list length (48–55) |
//! | 5 | latency in µs (bits 0–31, saturating) |
//! | 6–19 | the name, lower case, at most 112 bytes (little-endian in each word) |
//! | 20–23 | the blocking list's name, at most 32 bytes |
//!
//! # The ring protocol
//!
//! A producer (any server thread) claims event number `n` with a
//! `fetch_add` on the head, then takes its slot by a compare-and-swap of
//! the sequence from an even value below `2n + 1` to `2n + 1`, writes the
//! data words, and stores `2n + 2` (release). It never waits: should the
//! slot still be held by a producer a whole lap behind, the event is dropped
//! and counted (word 20 of the counters). A sequence only ever grows.
//!
//! A reader keeps a cursor, the next event number it wants. Events older
//! than `head - slots` are gone: it skips to the oldest one still held and
//! counts exactly how many it skipped. For each slot it loads the sequence
//! (acquire), copies the data, and loads the sequence again after an acquire
//! fence: equal to `2n + 2` both times means a consistent copy of event
//! `n`; larger means the event was overwritten (lost, counted); smaller
//! means it is not written yet (the reader tries again later, and gives it
//! up as lost after a second).
//!
//! Nothing here writes a disk per query. [`QueryLog`], off by default,
//! keeps a history on disk by reading the ring like any reader and
//! appending in batches.

mod error;
mod kinds;
mod layout;
mod querylog;
mod reader;
mod ring;
mod snapshot;
mod writer;

pub use error::Error;
pub use kinds::{LATENCY_BOUNDS_MS, OUTCOMES, Protocol, QType, outcome_index, parse_outcome};
pub use layout::{Header, Layout, VERSION, View};
pub use querylog::QueryLog;
pub use reader::Segment;
pub use ring::{Cursor, Event, Ring};
pub use snapshot::{Counters, MinuteBucket, UpstreamCounters, share, top};
pub use writer::{Query, QueryName, Telemetry};
