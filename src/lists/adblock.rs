//! The adblock rule: the DNS subset of Adblock Plus / AdGuard syntax.
//!
//! The guiding principle: a rule never covers a name the list does not
//! block. Accepted shapes:
//! - `||name^` (also `||name`, `||name^|`): block `name` and its subdomains;
//!   `@@||name^`: allow them.
//! - `$important` (on either kind, with `$dnstype` or alone): the rule
//!   outranks the plain rules of the other kind, in urlfilter's order —
//!   `||x^$important` beats `@@||x^`, and `@@||x^$important` beats it in
//!   turn; the household's allowlists beat them all (`image::lookup`,
//!   "Precedence").
//! - `://name^`, `//name^`, `http(s)://name^`, `|name^`: these match exactly
//!   one host, so they become exact rules.
//! - `name^` without an anchor matches `name`, its subdomains, and names that
//!   merely end in the same text (`xname`); it becomes a subtree rule, which
//!   is the part DNS rules can express.
//!
//! - `/regex/` (and `@@/regex/`, `/regex/$important`): a regex rule on the
//!   name, as in a regex list (`regex.rs`).
//! - `$badfilter` (with any other modifiers): cancels the same rule
//!   without it, in every list (`badfilter.rs`); it adds no rule itself.
//! - `$denyallow=a.example.com|b.example.com` (on a name rule, block or
//!   `@@`, as urlfilter takes it on both): the rule leaves out these names
//!   and their subdomains, for itself only: another rule on them still
//!   counts. The domains must be plain names (urlfilter refuses `~`,
//!   `*` and regexes there: invalid). The parser keeps those below the
//!   rule's name (`parse.rs`); a rule they leave nothing of is skipped, and
//!   `*$denyallow=…` (a rule on every name) too, for want of a name.
//! - `$client=192.168.1.5|10.0.0.0/8|'kid tablet'` (or all with `~`: every
//!   client but those; on a name rule, block or `@@`, with any of the
//!   others): the rule is for those clients only — addresses, ranges and
//!   `[[clients]]` device names, quoted with `\` escapes as AdGuard writes
//!   them (`groups::ClientScope`). A value that does not parse, or mixes
//!   `~` values with plain ones, makes the line invalid. The compile puts
//!   such rules in a list of their own, derived from this one
//!   (`resolve::scope`).
//! - `$dnstype=AAAA|HTTPS` (or `~A|~AAAA`, every type but those): the rule
//!   applies to those query types only. The parser turns such a rule into
//!   a regex rule on the same name (`(^|\.)name$`), the kind of rule that
//!   carries query types in the image.
//! - `$dnsrewrite=…` (AdGuard's, with `$important` or alone): the rule
//!   answers the name (and, as `||name^`, its subdomains) with records or
//!   a response code instead of blocking it; `@@||name^$dnsrewrite` turns
//!   rewrites of the name off. See `dnsrewrite.rs` for the values taken.
//!
//! Skipped (see [`super::reason::Reason`]): other modifiers, cosmetic,
//! path and port rules, other URL schemes, `*` in the name, `.name^` (it
//! covers subdomains but not the name itself) and `||name.` without `^` (it
//! matches `name` under every top-level domain).

use super::dnsrewrite;
use super::name::Candidate;
use super::options::ParseOptions;
use super::reason::Reason;
use super::regex::{RegexCandidate, pattern_rule};
use crate::answer::Rewrite;
use crate::groups::{ClientScope, split_unquoted};
use crate::querytypes::QueryTypes;

/// The regex rule of a trimmed adblock line shaped `/re/`, `@@/re/` or
/// either with `$modifiers` after the closing `/`; `None` when the line is
/// no regex rule (`/path` without a closing `/` is a path rule).
pub(super) fn regex(
    line: &str,
    options: ParseOptions,
) -> Option<Result<RegexCandidate<'_>, Reason<'_>>> {
    let (exception, body) = match line.strip_prefix("@@") {
        Some(body) => (true, body),
        None => (false, line),
    };
    let inner = body
        .strip_prefix('/')
        .filter(|inner| !inner.starts_with('/'))?;
    // A regex may itself hold `$` and `/`: the modifiers follow the last `/$`.
    let (pattern, modifiers) = match inner.strip_suffix('/') {
        Some(pattern) => (pattern, None),
        None => {
            let at = inner.rfind("/$")?;
            (&inner[..at], Some(&inner[at + 2..]))
        }
    };
    let important = match modifiers {
        None => false,
        Some("important") => true,
        Some(modifiers) if is_badfilter(modifiers) => return Some(Err(Reason::Badfilter)),
        Some(modifiers) => return Some(Err(Reason::Modifier(modifiers))),
    };
    let rule = pattern_rule(pattern, QueryTypes::ALL, options.allow || exception);
    Some(rule.map(|rule| RegexCandidate { important, ..rule }))
}

/// Whether `modifiers` (the text after `$`) hold `badfilter`.
fn is_badfilter(modifiers: &str) -> bool {
    modifiers.split(',').any(|m| m.trim() == "badfilter")
}

/// Whether a line is adblock syntax, judged by its first word: an anchor
/// (`||`, `|`, `@@`, `/`, `://`, `http://`), a `^` or `$`, or a cosmetic
/// marker.
pub(super) fn looks_like(first: &str) -> bool {
    if first.starts_with(['|', '/'])
        || first.starts_with("@@")
        || first.starts_with("://")
        || first.starts_with("http://")
        || first.starts_with("https://")
    {
        return true;
    }
    let mut hash = false;
    for &byte in first.as_bytes() {
        match byte {
            b'^' | b'$' => return true,
            b'#' => hash = true,
            _ => {}
        }
    }
    hash && is_cosmetic(first)
}

/// How the start of a pattern is anchored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Anchor {
    /// `||`: the name and its subdomains.
    Subtree,
    /// `|`, `//`, `://`, `http://`, `https://`: exactly the name.
    Exact,
    /// No anchor: any name ending in the text.
    Loose,
}

/// Parses a trimmed adblock line, whose first word is `first`, into the name
/// it blocks or allows.
pub(super) fn rule<'a>(
    line: &'a str,
    first: &str,
    options: ParseOptions,
) -> Result<Candidate<'a>, Reason<'a>> {
    if is_cosmetic(first) {
        return Err(Reason::Cosmetic);
    }
    let (exception, body) = match line.strip_prefix("@@") {
        Some(body) => (true, body),
        None => (false, line),
    };
    if let Some(inner) = body.strip_prefix('/')
        && !inner.starts_with('/')
    {
        // `/re/` lines are taken by [`regex`] first.
        return Err(Reason::Path);
    }
    let (pattern, modifiers) = match body.split_once('$') {
        Some((pattern, modifiers)) => (pattern, Some(modifiers)),
        None => (body, None),
    };
    let Modifiers {
        types,
        important,
        denyallow,
        rewrite,
        client,
    } = match modifiers {
        Some(modifiers) => rule_modifiers(modifiers, exception)?,
        None => Modifiers::default(),
    };
    if !denyallow.is_empty() && matches!(pattern, "" | "*" | "||*" | "|*" | "*^" | "||*^") {
        return Err(Reason::DenyallowEverywhere);
    }
    let (rest, anchor) = anchor(pattern)?;
    let end = rest
        .find(|c: char| matches!(c, '^' | '/' | ':' | '?' | '|') || c.is_whitespace())
        .unwrap_or(rest.len());
    let (host, tail) = rest.split_at(end);
    if let Some(after) = tail.strip_prefix('^') {
        if !after.is_empty() && after != "|" {
            return Err(Reason::AfterCaret(after));
        }
    } else if tail.starts_with(':') {
        return Err(Reason::Port);
    } else if tail.starts_with(['/', '?']) {
        return Err(Reason::Path);
    } else if !tail.is_empty() && tail != "|" {
        return Err(Reason::ExtraText(tail.trim_start()));
    }
    if host.contains('*') {
        return Err(Reason::Wildcard);
    }
    if host.is_empty() {
        return Err(Reason::NoName);
    }
    if host.ends_with('.') && tail.is_empty() {
        return Err(Reason::AnyTld);
    }
    if anchor == Anchor::Loose && host.starts_with('.') {
        return Err(Reason::SubdomainsOnly);
    }
    Ok(Candidate {
        raw: host,
        subtree: anchor != Anchor::Exact,
        allow: options.allow || exception,
        types,
        important,
        denyallow,
        rewrite,
        client,
    })
}

/// What a name rule's modifiers say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Modifiers<'a> {
    /// `$dnstype`: the query types the rule applies to.
    types: QueryTypes,
    /// `$important`.
    important: bool,
    /// `$denyallow`: the names it leaves out, `|` between them, as written
    /// (empty: none).
    denyallow: &'a str,
    /// `$dnsrewrite`: what it answers instead.
    rewrite: Option<Rewrite>,
    /// `$client`: the clients it is for, as written (empty: every client).
    client: &'a str,
}

impl Default for Modifiers<'_> {
    fn default() -> Self {
        Modifiers {
            types: QueryTypes::ALL,
            important: false,
            denyallow: "",
            rewrite: None,
            client: "",
        }
    }
}

/// The [`Modifiers`] of a name rule's `modifiers` (the text after `$`,
/// split on the commas outside quotes and escapes) of an `exception`
/// (`@@`) or a block: `important`, and once each `dnstype=` (AdGuard's:
/// `AAAA|HTTPS`, or every type but some: `~A|~AAAA`), `denyallow=`,
/// `dnsrewrite` and `client=`, are taken — `dnstype` with neither
/// `denyallow` nor `dnsrewrite`: a rule for some types is a regex rule,
/// which has no name to leave names out of or to answer for; nor
/// `denyallow` with `dnsrewrite`. `badfilter` and every other modifier
/// make the line no rule.
fn rule_modifiers(modifiers: &str, exception: bool) -> Result<Modifiers<'_>, Reason<'_>> {
    if is_badfilter(modifiers) {
        return Err(Reason::Badfilter);
    }
    let (mut types, mut important, mut denyallow) = (None, false, None);
    let (mut rewrite, mut client) = (None, None);
    for modifier in split_unquoted(modifiers, ',').map(str::trim) {
        match modifier.split_once('=') {
            None if modifier == "important" => important = true,
            Some(("dnstype", list)) if types.is_none() => types = Some(dnstype(list)?),
            Some(("denyallow", list)) if denyallow.is_none() => {
                denyallow = Some(denyallow_list(list)?);
            }
            None if modifier == "dnsrewrite" && rewrite.is_none() => {
                rewrite = Some(dnsrewrite::rewrite("", exception)?);
            }
            Some(("dnsrewrite", value)) if rewrite.is_none() => {
                rewrite = Some(dnsrewrite::rewrite(value, exception)?);
            }
            Some(("client", value)) if client.is_none() => {
                ClientScope::parse(value).map_err(Reason::Client)?;
                client = Some(value);
            }
            _ => return Err(Reason::Modifier(modifiers)),
        }
    }
    let combined = [types.is_some(), denyallow.is_some(), rewrite.is_some()];
    if combined.into_iter().filter(|&given| given).count() > 1 {
        return Err(Reason::Modifier(modifiers));
    }
    Ok(Modifiers {
        types: types.unwrap_or(QueryTypes::ALL),
        important,
        denyallow: denyallow.unwrap_or(""),
        rewrite,
        client: client.unwrap_or(""),
    })
}

/// A `$denyallow=` value: plain domain names joined by `|`. urlfilter
/// refuses `~name` there, and an empty list; ralo also refuses `*` and
/// `/regex/`, which it cannot match in the image.
fn denyallow_list(list: &str) -> Result<&str, Reason<'_>> {
    for name in list.split('|') {
        if name.is_empty()
            || name.starts_with(['~', '/'])
            || name.contains(['*', '^', '$', '\\', '(', '['])
        {
            return Err(Reason::Denyallow(list));
        }
    }
    Ok(list)
}

/// A `$dnstype=` value: type names joined by `|`, all of them plain or all
/// negated with `~`.
fn dnstype(list: &str) -> Result<QueryTypes, Reason<'_>> {
    let names: Vec<&str> = list.split('|').map(str::trim).collect();
    let negated = names.iter().filter(|n| n.starts_with('~')).count();
    let joined = names
        .iter()
        .map(|n| n.trim_start_matches('~'))
        .collect::<Vec<_>>()
        .join(",");
    let text = match negated {
        0 => joined,
        n if n == names.len() => format!("!{joined}"),
        _ => return Err(Reason::Modifier(list)),
    };
    QueryTypes::parse(&text).map_err(Reason::QueryType)
}

/// Splits the start anchor off a pattern (modifiers already removed).
fn anchor(pattern: &str) -> Result<(&str, Anchor), Reason<'_>> {
    if let Some(rest) = pattern.strip_prefix("||") {
        return Ok((rest, Anchor::Subtree));
    }
    let piped = pattern.strip_prefix('|');
    let body = piped.unwrap_or(pattern);
    if let Some((scheme, rest)) = body.split_once("://") {
        if matches!(scheme, "" | "http" | "https") {
            return Ok((rest, Anchor::Exact));
        }
        if scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'*')
        {
            return Err(Reason::Scheme(scheme));
        }
        // Otherwise `://` comes later, e.g. in a path: judged below.
    }
    if let Some(rest) = body.strip_prefix("//") {
        return Ok((rest, Anchor::Exact));
    }
    match piped {
        Some(rest) => Ok((rest, Anchor::Exact)),
        None => Ok((pattern, Anchor::Loose)),
    }
}

/// Whether `word` holds a cosmetic or HTML-filtering marker: `##`, `#@#`,
/// `#$#`, `#%#`, `#?#` (and their `#@` exceptions), `$$` or `$@$`.
fn is_cosmetic(word: &str) -> bool {
    const MARKERS: [&str; 10] = [
        "##", "#@#", "#$#", "#%#", "#?#", "#@$#", "#@%#", "#@?#", "$$", "$@$",
    ];
    word.contains(['#', '$']) && MARKERS.iter().any(|marker| word.contains(marker))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::IssueKind;

    fn first_word(line: &str) -> &str {
        line.split([' ', '\t']).next().unwrap_or(line)
    }

    fn parsed(line: &str) -> Result<Candidate<'_>, Reason<'_>> {
        rule(line, first_word(line), ParseOptions::default())
    }

    fn block(raw: &str, subtree: bool) -> Result<Candidate<'_>, Reason<'_>> {
        Ok(Candidate {
            raw,
            subtree,
            allow: false,
            types: QueryTypes::ALL,
            rewrite: None,
            important: false,
            denyallow: "",
            client: "",
        })
    }

    fn important(raw: &str, subtree: bool) -> Result<Candidate<'_>, Reason<'_>> {
        block(raw, subtree).map(|c| Candidate {
            important: true,
            ..c
        })
    }

    #[test]
    fn double_pipe_caret_is_a_subtree_block() {
        assert_eq!(parsed("||ads.example.com^"), block("ads.example.com", true));
    }

    #[test]
    fn exception_is_a_subtree_allow_in_a_blocklist() {
        let candidate = parsed("@@||example.com^").unwrap();
        assert!(candidate.allow && candidate.subtree);
        assert_eq!(candidate.raw, "example.com");
    }

    #[test]
    fn allowlist_option_makes_plain_rules_allows() {
        let options = ParseOptions {
            allow: true,
            ..ParseOptions::default()
        };
        assert!(
            rule("||example.com^", "||example.com^", options)
                .unwrap()
                .allow
        );
    }

    #[test]
    fn trailing_pipe_and_missing_caret_are_accepted() {
        assert_eq!(parsed("||example.com^|"), block("example.com", true));
        assert_eq!(parsed("||example.com"), block("example.com", true));
        assert_eq!(parsed("||example.com|"), block("example.com", true));
    }

    #[test]
    fn important_modifier_makes_an_important_rule_of_either_kind() {
        assert_eq!(
            parsed("||example.com^$important"),
            important("example.com", true)
        );
        assert_eq!(
            parsed("|example.com^$important"),
            important("example.com", false)
        );
        let exception = parsed("@@||example.com^$important").unwrap();
        assert!(exception.allow && exception.important);
        assert!(!parsed("@@||example.com^").unwrap().important);
        assert_eq!(
            parsed("||example.com^$important,important"),
            important("example.com", true)
        );
    }

    #[test]
    fn other_modifiers_are_skipped() {
        for (line, modifier) in [
            ("||example.com^$third-party", "third-party"),
            ("||example.com^$popup", "popup"),
            (
                "||example.com^$client=127.0.0.1,client=::1",
                "client=127.0.0.1,client=::1",
            ),
            (
                "||example.com^$dnstype=AAAA,dnstype=A",
                "dnstype=AAAA,dnstype=A",
            ),
            (
                "||example.com^$important,third-party",
                "important,third-party",
            ),
            (
                "||example.com^$denyallow=a.com,denyallow=b.com",
                "denyallow=a.com,denyallow=b.com",
            ),
            (
                "||example.com^$denyallow=a.com,dnstype=A",
                "denyallow=a.com,dnstype=A",
            ),
        ] {
            assert_eq!(parsed(line), Err(Reason::Modifier(modifier)), "{line}");
        }
    }

    #[test]
    fn client_keeps_its_value_as_written_with_the_other_modifiers() {
        for (line, value) in [
            ("||ads.example^$client=192.168.1.5", "192.168.1.5"),
            (
                "||ads.example^$client=fd00::5|10.0.0.0/8",
                "fd00::5|10.0.0.0/8",
            ),
            (
                r"||ads.example^$client='Frank\'s laptop'",
                r"'Frank\'s laptop'",
            ),
            (
                "||ads.example^$client='kid, tablet',important",
                "'kid, tablet'",
            ),
            (r"||ads.example^$important,client=a\,b|~c", "~"),
            ("||ads.example^$client=~tv|~10.0.0.1", "~tv|~10.0.0.1"),
        ] {
            match parsed(line) {
                Ok(rule) if value != "~" => assert_eq!(rule.client, value, "{line}"),
                Err(Reason::Client(crate::groups::ScopeError::Mixed)) if value == "~" => {}
                other => panic!("{line}: {other:?}"),
            }
        }
        let rule = parsed("@@||ads.example^$client=10.0.0.1,important,dnstype=AAAA").unwrap();
        assert!(rule.allow && rule.important);
        assert_eq!(rule.client, "10.0.0.1");
        assert_eq!(rule.types, QueryTypes::parse("AAAA").unwrap());
        let rule = parsed("||ads.example^$denyallow=a.ads.example,client=tv").unwrap();
        assert_eq!((rule.denyallow, rule.client), ("a.ads.example", "tv"));
    }

    #[test]
    fn a_client_value_that_does_not_parse_makes_the_line_invalid() {
        use crate::groups::ScopeError;
        for (line, error) in [
            ("||a.example^$client=", ScopeError::Empty),
            ("||a.example^$client=a||b", ScopeError::Empty),
            ("||a.example^$client=a|~b", ScopeError::Mixed),
            ("||a.example^$client='open", ScopeError::Quote),
        ] {
            let reason = parsed(line).unwrap_err();
            assert_eq!(reason, Reason::Client(error), "{line}");
            assert_eq!(reason.kind(), IssueKind::Invalid, "{line}");
        }
    }

    #[test]
    fn denyallow_keeps_its_names_as_written_on_either_kind() {
        let rule = parsed("||example.org^$denyallow=a.example.org|B.example.org").unwrap();
        assert_eq!(rule.denyallow, "a.example.org|B.example.org");
        assert!(!rule.allow && rule.subtree);
        let exception = parsed("@@||example.org^$important,denyallow=a.example.org").unwrap();
        assert!(exception.allow && exception.important);
        assert_eq!(exception.denyallow, "a.example.org");
        assert_eq!(parsed("||example.org^").unwrap().denyallow, "");
    }

    #[test]
    fn denyallow_of_wildcards_negations_or_regexes_is_invalid() {
        for (line, list) in [
            ("||example.org^$denyallow=~a.example.org", "~a.example.org"),
            ("||example.org^$denyallow=*.example.org", "*.example.org"),
            ("||example.org^$denyallow=/a[0-9]/", "/a[0-9]/"),
            (
                "||example.org^$denyallow=a.example.org||b.example.org",
                "a.example.org||b.example.org",
            ),
            ("||example.org^$denyallow=", ""),
        ] {
            assert_eq!(parsed(line), Err(Reason::Denyallow(list)), "{line}");
            assert_eq!(Reason::Denyallow(list).kind(), IssueKind::Invalid);
        }
    }

    #[test]
    fn a_rule_takes_one_of_dnstype_denyallow_and_dnsrewrite() {
        for modifiers in [
            "dnstype=AAAA,denyallow=a.example.org",
            "denyallow=a.example.org,dnsrewrite=1.2.3.4",
            "dnsrewrite=1.2.3.4,dnstype=A",
        ] {
            let line = format!("||example.org^${modifiers}");
            assert_eq!(parsed(&line), Err(Reason::Modifier(modifiers)), "{line}");
        }
        let rewrite = parsed("||example.org^$important,dnsrewrite=1.2.3.4").unwrap();
        assert!(rewrite.important && rewrite.rewrite.is_some());
    }

    #[test]
    fn denyallow_on_every_name_is_skipped() {
        for line in [
            "*$denyallow=com|net",
            "$denyallow=com",
            "||*^$denyallow=org",
        ] {
            assert_eq!(parsed(line), Err(Reason::DenyallowEverywhere), "{line}");
        }
        assert_eq!(Reason::DenyallowEverywhere.kind(), IssueKind::Skipped);
    }

    #[test]
    fn dnstype_limits_a_rule_to_some_query_types() {
        let types = |line| parsed(line).map(|c| c.types);
        let only = |list: &str| QueryTypes::parse(list).unwrap();
        assert_eq!(types("||example.com^$dnstype=AAAA"), Ok(only("AAAA")));
        assert_eq!(
            types("||example.com^$dnstype=AAAA|HTTPS,important"),
            Ok(only("AAAA,HTTPS"))
        );
        assert_eq!(
            types("@@||example.com^$dnstype=~A|~AAAA"),
            Ok(only("!A,AAAA"))
        );
        assert_eq!(types("||example.com^"), Ok(QueryTypes::ALL));
        assert_eq!(
            parsed("||example.com^$dnstype=A|~AAAA"),
            Err(Reason::Modifier("A|~AAAA")),
            "plain and negated types mixed"
        );
        assert!(matches!(
            parsed("||example.com^$dnstype=BOGUS"),
            Err(Reason::QueryType(_))
        ));
        assert_eq!(
            parsed("||example.com^$dnstype=A,badfilter"),
            Err(Reason::Badfilter)
        );
    }

    #[test]
    fn modifier_without_dollar_after_caret_is_skipped() {
        assert_eq!(
            parsed("||xqquphzq.bid^popup,third-party"),
            Err(Reason::AfterCaret("popup,third-party"))
        );
    }

    #[test]
    fn cosmetic_rules_are_skipped() {
        for line in [
            "thr.ru##.top_branding",
            "example.com#@#.ad",
            "example.com#$#body { color: red }",
            "example.com#%#window.x=1",
            "example.com#?#div:has(a)",
            "example.com$$script[data-ad]",
        ] {
            assert!(looks_like(first_word(line)), "{line}");
            assert_eq!(parsed(line), Err(Reason::Cosmetic), "{line}");
        }
    }

    fn regex_of(line: &str) -> Option<Result<RegexCandidate<'_>, Reason<'_>>> {
        regex(line, ParseOptions::default())
    }

    #[test]
    fn slash_delimited_rule_is_a_regex_rule() {
        let rule = regex_of("/^ad[0-9]+\\.example\\.com$/").unwrap().unwrap();
        assert_eq!(rule.pattern, "^ad[0-9]+\\.example\\.com$");
        assert!(!rule.allow);
        let rule = regex_of("@@/banner[0-9]/$important").unwrap().unwrap();
        assert_eq!(
            (rule.pattern, rule.allow, rule.important),
            ("banner[0-9]", true, true)
        );
        assert_eq!(rule.types, QueryTypes::ALL);
        assert!(!regex_of("/banner[0-9]/").unwrap().unwrap().important);
        // `$` and `/` inside the pattern.
        let rule = regex_of("/a\\/b$|c/").unwrap().unwrap();
        assert_eq!(rule.pattern, "a\\/b$|c");
    }

    #[test]
    fn regex_rule_with_another_modifier_is_skipped_and_a_bad_one_invalid() {
        assert_eq!(
            regex_of("/banner[0-9]/$dnstype=A"),
            Some(Err(Reason::Modifier("dnstype=A")))
        );
        assert!(matches!(
            regex_of("/(unclosed/"),
            Some(Err(Reason::RegexSyntax(_)))
        ));
        assert_eq!(regex_of("//"), None);
        assert_eq!(regex_of("/bidmatching.js"), None);
        assert_eq!(regex_of("||x.com^"), None);
    }

    #[test]
    fn adblock_path_rule_is_skipped() {
        for line in [
            "||zoda.ru/",
            "||websurf.ru/?",
            "||x.ru/ads/banner.js^",
            "/bidmatching.js",
            "http://w7.ru/",
        ] {
            assert_eq!(parsed(line), Err(Reason::Path), "{line}");
        }
    }

    #[test]
    fn port_rule_is_skipped() {
        assert_eq!(parsed("||mxtads.com:8040^"), Err(Reason::Port));
    }

    #[test]
    fn wildcard_in_adblock_name_is_skipped() {
        for line in [
            "||ad*.x.com^",
            "://*.a-akamaihd.com^",
            "@@||aax-*.amazon.*^",
        ] {
            assert_eq!(parsed(line), Err(Reason::Wildcard), "{line}");
        }
    }

    #[test]
    fn host_anchored_url_patterns_are_exact_rules() {
        assert_eq!(parsed("://oyy.ru^"), block("oyy.ru", false));
        assert_eq!(parsed("//oyy.ru^"), block("oyy.ru", false));
        assert_eq!(parsed("http://7ads.ru^"), block("7ads.ru", false));
        assert_eq!(parsed("|https://x.example^"), block("x.example", false));
        assert_eq!(parsed("|example.org^"), block("example.org", false));
    }

    #[test]
    fn unanchored_caret_pattern_is_a_subtree_block() {
        assert_eq!(
            parsed("polezno-2012.info^"),
            block("polezno-2012.info", true)
        );
        assert_eq!(
            parsed("example.com$important"),
            important("example.com", true)
        );
    }

    #[test]
    fn leading_dot_pattern_covering_only_subdomains_is_skipped() {
        assert_eq!(parsed(".adonweb.ru^"), Err(Reason::SubdomainsOnly));
    }

    #[test]
    fn trailing_dot_without_caret_matching_any_tld_is_skipped() {
        assert_eq!(parsed("||an.yandex."), Err(Reason::AnyTld));
        assert_eq!(parsed("||admulti."), Err(Reason::AnyTld));
    }

    #[test]
    fn trailing_dot_before_caret_is_a_fully_qualified_name() {
        assert_eq!(parsed("||adsjudo.com.^"), block("adsjudo.com.", true));
    }

    #[test]
    fn other_url_schemes_are_skipped() {
        assert_eq!(
            parsed("ws*://video.docfilms.info^"),
            Err(Reason::Scheme("ws*"))
        );
        assert_eq!(parsed("wss://x.example^"), Err(Reason::Scheme("wss")));
    }

    #[test]
    fn rule_without_a_name_is_no_name() {
        for line in ["||^", "@@", "||", "^"] {
            assert_eq!(parsed(line), Err(Reason::NoName), "{line}");
        }
    }

    #[test]
    fn text_after_the_rule_is_extra_text() {
        assert_eq!(parsed("||a.com b"), Err(Reason::ExtraText("b")));
        assert_eq!(parsed("||a.com|x"), Err(Reason::ExtraText("|x")));
    }

    #[test]
    fn plain_names_and_hosts_lines_do_not_look_like_adblock() {
        assert!(!looks_like("example.com"));
        assert!(!looks_like(first_word("example.com # costs $5 ^_^")));
        assert!(!looks_like("example.com#comment"));
        assert!(looks_like("||example.com^"));
        assert!(looks_like("@@||example.com^"));
        assert!(looks_like("polezno-2012.info^"));
    }

    #[test]
    fn dnsrewrite_rules_answer_their_name_and_subtree() {
        use crate::answer::{Answer, Rcode};
        let rewrite = |line| parsed(line).map(|c| (c.raw, c.subtree, c.allow, c.rewrite));
        let to = |answer| Some(Rewrite::To(answer));
        assert_eq!(
            rewrite("||nas.example^$dnsrewrite=NOERROR;A;192.168.1.10"),
            Ok((
                "nas.example",
                true,
                false,
                to(Answer::A("192.168.1.10".parse().unwrap()))
            ))
        );
        assert_eq!(
            rewrite("|x.example^$important,dnsrewrite=REFUSED"),
            Ok(("x.example", false, false, to(Answer::Rcode(Rcode::Refused))))
        );
        assert_eq!(
            rewrite("@@||x.example^$dnsrewrite"),
            Ok(("x.example", true, true, Some(Rewrite::Off)))
        );
        assert_eq!(
            parsed("||x.example^$dnsrewrite=x.example.org"),
            Err(Reason::RewriteType("CNAME"))
        );
        assert_eq!(
            parsed("||x.example^$dnstype=A,dnsrewrite=1.2.3.4"),
            Err(Reason::Modifier("dnstype=A,dnsrewrite=1.2.3.4"))
        );
        assert_eq!(
            parsed("||x.example^$dnsrewrite=1.2.3.4,dnsrewrite=1.2.3.5"),
            Err(Reason::Modifier("dnsrewrite=1.2.3.4,dnsrewrite=1.2.3.5"))
        );
    }
}
