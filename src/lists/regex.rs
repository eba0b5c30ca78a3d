//! Regex rules: a line of a `format = "regex"` list (Pi-hole's regex list:
//! one regular expression a line, `#` comments, and Pi-hole's `;option`
//! extensions) and the `/regex/` rule of an adblock list.
//!
//! A regex matches the query name's lower-case text without the trailing
//! dot, anywhere in it unless anchored (`^`, `$`), as Pi-hole's do. The
//! syntax is the Rust `regex` crate's without Unicode classes, which takes
//! the POSIX extended expressions Pi-hole lists are written in
//! (`[[:digit:]]`, `{2,}`, `(a|b)`); what it does not take — a
//! back-reference, a look-around — is refused as invalid with the line.
//! Whether the pattern also fits the size the image allows is the image
//! builder's to say (`image/regex.rs`).
//!
//! Options, after `;`: `querytype=A,AAAA` limits the rule to those query
//! types, `querytype=!A` to all but those. Any other option (`invert`,
//! `reply=…`) changes what the rule means, so the line is skipped and
//! counted rather than applied half.

use regex_automata::util::syntax;

use super::options::ParseOptions;
use super::reason::Reason;
use crate::querytypes::QueryTypes;

/// A regex rule as written: the pattern, the query types it is for and
/// whether it allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RegexCandidate<'a> {
    /// The pattern, as written.
    pub(super) pattern: &'a str,
    /// The query types it applies to.
    pub(super) types: QueryTypes,
    /// The rule allows rather than blocks.
    pub(super) allow: bool,
    /// An adblock `/regex/$important` rule.
    pub(super) important: bool,
}

/// The syntax every regex rule is read with: bytes, not Unicode (names are
/// ASCII), so `.` and `[^…]` match one byte and no Unicode table is needed.
pub(crate) fn syntax_config() -> syntax::Config {
    syntax::Config::new().unicode(false).utf8(false)
}

/// Parses a trimmed, non-comment line of a regex list.
pub(super) fn line(line: &str, options: ParseOptions) -> Result<RegexCandidate<'_>, Reason<'_>> {
    let mut parts = line.split(';');
    let pattern = parts.next().unwrap_or("").trim();
    let mut types = None;
    for option in parts.map(str::trim).filter(|o| !o.is_empty()) {
        match option.split_once('=') {
            Some((key, list)) if key.trim().eq_ignore_ascii_case("querytype") => {
                if types.is_some() {
                    return Err(Reason::RegexOptionTwice("querytype"));
                }
                types = Some(QueryTypes::parse(list.trim()).map_err(Reason::QueryType)?);
            }
            _ => return Err(Reason::RegexOption(option)),
        }
    }
    pattern_rule(pattern, types.unwrap_or(QueryTypes::ALL), options.allow)
}

/// Checks that `pattern` parses and makes it a rule.
pub(super) fn pattern_rule(
    pattern: &str,
    types: QueryTypes,
    allow: bool,
) -> Result<RegexCandidate<'_>, Reason<'_>> {
    if pattern.is_empty() {
        return Err(Reason::NoPattern);
    }
    if let Err(error) = syntax::parse_with(pattern, &syntax_config()) {
        return Err(Reason::RegexSyntax(syntax_error(&error.to_string())));
    }
    Ok(RegexCandidate {
        pattern,
        types,
        allow,
        important: false,
    })
}

/// The one line of a regex parse error that says what is wrong (the full
/// message quotes the pattern and draws a caret under it).
fn syntax_error(message: &str) -> String {
    message
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or(message)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<RegexCandidate<'_>, Reason<'_>> {
        line(text, ParseOptions::default())
    }

    fn types(list: &str) -> QueryTypes {
        QueryTypes::parse(list).unwrap()
    }

    #[test]
    fn a_pattern_alone_blocks_every_query_type() {
        let rule = parsed(r"^ad[sxv]?[0-9]*\.").unwrap();
        assert_eq!(rule.pattern, r"^ad[sxv]?[0-9]*\.");
        assert_eq!((rule.types, rule.allow), (QueryTypes::ALL, false));
    }

    #[test]
    fn an_allowlist_makes_it_an_allow() {
        let options = ParseOptions {
            allow: true,
            ..ParseOptions::default()
        };
        assert!(line(r"(^|\.)ok\.example$", options).unwrap().allow);
    }

    #[test]
    fn querytype_restricts_to_those_types_or_all_but_them() {
        for (text, want) in [
            (r"abc;querytype=A", "A"),
            (r"abc;querytype=AAAA", "AAAA"),
            (r"abc;querytype=A,AAAA,HTTPS", "A,AAAA,HTTPS"),
            (r"abc;querytype=!A", "!A"),
            (r"abc;querytype=!A,AAAA", "!A,AAAA"),
            (r"abc ; QueryType = https ;", "HTTPS"),
        ] {
            let rule = parsed(text).unwrap();
            assert_eq!((rule.pattern, rule.types), ("abc", types(want)), "{text}");
        }
    }

    #[test]
    fn posix_classes_and_intervals_are_taken() {
        for text in [
            r"^ad([sxv]?[0-9]*|system)[_.-]([^.[:space:]]+\.){1,}|[_.-]ad([sxv]?[0-9]*|system)[_.-]",
            r"(^|\.)tiktok(v|cdn)?\.com$",
            r"^[[:digit:]]{3,}\.example$",
        ] {
            assert!(parsed(text).is_ok(), "{text}");
        }
    }

    #[test]
    fn other_options_skip_the_line() {
        for (text, option) in [
            ("abc;invert", "invert"),
            ("abc;reply=nxdomain", "reply=nxdomain"),
            ("abc;querytype=A;invert", "invert"),
        ] {
            let reason = parsed(text).unwrap_err();
            assert_eq!(reason, Reason::RegexOption(option), "{text}");
            assert_eq!(reason.kind(), crate::lists::IssueKind::Skipped);
        }
    }

    #[test]
    fn every_mistake_is_invalid_and_says_what_is_wrong() {
        let cases = [
            ("abc;querytype=CNAMEX", "unknown query type `CNAMEX`"),
            ("abc;querytype=", "names no type"),
            ("abc;querytype=A;querytype=AAAA", "given twice"),
            ("(abc", "unclosed group"),
            (r"(a)\1", "backreferences are not supported"),
            ("a{2,1}", "invalid repetition count range"),
            (";querytype=A", "no regular expression"),
        ];
        for (text, says) in cases {
            let reason = parsed(text).unwrap_err();
            assert_eq!(
                reason.kind(),
                crate::lists::IssueKind::Invalid,
                "{text}: {reason}"
            );
            assert!(reason.to_string().contains(says), "{text}: {reason}");
        }
    }
}
