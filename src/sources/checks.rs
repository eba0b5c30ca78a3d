//! Pure checks on a downloaded list body, and the [`Refusal`] that says why a
//! download is not used.
//!
//! [`super::fetch`] calls [`check_body`] on every 2xx body before it may
//! replace the last good copy kept by [`super::store`]; [`super::http`]
//! reports transport failures with the same [`Refusal`] type, so every
//! reason to fall back on the last good copy reads the same way in the log
//! and in [`super::Origin::LastGood`].

use std::time::Duration;

/// The UTF-8 byte order mark some editors put at the start of a file.
pub(crate) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Openings that mark a body as an HTML page, compared case-insensitively
/// after any BOM and leading whitespace.
const HTML_OPENINGS: [&str; 4] = ["<!doctype html", "<html", "<head", "<body"];

/// Media types that mark a body as an HTML page whatever it holds.
const HTML_TYPES: [&str; 2] = ["text/html", "application/xhtml+xml"];

/// Why a download was not used. Its `Display` text is the reason that is
/// logged and carried by [`super::Origin::LastGood`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum Refusal {
    /// The request failed before a status arrived: DNS, connect, TLS, a
    /// refused redirect, a broken body stream.
    #[error("network error: {0}")]
    Network(String),
    /// The whole request did not finish within `Limits::timeout`.
    #[error("no complete answer within {} s (the fetch timeout)", .0.as_secs_f64())]
    TimedOut(Duration),
    /// The server answered with a status other than 2xx or 304.
    #[error("the server answered HTTP {0}")]
    Status(String),
    /// The body grew past `Limits::max_bytes`.
    #[error("the body is larger than the {0}-byte limit (max_bytes)")]
    TooLarge(u64),
    /// A 304 came back to a request that carried no validators.
    #[error("the server answered 304 Not Modified to an unconditional request")]
    UnexpectedNotModified,
    /// Zero bytes.
    #[error("the body is empty (0 bytes)")]
    Empty,
    /// Only whitespace (and perhaps a byte order mark).
    #[error("the body holds only whitespace")]
    Blank,
    /// A NUL byte: binary data (an archive, an image), not a text list.
    #[error("the body has a NUL byte at offset {0}: binary data, not a text list")]
    Binary(usize),
    /// An HTML page, most often an error, login or parking page served
    /// with status 200.
    #[error("the body is an HTML page ({0}), not a list")]
    Html(HtmlSign),
    /// Far fewer entry lines than the last good copy: most likely a
    /// truncated or broken list rather than a real clean-up.
    #[error(
        "the list shrank from {old} to {new} entry lines, more than the allowed {:.0} % loss (max_shrink)",
        max_shrink * 100.0
    )]
    Shrank {
        /// Entry lines in the last good copy.
        old: u64,
        /// Entry lines in the refused body.
        new: u64,
        /// The share of entry lines a list may lose, 0.0..=1.0.
        max_shrink: f64,
    },
}

/// What gave an HTML body away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HtmlSign {
    /// The `Content-Type` header named an HTML media type.
    ContentType(String),
    /// The body opened with an HTML tag.
    Opening(&'static str),
}

impl std::fmt::Display for HtmlSign {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HtmlSign::ContentType(media) => write!(f, "Content-Type {media}"),
            HtmlSign::Opening(tag) => write!(f, "it starts with `{tag}`"),
        }
    }
}

/// Checks a downloaded body, in order: empty, whitespace only, binary, HTML
/// (by `content_type` or by its opening), and shrink against `old_entries`,
/// the entry-line count of the last good copy if there is one. A body that
/// passes is stored as it came; its entry lines are returned.
pub(crate) fn check_body(
    content_type: Option<&str>,
    body: &[u8],
    old_entries: Option<u64>,
    max_shrink: f64,
) -> Result<u64, Refusal> {
    if body.is_empty() {
        return Err(Refusal::Empty);
    }
    if strip_bom(body).iter().all(u8::is_ascii_whitespace) {
        return Err(Refusal::Blank);
    }
    if let Some(offset) = body.iter().position(|&b| b == 0) {
        return Err(Refusal::Binary(offset));
    }
    if let Some(sign) = html_sign(content_type, body) {
        return Err(Refusal::Html(sign));
    }
    let entries = count_entries(body);
    if let Some(old) = old_entries
        && shrank_too_much(old, entries, max_shrink)
    {
        return Err(Refusal::Shrank {
            old,
            new: entries,
            max_shrink,
        });
    }
    Ok(entries)
}

/// Lossy UTF-8 text of `bytes`, without a leading byte order mark.
pub(crate) fn to_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(strip_bom(bytes)).into_owned()
}

/// `to_text` taking the bytes: valid UTF-8 (the usual case) becomes the
/// text in place, so a large list is never held twice.
pub fn into_text(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(mut text) => {
            if text.starts_with('\u{feff}') {
                text.drain(..'\u{feff}'.len_utf8());
            }
            text
        }
        Err(e) => to_text(e.as_bytes()),
    }
}

/// Counts the entry lines of a body (see [`is_entry`]), reading it as
/// lossy UTF-8 line by line without copying it.
pub(crate) fn count_entries(body: &[u8]) -> u64 {
    let count = strip_bom(body)
        .split(|&b| b == b'\n')
        .filter(|line| is_entry(&String::from_utf8_lossy(line)))
        .count();
    // usize is at most 64 bits on every target Rust supports.
    u64::try_from(count).unwrap_or(u64::MAX)
}

/// Whether `line` is an entry line: not blank and, once its leading
/// whitespace is dropped, starting with none of `#`, `!` (comments) or `[`
/// (adblock headers such as `[Adblock Plus 2.0]`).
pub(crate) fn is_entry(line: &str) -> bool {
    let line = line.trim();
    !line.is_empty() && !line.starts_with(['#', '!', '['])
}

/// Whether going from `old` to `new` entry lines loses more than
/// `max_shrink` of them: `new < (1 - max_shrink) × old`.
pub(crate) fn shrank_too_much(old: u64, new: u64, max_shrink: f64) -> bool {
    // Entry counts stay far below 2^53, where f64 is exact.
    (new as f64) < (1.0 - max_shrink) * old as f64
}

/// Why `body` (served with `content_type`) is an HTML page, if it is one.
pub(crate) fn html_sign(content_type: Option<&str>, body: &[u8]) -> Option<HtmlSign> {
    if let Some(value) = content_type {
        let media = value.split(';').next().unwrap_or_default().trim();
        if HTML_TYPES.iter().any(|t| media.eq_ignore_ascii_case(t)) {
            return Some(HtmlSign::ContentType(media.to_ascii_lowercase()));
        }
    }
    let body = strip_bom(body);
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&[][..], |i| &body[i..]);
    HTML_OPENINGS
        .into_iter()
        .find(|opening| {
            start
                .get(..opening.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(opening.as_bytes()))
        })
        .map(HtmlSign::Opening)
}

/// `bytes` without a leading UTF-8 byte order mark.
fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_owned_bytes_drops_the_bom_and_mends_bad_bytes() {
        assert_eq!(into_text(b"\xef\xbb\xbfa.com\n".to_vec()), "a.com\n");
        assert_eq!(into_text(b"a.com\n".to_vec()), "a.com\n");
        assert_eq!(
            into_text(b"\xef\xbb\xbfa\xff.com".to_vec()),
            "a\u{fffd}.com"
        );
        assert_eq!(into_text(Vec::new()), "");
    }

    #[test]
    fn html_content_type_is_html_whatever_the_body() {
        assert_eq!(
            html_sign(Some("Text/HTML; charset=utf-8"), b"0.0.0.0 ads.example"),
            Some(HtmlSign::ContentType("text/html".into()))
        );
        assert!(html_sign(Some("application/xhtml+xml"), b"x").is_some());
    }

    #[test]
    fn plain_text_content_type_with_a_list_is_not_html() {
        assert_eq!(html_sign(Some("text/plain"), b"ads.example\n"), None);
        assert_eq!(
            html_sign(None, b"# <html> in a comment\nads.example\n"),
            None
        );
    }

    #[test]
    fn html_openings_are_found_after_bom_and_whitespace_in_any_case() {
        for body in [
            &b"<!DOCTYPE html><html></html>"[..],
            b"\xEF\xBB\xBF  \r\n\t<HTML lang=en>",
            b"\n<head><title>502</title>",
            b"<Body>Bad gateway</Body>",
        ] {
            assert!(html_sign(Some("text/plain"), body).is_some(), "{body:?}");
        }
    }

    #[test]
    fn html_opening_names_the_tag_it_saw() {
        assert_eq!(
            html_sign(None, b"  <!doctype HTML>"),
            Some(HtmlSign::Opening("<!doctype html"))
        );
    }

    #[test]
    fn other_markup_openings_are_not_html() {
        assert_eq!(html_sign(None, b"<?xml version=\"1.0\"?>"), None);
        assert_eq!(html_sign(None, b"<h"), None);
        assert_eq!(html_sign(None, b""), None);
    }

    #[test]
    fn entry_lines_skip_blanks_comments_and_adblock_headers() {
        let text = "[Adblock Plus 2.0]\n! Title: x\n# hosts comment\n\n   \n  # indented comment\n\
                    0.0.0.0 ads.example\n||tracker.example^\r\nplain.example\n";
        assert_eq!(count_entries(text.as_bytes()), 3);
    }

    #[test]
    fn entry_lines_of_empty_text_are_zero() {
        assert_eq!(count_entries(b""), 0);
        assert_eq!(count_entries(b"\n\n# only comments\n"), 0);
        assert_eq!(count_entries(b"\xEF\xBB\xBF# a comment after a BOM\n"), 0);
    }

    #[test]
    fn losing_more_than_max_shrink_is_too_much() {
        assert!(shrank_too_much(100, 40, 0.5));
        assert!(!shrank_too_much(100, 50, 0.5));
        assert!(!shrank_too_much(100, 60, 0.5));
        assert!(!shrank_too_much(0, 0, 0.5));
        assert!(!shrank_too_much(100, 0, 1.0));
        assert!(shrank_too_much(100, 99, 0.0));
    }

    #[test]
    fn empty_body_is_refused_as_empty() {
        assert_eq!(check_body(None, b"", None, 0.5), Err(Refusal::Empty));
    }

    #[test]
    fn whitespace_body_is_refused_as_blank() {
        assert_eq!(
            check_body(None, b"\xEF\xBB\xBF \r\n\t\n", None, 0.5),
            Err(Refusal::Blank)
        );
    }

    #[test]
    fn body_with_nul_is_refused_as_binary() {
        assert_eq!(
            check_body(None, b"\x1f\x8b\x08\x00abc", None, 0.5),
            Err(Refusal::Binary(3))
        );
    }

    #[test]
    fn html_body_is_refused() {
        assert!(matches!(
            check_body(Some("text/html"), b"ads.example\n", None, 0.5),
            Err(Refusal::Html(_))
        ));
    }

    #[test]
    fn shrunk_body_is_refused_with_both_counts() {
        let refusal = check_body(None, b"a.example\nb.example\n", Some(10), 0.5).unwrap_err();
        assert_eq!(
            refusal,
            Refusal::Shrank {
                old: 10,
                new: 2,
                max_shrink: 0.5
            }
        );
        assert_eq!(
            refusal.to_string(),
            "the list shrank from 10 to 2 entry lines, more than the allowed 50 % loss (max_shrink)"
        );
    }

    #[test]
    fn good_body_counts_its_entries_past_a_bom_and_invalid_utf8() {
        let entries = check_body(
            Some("text/plain; charset=utf-8"),
            b"\xEF\xBB\xBF# list\na.example\nb.\xFFexample\n",
            Some(2),
            0.5,
        )
        .unwrap();
        assert_eq!(entries, 2);
    }
}
