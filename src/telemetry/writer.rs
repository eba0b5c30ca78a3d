//! [`Telemetry`]: the server's side of the segment. It makes the file at
//! start and then only adds: one [`Telemetry::record`] per answered query
//! (a handful of relaxed atomic adds and one ring slot; no allocation, no
//! lock, no waiting), one call per upstream try, and the header fields that
//! change (generation, blocking switched off).
//!
//! # The segment
//!
//! A file, `<[paths] runtime>/telemetry`, made by `ralo serve` at start:
//! written as `telemetry.<pid>.new`, sized once, mapped, filled in, then
//! renamed over the old one once the server holds its sockets
//! ([`Telemetry::install`]), so a reader never sees a half-made segment, a
//! second server that fails to start leaves the first one's alone, and
//! a reader of the old one keeps valid memory (it notices the new inode and
//! reopens, see `Segment::replaced`). The file is never truncated or
//! resized, so no reader can take `SIGBUS`. Mode 0640: query names and client
//! addresses are the household's business. Put `runtime` on tmpfs (`/run`):
//! the server warns when the segment would be written back to a disk.
//!
//! The server maps it read-write, readers read-only
//! (`SharedWords`). Every word is an
//! `AtomicU64` in native byte order, read and written only with atomic
//! operations: no data race, no lock, and the server never waits for anyone.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hickory_proto::rr::RecordType;
use tracing::warn;

use super::Error;
use super::kinds::{LATENCY_BUCKETS, QType, latency_bucket};
use super::layout::{
    GROUP_NAME_BYTES, GROUP_WORDS, Layout, MAGIC, MAX_GROUPS, MAX_UPSTREAMS, MINUTES, View,
    counter, group, header,
};
use super::ring::Encoded;
use crate::exchange::SharedWords;
use crate::vocab::{Admission, Outcome, Protocol, unix_ms};

/// The segment file's mode: the server's user writes, its group reads.
const MODE: u32 = 0o640;

/// One answered query, as the server hands it over.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    /// The client.
    pub client: IpAddr,
    /// The name asked: its lower-case text (`domain::wire::lower_text`).
    pub name: &'a str,
    /// The type asked.
    pub qtype: RecordType,
    /// How it was answered.
    pub outcome: Outcome,
    /// UDP or TCP.
    pub protocol: Protocol,
    /// The list that blocked it, for blocked queries.
    pub list: Option<&'a str>,
    /// When it was asked, in Unix milliseconds.
    pub asked_ms: u64,
    /// Time from question to answer.
    pub latency: Duration,
    /// The client's groups: bit `g` for the image's group `g`.
    pub groups: u64,
}

/// The server's telemetry segment, mapped read-write.
#[derive(Debug)]
pub struct Telemetry {
    shm: SharedWords,
    layout: Layout,
    path: PathBuf,
    /// The file's name until [`Telemetry::install`] renames it to `path`.
    fresh: PathBuf,
    installed: AtomicBool,
}

impl Telemetry {
    /// Makes a new segment for `path` with `ring_slots` slots, under a
    /// temporary name until [`Telemetry::install`] (so a server that then
    /// fails to start leaves the running one's segment alone). `upstreams`
    /// get their own counters, in this order (the first 8).
    pub fn create(
        path: &Path,
        ring_slots: usize,
        upstreams: &[SocketAddr],
    ) -> Result<Telemetry, Error> {
        let layout = Layout::new(ring_slots)?;
        let create_err = |source| Error::Create {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(create_err)?;
        }
        let pid = std::process::id();
        let mut name = path.file_name().unwrap_or_default().to_owned();
        name.push(format!(".{pid}.new"));
        let fresh = path.with_file_name(name);
        let _ = std::fs::remove_file(&fresh);
        let shm = SharedWords::create(&fresh, layout.words(), MODE).map_err(create_err)?;
        let telemetry = Telemetry {
            shm,
            layout,
            path: path.to_owned(),
            fresh,
            installed: AtomicBool::new(false),
        };
        let words = telemetry.shm.words();
        layout.write_header(words);
        let set = |i: usize, v: u64| words[i].store(v, Ordering::Relaxed);
        set(header::STARTED_MS, unix_ms());
        set(header::PID, u64::from(pid));
        let upstreams = &upstreams[..upstreams.len().min(MAX_UPSTREAMS)];
        set(header::UPSTREAMS, upstreams.len() as u64);
        for (i, addr) in upstreams.iter().enumerate() {
            let octets = match addr.ip() {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            }
            .octets();
            let at = header::UPSTREAM_ADDRS + 3 * i;
            let (hi, lo) = octets.split_at(8);
            set(at, u64::from_be_bytes(hi.try_into().unwrap_or_default()));
            set(
                at + 1,
                u64::from_be_bytes(lo.try_into().unwrap_or_default()),
            );
            set(at + 2, u64::from(addr.port()));
        }
        // Last: a reader that sees the magic sees the whole header.
        words[header::MAGIC].store(MAGIC, Ordering::Release);
        Ok(telemetry)
    }

    /// Puts the segment in place under its name, replacing any old one in
    /// one step (readers of the old one notice and reopen).
    pub fn install(&self) -> Result<(), Error> {
        std::fs::rename(&self.fresh, &self.path).map_err(|source| Error::Create {
            path: self.path.clone(),
            source,
        })?;
        self.installed.store(true, Ordering::Relaxed);
        if !self.shm.on_tmpfs() {
            warn!(path = %self.path.display(), "the telemetry segment is on a disk-backed filesystem; put [paths] runtime on tmpfs (such as /run/ralo) so query counters never wear an SD card");
        }
        Ok(())
    }

    /// Where the segment is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The segment, read the way readers read it (for the exporter).
    pub fn view(&self) -> View<'_> {
        View::new(self.shm.words(), self.layout)
    }

    fn counters(&self) -> &[AtomicU64] {
        self.view().counters_words()
    }

    /// Counts one answered query and puts it in the ring.
    pub fn record(&self, query: &Query<'_>) {
        let now = query.asked_ms;
        let c = self.counters();
        let add = |i: usize| c[i].fetch_add(1, Ordering::Relaxed);
        add(counter::query_cell(
            query.outcome.index(),
            QType::of(query.qtype).index(),
            query.protocol.index(),
        ));
        let minute = now / 60_000;
        let bucket = counter::MINUTES + 2 * (minute % MINUTES as u64) as usize;
        bump_minute(&c[bucket], minute);
        let blocked = query.outcome == Outcome::Blocked;
        if blocked {
            bump_minute(&c[bucket + 1], minute);
        }
        let g = self.view().groups_words();
        let mut groups = query.groups;
        while groups != 0 {
            let at = groups.trailing_zeros() as usize * GROUP_WORDS;
            groups &= groups - 1;
            if let Some(word) = g.get(at + group::QUERIES) {
                word.fetch_add(1, Ordering::Relaxed);
            }
            if blocked && let Some(word) = g.get(at + group::BLOCKED) {
                word.fetch_add(1, Ordering::Relaxed);
            }
        }
        let encoded = Encoded::new(now, query);
        if !self.view().ring().push(&encoded) {
            add(counter::RING_DROPPED);
        }
    }

    /// Counts an upstream try that was answered after `latency`. `index` is
    /// the upstream's place in `[upstream] servers`; past the 8th, nothing.
    pub fn upstream_answered(&self, index: usize, latency: Duration) {
        let Some(at) = upstream_at(index) else {
            return;
        };
        let c = self.counters();
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        c[at + counter::TRIES].fetch_add(1, Ordering::Relaxed);
        c[at + counter::LATENCY_SUM_US].fetch_add(us, Ordering::Relaxed);
        let bucket = latency_bucket(us).min(LATENCY_BUCKETS - 1);
        c[at + counter::LATENCY_BUCKETS + bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// Records upstream `index`'s smoothed round-trip time after a try,
    /// and counts the try if it was the question's first choice.
    pub fn upstream_rtt(&self, index: usize, srtt_us: u32, first: bool) {
        let Some(at) = upstream_at(index) else {
            return;
        };
        let c = self.counters();
        c[at + counter::SRTT_US].store(u64::from(srtt_us), Ordering::Relaxed);
        if first {
            c[at + counter::FIRST].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts an upstream try that failed (timeout, error, SERVFAIL, REFUSED).
    pub fn upstream_failed(&self, index: usize) {
        let Some(at) = upstream_at(index) else {
            return;
        };
        let c = self.counters();
        c[at + counter::TRIES].fetch_add(1, Ordering::Relaxed);
        c[at + counter::FAILURES].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one message of a client over its rate limit, by what it got
    /// (refused or dropped); [`Admission::Serve`] counts nothing.
    pub fn rate_limited(&self, admission: Admission) {
        let word = match admission {
            Admission::Serve => return,
            Admission::Refuse => counter::RATE_LIMITED_REFUSED,
            Admission::Drop => counter::RATE_LIMITED_DROPPED,
        };
        self.counters()[word].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one question the forwarder turned away because its in-flight
    /// cap was reached.
    pub fn upstream_overloaded(&self) {
        self.counters()[counter::UPSTREAM_OVERLOAD].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a cache entry fetched again in the background, its new
    /// answer stored.
    pub fn refetched(&self) {
        self.counters()[counter::REFETCHED].fetch_add(1, Ordering::Relaxed);
    }

    /// Publishes the names of the serving image's groups, in its order;
    /// a group whose name changed starts its counters from zero.
    pub fn set_groups<'n>(&self, names: impl IntoIterator<Item = &'n str>) {
        let view = self.view();
        let g = view.groups_words();
        let mut count = 0;
        for (i, name) in names.into_iter().take(MAX_GROUPS).enumerate() {
            count = i + 1;
            let at = i * GROUP_WORDS;
            let bytes = &name.as_bytes()[..name.len().min(GROUP_NAME_BYTES)];
            let mut padded = [0u8; GROUP_NAME_BYTES];
            padded[..bytes.len()].copy_from_slice(bytes);
            let words: Vec<u64> = padded
                .chunks_exact(8)
                .map(|chunk| u64::from_le_bytes(chunk.try_into().unwrap_or_default()))
                .collect();
            let same = g[at + group::NAME_LEN].load(Ordering::Relaxed) == bytes.len() as u64
                && words
                    .iter()
                    .zip(&g[at + group::NAME..])
                    .all(|(w, cell)| cell.load(Ordering::Relaxed) == *w);
            if same {
                continue;
            }
            g[at + group::QUERIES].store(0, Ordering::Relaxed);
            g[at + group::BLOCKED].store(0, Ordering::Relaxed);
            for (w, cell) in words.iter().zip(&g[at + group::NAME..]) {
                cell.store(*w, Ordering::Relaxed);
            }
            g[at + group::NAME_LEN].store(bytes.len() as u64, Ordering::Release);
        }
        view.header_word(header::GROUPS)
            .store(count as u64, Ordering::Release);
    }

    /// Publishes the image generation now serving (generations only go up).
    pub fn set_generation(&self, generation: u64) {
        self.shm.words()[header::GENERATION].fetch_max(generation, Ordering::Release);
    }

    /// Publishes that blocking is off until `until_unix_ms` (0: on;
    /// `u64::MAX`: until switched on again). `stats` shows it.
    pub fn set_blocking_disabled_until(&self, until_unix_ms: u64) {
        self.shm.words()[header::DISABLED_UNTIL_MS].store(until_unix_ms, Ordering::Release);
    }

    /// Marks the server stopped (readers then say so); also done on drop.
    pub fn mark_stopped(&self) {
        let stopped = &self.shm.words()[header::STOPPED_MS];
        let _ = stopped.compare_exchange(0, unix_ms(), Ordering::Release, Ordering::Relaxed);
    }

    #[cfg(test)]
    pub(super) fn words(&self) -> &[AtomicU64] {
        self.shm.words()
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.mark_stopped();
        if !self.installed.load(Ordering::Relaxed) {
            let _ = std::fs::remove_file(&self.fresh);
        }
    }
}

fn upstream_at(index: usize) -> Option<usize> {
    (index < MAX_UPSTREAMS).then(|| counter::UPSTREAMS + index * counter::UPSTREAM_WORDS)
}

/// Adds one to a minute bucket word (`minute << 32 | count`), starting it
/// over when it still holds an older (or, after a clock change, another)
/// minute. Lock-free: the compare-and-swap loop runs once a minute per
/// bucket; every other add is a plain `fetch_add`.
fn bump_minute(word: &AtomicU64, minute: u64) {
    let mut current = word.load(Ordering::Relaxed);
    loop {
        if current >> 32 == minute {
            word.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match word.compare_exchange_weak(
            current,
            minute << 32 | 1,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => return,
            Err(actual) => current = actual,
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::telemetry::{Counters, Cursor, Segment};

    /// A fresh segment in a temporary folder, with its reader.
    pub(crate) fn segment(slots: usize) -> (tempfile::TempDir, Telemetry, Segment) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/telemetry");
        let upstreams = [
            "127.0.0.1:5300".parse().unwrap(),
            "[::1]:53".parse().unwrap(),
        ];
        let telemetry = Telemetry::create(&path, slots, &upstreams).unwrap();
        telemetry.install().unwrap();
        let segment = Segment::open(&path).unwrap();
        (dir, telemetry, segment)
    }

    pub(crate) fn query(name: &str, outcome: Outcome, qtype: RecordType) -> Query<'_> {
        Query {
            client: IpAddr::V4(Ipv4Addr::new(192, 168, 1, 20)),
            name,
            qtype,
            outcome,
            protocol: Protocol::Udp,
            list: (outcome == Outcome::Blocked).then_some("household"),
            asked_ms: unix_ms(),
            latency: Duration::from_micros(250),
            groups: 1,
        }
    }

    #[test]
    fn counters_match_the_queries_recorded() {
        let (_dir, telemetry, segment) = segment(64);
        let name = "ads.example.com";
        let sent = [
            (Outcome::Blocked, RecordType::A, 7),
            (Outcome::Forwarded, RecordType::AAAA, 5),
            (Outcome::Cached, RecordType::HTTPS, 3),
            (Outcome::Refused, RecordType::NS, 2),
        ];
        for (outcome, qtype, n) in sent {
            for i in 0..n {
                let mut q = query(name, outcome, qtype);
                if i == 0 {
                    q.protocol = Protocol::Tcp;
                }
                telemetry.record(&q);
            }
        }
        let c = segment.view().counters();
        assert_eq!(c.total(), 17);
        assert_eq!(c.outcome(Outcome::Blocked), 7);
        assert_eq!(c.outcome(Outcome::Forwarded), 5);
        assert_eq!(c.outcome(Outcome::Cached), 3);
        assert_eq!(c.outcome(Outcome::Refused), 2);
        assert_eq!(c.outcome(Outcome::Failed), 0);
        assert_eq!(c.qtype(QType::A), 7);
        assert_eq!(c.qtype(QType::Aaaa), 5);
        assert_eq!(c.qtype(QType::Https), 3);
        assert_eq!(c.qtype(QType::Other), 2);
        assert_eq!(c.qtypes.iter().sum::<u64>(), c.total());
        assert_eq!(c.protocols, [13, 4]);
        assert_eq!(c.recent(unix_ms(), 60), (17, 7));
        assert_eq!(segment.view().ring().head(), 17);
    }

    #[test]
    fn a_query_counts_in_each_of_its_groups() {
        let (_dir, telemetry, segment) = segment(64);
        telemetry.set_groups(["default", "kids", "tv"]);
        let q = |outcome, groups| Query {
            groups,
            ..query("ads.example.com", outcome, RecordType::A)
        };
        telemetry.record(&q(Outcome::Blocked, 0b110));
        telemetry.record(&q(Outcome::Forwarded, 0b010));
        telemetry.record(&q(Outcome::Cached, 0b001));
        let names = |c: &Counters| -> Vec<(String, u64, u64)> {
            let g = c.groups.iter();
            g.map(|g| (g.name.clone(), g.queries, g.blocked)).collect()
        };
        let c = segment.view().counters();
        assert_eq!(
            names(&c),
            [
                ("default".to_owned(), 1, 0),
                ("kids".to_owned(), 2, 1),
                ("tv".to_owned(), 1, 1)
            ]
        );
        let mut events = Vec::new();
        segment
            .view()
            .ring()
            .read(&mut Cursor::at(0), 10, &mut events);
        let groups: Vec<u64> = events.iter().map(|e| e.groups).collect();
        assert_eq!(groups, [0b110, 0b010, 0b001]);

        // The same names keep their counts; a renamed group starts again,
        // and a group no longer in the image is no longer shown.
        telemetry.set_groups(["default", "kids"]);
        assert_eq!(names(&segment.view().counters()).len(), 2);
        telemetry.set_groups(["default", "teens", "tv"]);
        let c = segment.view().counters();
        assert_eq!(
            names(&c),
            [
                ("default".to_owned(), 1, 0),
                ("teens".to_owned(), 0, 0),
                ("tv".to_owned(), 1, 1)
            ]
        );
    }

    #[test]
    fn upstream_tries_failures_and_latency_histogram() {
        let (_dir, telemetry, segment) = segment(64);
        telemetry.upstream_answered(0, Duration::from_micros(800));
        telemetry.upstream_answered(0, Duration::from_millis(7));
        telemetry.upstream_answered(0, Duration::from_secs(3));
        telemetry.upstream_failed(0);
        telemetry.upstream_failed(1);
        telemetry.upstream_failed(8); // past the 8th: ignored, no panic
        telemetry.upstream_rtt(0, 2_500, true);
        telemetry.upstream_rtt(0, 2_400, false);
        telemetry.upstream_rtt(9, 1, true);
        let c = segment.view().counters();
        let first = &c.upstreams[0];
        assert_eq!(first.addr, "127.0.0.1:5300".parse().unwrap());
        assert_eq!(c.upstreams[1].addr, "[::1]:53".parse().unwrap());
        assert_eq!((first.tries, first.failures, first.answered()), (4, 1, 3));
        assert_eq!(first.buckets[0], 1);
        assert_eq!(first.buckets[3], 1);
        assert_eq!(first.buckets[10], 1);
        assert_eq!((first.srtt_us, first.first), (2_400, 1));
        assert_eq!(first.latency_sum_us, 800 + 7_000 + 3_000_000);
        assert_eq!((c.upstreams[1].tries, c.upstreams[1].failures), (1, 1));
    }

    #[test]
    fn rate_limited_and_overload_counters_are_separate_from_queries() {
        let (_dir, telemetry, segment) = segment(64);
        for admission in [
            Admission::Refuse,
            Admission::Refuse,
            Admission::Drop,
            Admission::Serve,
        ] {
            telemetry.rate_limited(admission);
        }
        telemetry.upstream_overloaded();
        let c = segment.view().counters();
        assert_eq!(
            (
                c.rate_limited_refused,
                c.rate_limited_dropped,
                c.upstream_overload
            ),
            (2, 1, 1)
        );
        assert_eq!(c.total(), 0);
        assert_eq!(c.ring_dropped, 0);
        assert_eq!(segment.view().ring().head(), 0);
    }

    #[test]
    fn header_fields_reach_readers() {
        let (_dir, telemetry, segment) = segment(64);
        let header = segment.header();
        assert_eq!(header.pid, std::process::id());
        assert!(header.started_unix_ms > 0 && header.started_unix_ms <= unix_ms());
        assert_eq!(
            (header.generation, header.blocking_disabled_until_ms),
            (0, 0)
        );
        assert!(header.blocking_enabled(unix_ms()));
        assert!(segment.server_running());
        telemetry.set_generation(42);
        telemetry.set_blocking_disabled_until(unix_ms() + 60_000);
        let header = segment.header();
        assert_eq!(header.generation, 42);
        assert!(!header.blocking_enabled(unix_ms()));
        assert!(header.blocking_enabled(unix_ms() + 61_000));
        drop(telemetry);
        assert!(segment.header().stopped_unix_ms > 0);
        assert!(!segment.server_running());
    }

    #[test]
    fn segment_is_invisible_until_installed_and_removed_if_never() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("telemetry");
        let telemetry = Telemetry::create(&path, 64, &[]).unwrap();
        assert!(!path.exists());
        drop(telemetry);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let telemetry = Telemetry::create(&path, 64, &[]).unwrap();
        telemetry.install().unwrap();
        drop(telemetry);
        assert!(path.exists(), "an installed segment outlives its server");
    }

    #[test]
    fn minute_bucket_starts_over_for_a_new_minute() {
        let word = AtomicU64::new(0);
        bump_minute(&word, 100);
        bump_minute(&word, 100);
        assert_eq!(word.load(Ordering::Relaxed), 100 << 32 | 2);
        bump_minute(&word, 164);
        assert_eq!(word.load(Ordering::Relaxed), 164 << 32 | 1);
    }
}
