//! Counters as plain numbers, read once from a segment, and the arithmetic
//! `stats` and the exporter do on them: totals, shares, the last hour from
//! the minute buckets, latency percentiles from a histogram, top-N.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::SocketAddr;

use super::kinds::{LATENCY_BOUNDS_MS, LATENCY_BUCKETS, QType};
use crate::vocab::Outcome;

/// Every counter of a segment at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counters {
    /// Queries by outcome, in [`Outcome::ALL`] order.
    pub outcomes: [u64; 8],
    /// Queries by type, in [`QType::ALL`] order.
    pub qtypes: [u64; 10],
    /// Queries by protocol: udp, tcp.
    pub protocols: [u64; 2],
    /// Ring events dropped by a producer (a slot still being written).
    pub ring_dropped: u64,
    /// Messages of rate-limited clients answered REFUSED (not in `outcomes`).
    pub rate_limited_refused: u64,
    /// Messages of rate-limited clients dropped unanswered (not in `outcomes`).
    pub rate_limited_dropped: u64,
    /// Questions turned away at the forwarder's in-flight cap (also in
    /// `outcomes`, as stale or failed).
    pub upstream_overload: u64,
    /// Cache entries fetched again in the background with a new answer
    /// stored (`[cache] prefetch`, `optimistic`).
    pub refetched: u64,
    /// Per upstream, in configured order.
    pub upstreams: Vec<UpstreamCounters>,
    /// Minute buckets, in slot order.
    pub minutes: Vec<MinuteBucket>,
    /// Per group of the image serving, in the image's order (`default`
    /// first).
    pub groups: Vec<GroupCounters>,
}

/// One group's counters: a query counts in every group its client is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupCounters {
    /// The group's name.
    pub name: String,
    /// Queries from its clients.
    pub queries: u64,
    /// Of those, blocked.
    pub blocked: u64,
}

/// One upstream's counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamCounters {
    /// Its address.
    pub addr: SocketAddr,
    /// Tries sent.
    pub tries: u64,
    /// Tries that failed (timeout, error, SERVFAIL, REFUSED).
    pub failures: u64,
    /// Sum of the answered tries' latencies (µs).
    pub latency_sum_us: u64,
    /// Answered tries by latency, per [`LATENCY_BOUNDS_MS`] plus one
    /// unbounded bucket (not cumulative).
    pub buckets: [u64; LATENCY_BUCKETS],
    /// Its smoothed round-trip time (µs) as the forwarder last estimated
    /// it; 0 while unknown.
    pub srtt_us: u64,
    /// Questions that asked it first.
    pub first: u64,
}

/// The queries and blocked queries of one minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MinuteBucket {
    /// Minutes since the Unix epoch of `queries`.
    pub minute: u64,
    /// Queries that minute.
    pub queries: u64,
    /// Minutes since the Unix epoch of `blocked`.
    pub blocked_minute: u64,
    /// Blocked queries that minute.
    pub blocked: u64,
}

impl MinuteBucket {
    /// Unpacks the two words `minute << 32 | count`.
    pub(super) fn unpack(queries: u64, blocked: u64) -> MinuteBucket {
        MinuteBucket {
            minute: queries >> 32,
            queries: queries & 0xffff_ffff,
            blocked_minute: blocked >> 32,
            blocked: blocked & 0xffff_ffff,
        }
    }
}

impl Counters {
    /// All queries: the sum over outcomes.
    pub fn total(&self) -> u64 {
        self.outcomes.iter().sum()
    }

    /// Queries with `outcome`.
    pub fn outcome(&self, outcome: Outcome) -> u64 {
        self.outcomes[outcome.index()]
    }

    /// Queries of counted type `qtype`.
    pub fn qtype(&self, qtype: QType) -> u64 {
        self.qtypes[qtype.index()]
    }

    /// Outcomes with their names, in segment order.
    pub fn by_outcome(&self) -> impl Iterator<Item = (Outcome, u64)> + '_ {
        Outcome::ALL.into_iter().zip(self.outcomes)
    }

    /// Queries and blocked queries in the `minutes` minutes up to and
    /// including the one of `now_unix_ms` (at most the 64 kept).
    pub fn recent(&self, now_unix_ms: u64, minutes: u64) -> (u64, u64) {
        let now = now_unix_ms / 60_000;
        let within = |m: u64| m <= now && now - m < minutes;
        self.minutes.iter().fold((0, 0), |(q, b), bucket| {
            (
                q + if within(bucket.minute) {
                    bucket.queries
                } else {
                    0
                },
                b + if within(bucket.blocked_minute) {
                    bucket.blocked
                } else {
                    0
                },
            )
        })
    }
}

/// `part / whole`, 0 when `whole` is 0.
pub fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

impl UpstreamCounters {
    /// Tries that got an answer.
    pub fn answered(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The `q`-quantile (0..=1) of the answer latency in ms, interpolated
    /// linearly within its bucket as Prometheus' `histogram_quantile` does;
    /// a quantile in the unbounded bucket is reported as its lower bound
    /// (1000 ms). `None` without answers.
    pub fn latency_quantile_ms(&self, q: f64) -> Option<f64> {
        quantile_ms(&self.buckets, q)
    }

    /// Mean answer latency in ms.
    pub fn latency_mean_ms(&self) -> Option<f64> {
        let n = self.answered();
        (n > 0).then(|| self.latency_sum_us as f64 / n as f64 / 1000.0)
    }
}

fn quantile_ms(buckets: &[u64; LATENCY_BUCKETS], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut below = 0u64;
    let mut lower = 0.0;
    for (i, &count) in buckets.iter().enumerate() {
        let Some(&upper) = LATENCY_BOUNDS_MS.get(i) else {
            return Some(lower);
        };
        let upper = upper as f64;
        if count > 0 && (below + count) as f64 >= rank {
            let within = (rank - below as f64) / count as f64;
            return Some(lower + (upper - lower) * within);
        }
        below += count;
        lower = upper;
    }
    Some(lower)
}

/// The `n` most frequent keys, most frequent first (ties: smallest key first).
pub fn top<K: Hash + Eq + Ord + Clone>(
    keys: impl IntoIterator<Item = K>,
    n: usize,
) -> Vec<(K, u64)> {
    let mut counts: HashMap<K, u64> = HashMap::new();
    for key in keys {
        *counts.entry(key).or_default() += 1;
    }
    let mut ranked: Vec<(K, u64)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(n);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(minutes: Vec<MinuteBucket>) -> Counters {
        Counters {
            outcomes: [7, 0, 3, 0, 5, 1, 2, 0],
            qtypes: [0; 10],
            protocols: [0; 2],
            ring_dropped: 0,
            rate_limited_refused: 0,
            rate_limited_dropped: 0,
            upstream_overload: 0,
            refetched: 0,
            upstreams: Vec::new(),
            groups: Vec::new(),
            minutes,
        }
    }

    #[test]
    fn total_is_the_sum_over_outcomes() {
        let c = counters(Vec::new());
        assert_eq!(c.total(), 18);
        assert_eq!(c.outcome(Outcome::Blocked), 7);
        assert_eq!(c.outcome(Outcome::Refused), 2);
        assert!((share(c.outcome(Outcome::Blocked), c.total()) - 7.0 / 18.0).abs() < 1e-12);
        assert_eq!(share(1, 0), 0.0);
    }

    #[test]
    fn last_hour_counts_only_minutes_within_it() {
        let now_min = 29_000_000u64;
        let bucket = |minute, queries, blocked| MinuteBucket {
            minute,
            queries,
            blocked_minute: minute,
            blocked,
        };
        let c = counters(vec![
            bucket(now_min, 10, 4),
            bucket(now_min - 59, 5, 1),
            bucket(now_min - 60, 100, 100),
            bucket(now_min + 3, 1000, 1000), // a clock that went back
        ]);
        let now_ms = now_min * 60_000 + 59_999;
        assert_eq!(c.recent(now_ms, 60), (15, 5));
        assert_eq!(c.recent(now_ms, 1), (10, 4));
    }

    #[test]
    fn minute_words_unpack() {
        let b = MinuteBucket::unpack(5 << 32 | 12, 6 << 32 | 3);
        assert_eq!(
            (b.minute, b.queries, b.blocked_minute, b.blocked),
            (5, 12, 6, 3)
        );
    }

    #[test]
    fn quantiles_interpolate_within_buckets() {
        let mut buckets = [0u64; LATENCY_BUCKETS];
        buckets[0] = 50; // ≤ 1 ms
        buckets[3] = 50; // 5..10 ms
        assert_eq!(quantile_ms(&buckets, 0.5), Some(1.0));
        assert_eq!(quantile_ms(&buckets, 0.25), Some(0.5));
        assert_eq!(quantile_ms(&buckets, 0.75), Some(7.5));
        assert_eq!(quantile_ms(&buckets, 1.0), Some(10.0));
        buckets[10] = 100;
        assert_eq!(quantile_ms(&buckets, 0.99), Some(1000.0));
        assert_eq!(quantile_ms(&[0; LATENCY_BUCKETS], 0.5), None);
    }

    #[test]
    fn top_ranks_by_count_then_key() {
        let ranked = top(["b", "a", "b", "c", "a", "b"], 2);
        assert_eq!(ranked, vec![("b", 3), ("a", 2)]);
    }
}
