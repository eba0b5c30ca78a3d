//! `[[forward]]`: conditional forwarding — names under some domains, and the
//! reverse zones of the LAN, asked of other resolvers (the router, which
//! knows its DHCP clients' names) than `[upstream] servers`.
//! `resolve::route` picks the most specific zone per question.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

use super::error::BadValue;
use super::upstream_spec::UpstreamSpec;
use crate::domain::reverse::reverse_zones;
use crate::domain::{Domain, DomainError};

/// The most `[[forward]]` tables.
pub const MAX_FORWARDS: usize = 16;

/// One `[[forward]]` table: where the names under `domains` go.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forward {
    /// The zones forwarded: domain names (`fritz.box`, `lan`), reverse
    /// zones (`168.192.in-addr.arpa`), or an address range whose reverse
    /// zones these are (`192.168.178.0/24`, `fd00::/64`). A name under
    /// several zones of several tables goes to the most specific zone's
    /// servers. A private range's reverse zone given here is asked of these
    /// servers instead of being answered "no such name" at home.
    pub domains: Vec<String>,
    /// The resolvers asked for these zones, as in `[upstream] servers`
    /// (plain, `tls://…`, `https://…`), tried in order with `[upstream]`'s
    /// timeouts and tries. Their answers are cached no longer than their
    /// TTL (`[cache] min_ttl` does not raise it) and passed on as they
    /// come, DNSSEC records included.
    pub servers: Vec<UpstreamSpec>,
}

impl Forward {
    /// The zones as lower-case names without the trailing dot: each domain
    /// as given, each range as its reverse zones.
    pub fn zones(&self) -> Vec<String> {
        let mut zones = Vec::new();
        for domain in &self.domains {
            match domain.parse::<IpNet>() {
                Ok(net) => zones.extend(reverse_zones(net)),
                Err(_) => zones.extend(zone_name(domain).ok()),
            }
        }
        zones
    }
}

/// `domain` as a zone: a domain name as lists write them, except that a
/// single label (`lan`, `box`) is a zone too.
fn zone_name(domain: &str) -> Result<String, DomainError> {
    // Under a label of its own, a single label is a name of two.
    let under = Domain::parse(&format!("a.{}", domain.trim_start_matches('.')))?;
    Ok(under.as_str()[2..].to_owned())
}

/// Checks each table: zones that parse, at least one server (a DoH host by
/// name only with an address or `[upstream] bootstrap`), and no more tables
/// than [`MAX_FORWARDS`].
pub(super) fn check(
    forwards: &[Forward],
    bootstrap: &[std::net::SocketAddr],
) -> Result<(), BadValue> {
    if forwards.len() > MAX_FORWARDS {
        return Err(BadValue::new(
            "forward",
            format!(
                "{} [[forward]] tables: at most {MAX_FORWARDS}; give one table several domains",
                forwards.len()
            ),
        ));
    }
    for forward in forwards {
        if forward.domains.is_empty() {
            return Err(BadValue::new(
                "forward.domains",
                "give at least one domain, e.g. [\"fritz.box\", \"192.168.178.0/24\"]",
            ));
        }
        if forward.servers.is_empty() {
            return Err(BadValue::new(
                "forward.servers",
                "give at least one resolver, e.g. [\"192.168.178.1\"] (the router)",
            ));
        }
        let unfound = forward
            .servers
            .iter()
            .find(|spec| matches!(spec, UpstreamSpec::Https(https) if https.needs_bootstrap()));
        if let (Some(spec), true) = (unfound, bootstrap.is_empty()) {
            return Err(BadValue::new(
                "forward.servers",
                format!(
                    "`{spec}` names its host, whose address ralo must find first: write the address after # or set [upstream] bootstrap"
                ),
            ));
        }
        for domain in &forward.domains {
            if domain.parse::<IpNet>().is_ok() {
                continue;
            }
            if domain.parse::<IpAddr>().is_ok() {
                return Err(BadValue::new(
                    "forward.domains",
                    format!("`{domain}` is an address: give its range, e.g. \"{domain}/24\""),
                ));
            }
            if let Err(error) = zone_name(domain) {
                return Err(BadValue::new(
                    "forward.domains",
                    format!("`{domain}`: {error}"),
                ));
            }
            if domain.trim_end_matches('.').is_empty() {
                return Err(BadValue::new(
                    "forward.domains",
                    "the root would forward every name: use [upstream] servers for that",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::file::{parse_test as parse, refused_key};

    fn zones(domains: &[&str]) -> Vec<String> {
        Forward {
            domains: domains.iter().map(|d| (*d).to_owned()).collect(),
            servers: Vec::new(),
        }
        .zones()
    }

    #[test]
    fn names_and_ranges_become_zones() {
        assert_eq!(zones(&["Fritz.Box."]), ["fritz.box"]);
        assert_eq!(
            zones(&["lan", "192.168.0.0/23"]),
            ["lan", "0.168.192.in-addr.arpa", "1.168.192.in-addr.arpa"]
        );
    }

    #[test]
    fn a_forward_table_is_read_with_its_servers() {
        let config = parse(
            "[[forward]]\ndomains = [\"fritz.box\", \"192.168.178.0/24\"]\nservers = [\"192.168.178.1\"]\n",
        )
        .unwrap();
        assert_eq!(config.forward.len(), 1);
        assert_eq!(config.forward[0].servers[0].to_string(), "192.168.178.1:53");
    }

    #[test]
    fn mistakes_are_refused_with_the_key() {
        for (text, key) in [
            (
                "domains = []\nservers = [\"192.168.1.1\"]",
                "forward.domains",
            ),
            ("domains = [\"lan\"]\nservers = []", "forward.servers"),
            (
                "domains = [\"192.168.1.1\"]\nservers = [\"192.168.1.1\"]",
                "forward.domains",
            ),
            (
                "domains = [\"a..b\"]\nservers = [\"192.168.1.1\"]",
                "forward.domains",
            ),
            (
                "domains = [\".\"]\nservers = [\"192.168.1.1\"]",
                "forward.domains",
            ),
        ] {
            assert_eq!(
                refused_key(&format!("[[forward]]\n{text}\n")),
                key,
                "{text}"
            );
        }
        assert_eq!(
            refused_key(
                "[[forward]]\ndomains = [\"lan\"]\nservers = [\"https://router.lan/dns-query\"]\n"
            ),
            "forward.servers"
        );
        assert!(
            parse("[[forward]]\ndomains = [\"lan\"]\nservers = [\"https://router.lan/dns-query#192.168.1.1\", \"tls://192.168.1.1#router.lan\"]\n")
                .is_ok()
        );
        let err = parse("[[forward]]\ndomains = [\"lan\"]\nservers = [\"router\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("servers"), "{err}");
    }
}
