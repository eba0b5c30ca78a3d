//! Names and addresses of new entries: which key an address goes under,
//! the name derived from it (unique in the file), and the checks of a
//! given name and comment.

use std::collections::HashSet;
use std::path::Path;

use super::{Error, MAX_NAME};

/// The key a new entry's address goes under, `url` or `path`, or why it
/// cannot be one.
pub(super) fn address_key(address: &str) -> Result<&'static str, Error> {
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
pub(super) fn derived_name(address: &str, key: &str) -> String {
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

pub(super) fn checked_name(name: &str) -> Result<&str, Error> {
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
pub(super) fn unique_name(base: &str, taken: &HashSet<String>) -> String {
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
pub(in crate::web) fn checked_comment(comment: Option<&str>) -> Result<Option<&str>, Error> {
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
