//! Editing a `toml_edit` document without losing what the household wrote
//! around an entry: values set in place with their spacing and comments,
//! comments kept when an entry goes, a new section appended after the
//! file's trailing comments.

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, Value};

/// Sets `key` to `value`, keeping the spacing and comment around an
/// existing value.
pub(in crate::web) fn set_value(table: &mut Table, key: &str, mut value: Value) {
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

/// Comment lines a removed key leaves over, to put back after its table
/// ([`Leftover::keep`]).
#[must_use = "comment lines are lost unless kept"]
pub(in crate::web) struct Leftover {
    comments: String,
    /// The table's position: the lines go before the next table.
    after: Option<isize>,
}

impl Leftover {
    /// Puts the lines in front of the table that follows ([`keep_comments`]).
    pub(in crate::web) fn keep(self, doc: &mut DocumentMut) {
        keep_comments(doc, self.comments, self.after, false);
    }
}

/// Sets `key` to `value` ([`set_value`]), or with `None` removes it
/// ([`remove_key`]).
pub(in crate::web) fn set_or_remove(
    table: &mut Table,
    key: &str,
    value: Option<Value>,
) -> Option<Leftover> {
    match value {
        Some(value) => {
            set_value(table, key, value);
            None
        }
        None => remove_key(table, key),
    }
}

/// Removes `key` from `table`. The comment lines above it move to the key
/// after it; when it was the last key they are left over, for the text that
/// follows the table.
pub(in crate::web) fn remove_key(table: &mut Table, key: &str) -> Option<Leftover> {
    let after = table.position();
    remove_key_lines(table, key).map(|comments| Leftover { comments, after })
}

fn remove_key_lines(table: &mut Table, key: &str) -> Option<String> {
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
pub(in crate::web) fn decor_prefix(prefix: Option<&toml_edit::RawString>) -> &str {
    prefix.and_then(|p| p.as_str()).unwrap_or_default()
}

/// Of the lines above a removed table's header, those to keep: all of them
/// for the first entry of a section (they introduce the section), else all
/// but the comment block directly above the header (that one was about the
/// entry). The indentation of the header line is dropped.
pub(in crate::web) fn kept_header_comments(prefix: &str, first: bool) -> String {
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
pub(in crate::web) fn keep_comments(
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
pub(in crate::web) fn append_section(doc: &mut DocumentMut, section: &str, mut table: Table) {
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
    let mut tables = ArrayOfTables::new();
    tables.push(table);
    doc.insert(section, Item::ArrayOfTables(tables));
}
