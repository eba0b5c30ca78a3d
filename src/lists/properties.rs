//! Property tests for the whole parser: on any text it never panics, every
//! line is counted once (a hosts line once per name, see `stats.rs`), and
//! every rule it yields is a normalized name in line order.

use std::net::IpAddr;

use proptest::prelude::*;

use super::{Format, ParseOptions, parse};
use crate::domain::Domain;

/// How many outcomes beyond one a line adds: a hosts line counts each of
/// its names where the format admits hosts lines. An independent model of
/// the classifier's hosts rule.
fn extra_outcomes(raw: &str, format: Format) -> u64 {
    if !matches!(format, Format::Auto | Format::Hosts) {
        return 0;
    }
    let line = raw.strip_suffix('\r').unwrap_or(raw).trim();
    if line.is_empty()
        || line.starts_with(['#', '!', '<'])
        || (line.starts_with('[') && line.ends_with(']'))
    {
        return 0;
    }
    let Some((first, rest)) = line.split_once(|c: char| c.is_ascii_whitespace()) else {
        return 0;
    };
    let address = first.split('%').next().unwrap_or(first);
    if address.parse::<IpAddr>().is_err() {
        return 0;
    }
    let names = rest
        .split('#')
        .next()
        .unwrap_or("")
        .split_ascii_whitespace()
        .count();
    u64::try_from(names.saturating_sub(1)).unwrap_or(u64::MAX)
}

fn check_invariants(text: &str, options: ParseOptions) -> Result<(), TestCaseError> {
    let mut seen = Vec::new();
    let mut regexes = 0u64;
    let stats = parse(text, options, |rule| {
        if rule.regex.is_some() {
            // A pattern, not a name: it parses as a regex.
            regexes += 1;
            assert!(
                regex_automata::util::syntax::parse_with(rule.name, &crate::lists::regex_syntax())
                    .is_ok()
            );
            return;
        }
        seen.push((rule.name.to_owned(), rule.line));
    });
    let lines = text.split_terminator('\n');
    prop_assert_eq!(stats.lines, lines.clone().count() as u64);
    let outcomes =
        stats.accepted + stats.duplicate + stats.skipped + stats.invalid + stats.comments;
    let extra: u64 = lines.map(|line| extra_outcomes(line, options.format)).sum();
    prop_assert_eq!(outcomes, stats.lines + extra);
    prop_assert_eq!(seen.len() as u64 + regexes, stats.accepted);
    prop_assert!(stats.examples.len() <= 5);
    prop_assert!(seen.windows(2).all(|pair| pair[0].1 <= pair[1].1));
    for (name, line) in &seen {
        prop_assert!(*line >= 1 && u64::from(*line) <= stats.lines);
        let reparsed = Domain::parse(name);
        prop_assert_eq!(reparsed.as_ref().map(Domain::as_str), Ok(name.as_str()));
    }
    Ok(())
}

/// Fragments that steer random lines into every branch of the parser.
const FRAGMENTS: &[&str] = &[
    "0.0.0.0",
    "::1",
    "fe80::1%eth0",
    "127.0.0.1",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "#",
    "!",
    "||",
    "@@",
    "^",
    "$important",
    "$popup",
    "|",
    "/",
    "*.",
    "*",
    ".",
    "..",
    "a",
    "Ads",
    "example.com",
    "Bücher.de",
    "банрек.рус",
    "localhost",
    "<a>",
    "##",
    "#@#",
    ":",
    "8040",
    "[",
    "]",
    "\u{FFFD}",
    "_",
    "-",
    "com",
    "1",
    "://",
    "http://",
    ",",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];

fn options_strategy() -> impl Strategy<Value = ParseOptions> {
    let format = prop_oneof![
        Just(Format::Auto),
        Just(Format::Hosts),
        Just(Format::Domains),
        Just(Format::Adblock),
        Just(Format::Regex)
    ];
    (any::<bool>(), any::<bool>(), any::<bool>(), format).prop_map(
        |(allow, subdomains, answer_hosts, format)| ParseOptions {
            allow,
            subdomains,
            format,
            answer_hosts,
        },
    )
}

proptest! {
    #[test]
    fn parse_never_panics_and_counts_every_line_on_arbitrary_text(
        chars in prop::collection::vec(any::<char>(), 0..400),
        options in options_strategy(),
    ) {
        let text: String = chars.into_iter().collect();
        check_invariants(&text, options)?;
    }

    #[test]
    fn parse_never_panics_and_counts_every_line_on_list_like_text(
        pieces in prop::collection::vec(prop::sample::select(FRAGMENTS), 0..120),
        options in options_strategy(),
    ) {
        check_invariants(&pieces.concat(), options)?;
    }
}

/// One adblock rule of the `$badfilter` property: an exception or not, a
/// name, and a set of modifiers (bits of [`BADFILTER_MODIFIERS`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Written {
    exception: bool,
    name: &'static str,
    modifiers: u8,
}

const BADFILTER_NAMES: [&str; 3] = ["a.example", "b.example", "c.a.example"];
const BADFILTER_MODIFIERS: [&str; 4] = [
    "important",
    "dnstype=AAAA",
    "client=127.0.0.2",
    "denyallow=x.a.example",
];

impl Written {
    /// The line, its modifiers in the order `order` gives (a rotation), with
    /// `badfilter` among them when `bad`.
    fn line(&self, order: usize, bad: bool) -> String {
        let mut modifiers: Vec<&str> = BADFILTER_MODIFIERS
            .iter()
            .enumerate()
            .filter(|(i, _)| self.modifiers & (1 << i) != 0)
            .map(|(_, m)| *m)
            .collect();
        if bad {
            modifiers.push("badfilter");
        }
        if !modifiers.is_empty() {
            let at = order % modifiers.len();
            modifiers.rotate_left(at);
        }
        let at = if self.exception { "@@" } else { "" };
        match modifiers.is_empty() {
            true => format!("{at}||{}^", self.name),
            false => format!("{at}||{}^${}", self.name, modifiers.join(",")),
        }
    }

    /// Whether the parser takes it at all: `$dnstype` goes with no
    /// `$denyallow`.
    fn taken(&self) -> bool {
        self.modifiers & 0b1010 != 0b1010
    }
}

fn written() -> impl Strategy<Value = Written> {
    (
        any::<bool>(),
        prop::sample::select(&BADFILTER_NAMES[..]),
        0u8..16,
    )
        .prop_map(|(exception, name, modifiers)| Written {
            exception,
            name,
            modifiers,
        })
}

proptest! {
    /// `$badfilter` against its definition: a rule line is cancelled when a
    /// `$badfilter` line anywhere in the text is the same rule (exception
    /// or not, name, modifiers in any order) with `badfilter` added; the
    /// reader yields every other line's rule (copies are merged later, by
    /// the image builder).
    #[test]
    fn badfilter_cancels_exactly_the_same_rule(
        lines in prop::collection::vec((written(), any::<bool>(), 0usize..5), 1..24),
    ) {
        let text: String = lines
            .iter()
            .map(|(rule, bad, order)| rule.line(*order, *bad) + "\n")
            .collect();
        let mut badfilters = super::Badfilters::new();
        badfilters.scan(text.as_bytes()).expect("in memory");
        let mut yielded = Vec::new();
        let options = ParseOptions {
            format: Format::Adblock,
            ..ParseOptions::default()
        };
        super::parse_reader_with(text.as_bytes(), options, &badfilters, |rule| {
            yielded.push(rule.line);
        })
        .expect("in memory");

        let cancelled: std::collections::HashSet<&Written> =
            lines.iter().filter(|(_, bad, _)| *bad).map(|(rule, ..)| rule).collect();
        let want: Vec<u32> = lines
            .iter()
            .enumerate()
            .filter(|(_, (rule, bad, _))| !bad && rule.taken() && !cancelled.contains(rule))
            .map(|(i, _)| i as u32 + 1)
            .collect();
        prop_assert_eq!(yielded, want, "{}", text);
    }
}
