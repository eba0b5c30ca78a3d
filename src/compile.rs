//! List texts → image: parses every `[[lists]]` and `[[allowlists]]` text
//! with [`crate::lists`] and compiles one [`crate::image`], reporting per
//! source what it yielded and, against the image serving before, what it
//! adds and removes. A source without text (a missing file, a download that
//! failed with no last good copy) is reported and contributes nothing; a bad
//! line is counted and reported with its source and line number, never fatal.
//! The rules are capped ([`Caps`]): per list, and over all lists; rules past
//! a cap are left out, counted in the report and warned about, so a
//! runaway list cannot take the updater's memory.
//!
//! Regex rules (a `format = "regex"` list, an adblock `/regex/`) go to the
//! image builder apart, which checks each one alone; once every list is
//! read, all of them are compiled into the image's one DFA
//! ([`ImageBuilder::compile_regexes`]). A regex refused at either step —
//! its state machine too big alone, or no room left in the DFA of all —
//! is counted as skipped in its list's report, with its line, before the
//! reports are logged; the other rules are unaffected. When the image
//! serving before holds the same patterns, its DFA is taken over instead
//! of built again.
//!
//! Custom answers (`$dnsrewrite` rules, and hosts lines of a source with
//! `hosts_addresses = "answer"`) go to the builder apart as well
//! ([`ImageBuilder::add_rewrite`]), each with its list and line; they are
//! not rules on names and take no part in the caps but their own
//! ([`MAX_ANSWERS`](crate::image::MAX_ANSWERS) an image).
//! An adblock `$client` rule goes to a `$client` list derived from its
//! own (the same name, groups and schedule; one per distinct scope), whose
//! scope the image records ([`ImageBuilder::set_scope`]); the server tells
//! per client which of them apply (`resolve::scope`). A device name that
//! no `[[clients]]` entry has is kept (it names nobody, as in AdGuard
//! Home) and reported, so a typo does not pass unseen.
//!
//! The compile streams: each text is read one line at a time from its file
//! ([`ListText`]), each rule becomes 16 bytes in the builder, and a list's
//! duplicates and its rules past a cap are dropped by sorting its rules when
//! the list ends ([`ImageBuilder::settle`]). The image serving before is
//! asked one hash probe per rule and dropped before the new image is
//! written. For a million names that is some 25 MB at the peak, where
//! holding the texts, a set of every rule and both images took 80 MB
//! (`benches/README.md`, "Updater memory").

use std::collections::HashMap;

use tracing::{info, warn};

use crate::config::{self, Config, ListSource};
use crate::groups::ClientScope;
use crate::image::{Image, ImageBuilder, ImageBytes, ListId, MAX_LISTS, name_hash};
use crate::lists::{self, Badfilters, Stats};
use crate::sources::{ListText, LocalError};

/// How many added names a report keeps as examples.
const EXAMPLES: usize = 3;

/// How many rules the lists may add (`[update] max_list_entries` and
/// `max_entries`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    /// Rules one list may add.
    pub per_list: u64,
    /// Rules all lists together may add.
    pub total: u64,
}

impl Caps {
    /// The caps of `[update]`.
    pub fn of(update: &config::Update) -> Caps {
        Caps {
            per_list: update.max_list_entries,
            total: update.max_entries,
        }
    }
}

/// Why a source has no text this time.
#[derive(Debug, thiserror::Error)]
pub enum NoText {
    /// The download failed with no last good copy, or the file was unusable.
    #[error(transparent)]
    Source(#[from] crate::sources::Error),
    /// The local file could not be read.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: LocalError,
    },
    /// The text could not be read while it was compiled.
    #[error("reading it failed part way: {0}")]
    Read(LocalError),
    /// A downloaded list, which `ralo serve --check` does not fetch.
    #[error("a downloaded list: `ralo update` fetches it")]
    NotLocal,
    /// The source names neither a path nor a URL.
    #[error("the list has no `path` or `url`")]
    Nowhere,
}

/// A source's text, or why there is none.
pub type Text = Result<ListText, NoText>;

/// One source and its text, ready to compile.
#[derive(Debug)]
pub struct Loaded<'a> {
    /// The configured source.
    pub source: &'a ListSource,
    /// An allowlist.
    pub allow: bool,
    /// The groups it applies to (bit `g` for group `g` of the
    /// [`Audience`]).
    pub groups: u64,
    /// Its text, or why there is none.
    pub text: Result<&'a ListText, &'a NoText>,
}

/// Who the lists are for: the groups, `default` first, and the ways to
/// recognise devices, as the config resolves them.
#[derive(Clone, Debug)]
pub struct Audience {
    /// Group names; the position is the group id.
    pub groups: Vec<String>,
    /// Every device id with its groups and name.
    pub clients: Vec<config::ClientEntry>,
}

impl Audience {
    /// The groups and devices of `config`.
    pub fn of(config: &Config) -> Audience {
        Audience {
            groups: config
                .group_names()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            clients: config.client_ids(),
        }
    }
}

impl Default for Audience {
    /// Only `default`, and no devices.
    fn default() -> Audience {
        Audience {
            groups: vec![config::DEFAULT_GROUP.to_owned()],
            clients: Vec::new(),
        }
    }
}

/// What one source yielded.
#[derive(Debug)]
pub struct SourceReport {
    /// The list's config name.
    pub name: String,
    /// Parse counts; `None` when there was no text.
    pub stats: Option<Stats>,
    /// Why there was no text.
    pub error: Option<String>,
    /// Rules not in the previous image.
    pub added: u64,
    /// Rules of this list in the previous image that are gone.
    pub removed: u64,
    /// A few added names.
    pub added_examples: Vec<String>,
    /// Rules left out because a cap was reached.
    pub capped: u64,
    /// The config key of the cap that was reached first, if one was.
    pub capped_by: Option<&'static str>,
    /// Device names of `$client` rules that no `[[clients]]` entry has
    /// (their rules reach nobody, or, with `~`, everybody).
    pub unknown_clients: Vec<String>,
    /// `$client` rules left out: the image had no room for another list.
    pub scopes_left_out: u64,
}

/// The compiled image and a report per source.
#[derive(Debug)]
pub struct Compiled {
    /// The image bytes.
    pub image: Vec<u8>,
    /// Rules in the image (after merging duplicates across lists).
    pub rules: usize,
    /// One report per source, block lists first.
    pub reports: Vec<SourceReport>,
}

/// Reads the local files of `config` (a missing one contributes nothing)
/// and compiles them: what `ralo serve --check` and tests use. The updater
/// loads sources itself (downloads, last good copies) and calls [`compile`].
pub fn compile_local(config: &Config, generation: u64) -> Compiled {
    let max_bytes = config.update.max_bytes();
    let texts: Vec<(&ListSource, bool, Text)> = sources(config)
        .map(|(source, allow)| {
            let text = match source.resolved_path(&config.base_dir) {
                Some(path) => match crate::sources::open_list_file(&path, max_bytes) {
                    Ok(_) => Ok(ListText::file(path, max_bytes)),
                    Err(source) => Err(NoText::File { path, source }),
                },
                None => Err(NoText::NotLocal),
            };
            (source, allow, text)
        })
        .collect();
    let loaded = borrow(config, &texts);
    let audience = Audience::of(config);
    compile::<Vec<u8>>(
        &loaded,
        &audience,
        None,
        generation,
        Caps::of(&config.update),
    )
}

/// Sources of `config` with their texts (or why there is none), as
/// [`Loaded`] items.
pub fn borrow<'a, S: std::borrow::Borrow<ListSource>>(
    config: &Config,
    texts: &'a [(S, bool, Text)],
) -> Vec<Loaded<'a>> {
    texts
        .iter()
        .map(|(source, allow, text)| Loaded {
            source: source.borrow(),
            allow: *allow,
            groups: config.list_groups(source.borrow()),
            text: text.as_ref(),
        })
        .collect()
}

/// The enabled sources, block lists first, each with its allow flag.
pub fn sources(config: &Config) -> impl Iterator<Item = (&ListSource, bool)> {
    let blocks = config.lists.iter().map(|s| (s, false));
    let all = blocks.chain(config.allowlists.iter().map(|s| (s, true)));
    all.filter(|(source, _)| source.enabled)
}

/// Compiles `loaded` into an image with `generation`, logging one line per
/// source; `previous` (the image serving now) is compared for the report,
/// and dropped before the new image is written. At most `caps` rules are
/// taken, in list and line order.
pub fn compile<B: ImageBytes>(
    loaded: &[Loaded<'_>],
    audience: &Audience,
    previous: Option<Image<B>>,
    generation: u64,
    caps: Caps,
) -> Compiled {
    let mut builder = ImageBuilder::new();
    for group in audience.groups.iter().skip(1) {
        // The config allows no more groups than an image holds.
        let _ = builder.add_group(group);
    }
    for entry in &audience.clients {
        builder.add_client(entry.id.clone(), entry.groups, entry.client.as_deref());
    }
    let badfilters = badfilters(loaded);
    if !badfilters.is_empty() {
        info!(
            rules = badfilters.len(),
            "$badfilter rules cancel rules in every list"
        );
    }
    let mut reports = Vec::with_capacity(loaded.len());
    let mut taken = 0u64;
    // Per list id, the report it files under.
    let mut report_of = Vec::new();
    for item in loaded {
        let (report, list) = add(
            &mut builder,
            item,
            previous.as_ref(),
            caps,
            &badfilters,
            audience,
            &mut taken,
        );
        if list.is_some() {
            // The list and its `$client` lists.
            report_of.resize(builder.list_count(), reports.len());
        }
        reports.push(report);
    }
    let refused = builder.compile_regexes_after(previous.as_ref());
    drop(previous);
    if !refused.is_empty() {
        warn!(
            regexes = refused.len(),
            "the regex rules of all lists need a state machine past the image's cap; the last ones are left out"
        );
    }
    for regex in refused {
        let report = report_of.get(usize::from(regex.list)).copied();
        if let Some(stats) = report.and_then(|r| reports[r].stats.as_mut()) {
            stats.refused(regex.line, &regex.pattern, &regex.error);
        }
    }
    for (report, item) in reports.iter().zip(loaded) {
        log(report, item.allow);
    }
    let rules = builder.len();
    let crowded = builder.crowded();
    if crowded > 0 {
        warn!(
            rules = crowded,
            "more combinations of lists share rules than an image can tell apart; these rules are attributed to their first list alone, for its groups"
        );
    }
    let left_out = builder.denyallow_left_out();
    if left_out > 0 {
        warn!(
            rules = left_out,
            limit = crate::image::MAX_GUARDS,
            "more `$denyallow` rules lie on one name and its parents than the image holds; the deepest are left out"
        );
    }
    Compiled {
        image: builder.build(generation),
        rules,
        reports,
    }
}

/// The rules the `$badfilter` lines of every list's text cancel: each text
/// read once more, before the compile (a list that cannot be read adds
/// none; its error is reported when it is compiled).
fn badfilters(loaded: &[Loaded<'_>]) -> Badfilters {
    let mut badfilters = Badfilters::new();
    for item in loaded {
        if let Ok(Ok(reader)) = item.text.map(ListText::reader)
            && let Err(error) = badfilters.scan(reader)
        {
            warn!(list = %item.source.name, %error, "reading the list for $badfilter rules failed part way");
        }
    }
    badfilters
}

/// Adds one source's rules, but those `badfilters` cancel; `taken` counts
/// the rules of every list so far. The list's id, when it has a text.
fn add<B: ImageBytes>(
    builder: &mut ImageBuilder,
    item: &Loaded<'_>,
    previous: Option<&Image<B>>,
    caps: Caps,
    badfilters: &Badfilters,
    audience: &Audience,
    taken: &mut u64,
) -> (SourceReport, Option<ListId>) {
    let mut report = SourceReport {
        name: item.source.name.clone(),
        stats: None,
        error: None,
        added: 0,
        removed: 0,
        added_examples: Vec::new(),
        capped: 0,
        capped_by: None,
        unknown_clients: Vec::new(),
        scopes_left_out: 0,
    };
    let unread = |report: &mut SourceReport, error: &dyn std::fmt::Display| {
        report.error = Some(error.to_string());
        report.removed = previous_count(previous, &item.source.name);
    };
    let reader = match item.text.map(ListText::reader) {
        Ok(Ok(reader)) => reader,
        Ok(Err(error)) => {
            unread(&mut report, &NoText::Read(error));
            return (report, None);
        }
        Err(error) => {
            unread(&mut report, error);
            return (report, None);
        }
    };
    let list = builder.add_list(&item.source.name, item.allow);
    builder.set_policy(list, item.groups, item.source.schedule.windows());
    let mark = builder.mark();
    let options = item.source.parse_options(item.allow);
    let (mut refused, mut regex_copies, mut no_room) = (Vec::new(), 0u64, 0u64);
    // The `$client` lists of this list, by scope.
    let mut scoped: HashMap<ClientScope, ListId> = HashMap::new();
    let parsed = lists::parse_reader_with(reader, options, badfilters, |rule| {
        let list = match rule.client {
            "" => list,
            value => {
                let unknown = &mut report.unknown_clients;
                match client_list(builder, item, audience, &mut scoped, value, unknown) {
                    Some(id) => id,
                    None => {
                        report.scopes_left_out += 1;
                        return;
                    }
                }
            }
        };
        if let Some(rewrite) = rule.rewrite {
            if !builder.add_rewrite(list, rule.name, rule.subtree, rewrite, rule.line) {
                no_room += 1;
            }
            return;
        }
        if let Some(types) = rule.regex {
            let (allow, important) = (rule.allow, rule.important);
            match builder.add_regex_with(list, rule.name, allow, important, types, rule.line) {
                Ok(true) => {}
                Ok(false) => regex_copies += 1,
                Err(error) => refused.push((rule.line, rule.name.to_owned(), error)),
            }
            return;
        }
        match rule.denyallow {
            "" => builder.add_rule_with(list, rule.name, rule.subtree, rule.allow, rule.important),
            exempt => {
                let kind = (rule.allow, rule.important);
                builder.add_denyallow_rule(list, rule.name, kind, exempt.split('|'));
            }
        }
        let Some(previous) = previous else { return };
        if report.added_examples.len() < EXAMPLES
            && !previous.has_rule(name_hash(rule.name), rule.allow)
            && !report.added_examples.iter().any(|n| n == rule.name)
        {
            report.added_examples.push(rule.name.to_owned());
        }
    });
    let mut stats = match parsed {
        Ok(stats) => stats,
        Err(error) => {
            builder.discard(mark);
            builder.discard_regexes(list);
            builder.discard_rewrites(list);
            builder.discard_denyallow(list);
            report.added_examples.clear();
            unread(&mut report, &NoText::Read(LocalError::Io(error)));
            return (report, Some(list));
        }
    };
    stats.found_duplicates(regex_copies);
    if no_room > 0 {
        warn!(
            list = %item.source.name,
            rules = no_room,
            max = crate::image::MAX_ANSWERS,
            "an image holds no more custom answers ($dnsrewrite, hosts addresses); these are left out"
        );
    }
    for (line, pattern, error) in refused {
        stats.refused(line, &pattern, &error);
    }
    let room = caps.total.saturating_sub(*taken);
    let settled = builder.settle(mark, caps.per_list.min(room));
    stats.found_duplicates(settled.duplicates);
    if settled.left_out > 0 {
        report.capped = settled.left_out;
        report.capped_by = Some(if caps.per_list <= room {
            "update.max_list_entries"
        } else {
            "update.max_entries"
        });
        // An example may have been left out with the rest.
        let kept: Vec<u64> = builder.rules_since(mark).map(|(hash, _)| hash).collect();
        report
            .added_examples
            .retain(|name| kept.contains(&name_hash(name)));
    }
    *taken += settled.kept;
    if let Some(previous) = previous {
        let had = builder
            .rules_since(mark)
            .filter(|&(hash, allow)| previous.has_rule(hash, allow))
            .count() as u64;
        report.added = settled.kept - had;
        report.removed = previous_count(Some(previous), &item.source.name).saturating_sub(had);
    }
    report.stats = Some(stats);
    (report, Some(list))
}

/// The `$client` list of `item` for the `$client` value `value`: the one
/// made for that scope before, else a new one with the list's name, groups
/// and schedule, whose device names that no `[[clients]]` entry has join
/// `unknown`. `None` when the image has no room for another list (or the
/// value does not parse, which the parser rules out).
fn client_list(
    builder: &mut ImageBuilder,
    item: &Loaded<'_>,
    audience: &Audience,
    scoped: &mut HashMap<ClientScope, ListId>,
    value: &str,
    unknown: &mut Vec<String>,
) -> Option<ListId> {
    let scope = ClientScope::parse(value).ok()?;
    if let Some(&id) = scoped.get(&scope) {
        return Some(id);
    }
    if builder.list_count() >= MAX_LISTS {
        return None;
    }
    for name in scope.devices() {
        let known = audience
            .clients
            .iter()
            .any(|c| c.client.as_deref() == Some(name));
        if !known && !unknown.iter().any(|n| n == name) {
            unknown.push(name.to_owned());
        }
    }
    let id = builder.add_list(&item.source.name, item.allow);
    builder.set_policy(id, item.groups, item.source.schedule.windows());
    builder.set_scope(id, scope.clone());
    scoped.insert(scope, id);
    Some(id)
}

/// Rules the previous image attributes to the list called `name` (and
/// its `$client` lists).
fn previous_count<B: ImageBytes>(previous: Option<&Image<B>>, name: &str) -> u64 {
    let Some(image) = previous else { return 0 };
    (0..image.list_count())
        .filter_map(|i| u16::try_from(i).ok())
        .filter(|&id| image.list_name(id) == Some(name))
        .filter_map(|id| image.list_rule_count(id))
        .sum()
}

fn log(report: &SourceReport, allow: bool) {
    let name = &report.name;
    match (&report.stats, &report.error) {
        (Some(stats), _) => {
            info!(list = %name, allow, counts = %stats.summary(), added = report.added, removed = report.removed, examples = ?report.added_examples, "list compiled");
            if !report.unknown_clients.is_empty() {
                warn!(list = %name, devices = ?report.unknown_clients, "`$client` rules name devices that no [[clients]] entry has: such a rule is for nobody (with `~`, for everybody); check the names");
            }
            if report.scopes_left_out > 0 {
                warn!(list = %name, rules = report.scopes_left_out, "`$client` rules need more lists than an image holds; these are left out");
            }
            if let Some(key) = report.capped_by {
                warn!(list = %name, left_out = report.capped, "list has more rules than {key} allows; the rest of it is left out (raise it if the machine has memory to spare)");
            }
            for issue in &stats.examples {
                info!(list = %name, line = issue.line, reason = %issue.reason, text = %issue.text, "list line not used");
            }
        }
        (None, Some(error)) => {
            warn!(list = %name, %error, "list has no text; it contributes no rules")
        }
        (None, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Verdict;

    fn embedded() -> Config {
        Config::embedded().expect("the embedded config loads")
    }

    fn source(name: &str) -> ListSource {
        ListSource {
            name: name.into(),
            path: Some(format!("{name}.txt").into()),
            url: None,
            allow_http: false,
            household: false,
            format: lists::Format::Auto,
            subdomains: false,
            hosts_addresses: config::HostsAddresses::Block,
            enabled: true,
            comment: None,
            groups: vec!["default".to_owned()],
            schedule: crate::groups::Schedule::always(),
        }
    }

    fn names(prefix: &str, n: usize) -> String {
        (0..n).map(|i| format!("{prefix}{i}.example\n")).collect()
    }

    fn compile_with(texts: &[(&ListSource, &str)], caps: Caps) -> Compiled {
        let texts: Vec<(ListSource, bool, Text)> = texts
            .iter()
            .map(|(source, text)| ((*source).clone(), false, Ok(ListText::from(*text))))
            .collect();
        compile::<Vec<u8>>(
            &borrow(&embedded(), &texts),
            &Audience::default(),
            None,
            1,
            caps,
        )
    }

    #[test]
    fn a_list_past_its_cap_keeps_its_first_rules_and_reports_the_rest() {
        let (a, b) = (source("a"), source("b"));
        let (text_a, text_b) = (names("a", 10), names("b", 3));
        let caps = Caps {
            per_list: 4,
            total: 100,
        };
        let compiled = compile_with(&[(&a, &text_a), (&b, &text_b)], caps);
        assert_eq!(compiled.rules, 7);
        let report = &compiled.reports[0];
        assert_eq!(
            (report.capped, report.capped_by),
            (6, Some("update.max_list_entries"))
        );
        assert_eq!(report.stats.as_ref().unwrap().accepted, 10);
        assert_eq!(
            (compiled.reports[1].capped, compiled.reports[1].capped_by),
            (0, None)
        );
        let image = Image::open(compiled.image).unwrap();
        assert!(matches!(image.lookup("a3.example"), Verdict::Blocked(_)));
        assert!(matches!(image.lookup("a4.example"), Verdict::NotListed));
        assert!(matches!(image.lookup("b2.example"), Verdict::Blocked(_)));
    }

    #[test]
    fn the_total_cap_leaves_out_later_lists() {
        let (a, b) = (source("a"), source("b"));
        let (text_a, text_b) = (names("a", 5), names("b", 5));
        let caps = Caps {
            per_list: 100,
            total: 7,
        };
        let compiled = compile_with(&[(&a, &text_a), (&b, &text_b)], caps);
        assert_eq!(compiled.rules, 7);
        assert_eq!(compiled.reports[0].capped, 0);
        let report = &compiled.reports[1];
        assert_eq!(
            (report.capped, report.capped_by),
            (3, Some("update.max_entries"))
        );
    }

    #[test]
    fn the_report_counts_what_a_list_adds_and_removes_against_the_image_before() {
        let a = source("a");
        let before = compile_with(
            &[(&a, "kept.example\ngone.example\n||sub.example^\n")],
            big(),
        );
        let previous = Image::open(before.image).unwrap();
        // A duplicate of an added name, a name kept in subtree form, and
        // three more added names than the report keeps as examples.
        let text = "kept.example\nnew1.example\nnew1.example\nsub.example\n\
                    new2.example\nnew3.example\nnew4.example\n";
        let texts = vec![(a.clone(), false, Ok(ListText::from(text)))];
        let compiled = compile(
            &borrow(&embedded(), &texts),
            &Audience::default(),
            Some(previous),
            2,
            big(),
        );
        let report = &compiled.reports[0];
        assert_eq!((report.added, report.removed), (4, 1));
        assert_eq!(
            report.added_examples,
            ["new1.example", "new2.example", "new3.example"]
        );
        assert_eq!(report.stats.as_ref().unwrap().duplicate, 1);
    }

    #[test]
    fn examples_left_out_by_a_cap_are_not_reported() {
        let a = source("a");
        let before = compile_with(&[(&a, "old.example\n")], big());
        let previous = Image::open(before.image).unwrap();
        let texts = vec![(
            a.clone(),
            false,
            Ok(ListText::from("old.example\nnew.example\n")),
        )];
        let caps = Caps {
            per_list: 1,
            total: 10,
        };
        let report = &compile(
            &borrow(&embedded(), &texts),
            &Audience::default(),
            Some(previous),
            2,
            caps,
        )
        .reports[0];
        assert_eq!((report.added, report.removed, report.capped), (0, 0, 1));
        assert!(report.added_examples.is_empty());
    }

    #[test]
    fn a_list_that_cannot_be_read_adds_nothing_and_says_why() {
        let a = source("a");
        let texts = vec![
            (
                a.clone(),
                false,
                Ok(ListText::file("/nonexistent/ralo/a.txt", 1024)),
            ),
            (source("b"), false, Ok(ListText::from("b.example\n"))),
        ];
        let compiled = compile::<Vec<u8>>(
            &borrow(&embedded(), &texts),
            &Audience::default(),
            None,
            1,
            big(),
        );
        assert!(
            compiled.reports[0]
                .error
                .as_deref()
                .unwrap()
                .contains("No such file")
        );
        assert_eq!(compiled.rules, 1);
    }

    #[test]
    fn a_regex_refused_for_its_size_is_reported_with_its_line_and_the_rest_compiles() {
        let mut a = source("a");
        a.format = lists::Format::Regex;
        let mut all_bad = source("c");
        all_bad.format = lists::Format::Regex;
        let b = source("b");
        let compiled = compile_with(
            &[
                (&a, "(a|b)*a(a|b){20}\n^ads\\.\n(x\n^ads\\.\n"),
                (&all_bad, "(a|b)*a(a|b){20}\n"),
                (&b, "b.example\n"),
            ],
            big(),
        );
        let stats = compiled.reports[0].stats.as_ref().unwrap();
        assert_eq!(
            (
                stats.accepted,
                stats.duplicate,
                stats.skipped,
                stats.invalid
            ),
            (1, 1, 1, 1)
        );
        let too_big = stats.examples.iter().find(|e| e.line == 1).unwrap();
        assert!(too_big.reason.contains("256 KiB"), "{}", too_big.reason);
        let stats = compiled.reports[1].stats.as_ref().unwrap();
        assert_eq!((stats.accepted, stats.skipped), (0, 1));
        let image = Image::open(compiled.image).unwrap();
        assert_eq!(image.regex_count(), 1);
        assert!(matches!(image.lookup("ads.example"), Verdict::Blocked(_)));
        assert!(matches!(image.lookup("b.example"), Verdict::Blocked(_)));
        assert_eq!(image.lookup("abab.example"), Verdict::NotListed);
    }

    #[test]
    fn client_rules_go_to_a_list_per_scope_and_unknown_devices_are_reported() {
        let a = source("a");
        let text = "||x.example^\n||x.example^$client=10.0.0.1\n||y.example^$client=10.0.0.1\n\
                    @@||z.example^$client=~tv|~'nobody here'\n||w.example^$client=10.0.0.2,dnstype=AAAA\n";
        let texts = vec![(a.clone(), false, Ok(ListText::from(text)))];
        let audience = Audience {
            groups: vec!["default".to_owned()],
            clients: vec![config::ClientEntry {
                id: "10.0.0.9".parse().unwrap(),
                groups: 1,
                client: Some("tv".to_owned()),
            }],
        };
        let compiled = compile::<Vec<u8>>(&borrow(&embedded(), &texts), &audience, None, 1, big());
        let report = &compiled.reports[0];
        assert_eq!(report.stats.as_ref().unwrap().accepted, 5);
        assert_eq!(report.unknown_clients, ["nobody here"]);
        let image = Image::open(compiled.image).unwrap();
        image.verify().unwrap();
        // `a`, then one list per scope, in the order first met.
        assert_eq!(image.list_count(), 4);
        assert!((0..4).all(|l| image.list_name(l) == Some("a")));
        let scope = |v: &str| Some(ClientScope::parse(v).unwrap());
        assert_eq!(image.list_scope(0), None);
        assert_eq!(image.list_scope(1), scope("10.0.0.1"));
        assert_eq!(image.list_scope(2), scope("~tv|~'nobody here'"));
        assert_eq!(image.list_scope(3), scope("10.0.0.2"));
        assert_eq!(
            (image.list_rule_count(0), image.list_rule_count(1)),
            (Some(1), Some(2))
        );
        assert_eq!(image.regex_count(), 1);
        assert_eq!(image.regex(0).map(|r| r.list), Some(3));
    }

    fn big() -> Caps {
        Caps {
            per_list: 100,
            total: 100,
        }
    }

    #[test]
    fn default_caps_take_a_real_list_whole() {
        let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data");
        let path = std::path::Path::new(data).join("domains/hagezi-light.domains.txt");
        let Ok(text) = std::fs::read_to_string(&path) else {
            println!("skipped: {} is absent", path.display());
            return;
        };
        let caps = Caps::of(&Config::embedded().unwrap().update);
        let a = source("hagezi");
        let compiled = compile_with(&[(&a, &text)], caps);
        let accepted = compiled.reports[0].stats.as_ref().unwrap().accepted;
        assert!(accepted > 100_000, "{accepted}");
        assert_eq!(compiled.rules as u64, accepted);
        assert_eq!(compiled.reports[0].capped, 0);
    }
}

/// The compile streams its texts and drops duplicates and capped rules by
/// sorting; a plain compile holds every text, parses it with its duplicates
/// dropped by a set, and caps rules as they come. Both make the same image
/// of the same real lists.
#[cfg(test)]
mod unchanged {
    use super::*;

    fn embedded() -> Config {
        Config::embedded().expect("the embedded config loads")
    }

    /// Real lists of every format, one read with `subdomains`, two allowlists.
    const LISTS: [(&str, bool); 6] = [
        ("domains/hagezi-light.domains.txt", false),
        ("hosts/stevenblack-own.hosts", false),
        ("adblock/adguard-dns-filter.txt", false),
        ("hosts/adaway.hosts.txt", false),
        ("allow/hagezi-whitelist.txt", true),
        ("allow/hagezi-whitelist-referral.adblock.txt", true),
    ];

    /// The image with its checksum and creation time zeroed.
    fn masked(image: &[u8]) -> Vec<u8> {
        let mut image = image.to_vec();
        image[16..24].fill(0);
        image[40..48].fill(0);
        image
    }

    fn sources() -> Option<Vec<(ListSource, bool, Text)>> {
        let data = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"));
        if !data.is_dir() {
            println!("skipped: {} is absent", data.display());
            return None;
        }
        let lists = LISTS.iter().enumerate().map(|(i, (file, allow))| {
            let source = ListSource {
                name: format!("l{i}"),
                path: None,
                url: None,
                allow_http: false,
                household: false,
                format: lists::Format::Auto,
                subdomains: i == 3,
                hosts_addresses: config::HostsAddresses::Block,
                enabled: true,
                comment: None,
                groups: vec!["default".to_owned()],
                schedule: crate::groups::Schedule::always(),
            };
            (
                source,
                *allow,
                Ok(ListText::file(data.join(file), u64::MAX)),
            )
        });
        Some(lists.collect())
    }

    /// The plain compile: whole texts, `lists::parse`, caps in line order.
    fn plain(texts: &[(ListSource, bool, Text)], caps: Caps) -> (Vec<u8>, Vec<(u64, u64, u64)>) {
        let mut builder = ImageBuilder::new();
        let mut counts = Vec::new();
        let mut taken = 0u64;
        for (source, allow, text) in texts {
            let text = text.as_ref().unwrap().read_to_string().unwrap();
            let list = builder.add_list(&source.name, *allow);
            let options = source.parse_options(*allow);
            let (mut mine, mut capped) = (0u64, 0u64);
            let stats = lists::parse(&text, options, |rule| {
                if mine >= caps.per_list || taken >= caps.total {
                    capped += 1;
                    return;
                }
                mine += 1;
                taken += 1;
                builder.add_rule(list, rule.name, rule.subtree, rule.allow);
            });
            counts.push((stats.accepted, stats.duplicate, capped));
        }
        (builder.build(7), counts)
    }

    /// (accepted, duplicate, capped) per list.
    fn counts(compiled: &Compiled) -> Vec<(u64, u64, u64)> {
        compiled
            .reports
            .iter()
            .map(|r| {
                let stats = r.stats.as_ref().expect("every list read");
                (stats.accepted, stats.duplicate, r.capped)
            })
            .collect()
    }

    fn same_as_plain(caps: Caps) -> Vec<(u64, u64, u64)> {
        let Some(texts) = sources() else {
            return Vec::new();
        };
        let compiled = compile::<Vec<u8>>(
            &borrow(&embedded(), &texts),
            &Audience::default(),
            None,
            7,
            caps,
        );
        let (image, plain_counts) = plain(&texts, caps);
        assert_eq!(masked(&compiled.image), masked(&image));
        assert_eq!(counts(&compiled), plain_counts);
        plain_counts
    }

    #[test]
    fn real_lists_compile_to_the_same_image_streamed_or_whole() {
        let counts = same_as_plain(Caps {
            per_list: 2_000_000,
            total: 2_500_000,
        });
        if !counts.is_empty() {
            assert_eq!(counts[2], (16_679, 18, 0));
        }
    }

    #[test]
    fn real_lists_past_both_caps_compile_to_the_same_image_streamed_or_whole() {
        let counts = same_as_plain(Caps {
            per_list: 50_000,
            total: 60_000,
        });
        if !counts.is_empty() {
            assert_eq!(counts[0], (176_041, 0, 126_041));
            assert_eq!(counts[2], (16_679, 18, 9069));
            assert_eq!(counts[5], (480, 0, 480));
        }
    }
}
