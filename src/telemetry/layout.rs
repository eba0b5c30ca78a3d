//! Where everything sits in the segment (the table in the module docs, as
//! constants), the check a reader makes before trusting a segment, and
//! [`View`]: the words seen as header, counters and ring, by the server and
//! readers alike.
//!
//! # Layout, version 3
//!
//! All offsets and sizes are in 8-byte words. Four sections: header,
//! counters, groups, ring. A reader checks the magic, then refuses any version other
//! than its own (`VERSION`) with `Error::Version`, then checks every
//! size below against the file's size before it touches a counter.
//!
//! **Header** (64 words at word 0)
//!
//! | word | field |
//! |------|-------|
//! | 0 | magic `b"RALOTELE"` (stored last, when the header is complete) |
//! | 1 | layout version, `3` |
//! | 2 | size of the file in bytes |
//! | 3, 4 | where the counters start (64) and how many words they take (432) |
//! | 5 | where the ring starts (1264) |
//! | 6, 7 | ring slots (a power of two) and words per slot (32) |
//! | 8 | server start, ms since the Unix epoch |
//! | 9 | server pid |
//! | 10 | image generation serving |
//! | 11 | blocking off until (Unix ms); 0 on, `u64::MAX` until switched on |
//! | 12 | server stopped at (Unix ms); 0 while it runs |
//! | 13 | number of upstreams (at most 8) |
//! | 14 | where the groups start (496) |
//! | 15 | number of groups in the image serving (at most 64) |
//! | 16 + 3i … | upstream i: IPv6 (IPv4-mapped) address as two big-endian halves, port |
//!
//! **Counters** (432 words at word 64), monotonic since the server started;
//! relaxed atomic adds. A query is one add, to the cell of its outcome, type
//! and protocol: readers sum the cells by outcome, by type, by protocol and
//! in all.
//!
//! | words | counters |
//! |-------|----------|
//! | 0–159 | queries, cell `(o × 10 + t) × 2 + p`: outcome `o` in `Outcome::ALL` order (blocked, allowed, cached, stale, forwarded, local, refused, failed), type `t` in `QType::ALL` order (A, AAAA, HTTPS, CNAME, MX, TXT, PTR, SRV, SVCB, other), protocol `p` (udp, tcp) |
//! | 160 | ring events dropped because a slot was still being written (a producer a whole lap behind) |
//! | 161, 162 | messages of rate-limited clients refused, and dropped unanswered (`[access] rate_limit_*`); they are not queries above |
//! | 163 | questions turned away by the forwarder because `[upstream] max_inflight` upstream queries were already in flight (answered stale or SERVFAIL, and counted as such above) |
//! | 164 | cache entries fetched again in the background (`[cache] prefetch`, `optimistic`) with a new answer stored |
//! | 168 + 16i … | upstream i: tries, failures, answer latency sum (µs), then 11 latency buckets (≤ 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000 ms, more), its smoothed round-trip time (µs, as last set; 0 unknown), and how many questions asked it first |
//! | 296 + 2m … | minute bucket m (of 64; the minute since the epoch mod 64): queries, then blocked, each packed as `minute << 32 \| count` |
//!
//! **Groups** (768 words at word 496): 12 words for each group `g` of the
//! image serving (its number in the image; `default` is 0), monotonic
//! while the group keeps its name and number. A query counts in every
//! group its client is in. When an image names a group differently, the
//! server zeroes its counters and then writes the name.
//!
//! | word | field |
//! |------|-------|
//! | 12g | queries from the group's clients |
//! | 12g + 1 | of those, blocked |
//! | 12g + 2 | the name's length in bytes |
//! | 12g + 3 … | the name, at most 64 bytes (little-endian in each word) |
//!
//! **Ring** (at word 1264): word 0 is the head, the number of events ever
//! claimed; the slots start at word 8, 32 words each, event `n` in slot
//! `n mod slots`:
//!
//! | word | field |
//! |------|-------|
//! | 0 | sequence: `2n + 1` while event `n` is written, `2n + 2` when complete |
//! | 1 | time, ms since the Unix epoch |
//! | 2, 3 | client address, IPv6 (IPv4-mapped), big-endian halves |
//! | 4 | query type (bits 0–15), outcome index (16–23), protocol (24–31), name length (32–39), flags (40–47: 1 name truncated, 2 list truncated), list length (48–55) |
//! | 5 | latency in µs (bits 0–31, saturating) |
//! | 6 | the client's groups (bit `g` for group `g`) |
//! | 7–27 | the name's lower-case text (`domain::wire::lower_text`, escapes included), at most 168 bytes (little-endian in each word) |
//! | 28–31 | the blocking list's name, at most 32 bytes |

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::Error;
use super::kinds::{LATENCY_BUCKETS, QType};
use super::ring::Ring;
use super::snapshot::{Counters, GroupCounters, MinuteBucket, UpstreamCounters};
use crate::vocab::{Outcome, Protocol};

/// `b"RALOTELE"`, the first word of every segment.
pub(super) const MAGIC: u64 = u64::from_le_bytes(*b"RALOTELE");
/// The layout version this build writes and reads.
pub const VERSION: u64 = 3;

/// Header size in words.
pub(super) const HEADER_WORDS: usize = 64;
/// Counters size in words.
pub(super) const COUNTER_WORDS: usize = 432;
/// Words per ring slot.
pub(super) const SLOT_WORDS: usize = 32;
/// Groups with counters, and their section's size in words.
pub(super) const MAX_GROUPS: usize = 64;
pub(super) const GROUP_WORDS: usize = 12;
pub(super) const GROUPS_WORDS: usize = MAX_GROUPS * GROUP_WORDS;
/// Bytes of a group's name kept.
pub(super) const GROUP_NAME_BYTES: usize = 64;
/// Words before the first slot (the head, then padding to a cache line).
pub(super) const RING_HEAD_WORDS: usize = 8;
/// The most upstreams with their own counters.
pub(super) const MAX_UPSTREAMS: usize = 8;
/// Minute buckets kept (a little more than an hour).
pub(super) const MINUTES: usize = 64;
/// Smallest and largest ring.
pub(super) const MIN_SLOTS: usize = 64;
pub(super) const MAX_SLOTS: usize = 1 << 20;

/// Header words.
pub(super) mod header {
    pub(crate) const MAGIC: usize = 0;
    pub(crate) const VERSION: usize = 1;
    pub(crate) const SIZE_BYTES: usize = 2;
    pub(crate) const COUNTERS_AT: usize = 3;
    pub(crate) const COUNTERS_WORDS: usize = 4;
    pub(crate) const RING_AT: usize = 5;
    pub(crate) const RING_SLOTS: usize = 6;
    pub(crate) const SLOT_WORDS: usize = 7;
    pub(crate) const STARTED_MS: usize = 8;
    pub(crate) const PID: usize = 9;
    pub(crate) const GENERATION: usize = 10;
    pub(crate) const DISABLED_UNTIL_MS: usize = 11;
    pub(crate) const STOPPED_MS: usize = 12;
    pub(crate) const UPSTREAMS: usize = 13;
    pub(crate) const GROUPS_AT: usize = 14;
    pub(crate) const GROUPS: usize = 15;
    pub(crate) const UPSTREAM_ADDRS: usize = 16;
}

/// Words of one group's entry in the groups section.
pub(super) mod group {
    pub(crate) const QUERIES: usize = 0;
    pub(crate) const BLOCKED: usize = 1;
    pub(crate) const NAME_LEN: usize = 2;
    pub(crate) const NAME: usize = 3;
}

/// Counter words, relative to the counters section.
pub(super) mod counter {
    use super::{Outcome, Protocol, QType};

    /// Queries by (outcome, type, protocol): one add per query.
    pub(crate) const QUERIES: usize = 0;
    pub(crate) const QUERY_CELLS: usize =
        Outcome::ALL.len() * QType::ALL.len() * Protocol::ALL.len();
    pub(crate) const RING_DROPPED: usize = 160;
    pub(crate) const RATE_LIMITED_REFUSED: usize = 161;
    pub(crate) const RATE_LIMITED_DROPPED: usize = 162;
    pub(crate) const UPSTREAM_OVERLOAD: usize = 163;
    pub(crate) const REFETCHED: usize = 164;
    pub(crate) const UPSTREAMS: usize = 168;
    pub(crate) const UPSTREAM_WORDS: usize = 16;
    /// Within one upstream's block.
    pub(crate) const TRIES: usize = 0;
    pub(crate) const FAILURES: usize = 1;
    pub(crate) const LATENCY_SUM_US: usize = 2;
    pub(crate) const LATENCY_BUCKETS: usize = 3;
    pub(crate) const SRTT_US: usize = 14;
    pub(crate) const FIRST: usize = 15;
    pub(crate) const MINUTES: usize = 296;

    /// The word counting queries with these indexes.
    pub(crate) fn query_cell(outcome: usize, qtype: usize, protocol: usize) -> usize {
        QUERIES + (outcome * QType::ALL.len() + qtype) * Protocol::ALL.len() + protocol
    }
}

// The sections must fit the sizes the docs promise.
const _: () = {
    assert!(counter::QUERIES + counter::QUERY_CELLS <= counter::RING_DROPPED);
    assert!(counter::RING_DROPPED < counter::RATE_LIMITED_REFUSED);
    assert!(counter::UPSTREAM_OVERLOAD < counter::REFETCHED);
    assert!(counter::REFETCHED < counter::UPSTREAMS);
    assert!(counter::LATENCY_BUCKETS + LATENCY_BUCKETS <= counter::SRTT_US);
    assert!(counter::FIRST < counter::UPSTREAM_WORDS);
    assert!(counter::UPSTREAMS + MAX_UPSTREAMS * counter::UPSTREAM_WORDS <= counter::MINUTES);
    assert!(counter::MINUTES + MINUTES * 2 <= COUNTER_WORDS);
    assert!(header::UPSTREAM_ADDRS + MAX_UPSTREAMS * 3 <= HEADER_WORDS);
    assert!(group::NAME + GROUP_NAME_BYTES / 8 <= GROUP_WORDS);
    assert!(MAX_GROUPS <= u64::BITS as usize);
};

/// The shape of one segment: everything follows from the ring size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    slots: usize,
}

impl Layout {
    /// The layout of a segment with `slots` ring slots (a power of two).
    pub fn new(slots: usize) -> Result<Layout, Error> {
        if !slots.is_power_of_two() || !(MIN_SLOTS..=MAX_SLOTS).contains(&slots) {
            return Err(Error::RingSize { slots });
        }
        Ok(Layout { slots })
    }

    /// Ring slots.
    pub fn slots(&self) -> usize {
        self.slots
    }

    pub(super) fn counters_at(&self) -> usize {
        HEADER_WORDS
    }

    pub(super) fn groups_at(&self) -> usize {
        HEADER_WORDS + COUNTER_WORDS
    }

    pub(super) fn ring_at(&self) -> usize {
        self.groups_at() + GROUPS_WORDS
    }

    /// The segment's size in words.
    pub fn words(&self) -> usize {
        self.ring_at() + RING_HEAD_WORDS + self.slots * SLOT_WORDS
    }

    /// The segment's size in bytes.
    pub fn bytes(&self) -> usize {
        self.words() * 8
    }

    /// Writes the sizes into a fresh header (everything but the magic).
    pub(super) fn write_header(&self, words: &[AtomicU64]) {
        let set = |i: usize, v: usize| words[i].store(v as u64, Ordering::Relaxed);
        words[header::VERSION].store(VERSION, Ordering::Relaxed);
        set(header::SIZE_BYTES, self.bytes());
        set(header::COUNTERS_AT, self.counters_at());
        set(header::COUNTERS_WORDS, COUNTER_WORDS);
        set(header::GROUPS_AT, self.groups_at());
        set(header::RING_AT, self.ring_at());
        set(header::RING_SLOTS, self.slots);
        set(header::SLOT_WORDS, SLOT_WORDS);
    }

    /// The layout of the mapped `words`, refused unless magic, version and
    /// every size agree with this build and with the file's size.
    pub(super) fn check(words: &[AtomicU64], path: &Path) -> Result<Layout, Error> {
        let layout_err = |reason: String| Error::Layout {
            path: path.to_owned(),
            reason,
        };
        if words.len() < HEADER_WORDS {
            return Err(layout_err(format!(
                "{} bytes is shorter than the header",
                words.len() * 8
            )));
        }
        let get = |i: usize| words[i].load(Ordering::Acquire);
        if get(header::MAGIC) != MAGIC {
            return Err(Error::NotSegment {
                path: path.to_owned(),
            });
        }
        let found = get(header::VERSION);
        if found != VERSION {
            return Err(Error::Version {
                path: path.to_owned(),
                found,
                supported: VERSION,
                hint: Error::version_hint(found, VERSION),
            });
        }
        let slots = usize::try_from(get(header::RING_SLOTS)).unwrap_or(usize::MAX);
        let layout = Layout::new(slots)
            .map_err(|_| layout_err(format!("{slots} ring slots is not a valid ring size")))?;
        let expect = [
            ("size", header::SIZE_BYTES, words.len() * 8),
            ("size", header::SIZE_BYTES, layout.bytes()),
            ("counters offset", header::COUNTERS_AT, layout.counters_at()),
            ("counters size", header::COUNTERS_WORDS, COUNTER_WORDS),
            ("groups offset", header::GROUPS_AT, layout.groups_at()),
            ("ring offset", header::RING_AT, layout.ring_at()),
            ("slot size", header::SLOT_WORDS, SLOT_WORDS),
        ];
        for (what, word, value) in expect {
            let found = get(word);
            if found != value as u64 {
                return Err(layout_err(format!("{what} is {found}, expected {value}")));
            }
        }
        if get(header::UPSTREAMS) > MAX_UPSTREAMS as u64 {
            return Err(layout_err("more than 8 upstreams".into()));
        }
        if get(header::GROUPS) > MAX_GROUPS as u64 {
            return Err(layout_err("more than 64 groups".into()));
        }
        Ok(layout)
    }
}

/// The header's fields, as read at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// When the server started (ms since the Unix epoch).
    pub started_unix_ms: u64,
    /// The server's process id.
    pub pid: u32,
    /// The image generation serving.
    pub generation: u64,
    /// Blocking is off until then (Unix ms); 0: on; `u64::MAX`: until switched on.
    pub blocking_disabled_until_ms: u64,
    /// When the server stopped (Unix ms); 0 while it runs.
    pub stopped_unix_ms: u64,
    /// The upstreams, in configured order (at most 8).
    pub upstreams: Vec<SocketAddr>,
    /// Ring slots.
    pub ring_slots: usize,
}

impl Header {
    /// Whether blocking is on at `now_ms`.
    pub fn blocking_enabled(&self, now_ms: u64) -> bool {
        let until = self.blocking_disabled_until_ms;
        until == 0 || now_ms >= until
    }
}

/// A segment's words seen as header, counters and ring.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    words: &'a [AtomicU64],
    layout: Layout,
}

impl<'a> View<'a> {
    /// `words` must have passed [`Layout::check`] or been laid out by the
    /// server with `layout`.
    pub(super) fn new(words: &'a [AtomicU64], layout: Layout) -> View<'a> {
        View { words, layout }
    }

    pub(super) fn counters_words(&self) -> &'a [AtomicU64] {
        let at = self.layout.counters_at();
        &self.words[at..at + COUNTER_WORDS]
    }

    pub(super) fn groups_words(&self) -> &'a [AtomicU64] {
        let at = self.layout.groups_at();
        &self.words[at..at + GROUPS_WORDS]
    }

    pub(super) fn header_word(&self, i: usize) -> &'a AtomicU64 {
        &self.words[i]
    }

    /// The layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The header now.
    pub fn header(&self) -> Header {
        let get = |i: usize| self.words[i].load(Ordering::Acquire);
        let count = usize::try_from(get(header::UPSTREAMS))
            .unwrap_or(0)
            .min(MAX_UPSTREAMS);
        let upstreams = (0..count)
            .map(|i| {
                let at = header::UPSTREAM_ADDRS + 3 * i;
                let mut octets = [0u8; 16];
                octets[..8].copy_from_slice(&get(at).to_be_bytes());
                octets[8..].copy_from_slice(&get(at + 1).to_be_bytes());
                let ip = IpAddr::V6(Ipv6Addr::from(octets)).to_canonical();
                SocketAddr::new(ip, get(at + 2) as u16)
            })
            .collect();
        Header {
            started_unix_ms: get(header::STARTED_MS),
            pid: get(header::PID) as u32,
            generation: get(header::GENERATION),
            blocking_disabled_until_ms: get(header::DISABLED_UNTIL_MS),
            stopped_unix_ms: get(header::STOPPED_MS),
            upstreams,
            ring_slots: self.layout.slots,
        }
    }

    /// The counters now (each word read once; counters move on while they
    /// are read, so sums across them may be off by the queries in flight).
    pub fn counters(&self) -> Counters {
        let c = self.counters_words();
        let get = |i: usize| c[i].load(Ordering::Relaxed);
        let (mut outcomes, mut qtypes, mut protocols) = ([0; 8], [0; 10], [0; 2]);
        for (o, by_outcome) in outcomes.iter_mut().enumerate() {
            for (t, by_type) in qtypes.iter_mut().enumerate() {
                for (p, by_protocol) in protocols.iter_mut().enumerate() {
                    let n = get(counter::query_cell(o, t, p));
                    *by_outcome += n;
                    *by_type += n;
                    *by_protocol += n;
                }
            }
        }
        let count = usize::try_from(self.words[header::UPSTREAMS].load(Ordering::Acquire))
            .unwrap_or(0)
            .min(MAX_UPSTREAMS);
        let addrs = self.header().upstreams;
        let upstreams = (0..count)
            .map(|i| {
                let at = counter::UPSTREAMS + i * counter::UPSTREAM_WORDS;
                UpstreamCounters {
                    addr: addrs[i],
                    tries: get(at + counter::TRIES),
                    failures: get(at + counter::FAILURES),
                    latency_sum_us: get(at + counter::LATENCY_SUM_US),
                    buckets: std::array::from_fn(|b| get(at + counter::LATENCY_BUCKETS + b)),
                    srtt_us: get(at + counter::SRTT_US),
                    first: get(at + counter::FIRST),
                }
            })
            .collect();
        let minutes = (0..MINUTES)
            .map(|m| {
                let at = counter::MINUTES + 2 * m;
                MinuteBucket::unpack(get(at), get(at + 1))
            })
            .collect();
        let named = usize::try_from(self.words[header::GROUPS].load(Ordering::Acquire))
            .unwrap_or(0)
            .min(MAX_GROUPS);
        let g = self.groups_words();
        let groups = (0..named)
            .map(|i| {
                let at = i * GROUP_WORDS;
                let len = usize::try_from(g[at + group::NAME_LEN].load(Ordering::Acquire))
                    .unwrap_or(0)
                    .min(GROUP_NAME_BYTES);
                let mut name = [0u8; GROUP_NAME_BYTES];
                for (chunk, word) in name.chunks_exact_mut(8).zip(&g[at + group::NAME..]) {
                    chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
                }
                GroupCounters {
                    name: String::from_utf8_lossy(&name[..len]).into_owned(),
                    queries: g[at + group::QUERIES].load(Ordering::Relaxed),
                    blocked: g[at + group::BLOCKED].load(Ordering::Relaxed),
                }
            })
            .collect();
        Counters {
            outcomes,
            qtypes,
            protocols,
            groups,
            ring_dropped: get(counter::RING_DROPPED),
            rate_limited_refused: get(counter::RATE_LIMITED_REFUSED),
            rate_limited_dropped: get(counter::RATE_LIMITED_DROPPED),
            upstream_overload: get(counter::UPSTREAM_OVERLOAD),
            refetched: get(counter::REFETCHED),
            upstreams,
            minutes,
        }
    }

    /// The names of the serving image's groups, in its order (`default`
    /// first); empty before a server named them.
    pub fn group_names(&self) -> Vec<String> {
        self.counters().groups.into_iter().map(|g| g.name).collect()
    }

    /// The ring of recent queries.
    pub fn ring(&self) -> Ring<'a> {
        let at = self.layout.ring_at();
        Ring::new(
            &self.words[at],
            &self.words[at + RING_HEAD_WORDS..],
            self.layout.slots,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_documented_table() {
        let layout = Layout::new(8192).unwrap();
        assert_eq!(layout.counters_at(), 64);
        assert_eq!(layout.groups_at(), 496);
        assert_eq!(layout.ring_at(), 1264);
        assert_eq!(layout.words(), 1264 + 8 + 8192 * 32);
        assert_eq!(layout.bytes(), 2_107_328);
    }

    #[test]
    fn the_documented_table_matches_the_constants() {
        let doc = include_str!("layout.rs");
        let groups_at = HEADER_WORDS + COUNTER_WORDS;
        let ring_at = groups_at + GROUPS_WORDS;
        for needle in [
            format!("| 1 | layout version, `{VERSION}` |"),
            format!("**Header** ({HEADER_WORDS} words at word 0)"),
            format!("({COUNTER_WORDS} words at word {HEADER_WORDS})"),
            format!(
                "where the counters start ({HEADER_WORDS}) and how many words they take ({COUNTER_WORDS})"
            ),
            format!("where the ring starts ({ring_at})"),
            format!("where the groups start ({groups_at})"),
            format!("**Groups** ({GROUPS_WORDS} words at word {groups_at}): {GROUP_WORDS} words"),
            format!("at most {GROUP_NAME_BYTES} bytes (little-endian"),
            format!("number of groups in the image serving (at most {MAX_GROUPS})"),
            format!("words per slot ({SLOT_WORDS})"),
            format!("**Ring** (at word {ring_at})"),
            format!("the slots start at word {RING_HEAD_WORDS}, {SLOT_WORDS} words each"),
            format!("| 0–{} | queries", counter::QUERY_CELLS - 1),
            format!("| {} | ring events dropped", counter::RING_DROPPED),
            format!(
                "| {}, {} | messages of rate-limited clients",
                counter::RATE_LIMITED_REFUSED,
                counter::RATE_LIMITED_DROPPED
            ),
            format!("| {} | questions turned away", counter::UPSTREAM_OVERLOAD),
            format!("| {} | cache entries fetched again", counter::REFETCHED),
            format!(
                "| {} + {}i … | upstream i",
                counter::UPSTREAMS,
                counter::UPSTREAM_WORDS
            ),
            format!(
                "| {} + 2m … | minute bucket m (of {MINUTES}",
                counter::MINUTES
            ),
            format!("number of upstreams (at most {MAX_UPSTREAMS})"),
            format!("| {} + 3i … | upstream i:", header::UPSTREAM_ADDRS),
        ] {
            assert!(doc.contains(&needle), "the layout table lacks `{needle}`");
        }
    }

    #[test]
    fn ring_sizes_must_be_powers_of_two_in_range() {
        assert!(Layout::new(64).is_ok());
        assert!(Layout::new(1 << 20).is_ok());
        assert!(Layout::new(100).is_err());
        assert!(Layout::new(32).is_err());
        assert!(Layout::new(1 << 21).is_err());
    }
}
