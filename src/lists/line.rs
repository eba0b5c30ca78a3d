//! Sorting one trimmed line into comment, hosts line, rule or problem.
//!
//! A source declared `format = "regex"` is read apart: every line that is
//! not blank or a `#` comment is a regex (`regex.rs`).
//!
//! Otherwise, order of recognition (first match wins): comment (`#`, `!`, blank,
//! `[Adblock Plus 2.0]`), HTML (`<…`), hosts (first word is an IP address and
//! more follows), adblock (judged by the first word, see `adblock.rs`), plain
//! domain. Words are separated by ASCII whitespace (spaces and tabs in
//! practice); the line is split into its first word and the rest once, and
//! the syntax parsers work from that.
//!
//! With an explicit [`Format`] a line of another syntax is invalid, except
//! that an adblock source may hold bare names (valid adblock patterns).

use std::str::SplitAsciiWhitespace;

use super::name::{self, Candidate};
use super::options::{Format, ParseOptions};
use super::reason::{Reason, Syntax};
use super::regex::{self, RegexCandidate};
use super::{adblock, hosts};
use crate::answer::Answer;

/// What a line holds.
#[derive(Debug)]
pub(super) enum Line<'a> {
    /// Comment, blank line or list header.
    Comment,
    /// A hosts line: the answer its names get, if they are answered
    /// rather than blocked (`hosts::answer`), and the words after the
    /// address (possibly none).
    Hosts(Option<Answer>, SplitAsciiWhitespace<'a>),
    /// A line with one name.
    Rule(Candidate<'a>),
    /// A regex rule.
    Regex(RegexCandidate<'a>),
    /// A line that yields no rule.
    Issue(Reason<'a>),
}

/// Classifies a line already stripped of `\r` and surrounding whitespace.
pub(super) fn classify(line: &str, options: ParseOptions) -> Line<'_> {
    if options.format == Format::Regex {
        if line.is_empty() || line.starts_with('#') {
            return Line::Comment;
        }
        return match regex::line(line, options) {
            Ok(candidate) => Line::Regex(candidate),
            Err(reason) => Line::Issue(reason),
        };
    }
    if is_comment(line) {
        return Line::Comment;
    }
    if line.starts_with('<') {
        return Line::Issue(Reason::Html);
    }
    let (first, rest) = split_first_word(line);
    if let Some(names) = hosts::names(first, rest) {
        return match admits(options.format, Syntax::Hosts) {
            Ok(()) => Line::Hosts(hosts::answer(first, options), names),
            Err(reason) => Line::Issue(reason),
        };
    }
    let syntax = if adblock::looks_like(first) {
        Syntax::Adblock
    } else {
        Syntax::Domain
    };
    if let Err(reason) = admits(options.format, syntax) {
        return Line::Issue(reason);
    }
    if syntax == Syntax::Adblock
        && let Some(parsed) = adblock::regex(line, options)
    {
        return match parsed {
            Ok(candidate) => Line::Regex(candidate),
            Err(reason) => Line::Issue(reason),
        };
    }
    let parsed = match syntax {
        Syntax::Adblock => adblock::rule(line, first, options),
        Syntax::Domain | Syntax::Hosts => name::domain_line(first, rest, options),
    };
    match parsed {
        Ok(candidate) => Line::Rule(candidate),
        Err(reason) => Line::Issue(reason),
    }
}

/// Splits a line at its first ASCII whitespace: `("0.0.0.0", " a.example")`.
fn split_first_word(line: &str) -> (&str, &str) {
    match line.bytes().position(|byte| byte.is_ascii_whitespace()) {
        Some(end) => line.split_at(end),
        None => (line, ""),
    }
}

/// Blank lines, `#` and `!` comments, and `[…]` headers.
fn is_comment(line: &str) -> bool {
    line.is_empty()
        || line.starts_with(['#', '!'])
        || (line.starts_with('[') && line.ends_with(']'))
}

/// Whether a source declared as `format` takes a line of `syntax`.
fn admits(format: Format, syntax: Syntax) -> Result<(), Reason<'static>> {
    let admitted = match format {
        Format::Auto => true,
        Format::Hosts => syntax == Syntax::Hosts,
        Format::Domains => syntax == Syntax::Domain,
        Format::Adblock => matches!(syntax, Syntax::Adblock | Syntax::Domain),
        // Read apart in `classify`.
        Format::Regex => false,
    };
    if admitted {
        Ok(())
    } else {
        Err(Reason::WrongFormat {
            found: syntax,
            expected: format,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto(line: &str) -> Line<'_> {
        classify(line, ParseOptions::default())
    }

    fn with_format(line: &str, format: Format) -> Line<'_> {
        classify(
            line,
            ParseOptions {
                format,
                ..ParseOptions::default()
            },
        )
    }

    #[test]
    fn blank_hash_bang_and_header_lines_are_comments() {
        for line in [
            "",
            "# hosts",
            "! Title: x",
            "!+ PLATFORM(windows)",
            "[Adblock Plus 2.0]",
            "####",
        ] {
            assert!(matches!(auto(line), Line::Comment), "{line:?}");
        }
    }

    #[test]
    fn html_line_is_invalid() {
        let line = r#"<link rel="dns-prefetch" href="https://ads.example.com">"#;
        assert!(matches!(auto(line), Line::Issue(Reason::Html)));
    }

    #[test]
    fn auto_detects_each_syntax() {
        assert!(matches!(auto("0.0.0.0 a.example"), Line::Hosts(..)));
        assert!(matches!(auto("||a.example^"), Line::Rule(c) if c.subtree));
        assert!(matches!(auto("a.example"), Line::Rule(c) if !c.subtree));
    }

    #[test]
    fn bare_ip_line_is_a_domain_line() {
        assert!(matches!(auto("88.85.75.147"), Line::Rule(c) if c.raw == "88.85.75.147"));
    }

    #[test]
    fn explicit_hosts_format_rejects_other_syntax() {
        for line in ["a.example", "||a.example^"] {
            assert!(
                matches!(
                    with_format(line, Format::Hosts),
                    Line::Issue(Reason::WrongFormat { .. })
                ),
                "{line}"
            );
        }
        assert!(matches!(
            with_format("0.0.0.0 a.example", Format::Hosts),
            Line::Hosts(..)
        ));
    }

    #[test]
    fn explicit_domains_format_rejects_hosts_and_adblock() {
        for line in ["0.0.0.0 a.example", "||a.example^", "a.example##.ad"] {
            assert!(
                matches!(
                    with_format(line, Format::Domains),
                    Line::Issue(Reason::WrongFormat { .. })
                ),
                "{line}"
            );
        }
    }

    #[test]
    fn explicit_adblock_format_takes_bare_names_but_not_hosts_lines() {
        assert!(matches!(
            with_format("octopusads.net", Format::Adblock),
            Line::Rule(_)
        ));
        assert!(matches!(
            with_format("0.0.0.0 a.example", Format::Adblock),
            Line::Issue(Reason::WrongFormat {
                found: Syntax::Hosts,
                ..
            })
        ));
    }

    #[test]
    fn a_regex_list_reads_every_line_but_comments_as_a_regex() {
        let regex = |line| with_format(line, Format::Regex);
        for line in ["", "# ads", "#^ad\\."] {
            assert!(matches!(regex(line), Line::Comment), "{line:?}");
        }
        for line in [
            "^ad[0-9]*\\.",
            "||a.example^",
            "a.example",
            "[0-9]+\\.example$",
            "!x",
        ] {
            assert!(matches!(regex(line), Line::Regex(_)), "{line:?}");
        }
        assert!(matches!(regex("(x"), Line::Issue(Reason::RegexSyntax(_))));
    }

    #[test]
    fn an_adblock_slash_rule_is_a_regex_in_auto_and_adblock_sources() {
        assert!(matches!(auto("/^ad[0-9]+\\./"), Line::Regex(_)));
        assert!(matches!(
            with_format("@@/^ok\\./", Format::Adblock),
            Line::Regex(c) if c.allow
        ));
        assert!(matches!(
            with_format("/^ad\\./", Format::Domains),
            Line::Issue(Reason::WrongFormat { .. })
        ));
    }

    #[test]
    fn comments_are_comments_in_every_format() {
        for format in [Format::Hosts, Format::Domains, Format::Adblock] {
            assert!(matches!(with_format("# x", format), Line::Comment));
            assert!(matches!(with_format("! x", format), Line::Comment));
        }
    }
}
