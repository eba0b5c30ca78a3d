//! Target (e): arbitrary text as `ralo.toml` → [`Config::parse`] (toml,
//! serde and the checks) → the parts `ralo serve` builds from a config.

use std::path::PathBuf;

use hickory_proto::rr::RecordType;

use crate::config::Config;
use crate::resolve::access::Access;
use crate::resolve::cache::Cache;
use crate::resolve::forward::Forwarder;
use crate::resolve::local::{Local, LocalAnswer};

/// The folder the config is taken to be in.
const BASE: &str = "/etc/ralo";

/// Parses `data` as a config file. Panics when the oracle is broken:
///
/// - text that is not UTF-8 is not a config (as reading the file refuses
///   it); any text is either accepted or refused with an error whose
///   message is not empty, never a panic;
/// - an accepted config keeps the promises of its checks (an address to
///   listen on, upstreams that all parse, timeouts and tries in range, the
///   TTL clamp ordered, unique list names, paths made absolute, every list
///   and every client id in at least one of at most
///   [`MAX_GROUPS`](crate::image::MAX_GROUPS) groups), and the resolver's
///   parts build from it, its local names answered locally.
pub fn config_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = match Config::parse(text, "fuzz.toml", PathBuf::from(BASE)) {
        Ok(config) => config,
        Err(error) => {
            assert!(!error.to_string().is_empty(), "an error without a message");
            return;
        }
    };
    assert!(!config.server.listen.is_empty(), "no address to listen on");
    assert!(config.server.tcp_idle_secs >= 1);
    let upstream = &config.upstream;
    assert!(!upstream.servers.is_empty());
    assert_eq!(
        upstream.addrs().len(),
        upstream.servers.len(),
        "every upstream parses"
    );
    assert!((50..=2_500).contains(&upstream.timeout_ms));
    assert!((upstream.timeout_ms..=2_500).contains(&upstream.deadline_ms));
    assert!((1..=3).contains(&upstream.max_tries));
    assert!(config.cache.min_ttl <= config.cache.max_ttl);
    assert!(config.blocking.ttl <= 3_600);
    assert!(config.paths.state.is_absolute() && config.paths.runtime.is_absolute());
    let mut names: Vec<&str> = config
        .lists
        .iter()
        .chain(&config.allowlists)
        .map(|s| s.name.as_str())
        .collect();
    let sources = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), sources, "list names are unique");
    for allow in [false, true] {
        if let Some(path) = config.household_file(allow) {
            assert!(path.starts_with(BASE) || path.is_absolute());
        }
    }
    assert!(config.client_lookup.leases.iter().all(|p| p.is_absolute()));
    check_groups(&config);

    let _ = Access::new(config.access.allow.clone());
    let _ = Cache::new(&config.cache);
    let _ = Forwarder::new(&config.upstream);
    let _ = config.tcp_idle();
    let local = Local::new(&config.local, &config.access.allow, &config.forward);
    for (name, addrs) in &config.local.records {
        let lower = crate::domain::Domain::parse(name)
            .unwrap_or_else(|e| panic!("accepted local name `{name}`: {e}"));
        let answer = local.answer(lower.as_str(), RecordType::A);
        assert_eq!(
            answer,
            Some(LocalAnswer::Addresses(addrs)),
            "local name `{name}` is answered with its addresses"
        );
    }
}

/// Every list and every client id is in at least one group, and only in
/// groups that exist.
fn check_groups(config: &Config) {
    let groups = config.group_names().len();
    assert!((1..=crate::image::MAX_GROUPS).contains(&groups));
    let all = u64::MAX >> (64 - groups);
    for list in config.lists.iter().chain(&config.allowlists) {
        let mask = config.list_groups(list);
        assert!(
            mask != 0 && mask & !all == 0,
            "list `{}`: {mask:#x}",
            list.name
        );
    }
    for entry in config.client_ids() {
        let mask = entry.groups;
        assert!(
            mask != 0 && mask & !all == 0,
            "id `{}`: {mask:#x}",
            entry.id
        );
    }
}
