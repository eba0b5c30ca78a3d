//! Regex rules in whole images: built with [`ImageBuilder::add_regex`],
//! read back through [`Image::open`] (the DFA deserialized in place) and
//! asked through the lookups.
//!
//! - Property test: an image of random rules — exact, subtree and regex,
//!   block and allow, plain and important, in block lists and allowlists
//!   that apply or not, regexes for some query
//!   types — answers as a naive model: the rules on names walked over the
//!   query's suffixes, then every regex tried with the `regex` crate on the
//!   lower-case text, in the lookup order of `lookup.rs`.
//! - A corrupted regex section is refused by its checksum, a DFA that does
//!   not validate (its checksums made right) by `DFA::from_bytes`.

use proptest::prelude::*;

use super::format::{Section, checksum, field, read_u32, read_u64, regex_checksum};
use super::{Error, Image, ImageBuilder, ListId, Match, Verdict};
use crate::querytypes::QueryTypes;

const LABELS: [&str; 5] = ["a", "b", "ab", "c", "xyz"];
/// Regexes over names of [`LABELS`].
const PATTERNS: [&str; 10] = [
    r"^a\.",
    r"b$",
    r"(^|\.)ab\.c$",
    r"xyz",
    r"^[abc]+$",
    r"a\.b",
    r"^c\.",
    r"(^|\.)xyz$",
    r"^.{1,3}$",
    r"^(.+[_.-])?ab[_.-]",
];
/// Query types a question may have: A, AAAA, HTTPS, TXT.
const QTYPES: [u16; 4] = [1, 28, 65, 16];

#[derive(Clone, Debug)]
enum Form {
    Exact,
    Subtree,
    /// A pattern of [`PATTERNS`] and its query types.
    Regex(usize, QueryTypes),
}

#[derive(Clone, Debug)]
struct Rule {
    list: ListId,
    name: String,
    form: Form,
    allow: bool,
    important: bool,
}

impl Rule {
    /// The rule's rank, from the lowest: block, allow, important block,
    /// important allow (an allow of an allowlist is important).
    fn rank(&self) -> usize {
        let important = self.important || (self.allow && is_allow_list(self.list));
        usize::from(self.allow) | usize::from(important) << 1
    }
}

/// Whether list `list` is an allowlist in the images the tests build.
fn is_allow_list(list: ListId) -> bool {
    list % 2 == 1
}

fn name(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(&LABELS[..]), 1..=max).prop_map(|l| l.join("."))
}

fn types() -> impl Strategy<Value = QueryTypes> {
    prop::sample::select(vec!["A", "AAAA", "!A", "A,HTTPS"])
        .prop_map(|t| QueryTypes::parse(t).unwrap())
        .boxed()
        .prop_union(Just(QueryTypes::ALL).boxed())
}

fn rule(lists: u16) -> impl Strategy<Value = Rule> {
    let form = prop_oneof![
        Just(Form::Exact),
        Just(Form::Subtree),
        (0..PATTERNS.len(), types()).prop_map(|(p, t)| Form::Regex(p, t)),
    ];
    let important = prop::bool::weighted(0.3);
    (0..lists, name(3), form, any::<bool>(), important).prop_map(
        |(list, name, form, allow, important)| Rule {
            list,
            name,
            form,
            allow,
            important,
        },
    )
}

/// The verdict of the best match of each rank (lowest first): the highest
/// rank decides, and an allow names the block it beats, an important one
/// first.
fn decide(ranks: [Option<Match>; 4]) -> Verdict {
    let [block, allow, important_block, important_allow] = ranks;
    if let Some(allow) = important_allow {
        return Verdict::Allowed {
            allow,
            overrides: important_block.or(block),
        };
    }
    if let Some(block) = important_block {
        return Verdict::Blocked(block);
    }
    match (allow, block) {
        (Some(allow), overrides) => Verdict::Allowed { allow, overrides },
        (None, Some(block)) => Verdict::Blocked(block),
        (None, None) => Verdict::NotListed,
    }
}

/// The naive verdict for `query` (lower case, no trailing dot) asked with
/// `qtype`, among the lists `applies` accepts; `listed` as the image says.
fn model(
    rules: &[Rule],
    query: &str,
    qtype: u16,
    applies: &dyn Fn(ListId) -> bool,
) -> (Verdict, bool) {
    let labels: Vec<&str> = query.split('.').collect();
    let mut listed = false;
    // Rules on names: per rank, the most specific suffix, at it the first list.
    let mut ranks = [None; 4];
    for (rank, best) in ranks.iter_mut().enumerate() {
        for start in (0..labels.len()).rev() {
            let suffix = labels[start..].join(".");
            let mut lists: Vec<(ListId, bool)> = Vec::new();
            for r in rules
                .iter()
                .filter(|r| r.rank() == rank && r.name == suffix)
            {
                let subtree = match r.form {
                    Form::Exact => false,
                    Form::Subtree => true,
                    Form::Regex(..) => continue,
                };
                if subtree || start == 0 {
                    listed = true;
                    lists.push((r.list, subtree));
                }
            }
            lists.sort_by_key(|&(list, subtree)| (list, !subtree));
            if let Some(&(list, subtree)) = lists.iter().find(|(list, _)| applies(*list)) {
                *best = Some(Match {
                    list,
                    subtree,
                    labels: (labels.len() - start) as u8,
                    regex: None,
                    important: rank >= 2,
                });
            }
        }
    }
    // Regex rules, in the image's pattern order: list, then line.
    let mut regexes: Vec<(ListId, usize, usize, QueryTypes, usize)> = rules
        .iter()
        .enumerate()
        .filter_map(|(line, r)| match r.form {
            Form::Regex(p, t) => Some((r.list, line, p, t, r.rank())),
            _ => None,
        })
        .collect();
    regexes.sort_by_key(|&(list, line, ..)| (list, line));
    // A list's copies of a pattern (same types, allow and importance) are
    // one rule.
    let mut seen = Vec::new();
    regexes.retain(|&(list, _, p, t, rank)| {
        let key = (list, p, t, rank);
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    // The regexes are asked unless the names found a rank no regex of the
    // image can beat: what the image's regex flags tell.
    let regex_top = if regexes.iter().any(|r| r.4 >= 2) {
        3
    } else if regexes.iter().any(|r| r.4 == 1) {
        1
    } else {
        0
    };
    let name_top = (0..4).rev().find(|&rank| ranks[rank].is_some());
    if name_top.is_some_and(|top| top >= regex_top) {
        return (decide(ranks), listed);
    }
    let mut by_regex = [None; 4];
    for (index, &(list, _, p, t, rank)) in regexes.iter().enumerate() {
        if !regex::Regex::new(PATTERNS[p]).unwrap().is_match(query) {
            continue;
        }
        listed = true;
        if !t.contains(qtype) || !applies(list) {
            continue;
        }
        if by_regex[rank].is_none() {
            by_regex[rank] = Some(Match {
                list,
                subtree: false,
                labels: labels.len() as u8,
                regex: Some(index as u32),
                important: rank >= 2,
            });
        }
    }
    for (slot, regex) in ranks.iter_mut().zip(by_regex) {
        *slot = slot.or(regex);
    }
    (decide(ranks), listed)
}

fn build(lists: u16, rules: &[Rule]) -> Image<Vec<u8>> {
    let mut b = ImageBuilder::new();
    for l in 0..lists {
        b.add_list(&format!("list{l}"), is_allow_list(l));
    }
    for (line, r) in rules.iter().enumerate() {
        match r.form {
            Form::Exact | Form::Subtree => {
                let subtree = matches!(r.form, Form::Subtree);
                b.add_rule_with(r.list, &r.name, subtree, r.allow, r.important)
            }
            Form::Regex(p, types) => {
                b.add_regex_with(
                    r.list,
                    PATTERNS[p],
                    r.allow,
                    r.important,
                    types,
                    line as u32,
                )
                .expect("the test patterns are small");
            }
        }
    }
    let image = Image::open(b.build(1)).expect("fresh image opens");
    image.verify().expect("fresh image verifies");
    image
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn image_with_regexes_agrees_with_naive_model(
        (lists, rules, queries, mask) in (1u16..5).prop_flat_map(|lists| (
            Just(lists),
            prop::collection::vec(rule(lists), 0..24),
            prop::collection::vec((name(4), 0..QTYPES.len()), 1..24),
            any::<u8>(),
        ))
    ) {
        let image = build(lists, &rules);
        let all = |_: ListId| true;
        let some = |list: ListId| mask >> list & 1 == 1;
        for (query, t) in &queries {
            let qtype = QTYPES[*t];
            for applies in [&all as &dyn Fn(ListId) -> bool, &some] {
                let (want, listed) = model(&rules, query, qtype, applies);
                let got = image.lookup_with(query, qtype, applies);
                prop_assert_eq!(got.verdict, want, "{} type {}", query, qtype);
                prop_assert_eq!(got.listed, listed, "listed: {}", query);
                let labels = query.split('.').map(str::as_bytes);
                let wire = image.lookup_labels_with(labels, query, qtype, applies);
                prop_assert_eq!(wire, got, "labels of {}", query);
            }
            let labels = query.split('.').map(str::as_bytes);
            prop_assert_eq!(image.lookup_labels(labels), image.lookup(query));
        }
    }
}

/// An image with a block list of names and regexes and an allow list of
/// regexes.
fn sample() -> Vec<u8> {
    let mut b = ImageBuilder::new();
    let ads = b.add_list("ads", false);
    let regex = b.add_list("regex", false);
    let allow = b.add_list("allow", true);
    b.add_rule(ads, "tracker.example", true, false);
    b.add_rule(ads, "ok.example", false, false);
    let a = QueryTypes::parse("A").unwrap();
    for (line, pattern, types) in [
        (3, r"^ad[sxv]?[0-9]*\.", QueryTypes::ALL),
        (7, r"(^|\.)tiktokv?\.com$", QueryTypes::ALL),
        (9, r"^aonly\.", a),
    ] {
        assert_eq!(b.add_regex(regex, pattern, false, types, line), Ok(true));
    }
    assert_eq!(
        b.add_regex(regex, r"^ad[sxv]?[0-9]*\.", false, QueryTypes::ALL, 12),
        Ok(false)
    );
    b.add_regex(allow, r"^ok\.", true, QueryTypes::ALL, 1)
        .unwrap();
    b.build(3)
}

fn regex_match(list: ListId, pattern: u32, labels: u8) -> Match {
    Match {
        list,
        subtree: false,
        labels,
        regex: Some(pattern),
        important: false,
    }
}

#[test]
fn a_regex_blocks_a_name_no_name_rule_has_and_the_match_names_its_rule() {
    let image = Image::open(sample()).unwrap();
    image.verify().unwrap();
    assert_eq!(image.regex_count(), 4);
    assert_eq!(
        image.lookup("ads1.example.com"),
        Verdict::Blocked(regex_match(1, 0, 3))
    );
    assert_eq!(
        image.lookup("www.tiktokv.com"),
        Verdict::Blocked(regex_match(1, 1, 3))
    );
    assert_eq!(image.lookup("www.example.com"), Verdict::NotListed);
    let rule = image.regex(1).unwrap();
    assert_eq!(
        (rule.list, rule.nth, rule.line, rule.allow, rule.pattern),
        (1, 2, 7, false, r"(^|\.)tiktokv?\.com$")
    );
    let allow = image.regex(3).unwrap();
    assert_eq!((allow.list, allow.nth, allow.allow), (2, 1, true));
    assert_eq!(image.regex(4), None);
}

#[test]
fn an_allow_regex_beats_a_name_block_and_a_name_allow_is_not_asked_again() {
    let image = Image::open(sample()).unwrap();
    let by_name = Match {
        list: 0,
        subtree: false,
        labels: 2,
        regex: None,
        important: false,
    };
    assert_eq!(
        image.lookup("ok.example"),
        Verdict::Allowed {
            allow: Match {
                important: true,
                ..regex_match(2, 3, 2)
            },
            overrides: Some(by_name)
        }
    );
    // Without the allow list the name rule blocks.
    assert_eq!(
        image.lookup_for("ok.example", |l| l != 2),
        Verdict::Blocked(by_name)
    );
}

#[test]
fn a_querytype_regex_blocks_only_its_types_and_a_list_only_where_it_applies() {
    let image = Image::open(sample()).unwrap();
    let a = image.lookup_with("aonly.example", 1, |_| true);
    assert_eq!(a.verdict, Verdict::Blocked(regex_match(1, 2, 2)));
    let aaaa = image.lookup_with("aonly.example", 28, |_| true);
    assert_eq!((aaaa.verdict, aaaa.listed), (Verdict::NotListed, true));
    let elsewhere = image.lookup_with("ads.example", 1, |l| l != 1);
    assert_eq!(
        (elsewhere.verdict, elsewhere.listed),
        (Verdict::NotListed, true)
    );
}

/// Recomputes the image checksum after a test edits the bytes.
fn reseal(bytes: &mut [u8]) {
    let sum = checksum(bytes);
    bytes[field::CHECKSUM..field::CHECKSUM + 8].copy_from_slice(&sum.to_le_bytes());
}

fn dfa_range(bytes: &[u8]) -> std::ops::Range<usize> {
    let at = read_u64(bytes, Section::RegexDfa.field()) as usize;
    let len = read_u64(bytes, Section::RegexDfa.field() + 8) as usize;
    at..at + len
}

#[test]
fn a_corrupted_regex_section_is_refused_by_its_checksums() {
    let good = sample();
    let dfa = dfa_range(&good);
    let mut bytes = good.clone();
    bytes[dfa.start + dfa.len() / 2] ^= 0x10;
    assert!(matches!(
        Image::open(bytes),
        Err(Error::RegexChecksumMismatch { .. })
    ));
    // A pattern record: the image's checksum.
    let mut bytes = good.clone();
    let records = read_u64(&good, Section::RegexPatterns.field()) as usize;
    bytes[records + 8] ^= 1;
    let image = Image::open(bytes).unwrap();
    assert!(matches!(
        image.verify(),
        Err(Error::ChecksumMismatch { .. })
    ));
}

#[test]
fn a_dfa_that_does_not_validate_is_refused_even_with_right_checksums() {
    let good = sample();
    let dfa = dfa_range(&good);
    let mut refused = 0;
    // Garbage over the DFA's transitions, checksums made right.
    for at in (dfa.start..dfa.end).step_by(997) {
        let mut bytes = good.clone();
        bytes[at..(at + 8).min(dfa.end)].fill(0xEE);
        let sum = regex_checksum(&bytes[dfa.clone()]);
        bytes[field::REGEX_SUM..field::REGEX_SUM + 8].copy_from_slice(&sum.to_le_bytes());
        reseal(&mut bytes);
        if let Err(error) = Image::open(bytes) {
            assert!(matches!(error, Error::BadRegexDfa { .. }), "{error}");
            refused += 1;
        }
    }
    assert!(refused > 0);
    // A DFA of other patterns than the table's.
    let mut b = ImageBuilder::new();
    let l = b.add_list("l", false);
    b.add_regex(l, "x", false, QueryTypes::ALL, 1).unwrap();
    b.add_regex(l, "y", false, QueryTypes::ALL, 2).unwrap();
    let two = b.build(1);
    let mut bytes = good.clone();
    let other = &two[dfa_range(&two)];
    if other.len() == dfa.len() {
        bytes[dfa.clone()].copy_from_slice(other);
        let sum = regex_checksum(other);
        bytes[field::REGEX_SUM..field::REGEX_SUM + 8].copy_from_slice(&sum.to_le_bytes());
        reseal(&mut bytes);
        assert!(matches!(Image::open(bytes), Err(Error::BadRegexDfa { .. })));
    }
    assert_eq!(read_u32(&two, field::REGEX_COUNT), 2);
}

#[test]
fn bad_regex_records_are_refused_by_verify() {
    let good = sample();
    let records = read_u64(&good, Section::RegexPatterns.field()) as usize;
    // list out of range, reserved flag, no type, reserved word.
    for (at, value) in [(0, 9u8), (2, 4), (4, 0), (20, 1)] {
        let mut bytes = good.clone();
        bytes[records + at] = value;
        if at == 4 {
            bytes[records + 5] = 0;
        }
        reseal(&mut bytes);
        let image = Image::open(bytes).unwrap();
        assert!(
            matches!(image.verify(), Err(Error::BadRegexPattern { pattern: 0 })),
            "byte {at}"
        );
    }
}

#[test]
fn hostile_regex_headers_and_records_never_panic() {
    let good = sample();
    let records = read_u64(&good, Section::RegexPatterns.field()) as usize;
    let dfa = dfa_range(&good);
    let mut bits: Vec<usize> = (field::SECTIONS * 8..super::HEADER_LEN * 8).collect();
    bits.extend(records * 8..(records + 4 * super::format::REGEX_RECORD) * 8);
    bits.extend((dfa.start * 8..dfa.end * 8).step_by(61));
    for bit in bits {
        let mut bytes = good.clone();
        bytes[bit / 8] ^= 1 << (bit % 8);
        reseal(&mut bytes);
        if let Ok(image) = Image::open(bytes) {
            let _ = image.verify();
            for name in ["ads1.example.com", "ok.example", "aonly.x", "x"] {
                let _ = image.lookup(name);
                let _ = image.lookup_with(name, 28, |l| l == 1);
            }
            for p in 0..6 {
                let _ = image.regex(p);
            }
        }
    }
}
