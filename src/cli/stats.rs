//! `ralo stats`: what the server has done since it started and in the last
//! hour, read from the telemetry segment alone (no socket, no lock; the
//! server does not notice): totals and blocked share, outcomes, types and
//! protocols, top blocked names and top clients among the queries the ring
//! holds, upstream health, whether blocking is on, the image generation.
//! `--json` prints the same as one JSON object for scripts.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::Serialize;

use super::serve::load_config;
use super::tail::{format_utc, write_stdout};
use crate::telemetry::{Cursor, QType, Segment, share, top};
use crate::update::Status;
use crate::vocab::{Outcome, Protocol};

/// `ralo stats` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config file (see config/ralo.toml).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// How many top blocked names and top clients to show.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

/// Everything `ralo stats` shows (the `--json` output).
#[derive(Debug, Serialize)]
pub struct Report {
    /// The server process.
    pub server: Server,
    /// Generation of the blocklist image serving.
    pub generation: u64,
    /// Whether blocking is on.
    pub blocking: Blocking,
    /// Counts since the server started.
    pub since_start: Totals,
    /// Counts over the last 60 minutes (the current one included).
    pub last_hour: Window,
    /// Most blocked names among the recent queries.
    pub top_blocked: Vec<Ranked>,
    /// Clients with the most queries among the recent queries.
    pub top_clients: Vec<Ranked>,
    /// Each upstream's tries, failures and answer latency.
    pub upstreams: Vec<Upstream>,
    /// Each group's queries and blocked queries since start (a client in
    /// several groups counts in each), in the image's order.
    pub groups: Vec<Group>,
    /// Messages and questions turned away by a limit, since start.
    pub limits: Limits,
    /// The ring of recent queries.
    pub recent: Recent,
    /// What the last update did, if one ran since boot (its status file in
    /// the runtime folder): published or why not, and whether the image
    /// was saved to disk.
    pub last_update: Option<LastUpdate>,
}

/// The last update's outcome.
#[derive(Debug, Serialize)]
pub struct LastUpdate {
    /// When it ran (ms since the Unix epoch).
    pub time_unix_ms: u64,
    /// Whether it published an image.
    pub published: bool,
    /// What happened, in words.
    pub message: String,
}

/// The server process.
#[derive(Debug, Serialize)]
pub struct Server {
    /// Whether it is running now.
    pub running: bool,
    /// Its process id.
    pub pid: u32,
    /// When it started (ms since the Unix epoch).
    pub started_unix_ms: u64,
    /// When it stopped, if it did.
    pub stopped_unix_ms: Option<u64>,
    /// Seconds from start to now (or to its stop).
    pub uptime_secs: u64,
}

/// Whether blocking is on.
#[derive(Debug, Serialize)]
pub struct Blocking {
    /// On now.
    pub enabled: bool,
    /// Off until then (ms since the Unix epoch), when off for a while.
    pub disabled_until_unix_ms: Option<u64>,
    /// Off until `ralo enable`.
    pub disabled_until_enabled: bool,
}

/// Counts since start.
#[derive(Debug, Serialize)]
pub struct Totals {
    /// All queries answered.
    pub queries: u64,
    /// Blocked queries.
    pub blocked: u64,
    /// `blocked / queries` (0 without queries).
    pub blocked_share: f64,
    /// By outcome (`blocked`, `allowed`, `cached`, `stale`, `forwarded`,
    /// `local`, `refused`, `failed`).
    pub by_outcome: BTreeMap<&'static str, u64>,
    /// By query type (`A`, `AAAA`, …, `other`).
    pub by_type: BTreeMap<&'static str, u64>,
    /// By protocol (`udp`, `tcp`).
    pub by_protocol: BTreeMap<&'static str, u64>,
}

/// Counts over a time window.
#[derive(Debug, Serialize)]
pub struct Window {
    /// All queries answered.
    pub queries: u64,
    /// Blocked queries.
    pub blocked: u64,
    /// `blocked / queries`.
    pub blocked_share: f64,
}

/// A name or client and how often it was seen.
#[derive(Debug, Serialize)]
pub struct Ranked {
    /// The name or the client address.
    pub key: String,
    /// How many of the recent queries.
    pub count: u64,
    /// For a client: the `[[clients]]` name whose address or range holds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// One group's counts since start.
#[derive(Debug, Serialize)]
pub struct Group {
    /// Its name.
    pub name: String,
    /// Queries from its clients.
    pub queries: u64,
    /// Of those, blocked.
    pub blocked: u64,
    /// `blocked / queries`.
    pub blocked_share: f64,
}

/// One upstream.
#[derive(Debug, Serialize)]
pub struct Upstream {
    /// `ip:port`.
    pub address: String,
    /// Tries sent.
    pub tries: u64,
    /// Tries that failed.
    pub failures: u64,
    /// Tries answered.
    pub answered: u64,
    /// Mean answer latency (ms).
    pub latency_mean_ms: Option<f64>,
    /// Median answer latency (ms, from the histogram).
    pub latency_p50_ms: Option<f64>,
    /// 90th percentile.
    pub latency_p90_ms: Option<f64>,
    /// 99th percentile.
    pub latency_p99_ms: Option<f64>,
    /// Smoothed round-trip time the forwarder chooses by (ms); none while
    /// unknown.
    pub srtt_ms: Option<f64>,
    /// Questions that asked it first: the fastest is asked first, the
    /// others now and then.
    pub first_choice: u64,
}

/// What the limits turned away since the server started.
#[derive(Debug, Serialize)]
pub struct Limits {
    /// Messages of clients over their rate limit answered REFUSED (not
    /// counted as queries).
    pub rate_limited_refused: u64,
    /// Messages of clients over their rate limit dropped unanswered (not
    /// counted as queries).
    pub rate_limited_dropped: u64,
    /// Questions answered stale or SERVFAIL because `[upstream]
    /// max_inflight` upstream queries were already in flight (counted as
    /// queries too, as stale or failed).
    pub upstream_overload: u64,
    /// Cache entries fetched again in the background, before anyone waited
    /// for them (`[cache] prefetch`, `optimistic`).
    pub refetched: u64,
}

/// The ring of recent queries.
#[derive(Debug, Serialize)]
pub struct Recent {
    /// Slots: how many recent queries it can hold.
    pub slots: u64,
    /// Queries it holds now, the basis of the top lists.
    pub held: u64,
    /// Queries left out because their slot was busy.
    pub dropped: u64,
}

impl Report {
    /// Reads `segment` at `now_ms`; `device` names the household device a
    /// client address is, if any.
    pub fn read(
        segment: &Segment,
        top_n: usize,
        now_ms: u64,
        device: impl Fn(IpAddr) -> Option<String>,
    ) -> Report {
        let view = segment.view();
        let header = view.header();
        let counters = view.counters();
        let ring = view.ring();
        let mut events = Vec::new();
        ring.read(&mut Cursor::at(0), usize::MAX, &mut events);
        let running = segment.server_running();
        let stopped = (header.stopped_unix_ms > 0).then_some(header.stopped_unix_ms);
        let end = if running {
            now_ms
        } else {
            stopped.unwrap_or(now_ms)
        };
        let enabled = header.blocking_enabled(now_ms);
        let until = header.blocking_disabled_until_ms;
        let (hour_queries, hour_blocked) = counters.recent(now_ms, 60);
        let ranked = |pairs: Vec<(String, u64)>| {
            pairs
                .into_iter()
                .map(|(key, count)| Ranked {
                    key,
                    count,
                    device: None,
                })
                .collect()
        };
        let blocked = counters.outcome(Outcome::Blocked);
        Report {
            server: Server {
                running,
                pid: header.pid,
                started_unix_ms: header.started_unix_ms,
                stopped_unix_ms: stopped,
                uptime_secs: end.saturating_sub(header.started_unix_ms) / 1000,
            },
            generation: header.generation,
            blocking: Blocking {
                enabled,
                disabled_until_unix_ms: (!enabled && until != u64::MAX).then_some(until),
                disabled_until_enabled: !enabled && until == u64::MAX,
            },
            since_start: Totals {
                queries: counters.total(),
                blocked,
                blocked_share: share(blocked, counters.total()),
                by_outcome: counters
                    .by_outcome()
                    .map(|(o, n)| (o.as_str(), n))
                    .collect(),
                by_type: QType::ALL
                    .iter()
                    .map(|t| (t.as_str(), counters.qtype(*t)))
                    .collect(),
                by_protocol: Protocol::ALL
                    .iter()
                    .map(|p| (p.as_str(), counters.protocols[p.index()]))
                    .collect(),
            },
            last_hour: Window {
                queries: hour_queries,
                blocked: hour_blocked,
                blocked_share: share(hour_blocked, hour_queries),
            },
            top_blocked: ranked(top(
                events
                    .iter()
                    .filter(|e| e.outcome == Outcome::Blocked)
                    .map(|e| e.name.clone()),
                top_n,
            )),
            top_clients: top(events.iter().map(|e| e.client), top_n)
                .into_iter()
                .map(|(client, count)| Ranked {
                    key: client.to_string(),
                    count,
                    device: device(client),
                })
                .collect(),
            upstreams: counters
                .upstreams
                .iter()
                .map(|u| Upstream {
                    address: u.addr.to_string(),
                    tries: u.tries,
                    failures: u.failures,
                    answered: u.answered(),
                    latency_mean_ms: u.latency_mean_ms(),
                    latency_p50_ms: u.latency_quantile_ms(0.5),
                    latency_p90_ms: u.latency_quantile_ms(0.9),
                    latency_p99_ms: u.latency_quantile_ms(0.99),
                    srtt_ms: (u.srtt_us > 0).then(|| u.srtt_us as f64 / 1000.0),
                    first_choice: u.first,
                })
                .collect(),
            groups: counters
                .groups
                .iter()
                .map(|g| Group {
                    name: g.name.clone(),
                    queries: g.queries,
                    blocked: g.blocked,
                    blocked_share: share(g.blocked, g.queries),
                })
                .collect(),
            limits: Limits {
                rate_limited_refused: counters.rate_limited_refused,
                rate_limited_dropped: counters.rate_limited_dropped,
                upstream_overload: counters.upstream_overload,
                refetched: counters.refetched,
            },
            recent: Recent {
                slots: ring.slots(),
                held: events.len() as u64,
                dropped: counters.ring_dropped,
            },
            last_update: None,
        }
    }

    /// The report as text for a person.
    pub fn text(&self, now_ms: u64) -> String {
        let mut out = String::new();
        let s = &self.server;
        let state = if s.running {
            format!("running, pid {}", s.pid)
        } else {
            let when = s.stopped_unix_ms.map_or_else(
                || "without marking its stop (killed?)".to_owned(),
                |ms| format!("at {}", format_utc(ms)),
            );
            format!(
                "NOT RUNNING (pid {} stopped {when}); these are the counts of its last run",
                s.pid
            )
        };
        out += &format!(
            "ralo serve: {state}\nstarted {}, up {}\n",
            format_utc(s.started_unix_ms),
            duration(s.uptime_secs)
        );
        let b = &self.blocking;
        let blocking = match (b.enabled, b.disabled_until_unix_ms) {
            (true, _) => "on".to_owned(),
            (false, Some(until)) => format!(
                "OFF until {} ({} left)",
                format_utc(until),
                duration(until.saturating_sub(now_ms).div_ceil(1000))
            ),
            (false, None) => "OFF until `ralo enable`".to_owned(),
        };
        out += &format!(
            "blocking: {blocking}\nimage generation: {}\n",
            self.generation
        );
        if let Some(update) = &self.last_update {
            out += &format!(
                "last update: {}: {}\n",
                format_utc(update.time_unix_ms),
                update.message
            );
        }
        out += "\n";
        let t = &self.since_start;
        let h = &self.last_hour;
        out += &format!(
            "{:<14}{:>12}{:>12}{:>9}\n",
            "queries", "total", "blocked", "share"
        );
        for (label, queries, blocked, share) in [
            ("since start", t.queries, t.blocked, t.blocked_share),
            ("last hour", h.queries, h.blocked, h.blocked_share),
        ] {
            out += &format!(
                "{label:<14}{queries:>12}{blocked:>12}{:>8.1}%\n",
                share * 100.0
            );
        }
        // Only `default`: the line above says it all.
        if self.groups.len() > 1 {
            out += "\nby group (since start):\n";
            for g in &self.groups {
                out += &format!(
                    "  {:<12}{:>12}{:>12}{:>8.1}%\n",
                    g.name,
                    g.queries,
                    g.blocked,
                    g.blocked_share * 100.0
                );
            }
        }
        let list = |map: &BTreeMap<&str, u64>, order: &[&str]| {
            order
                .iter()
                .map(|k| format!("{k} {}", map.get(k).copied().unwrap_or(0)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let outcomes: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        let types: Vec<&str> = QType::ALL.iter().map(|t| t.as_str()).collect();
        out += &format!("\nby outcome:  {}\n", list(&t.by_outcome, &outcomes));
        out += &format!("by type:     {}\n", list(&t.by_type, &types));
        out += &format!("by protocol: {}\n", list(&t.by_protocol, &["udp", "tcp"]));
        let l = &self.limits;
        out += &format!(
            "rate limited: {} refused, {} dropped (not counted above)\nover the upstream in-flight cap: {}\nfetched again in the background (prefetch, optimistic): {}\n",
            l.rate_limited_refused, l.rate_limited_dropped, l.upstream_overload, l.refetched
        );
        for (title, ranked) in [
            ("top blocked names", &self.top_blocked),
            ("top clients", &self.top_clients),
        ] {
            out += &format!("\n{title} (of the last {} queries):\n", self.recent.held);
            if ranked.is_empty() {
                out += "  none\n";
            }
            for r in ranked {
                let device = r
                    .device
                    .as_ref()
                    .map_or(String::new(), |d| format!(" ({d})"));
                out += &format!("{:>8}  {}{device}\n", r.count, r.key);
            }
        }
        out += &format!(
            "\n{:<28}{:>9}{:>10}{:>10}{:>10}{:>10}{:>10}{:>8}\n",
            "upstream", "tries", "failed", "p50 ms", "p90 ms", "p99 ms", "srtt ms", "first"
        );
        let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
        for u in &self.upstreams {
            out += &format!(
                "{:<28}{:>9}{:>10}{:>10}{:>10}{:>10}{:>10}{:>8}\n",
                u.address,
                u.tries,
                u.failures,
                ms(u.latency_p50_ms),
                ms(u.latency_p90_ms),
                ms(u.latency_p99_ms),
                ms(u.srtt_ms),
                u.first_choice
            );
        }
        out
    }
}

/// `1d 2h`, `3h 4m`, `5m 6s`, `7s`.
fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// Runs `ralo stats`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let config = load_config(args.config.as_deref())?;
    let segment = Segment::open(&config.paths.telemetry_file())?;
    let now = crate::vocab::unix_ms();
    let device = |client| config.client_at(client).map(|c| c.name.clone());
    let mut report = Report::read(&segment, args.top, now, device);
    report.last_update = Status::load(&config.paths.runtime).map(|status| LastUpdate {
        time_unix_ms: status.time_unix_ms,
        published: status.published,
        message: status.message,
    });
    let text = if args.json {
        serde_json::to_string_pretty(&report)?
    } else {
        report.text(now)
    };
    if !report.server.running {
        eprintln!("ralo stats: ralo serve is not running; these are the counts of its last run");
    }
    write_stdout(format!("{}\n", text.trim_end()).as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(7), "7s");
        assert_eq!(duration(306), "5m 6s");
        assert_eq!(duration(3 * 3600 + 240), "3h 4m");
        assert_eq!(duration(2 * 86_400 + 3 * 3600), "2d 3h");
    }
}
