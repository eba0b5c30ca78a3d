//! The parser's driver: splits text into lines, classifies each (`line.rs`),
//! normalizes names into one reused buffer, drops duplicates (or leaves
//! that to the caller) and hands each new [`Rule`] to the caller's sink
//! while keeping [`Stats`]. [`parse`] reads a text in memory,
//! [`parse_reader`] a stream, one line at a time.
//!
//! Per accepted line the work is a few scans of the line, one copy into the
//! buffer and one hash-set insert; nothing is allocated except when a name
//! is rejected (its error) or the set grows. Lines of a text are slices of
//! it, never copied; one longer than [`MAX_LINE_BYTES`] is counted invalid
//! without being looked at.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher};
use std::io::{self, BufRead};

use super::badfilter::Badfilters;
use super::hosts;
use super::line::{Line, classify};
use super::name::{self, Candidate};
use super::options::ParseOptions;
use super::reason::Reason;
use super::regex::RegexCandidate;
use super::stats::Stats;
use crate::answer::Rewrite;
use crate::domain::{DomainError, is_below};
use crate::querytypes::QueryTypes;

/// The longest line looked at (bytes, after trimming). A name is at most
/// 253 bytes; this leaves room for a hosts line with a dozen names or an
/// adblock rule with options, and keeps a list that is one huge line (a
/// minified page, a binary blob) from being scanned word by word.
pub const MAX_LINE_BYTES: usize = 4096;

/// One rule, borrowed from the parser's buffer (or the line) for the
/// duration of the callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule<'a> {
    /// The normalized name (see [`crate::domain::normalize_into`]); for a
    /// regex rule, the pattern as written.
    pub name: &'a str,
    /// The rule also covers every subdomain of `name` (never for a regex).
    pub subtree: bool,
    /// `Some` for a regex rule (a regex list's line or an adblock
    /// `/regex/`): the query types it applies to.
    pub regex: Option<QueryTypes>,
    /// The rule allows (allowlist source or adblock `@@`) rather than blocks.
    pub allow: bool,
    /// `Some` for a rule that answers the name rather than blocks or
    /// allows it (adblock `$dnsrewrite`, a hosts line of a source that
    /// answers with its addresses); `allow` is then only what the line
    /// said, and the rewrite says the rest.
    pub rewrite: Option<Rewrite>,
    /// An adblock `$important` rule: it outranks the plain rules of the
    /// other kind (see `image::lookup`, "Precedence").
    pub important: bool,
    /// The names an adblock `$denyallow` leaves out of a subtree rule (with
    /// their subdomains), normalized and `|` between them: only those
    /// strictly below `name`, each once; empty for none.
    pub denyallow: &'a str,
    /// An adblock `$client` value as written, already checked to parse
    /// ([`crate::groups::ClientScope::parse`]); empty: every client.
    pub client: &'a str,
    /// 1-based line number in the source.
    pub line: u32,
}

/// Parses `text`, calling `sink` once per accepted, non-duplicate rule, in
/// line order.
///
/// Lines are split on `\n`; a trailing `\r` and surrounding whitespace are
/// dropped. No input makes it panic; every problem is counted in the returned
/// [`Stats`] (see `stats.rs` for how lines are counted). A rule is a duplicate
/// when an earlier line of the same text gave the same name, subtree, allow
/// and importance;
/// duplicates are recognised by a 64-bit hash, so two different rules collide
/// with odds of about n²/2⁶⁵ (1 in 36 million for a million rules).
pub fn parse(text: &str, options: ParseOptions, mut sink: impl FnMut(Rule<'_>)) -> Stats {
    // List lines average 15 to 25 bytes; one slot per 32 bytes of text
    // saves most rehashing and never reserves more than the text's size.
    let seen = HashSet::with_capacity_and_hasher(text.len() / 32, BuildHasherDefault::default());
    let mut state = State::new(options, Some(seen));
    for raw in text.split_terminator('\n') {
        state.line(raw, &mut sink);
    }
    state.stats
}

/// Parses the text `reader` gives, line by line, as [`parse`] does, except
/// that duplicates are passed on: the caller drops them (the image builder
/// does, by sorting, with less memory than a set of every rule) and says how
/// many with [`Stats::found_duplicates`]. Holds one line at a time; invalid
/// UTF-8 is read as `U+FFFD`, and a byte order mark that opens the text is
/// dropped.
///
/// # Errors
///
/// A read error of `reader`; the rules passed on before it stay passed.
pub fn parse_reader(
    reader: impl BufRead,
    options: ParseOptions,
    sink: impl FnMut(Rule<'_>),
) -> io::Result<Stats> {
    parse_reader_with(reader, options, &Badfilters::new(), sink)
}

/// [`parse_reader`], skipping the rules `badfilters` cancel (counted as
/// skipped, with the reason).
///
/// # Errors
///
/// A read error of `reader`; the rules passed on before it stay passed.
pub fn parse_reader_with(
    mut reader: impl BufRead,
    options: ParseOptions,
    badfilters: &Badfilters,
    mut sink: impl FnMut(Rule<'_>),
) -> io::Result<Stats> {
    let mut state = State::new(options, None);
    state.badfilters = Some(badfilters).filter(|b| !b.is_empty());
    let mut bytes = Vec::with_capacity(256);
    let mut first = true;
    loop {
        bytes.clear();
        if reader.read_until(b'\n', &mut bytes)? == 0 {
            break;
        }
        let mut line = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        if std::mem::take(&mut first) {
            line = line.strip_prefix(UTF8_BOM).unwrap_or(line);
        }
        state.line(&String::from_utf8_lossy(line), &mut sink);
    }
    Ok(state.stats)
}

/// The UTF-8 byte order mark some editors put at the start of a file.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Everything that lives across lines.
struct State<'b> {
    options: ParseOptions,
    /// The rules `$badfilter` lines cancel, when any do.
    badfilters: Option<&'b Badfilters>,
    stats: Stats,
    /// Hashes of the rules accepted so far (see [`rule_key`]), when
    /// duplicates are dropped here.
    seen: Option<HashSet<u64, BuildHasherDefault<PassThrough>>>,
    /// The reused buffer names are normalized into.
    buf: String,
    /// The reused buffer of a rule's `$denyallow` names ([`Rule::denyallow`]).
    exempt: String,
    /// The reused buffer one `$denyallow` name is normalized into.
    one: String,
}

impl State<'_> {
    fn new(
        options: ParseOptions,
        seen: Option<HashSet<u64, BuildHasherDefault<PassThrough>>>,
    ) -> Self {
        State {
            options,
            badfilters: None,
            stats: Stats::default(),
            seen,
            buf: String::with_capacity(256),
            exempt: String::new(),
            one: String::new(),
        }
    }

    /// Takes the next line (without its `\n`).
    fn line(&mut self, raw: &str, sink: &mut impl FnMut(Rule<'_>)) {
        // More than 4 billion lines share the last number rather than wrap.
        self.stats.lines += 1;
        let number = u32::try_from(self.stats.lines).unwrap_or(u32::MAX);
        let line = raw.strip_suffix('\r').unwrap_or(raw).trim();
        if line.len() > MAX_LINE_BYTES {
            self.stats.note(number, line, &Reason::TooLong(line.len()));
            return;
        }
        if self.badfilters.is_some_and(|b| b.cancels(line)) {
            self.stats.note(number, line, &Reason::Cancelled);
            return;
        }
        let options = self.options;
        match classify(line, options) {
            Line::Comment => self.stats.comments += 1,
            Line::Issue(reason) => self.stats.note(number, line, &reason),
            Line::Rule(candidate) => self.add(candidate, number, line, sink),
            Line::Regex(candidate) => self.add_regex(candidate, "", number, sink),
            Line::Hosts(answer, words) => {
                let mut any = false;
                for word in words {
                    any = true;
                    match hosts::candidate(word, options, answer) {
                        Ok(candidate) => self.add(candidate, number, line, sink),
                        Err(reason) => self.stats.note(number, line, &reason),
                    }
                }
                if !any {
                    self.stats.note(number, line, &Reason::NoName);
                }
            }
        }
    }

    /// Normalizes a candidate and passes it on unless it is a duplicate.
    fn add(
        &mut self,
        candidate: Candidate<'_>,
        number: u32,
        line: &str,
        sink: &mut impl FnMut(Rule<'_>),
    ) {
        if let Err(reason) = name::normalize(candidate.raw, &mut self.buf) {
            self.stats.note(number, line, &reason);
            return;
        }
        if let Err(reason) = self.exemptions(&candidate) {
            self.stats.note(number, line, &reason);
            return;
        }
        if candidate.types != QueryTypes::ALL {
            // Only regex rules carry query types: the same name as one.
            let pattern = name_pattern(&self.buf, candidate.subtree);
            let regex = RegexCandidate {
                pattern: &pattern,
                types: candidate.types,
                allow: candidate.allow,
                important: candidate.important,
            };
            self.add_regex(regex, candidate.client, number, sink);
            return;
        }
        let rule = Rule {
            name: &self.buf,
            subtree: candidate.subtree,
            regex: None,
            allow: candidate.allow,
            important: candidate.important,
            denyallow: &self.exempt,
            client: candidate.client,
            rewrite: candidate.rewrite,
            line: number,
        };
        pass(&mut self.seen, &mut self.stats, rule, sink);
    }

    /// Normalizes the `$denyallow` names of `candidate`, whose name is in
    /// `buf`, into `exempt`: those strictly below the name of a subtree
    /// rule, as [`Rule::denyallow`] says; the others can leave out no name
    /// the rule covers. A top-level name is taken as written (it is no
    /// rule name of its own).
    ///
    /// # Errors
    ///
    /// [`Reason::DenyallowVoid`] when one is the rule's name or a parent of
    /// it, [`Reason::Denyallow`] when one is not a name.
    fn exemptions<'a>(&mut self, candidate: &Candidate<'a>) -> Result<(), Reason<'a>> {
        self.exempt.clear();
        for raw in candidate.denyallow.split('|').filter(|raw| !raw.is_empty()) {
            match name::normalize(raw, &mut self.one) {
                Ok(()) => {}
                Err(Reason::Domain(DomainError::SingleLabel { .. })) => {
                    let tld = self.buf.rsplit('.').next().unwrap_or("");
                    if tld.eq_ignore_ascii_case(raw.strip_suffix('.').unwrap_or(raw)) {
                        return Err(Reason::DenyallowVoid);
                    }
                    continue;
                }
                Err(_) => return Err(Reason::Denyallow(candidate.denyallow)),
            }
            if self.one == self.buf || is_below(&self.buf, &self.one) {
                return Err(Reason::DenyallowVoid);
            }
            if candidate.subtree
                && is_below(&self.one, &self.buf)
                && !self.exempt.split('|').any(|known| known == self.one)
            {
                if !self.exempt.is_empty() {
                    self.exempt.push('|');
                }
                self.exempt.push_str(&self.one);
            }
        }
        Ok(())
    }

    /// Passes a regex rule on unless it is a duplicate (same pattern, query
    /// types, allow and importance).
    fn add_regex(
        &mut self,
        candidate: RegexCandidate<'_>,
        client: &str,
        number: u32,
        sink: &mut impl FnMut(Rule<'_>),
    ) {
        let rule = Rule {
            name: candidate.pattern,
            subtree: false,
            regex: Some(candidate.types),
            allow: candidate.allow,
            important: candidate.important,
            denyallow: "",
            client,
            rewrite: None,
            line: number,
        };
        pass(&mut self.seen, &mut self.stats, rule, sink);
    }
}

/// Passes `rule` on to `sink` unless `seen` holds its [`Rule::key`]
/// already (a duplicate), counting which it was in `stats`.
fn pass(
    seen: &mut Option<HashSet<u64, BuildHasherDefault<PassThrough>>>,
    stats: &mut Stats,
    rule: Rule<'_>,
    sink: &mut impl FnMut(Rule<'_>),
) {
    if let Some(seen) = seen
        && !seen.insert(rule.key())
    {
        stats.duplicate += 1;
        return;
    }
    stats.accepted += 1;
    sink(rule);
}

/// The regex that matches the normalized `name` (and, for a subtree rule,
/// its subdomains) as the DFA sees names: lower-case text without the
/// trailing dot.
fn name_pattern(name: &str, subtree: bool) -> String {
    let mut escaped = String::with_capacity(name.len() * 2);
    for c in name.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    match subtree {
        true => format!("(^|\\.){escaped}$"),
        false => format!("^{escaped}$"),
    }
}

impl Rule<'_> {
    /// A 64-bit hash of the rule but its line, stored instead of the rule
    /// to keep memory small. `DefaultHasher::new()` has fixed keys, so
    /// results do not vary between runs.
    fn key(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        self.name.hash(&mut hasher);
        let flags =
            u8::from(self.subtree) | (u8::from(self.allow) << 1) | (u8::from(self.important) << 2);
        flags.hash(&mut hasher);
        self.denyallow.hash(&mut hasher);
        self.regex.hash(&mut hasher);
        self.client.hash(&mut hasher);
        self.rewrite.hash(&mut hasher);
        hasher.finish()
    }
}

/// A hasher for keys that are already hashes: it passes the `u64` through.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by `HashSet<u64>`; fold anything else.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::{Format, IssueKind};

    /// Parses with `options` and returns the rules as owned tuples.
    fn rules_with(text: &str, options: ParseOptions) -> (Vec<(String, bool, bool, u32)>, Stats) {
        let mut rules = Vec::new();
        let stats = parse(text, options, |rule| {
            rules.push((rule.name.to_owned(), rule.subtree, rule.allow, rule.line));
        });
        (rules, stats)
    }

    fn rules(text: &str) -> (Vec<(String, bool, bool, u32)>, Stats) {
        rules_with(text, ParseOptions::default())
    }

    fn names(text: &str) -> Vec<String> {
        rules(text).0.into_iter().map(|rule| rule.0).collect()
    }

    /// `parse_reader`'s rules, with its duplicates dropped as a caller does.
    fn read(bytes: &[u8]) -> (Vec<(String, bool, bool, u32)>, Stats) {
        let (mut rules, mut seen) = (Vec::new(), HashSet::new());
        let mut stats = parse_reader(bytes, ParseOptions::default(), |rule| {
            rules.push((rule.name.to_owned(), rule.subtree, rule.allow, rule.line));
        })
        .unwrap();
        let before = rules.len();
        rules.retain(|rule| seen.insert((rule.0.clone(), rule.1, rule.2)));
        stats.found_duplicates((before - rules.len()) as u64);
        (rules, stats)
    }

    #[test]
    fn a_stream_reads_as_the_same_text_in_memory() {
        let text = "# hi\r\n0.0.0.0 a.example b.example\r\nb.example\n||c.example^\n\
                    a.example\nbad..name\n\n@@||d.example^\nlast.example";
        assert_eq!(read(text.as_bytes()), rules(text));
    }

    #[test]
    fn a_stream_drops_an_opening_bom_and_reads_invalid_utf8_as_replacement() {
        let (found, stats) = read(b"\xEF\xBB\xBFa.example\nb\xFF.example\n");
        assert_eq!(found, [("a.example".to_owned(), false, false, 1)]);
        assert_eq!((stats.lines, stats.invalid), (2, 1));
    }

    #[test]
    fn real_lists_read_the_same_from_a_stream() {
        let data = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"));
        if !data.is_dir() {
            println!("skipped: {} is absent", data.display());
            return;
        }
        for file in ["hosts/adaway.hosts.txt", "adblock/adguard-dns-filter.txt"] {
            let bytes = std::fs::read(data.join(file)).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert_eq!(read(&bytes), rules(&text), "{file}");
        }
    }

    #[test]
    fn crlf_is_ignored() {
        let (found, stats) = rules("# hi\r\n0.0.0.0 a.example\r\nb.example\r\n||c.example^\r\n");
        assert_eq!(
            found,
            [
                ("a.example".to_owned(), false, false, 2),
                ("b.example".to_owned(), false, false, 3),
                ("c.example".to_owned(), true, false, 4),
            ]
        );
        assert_eq!((stats.lines, stats.comments, stats.invalid), (4, 1, 0));
    }

    #[test]
    fn missing_final_newline_still_counts_the_last_line() {
        let stats = parse("a.example\nb.example", ParseOptions::default(), |_| {});
        assert_eq!((stats.lines, stats.accepted), (2, 2));
        assert_eq!(parse("", ParseOptions::default(), |_| {}).lines, 0);
    }

    #[test]
    fn hosts_line_with_tabs_and_inline_comment_yields_each_name() {
        let (found, stats) = rules("127.0.0.1\tOne.example\t two.example # trackers\n");
        assert_eq!(
            found,
            [
                ("one.example".to_owned(), false, false, 1),
                ("two.example".to_owned(), false, false, 1),
            ]
        );
        assert_eq!(stats.accepted, 2);
        assert_eq!(stats.lines, 1);
    }

    #[test]
    fn hosts_line_counts_each_name_and_keeps_the_good_ones() {
        let (found, stats) =
            parse_counts("0.0.0.0 good.example localhost bad!.example good.example\n");
        assert_eq!(found, ["good.example"]);
        assert_eq!(
            (
                stats.accepted,
                stats.skipped,
                stats.invalid,
                stats.duplicate
            ),
            (1, 1, 1, 1)
        );
    }

    fn parse_counts(text: &str) -> (Vec<String>, Stats) {
        let (found, stats) = rules(text);
        (found.into_iter().map(|rule| rule.0).collect(), stats)
    }

    #[test]
    fn hosts_line_without_a_name_is_invalid() {
        let stats = parse(
            "0.0.0.0   # nothing here\n",
            ParseOptions::default(),
            |_| {},
        );
        assert_eq!(stats.invalid, 1);
    }

    #[test]
    fn localhost_never_becomes_a_rule() {
        let text = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n\
                    255.255.255.255 broadcasthost\n127.0.0.1 localhost.localdomain\n\
                    0.0.0.0 0.0.0.0\nlocalhost\n";
        let (found, stats) = rules(text);
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(stats.skipped, 8);
        assert_eq!(stats.examples[0].kind, IssueKind::Skipped);
    }

    #[test]
    fn single_label_host_is_skipped() {
        let stats = parse("0.0.0.0 ads\n", ParseOptions::default(), |_| {});
        assert_eq!(stats.skipped, 1);
    }

    #[test]
    fn unicode_name_becomes_punycode() {
        assert_eq!(names("||банрек.рус^\n"), ["xn--80abnuns.xn--p1acf"]);
    }

    #[test]
    fn trailing_dot_name_is_accepted_without_the_dot() {
        assert_eq!(names("||adsjudo.com.^\n"), ["adsjudo.com"]);
    }

    #[test]
    fn label_of_64_bytes_is_invalid() {
        let stats = parse(
            &format!("{}.example\n", "a".repeat(64)),
            ParseOptions::default(),
            |_| {},
        );
        assert_eq!(stats.invalid, 1);
        assert!(stats.examples[0].reason.contains("64 bytes long"));
    }

    #[test]
    fn replacement_character_makes_a_line_invalid() {
        let stats = parse("bad\u{FFFD}name.example\n", ParseOptions::default(), |_| {});
        assert_eq!(stats.invalid, 1);
    }

    #[test]
    fn ip_literal_rules_are_skipped() {
        let stats = parse(
            "||88.85.75.147^\n88.85.75.147\n0.0.0.0 10.0.0.1\n",
            ParseOptions::default(),
            |_| {},
        );
        assert_eq!((stats.skipped, stats.accepted), (3, 0));
    }

    #[test]
    fn star_dot_prefix_is_a_subtree_rule_and_inner_star_is_skipped() {
        let (found, stats) = rules("*.example.com\nkinesis.*.amazonaws.com\n");
        assert_eq!(found, [("example.com".to_owned(), true, false, 1)]);
        assert_eq!(stats.skipped, 1);
    }

    #[test]
    fn duplicates_are_counted_and_not_passed_on() {
        let (found, stats) =
            rules("a.example\nA.example.\n||a.example^\n@@||a.example^\n0.0.0.0 a.example\n");
        assert_eq!(found.len(), 3);
        assert_eq!((stats.accepted, stats.duplicate), (3, 2));
    }

    #[test]
    fn allowlist_makes_every_rule_an_allow() {
        let options = ParseOptions {
            allow: true,
            ..ParseOptions::default()
        };
        let (found, _) = rules_with("a.example\n||b.example^\n0.0.0.0 c.example\n", options);
        assert!(found.iter().all(|rule| rule.2), "{found:?}");
    }

    #[test]
    fn exception_is_an_allow_in_a_blocklist() {
        assert_eq!(
            rules("@@||a.example^\n").0,
            [("a.example".to_owned(), true, true, 1)]
        );
    }

    #[test]
    fn subdomains_option_applies_to_plain_and_hosts_entries_only() {
        let options = ParseOptions {
            subdomains: true,
            ..ParseOptions::default()
        };
        let (found, _) = rules_with("a.example\n0.0.0.0 b.example\n://c.example^\n", options);
        let subtree: Vec<bool> = found.iter().map(|rule| rule.1).collect();
        assert_eq!(subtree, [true, true, false]);
    }

    #[test]
    fn adblock_path_rule_is_skipped() {
        let stats = parse(
            "||zoda.ru/\n||websurf.ru/?\n",
            ParseOptions::default(),
            |_| {},
        );
        assert_eq!(stats.skipped, 2);
        assert!(stats.examples[0].reason.contains("URL path"));
    }

    #[test]
    fn html_line_is_invalid_with_its_text_kept() {
        let line = r#"  <link rel="dns-prefetch" href="https://ads.example.com">"#;
        let stats = parse(line, ParseOptions::default(), |_| {});
        assert_eq!(stats.invalid, 1);
        assert_eq!(stats.examples[0].reason, "HTML markup, not a rule");
        assert_eq!(stats.examples[0].text, line.trim());
    }

    #[test]
    fn overlong_line_is_invalid_and_the_next_line_still_counts() {
        let long = format!("0.0.0.0 {}\nok.example\n", "a.example ".repeat(1000));
        let (found, stats) = rules(&long);
        assert_eq!(found, [("ok.example".to_owned(), false, false, 2)]);
        assert_eq!((stats.lines, stats.invalid, stats.accepted), (2, 1, 1));
        assert!(stats.examples[0].reason.contains("10007 bytes long"));
        assert_eq!(stats.examples[0].text.len(), 80);
        let edge = format!("{}.example", "a".repeat(MAX_LINE_BYTES - 8));
        assert_eq!(edge.len(), MAX_LINE_BYTES);
        let stats = parse(&edge, ParseOptions::default(), |_| {});
        assert_eq!(stats.invalid, 1);
        assert!(!stats.examples[0].reason.contains("a rule may take"));
    }

    #[test]
    fn csv_row_is_invalid() {
        let stats = parse("1,google.com\n", ParseOptions::default(), |_| {});
        assert_eq!(stats.invalid, 1);
    }

    #[test]
    fn explicit_format_counts_other_syntax_as_invalid() {
        let options = ParseOptions {
            format: Format::Hosts,
            ..ParseOptions::default()
        };
        let stats = parse(
            "0.0.0.0 a.example\nb.example\n||c.example^\n",
            options,
            |_| {},
        );
        assert_eq!((stats.accepted, stats.invalid), (1, 2));
    }

    #[test]
    fn a_regex_list_yields_regex_rules_with_their_lines_and_counts() {
        let options = ParseOptions {
            format: Format::Regex,
            ..ParseOptions::default()
        };
        let text = "# Pi-hole regex\n^ad[0-9]*\\.\n\n^ad[0-9]*\\.\n(x\nabc;invert\n\
                    tiktok;querytype=A\n";
        let mut found = Vec::new();
        let stats = parse(text, options, |rule| {
            found.push((rule.name.to_owned(), rule.regex, rule.line));
        });
        let a = QueryTypes::parse("A").unwrap();
        assert_eq!(
            found,
            [
                ("^ad[0-9]*\\.".to_owned(), Some(QueryTypes::ALL), 2),
                ("tiktok".to_owned(), Some(a), 7),
            ]
        );
        assert_eq!(
            (
                stats.accepted,
                stats.duplicate,
                stats.skipped,
                stats.invalid
            ),
            (2, 1, 1, 1)
        );
        assert_eq!(stats.comments, 2);
        assert_eq!((stats.examples[0].line, stats.examples[1].line), (5, 6));
    }

    #[test]
    fn a_regex_and_a_name_of_the_same_text_are_no_duplicates() {
        let (found, stats) = rules("/a\\.example/\na.example\n/a\\.example/\n");
        assert_eq!(found.len(), 2);
        assert_eq!(stats.duplicate, 1);
    }

    #[test]
    fn rules_that_differ_in_client_are_no_duplicates() {
        let mut found = Vec::new();
        let stats = parse(
            "||x.org^\n||x.org^$client=10.0.0.1\n||x.org^$client=tv\n||x.org^$client=10.0.0.1\n\
             ||x.org^$client=10.0.0.1|tv\n",
            ParseOptions::default(),
            |rule| found.push(rule.client.to_owned()),
        );
        assert_eq!(found, ["", "10.0.0.1", "tv", "10.0.0.1|tv"]);
        assert_eq!(stats.duplicate, 1);
    }

    /// (name, subtree, denyallow) of each rule of `text`, and the stats.
    fn denyallow_rules(text: &str) -> (Vec<(String, bool, String)>, Stats) {
        let mut found = Vec::new();
        let stats = parse(text, ParseOptions::default(), |rule| {
            found.push((
                rule.name.to_owned(),
                rule.subtree,
                rule.denyallow.to_owned(),
            ))
        });
        (found, stats)
    }

    #[test]
    fn denyallow_keeps_the_normalized_names_below_the_rule() {
        let (found, stats) = denyallow_rules(
            "||Example.org^$denyallow=A.example.org|b.Example.org.|other.net|a.example.org\n\
             |example.org^$denyallow=a.example.org\n\
             ||example.net^$denyallow=other.org\n",
        );
        assert_eq!(
            found,
            [
                (
                    "example.org".to_owned(),
                    true,
                    "a.example.org|b.example.org".to_owned()
                ),
                ("example.org".to_owned(), false, String::new()),
                ("example.net".to_owned(), true, String::new()),
            ]
        );
        assert_eq!(stats.accepted, 3);
    }

    #[test]
    fn denyallow_of_the_name_or_a_parent_leaves_no_rule() {
        let (found, stats) = denyallow_rules(
            "||ads.example.org^$denyallow=example.org\n||ads.example.org^$denyallow=ads.example.org\n\
             ||ads.example.org^$denyallow=org\n||ads.example.org^$denyallow=com\n\
             ||ads.example.org^$denyallow=bad!name.org\n",
        );
        assert_eq!(found, [("ads.example.org".to_owned(), true, String::new())]);
        assert_eq!((stats.skipped, stats.invalid), (3, 1));
        assert!(
            stats.examples[0].reason.contains("covers no name"),
            "{:?}",
            stats.examples[0]
        );
    }

    #[test]
    fn rules_that_differ_in_denyallow_are_no_duplicates() {
        let (found, stats) = denyallow_rules(
            "||x.org^$denyallow=a.x.org\n||x.org^$denyallow=b.x.org\n||x.org^$denyallow=a.x.org\n",
        );
        assert_eq!(found.len(), 2);
        assert_eq!(stats.duplicate, 1);
    }

    #[test]
    fn an_important_rule_is_no_duplicate_of_the_plain_one() {
        let mut found = Vec::new();
        let text = "||a.example^\n||a.example^$important\n/a/\n/a/$important\n\
                    ||a.example^$important\n";
        let stats = parse(text, ParseOptions::default(), |rule| {
            found.push((rule.name.to_owned(), rule.important, rule.line));
        });
        assert_eq!(
            found,
            [
                ("a.example".to_owned(), false, 1),
                ("a.example".to_owned(), true, 2),
                ("a".to_owned(), false, 3),
                ("a".to_owned(), true, 4),
            ]
        );
        assert_eq!(stats.duplicate, 1);
    }

    #[test]
    fn summary_reports_the_counts() {
        let stats = parse(
            "a.example\na.example\n||x.com^$popup\n<p>\n# c\n",
            ParseOptions::default(),
            |_| {},
        );
        assert_eq!(
            stats.summary(),
            "1 accepted, 1 duplicate, 1 skipped, 1 invalid"
        );
        assert_eq!(stats.comments, 1);
    }

    #[test]
    fn a_dnstype_rule_becomes_a_regex_rule_on_its_name() {
        let mut rules = Vec::new();
        let options = ParseOptions::default();
        let text = "||Ads.Example.com^$dnstype=AAAA\n|exact-host.example^$dnstype=~A\n";
        let stats = parse(text, options, |rule| {
            rules.push((rule.name.to_owned(), rule.regex, rule.allow, rule.line))
        });
        assert_eq!(stats.accepted, 2);
        assert_eq!(
            rules,
            [
                (
                    "(^|\\.)ads\\.example\\.com$".to_owned(),
                    Some(QueryTypes::parse("AAAA").unwrap()),
                    false,
                    1
                ),
                (
                    "^exact\\-host\\.example$".to_owned(),
                    Some(QueryTypes::parse("!A").unwrap()),
                    false,
                    2
                ),
            ]
        );
    }
}
