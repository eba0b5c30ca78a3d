//! `[access]`: which client networks are answered, and the per-client rate
//! limit `resolve::ratelimit` applies.

use ipnet::IpNet;
use serde::Deserialize;

use super::error::BadValue;

/// `[access]`: which clients get answers, and how many. Others get REFUSED.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Access {
    /// Client networks that are answered. Default: loopback, RFC 1918
    /// private ranges, CGNAT `100.64.0.0/10`, link-local and IPv6 ULA.
    /// IPv4-mapped IPv6 clients (`::ffff:192.168.1.5`) are matched as IPv4.
    pub allow: Vec<IpNet>,
    /// Queries per second one client may keep up (the refill rate of its
    /// token bucket); 0 turns rate limiting off. Default 50 (at most
    /// 100000). Pi-hole allows a client 1000 queries per 60 s (about 17 per
    /// second) and AdGuard Home 20 per second; ralo allows more so that a
    /// busy household device, or a router that forwards the whole
    /// household's queries as one client, never meets the limit, while a
    /// device stuck in a loop or a flood is held to 50 per second.
    pub rate_limit_qps: u32,
    /// Queries one client may send at once before the rate applies (the
    /// size of its bucket), e.g. a browser opening a page full of
    /// third-party names. Default 1000, Pi-hole's allowance per minute;
    /// 1 to 1000000.
    pub rate_limit_burst: u32,
    /// What a client over its limit gets: `"refuse"` (default: REFUSED with
    /// Extended DNS Error 18 saying it is rate limited, so a device fails
    /// fast instead of retrying) or `"drop"` (no answer at all; better on
    /// a server reachable from the internet, where answers could be aimed
    /// at a forged source).
    pub rate_limit_action: RateLimitAction,
    /// Client networks never rate limited. Default: loopback
    /// (`127.0.0.0/8`, `::1/128`). Give `[]` to limit every client.
    pub rate_limit_exempt: Vec<IpNet>,
    /// IPv6 clients share one bucket per network of this many leading
    /// bits (32 to 128; default 56, as AdGuard Home): one device may hold a
    /// whole /64 of addresses. A home network is usually one /64, so every
    /// IPv6 device at home shares a bucket, which is why the default rate
    /// is generous. IPv4 clients are limited per address. ralo tracks up
    /// to 8192 clients; beyond that an idle one is forgotten.
    pub rate_limit_ipv6_prefix: u8,
}

/// What a client over its rate limit gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitAction {
    /// REFUSED, with Extended DNS Error 18 "Prohibited".
    #[default]
    Refuse,
    /// No answer.
    Drop,
}

impl Default for Access {
    fn default() -> Self {
        let nets = [
            "127.0.0.0/8",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "100.64.0.0/10",
            "169.254.0.0/16",
            "::1/128",
            "fc00::/7",
            "fe80::/10",
        ];
        let parse = |nets: &[&str]| nets.iter().filter_map(|n| n.parse().ok()).collect();
        Access {
            // Fixed lists of valid literals: parsing cannot fail.
            allow: parse(&nets),
            rate_limit_qps: 50,
            rate_limit_burst: 1000,
            rate_limit_action: RateLimitAction::Refuse,
            rate_limit_exempt: parse(&["127.0.0.0/8", "::1/128"]),
            rate_limit_ipv6_prefix: 56,
        }
    }
}

impl Access {
    /// Checks the rate limit's ranges.
    pub(super) fn check(&self) -> Result<(), BadValue> {
        if self.rate_limit_qps > 100_000 {
            return Err(BadValue::new(
                "access.rate_limit_qps",
                format!(
                    "{} is out of range 0..=100000 (0 turns the limit off)",
                    self.rate_limit_qps
                ),
            ));
        }
        BadValue::unless_in(
            "access.rate_limit_burst",
            self.rate_limit_burst,
            1..=1_000_000,
        )?;
        if !(32..=128).contains(&self.rate_limit_ipv6_prefix) {
            return Err(BadValue::new(
                "access.rate_limit_ipv6_prefix",
                format!(
                    "{} is out of range 32..=128 (56 or 64 are usual)",
                    self.rate_limit_ipv6_prefix
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimitAction;
    use crate::config::file::parse_test as parse;

    #[test]
    fn rate_limit_defaults_are_generous_and_exempt_loopback() {
        let access = parse("").unwrap().access;
        assert_eq!((access.rate_limit_qps, access.rate_limit_burst), (50, 1000));
        assert_eq!(access.rate_limit_action, RateLimitAction::Refuse);
        assert_eq!(access.rate_limit_ipv6_prefix, 56);
        let exempt: Vec<String> = access
            .rate_limit_exempt
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(exempt, ["127.0.0.0/8", "::1/128"]);
        let set = parse(
            "[access]\nrate_limit_action = \"drop\"\nrate_limit_exempt = []\nrate_limit_qps = 0\n",
        )
        .unwrap()
        .access;
        assert_eq!(set.rate_limit_action, RateLimitAction::Drop);
        assert!(set.rate_limit_exempt.is_empty());
        assert_eq!(set.rate_limit_qps, 0);
    }

    #[test]
    fn default_allow_covers_loopback_and_private_ranges() {
        let allow = parse("").unwrap().access.allow;
        assert_eq!(allow.len(), 9);
        for ip in ["127.0.0.1", "192.168.1.5", "10.1.2.3", "fd00::1"] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            assert!(allow.iter().any(|net| net.contains(&ip)), "{ip}");
        }
    }

    #[test]
    fn rate_limit_values_out_of_range_are_refused_with_their_key() {
        for (text, key) in [
            ("rate_limit_qps = 100001", "access.rate_limit_qps"),
            ("rate_limit_burst = 0", "access.rate_limit_burst"),
            (
                "rate_limit_ipv6_prefix = 16",
                "access.rate_limit_ipv6_prefix",
            ),
            (
                "rate_limit_ipv6_prefix = 129",
                "access.rate_limit_ipv6_prefix",
            ),
            ("rate_limit_action = \"slow\"", "rate_limit_action"),
        ] {
            let err = parse(&format!("[access]\n{text}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }
}
