//! Target (c): arbitrary list text in each syntax → the list parser.
//!
//! The first input byte gives the parse options: bits 0–1 the format
//! (auto, hosts, domains, adblock), bit 2 an allowlist, bit 3
//! `subdomains`, bit 4 the regex format (bits 0–1 then unused), bit 5
//! `hosts_addresses = "answer"`. The rest is the list, read as the updater
//! reads a file (lossy UTF-8).

use std::collections::HashSet;
use std::net::IpAddr;

use crate::domain::Domain;
use crate::lists::{Format, ParseOptions, Stats, parse};

/// Parses one list text and checks the result. Panics when the oracle is
/// broken:
///
/// - every accepted name is a valid normalized domain (it parses as a
///   [`Domain`] and reads the same afterwards), every accepted regex
///   parses; no rule (name, form, kind, importance and `$denyallow`
///   names) is passed on twice; `$denyallow` names lie below their
///   subtree rule's name;
///   line numbers ascend within the text; an allowlist yields only allows;
/// - the counts add up as `stats.rs` says: `lines` is the number of lines,
///   and the five counts add up to it plus, for each hosts line, its names
///   beyond the first;
/// - parsing the text line by line gives the same counts (duplicates aside:
///   a rule one line repeats from another is only a duplicate in the whole).
pub fn list_text(data: &[u8]) {
    let Some((&flags, text)) = data.split_first() else {
        return;
    };
    let options = ParseOptions {
        format: if flags & 16 != 0 {
            Format::Regex
        } else {
            [
                Format::Auto,
                Format::Hosts,
                Format::Domains,
                Format::Adblock,
            ][usize::from(flags & 3)]
        },
        allow: flags & 4 != 0,
        subdomains: flags & 8 != 0,
        answer_hosts: flags & 32 != 0,
    };
    let text = String::from_utf8_lossy(text);

    let mut seen = HashSet::new();
    let mut last_line = 0;
    let stats = parse(&text, options, |rule| {
        assert!(rule.line >= last_line, "line numbers go back");
        last_line = rule.line;
        if let Some(types) = rule.regex {
            assert!(
                regex_automata::util::syntax::parse_with(rule.name, &crate::lists::regex_syntax())
                    .is_ok(),
                "accepted regex `{}` does not parse",
                rule.name
            );
            assert!(
                seen.insert((
                    format!("{}\0{}\0{}", rule.name, types.bits(), rule.important),
                    false,
                    rule.allow
                )),
                "regex `{}` passed on twice",
                rule.name
            );
            assert!(rule.allow || !options.allow, "an allowlist yields a block");
            return;
        }
        let normalized = Domain::parse(rule.name)
            .unwrap_or_else(|e| panic!("accepted `{}` is not a domain: {e}", rule.name));
        assert_eq!(
            normalized.as_str(),
            rule.name,
            "accepted name is not normalized"
        );
        for exempt in rule.denyallow.split('|').filter(|e| !e.is_empty()) {
            assert!(
                crate::domain::is_below(exempt, rule.name) && rule.subtree,
                "`$denyallow` name `{exempt}` of `{}` is not below it",
                rule.name
            );
        }
        // A rule is its name, form, kind, importance, exemptions and
        // rewrite.
        let key = format!(
            "{}\0{}\0{}\0{:?}",
            rule.name, rule.important, rule.denyallow, rule.rewrite
        );
        assert!(
            seen.insert((key, rule.subtree, rule.allow)),
            "rule `{}` passed on twice",
            rule.name
        );
        assert!(rule.allow || !options.allow, "an allowlist yields a block");
    });
    assert_eq!(
        stats.accepted,
        seen.len() as u64,
        "accepted counts the rules"
    );

    let mut lines = 0u64;
    let mut entries = 0u64;
    let mut by_line = Stats::default();
    for line in text.split_terminator('\n') {
        lines += 1;
        entries += hosts_names(line, options.format).map_or(1, |n| n.max(1));
        let alone = parse(&format!("{line}\n"), options, |_| {});
        assert_eq!(alone.lines, 1);
        by_line.accepted += alone.accepted;
        by_line.duplicate += alone.duplicate;
        by_line.skipped += alone.skipped;
        by_line.invalid += alone.invalid;
        by_line.comments += alone.comments;
    }
    assert_eq!(stats.lines, lines, "lines");
    let counted = stats.accepted + stats.duplicate + stats.skipped + stats.invalid + stats.comments;
    assert_eq!(
        counted, entries,
        "the counts add up to the lines and hosts names: {stats:?}"
    );
    assert_eq!(
        (
            stats.accepted + stats.duplicate,
            stats.skipped,
            stats.invalid,
            stats.comments
        ),
        (
            by_line.accepted + by_line.duplicate,
            by_line.skipped,
            by_line.invalid,
            by_line.comments
        ),
        "line by line"
    );
    assert!(stats.examples.len() as u64 <= stats.skipped + stats.invalid);
}

/// When `raw` is a hosts line in a source of `format`, the names on it:
/// an IP address (with an optional `%zone`) as first word, more words
/// after it, up to a `#`.
fn hosts_names(raw: &str, format: Format) -> Option<u64> {
    if !matches!(format, Format::Auto | Format::Hosts) {
        return None;
    }
    let line = raw.strip_suffix('\r').unwrap_or(raw).trim();
    let end = line.bytes().position(|b| b.is_ascii_whitespace())?;
    let (first, rest) = line.split_at(end);
    let address = first.split_once('%').map_or(first, |(address, _)| address);
    address.parse::<IpAddr>().ok()?;
    let names = rest.split('#').next().unwrap_or("");
    Some(names.split_ascii_whitespace().count() as u64)
}
