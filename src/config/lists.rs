//! `[[lists]]` and `[[allowlists]]`: one [`ListSource`] per entry, where its
//! rules come from, how they are read, to which groups and when they apply,
//! and the checks of one section.
//! The checks across both sections live with [`Config`](super::Config).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::clients::DEFAULT_GROUP;
use super::error::BadValue;
use crate::groups::Schedule;
use crate::lists::{Format, ParseOptions};

/// The most `[[lists]]` and `[[allowlists]]` entries together.
pub const MAX_SOURCES: usize = 512;

// An image holds at most MAX_LISTS lists: a config the check accepts always
// compiles.
const _: () = assert!(MAX_SOURCES <= crate::image::MAX_LISTS);

/// One `[[lists]]` or `[[allowlists]]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSource {
    /// Short name shown in answers (EDE text), logs and `ralo check`.
    pub name: String,
    /// A local file; relative paths resolve against the config file's folder.
    pub path: Option<PathBuf>,
    /// Or a URL, `https://…` (the updater downloads it and keeps the last good
    /// copy in the state folder). Give `path` or `url`, not both.
    pub url: Option<String>,
    /// Allow a plain `http://` URL (off: lists should not be open to tampering
    /// on the way).
    #[serde(default)]
    pub allow_http: bool,
    /// The household's own list: `ralo block` / `ralo unblock` (for
    /// `[[lists]]`) and `ralo allow` / `ralo unallow` (for `[[allowlists]]`)
    /// edit this file. At most one per section; it needs a `path`. When no
    /// entry of a section is marked, `block.txt` (`allow.txt`) in the state
    /// folder is the household's list, always compiled in, named
    /// `household` (`household-allow`).
    #[serde(default)]
    pub household: bool,
    /// `"auto"` (default: decided per line), `"hosts"`, `"domains"`,
    /// `"adblock"` or `"regex"` (Pi-hole's regex list: one regular
    /// expression a line, matched against the query name, with
    /// `;querytype=` options).
    #[serde(default = "default_format", deserialize_with = "format_from_str")]
    pub format: Format,
    /// Hosts and plain entries also cover their subdomains (adblock `||x^`
    /// and `*.x` always do).
    #[serde(default)]
    pub subdomains: bool,
    /// What the address on a hosts line does: `"block"` (default: every
    /// hosts line blocks its names, whatever its address) or `"answer"`: a
    /// line whose address is not `0.0.0.0`, `127.0.0.1`, `::` or `::1`
    /// answers its names (exactly, not their subdomains) with that
    /// address, as A or AAAA, for the groups and times the list applies
    /// while blocking is on — so a local hosts file (`192.168.1.10
    /// nas.lan`) becomes local records. A question of another type for
    /// such a name gets an empty answer (NODATA), as AdGuard's
    /// `$dnsrewrite` does; the answers carry `[blocking] ttl`.
    #[serde(default)]
    pub hosts_addresses: HostsAddresses,
    /// Compiled into the image (default). `false` keeps the entry in the
    /// config without using it, as the web page's switch does.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// A note for people: what the list is, why it is here.
    #[serde(default)]
    pub comment: Option<String>,
    /// The `[[groups]]` the list applies to; `"default"`, every client in
    /// no group, may be named too. Default `["default"]`. The household's
    /// own list applies to every group and takes no `groups`.
    #[serde(default = "default_groups")]
    pub groups: Vec<String>,
    /// When the list applies, in local time: windows such as
    /// `"mon-fri 21:00-07:00"` or `"sat,sun 22:00-08:00"` (see
    /// [`Schedule`]). Default `[]`: always.
    #[serde(default, deserialize_with = "schedule_from_strs")]
    pub schedule: Schedule,
}

/// What a hosts line's address does (`hosts_addresses`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostsAddresses {
    /// Every hosts line blocks its names.
    #[default]
    Block,
    /// A line with an address other than a sink answers with it.
    Answer,
}

/// The groups of a list that names none: `["default"]`.
fn default_groups() -> Vec<String> {
    vec![DEFAULT_GROUP.to_owned()]
}

fn schedule_from_strs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Schedule, D::Error> {
    let windows = Vec::<String>::deserialize(d)?;
    Schedule::parse(&windows).map_err(serde::de::Error::custom)
}

fn enabled_by_default() -> bool {
    true
}

fn default_format() -> Format {
    Format::Auto
}

fn format_from_str<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Format, D::Error> {
    let text = String::deserialize(d)?;
    match text.as_str() {
        "auto" => Ok(Format::Auto),
        "hosts" => Ok(Format::Hosts),
        "domains" => Ok(Format::Domains),
        "adblock" => Ok(Format::Adblock),
        "regex" => Ok(Format::Regex),
        other => Err(serde::de::Error::custom(format!(
            "unknown format `{other}`, expected one of `auto`, `hosts`, `domains`, `adblock`, `regex`"
        ))),
    }
}

impl ListSource {
    /// The household's list in the state folder, used when the config marks
    /// none (`Config` adds it).
    pub(super) fn implicit_household(name: String, path: PathBuf) -> ListSource {
        ListSource {
            name,
            path: Some(path),
            url: None,
            allow_http: false,
            household: true,
            format: default_format(),
            subdomains: false,
            hosts_addresses: HostsAddresses::Block,
            enabled: true,
            comment: Some(
                "the household's own entries (ralo block / ralo allow), kept in the state folder: no list in the config is marked household = true".to_owned(),
            ),
            groups: default_groups(),
            schedule: Schedule::always(),
        }
    }

    /// How its text is read: as an allowlist (`allow`) or not, with its
    /// `format`, `subdomains` and `hosts_addresses`.
    pub fn parse_options(&self, allow: bool) -> ParseOptions {
        ParseOptions {
            allow,
            subdomains: self.subdomains,
            format: self.format,
            answer_hosts: self.hosts_addresses == HostsAddresses::Answer,
        }
    }

    /// The list file, resolved against `base`.
    pub fn resolved_path(&self, base: &Path) -> Option<PathBuf> {
        self.path.as_ref().map(|p| base.join(p))
    }

    /// Checks the name's length and the location: a `path` or a `url`, the
    /// URL `https://` unless `allow_http`. `section` names the keys.
    fn check(&self, section: &str) -> Result<(), BadValue> {
        let key = |field: &str| format!("{section}.{field}");
        if self.name.trim().is_empty() || self.name.len() > 64 {
            return Err(BadValue::new(
                key("name"),
                "give a name of 1 to 64 characters",
            ));
        }
        match (&self.path, &self.url) {
            (None, None) => Err(BadValue::new(
                key("path"),
                format!("list `{}` needs a `path` or a `url`", self.name),
            )),
            (Some(_), Some(_)) => Err(BadValue::new(
                key("url"),
                format!("list `{}` has both `path` and `url`; keep one", self.name),
            )),
            (None, Some(url)) => {
                let https = url.starts_with("https://");
                let http = url.starts_with("http://");
                if https || http && self.allow_http {
                    return Ok(());
                }
                let fix = if http {
                    "use https://, or set `allow_http = true` for this list"
                } else {
                    "give an https:// URL"
                };
                Err(BadValue::new(key("url"), format!("`{url}`: {fix}")))
            }
            (Some(_), None) => Ok(()),
        }
    }
}

/// Checks the entries of one section, `lists` or `allowlists`: each on its
/// own, and at most one household list, a local file.
pub(super) fn check_section(section: &str, sources: &[ListSource]) -> Result<(), BadValue> {
    let households: Vec<&ListSource> = sources.iter().filter(|s| s.household).collect();
    if households.len() > 1 {
        return Err(BadValue::new(
            format!("{section}.household"),
            "only one list per section can be the household's own",
        ));
    }
    if households.iter().any(|s| s.path.is_none()) {
        return Err(BadValue::new(
            format!("{section}.household"),
            "the household's own list must be a local file (`path`)",
        ));
    }
    sources.iter().try_for_each(|source| source.check(section))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::config::file::{parse_test as parse, refused_key};
    use crate::lists::Format;

    #[test]
    fn relative_list_paths_resolve_against_config_folder() {
        let c = parse("[[lists]]\nname = \"a\"\npath = \"lists/a.txt\"\n").unwrap();
        assert_eq!(
            c.lists[0].resolved_path(&c.base_dir).unwrap(),
            PathBuf::from("/etc/ralo/lists/a.txt")
        );
    }

    #[test]
    fn format_is_auto_unless_named() {
        let c = parse(
            "[[lists]]\nname = \"a\"\npath = \"a\"\n\
             [[lists]]\nname = \"b\"\npath = \"b\"\nformat = \"adblock\"\n",
        )
        .unwrap();
        assert_eq!(c.lists[0].format, Format::Auto);
        assert_eq!(c.lists[1].format, Format::Adblock);
        let err = parse("[[lists]]\nname = \"a\"\npath = \"a\"\nformat = \"csv\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown format `csv`"), "{err}");
    }

    #[test]
    fn list_urls_must_be_https_unless_allow_http() {
        let list = |url: &str, extra: &str| {
            parse(&format!(
                "[[lists]]\nname = \"a\"\nurl = \"{url}\"\n{extra}\n"
            ))
        };
        assert!(list("https://lists.example/a.txt", "").is_ok());
        let err = list("http://lists.example/a.txt", "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("allow_http = true"), "{err}");
        assert!(list("http://lists.example/a.txt", "allow_http = true").is_ok());
        for url in [
            "file:///etc/passwd",
            "ftp://lists.example/a",
            "lists.example/a",
        ] {
            let err = list(url, "allow_http = true").unwrap_err().to_string();
            assert!(err.contains("https://"), "{url}: {err}");
        }
    }

    #[test]
    fn list_needs_a_short_name_and_one_location() {
        let long = "x".repeat(65);
        for (text, key) in [
            ("name = \" \"\npath = \"a\"", "allowlists.name"),
            (
                &format!("name = \"{long}\"\npath = \"a\""),
                "allowlists.name",
            ),
            ("name = \"a\"", "allowlists.path"),
            (
                "name = \"a\"\npath = \"a\"\nurl = \"https://lists.example/a\"",
                "allowlists.url",
            ),
        ] {
            assert_eq!(
                refused_key(&format!("[[allowlists]]\n{text}\n")),
                key,
                "{text}"
            );
        }
    }

    #[test]
    fn household_list_is_one_local_file_per_section() {
        let two = "[[lists]]\nname = \"a\"\npath = \"a\"\nhousehold = true\n\
                   [[lists]]\nname = \"b\"\npath = \"b\"\nhousehold = true\n";
        assert_eq!(refused_key(two), "lists.household");
        let remote =
            "[[allowlists]]\nname = \"a\"\nurl = \"https://lists.example/a\"\nhousehold = true\n";
        assert_eq!(refused_key(remote), "allowlists.household");
        let one_each = "[[lists]]\nname = \"a\"\npath = \"a\"\nhousehold = true\n\
                        [[allowlists]]\nname = \"b\"\npath = \"b\"\nhousehold = true\n";
        let c = parse(one_each).unwrap();
        assert_eq!(c.household_file(true), Some(PathBuf::from("/etc/ralo/b")));
    }

    #[test]
    fn hosts_addresses_block_by_default_and_may_answer() {
        let c = parse("[[lists]]\nname = \"a\"\npath = \"a.txt\"\n").unwrap();
        assert!(!c.lists[0].parse_options(false).answer_hosts);
        let c = parse("[[lists]]\nname = \"a\"\npath = \"a.txt\"\nhosts_addresses = \"answer\"\n")
            .unwrap();
        assert!(c.lists[0].parse_options(false).answer_hosts);
        assert!(
            parse("[[lists]]\nname = \"a\"\npath = \"a.txt\"\nhosts_addresses = \"serve\"\n")
                .is_err()
        );
    }
}
