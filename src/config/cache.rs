//! `[cache]`: the size of the answer cache `resolve::cache` keeps, its TTL
//! clamp and how long it may serve stale answers.

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
        }
    }
}

impl Cache {
    /// Checks that the TTL clamp is ordered.
    pub(super) fn check(&self) -> Result<(), BadValue> {
        if self.min_ttl > self.max_ttl {
            return Err(BadValue::new(
                "cache.min_ttl",
                "must not be larger than cache.max_ttl",
            ));
        }
        Ok(())
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
    fn min_ttl_above_max_ttl_is_refused() {
        assert_eq!(
            refused_key("[cache]\nmin_ttl = 600\nmax_ttl = 300\n"),
            "cache.min_ttl"
        );
        assert!(parse("[cache]\nmin_ttl = 300\nmax_ttl = 300\n").is_ok());
    }
}
