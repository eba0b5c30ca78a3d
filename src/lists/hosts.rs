//! The hosts line: an IP address (v4 or v6, optionally with a `%zone`), then
//! one or more names separated by spaces or tabs; `#` starts a comment
//! anywhere. Each name becomes its own rule. The address is ignored (ralo
//! answers with its own sink) unless the source says `hosts_addresses =
//! "answer"`: then a line whose address is no sink (`0.0.0.0`,
//! `127.0.0.1`, `::`, `::1`) answers each of its names, exactly (never
//! their subdomains), with that address — a local hosts file becomes
//! local records ([`answer`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::SplitAsciiWhitespace;

use super::name::Candidate;
use super::options::ParseOptions;
use super::reason::Reason;
use crate::answer::{Answer, Rewrite};
use crate::querytypes::QueryTypes;

/// The addresses hosts files block with: a line with one still blocks
/// when its source answers with the others.
const SINKS: [IpAddr; 4] = [
    IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    IpAddr::V4(Ipv4Addr::LOCALHOST),
    IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    IpAddr::V6(Ipv6Addr::LOCALHOST),
];

/// The answer the names of a hosts line whose address is `first` get
/// under `options`: `None` (a block) unless the source answers with its
/// addresses and this one is no sink. A zoned address (`fe80::1%eth0`)
/// means nothing off its own machine, so it blocks.
pub(super) fn answer(first: &str, options: ParseOptions) -> Option<Answer> {
    if !options.answer_hosts {
        return None;
    }
    let address: IpAddr = first.parse().ok()?;
    if SINKS.contains(&address) {
        return None;
    }
    Some(match address {
        IpAddr::V4(v4) => Answer::A(v4),
        IpAddr::V6(v6) => Answer::Aaaa(v6),
    })
}

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
/// source says `subdomains`; with an `answer` (see [`answer`]), an exact
/// rewrite to it. Hosts files have no wildcards, so `*` is skipped.
pub(super) fn candidate(
    word: &str,
    options: ParseOptions,
    answer: Option<Answer>,
) -> Result<Candidate<'_>, Reason<'_>> {
    if word.contains('*') {
        return Err(Reason::Wildcard);
    }
    Ok(Candidate {
        raw: word,
        subtree: options.subdomains && answer.is_none(),
        allow: options.allow,
        types: QueryTypes::ALL,
        rewrite: answer.map(Rewrite::To),
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
            candidate("*.example.com", ParseOptions::default(), None),
            Err(Reason::Wildcard)
        );
    }

    #[test]
    fn subdomains_option_applies_to_hosts_names() {
        let options = ParseOptions {
            subdomains: true,
            ..ParseOptions::default()
        };
        assert!(candidate("example.com", options, None).unwrap().subtree);
        assert!(
            !candidate("example.com", ParseOptions::default(), None)
                .unwrap()
                .subtree
        );
    }

    #[test]
    fn answered_sources_serve_addresses_that_are_no_sink() {
        let options = ParseOptions {
            answer_hosts: true,
            subdomains: true,
            ..ParseOptions::default()
        };
        assert_eq!(
            answer("192.168.1.10", options),
            Some(Answer::A(Ipv4Addr::new(192, 168, 1, 10)))
        );
        assert_eq!(
            answer("fd00::10", options),
            Some(Answer::Aaaa("fd00::10".parse().unwrap()))
        );
        for sink in ["0.0.0.0", "127.0.0.1", "::", "::1", "fe80::1%eth0"] {
            assert_eq!(answer(sink, options), None, "{sink}");
        }
        assert_eq!(answer("192.168.1.10", ParseOptions::default()), None);
        let nas = candidate("nas.lan", options, answer("192.168.1.10", options)).unwrap();
        assert!(!nas.subtree, "an answer is for the name alone");
        assert!(nas.rewrite.is_some());
    }
}
