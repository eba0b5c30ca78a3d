//! `[upstream]`: the resolvers `resolve::forward` asks, and the bounds on
//! how long and how often it asks them.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use serde::Deserialize;

use super::error::BadValue;

/// `[upstream]`: the resolvers names are forwarded to.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Upstream {
    /// Resolvers as `ip` or `ip:port` (`[v6]:port`), tried in order: the
    /// next one is asked when one times out, fails or refuses. Default:
    /// Quad9 (`9.9.9.9`, `149.112.112.112`) and Cloudflare (`1.1.1.1`).
    pub servers: Vec<UpstreamSpec>,
    /// How long one try waits for an answer (milliseconds).
    pub timeout_ms: u64,
    /// The bound on a whole client query: when every try has failed by then
    /// the client gets SERVFAIL (or a stale answer). At most 2500 ms.
    pub deadline_ms: u64,
    /// At most this many upstream tries per client query (1–3).
    pub max_tries: u8,
    /// At most this many client questions wait for upstream answers at once
    /// (identical questions share one and count once). A question beyond
    /// it gets a stale answer from the cache, else SERVFAIL, at once, and
    /// is counted (`ralo stats`: "over the upstream in-flight cap"). This
    /// bounds the sockets and memory a flood of distinct names can take:
    /// each question in flight holds up to `max_tries` sockets. Default
    /// 256, above dnsmasq's 150 (Pi-hole); 1 to 4096.
    pub max_inflight: usize,
}

impl Default for Upstream {
    fn default() -> Self {
        Upstream {
            servers: vec![
                UpstreamSpec::Plain(SocketAddr::from(([9, 9, 9, 9], 53))),
                UpstreamSpec::Plain(SocketAddr::from(([1, 1, 1, 1], 53))),
                UpstreamSpec::Plain(SocketAddr::from(([149, 112, 112, 112], 53))),
            ],
            timeout_ms: 800,
            deadline_ms: 2000,
            max_tries: 3,
            max_inflight: 256,
        }
    }
}

impl Upstream {
    /// The resolvers' addresses, in order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.servers.iter().map(UpstreamSpec::addr).collect()
    }

    /// Checks that there is a resolver, and the bounds on timeouts, tries
    /// and questions in flight.
    pub(super) fn check(&self) -> Result<(), BadValue> {
        if self.servers.is_empty() {
            return Err(BadValue::new(
                "upstream.servers",
                "give at least one resolver, e.g. \"9.9.9.9:53\"",
            ));
        }
        BadValue::unless_in("upstream.timeout_ms", self.timeout_ms, 50..=2_500)?;
        if !(self.timeout_ms..=2_500).contains(&self.deadline_ms) {
            return Err(BadValue::new(
                "upstream.deadline_ms",
                format!(
                    "{} must be between upstream.timeout_ms ({}) and 2500",
                    self.deadline_ms, self.timeout_ms
                ),
            ));
        }
        BadValue::unless_in("upstream.max_tries", self.max_tries, 1..=3)?;
        BadValue::unless_in("upstream.max_inflight", self.max_inflight, 1..=4096)
    }
}

/// One `[upstream] servers` entry: a resolver and how it is asked. Written
/// `ip` or `ip:port` (`[v6]:port`); port 53 when none is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UpstreamSpec {
    /// Plain DNS to this address: UDP, and TCP for a truncated answer.
    Plain(SocketAddr),
}

impl UpstreamSpec {
    /// The resolver's address.
    pub fn addr(&self) -> SocketAddr {
        match self {
            UpstreamSpec::Plain(addr) => *addr,
        }
    }
}

impl FromStr for UpstreamSpec {
    type Err = UpstreamSpecError;

    fn from_str(text: &str) -> Result<UpstreamSpec, UpstreamSpecError> {
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(UpstreamSpec::Plain(addr));
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(UpstreamSpec::Plain(SocketAddr::new(ip, 53)));
        }
        Err(UpstreamSpecError::NotAnAddress(text.to_owned()))
    }
}

/// The form [`UpstreamSpec::from_str`] reads, with the port always written.
impl fmt::Display for UpstreamSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamSpec::Plain(addr) => write!(f, "{addr}"),
        }
    }
}

/// From the text [`UpstreamSpec::from_str`] reads. toml's message shows the
/// line but not the key, so the refusal names `upstream.servers` itself.
impl<'de> Deserialize<'de> for UpstreamSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<UpstreamSpec, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|e| serde::de::Error::custom(format_args!("key `upstream.servers`: {e}")))
    }
}

/// Why an `[upstream] servers` entry was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamSpecError {
    /// Neither an IP address nor an IP address and a port.
    #[error(
        "`{0}` is not an address: write an IP with an optional port, e.g. \"9.9.9.9:53\" or \"[2620:fe::fe]:53\" (names cannot be used: ralo is the resolver)"
    )]
    NotAnAddress(String),
}

#[cfg(test)]
mod tests {
    use super::{UpstreamSpec, UpstreamSpecError};
    use crate::config::file::{parse_test as parse, refused_key};

    #[test]
    fn upstream_names_are_refused_naming_the_key_and_the_fix() {
        let err = parse("[upstream]\nservers = [\"9.9.9.9\", \"dns.quad9.net\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(
            err.contains("key `upstream.servers`: `dns.quad9.net` is not an address"),
            "{err}"
        );
        assert!(err.contains("\"9.9.9.9:53\""), "{err}");
        assert_eq!(
            "dns.quad9.net".parse::<UpstreamSpec>(),
            Err(UpstreamSpecError::NotAnAddress("dns.quad9.net".into()))
        );
    }

    #[test]
    fn upstream_without_port_gets_53() {
        let spec = |text: &str| text.parse::<UpstreamSpec>().unwrap().addr();
        assert_eq!(spec("9.9.9.9").port(), 53);
        assert_eq!(spec("2620:fe::fe").port(), 53);
        assert_eq!(spec("[::1]:5300").port(), 5300);
        let c = parse("[upstream]\nservers = [\"192.0.2.1\", \"[2001:db8::1]:5353\"]\n").unwrap();
        assert_eq!(
            c.upstream.addrs(),
            [
                "192.0.2.1:53".parse().unwrap(),
                "[2001:db8::1]:5353".parse().unwrap()
            ]
        );
    }

    #[test]
    fn upstream_spec_displays_as_it_is_written_with_its_port() {
        for text in ["9.9.9.9", "[2620:fe::fe]:5353"] {
            let spec: UpstreamSpec = text.parse().unwrap();
            assert_eq!(spec.to_string().parse::<UpstreamSpec>(), Ok(spec));
        }
        assert_eq!(
            "9.9.9.9".parse::<UpstreamSpec>().unwrap().to_string(),
            "9.9.9.9:53"
        );
    }

    #[test]
    fn defaults_are_quad9_and_cloudflare_on_port_53() {
        let servers: Vec<String> = parse("")
            .unwrap()
            .upstream
            .servers
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(servers, ["9.9.9.9:53", "1.1.1.1:53", "149.112.112.112:53"]);
    }

    #[test]
    fn upstream_values_out_of_range_are_refused_with_their_key() {
        for (text, key) in [
            ("servers = []", "upstream.servers"),
            ("timeout_ms = 49", "upstream.timeout_ms"),
            ("timeout_ms = 2501", "upstream.timeout_ms"),
            (
                "timeout_ms = 900\ndeadline_ms = 800",
                "upstream.deadline_ms",
            ),
            ("max_tries = 0", "upstream.max_tries"),
            ("max_tries = 4", "upstream.max_tries"),
        ] {
            assert_eq!(refused_key(&format!("[upstream]\n{text}\n")), key, "{text}");
        }
    }

    #[test]
    fn upstream_inflight_cap_is_bounded() {
        assert_eq!(parse("").unwrap().upstream.max_inflight, 256);
        for bad_value in [0, 4097] {
            let err = parse(&format!("[upstream]\nmax_inflight = {bad_value}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("upstream.max_inflight"), "{err}");
        }
    }

    #[test]
    fn deadline_above_bound_is_refused() {
        let err = parse("[upstream]\ndeadline_ms = 5000\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("upstream.deadline_ms"), "{err}");
    }
}
