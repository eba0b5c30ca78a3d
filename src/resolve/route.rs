//! Which resolvers a question goes to: conditional forwarding. Names under
//! a `[[forward]]` zone (the router's `fritz.box`, the LAN's reverse zone)
//! go to that table's servers — the most specific zone wins — and every
//! other name to `[upstream] servers`. Each table has a [`Forwarder`] of its
//! own, with `[upstream]`'s timeouts, tries and in-flight cap; their
//! upstreams are numbered after `[upstream] servers`, in table order, for
//! the counters ([`Routes::upstream_addrs`]).

use std::collections::HashMap;
use std::net::SocketAddr;

use super::forward::Forwarder;
use crate::config::{self, Config};

/// The forwarders, and which zones go to which.
pub struct Routes {
    /// `[upstream] servers`.
    default: Forwarder,
    /// One per `[[forward]]` table, in order.
    tables: Vec<Forwarder>,
    /// Each table's servers, as written.
    servers: Vec<Vec<String>>,
    /// Zone (lower-case, no trailing dot) → its table; a zone named by two
    /// tables goes to the first.
    zones: HashMap<String, usize>,
}

/// Where one question goes.
#[derive(Clone, Copy)]
pub struct Route<'a> {
    /// The forwarder that asks.
    pub forwarder: &'a Forwarder,
    /// A `[[forward]]` zone: the household's own names, whose answers are
    /// kept no longer than their TTL.
    pub local: bool,
    /// That zone, and its table's servers as written.
    pub zone: Option<(&'a str, &'a [String])>,
}

impl Routes {
    /// The forwarders of `config`.
    pub fn new(config: &Config) -> Routes {
        let mut first = config.upstream.servers.len();
        let mut tables = Vec::with_capacity(config.forward.len());
        let mut servers = Vec::with_capacity(config.forward.len());
        let mut zones = HashMap::new();
        for (i, table) in config.forward.iter().enumerate() {
            let upstream = config::Upstream {
                servers: table.servers.clone(),
                ..config.upstream.clone()
            };
            tables.push(Forwarder::new(&upstream).numbered_from(first));
            servers.push(table.servers.iter().map(ToString::to_string).collect());
            first += table.servers.len();
            for zone in table.zones() {
                zones.entry(zone).or_insert(i);
            }
        }
        Routes {
            default: Forwarder::new(&config.upstream),
            tables,
            servers,
            zones,
        }
    }

    /// Where the name `lower` (lower-case text, no trailing dot) goes: the
    /// table of its most specific `[[forward]]` zone, else the default.
    pub fn route(&self, lower: &str) -> Route<'_> {
        if !self.zones.is_empty() {
            let mut rest = lower;
            loop {
                if let Some((zone, &table)) = self.zones.get_key_value(rest) {
                    return Route {
                        forwarder: &self.tables[table],
                        local: true,
                        zone: Some((zone.as_str(), self.servers[table].as_slice())),
                    };
                }
                match rest.split_once('.') {
                    Some((_, parent)) => rest = parent,
                    None => break,
                }
            }
        }
        Route {
            forwarder: &self.default,
            local: false,
            zone: None,
        }
    }

    /// The default forwarder (`[upstream] servers`).
    pub fn default_forwarder(&self) -> &Forwarder {
        &self.default
    }

    /// Every forwarder: the default, then the tables.
    pub fn all(&self) -> impl Iterator<Item = &Forwarder> {
        std::iter::once(&self.default).chain(&self.tables)
    }

    /// The address of every upstream, in the order the counters number
    /// them: `[upstream] servers`, then each `[[forward]]` table's.
    pub fn upstream_addrs(config: &Config) -> Vec<SocketAddr> {
        let tables = config.forward.iter().flat_map(|t| &t.servers);
        let mut addrs = config.upstream.addrs();
        addrs.extend(tables.map(config::UpstreamSpec::addr));
        addrs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, crate::config::Error> {
        Config::parse(text, "test.toml", std::path::PathBuf::from("/etc/ralo"))
    }

    fn routes() -> Routes {
        let config = parse(
            "[upstream]\nservers = [\"192.0.2.1\"]\n\
             [[forward]]\ndomains = [\"fritz.box\", \"192.168.178.0/24\"]\nservers = [\"192.168.178.1\", \"192.168.178.2\"]\n\
             [[forward]]\ndomains = [\"nas.fritz.box\"]\nservers = [\"192.168.178.9\"]\n",
        )
        .unwrap();
        Routes::new(&config)
    }

    /// Which forwarder: 0 the default, then the tables.
    fn which(routes: &Routes, name: &str) -> (usize, bool) {
        let route = routes.route(name);
        let index = routes
            .all()
            .position(|f| std::ptr::eq(f, route.forwarder))
            .unwrap();
        (index, route.local)
    }

    #[test]
    fn the_most_specific_zone_wins() {
        let r = routes();
        assert_eq!(which(&r, "printer.fritz.box"), (1, true));
        assert_eq!(which(&r, "fritz.box"), (1, true));
        assert_eq!(which(&r, "nas.fritz.box"), (2, true));
        let zone = r.route("disk.nas.fritz.box").zone;
        assert_eq!(
            zone,
            Some(("nas.fritz.box", &["192.168.178.9:53".to_owned()][..]))
        );
        assert_eq!(which(&r, "disk.nas.fritz.box"), (2, true));
        assert_eq!(which(&r, "7.178.168.192.in-addr.arpa"), (1, true));
        assert_eq!(which(&r, "7.1.168.192.in-addr.arpa"), (0, false));
        assert_eq!(which(&r, "notfritz.box"), (0, false));
        assert_eq!(which(&r, "example.com"), (0, false));
        assert_eq!(which(&r, ""), (0, false));
    }

    #[test]
    fn upstreams_are_numbered_default_first_then_tables_in_order() {
        let config = parse(
            "[upstream]\nservers = [\"192.0.2.1\"]\n\
             [[forward]]\ndomains = [\"lan\"]\nservers = [\"192.168.1.1\"]\n",
        )
        .unwrap();
        let addrs: Vec<String> = Routes::upstream_addrs(&config)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(addrs, ["192.0.2.1:53", "192.168.1.1:53"]);
    }
}
