//! Editing the `[[lists]]` and `[[allowlists]]` entries of a config file's
//! text, for the web page's list switches: [`entries`] reads them, [`add`],
//! [`remove`], [`set_enabled`] and [`set_comment`] each return the edited
//! text, and [`save`] checks that text with ralo's own parser
//! ([`Config::parse`]) before it replaces the file. The edits go through
//! `toml_edit`, so everything the household wrote around an entry — comments,
//! blank lines, key order, quoting — comes out as it went in. What the keys
//! mean lives with [`ListSource`](crate::config::ListSource).

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, TableLike, Value};

use crate::config::{self, Config};

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
        None => append_section(&mut doc, kind, table),
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
    match comment {
        Some(comment) => set_value(table, "comment", Value::from(comment)),
        None => {
            let position = table.position();
            if let Some(left) = remove_key(table, "comment") {
                keep_comments(&mut doc, left, position, false);
            }
        }
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
    }
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

/// The key a new entry's address goes under, `url` or `path`, or why it
/// cannot be one.
fn address_key(address: &str) -> Result<&'static str, Error> {
    let bad = |why| Error::BadAddress {
        address: address.to_owned(),
        why,
    };
    if address.is_empty() {
        return Err(bad(
            "give the list's address: an https:// URL or the path of a file on this machine",
        ));
    }
    if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(
            "an address cannot contain spaces or control characters; remove them (rename a file whose name has spaces)",
        ));
    }
    let Some((scheme, rest)) = address.split_once("://") else {
        if address.starts_with('~') {
            return Err(bad("`~` is not expanded; write the file's full path"));
        }
        return Ok("path");
    };
    match scheme {
        "https" if url_host(rest).is_empty() => Err(bad(
            "the URL has no host name; give one like https://lists.example/list.txt",
        )),
        "https" => Ok("url"),
        "http" => Err(bad(
            "plain http:// lists can be changed on the way; use the https:// address, or add the list to the config file by hand with `allow_http = true`",
        )),
        _ => Err(bad(
            "ralo downloads only https:// URLs; for a file on this machine give its path",
        )),
    }
}

/// The host of a URL's text after `scheme://`: no user, no port.
fn url_host(rest: &str) -> &str {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    match host.find(']') {
        Some(end) if host.starts_with('[') => &host[..=end],
        _ => host.split(':').next().unwrap_or_default(),
    }
}

/// A name for a list at `address`: the URL's host and the stem of its last
/// path segment, or the file's stem.
fn derived_name(address: &str, key: &str) -> String {
    let name = if key == "url" {
        let rest = address.split_once("://").map_or(address, |(_, rest)| rest);
        let host = url_host(rest);
        let path = rest.split(['?', '#']).next().unwrap_or_default();
        let last = path
            .split_once('/')
            .and_then(|(_, path)| path.rsplit('/').find(|s| !s.is_empty()))
            .map(stem)
            .unwrap_or_default();
        if last.is_empty() {
            host.to_owned()
        } else {
            format!("{host}-{last}")
        }
    } else {
        Path::new(address)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    if name.is_empty() {
        "list".to_owned()
    } else {
        name
    }
}

/// A file name without its last extension (a name that is only an
/// extension, `.hosts`, is kept whole).
fn stem(segment: &str) -> &str {
    match segment.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => segment,
    }
}

fn checked_name(name: &str) -> Result<&str, Error> {
    let bad = |why| Error::BadName {
        name: name.to_owned(),
        why,
    };
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(bad("give a name of 1 to 64 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("a name cannot contain control characters"));
    }
    Ok(name)
}

/// `base`, cut to [`MAX_NAME`] bytes, or with the first `-2`, `-3`… suffix
/// that no name in `taken` has.
fn unique_name(base: &str, taken: &HashSet<String>) -> String {
    let base = truncated(base, MAX_NAME);
    if !taken.contains(base) {
        return base.to_owned();
    }
    let mut n = 2u32;
    loop {
        let suffix = format!("-{n}");
        let candidate = format!("{}{suffix}", truncated(base, MAX_NAME - suffix.len()));
        if !taken.contains(&candidate) {
            return candidate;
        }
        n += 1;
    }
}

/// The longest start of `text` of at most `max` bytes that ends on a
/// character boundary.
fn truncated(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The comment to write: `None` for no or blank text.
fn checked_comment(comment: Option<&str>) -> Result<Option<&str>, Error> {
    let Some(comment) = comment.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    if comment.chars().any(char::is_control) {
        return Err(Error::BadComment {
            why: "a comment is one line of text; remove the line breaks and control characters",
        });
    }
    Ok(Some(comment))
}

/// Sets `key` to `value`, keeping the spacing and comment around an
/// existing value.
fn set_value(table: &mut Table, key: &str, mut value: Value) {
    match table.get_mut(key) {
        Some(Item::Value(old)) => {
            *value.decor_mut() = old.decor().clone();
            *old = value;
        }
        _ => {
            table.insert(key, Item::Value(value));
        }
    }
}

/// Removes `key` from `table`. The comment lines above it move to the key
/// after it; when it was the last key they are returned, for the text that
/// follows the table.
fn remove_key(table: &mut Table, key: &str) -> Option<String> {
    let keys: Vec<String> = table.iter().map(|(k, _)| k.to_owned()).collect();
    let at = keys.iter().position(|k| k == key)?;
    let (removed, _) = table.remove_entry(key)?;
    let prefix = decor_prefix(removed.leaf_decor().prefix());
    // The comment lines, without the indentation of the key's own line.
    let comments = &prefix[..prefix.rfind('\n').map_or(0, |end| end + 1)];
    if !comments.contains('#') {
        return None;
    }
    match keys.get(at + 1).and_then(|next| table.key_mut(next)) {
        Some(mut next) => {
            let merged = format!("{comments}{}", decor_prefix(next.leaf_decor().prefix()));
            next.leaf_decor_mut().set_prefix(merged);
            None
        }
        None => Some(comments.to_owned()),
    }
}

/// The text of a decor's prefix; the empty text for the default.
fn decor_prefix(prefix: Option<&toml_edit::RawString>) -> &str {
    prefix.and_then(|p| p.as_str()).unwrap_or_default()
}

/// Of the lines above a removed table's header, those to keep: all of them
/// for the first entry of a section (they introduce the section), else all
/// but the comment block directly above the header (that one was about the
/// entry). The indentation of the header line is dropped.
fn kept_header_comments(prefix: &str, first: bool) -> String {
    let lines: Vec<&str> = prefix
        .split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
        .collect();
    if first {
        return lines.concat();
    }
    let own = lines
        .iter()
        .rev()
        .take_while(|line| line.trim_start().starts_with('#'))
        .count();
    lines[..lines.len() - own].concat()
}

/// Puts `kept` (comment lines) in front of the first header table after
/// `position`, or at the end of the document when no table follows.
/// With `replace_blank` the blank lines that opened that table's prefix go:
/// `kept` already ends as the removed table's prefix did.
fn keep_comments(
    doc: &mut DocumentMut,
    kept: String,
    position: Option<isize>,
    replace_blank: bool,
) {
    let join = |kept: String, next: &str| {
        let next = if replace_blank {
            without_blank_lines(next)
        } else {
            next
        };
        format!("{kept}{next}")
    };
    let next = position.and_then(|after| {
        let mut best: Option<isize> = None;
        each_header(doc.as_table(), &mut |t| {
            if let Some(p) = t.position().filter(|p| *p > after) {
                best = Some(best.map_or(p, |b| b.min(p)));
            }
        });
        best
    });
    let mut kept = Some(kept);
    if let Some(next) = next {
        each_header_mut(doc.as_table_mut(), &mut |t| {
            if t.position() == Some(next)
                && let Some(kept) = kept.take()
            {
                let merged = join(kept, decor_prefix(t.decor().prefix()));
                t.decor_mut().set_prefix(merged);
            }
        });
    }
    if let Some(kept) = kept {
        let merged = join(kept, decor_prefix(Some(doc.trailing())));
        doc.set_trailing(merged);
    }
}

/// `text` without the blank lines it starts with.
fn without_blank_lines(mut text: &str) -> &str {
    while let Some((line, rest)) = text.split_once('\n') {
        if !line.trim().is_empty() {
            break;
        }
        text = rest;
    }
    text
}

/// Calls `f` on each table written with a header (not the root, implicit
/// or dotted tables).
fn each_header<'t>(table: &'t Table, f: &mut dyn FnMut(&'t Table)) {
    for (_, item) in table.iter() {
        let children: Vec<&Table> = match item {
            Item::Table(t) => vec![t],
            Item::ArrayOfTables(a) => a.iter().collect(),
            _ => Vec::new(),
        };
        for child in children {
            if !child.is_implicit() && !child.is_dotted() {
                f(child);
            }
            each_header(child, f);
        }
    }
}

/// [`each_header`], for changing them.
fn each_header_mut(table: &mut Table, f: &mut dyn FnMut(&mut Table)) {
    for (_, item) in table.iter_mut() {
        let children: Vec<&mut Table> = match item {
            Item::Table(t) => vec![t],
            Item::ArrayOfTables(a) => a.iter_mut().collect(),
            _ => Vec::new(),
        };
        for child in children {
            if !child.is_implicit() && !child.is_dotted() {
                f(child);
            }
            each_header_mut(child, f);
        }
    }
}

/// Adds `table` as the first entry of a new `[[section]]` at the end of the
/// document, after any comments the file ends with.
fn append_section(doc: &mut DocumentMut, kind: Kind, mut table: Table) {
    let mut last = 0;
    each_header(doc.as_table(), &mut |t| {
        last = last.max(t.position().unwrap_or(0));
    });
    table.set_position(Some(last + 1));
    let trailing = decor_prefix(Some(doc.trailing())).to_owned();
    if trailing.contains('#') {
        let mut prefix = trailing;
        if !prefix.ends_with('\n') {
            prefix.push('\n');
        }
        prefix.push('\n');
        table.decor_mut().set_prefix(prefix);
        doc.set_trailing("");
    }
    let mut section = ArrayOfTables::new();
    section.push(table);
    doc.insert(kind.section(), Item::ArrayOfTables(section));
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{Entry, Error, Kind, add, entries, remove, save, set_comment, set_enabled};
    use crate::config::Config;

    const RALO_TOML: &str = include_str!("../../config/ralo.toml");

    fn load(text: &str) -> Config {
        Config::parse(text, "edited.toml", PathBuf::from("/etc/ralo")).expect("edited config loads")
    }

    fn add_on(text: &str, kind: Kind, address: &str) -> String {
        add(text, kind, address, None, None, true).unwrap()
    }

    #[test]
    fn shipped_config_lists_its_three_entries() {
        let all = entries(RALO_TOML).unwrap();
        let summary: Vec<(Kind, &str, &str, bool, usize)> = all
            .iter()
            .map(|e| {
                (
                    e.kind,
                    e.name.as_str(),
                    e.address.as_str(),
                    e.household,
                    e.index,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (Kind::Block, "default", "blocklists/default.hosts", false, 0),
                (
                    Kind::Block,
                    "household-block",
                    "blocklists/block.txt",
                    true,
                    1
                ),
                (
                    Kind::Allow,
                    "household-allow",
                    "blocklists/allow.txt",
                    true,
                    0
                ),
            ]
        );
        assert!(all.iter().all(|e| e.enabled && e.comment.is_none()));
    }

    #[test]
    fn added_blocklist_goes_after_the_last_one_and_nothing_else_changes() {
        let edited = add_on(RALO_TOML, Kind::Block, "https://lists.example/ads.txt");
        let (before, after) = RALO_TOML.split_at(RALO_TOML.find("\n# Allowlists").unwrap());
        let expected = format!(
            "{before}\n[[lists]]\nname = \"lists.example-ads\"\n\
             url = \"https://lists.example/ads.txt\"\n{after}"
        );
        assert_eq!(edited, expected);
        let config = load(&edited);
        let last = config.lists.last().unwrap();
        assert_eq!(last.url.as_deref(), Some("https://lists.example/ads.txt"));
        assert_eq!(last.name, "lists.example-ads");
        assert!(last.enabled && !last.allow_http && last.comment.is_none());
    }

    #[test]
    fn added_allowlist_goes_at_the_end_after_the_household_one() {
        let edited = add(
            RALO_TOML,
            Kind::Allow,
            "lists/work.txt",
            Some("work"),
            Some("  the office's names  "),
            false,
        )
        .unwrap();
        let household = "# `ralo allow` / `ralo unallow` edit this file.\nhousehold = true\n";
        let split = RALO_TOML.find(household).unwrap() + household.len();
        let (before, after) = RALO_TOML.split_at(split);
        let expected = format!(
            "{before}\n[[allowlists]]\nname = \"work\"\npath = \"lists/work.txt\"\n\
             enabled = false\ncomment = \"the office's names\"\n{after}"
        );
        assert_eq!(edited, expected);
        let last = load(&edited).allowlists.pop().unwrap();
        assert_eq!(last.path, Some(PathBuf::from("lists/work.txt")));
        assert_eq!(last.comment.as_deref(), Some("the office's names"));
        assert!(!last.enabled);
    }

    #[test]
    fn removing_an_added_list_gives_back_the_original_text() {
        for kind in [Kind::Block, Kind::Allow] {
            let edited = add_on(RALO_TOML, kind, "https://lists.example/ads.txt");
            let back = remove(&edited, kind, "https://lists.example/ads.txt").unwrap();
            assert_eq!(back, RALO_TOML, "{kind}");
        }
    }

    #[test]
    fn removing_the_first_list_keeps_the_section_comment() {
        let edited = remove(RALO_TOML, Kind::Block, "blocklists/default.hosts").unwrap();
        let intro = "# entries also block subdomains; adblock `||x^` and `*.x` always do).\n";
        assert!(
            edited.contains(&format!("{intro}[[lists]]\nname = \"household-block\"\n")),
            "{edited}"
        );
        assert!(edited.starts_with(&RALO_TOML[..RALO_TOML.find("[[lists]]").unwrap()]));
        let config = load(&edited);
        assert_eq!(config.lists.len(), 1);
        assert_eq!(config.lists[0].name, "household-block");
        assert_eq!(config.allowlists.len(), 1);
    }

    #[test]
    fn removing_a_later_list_takes_its_own_comment_and_leaves_the_others() {
        let text = "[[lists]]\nname = \"a\"\npath = \"a\"\n# subdomains = true\n\n\
                    # the b list\n[[lists]]\nname = \"b\"\npath = \"b\"\n\n\
                    [[lists]]\nname = \"c\"\npath = \"c\"\n";
        let edited = remove(text, Kind::Block, "b").unwrap();
        assert_eq!(
            edited,
            "[[lists]]\nname = \"a\"\npath = \"a\"\n# subdomains = true\n\n\
             [[lists]]\nname = \"c\"\npath = \"c\"\n"
        );
        let only = remove(
            "# my lists\n[[lists]]\nname = \"a\"\npath = \"a\"\n",
            Kind::Block,
            "a",
        )
        .unwrap();
        assert_eq!(only, "# my lists\n");
        assert!(entries(&only).unwrap().is_empty());
    }

    #[test]
    fn disabling_and_enabling_a_list_round_trips() {
        let address = "blocklists/default.hosts";
        let off = set_enabled(RALO_TOML, Kind::Block, address, false).unwrap();
        assert!(
            off.contains("subdomains = true\nenabled = false\n"),
            "{off}"
        );
        assert!(!load(&off).lists[0].enabled);
        let on = set_enabled(&off, Kind::Block, address, true).unwrap();
        assert!(on.contains("subdomains = true\nenabled = true\n"), "{on}");
        assert!(load(&on).lists[0].enabled);
        assert_eq!(
            set_enabled(RALO_TOML, Kind::Block, address, true).unwrap(),
            RALO_TOML
        );
        let spaced = "[[lists]]\nname = \"a\"\npath = \"a\"\nenabled  =  true # keep\n";
        assert_eq!(
            set_enabled(spaced, Kind::Block, "a", false).unwrap(),
            "[[lists]]\nname = \"a\"\npath = \"a\"\nenabled  =  false # keep\n"
        );
    }

    #[test]
    fn comment_is_set_changed_and_removed() {
        let address = "blocklists/default.hosts";
        let set = set_comment(RALO_TOML, Kind::Block, address, Some("Steven Black's")).unwrap();
        assert_eq!(
            load(&set).lists[0].comment.as_deref(),
            Some("Steven Black's")
        );
        let changed = set_comment(&set, Kind::Block, address, Some("the big one")).unwrap();
        assert_eq!(
            entries(&changed).unwrap()[0].comment.as_deref(),
            Some("the big one")
        );
        assert_eq!(
            set_comment(&changed, Kind::Block, address, None).unwrap(),
            RALO_TOML
        );
        assert_eq!(
            set_comment(&changed, Kind::Block, address, Some("  ")).unwrap(),
            RALO_TOML
        );
        let err = set_comment(RALO_TOML, Kind::Block, address, Some("two\nlines")).unwrap_err();
        assert!(matches!(err, Error::BadComment { .. }), "{err}");
    }

    #[test]
    fn removed_comment_key_leaves_the_comments_above_it() {
        let text = "[[lists]]\nname = \"a\"\n# why\ncomment = \"x\"\npath = \"a\"\n";
        assert_eq!(
            set_comment(text, Kind::Block, "a", None).unwrap(),
            "[[lists]]\nname = \"a\"\n# why\npath = \"a\"\n"
        );
        let last = "[[lists]]\nname = \"a\"\npath = \"a\"\n# why\ncomment = \"x\"\n\n\
                    [[allowlists]]\nname = \"b\"\npath = \"b\"\n";
        assert_eq!(
            set_comment(last, Kind::Block, "a", None).unwrap(),
            "[[lists]]\nname = \"a\"\npath = \"a\"\n# why\n\n\
             [[allowlists]]\nname = \"b\"\npath = \"b\"\n"
        );
    }

    #[test]
    fn an_address_already_in_the_section_is_refused() {
        let err = add(
            RALO_TOML,
            Kind::Block,
            "blocklists/default.hosts",
            None,
            None,
            true,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::AlreadyListed {
                    kind: Kind::Block,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("already a blocklist"), "{err}");
        let allowed = add_on(RALO_TOML, Kind::Allow, "blocklists/default.hosts");
        let config = load(&allowed);
        assert_eq!(config.allowlists.last().unwrap().name, "default-2");
    }

    #[test]
    fn the_household_list_is_neither_removed_nor_switched_off() {
        let address = "blocklists/block.txt";
        for err in [
            remove(RALO_TOML, Kind::Block, address).unwrap_err(),
            set_enabled(RALO_TOML, Kind::Block, address, false).unwrap_err(),
        ] {
            assert!(matches!(err, Error::Household { .. }), "{err}");
            assert!(err.to_string().contains("`ralo block`"), "{err}");
        }
        assert_eq!(
            set_enabled(RALO_TOML, Kind::Block, address, true).unwrap(),
            RALO_TOML
        );
        let noted = set_comment(RALO_TOML, Kind::Allow, "blocklists/allow.txt", Some("ours"));
        assert!(noted.is_ok());
    }

    #[test]
    fn unknown_address_is_no_such_list() {
        let err = remove(RALO_TOML, Kind::Allow, "blocklists/default.hosts").unwrap_err();
        assert!(
            matches!(
                err,
                Error::NoSuchList {
                    kind: Kind::Allow,
                    ..
                }
            ),
            "{err}"
        );
        let err = set_enabled(RALO_TOML, Kind::Block, "https://x.example/", false).unwrap_err();
        assert!(matches!(err, Error::NoSuchList { .. }), "{err}");
    }

    #[test]
    fn plain_http_is_refused_and_never_allowed_silently() {
        let err = add(
            RALO_TOML,
            Kind::Block,
            "http://lists.example/a.txt",
            None,
            None,
            true,
        )
        .unwrap_err();
        assert!(matches!(err, Error::BadAddress { .. }), "{err}");
        assert!(err.to_string().contains("allow_http = true"), "{err}");
    }

    #[test]
    fn bad_addresses_are_refused() {
        for address in [
            "",
            "https://",
            "https:///a.txt",
            "https://user@:443/a.txt",
            "ftp://lists.example/a.txt",
            "HTTPS://lists.example/a.txt",
            "lists/my list.txt",
            "lists/a\u{7}.txt",
            "~/lists/a.txt",
        ] {
            let err = add(RALO_TOML, Kind::Block, address, None, None, true).unwrap_err();
            assert!(
                matches!(err, Error::BadAddress { .. }),
                "{address:?}: {err}"
            );
        }
    }

    #[test]
    fn names_are_derived_from_the_address_and_made_unique() {
        let mut text = RALO_TOML.to_owned();
        for address in [
            "https://big.oisd.nl/",
            "https://user@hosts.example:8443/x/ads.v2.txt?key=1#top",
            "lists/extra.hosts",
            "/srv/lists/default.txt",
            "https://[2001:db8::1]/hosts",
        ] {
            text = add_on(&text, Kind::Block, address);
        }
        text = add(
            &text,
            Kind::Allow,
            "https://big.oisd.nl/small",
            Some("big.oisd.nl"),
            None,
            true,
        )
        .unwrap();
        let long = format!("https://{}.example/list.txt", "a".repeat(70));
        text = add_on(&text, Kind::Allow, &long);
        text = add_on(&text, Kind::Block, &format!("{long}?again"));
        let all = entries(&text).unwrap();
        let names = |kind| -> Vec<&str> {
            let of_kind = all.iter().filter(move |e| e.kind == kind);
            of_kind.map(|e| e.name.as_str()).collect()
        };
        let long_name = "a".repeat(64);
        let long_again = format!("{}-2", "a".repeat(62));
        assert_eq!(
            names(Kind::Block)[2..],
            [
                "big.oisd.nl",
                "hosts.example-ads.v2",
                "extra",
                "default-2",
                "[2001:db8::1]-hosts",
                &long_again,
            ]
        );
        assert_eq!(
            names(Kind::Allow),
            ["household-allow", "big.oisd.nl-2", &long_name]
        );
        assert_eq!(load(&text).lists.len(), 8);
    }

    #[test]
    fn given_names_are_checked() {
        for name in ["", "  ", &"x".repeat(65), "tab\there"] {
            let err = add(RALO_TOML, Kind::Block, "a.txt", Some(name), None, true).unwrap_err();
            assert!(matches!(err, Error::BadName { .. }), "{name:?}: {err}");
        }
    }

    #[test]
    fn a_section_is_created_at_the_end_after_trailing_comments() {
        let text = "[server]\nudp_workers = 1\n\n# the end\n";
        let edited = add_on(text, Kind::Block, "https://lists.example/a.txt");
        assert_eq!(
            edited,
            "[server]\nudp_workers = 1\n\n# the end\n\n[[lists]]\n\
             name = \"lists.example-a\"\nurl = \"https://lists.example/a.txt\"\n"
        );
        // The one added, and the household's list the config marks none for.
        let lists: Vec<String> = load(&edited).lists.into_iter().map(|l| l.name).collect();
        assert_eq!(lists, ["lists.example-a", "household"]);
        let nested = "[local]\nrecords = {}\n[blocking]\nttl = 5\n[local.x]\n";
        let edited = add_on(nested, Kind::Allow, "a.txt");
        assert!(edited.ends_with("[local.x]\n\n[[allowlists]]\nname = \"a\"\npath = \"a.txt\"\n"));
        let empty = add_on("", Kind::Block, "a.txt");
        assert_eq!(empty, "[[lists]]\nname = \"a\"\npath = \"a.txt\"\n");
    }

    #[test]
    fn text_that_is_not_toml_or_not_tables_is_refused() {
        let err = entries("[[lists]\nname = 1").unwrap_err();
        assert!(matches!(err, Error::NotToml { .. }), "{err}");
        assert!(err.to_string().contains("line 1"), "{err}");
        for text in ["lists = 3\n", "[lists]\nname = \"a\"\n", "lists = [1]\n"] {
            let err = entries(text).unwrap_err();
            assert!(
                matches!(err, Error::NotTables { section: "lists" }),
                "{text}: {err}"
            );
            assert!(add(text, Kind::Allow, "a.txt", None, None, true).is_err());
        }
    }

    #[test]
    fn an_inline_array_is_read_but_not_edited() {
        let text =
            "lists = [{ name = \"a\", url = \"https://lists.example/a\", enabled = false }]\n";
        let all = entries(text).unwrap();
        assert_eq!(
            all,
            [Entry {
                kind: Kind::Block,
                name: "a".to_owned(),
                address: "https://lists.example/a".to_owned(),
                enabled: false,
                household: false,
                comment: None,
                index: 0,
            }]
        );
        let err = set_enabled(text, Kind::Block, "https://lists.example/a", true).unwrap_err();
        assert!(matches!(err, Error::NotTables { .. }), "{err}");
        assert!(add(text, Kind::Allow, "b.txt", None, None, true).is_ok());
    }

    #[test]
    fn save_writes_only_a_config_that_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ralo.toml");
        std::fs::write(&path, RALO_TOML).unwrap();
        let broken = add_on(RALO_TOML, Kind::Block, "https://lists.example/a.txt")
            .replace("ttl = 10", "ttl = 7200");
        let err = save(&path, &broken).unwrap_err();
        assert!(matches!(err, Error::Refused(_)), "{err}");
        assert!(err.to_string().contains("blocking.ttl"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), RALO_TOML);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let good = add_on(RALO_TOML, Kind::Block, "https://lists.example/a.txt");
        save(&path, &good).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), good);
        let loaded = Config::load(&path).unwrap();
        assert_eq!(loaded.lists.len(), 3);
    }

    #[test]
    fn save_through_a_symlink_replaces_the_file_it_points_to() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.toml");
        let link = dir.path().join("ralo.toml");
        std::fs::write(&real, RALO_TOML).unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let good = add_on(RALO_TOML, Kind::Allow, "https://lists.example/a.txt");
        save(&link, &good).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), good);
    }
}
