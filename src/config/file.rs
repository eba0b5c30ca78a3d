//! The whole file, [`Config`]: one field per section, read, parsed by serde
//! and checked section by section, then across sections. With no config file
//! at all, [`Config::embedded`] gives the first-run defaults.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::clients::{self, Client, ClientEntry, ClientLookup, DEFAULT_GROUP, Group, group_bit};
use super::error::{BadValue, Error};
use super::lists::{self, ListSource, MAX_SOURCES};
use super::{
    Access, Blocking, Cache, Local, Metrics, Paths, Server, Telemetry, Update, Upstream, Web,
};

/// The config the first run uses when no file is given.
pub const EMBEDDED: &str = include_str!("../../config/ralo.toml");

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listening sockets.
    #[serde(default)]
    pub server: Server,
    /// Which clients get answers.
    #[serde(default)]
    pub access: Access,
    /// Where names that are not blocked are forwarded.
    #[serde(default)]
    pub upstream: Upstream,
    /// The answer cache.
    #[serde(default)]
    pub cache: Cache,
    /// How blocked names are answered.
    #[serde(default)]
    pub blocking: Blocking,
    /// The household's own names, answered locally.
    #[serde(default)]
    pub local: Local,
    /// Where state and sockets live.
    #[serde(default)]
    pub paths: Paths,
    /// How and when the updater refreshes the lists.
    #[serde(default)]
    pub update: Update,
    /// The shared segment with counters and recent queries.
    #[serde(default)]
    pub telemetry: Telemetry,
    /// The Prometheus endpoint.
    #[serde(default)]
    pub metrics: Metrics,
    /// The admin page, its API and the query history (`ralo web`).
    #[serde(default)]
    pub web: Web,
    /// Blocklists, in order. The first list that has a name is the one
    /// answers and logs name.
    #[serde(default)]
    pub lists: Vec<ListSource>,
    /// Allowlists: a name on one of these is never blocked for the groups
    /// it applies to.
    #[serde(default)]
    pub allowlists: Vec<ListSource>,
    /// Household devices by name, each with the ids that recognise it.
    #[serde(default)]
    pub clients: Vec<Client>,
    /// Groups of devices that share which lists apply to them. Every client
    /// in none is in the implicit group `default`.
    #[serde(default)]
    pub groups: Vec<Group>,
    /// How the asking client is found: DHCP leases, trusted forwarders.
    #[serde(default)]
    pub client_lookup: ClientLookup,
    /// Conditional forwarding: domains (and the LAN's reverse zones) asked
    /// of other resolvers, such as the router.
    #[serde(default)]
    pub forward: Vec<super::Forward>,
    /// The folder relative list paths resolve against: the config file's
    /// folder, or the working directory for the embedded defaults.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let base = absolute
            .parent()
            .map(Path::to_owned)
            .unwrap_or_else(|| PathBuf::from("."));
        Config::parse(&text, &path.display().to_string(), base)
    }

    /// The first-run defaults: `config/ralo.toml` as compiled into the
    /// binary, with list paths relative to the working directory.
    pub fn embedded() -> Result<Config, Error> {
        Config::parse(EMBEDDED, "embedded defaults", PathBuf::from("."))
    }

    /// Parses and checks config text. `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, base_dir: PathBuf) -> Result<Config, Error> {
        let mut config: Config = toml::from_str(text).map_err(|e| Error::Syntax {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        config.paths.resolve_against(&base_dir);
        config.client_lookup.resolve_against(&base_dir);
        config.upstream.resolve_against(&base_dir);
        config.base_dir = base_dir;
        config.add_implicit_household_lists();
        config.check().map_err(|bad| bad.in_origin(origin))?;
        Ok(config)
    }

    /// Checks values that toml cannot: each section's own, then those across
    /// the two list sections (their count, unique names), then clients and
    /// groups with the lists' groups.
    fn check(&self) -> Result<(), BadValue> {
        self.server.check()?;
        self.access.check()?;
        self.upstream.check()?;
        self.upstream.check_bootstrap_is_not(&self.server.listen)?;
        self.cache.check()?;
        self.blocking.check()?;
        self.local.check()?;
        self.update.check()?;
        self.telemetry.check()?;
        self.web.check()?;
        self.client_lookup.check()?;
        super::forward::check(&self.forward, &self.upstream.bootstrap)?;
        let sources = self.lists.len() + self.allowlists.len();
        if sources > MAX_SOURCES {
            return Err(BadValue::new(
                "lists",
                format!(
                    "{sources} lists and allowlists: at most {MAX_SOURCES}; merge some into one file"
                ),
            ));
        }
        let sections = [("lists", &self.lists), ("allowlists", &self.allowlists)];
        for (section, sources) in sections {
            lists::check_section(section, sources)?;
        }
        let mut names = HashSet::new();
        for (section, sources) in sections {
            if let Some(twice) = sources.iter().find(|s| !names.insert(s.name.as_str())) {
                return Err(BadValue::new(
                    format!("{section}.name"),
                    format!("`{}` is used twice; list names must be unique", twice.name),
                ));
            }
        }
        let sections = sections.map(|(section, sources)| (section, sources.as_slice()));
        clients::check_across(&self.clients, &self.groups, &sections)
    }

    /// When no `[[lists]]` entry is the household's own, `block.txt` in the
    /// state folder is (and `allow.txt` for `[[allowlists]]`): `ralo block`
    /// and the web page always have a list to edit, as `pihole deny` always
    /// works. Each is named `household` (`household-allow`), or with a
    /// number added when a configured list has that name.
    fn add_implicit_household_lists(&mut self) {
        for (allow, file, name) in [
            (false, "block.txt", "household"),
            (true, "allow.txt", "household-allow"),
        ] {
            let section = if allow { &self.allowlists } else { &self.lists };
            if section.iter().any(|s| s.household) {
                continue;
            }
            let taken = |n: &str| {
                self.lists
                    .iter()
                    .chain(&self.allowlists)
                    .any(|s| s.name == n)
            };
            let mut unique = name.to_owned();
            for i in 2.. {
                if !taken(&unique) {
                    break;
                }
                unique = format!("{name}-{i}");
            }
            let source = ListSource::implicit_household(unique, self.paths.state.join(file));
            if allow {
                self.allowlists.push(source);
            } else {
                self.lists.push(source);
            }
        }
    }

    /// The TCP idle timeout.
    pub fn tcp_idle(&self) -> Duration {
        Duration::from_secs(self.server.tcp_idle_secs)
    }

    /// The groups by id: `default` (0), then `[[groups]]` in order.
    pub fn group_names(&self) -> Vec<&str> {
        std::iter::once(DEFAULT_GROUP)
            .chain(self.groups.iter().map(|g| g.name.as_str()))
            .collect()
    }

    /// The groups `list` applies to, bit `i` for
    /// [`group_names`](Self::group_names)`()[i]`. The household's own lists
    /// apply to every group.
    pub fn list_groups(&self, list: &ListSource) -> u64 {
        if list.household {
            return (0..=self.groups.len()).map(group_bit).fold(0, |a, b| a | b);
        }
        let names = self.group_names();
        list.groups
            .iter()
            .filter_map(|name| names.iter().position(|n| n == name))
            .map(group_bit)
            .fold(0, |a, b| a | b)
    }

    /// Every id of `[[clients]]` and every bare id of `[[groups]] clients`,
    /// each once, in that order, with its groups and its client's name. A
    /// client's ids are in the groups naming the client, or in `default`
    /// when none does; a bare id is in the groups naming it. An id given
    /// twice is one entry in the groups of both, with the first client's
    /// name.
    pub fn client_ids(&self) -> Vec<ClientEntry> {
        clients::resolve_ids(&self.clients, &self.groups)
    }

    /// The `[[clients]]` entry with the most specific address or range
    /// that holds `addr` (a MAC address or host name is matched only
    /// through the tables the server reads, so not here).
    pub fn client_at(&self, addr: std::net::IpAddr) -> Option<&Client> {
        self.clients
            .iter()
            .flat_map(|client| client.ids.iter().map(move |id| (client, id)))
            .filter(|(_, id)| id.contains(addr))
            // The first of the most specific.
            .min_by_key(|(_, id)| match id {
                crate::groups::ClientId::Net(net) => std::cmp::Reverse(net.prefix_len()),
                _ => std::cmp::Reverse(0),
            })
            .map(|(client, _)| client)
    }

    /// The household's own blocklist (`allow` false) or allowlist file.
    pub fn household_file(&self, allow: bool) -> Option<PathBuf> {
        let sources = if allow { &self.allowlists } else { &self.lists };
        sources
            .iter()
            .find(|s| s.household)
            .and_then(|s| s.resolved_path(&self.base_dir))
    }
}

/// Parses `text` as the file `test.toml` in `/etc/ralo`.
#[cfg(test)]
pub(super) fn parse_test(text: &str) -> Result<Config, Error> {
    Config::parse(text, "test.toml", PathBuf::from("/etc/ralo"))
}

/// The key `text` is refused for, which must be a value a check refuses.
#[cfg(test)]
pub(super) fn refused_key(text: &str) -> String {
    match parse_test(text) {
        Err(Error::Value { origin, key, .. }) => {
            assert_eq!(origin, "test.toml");
            key
        }
        other => panic!("not refused by a check: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{MAX_SOURCES, parse_test as parse, refused_key};
    use crate::config::{Config, Mode};

    #[test]
    fn embedded_defaults_parse() {
        let c = Config::embedded().expect("embedded config is valid");
        assert!(c.server.listen.iter().any(|a| a.port() == 5353));
        assert!(!c.lists.is_empty());
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.blocking.mode, Mode::Null);
        assert_eq!(c.upstream.addrs().len(), 3);
    }

    #[test]
    fn unknown_key_is_refused_with_its_name_and_line() {
        let err = parse("[server]\nlisten = [\"127.0.0.1:53\"]\nlistn = 1\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("listn"), "{text}");
        assert!(text.contains('3'), "line number missing: {text}");
    }

    #[test]
    fn refused_value_names_file_and_key() {
        let err = parse("[blocking]\nttl = 7200\n").unwrap_err().to_string();
        assert!(
            err.starts_with("test.toml: key `blocking.ttl`: 7200"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_list_names_are_refused() {
        let text =
            "[[lists]]\nname = \"a\"\npath = \"x\"\n[[allowlists]]\nname = \"a\"\npath = \"y\"\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains("used twice"), "{err}");
        assert_eq!(refused_key(text), "allowlists.name");
    }

    #[test]
    fn without_a_marked_list_the_household_lists_are_in_the_state_folder() {
        let c = parse("[paths]\nstate = \"/var/lib/ralo\"\n").unwrap();
        assert_eq!(
            c.household_file(false),
            Some(PathBuf::from("/var/lib/ralo/block.txt"))
        );
        assert_eq!(
            c.household_file(true),
            Some(PathBuf::from("/var/lib/ralo/allow.txt"))
        );
        assert_eq!(c.lists[0].name, "household");
        assert_eq!(c.allowlists[0].name, "household-allow");

        // A configured list keeps its name; the implicit one takes another.
        let taken =
            parse("[[lists]]\nname = \"household\"\nurl = \"https://a.example/l\"\n").unwrap();
        let names: Vec<&str> = taken.lists.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["household", "household-2"]);

        // A marked list is the household's; nothing is added.
        let marked =
            parse("[[lists]]\nname = \"mine\"\npath = \"mine.txt\"\nhousehold = true\n").unwrap();
        assert_eq!(marked.lists.len(), 1);
        assert_eq!(
            marked.household_file(false),
            Some(PathBuf::from("/etc/ralo/mine.txt"))
        );
    }

    #[test]
    fn more_sources_than_the_cap_are_refused_before_compiling() {
        let mut text = String::new();
        for i in 0..=MAX_SOURCES {
            text.push_str(&format!(
                "[[lists]]\nname = \"l{i}\"\npath = \"l{i}.txt\"\n"
            ));
        }
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("at most 512"), "{err}");
    }
}
