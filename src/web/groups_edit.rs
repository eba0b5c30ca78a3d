//! Editing the `[[groups]]` and `[[clients]]` entries of a config file's
//! text, for the web page's groups and the API's `/api/groups` and
//! `/api/clients`: each function returns the edited text, which
//! [`lists_edit::save`] checks with ralo's own parser before it replaces the
//! file. As for the lists, the edits go through `toml_edit` and keep what the
//! household wrote around an entry. What the keys mean lives with
//! [`Group`](crate::config::Group) and [`Client`](crate::config::Client).
//!
//! Pi-hole's client is one id; ralo's groups name `[[clients]]` entries (or
//! bare ids). So an id is always edited through the `[[clients]]` entry that
//! has it: an id added here becomes an entry of its own, named as the id is
//! written, and a bare id a group names gets such an entry when its groups or
//! comment change (a group's member that is a client's name means the
//! client, so the group keeps the same text). An id's groups are its
//! client's: changing them changes them for every id of that client.

use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, Value};

use super::lists_edit::decor::{
    append_section, decor_prefix, keep_comments, kept_header_comments, remove_key, set_or_remove,
    set_value,
};
use super::lists_edit::names::checked_comment;
use super::lists_edit::{self, Kind};
use crate::config::DEFAULT_GROUP;
use crate::groups::{BadClientId, ClientId};

const GROUPS: &str = "groups";
const CLIENTS: &str = "clients";

/// Why an edit of groups or clients was refused. Each message says what to
/// do instead.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The text is not TOML, a section is not `[[tables]]`, or a comment
    /// cannot be written.
    #[error(transparent)]
    Edit(#[from] lists_edit::Error),
    /// No `[[groups]]` entry has the name.
    #[error("there is no group `{0}`")]
    NoSuchGroup(String),
    /// No group has the id.
    #[error("there is no group with the id {0}: the ids are those of GET /api/groups")]
    NoSuchGroupId(u64),
    /// `default` is implicit: it cannot be renamed or removed.
    #[error(
        "`{DEFAULT_GROUP}` is the implicit group of every client in no other group; it cannot be renamed or removed"
    )]
    DefaultGroup,
    /// No client has the id.
    #[error("no client has the id `{0}`")]
    NoSuchClient(String),
    /// A client already has the id.
    #[error("`{0}` is already a client; change its groups or comment instead")]
    AlreadyClient(String),
    /// The text is not a client id.
    #[error(transparent)]
    BadId(#[from] BadClientId),
    /// A key that holds names is not an array of strings.
    #[error(
        "`{section}.{key}` in the config file is not an array of strings; fix the file by hand first"
    )]
    NotArray {
        /// The section.
        section: &'static str,
        /// The key.
        key: &'static str,
    },
}

impl Error {
    /// The edit named something that does not exist (an HTTP 404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NoSuchGroup(_) | Error::NoSuchClient(_))
    }
}

/// The group names by id, as [`Config::group_names`](crate::config::Config::group_names)
/// has them: `default`, then the `[[groups]]` in file order.
pub fn group_names(text: &str) -> Result<Vec<String>, Error> {
    let mut doc = parse(text)?;
    let mut names = vec![DEFAULT_GROUP.to_owned()];
    if let Some(section) = section_mut(&mut doc, GROUPS)? {
        names.extend(section.iter().map(|t| str_key(t, "name").to_owned()));
    }
    Ok(names)
}

/// The names of the groups `ids` (positions in [`group_names`]).
pub fn names_of(text: &str, ids: &[u64]) -> Result<Vec<String>, Error> {
    let names = group_names(text)?;
    ids.iter()
        .map(|&id| {
            usize::try_from(id)
                .ok()
                .and_then(|i| names.get(i))
                .cloned()
                .ok_or(Error::NoSuchGroupId(id))
        })
        .collect()
}

/// Appends a `[[groups]]` entry `name` with no clients. A name that is taken
/// or `default` is left to the check in [`lists_edit::save`] to refuse.
pub fn add_group(text: &str, name: &str, comment: Option<&str>) -> Result<String, Error> {
    let mut doc = parse(text)?;
    let comment = checked_comment(comment)?;
    let mut table = Table::new();
    table.insert("name", toml_edit::value(name.trim()));
    table.insert(CLIENTS, toml_edit::value(Array::new()));
    if let Some(comment) = comment {
        table.insert("comment", toml_edit::value(comment));
    }
    match section_mut(&mut doc, GROUPS)? {
        Some(section) => section.push(table),
        None => append_section(&mut doc, GROUPS, table),
    }
    Ok(doc.to_string())
}

/// Renames the group `name` to `new_name` (in the `groups` of every list
/// too) and sets or, with a blank text, removes its comment.
pub fn set_group(
    text: &str,
    name: &str,
    new_name: Option<&str>,
    comment: Option<&str>,
) -> Result<String, Error> {
    let mut doc = parse(text)?;
    let index = group_index(&mut doc, name)?;
    if let Some(comment) = comment {
        let comment = checked_comment(Some(comment))?.map(Value::from);
        let table = entry_mut(&mut doc, GROUPS, index)?;
        if let Some(left) = set_or_remove(table, "comment", comment) {
            left.keep(&mut doc);
        }
    }
    let Some(new_name) = new_name.map(str::trim).filter(|n| *n != name) else {
        return Ok(doc.to_string());
    };
    set_value(
        entry_mut(&mut doc, GROUPS, index)?,
        "name",
        Value::from(new_name),
    );
    each_list(&mut doc, |groups| {
        for i in 0..groups.len() {
            if groups.get(i).and_then(Value::as_str) == Some(name) {
                groups.replace(i, new_name);
            }
        }
    })?;
    Ok(doc.to_string())
}

/// Removes the group `name` and takes it out of the `groups` of every list;
/// a list left with none goes back to `default` (its key removed).
pub fn remove_group(text: &str, name: &str) -> Result<String, Error> {
    let mut doc = parse(text)?;
    let index = group_index(&mut doc, name)?;
    remove_table(&mut doc, GROUPS, index)?;
    let mut emptied = Vec::new();
    for kind in [Kind::Block, Kind::Allow] {
        let Some(section) = section_mut(&mut doc, kind.section())? else {
            continue;
        };
        for (i, table) in section.iter_mut().enumerate() {
            let Some(groups) = table.get_mut(GROUPS).and_then(Item::as_array_mut) else {
                continue;
            };
            groups.retain(|v| v.as_str() != Some(name));
            if groups.is_empty() {
                emptied.push((kind, i));
            }
        }
    }
    for (kind, i) in emptied {
        if let Some(left) = remove_key(entry_mut(&mut doc, kind.section(), i)?, GROUPS) {
            left.keep(&mut doc);
        }
    }
    Ok(doc.to_string())
}

/// Adds the client id `id`: to the `[[clients]]` entry `name` when there is
/// one, else as a new entry named `name` or, without one, as `id` is
/// written. `groups` (names; `default` alone: none) then become that
/// client's groups, and `comment` its comment.
pub fn add_client(
    text: &str,
    id: &str,
    name: Option<&str>,
    comment: Option<&str>,
    groups: Option<&[String]>,
) -> Result<String, Error> {
    let mut doc = parse(text)?;
    let id_text = id.trim();
    let parsed: ClientId = id_text.parse()?;
    if owner(&mut doc, &parsed)?.is_some() || bare_member(&mut doc, &parsed)? {
        return Err(Error::AlreadyClient(id_text.to_owned()));
    }
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    let existing = match name {
        Some(name) => client_index(&mut doc, name)?,
        None => None,
    };
    match existing {
        Some(index) => {
            let table = entry_mut(&mut doc, CLIENTS, index)?;
            array_mut(table, CLIENTS, "ids")?.push(id_text);
        }
        None => new_client(&mut doc, name.unwrap_or(id_text), id_text)?,
    }
    set_client(&doc.to_string(), id_text, comment, groups)
}

/// Sets the comment (a blank text removes it) and the groups (names;
/// `default` alone: none) of the client with the id `id`. A bare id a group
/// names first becomes a `[[clients]]` entry named as it is written.
pub fn set_client(
    text: &str,
    id: &str,
    comment: Option<&str>,
    groups: Option<&[String]>,
) -> Result<String, Error> {
    let mut doc = parse(text)?;
    let parsed: ClientId = id.trim().parse()?;
    if comment.is_none() && groups.is_none() {
        return Ok(doc.to_string());
    }
    let (index, name) = match owner(&mut doc, &parsed)? {
        Some(found) => found,
        None if bare_member(&mut doc, &parsed)? => {
            let written = id.trim();
            new_client(&mut doc, written, written)?;
            owner(&mut doc, &parsed)?.ok_or_else(|| Error::NoSuchClient(written.to_owned()))?
        }
        None => return Err(Error::NoSuchClient(id.trim().to_owned())),
    };
    if let Some(comment) = comment {
        let comment = checked_comment(Some(comment))?.map(Value::from);
        let table = entry_mut(&mut doc, CLIENTS, index)?;
        if let Some(left) = set_or_remove(table, "comment", comment) {
            left.keep(&mut doc);
        }
    }
    if let Some(groups) = groups {
        set_membership(&mut doc, &name, &parsed, groups)?;
    }
    Ok(doc.to_string())
}

/// Removes the id `id`: from its `[[clients]]` entry (the entry, and its
/// name in every group, go with its last id) and from every group naming
/// it bare.
pub fn remove_client(text: &str, id: &str) -> Result<String, Error> {
    let mut doc = parse(text)?;
    let parsed: ClientId = id.trim().parse()?;
    let mut found = bare_member(&mut doc, &parsed)?;
    if let Some((index, name)) = owner(&mut doc, &parsed)? {
        found = true;
        let table = entry_mut(&mut doc, CLIENTS, index)?;
        let ids = array_mut(table, CLIENTS, "ids")?;
        ids.retain(|v| !is_id(v, &parsed));
        if ids.is_empty() {
            remove_table(&mut doc, CLIENTS, index)?;
            members_retain(&mut doc, |member| member != name)?;
        }
    }
    if !found {
        return Err(Error::NoSuchClient(id.trim().to_owned()));
    }
    let names = client_names(&mut doc)?;
    members_retain(&mut doc, |member| {
        names.iter().any(|n| n == member) || member.parse().ok().as_ref() != Some(&parsed)
    })?;
    Ok(doc.to_string())
}

/// Makes `name` a member of exactly the groups `groups` (and bare members
/// that are `id` members of none).
fn set_membership(
    doc: &mut DocumentMut,
    name: &str,
    id: &ClientId,
    groups: &[String],
) -> Result<(), Error> {
    let Some(section) = section_mut(doc, GROUPS)? else {
        return Ok(());
    };
    for table in section.iter_mut() {
        let wanted = groups.iter().any(|g| g == str_key(table, "name"));
        let members = array_mut(table, GROUPS, CLIENTS)?;
        let named = members.iter().any(|v| v.as_str() == Some(name));
        members.retain(|v| v.as_str() == Some(name) || !is_id(v, id));
        if !wanted {
            members.retain(|v| v.as_str() != Some(name));
        } else if !named {
            members.push(name);
        }
    }
    Ok(())
}

/// Appends a `[[clients]]` entry `name` with the one id `id`.
fn new_client(doc: &mut DocumentMut, name: &str, id: &str) -> Result<(), Error> {
    let mut table = Table::new();
    table.insert("name", toml_edit::value(name));
    table.insert("ids", toml_edit::value(Array::from_iter([id])));
    match section_mut(doc, CLIENTS)? {
        Some(section) => section.push(table),
        None => append_section(doc, CLIENTS, table),
    }
    Ok(())
}

/// Keeps the group members for which `keep` holds.
fn members_retain(doc: &mut DocumentMut, keep: impl Fn(&str) -> bool) -> Result<(), Error> {
    let Some(section) = section_mut(doc, GROUPS)? else {
        return Ok(());
    };
    for table in section.iter_mut() {
        if let Some(members) = table.get_mut(CLIENTS).and_then(Item::as_array_mut) {
            members.retain(|v| v.as_str().is_none_or(&keep));
        }
    }
    Ok(())
}

/// Calls `f` on the `groups` array of every list and allowlist that has one.
fn each_list(doc: &mut DocumentMut, mut f: impl FnMut(&mut Array)) -> Result<(), Error> {
    for kind in [Kind::Block, Kind::Allow] {
        let Some(section) = section_mut(doc, kind.section())? else {
            continue;
        };
        for table in section.iter_mut() {
            if let Some(groups) = table.get_mut(GROUPS).and_then(Item::as_array_mut) {
                f(groups);
            }
        }
    }
    Ok(())
}

/// The `[[clients]]` entry with an id equal to `id`: its position and name.
fn owner(doc: &mut DocumentMut, id: &ClientId) -> Result<Option<(usize, String)>, Error> {
    let Some(section) = section_mut(doc, CLIENTS)? else {
        return Ok(None);
    };
    Ok(section.iter().enumerate().find_map(|(i, table)| {
        let ids = table.get("ids").and_then(Item::as_array)?;
        ids.iter()
            .any(|v| is_id(v, id))
            .then(|| (i, str_key(table, "name").to_owned()))
    }))
}

/// Whether a group names `id` bare (not through a client's name).
fn bare_member(doc: &mut DocumentMut, id: &ClientId) -> Result<bool, Error> {
    let names = client_names(doc)?;
    let Some(section) = section_mut(doc, GROUPS)? else {
        return Ok(false);
    };
    Ok(section.iter().any(|table| {
        table
            .get(CLIENTS)
            .and_then(Item::as_array)
            .is_some_and(|members| {
                members.iter().any(|v| {
                    v.as_str().is_some_and(|m| !names.iter().any(|n| n == m)) && is_id(v, id)
                })
            })
    }))
}

fn client_names(doc: &mut DocumentMut) -> Result<Vec<String>, Error> {
    Ok(section_mut(doc, CLIENTS)?
        .map(|s| s.iter().map(|t| str_key(t, "name").to_owned()).collect())
        .unwrap_or_default())
}

fn client_index(doc: &mut DocumentMut, name: &str) -> Result<Option<usize>, Error> {
    Ok(section_mut(doc, CLIENTS)?.and_then(|s| s.iter().position(|t| str_key(t, "name") == name)))
}

/// The position of the group `name`; `default` and unknown names refused.
fn group_index(doc: &mut DocumentMut, name: &str) -> Result<usize, Error> {
    if name == DEFAULT_GROUP {
        return Err(Error::DefaultGroup);
    }
    section_mut(doc, GROUPS)?
        .and_then(|s| s.iter().position(|t| str_key(t, "name") == name))
        .ok_or_else(|| Error::NoSuchGroup(name.to_owned()))
}

/// Whether the value is a string that parses as `id`.
fn is_id(value: &Value, id: &ClientId) -> bool {
    value
        .as_str()
        .and_then(|text| text.parse::<ClientId>().ok())
        .is_some_and(|parsed| parsed == *id)
}

/// Removes the `index`th table of `section` (the section with its last
/// entry), keeping the comments that are not about it, as a list's removal
/// does.
fn remove_table(doc: &mut DocumentMut, section: &'static str, index: usize) -> Result<(), Error> {
    let tables = section_mut(doc, section)?.ok_or(lists_edit::Error::NotTables { section })?;
    let removed = tables.remove(index);
    if tables.is_empty() {
        doc.remove(section);
    }
    let prefix = decor_prefix(removed.decor().prefix());
    let kept = kept_header_comments(prefix, index == 0);
    if kept.contains('#') {
        keep_comments(doc, kept, removed.position(), true);
    }
    Ok(())
}

/// The array `key` of `table`, made empty when absent.
fn array_mut<'t>(
    table: &'t mut Table,
    section: &'static str,
    key: &'static str,
) -> Result<&'t mut Array, Error> {
    table
        .entry(key)
        .or_insert_with(|| toml_edit::value(Array::new()))
        .as_array_mut()
        .ok_or(Error::NotArray { section, key })
}

fn str_key<'t>(table: &'t Table, key: &str) -> &'t str {
    table.get(key).and_then(Item::as_str).unwrap_or_default()
}

/// The `index`th `[[section]]` table.
fn entry_mut<'d>(
    doc: &'d mut DocumentMut,
    section: &'static str,
    index: usize,
) -> Result<&'d mut Table, Error> {
    section_mut(doc, section)?
        .and_then(|s| s.get_mut(index))
        .ok_or(Error::Edit(lists_edit::Error::NotTables { section }))
}

/// The `[[section]]` tables; `None` when the section is absent.
fn section_mut<'d>(
    doc: &'d mut DocumentMut,
    section: &'static str,
) -> Result<Option<&'d mut ArrayOfTables>, Error> {
    match doc.get_mut(section) {
        None => Ok(None),
        Some(Item::ArrayOfTables(tables)) => Ok(Some(tables)),
        Some(_) => Err(Error::Edit(lists_edit::Error::NotTables { section })),
    }
}

fn parse(text: &str) -> Result<DocumentMut, Error> {
    text.parse().map_err(|e: toml_edit::TomlError| {
        Error::Edit(lists_edit::Error::NotToml {
            message: e.to_string().trim_end().to_owned(),
        })
    })
}

#[cfg(test)]
mod tests;
