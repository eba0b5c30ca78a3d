//! `[upstream]`: the resolvers `resolve::forward` asks, and the bounds on
//! how long and how often it asks them.

use std::net::{IpAddr, SocketAddr};

use serde::Deserialize;

use super::error::BadValue;

/// `[upstream]`: the resolvers names are forwarded to.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Upstream {
    /// Resolvers as `ip` or `ip:port` (`[v6]:port`), tried in order: the
    /// next one is asked when one times out, fails or refuses. Default:
    /// Quad9 (`9.9.9.9`, `149.112.112.112`) and Cloudflare (`1.1.1.1`).
    pub servers: Vec<String>,
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
                "9.9.9.9:53".into(),
                "1.1.1.1:53".into(),
                "149.112.112.112:53".into(),
            ],
            timeout_ms: 800,
            deadline_ms: 2000,
            max_tries: 3,
            max_inflight: 256,
        }
    }
}

impl Upstream {
    /// The resolvers as socket addresses (validated by [`Upstream::check`]).
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.servers
            .iter()
            .filter_map(|s| parse_upstream(s).ok())
            .collect()
    }

    /// Checks the resolvers and the bounds on timeouts, tries and questions
    /// in flight.
    pub(super) fn check(&self) -> Result<(), BadValue> {
        if self.servers.is_empty() {
            return Err(BadValue::new(
                "upstream.servers",
                "give at least one resolver, e.g. \"9.9.9.9:53\"",
            ));
        }
        for s in &self.servers {
            if let Err(msg) = parse_upstream(s) {
                return Err(BadValue::new("upstream.servers", msg));
            }
        }
        if !(50..=2_500).contains(&self.timeout_ms) {
            return Err(BadValue::new(
                "upstream.timeout_ms",
                format!("{} is out of range 50..=2500", self.timeout_ms),
            ));
        }
        if !(self.timeout_ms..=2_500).contains(&self.deadline_ms) {
            return Err(BadValue::new(
                "upstream.deadline_ms",
                format!(
                    "{} must be between upstream.timeout_ms ({}) and 2500",
                    self.deadline_ms, self.timeout_ms
                ),
            ));
        }
        if !(1..=3).contains(&self.max_tries) {
            return Err(BadValue::new(
                "upstream.max_tries",
                format!("{} is out of range 1..=3", self.max_tries),
            ));
        }
        if !(1..=4096).contains(&self.max_inflight) {
            return Err(BadValue::new(
                "upstream.max_inflight",
                format!("{} is out of range 1..=4096", self.max_inflight),
            ));
        }
        Ok(())
    }
}

/// Parses `ip` or `ip:port` (`[v6]:port`); port 53 when none is given.
pub fn parse_upstream(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    Err(format!(
        "`{text}` is not an address: write an IP with an optional port, e.g. \"9.9.9.9:53\" or \"[2620:fe::fe]:53\" (names cannot be used: ralo is the resolver)"
    ))
}

#[cfg(test)]
mod tests {
    use super::parse_upstream;
    use crate::config::file::parse_test as parse;

    #[test]
    fn upstream_names_are_refused() {
        let err = parse("[upstream]\nservers = [\"dns.quad9.net\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("upstream.servers"), "{err}");
    }

    #[test]
    fn upstream_without_port_gets_53() {
        assert_eq!(parse_upstream("9.9.9.9").unwrap().port(), 53);
        assert_eq!(parse_upstream("[::1]:5300").unwrap().port(), 5300);
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
