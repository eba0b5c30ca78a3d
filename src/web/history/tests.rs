//! The history against a plain walk over the same events.

use std::collections::BTreeMap;
use std::path::Path;

use hickory_proto::rr::RecordType;
use rusqlite::Connection;

use crate::telemetry::Event;
use crate::vocab::{Outcome, Protocol};

use super::error::*;
use super::query::*;
use super::store::*;

const T0: u64 = 1_760_000_000_000;
const MINUTE: u64 = 60_000;
const DAY: u64 = 86_400_000;

const NAMES_USED: [&str; 8] = [
    "example.com",
    "www.example.com",
    "ads.tracker.net",
    "tracker.net",
    "cdn.example.org",
    "mail.example.com",
    "ads.example.com",
    "video.cdn.net",
];
const CLIENTS_USED: [&str; 4] = ["192.168.1.10", "192.168.1.11", "10.0.0.5", "fd00::1"];
const QTYPES: [RecordType; 3] = [RecordType::A, RecordType::AAAA, RecordType::HTTPS];

fn event(time_ms: u64, client: &str, name: &str, qtype: RecordType, outcome: Outcome) -> Event {
    Event {
        number: 0,
        time_unix_ms: time_ms,
        client: client.parse().expect("an address"),
        name: name.to_owned(),
        name_truncated: false,
        qtype,
        outcome,
        protocol: Protocol::Udp,
        list: (outcome == Outcome::Blocked).then(|| "hagezi".to_owned()),
        latency_us: 1200,
        groups: 1,
    }
}

/// `count` queries `step` ms apart from `from`, every name, client,
/// type and outcome mixed with every other.
fn traffic(count: usize, from: u64, step: u64) -> Vec<Event> {
    (0..count)
        .map(|i| {
            let mut e = event(
                from + i as u64 * step,
                CLIENTS_USED[(i / 3) % 4],
                NAMES_USED[(i * 5) % 8],
                QTYPES[(i * 2 + i / 8) % 3],
                Outcome::ALL[(i * 3 + i / 5) % 8],
            );
            if e.outcome == Outcome::Blocked && i % 2 == 1 {
                e.list = Some("household".to_owned());
            }
            if i % 4 == 0 {
                e.protocol = Protocol::Tcp;
            }
            e.latency_us = i as u32;
            e
        })
        .collect()
}

/// `events` with ids from 1 in order, as the history numbers them.
fn numbered(events: &[Event]) -> Vec<(i64, &Event)> {
    events.iter().zip(1..).map(|(e, id)| (id, e)).collect()
}

/// `pattern` with `*` for any run of characters matches `text`.
fn matches(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            text.starts_with(head) && (head.len()..=text.len()).any(|i| matches(rest, &text[i..]))
        }
    }
}

/// What a plain walk over `events` says `filter` selects, newest first.
fn plain(events: &[Event], filter: &Filter) -> (u64, Vec<i64>) {
    let mut total = 0;
    let mut ids = Vec::new();
    for (id, e) in numbered(events).into_iter().rev() {
        let t = e.time_unix_ms;
        if filter.from_ms.is_some_and(|f| t < f)
            || filter.until_ms.is_some_and(|u| t >= u)
            || filter.cursor.is_some_and(|c| id > c)
        {
            continue;
        }
        total += 1;
        let text = |f: &Option<String>, value: &str| {
            f.as_ref()
                .is_none_or(|p| matches(&p.to_ascii_lowercase(), value))
        };
        if text(&filter.name, &e.name)
            && text(&filter.client, &e.client.to_string())
            && filter
                .qtype
                .as_ref()
                .is_none_or(|q| q.eq_ignore_ascii_case(&e.qtype.to_string()))
            && (filter.outcomes.is_empty() || filter.outcomes.contains(&e.outcome))
            && filter
                .list
                .as_ref()
                .is_none_or(|l| e.list.as_ref() == Some(l))
        {
            ids.push(id);
        }
    }
    (total, ids)
}

fn ids(page: &Page) -> Vec<i64> {
    page.rows.iter().map(|r| r.id).collect()
}

fn all(history: &History) -> Page {
    let filter = Filter {
        length: 100_000,
        ..Filter::default()
    };
    history.queries(&filter).expect("the query log reads")
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[test]
fn staged_rows_are_read_at_once_and_kept_only_once_flushed() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("history.sqlite");
    let events = traffic(10, T0, MINUTE);
    let mut history = History::open(&path, 7).expect("a new history");
    history.stage(&events).expect("staged");
    assert_eq!(history.staged(), 10);
    let page = all(&history);
    assert_eq!(page.rows.len(), 10);
    assert_eq!(page.rows[0].name, events[9].name);
    assert_eq!(page.rows[0].client, events[9].client.to_string());
    assert_eq!(page.rows[0].qtype, events[9].qtype.to_string());
    assert_eq!(page.rows[0].outcome, events[9].outcome);
    assert_eq!(page.rows[0].protocol, events[9].protocol);
    assert_eq!(page.rows[0].latency_us, events[9].latency_us);
    assert_eq!(page.rows[0].time_ms, events[9].time_unix_ms);
    drop(history);

    let mut history = History::open(&path, 7).expect("reopens");
    assert_eq!(all(&history).total, 0, "staged rows are not on disk");
    history.stage(&events).expect("staged");
    history.flush(T0 + DAY, None).expect("flushed");
    assert_eq!(history.staged(), 0);
    drop(history);

    let history = History::open(&path, 7).expect("reopens");
    let page = all(&history);
    assert_eq!(page.total, 10);
    let names: Vec<&str> = page.rows.iter().map(|r| r.name.as_str()).collect();
    let expected: Vec<&str> = events.iter().rev().map(|e| e.name.as_str()).collect();
    assert_eq!(names, expected);
}

#[test]
fn staging_writes_nothing_to_the_file() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("history.sqlite");
    let wal = dir.path().join("history.sqlite-wal");
    let mut history = History::open(&path, 7).expect("a new history");
    history.stage(&traffic(5, T0, MINUTE)).expect("staged");
    history.flush(T0, None).expect("flushed");
    let before = (file_len(&path), file_len(&wal), history.commits());
    history
        .stage(&traffic(500, T0 + DAY, 1000))
        .expect("staged");
    history.stage_loss(T0 + DAY, 3);
    assert_eq!((file_len(&path), file_len(&wal), history.commits()), before);
    assert_eq!(all(&history).total, 505);
}

#[test]
fn a_flush_is_one_transaction_and_nothing_new_makes_none() {
    let mut history = History::open_in_memory(7).expect("a history");
    let start = history.commits();
    assert!(!history.flush(T0, None).expect("flushed").committed);
    assert_eq!(history.commits(), start);

    history.stage(&traffic(50, T0, MINUTE)).expect("staged");
    history
        .stage(&traffic(50, T0 + DAY, MINUTE))
        .expect("staged");
    let flushed = history.flush(T0 + DAY, None).expect("flushed");
    assert_eq!(
        flushed,
        Flushed {
            committed: true,
            written: 100,
            expired: 0
        }
    );
    assert_eq!(history.commits(), start + 1);
    assert!(!history.flush(T0 + DAY, None).expect("flushed").committed);

    let resume = Resume {
        server_started_ms: T0,
        next: 100,
    };
    assert!(
        history
            .flush(T0 + DAY, Some(resume))
            .expect("flushed")
            .committed
    );
    assert!(
        !history
            .flush(T0 + DAY, Some(resume))
            .expect("flushed")
            .committed
    );
    history.stage_loss(T0 + DAY, 7);
    assert!(
        history
            .flush(T0 + DAY, Some(resume))
            .expect("flushed")
            .committed
    );
    assert_eq!(history.commits(), start + 3);
}

#[test]
fn ids_stay_from_staged_to_flushed_and_continue_after_reopen() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("history.sqlite");
    let mut history = History::open(&path, 1).expect("a new history");
    history.stage(&traffic(5, T0, MINUTE)).expect("staged");
    assert_eq!(ids(&all(&history)), [5, 4, 3, 2, 1]);
    history.flush(T0, None).expect("flushed");
    assert_eq!(ids(&all(&history)), [5, 4, 3, 2, 1]);
    drop(history);

    let mut history = History::open(&path, 1).expect("reopens");
    history
        .stage(&traffic(3, T0 + MINUTE * 10, MINUTE))
        .expect("staged");
    assert_eq!(ids(&all(&history)), [8, 7, 6, 5, 4, 3, 2, 1]);
    // Retention empties the table; the ids still go on.
    let flushed = history.flush(T0 + 10 * DAY, None).expect("flushed");
    assert_eq!(flushed.expired, 8);
    drop(history);

    let mut history = History::open(&path, 1).expect("reopens");
    history
        .stage(&traffic(1, T0 + 10 * DAY, MINUTE))
        .expect("staged");
    assert_eq!(ids(&all(&history)), [9]);
}

#[test]
fn retention_drops_old_rows_and_their_names_and_keeps_hour_counts() {
    let mut history = History::open_in_memory(7).expect("a history");
    let old = vec![event(
        T0 - 10 * DAY,
        "10.9.9.9",
        "old.example",
        RecordType::A,
        Outcome::Cached,
    )];
    let recent = traffic(20, T0 - DAY, MINUTE);
    history.stage(&old).expect("staged");
    history.stage(&recent).expect("staged");
    let flushed = history.flush(T0, None).expect("flushed");
    assert_eq!(flushed.expired, 1);
    assert_eq!(all(&history).total, 20);

    let days = history.days(T0 - 11 * DAY, T0, 0).expect("days read");
    let total: u64 = days.iter().map(|d| d.counts.iter().sum::<u64>()).sum();
    assert_eq!(total, 21, "the hour counts keep the expired row");
    let summary = history.summary(T0 - 11 * DAY, T0).expect("summary");
    assert_eq!(summary.total, 21, "whole hours count from the hour counts");
    assert_eq!(
        summary.unique_clients, 4,
        "distinct clients from the rows kept"
    );

    // Rows go in whole hours: one just past the retention stays until
    // its hour is past it.
    let edge = T0 - 7 * DAY - (T0 % 3_600_000) / 2;
    history
        .stage(&[event(
            edge,
            "10.0.0.1",
            "edge.example",
            RecordType::A,
            Outcome::Cached,
        )])
        .expect("staged");
    assert_eq!(history.flush(T0, None).expect("flushed").expired, 0);
    let hour_later = T0 - T0 % 3_600_000 + 3_600_000;
    history.stage_loss(hour_later, 1);
    assert_eq!(history.flush(hour_later, None).expect("flushed").expired, 1);

    let known = |table: &str, column: &str, text: &str| -> i64 {
        history
            .conn
            .query_row(
                &format!("SELECT count(*) FROM main.{table} WHERE {column} = ?1"),
                [text],
                |row| row.get(0),
            )
            .expect("counted")
    };
    assert_eq!(known("names", "name", "old.example"), 0);
    assert_eq!(known("clients", "ip", "10.9.9.9"), 0);
    assert_eq!(known("names", "name", "example.com"), 1);
}

#[test]
fn hour_counts_older_than_a_year_go() {
    let mut history = History::open_in_memory(7).expect("a history");
    let ancient = T0 - 400 * DAY;
    history.stage(&traffic(5, ancient, MINUTE)).expect("staged");
    history
        .stage(&traffic(5, T0 - DAY, MINUTE))
        .expect("staged");
    history.flush(T0, None).expect("flushed");
    let count = |from: u64| -> u64 {
        history
            .days(from, from + DAY, 0)
            .expect("days read")
            .iter()
            .map(|d| d.counts.iter().sum::<u64>())
            .sum()
    };
    assert_eq!(count(ancient), 0);
    assert_eq!(count(T0 - DAY), 5);
}

#[test]
fn each_filter_selects_what_a_plain_walk_selects() {
    let events = traffic(240, T0, MINUTE);
    let mut history = History::open_in_memory(30).expect("a history");
    history.stage(&events[..150]).expect("staged");
    history.flush(T0 + DAY, None).expect("flushed");
    history.stage(&events[150..]).expect("staged");

    let text = |s: &str| Some(s.to_owned());
    let filters = [
        Filter::default(),
        Filter {
            from_ms: Some(T0 + 30 * MINUTE),
            until_ms: Some(T0 + 200 * MINUTE),
            ..Filter::default()
        },
        Filter {
            name: text("tracker.net"),
            ..Filter::default()
        },
        Filter {
            name: text("Ads.Example.COM"),
            ..Filter::default()
        },
        Filter {
            name: text("*.example.com"),
            ..Filter::default()
        },
        Filter {
            name: text("ads*"),
            ..Filter::default()
        },
        Filter {
            name: text("*track*"),
            ..Filter::default()
        },
        Filter {
            name: text("nowhere.test"),
            ..Filter::default()
        },
        Filter {
            client: text("192.168.1.11"),
            ..Filter::default()
        },
        Filter {
            client: text("192.168.1.*"),
            ..Filter::default()
        },
        Filter {
            client: text("fd00::1"),
            ..Filter::default()
        },
        Filter {
            qtype: text("aaaa"),
            ..Filter::default()
        },
        Filter {
            outcomes: vec![Outcome::Blocked],
            ..Filter::default()
        },
        Filter {
            outcomes: vec![Outcome::Cached, Outcome::Forwarded, Outcome::Failed],
            ..Filter::default()
        },
        Filter {
            list: text("household"),
            ..Filter::default()
        },
        Filter {
            from_ms: Some(T0 + 100 * MINUTE),
            client: text("10.0.0.5"),
            outcomes: vec![Outcome::Blocked, Outcome::Allowed],
            name: text("*example*"),
            ..Filter::default()
        },
    ];
    for filter in filters {
        let filter = Filter {
            length: 1000,
            ..filter
        };
        let page = history.queries(&filter).expect("the query log reads");
        let (total, expected) = plain(&events, &filter);
        let nowhere = filter.name.as_deref() == Some("nowhere.test");
        assert_eq!(expected.is_empty(), nowhere, "{filter:?} selects nothing");
        assert_eq!(page.total, total, "{filter:?}");
        assert_eq!(page.filtered, expected.len() as u64, "{filter:?}");
        assert_eq!(ids(&page), expected, "{filter:?}");
        assert_eq!(page.cursor, Some(240));
    }
    let page = history
        .queries(&Filter {
            outcomes: vec![Outcome::Blocked],
            ..Filter::default()
        })
        .expect("the query log reads");
    assert!(!page.rows.is_empty());
    assert!(page.rows.iter().all(|r| r.list.is_some()));
}

#[test]
fn wildcards_match_every_other_character_as_itself() {
    let mut history = History::open_in_memory(7).expect("a history");
    let names = ["a?c.test", "abc.test", "a[b]c.test", "a%c.test", "a_c.test"];
    let events: Vec<Event> = names
        .iter()
        .zip(0..)
        .map(|(name, i)| event(T0 + i, "10.0.0.1", name, RecordType::A, Outcome::Cached))
        .collect();
    history.stage(&events).expect("staged");
    let found = |pattern: &str| -> Vec<String> {
        let filter = Filter {
            name: Some(pattern.to_owned()),
            ..Filter::default()
        };
        let mut names: Vec<String> = history
            .queries(&filter)
            .expect("the query log reads")
            .rows
            .into_iter()
            .map(|r| r.name)
            .collect();
        names.sort();
        names
    };
    assert_eq!(found("a?c*"), ["a?c.test"]);
    assert_eq!(found("a[b]*"), ["a[b]c.test"]);
    assert_eq!(found("a%c*"), ["a%c.test"]);
    assert_eq!(found("a_c.test"), ["a_c.test"]);
    assert_eq!(found("*c.test").len(), 5);
    assert_eq!(found("*"), found("*c.test"));
}

#[test]
fn cursor_pages_stay_put_while_rows_arrive() {
    let events = traffic(300, T0, 1000);
    let mut history = History::open_in_memory(7).expect("a history");
    history.stage(&events[..200]).expect("staged");
    history.flush(T0, None).expect("flushed");
    history.stage(&events[200..250]).expect("staged");

    let first = history.queries(&Filter::default()).expect("page 1");
    assert_eq!(first.cursor, Some(250));
    assert_eq!(ids(&first), (151..=250).rev().collect::<Vec<_>>());

    history.stage(&events[250..]).expect("more arrive");
    history.flush(T0 + 1000, None).expect("flushed");
    let second = history
        .queries(&Filter {
            cursor: first.cursor,
            start: 100,
            ..Filter::default()
        })
        .expect("page 2");
    assert_eq!(ids(&second), (51..=150).rev().collect::<Vec<_>>());
    assert_eq!((second.total, second.cursor), (250, Some(250)));
    let third = history
        .queries(&Filter {
            cursor: first.cursor,
            start: 200,
            ..Filter::default()
        })
        .expect("page 3");
    assert_eq!(ids(&third), (1..=50).rev().collect::<Vec<_>>());
    let fresh = history
        .queries(&Filter::default())
        .expect("a new first page");
    assert_eq!((fresh.total, fresh.cursor), (300, Some(300)));
}

/// Counts per key, most first, ties by key.
fn ranked<'a>(keys: impl Iterator<Item = String> + 'a) -> Vec<(String, u64)> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for key in keys {
        *counts.entry(key).or_default() += 1;
    }
    let mut ranked: Vec<(String, u64)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
}

#[test]
fn summary_tops_slots_and_days_agree_with_a_plain_count() {
    let events = traffic(700, T0 - 2 * DAY, 7 * MINUTE);
    let mut history = History::open_in_memory(30).expect("a history");
    history.stage(&events[..400]).expect("staged");
    history.flush(T0, None).expect("flushed");
    history.stage(&events[400..]).expect("staged");

    let (from, until) = (T0 - DAY - 33 * MINUTE, T0 + 5 * MINUTE);
    let inside: Vec<&Event> = events
        .iter()
        .filter(|e| (from..until).contains(&e.time_unix_ms))
        .collect();
    let summary = history.summary(from, until).expect("summary");
    let mut outcomes = [0u64; 8];
    for e in &inside {
        outcomes[e.outcome.index()] += 1;
    }
    assert_eq!(summary.total, inside.len() as u64);
    assert_eq!(summary.outcomes, outcomes);
    let distinct = |f: fn(&Event) -> String| {
        inside
            .iter()
            .map(|e| f(e))
            .collect::<std::collections::BTreeSet<_>>()
            .len() as u64
    };
    assert_eq!(summary.unique_names, distinct(|e| e.name.clone()));
    assert_eq!(summary.unique_clients, distinct(|e| e.client.to_string()));
    assert_eq!(
        summary.qtypes,
        ranked(inside.iter().map(|e| e.qtype.to_string()))
    );

    let blocked = |e: &&&Event| e.outcome == Outcome::Blocked;
    let answered = |e: &&&Event| !matches!(e.outcome, Outcome::Blocked | Outcome::Refused);
    let names = |pick: &dyn Fn(&&&Event) -> bool| {
        let mut top = ranked(inside.iter().filter(pick).map(|e| e.name.clone()));
        top.truncate(3);
        top
    };
    assert_eq!(
        history.top_names(from, until, true, 3).expect("top"),
        names(&blocked)
    );
    assert_eq!(
        history.top_names(from, until, false, 3).expect("top"),
        names(&answered)
    );
    let of = "192.168.1.10";
    let mut of_client = ranked(
        inside
            .iter()
            .filter(|e| e.outcome == Outcome::Blocked && e.client.to_string() == of)
            .map(|e| e.name.clone()),
    );
    of_client.truncate(5);
    assert_eq!(
        history.top_names_of(from, until, true, 5, of).expect("top"),
        of_client
    );
    let clients = |pick: &dyn Fn(&&&Event) -> bool| {
        ranked(inside.iter().filter(pick).map(|e| e.client.to_string()))
    };
    assert_eq!(
        history.top_clients(from, until, None, 10).expect("top"),
        clients(&|_| true)
    );
    assert_eq!(
        history
            .top_clients(from, until, Some(true), 10)
            .expect("top"),
        clients(&blocked)
    );
    assert_eq!(
        history
            .top_clients(from, until, Some(false), 2)
            .expect("top")[..],
        clients(&answered)[..2]
    );

    let recent: Vec<String> = events
        .iter()
        .rev()
        .filter(|e| e.outcome == Outcome::Blocked)
        .take(4)
        .map(|e| e.name.clone())
        .collect();
    assert_eq!(history.recent_blocked(4).expect("recent"), recent);

    let slot_ms = 10 * MINUTE;
    let slots = history.slots(from, until, slot_ms).expect("slots");
    let start = from - from % slot_ms;
    assert_eq!(slots.len() as u64, (until - start).div_ceil(slot_ms));
    for (i, slot) in slots.iter().enumerate() {
        assert_eq!(slot.start_ms, start + i as u64 * slot_ms);
        let mut counts = [0u64; 8];
        for e in &events {
            if (slot.start_ms..(slot.start_ms + slot_ms).min(until)).contains(&e.time_unix_ms) {
                counts[e.outcome.index()] += 1;
            }
        }
        assert_eq!(slot.counts, counts, "slot {i}");
    }

    let by_client = history
        .client_slots(from, until, slot_ms, 2)
        .expect("client slots");
    let busiest: Vec<String> = ranked(
        events
            .iter()
            .filter(|e| (start..until).contains(&e.time_unix_ms))
            .map(|e| e.client.to_string()),
    )
    .into_iter()
    .take(2)
    .map(|(ip, _)| ip)
    .collect();
    assert_eq!(by_client.clients, busiest);
    assert_eq!(by_client.slots.len(), slots.len());
    for (start_ms, counts) in &by_client.slots {
        for (ip, n) in busiest.iter().zip(counts) {
            let plain = events
                .iter()
                .filter(|e| {
                    (*start_ms..(start_ms + slot_ms).min(until)).contains(&e.time_unix_ms)
                        && e.client.to_string() == *ip
                })
                .count() as u64;
            assert_eq!(*n, plain, "{ip} at {start_ms}");
        }
    }

    for offset in [0, 3600, -5 * 3600] {
        let days = history
            .days(T0 - 2 * DAY, T0 + 2 * DAY, offset)
            .expect("days");
        let local_day = |ms: u64| (ms as i64 + i64::from(offset) * 1000).div_euclid(DAY_MS);
        let first = local_day(T0 - 2 * DAY);
        assert_eq!(days.len() as i64, local_day(T0 + 2 * DAY - 1) - first + 1);
        for (i, day) in days.iter().enumerate() {
            assert_eq!(local_day(day.start_ms), first + i as i64);
            assert_eq!(local_day(day.start_ms - 1), first + i as i64 - 1);
            let mut counts = [0u64; 8];
            for e in &events {
                if local_day(e.time_unix_ms) == first + i as i64 {
                    counts[e.outcome.index()] += 1;
                }
            }
            assert_eq!(day.counts, counts, "offset {offset}, day {i}");
        }
    }
}

#[test]
fn the_resume_point_survives_a_reopen() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("history.sqlite");
    let mut history = History::open(&path, 7).expect("a new history");
    assert_eq!(history.resume().expect("read"), None);
    let resume = Resume {
        server_started_ms: T0,
        next: 12_345,
    };
    history.flush(T0, Some(resume)).expect("flushed");
    history.stage(&traffic(3, T0, MINUTE)).expect("staged");
    history.flush(T0, None).expect("flushed");
    assert_eq!(history.resume().expect("read"), Some(resume));
    drop(history);
    let history = History::open(&path, 7).expect("reopens");
    assert_eq!(history.resume().expect("read"), Some(resume));
}

#[test]
fn losses_are_counted_staged_and_kept_once_flushed() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("history.sqlite");
    let mut history = History::open(&path, 7).expect("a new history");
    history.stage_loss(T0, 5);
    history.stage_loss(T0 + MINUTE, 0);
    history.stage_loss(T0 + 2 * DAY, 2);
    assert_eq!(history.losses(T0, T0 + DAY).expect("losses"), 5);
    history.flush(T0 + 2 * DAY, None).expect("flushed");
    history.stage_loss(T0 + 3 * DAY, 1);
    assert_eq!(history.losses(0, u64::MAX).expect("losses"), 8);
    drop(history);
    let history = History::open(&path, 7).expect("reopens");
    assert_eq!(history.losses(0, u64::MAX).expect("losses"), 7);
}

#[test]
fn a_file_that_is_not_a_database_is_refused_with_advice() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("history.sqlite");
    let mut header = b"SQLite format 3\0".to_vec();
    header.extend((0..8000u32).map(|i| (i * 7919 % 251) as u8));
    let garbage: [Vec<u8>; 4] = [
        b"not a database".to_vec(),
        (0..4096u32).map(|i| (i * 31 % 256) as u8).collect(),
        vec![0xff; 100_000],
        header,
    ];
    for bytes in garbage {
        std::fs::write(&path, &bytes).expect("written");
        let error = History::open(&path, 7).expect_err("refused");
        assert!(
            matches!(error, Error::NotHistory { .. }),
            "{} bytes: {error:?}",
            bytes.len()
        );
        assert!(error.to_string().contains("move it away"), "{error}");
        assert_eq!(std::fs::read(&path).expect("read"), bytes, "left as it was");
    }
}

#[test]
fn another_programs_database_and_a_newer_history_are_refused() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let foreign = dir.path().join("foreign.sqlite");
    Connection::open(&foreign)
        .and_then(|c| c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);"))
        .expect("a foreign database");
    let error = History::open(&foreign, 7).expect_err("refused");
    assert!(matches!(error, Error::NotHistory { .. }), "{error:?}");

    let newer = dir.path().join("newer.sqlite");
    drop(History::open(&newer, 7).expect("a new history"));
    Connection::open(&newer)
        .and_then(|c| c.execute_batch("PRAGMA user_version = 2;"))
        .expect("set");
    let error = History::open(&newer, 7).expect_err("refused");
    assert!(
        matches!(
            error,
            Error::Newer {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("move the file away"), "{error}");

    let missing = dir.path().join("no/such/folder/history.sqlite");
    let error = History::open(&missing, 7).expect_err("refused");
    assert!(matches!(error, Error::Open { .. }), "{error:?}");
}

#[test]
fn damaged_pages_give_errors_with_advice_not_panics() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("history.sqlite");
    let mut history = History::open(&path, 30).expect("a new history");
    history.stage(&traffic(20_000, T0, 1000)).expect("staged");
    history.flush(T0, None).expect("flushed");
    drop(history);
    let clean = std::fs::read(&path).expect("read");
    let len = clean.len();
    assert!(len > 64 * 1024, "{len} bytes");
    let advice = |error: Error| {
        let text = error.to_string();
        assert!(text.contains("move"), "{text}");
    };
    // Half the file, then single pages here and there: some damage is
    // found on open, some by a read, some by neither; none panics.
    let pages = len / 4096;
    let regions = [(pages / 4, pages * 3 / 4)]
        .into_iter()
        .chain((2..pages).step_by(pages / 16).map(|page| (page, page + 1)));
    let (mut refused, mut failed_reads) = (0, 0);
    for (first, last) in regions {
        let mut bytes = clean.clone();
        for (i, byte) in bytes[first * 4096..last * 4096].iter_mut().enumerate() {
            *byte = (i * 131 % 256) as u8;
        }
        std::fs::write(&path, &bytes).expect("written");
        let history = match History::open(&path, 30) {
            Ok(history) => history,
            Err(error) => {
                refused += 1;
                advice(error);
                continue;
            }
        };
        let results = [
            history.queries(&Filter::default()).err(),
            history.summary(0, u64::MAX).err(),
            history.top_names(0, u64::MAX, false, 10).err(),
            history.slots(T0, T0 + DAY, 10 * MINUTE).err(),
        ];
        for error in results.into_iter().flatten() {
            failed_reads += 1;
            advice(error);
        }
    }
    assert!(
        refused > 0 && failed_reads > 0,
        "{refused} refused, {failed_reads} failed reads"
    );
}

#[test]
fn nonsense_ranges_give_errors_or_nothing() {
    let mut history = History::open_in_memory(7).expect("a history");
    history.stage(&traffic(10, T0, MINUTE)).expect("staged");
    assert!(matches!(
        history.slots(T0, T0 + DAY, 0),
        Err(Error::Range { .. })
    ));
    assert!(matches!(
        history.slots(0, u64::MAX, 1),
        Err(Error::Range { .. })
    ));
    assert!(matches!(
        history.client_slots(0, T0, 1, 3),
        Err(Error::Range { .. })
    ));
    assert_eq!(history.slots(T0, T0, MINUTE).expect("empty"), []);
    assert_eq!(history.slots(T0 + DAY, T0, MINUTE).expect("empty"), []);
    assert!(matches!(
        history.days(0, u64::MAX, 0),
        Err(Error::Range { .. })
    ));
    assert_eq!(history.days(T0, T0, 0).expect("empty"), []);
    for offset in [i32::MIN, i32::MAX] {
        let days = history.days(T0 - DAY, T0 + DAY, offset).expect("days");
        assert!(!days.is_empty());
    }
    history
        .days(u64::MAX - DAY, u64::MAX, i32::MAX)
        .expect("far days");
    let page = history
        .queries(&Filter {
            from_ms: Some(u64::MAX),
            until_ms: Some(0),
            start: usize::MAX,
            length: usize::MAX,
            ..Filter::default()
        })
        .expect("the query log reads");
    assert_eq!((page.rows.len(), page.total), (0, 0));
    let page = history
        .queries(&Filter {
            start: usize::MAX,
            length: usize::MAX,
            ..Filter::default()
        })
        .expect("the query log reads");
    assert_eq!((page.rows.len(), page.total), (0, 10));
    assert_eq!(history.summary(u64::MAX, 0).expect("summary").total, 0);
    assert_eq!(history.top_names(0, u64::MAX, true, 0).expect("top"), []);
}
