//! What the page's reads of the query history cost over a week of a busy
//! household: 350,000 queries (7 days, 3,000 names of which a few are asked
//! most, 20 clients, about 20 % blocked) staged and flushed into a history
//! file in a temp dir, as `ralo web` writes it. Each benchmark is one read
//! of the API over that file:
//!
//! - `queries/*`: the query log's first page (100 rows, newest first) with
//!   its counts, under each typical filter: none, one client, one exact
//!   name, a `*substring*`, a broad `*.com`, blocked, and the answered
//!   outcomes (several at once); `queries/page-50` is a page deep down;
//! - `summary/24h` and `summary/7d`, `top-names/24h`, `slots/24h` (the 24 h
//!   chart in 10-minute slots), `client-slots/24h`, `days/7d`;
//! - `flush/minute`: a busy minute (300 queries) staged and flushed, as the
//!   follower does once a minute (every 60th also drops the oldest hour).
//!
//! The build prints the file's size and how long building took; after the
//! reads it prints how many pages one flush appends to the WAL (what the SD
//! card gets) for an average minute (34 queries), and for one that also
//! drops the oldest hour.
//!
//! Run: `cargo bench --bench history` (`-- --quick` for a short run).
//! `RALO_HISTORY_KEEP=FILE` keeps a copy of the built file (with
//! `RALO_HISTORY_NOW=1` its week ends now).

use std::hint::black_box;
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use hickory_proto::rr::RecordType;
use ralo::telemetry::Event;
use ralo::vocab::{Outcome, Protocol};
use ralo::web::history::{Filter, History};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Queries in the file.
const ROWS: usize = 350_000;
/// Distinct names and clients.
const NAMES: usize = 3_000;
const CLIENTS: usize = 20;
/// The end of the week (ms since the Unix epoch) and its length.
/// The end of the week of traffic: a fixed day, so runs compare, or now
/// with `RALO_HISTORY_NOW=1` (for `benches/web.sh`, whose server keeps 7
/// days back from now).
fn now_ms() -> u64 {
    const FIXED: u64 = 1_760_000_000_000;
    if std::env::var_os("RALO_HISTORY_NOW").is_some() {
        ralo::vocab::unix_ms()
    } else {
        FIXED
    }
}
const DAY: u64 = 86_400_000;
const WEEK: u64 = 7 * DAY;
const MINUTE: u64 = 60_000;
/// Events per stage-and-flush while building, and in `flush/minute`.
const BATCH: usize = 10_000;
const BUSY_MINUTE: usize = 300;
/// Queries in an average minute of the week.
const AVERAGE_MINUTE: usize = ROWS / (7 * 24 * 60);

/// Picks an index by weight: the cumulative weights, searched.
struct Weighted(Vec<f64>);

impl Weighted {
    fn new(weights: impl IntoIterator<Item = f64>) -> Weighted {
        let mut sum = 0.0;
        Weighted(
            weights
                .into_iter()
                .map(|w| {
                    sum += w;
                    sum
                })
                .collect(),
        )
    }

    fn pick(&self, rng: &mut StdRng) -> usize {
        let total = self.0.last().copied().unwrap_or(0.0);
        let x = rng.random::<f64>() * total;
        self.0.partition_point(|&c| c <= x).min(self.0.len() - 1)
    }
}

/// The household's traffic, seeded.
struct Traffic {
    rng: StdRng,
    names: Vec<String>,
    blocked: Vec<bool>,
    clients: Vec<IpAddr>,
    name_weights: Weighted,
    client_weights: Weighted,
    qtypes: Weighted,
    answers: Weighted,
}

const QTYPES: [(RecordType, f64); 6] = [
    (RecordType::A, 45.0),
    (RecordType::AAAA, 35.0),
    (RecordType::HTTPS, 15.0),
    (RecordType::PTR, 3.0),
    (RecordType::TXT, 1.0),
    (RecordType::SRV, 1.0),
];
/// How the names no list blocks are answered.
const ANSWERS: [(Outcome, f64); 7] = [
    (Outcome::Cached, 55.0),
    (Outcome::Forwarded, 40.0),
    (Outcome::Local, 2.0),
    (Outcome::Allowed, 1.0),
    (Outcome::Stale, 1.0),
    (Outcome::Failed, 0.5),
    (Outcome::Refused, 0.5),
];
const WORDS: [&str; 20] = [
    "ads", "track", "cdn", "api", "static", "img", "mail", "www", "login", "metrics", "pixel",
    "stats", "edge", "video", "news", "shop", "cloud", "sync", "push", "update",
];
const SITES: [&str; 9] = [
    "example",
    "google",
    "apple",
    "netflix",
    "doubleclick",
    "facebook",
    "amazon",
    "microsoft",
    "akamai",
];
const TLDS: [&str; 6] = ["com", "net", "org", "io", "de", "co.uk"];
const LISTS: [&str; 3] = ["hagezi", "stevenblack", "household"];

impl Traffic {
    fn new(seed: u64) -> Traffic {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut names = std::collections::BTreeSet::new();
        while names.len() < NAMES {
            let labels: Vec<String> = (0..rng.random_range(1..=3))
                .map(|_| {
                    let word = WORDS[rng.random_range(0..WORDS.len())];
                    format!("{word}{}", rng.random_range(0..100))
                })
                .collect();
            let site = SITES[rng.random_range(0..SITES.len())];
            let tld = TLDS[rng.random_range(0..TLDS.len())];
            names.insert(format!(
                "{}.{site}{}.{tld}",
                labels.join("."),
                rng.random_range(0..50)
            ));
        }
        let mut names: Vec<String> = names.into_iter().collect();
        // Popularity by rank, in a random order of names.
        for i in (1..names.len()).rev() {
            names.swap(i, rng.random_range(0..=i));
        }
        // Every fifth name by rank, from the third: about a fifth of queries.
        let blocked = (0..NAMES).map(|rank| rank % 5 == 2).collect();
        let clients = (0..CLIENTS)
            .map(|i| match i {
                18 => "fd00::1:2".parse(),
                19 => "fd00::abcd:1234:5678".parse(),
                _ => format!("192.168.1.{}", i + 10).parse(),
            })
            .collect::<Result<_, _>>()
            .expect("addresses");
        Traffic {
            rng,
            names,
            blocked,
            clients,
            name_weights: Weighted::new((0..NAMES).map(|r| 1.0 / (r as f64 + 1.0).powf(0.9))),
            client_weights: Weighted::new((0..CLIENTS).map(|r| 1.0 / (r as f64 + 1.0))),
            qtypes: Weighted::new(QTYPES.map(|(_, w)| w)),
            answers: Weighted::new(ANSWERS.map(|(_, w)| w)),
        }
    }

    /// One query at `time_ms`.
    fn event(&mut self, number: u64, time_ms: u64) -> Event {
        let rank = self.name_weights.pick(&mut self.rng);
        let (outcome, list) = if self.blocked[rank] {
            let list = match self.rng.random_range(0..20) {
                0 => LISTS[2],
                1..=5 => LISTS[1],
                _ => LISTS[0],
            };
            (Outcome::Blocked, Some(list.to_owned()))
        } else {
            (ANSWERS[self.answers.pick(&mut self.rng)].0, None)
        };
        Event {
            number,
            time_unix_ms: time_ms,
            client: self.clients[self.client_weights.pick(&mut self.rng)],
            name: self.names[rank].clone(),
            name_truncated: false,
            qtype: QTYPES[self.qtypes.pick(&mut self.rng)].0,
            outcome,
            protocol: if self.rng.random_range(0..50) == 0 {
                Protocol::Tcp
            } else {
                Protocol::Udp
            },
            list,
            latency_us: self.rng.random_range(50..80_000),
            groups: 1,
        }
    }
}

/// Writes a week of traffic to a history at `path`, as the follower does.
fn build(path: &Path, traffic: &mut Traffic) {
    let mut times: Vec<u64> = (0..ROWS)
        .map(|_| now_ms() - WEEK + traffic.rng.random_range(0..WEEK))
        .collect();
    times.sort_unstable();
    let events: Vec<Event> = times
        .iter()
        .enumerate()
        .map(|(n, &t)| traffic.event(n as u64, t))
        .collect();
    let blocked = events
        .iter()
        .filter(|e| e.outcome == Outcome::Blocked)
        .count();
    let share = blocked as f64 / ROWS as f64;
    assert!((0.15..0.25).contains(&share), "{share:.3} blocked");

    let started = Instant::now();
    let mut history = History::open(path, 7).expect("a new history");
    for batch in events.chunks(BATCH) {
        history.stage(batch).expect("staged");
        let last = batch.last().map_or(now_ms(), |e| e.time_unix_ms);
        history.flush(last, None).expect("flushed");
    }
    drop(history);
    let size = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        std::fs::metadata(name).map_or(0, |m| m.len())
    };
    eprintln!(
        "history: {ROWS} rows ({:.1} % blocked) staged and flushed in {:.1} s; file {:.1} MB ({} bytes a row), WAL {} bytes",
        share * 100.0,
        started.elapsed().as_secs_f64(),
        size("") as f64 / 1e6,
        size("") / ROWS as u64,
        size("-wal"),
    );
}

/// Pages one flush appends to the WAL: the history opened afresh (closing
/// it checkpoints and removes the WAL), `count` queries from `start` staged
/// and flushed at `now`; and the rows that flush dropped.
fn pages_written(path: &Path, traffic: &mut Traffic, start: u64, now: u64) -> (u64, usize) {
    let events: Vec<Event> = (0..AVERAGE_MINUTE as u64)
        .map(|i| traffic.event(i, start + i * 1000))
        .collect();
    let mut history = History::open(path, 7).expect("the history reopens");
    history.stage(&events).expect("staged");
    let flushed = history.flush(now, None).expect("flushed");
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let bytes = std::fs::metadata(wal).map_or(0, |m| m.len());
    // A 32-byte header, then frames of a 24-byte header and a 4 KiB page.
    (bytes.saturating_sub(32) / (24 + 4096), flushed.expired)
}

fn reads(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("history.sqlite");
    let mut traffic = Traffic::new(7);
    build(&path, &mut traffic);
    if let Some(keep) = std::env::var_os("RALO_HISTORY_KEEP") {
        // `benches/web.sh` serves this file from `ralo web`.
        std::fs::copy(&path, &keep).expect("copy the history");
    }
    let history = History::open(&path, 7).expect("the history reopens");

    let week = Filter {
        from_ms: Some(now_ms() - WEEK),
        until_ms: Some(now_ms()),
        ..Filter::default()
    };
    let third_client = traffic.clients[2].to_string();
    let tenth_name = traffic.names[9].clone();
    let filters = [
        ("none", week.clone()),
        (
            "client",
            Filter {
                client: Some(third_client),
                ..week.clone()
            },
        ),
        (
            "name",
            Filter {
                name: Some(tenth_name),
                ..week.clone()
            },
        ),
        (
            "substring",
            Filter {
                name: Some("*metrics*".to_owned()),
                ..week.clone()
            },
        ),
        (
            "broad-substring",
            Filter {
                name: Some("*.com".to_owned()),
                ..week.clone()
            },
        ),
        (
            "blocked",
            Filter {
                outcomes: vec![Outcome::Blocked],
                ..week.clone()
            },
        ),
        (
            "answered",
            Filter {
                outcomes: vec![Outcome::Cached, Outcome::Forwarded, Outcome::Local],
                ..week.clone()
            },
        ),
        (
            "page-50",
            Filter {
                cursor: Some(i64::MAX),
                start: 5_000,
                ..week.clone()
            },
        ),
    ];
    let mut group = c.benchmark_group("history");
    for (label, filter) in &filters {
        let page = history.queries(filter).expect("the query log reads");
        assert_eq!(page.rows.len(), 100, "{label}: a full page");
        eprintln!(
            "history: queries/{label}: {} of {} rows",
            page.filtered, page.total
        );
        group.bench_function(format!("queries/{label}"), |b| {
            b.iter(|| history.queries(black_box(filter)).expect("read"))
        });
    }
    let day_ago = now_ms() - DAY;
    group.bench_function("summary/24h", |b| {
        b.iter(|| history.summary(black_box(day_ago), now_ms()).expect("read"))
    });
    group.bench_function("summary/7d", |b| {
        b.iter(|| {
            history
                .summary(black_box(now_ms() - WEEK), now_ms())
                .expect("read")
        })
    });
    group.bench_function("top-names/24h", |b| {
        b.iter(|| {
            history
                .top_names(black_box(day_ago), now_ms(), false, 10)
                .expect("read")
        })
    });
    group.bench_function("slots/24h", |b| {
        b.iter(|| {
            history
                .slots(black_box(day_ago), now_ms(), 10 * MINUTE)
                .expect("read")
        })
    });
    group.bench_function("client-slots/24h", |b| {
        b.iter(|| {
            history
                .client_slots(black_box(day_ago), now_ms(), 10 * MINUTE, 10)
                .expect("read")
        })
    });
    group.bench_function("days/7d", |b| {
        b.iter(|| {
            history
                .days(black_box(now_ms() - WEEK), now_ms(), 3600)
                .expect("read")
        })
    });

    drop(history);
    let (pages, _) = pages_written(&path, &mut traffic, now_ms(), now_ms() + MINUTE);
    let (pages_hour, expired) = pages_written(
        &path,
        &mut traffic,
        now_ms() + MINUTE,
        now_ms() + 2 * 60 * MINUTE,
    );
    eprintln!(
        "history: a flush of {AVERAGE_MINUTE} queries appends {pages} pages of 4 KiB to the WAL; \
         {pages_hour} pages when it also drops the oldest hour ({expired} rows)"
    );
    let mut history = History::open(&path, 7).expect("the history reopens");
    let mut minute = 120;
    group.bench_function("flush/minute", |b| {
        b.iter(|| {
            minute += 1;
            let start = now_ms() + minute * MINUTE;
            let events: Vec<Event> = (0..BUSY_MINUTE as u64)
                .map(|i| traffic.event(i, start + i * (MINUTE / BUSY_MINUTE as u64)))
                .collect();
            history.stage(&events).expect("staged");
            history.flush(start + MINUTE, None).expect("flushed")
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = reads
}
criterion_main!(benches);
