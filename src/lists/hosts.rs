//! The hosts line: an IP address (v4 or v6, optionally with a `%zone`), then
//! one or more names separated by spaces or tabs; `#` starts a comment
//! anywhere. The address is ignored (ralo answers with its own sink), each
//! name becomes its own rule.

use std::net::IpAddr;
use std::str::SplitAsciiWhitespace;

use super::name::Candidate;
use super::options::ParseOptions;
use super::reason::Reason;
use crate::querytypes::QueryTypes;

/// If a line split into its first word and the rest is a hosts line, the
/// words naming hosts on it (which may be none, e.g. `0.0.0.0 # comment`). A
/// line whose only word is an address is not a hosts line: it is a (skipped)
/// IP literal.
pub(super) fn names<'a>(first: &str, rest: &'a str) -> Option<SplitAsciiWhitespace<'a>> {
    if rest.is_empty() || !is_address(first) {
        return None;
    }
    let before_comment = match rest.find('#') {
        Some(start) => &rest[..start],
        None => rest,
    };
    Some(before_comment.split_ascii_whitespace())
}

/// The rule a name on a hosts line asks for: exact, or subtree when the
/// source says `subdomains`. Hosts files have no wildcards, so `*` is skipped.
pub(super) fn candidate(word: &str, options: ParseOptions) -> Result<Candidate<'_>, Reason<'_>> {
    if word.contains('*') {
        return Err(Reason::Wildcard);
    }
    Ok(Candidate {
        raw: word,
        subtree: options.subdomains,
        allow: options.allow,
        types: QueryTypes::ALL,
        important: false,
        denyallow: "",
        client: "",
    })
}

/// Whether `word` is an IPv4 or IPv6 address, optionally with a `%zone`.
fn is_address(word: &str) -> bool {
    // Cheap rejection: every address starts with a digit, a hex digit or ':'.
    if !word
        .as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii_hexdigit() || *b == b':')
    {
        return false;
    }
    let address = match word.split_once('%') {
        Some((address, _zone)) => address,
        None => word,
    };
    address.parse::<IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Option<Vec<&str>> {
        let (first, rest) = match line.find([' ', '\t']) {
            Some(end) => line.split_at(end),
            None => (line, ""),
        };
        names(first, rest).map(Iterator::collect)
    }

    #[test]
    fn ipv4_line_yields_its_name() {
        assert_eq!(
            words("0.0.0.0 ads.example.com"),
            Some(vec!["ads.example.com"])
        );
    }

    #[test]
    fn hosts_line_with_tabs_and_inline_comment_yields_each_name() {
        assert_eq!(
            words("127.0.0.1\ta.example.com \t b.example.com\t# two trackers"),
            Some(vec!["a.example.com", "b.example.com"])
        );
    }

    #[test]
    fn ipv6_and_zoned_addresses_start_hosts_lines() {
        assert_eq!(words("::1 localhost"), Some(vec!["localhost"]));
        assert_eq!(words("fe80::1%lo0 x.example"), Some(vec!["x.example"]));
        assert_eq!(words("::  x.example"), Some(vec!["x.example"]));
    }

    #[test]
    fn address_followed_by_comment_is_a_hosts_line_without_names() {
        assert_eq!(words("0.0.0.0 # nothing"), Some(vec![]));
    }

    #[test]
    fn line_not_starting_with_an_address_is_not_hosts() {
        assert_eq!(words("ads.example.com"), None);
        assert_eq!(words("0.0.0.0"), None);
        assert_eq!(words("deadbeef.com x.com"), None);
        assert_eq!(words("1.2.3 x.com"), None);
        assert_eq!(words("<link rel=x>"), None);
    }

    #[test]
    fn wildcard_name_on_a_hosts_line_is_skipped() {
        assert_eq!(
            candidate("*.example.com", ParseOptions::default()),
            Err(Reason::Wildcard)
        );
    }

    #[test]
    fn subdomains_option_applies_to_hosts_names() {
        let options = ParseOptions {
            subdomains: true,
            ..ParseOptions::default()
        };
        assert!(candidate("example.com", options).unwrap().subtree);
        assert!(
            !candidate("example.com", ParseOptions::default())
                .unwrap()
                .subtree
        );
    }
}
