//! `[cache]`: the size of the answer cache `resolve::cache` keeps, its TTL
//! clamp and how long it may serve stale answers, and what it refreshes
//! before anyone waits.

use serde::Deserialize;

use super::error::BadValue;

/// `[cache]`: answers from upstream, kept for their TTL.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cache {
    /// How many answers are kept; the least recently used go first. 0 turns
    /// the cache off.
    pub entries: usize,
    /// TTLs below this are raised to it (seconds).
    pub min_ttl: u32,
    /// TTLs above this are lowered to it (seconds).
    pub max_ttl: u32,
    /// NXDOMAIN and NODATA answers are kept at most this long (seconds;
    /// RFC 2308 takes the SOA minimum, capped here).
    pub negative_max_ttl: u32,
    /// When every upstream fails, answer from an expired entry (RFC 8767).
    pub serve_stale: bool,
    /// How long after expiry an entry may still be served stale (seconds).
    pub stale_max_age: u32,
    /// Refresh a popular answer in the background before it expires, so
    /// that nobody waits for it (unbound's `prefetch`): an entry asked at
    /// least `prefetch_after` times is asked upstream again when a question
    /// finds less than a tenth of its TTL left. The question is answered
    /// from the cache at once.
    pub prefetch: bool,
    /// How many times an entry must have been asked (the question that
    /// brought it counts) before it is prefetched (1–255).
    pub prefetch_after: u32,
    /// At most this many background refreshes (prefetches and optimistic
    /// answers' refreshes) at once (1–256); none start while the upstream
    /// queries in flight are at half of `[upstream] max_inflight`, so
    /// refreshes never take the place of a client's question.
    pub prefetch_inflight: usize,
    /// Answer an expired entry at once, with TTL 30 and Extended DNS Error
    /// 3 "Stale Answer", and refresh it in the background (RFC 8767's
    /// stale-while-refreshing; Pi-hole's cache optimizer, on there by
    /// default for an hour; AdGuard Home's "optimistic cache"), for up to
    /// `optimistic_max_age` after it expired. Most names a household asks
    /// again come back after their TTL ran out, when no prefetch can have
    /// renewed them: this is what keeps those from waiting. Never for the
    /// names of a `[[forward]]` zone, which are kept no longer than their
    /// TTL. Off: an expired entry waits for the upstream like a miss (and
    /// is served stale only when every upstream fails, `serve_stale`).
    pub optimistic: bool,
    /// How long after expiry an entry may still be answered at once by
    /// `optimistic` (seconds, 1–259200: RFC 8767 advises at most 1 to 3
    /// days). An entry expired longer ago waits for the upstream.
    pub optimistic_max_age: u32,
}

impl Default for Cache {
    fn default() -> Self {
        Cache {
            entries: 10_000,
            min_ttl: 0,
            max_ttl: 86_400,
            negative_max_ttl: 3_600,
            serve_stale: true,
            stale_max_age: 86_400,
            prefetch: true,
            prefetch_after: 2,
            prefetch_inflight: 8,
            optimistic: true,
            optimistic_max_age: 3_600,
        }
    }
}

impl Cache {
    /// Checks that the TTL clamp is ordered, and the prefetch bounds.
    pub(super) fn check(&self) -> Result<(), BadValue> {
        if self.min_ttl > self.max_ttl {
            return Err(BadValue::new(
                "cache.min_ttl",
                "must not be larger than cache.max_ttl",
            ));
        }
        BadValue::unless_in("cache.prefetch_after", self.prefetch_after, 1..=255)?;
        BadValue::unless_in("cache.prefetch_inflight", self.prefetch_inflight, 1..=256)?;
        BadValue::unless_in(
            "cache.optimistic_max_age",
            self.optimistic_max_age,
            1..=259_200,
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::config::file::{parse_test as parse, refused_key};

    #[test]
    fn wrong_type_is_refused_with_the_key() {
        let err = parse("[cache]\nentries = \"many\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("entries"), "{err}");
    }

    #[test]
    fn prefetch_bounds_are_checked() {
        let cache = parse("").unwrap().cache;
        assert!(cache.prefetch && cache.optimistic);
        assert_eq!((cache.prefetch_after, cache.prefetch_inflight), (2, 8));
        assert_eq!(cache.optimistic_max_age, 3_600);
        assert_eq!(
            refused_key("[cache]\noptimistic_max_age = 0\n"),
            "cache.optimistic_max_age"
        );
        assert_eq!(
            refused_key("[cache]\nprefetch_after = 0\n"),
            "cache.prefetch_after"
        );
        assert_eq!(
            refused_key("[cache]\nprefetch_inflight = 1000\n"),
            "cache.prefetch_inflight"
        );
        assert!(parse("[cache]\noptimistic = true\nprefetch = false\n").is_ok());
    }

    #[test]
    fn min_ttl_above_max_ttl_is_refused() {
        assert_eq!(
            refused_key("[cache]\nmin_ttl = 600\nmax_ttl = 300\n"),
            "cache.min_ttl"
        );
        assert!(parse("[cache]\nmin_ttl = 300\nmax_ttl = 300\n").is_ok());
    }
}
