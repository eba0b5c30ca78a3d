//! Editing the `[[lists]]` and `[[allowlists]]` entries of a config file's
//! text, for the web page's list switches: [`entries`] reads them, [`add`],
//! [`remove`], [`set_enabled`], [`set_comment`] and [`set_groups`] each return the edited
//! text, and [`save`] checks that text with ralo's own parser
//! ([`Config::parse`]) before it replaces the file. The edits go through
//! `toml_edit`, so everything the household wrote around an entry — comments,
//! blank lines, key order, quoting — comes out as it went in. What the keys
//! mean lives with [`ListSource`](crate::config::ListSource).

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, TableLike, Value};

use crate::config::{self, Config, DEFAULT_GROUP};

pub(in crate::web) mod decor;
pub(in crate::web) mod names;
#[cfg(test)]
mod tests;

use decor::{
    append_section, decor_prefix, keep_comments, kept_header_comments, set_or_remove, set_value,
};
use names::{address_key, checked_comment, checked_name, derived_name, unique_name};

/// The longest list name, in bytes, that the config accepts.
const MAX_NAME: usize = 64;

/// Which section an entry lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `[[lists]]`: a blocklist (Pi-hole's `"type": "block"`).
    Block,
    /// `[[allowlists]]`: an allowlist (Pi-hole's `"type": "allow"`).
    Allow,
}

impl Kind {
    /// The config section: `lists` or `allowlists`.
    pub fn section(self) -> &'static str {
        match self {
            Kind::Block => "lists",
            Kind::Allow => "allowlists",
        }
    }

    /// Pi-hole's word for it: `block` or `allow`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Block => "block",
            Kind::Allow => "allow",
        }
    }

    /// The kind Pi-hole's word names, `block` or `allow`.
    pub fn parse(word: &str) -> Option<Kind> {
        match word {
            "block" => Some(Kind::Block),
            "allow" => Some(Kind::Allow),
            _ => None,
        }
    }

    /// The commands that edit the household's own list of this kind.
    fn household_commands(self) -> &'static str {
        match self {
            Kind::Block => "`ralo block` and `ralo unblock`",
            Kind::Allow => "`ralo allow` and `ralo unallow`",
        }
    }
}

impl fmt::Display for Kind {
    /// `blocklist` or `allowlist`, as a person says it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Block => "blocklist",
            Kind::Allow => "allowlist",
        })
    }
}

/// Why an edit was refused. Each message says what to do instead.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The text is not TOML at all.
    #[error(
        "the config file is not valid TOML, so its lists cannot be edited here; fix the file by hand first: {message}"
    )]
    NotToml {
        /// toml_edit's message, with the line.
        message: String,
    },
    /// The section exists but is not an array of tables (or, for an edit,
    /// is written as an inline array).
    #[error(
        "`{section}` in the config file is not written as `[[{section}]]` tables; write each entry as its own `[[{section}]]` table to edit it here"
    )]
    NotTables {
        /// `lists` or `allowlists`.
        section: &'static str,
    },
    /// No entry of that kind has the address.
    #[error("no {kind} has the address `{address}`")]
    NoSuchList {
        /// The section looked in.
        kind: Kind,
        /// The address asked for.
        address: String,
    },
    /// An entry of that kind already has the address.
    #[error("`{address}` is already a {kind}")]
    AlreadyListed {
        /// The section.
        kind: Kind,
        /// The address.
        address: String,
    },
    /// The address cannot be a list's `url` or `path`.
    #[error("list address {address:?}: {why}")]
    BadAddress {
        /// The address as given.
        address: String,
        /// What is wrong and what to give instead.
        why: &'static str,
    },
    /// The name given for a new list cannot be used.
    #[error("list name {name:?}: {why}")]
    BadName {
        /// The name as given.
        name: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The comment cannot be written.
    #[error("list comment: {why}")]
    BadComment {
        /// What is wrong.
        why: &'static str,
    },
    /// The household's own list cannot be removed or switched off here.
    #[error(
        "`{name}` is the household's own {kind}, the one {} edit; it cannot be removed or switched off here (change `household` in the config file first)",
        .kind.household_commands()
    )]
    Household {
        /// The section.
        kind: Kind,
        /// The list's name.
        name: String,
    },
    /// The edited config would not load; ralo's message says why.
    #[error("the edited config would not load, so nothing was saved: {0}")]
    Refused(config::Error),
    /// The checked config could not be written.
    #[error("the config file was not saved: {0}")]
    Write(crate::exchange::Error),
}

/// One list entry as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its section.
    pub kind: Kind,
    /// Its name (shown in answers and logs).
    pub name: String,
    /// Its `url`, or its `path` as written (relative paths resolve against
    /// the config file's folder).
    pub address: String,
    /// Compiled into the image (`enabled`, default true).
    pub enabled: bool,
    /// The household's own list, which `ralo block` / `ralo allow` edit.
    pub household: bool,
    /// The person's note, `comment`.
    pub comment: Option<String>,
    /// Its position within its section, from 0.
    pub index: usize,
    /// The groups it applies to by name, `groups` (default `["default"]`).
    pub groups: Vec<String>,
    /// Its `schedule` windows as written (none: always).
    pub schedule: Vec<String>,
}

/// The entries of `[[lists]]`, then those of `[[allowlists]]`, each in file
/// order. Keys of the wrong type read as absent; [`save`] is where the whole
/// config is checked.
pub fn entries(text: &str) -> Result<Vec<Entry>, Error> {
    let doc = parse(text)?;
    let mut all = section_entries(&doc, Kind::Block)?;
    all.extend(section_entries(&doc, Kind::Allow)?);
    Ok(all)
}

/// Appends a new entry to `kind`'s section, after its last entry (or, with
/// none yet, as a new section at the end of the file), and returns the text.
///
/// An `https://` address becomes `url`, anything else a local `path`; plain
/// `http://` is refused (`allow_http` is for a person to set in the file).
/// `name` defaults to one derived from the address (host and file name, or
/// the file's stem) and gets a `-2`, `-3`… suffix when another list, in
/// either section, has it. `enabled` is written only when false, `comment`
/// only when it has text.
pub fn add(
    text: &str,
    kind: Kind,
    address: &str,
    name: Option<&str>,
    comment: Option<&str>,
    enabled: bool,
) -> Result<String, Error> {
    let mut doc = parse(text)?;
    let key = address_key(address)?;
    let comment = checked_comment(comment)?;
    let base = match name {
        Some(name) => checked_name(name)?.to_owned(),
        None => derived_name(address, key),
    };
    if find(&doc, kind, address)?.is_some() {
        return Err(Error::AlreadyListed {
            kind,
            address: address.to_owned(),
        });
    }
    let mut taken = HashSet::new();
    for section in [Kind::Block, Kind::Allow] {
        for table in tables(&doc, section)? {
            if let Some(name) = str_key(table, "name") {
                taken.insert(name.to_owned());
            }
        }
    }
    let mut table = Table::new();
    table.insert("name", toml_edit::value(unique_name(&base, &taken)));
    table.insert(key, toml_edit::value(address));
    if !enabled {
        table.insert("enabled", toml_edit::value(false));
    }
    if let Some(comment) = comment {
        table.insert("comment", toml_edit::value(comment));
    }
    match section_mut(&mut doc, kind)? {
        Some(section) => section.push(table),
        None => append_section(&mut doc, kind.section(), table),
    }
    Ok(doc.to_string())
}

/// Removes the entry of `kind` whose `url` or `path` is `address`, and
/// returns the text. The household's own list is refused.
///
/// The comments above the entry's header stay where they were when they
/// belong to what came before it (above a blank line) or, for the first
/// entry of a section, introduce the section; a comment block directly above
/// a later entry's header goes with the entry.
pub fn remove(text: &str, kind: Kind, address: &str) -> Result<String, Error> {
    let mut doc = parse(text)?;
    let entry = found(&doc, kind, address)?;
    if entry.household {
        return Err(Error::Household {
            kind,
            name: entry.name,
        });
    }
    let section = section_mut(&mut doc, kind)?.ok_or(Error::NotTables {
        section: kind.section(),
    })?;
    let removed = section.remove(entry.index);
    if section.is_empty() {
        doc.remove(kind.section());
    }
    let prefix = decor_prefix(removed.decor().prefix());
    let kept = kept_header_comments(prefix, entry.index == 0);
    if kept.contains('#') {
        keep_comments(&mut doc, kept, removed.position(), true);
    }
    Ok(doc.to_string())
}

/// Switches the entry of `kind` whose `url` or `path` is `address` on or
/// off, and returns the text. Off writes `enabled = false`; on changes an
/// existing `enabled` key in place (its comments kept) and adds none. The
/// household's own list cannot be switched off.
pub fn set_enabled(text: &str, kind: Kind, address: &str, enabled: bool) -> Result<String, Error> {
    let mut doc = parse(text)?;
    let entry = found(&doc, kind, address)?;
    if entry.household && !enabled {
        return Err(Error::Household {
            kind,
            name: entry.name,
        });
    }
    let table = entry_mut(&mut doc, kind, entry.index)?;
    if !enabled || table.contains_key("enabled") {
        set_value(table, "enabled", Value::from(enabled));
    }
    Ok(doc.to_string())
}

/// Sets or, with `None` or a blank text, removes the `comment` of the entry
/// of `kind` whose `url` or `path` is `address`, and returns the text. A
/// comment is one line of text.
pub fn set_comment(
    text: &str,
    kind: Kind,
    address: &str,
    comment: Option<&str>,
) -> Result<String, Error> {
    let mut doc = parse(text)?;
    let comment = checked_comment(comment)?;
    let entry = found(&doc, kind, address)?;
    let table = entry_mut(&mut doc, kind, entry.index)?;
    if let Some(left) = set_or_remove(table, "comment", comment.map(Value::from)) {
        left.keep(&mut doc);
    }
    Ok(doc.to_string())
}

/// Sets the `groups` of the entry of `kind` whose `url` or `path` is
/// `address` to `groups` (names), and returns the text. `["default"]`, what
/// an entry without the key applies to, removes the key; the check in
/// [`save`] refuses unknown names, an empty list and groups on the
/// household's own list.
pub fn set_groups(
    text: &str,
    kind: Kind,
    address: &str,
    groups: &[String],
) -> Result<String, Error> {
    let mut doc = parse(text)?;
    let entry = found(&doc, kind, address)?;
    let table = entry_mut(&mut doc, kind, entry.index)?;
    let names = (groups != [DEFAULT_GROUP])
        .then(|| Value::Array(groups.iter().map(String::as_str).collect()));
    if let Some(left) = set_or_remove(table, "groups", names) {
        left.keep(&mut doc);
    }
    Ok(doc.to_string())
}

/// Checks `new_text` with `crate::config::Config::parse(new_text, origin,
/// base_dir)` — `origin` the path as given, `base_dir` its folder, as
/// [`Config::load`] does — and, if it loads, replaces `path` atomically
/// (`crate::exchange::write_atomic`). Nothing is written when the check
/// fails. A symbolic link at `path` is kept: the file it points to is
/// replaced.
pub fn save(path: &Path, new_text: &str) -> Result<(), Error> {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let base = absolute
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."));
    Config::parse(new_text, &path.display().to_string(), base).map_err(Error::Refused)?;
    let target = std::fs::canonicalize(path).unwrap_or(absolute);
    crate::exchange::write_atomic(new_text.as_bytes(), &target).map_err(Error::Write)
}

/// The text as an editable document.
fn parse(text: &str) -> Result<DocumentMut, Error> {
    text.parse()
        .map_err(|e: toml_edit::TomlError| Error::NotToml {
            message: e.to_string().trim_end().to_owned(),
        })
}

/// The entries of one section, read from either `[[section]]` tables or an
/// inline array of tables; none when the section is absent.
fn tables(doc: &DocumentMut, kind: Kind) -> Result<Vec<&dyn TableLike>, Error> {
    let not_tables = Error::NotTables {
        section: kind.section(),
    };
    match doc.get(kind.section()) {
        None => Ok(Vec::new()),
        Some(Item::ArrayOfTables(section)) => {
            Ok(section.iter().map(|t| t as &dyn TableLike).collect())
        }
        Some(Item::Value(Value::Array(section))) => section
            .iter()
            .map(|v| v.as_inline_table().map(|t| t as &dyn TableLike))
            .collect::<Option<Vec<_>>>()
            .ok_or(not_tables),
        Some(_) => Err(not_tables),
    }
}

/// The section's `[[section]]` tables to edit; `None` when it is absent.
fn section_mut(doc: &mut DocumentMut, kind: Kind) -> Result<Option<&mut ArrayOfTables>, Error> {
    match doc.get_mut(kind.section()) {
        None => Ok(None),
        Some(Item::ArrayOfTables(section)) => Ok(Some(section)),
        Some(_) => Err(Error::NotTables {
            section: kind.section(),
        }),
    }
}

/// The `index`th `[[section]]` table, which [`found`] has just seen.
fn entry_mut(doc: &mut DocumentMut, kind: Kind, index: usize) -> Result<&mut Table, Error> {
    section_mut(doc, kind)?
        .and_then(|section| section.get_mut(index))
        .ok_or(Error::NotTables {
            section: kind.section(),
        })
}

fn section_entries(doc: &DocumentMut, kind: Kind) -> Result<Vec<Entry>, Error> {
    let tables = tables(doc, kind)?;
    Ok(tables
        .into_iter()
        .enumerate()
        .map(|(index, table)| entry(kind, index, table))
        .collect())
}

fn entry(kind: Kind, index: usize, table: &dyn TableLike) -> Entry {
    let address = str_key(table, "url").or_else(|| str_key(table, "path"));
    let flag = |key| table.get(key).and_then(Item::as_bool);
    Entry {
        kind,
        name: str_key(table, "name").unwrap_or_default().to_owned(),
        address: address.unwrap_or_default().to_owned(),
        enabled: flag("enabled").unwrap_or(true),
        household: flag("household").unwrap_or(false),
        comment: str_key(table, "comment").map(str::to_owned),
        index,
        groups: strings(table, "groups").unwrap_or_else(|| vec![DEFAULT_GROUP.to_owned()]),
        schedule: strings(table, "schedule").unwrap_or_default(),
    }
}

/// The strings of the array `key`; `None` when the key is absent or not an
/// array.
fn strings(table: &dyn TableLike, key: &str) -> Option<Vec<String>> {
    let array = table.get(key).and_then(Item::as_array)?;
    Some(
        array
            .iter()
            .filter_map(|v| v.as_str())
            .map(str::to_owned)
            .collect(),
    )
}

fn str_key<'t>(table: &'t dyn TableLike, key: &str) -> Option<&'t str> {
    table.get(key).and_then(Item::as_str)
}

/// The entry of `kind` whose `url` or `path` is exactly `address`.
fn find(doc: &DocumentMut, kind: Kind, address: &str) -> Result<Option<Entry>, Error> {
    let tables = tables(doc, kind)?;
    Ok(tables
        .into_iter()
        .enumerate()
        .find(|(_, t)| [str_key(*t, "url"), str_key(*t, "path")].contains(&Some(address)))
        .map(|(index, table)| entry(kind, index, table)))
}

/// [`find`], with [`Error::NoSuchList`] when there is none.
fn found(doc: &DocumentMut, kind: Kind, address: &str) -> Result<Entry, Error> {
    find(doc, kind, address)?.ok_or_else(|| Error::NoSuchList {
        kind,
        address: address.to_owned(),
    })
}
