//! `/api/stats/…` and `/api/history…`: the numbers of the dashboard, over
//! the last 24 hours of the history (as Pi-hole counts them), the
//! upstreams from the server's telemetry counters, and the long-term
//! per-day totals.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::reply::{Reply, blocking, is_cached, is_forwarded, ok, status_word, with_history};
use crate::image::Image;
use crate::telemetry::Segment;
use crate::vocab::{Outcome, unix_ms};
use crate::web::app::App;

/// The dashboard's window.
pub(super) const DAY_MS: u64 = 24 * 3600 * 1000;
/// The chart's slot.
pub(super) const SLOT_MS: u64 = 600 * 1000;

/// Pi-hole's query-type keys; every other type counts as `OTHER`.
const TYPES: [&str; 15] = [
    "A", "AAAA", "ANY", "SRV", "SOA", "PTR", "TXT", "NAPTR", "MX", "DS", "RRSIG", "DNSKEY", "NS",
    "SVCB", "HTTPS",
];

/// `count`, `blocked`, `client_ip` parameters.
#[derive(Debug, Default, Deserialize)]
pub(super) struct TopParams {
    count: Option<usize>,
    blocked: Option<bool>,
    client_ip: Option<String>,
}

/// `from`, `until` (Unix seconds) parameters.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Range {
    from: Option<f64>,
    until: Option<f64>,
}

fn window() -> (u64, u64) {
    let now = unix_ms();
    (now.saturating_sub(DAY_MS), now + 1)
}

/// Pi-hole's `types` object from (type text, count) pairs.
fn types_object(counts: &[(String, u64)]) -> Value {
    let mut out: BTreeMap<&str, u64> = TYPES.iter().map(|t| (*t, 0)).collect();
    out.insert("OTHER", 0);
    for (qtype, count) in counts {
        let key = TYPES
            .iter()
            .find(|t| **t == qtype.as_str())
            .copied()
            .unwrap_or("OTHER");
        *out.entry(key).or_default() += count;
    }
    json!(out)
}

/// What the image serving (its persisted copy) holds, for the API's
/// counts; all zero without a usable image.
#[derive(Debug, Default)]
pub(super) struct Gravity {
    /// Rules on its block lists.
    pub(super) rules: u64,
    /// When it was made (Unix s).
    pub(super) created_unix: u64,
    /// Regex rules that allow, and that block.
    pub(super) regex_allow: u64,
    pub(super) regex_deny: u64,
    /// Entries of the household's own allow and block lists (Pi-hole's
    /// exact domains).
    pub(super) household_allow: u64,
    pub(super) household_deny: u64,
}

/// What the image serving holds ([`Gravity`]).
pub(super) fn gravity(app: &App) -> Gravity {
    let Ok(bytes) = std::fs::read(app.config.paths.image_file()) else {
        return Gravity::default();
    };
    let Ok(image) = Image::open(bytes) else {
        return Gravity::default();
    };
    let lists = u16::try_from(image.list_count()).unwrap_or(u16::MAX);
    let blocking: u64 = (0..lists)
        .filter(|&id| image.list_is_allow(id) == Some(false))
        .filter_map(|id| image.list_rule_count(id))
        .sum();
    let regex_allow = (0..image.regex_count())
        .filter_map(|i| image.regex(u32::try_from(i).ok()?))
        .filter(|rule| rule.allow)
        .count() as u64;
    let household = |sources: &[crate::config::ListSource]| -> u64 {
        (0..lists)
            .filter(|&id| {
                image
                    .list_name(id)
                    .is_some_and(|name| sources.iter().any(|s| s.household && s.name == name))
            })
            .filter_map(|id| image.list_rule_count(id))
            .sum()
    };
    Gravity {
        rules: blocking,
        created_unix: image.created_unix(),
        regex_allow,
        regex_deny: image.regex_count() as u64 - regex_allow,
        household_allow: household(&app.config.allowlists),
        household_deny: household(&app.config.lists),
    }
}

/// `GET /api/stats/summary`.
pub(super) async fn summary(State(app): State<Arc<App>>) -> Reply {
    let started = Instant::now();
    let (from, until) = window();
    let (summary, ever, lost) = with_history(&app, move |h| {
        Ok((
            h.summary(from, until)?,
            h.summary(0, until)?,
            h.losses(from, until)?,
        ))
    })
    .await?;
    let count = |o: Outcome| summary.outcomes[o.index()];
    let total = summary.total;
    let blocked = count(Outcome::Blocked);
    let forwarded: u64 = Outcome::ALL
        .into_iter()
        .filter(|o| is_forwarded(*o))
        .map(count)
        .sum();
    let cached: u64 = Outcome::ALL
        .into_iter()
        .filter(|o| is_cached(*o))
        .map(count)
        .sum();
    let mut status: BTreeMap<&str, u64> =
        super::reply::STATUS_WORDS.iter().map(|w| (*w, 0)).collect();
    for outcome in Outcome::ALL {
        *status.entry(status_word(outcome, false)).or_default() += count(outcome);
    }
    let mut replies: BTreeMap<&str, u64> = ["UNKNOWN", "IP", "REFUSED", "SERVFAIL"]
        .iter()
        .map(|w| (*w, 0))
        .collect();
    for outcome in Outcome::ALL {
        *replies
            .entry(super::reply::reply_word(outcome))
            .or_default() += count(outcome);
    }
    let app2 = app.clone();
    let Gravity {
        rules: domains_blocked,
        created_unix: last_update,
        ..
    } = blocking(move || gravity(&app2)).await?;
    let percent = if total == 0 {
        0.0
    } else {
        blocked as f64 * 100.0 / total as f64
    };
    ok(
        started,
        json!({
            "queries": {
                "total": total,
                "blocked": blocked,
                "percent_blocked": percent,
                "unique_domains": summary.unique_names,
                "forwarded": forwarded,
                "cached": cached,
                "frequency": total as f64 / (DAY_MS / 1000) as f64,
                "types": types_object(&summary.qtypes),
                "status": status,
                "replies": replies,
            },
            "clients": {"active": summary.unique_clients, "total": ever.unique_clients},
            "gravity": {"domains_being_blocked": domains_blocked, "last_update": last_update},
            "ralo": {"lost_queries": lost, "outcomes": outcome_object(&summary.outcomes)},
        }),
    )
}

fn outcome_object(counts: &[u64; 8]) -> Value {
    let map: BTreeMap<&str, u64> = Outcome::ALL
        .into_iter()
        .map(|o| (o.as_str(), counts[o.index()]))
        .collect();
    json!(map)
}

/// `GET /api/stats/top_domains`.
pub(super) async fn top_domains(
    State(app): State<Arc<App>>,
    Query(params): Query<TopParams>,
) -> Reply {
    let started = Instant::now();
    let (from, until) = window();
    let count = params.count.unwrap_or(10).min(1000);
    let blocked = params.blocked.unwrap_or(false);
    let client = params.client_ip.clone();
    let (top, summary) = with_history(&app, move |h| {
        let top = match &client {
            Some(client) => h.top_names_of(from, until, blocked, count, client)?,
            None => h.top_names(from, until, blocked, count)?,
        };
        Ok((top, h.summary(from, until)?))
    })
    .await?;
    let domains: Vec<Value> = top
        .into_iter()
        .map(|(domain, count)| json!({"domain": domain, "count": count}))
        .collect();
    ok(
        started,
        json!({
            "domains": domains,
            "total_queries": summary.total,
            "blocked_queries": summary.outcomes[Outcome::Blocked.index()],
        }),
    )
}

/// `GET /api/stats/top_clients`.
pub(super) async fn top_clients(
    State(app): State<Arc<App>>,
    Query(params): Query<TopParams>,
) -> Reply {
    let started = Instant::now();
    let (from, until) = window();
    let count = params.count.unwrap_or(10).min(1000);
    let blocked = params.blocked;
    let (top, summary) = with_history(&app, move |h| {
        Ok((
            h.top_clients(from, until, blocked, count)?,
            h.summary(from, until)?,
        ))
    })
    .await?;
    let clients: Vec<Value> = top
        .into_iter()
        .map(|(ip, count)| json!({"ip": ip, "name": "", "count": count}))
        .collect();
    ok(
        started,
        json!({
            "clients": clients,
            "total_queries": summary.total,
            "blocked_queries": summary.outcomes[Outcome::Blocked.index()],
        }),
    )
}

/// `GET /api/stats/upstreams`: each upstream's tries and answer times from
/// the server's counters, beside the blocklist and the cache as Pi-hole
/// lists them.
pub(super) async fn upstreams(State(app): State<Arc<App>>) -> Reply {
    let started = Instant::now();
    let (from, until) = window();
    let summary = with_history(&app, move |h| h.summary(from, until)).await?;
    let path = app.config.paths.telemetry_file();
    let counters = blocking(move || Segment::open(&path).ok().map(|s| s.view().counters())).await?;
    let count = |o: Outcome| summary.outcomes[o.index()];
    let mut list = vec![
        json!({"ip": "blocklist", "name": "blocklist", "port": -1,
               "count": count(Outcome::Blocked),
               "statistics": {"response": 0.0, "variance": 0.0}}),
        json!({"ip": "cache", "name": "cache", "port": -1,
               "count": count(Outcome::Cached) + count(Outcome::Local) + count(Outcome::Stale),
               "statistics": {"response": 0.0, "variance": 0.0}}),
    ];
    let mut forwarded = 0;
    if let Some(counters) = counters {
        for upstream in &counters.upstreams {
            forwarded += upstream.tries;
            let mean_s = upstream.latency_mean_ms().unwrap_or(0.0) / 1000.0;
            list.push(json!({
                "ip": upstream.addr.ip().to_string(),
                "name": upstream.addr.ip().to_string(),
                "port": upstream.addr.port(),
                "count": upstream.tries,
                "statistics": {"response": mean_s, "variance": 0.0},
                "ralo": {"failures": upstream.failures,
                         "p90_ms": upstream.latency_quantile_ms(0.9)},
            }));
        }
    }
    ok(
        started,
        json!({"upstreams": list, "forwarded_queries": forwarded, "total_queries": summary.total}),
    )
}

/// `GET /api/stats/query_types`.
pub(super) async fn query_types(State(app): State<Arc<App>>) -> Reply {
    let started = Instant::now();
    let (from, until) = window();
    let summary = with_history(&app, move |h| h.summary(from, until)).await?;
    ok(started, json!({"types": types_object(&summary.qtypes)}))
}

/// `GET /api/stats/recent_blocked`.
pub(super) async fn recent_blocked(
    State(app): State<Arc<App>>,
    Query(params): Query<TopParams>,
) -> Reply {
    let started = Instant::now();
    let count = params.count.unwrap_or(1).min(100);
    let names = with_history(&app, move |h| h.recent_blocked(count)).await?;
    ok(started, json!({"blocked": names}))
}

/// `GET /api/history`: the last 24 h in 10-minute slots.
pub(super) async fn history(State(app): State<Arc<App>>) -> Reply {
    let started = Instant::now();
    let until = unix_ms();
    let from = (until.saturating_sub(DAY_MS) / SLOT_MS) * SLOT_MS;
    let slots = with_history(&app, move |h| h.slots(from, until + 1, SLOT_MS)).await?;
    let history: Vec<Value> = slots
        .iter()
        .map(|slot| slot_json(slot.start_ms, &slot.counts))
        .collect();
    ok(started, json!({"history": history}))
}

fn slot_json(start_ms: u64, counts: &[u64; 8]) -> Value {
    let sum = |pick: fn(Outcome) -> bool| -> u64 {
        Outcome::ALL
            .into_iter()
            .filter(|o| pick(*o))
            .map(|o| counts[o.index()])
            .sum()
    };
    json!({
        "timestamp": start_ms / 1000,
        "total": counts.iter().sum::<u64>(),
        "cached": sum(is_cached),
        "blocked": counts[Outcome::Blocked.index()],
        "forwarded": sum(is_forwarded),
    })
}

/// `GET /api/history/clients`: the busiest clients per 10-minute slot.
pub(super) async fn history_clients(State(app): State<Arc<App>>) -> Reply {
    let started = Instant::now();
    let until = unix_ms();
    let from = (until.saturating_sub(DAY_MS) / SLOT_MS) * SLOT_MS;
    let slots = with_history(&app, move |h| h.client_slots(from, until + 1, SLOT_MS, 10)).await?;
    let mut clients = serde_json::Map::new();
    for (i, ip) in slots.clients.iter().enumerate() {
        let total: u64 = slots.slots.iter().map(|(_, counts)| counts[i]).sum();
        clients.insert(ip.clone(), json!({"name": null, "total": total}));
    }
    let history: Vec<Value> = slots
        .slots
        .iter()
        .map(|(start, counts)| {
            let data: serde_json::Map<String, Value> = slots
                .clients
                .iter()
                .zip(counts)
                .map(|(ip, n)| (ip.clone(), json!(n)))
                .collect();
            json!({"timestamp": start / 1000, "data": data})
        })
        .collect();
    ok(started, json!({"clients": clients, "history": history}))
}

/// `GET /api/history/database?from&until`: per-day totals over the kept
/// per-hour counts (365 days). Days are UTC days: the history keeps hours
/// in UTC and the process knows no time zone of the household.
pub(super) async fn history_database(
    State(app): State<Arc<App>>,
    Query(range): Query<Range>,
) -> Reply {
    let started = Instant::now();
    let now = unix_ms();
    let until = range.until.map_or(now + 1, |s| (s * 1000.0) as u64);
    let from = range
        .from
        .map_or(until.saturating_sub(7 * DAY_MS), |s| (s * 1000.0) as u64);
    let days = with_history(&app, move |h| h.days(from, until, 0)).await?;
    let history: Vec<Value> = days
        .iter()
        .map(|day| slot_json(day.start_ms, &day.counts))
        .collect();
    ok(started, json!({"history": history}))
}
