//! Whole-image tests across `builder.rs`, `format.rs`, `view.rs` and `lookup.rs`.
//!
//! - Property test: an [`Image`](super::Image) built from random lists
//!   (allowlists among them) of plain and `$important` rules answers every
//!   query exactly as a naive model does — a map of merged rules and a walk
//!   over the query's suffixes, straight from the matching rule, with the
//!   precedence of `lookup.rs` written out; `$denyallow` rules are read
//!   literally (the rule matches unless the query is one of its exempt
//!   names or below one). Names come from a tiny label alphabet so that
//!   hits, misses, subtree hits, allow overrides, important rules beating
//!   them and exemptions are all common.
//! - Hostile bytes: every truncation, every single-bit flip (with and
//!   without a fixed-up checksum) and random buffers go through `open`,
//!   `verify` and lookups (of rules and of custom answers), none of which
//!   may panic.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;

use super::format::{checksum, field};
use super::{Image, ImageBuilder, ListId, Match, RewriteVerdict, Verdict};
use crate::answer::{Answer, Rewrite};

const LABELS: [&str; 5] = ["a", "b", "ab", "c", "xyz"];

/// One `add_rule_with` call, or with exemptions one `add_denyallow_rule`
/// call (a subtree rule).
#[derive(Clone, Debug)]
struct Rule {
    list: ListId,
    name: String,
    subtree: bool,
    allow: bool,
    important: bool,
    exempt: Vec<String>,
}

impl Rule {
    /// Whether the rule's list is an allowlist and it allows, or it is
    /// `$important`.
    fn is_important(&self) -> bool {
        self.important || (self.allow && is_allow_list(self.list))
    }

    /// Whether `query` is one of the exempt names or below one.
    fn exempts(&self, query: &str) -> bool {
        self.exempt
            .iter()
            .any(|e| query == e || query.ends_with(&format!(".{e}")))
    }
}

/// Whether list `list` is an allowlist in the images the tests build.
fn is_allow_list(list: ListId) -> bool {
    list % 2 == 1
}

/// The rules without exemptions as given: per (name, allow, important),
/// each list that gave it and whether that list gave the subtree form (in
/// any of its copies); an allow rule of an allowlist counts as important.
/// Then the rules with exemptions, as given.
struct Model(
    HashMap<(String, bool, bool), BTreeMap<ListId, bool>>,
    Vec<Rule>,
);

impl Model {
    fn new(rules: &[Rule]) -> Self {
        let mut given: HashMap<(String, bool, bool), BTreeMap<ListId, bool>> = HashMap::new();
        let mut guarded = Vec::new();
        for r in rules {
            if !r.exempt.is_empty() {
                guarded.push(r.clone());
                continue;
            }
            let important = r.is_important();
            let subtree = given
                .entry((r.name.clone(), r.allow, important))
                .or_default()
                .entry(r.list)
                .or_insert(false);
            *subtree |= r.subtree;
        }
        Model(given, guarded)
    }

    /// Entries the image should hold: per (name, allow, important), one for
    /// the subtree form and one for the lists that gave only the exact form.
    fn entries(&self) -> usize {
        self.0
            .values()
            .map(|lists| {
                usize::from(lists.values().any(|&s| s)) + usize::from(lists.values().any(|&s| !s))
            })
            .sum()
    }

    /// The most specific matching rule of one kind and importance among the
    /// lists that `applies` accepts: at each suffix the first such list in
    /// id order, its subtree rule before its exact one.
    fn best(
        &self,
        query: &str,
        (allow, important): (bool, bool),
        applies: &dyn Fn(ListId) -> bool,
    ) -> Option<Match> {
        let labels: Vec<&str> = query.split('.').collect();
        let mut best = None;
        for start in (0..labels.len()).rev() {
            let suffix = labels[start..].join(".");
            let plain = self.0.get(&(suffix.clone(), allow, important));
            let mut here: Vec<(ListId, bool)> = plain
                .into_iter()
                .flatten()
                .filter(|&(_, &subtree)| subtree || start == 0)
                .map(|(&list, &subtree)| (list, subtree))
                .collect();
            here.extend(
                self.1
                    .iter()
                    .filter(|r| {
                        r.name == suffix && (r.allow, r.is_important()) == (allow, important)
                    })
                    .filter(|r| !r.exempts(query))
                    .map(|r| (r.list, true)),
            );
            here.sort_by_key(|&(list, subtree)| (list, !subtree));
            let first = here.into_iter().find(|&(list, _)| applies(list));
            if let Some((list, subtree)) = first {
                best = Some(Match {
                    list,
                    subtree,
                    labels: (labels.len() - start) as u8,
                    regex: None,
                    important,
                });
            }
        }
        best
    }

    fn verdict(&self, query: &str, applies: &dyn Fn(ListId) -> bool) -> Verdict {
        let q = query
            .strip_suffix('.')
            .unwrap_or(query)
            .to_ascii_lowercase();
        if q.is_empty() {
            return Verdict::NotListed;
        }
        let best = |kind| self.best(&q, kind, applies);
        // (allow, important), from the highest rank: the allowlists and
        // `@@…$important`, `$important` blocks, `@@`, blocks.
        let (important_allow, important_block) = (best((true, true)), best((false, true)));
        let (allow, block) = (best((true, false)), best((false, false)));
        let beaten = important_block.or(block);
        if let Some(allow) = important_allow {
            Verdict::Allowed {
                allow,
                overrides: beaten,
            }
        } else if let Some(block) = important_block {
            Verdict::Blocked(block)
        } else if let Some(allow) = allow {
            Verdict::Allowed {
                allow,
                overrides: block,
            }
        } else if let Some(block) = block {
            Verdict::Blocked(block)
        } else {
            Verdict::NotListed
        }
    }
}

fn name(max_labels: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(&LABELS[..]), 1..=max_labels)
        .prop_map(|labels| labels.join("."))
}

fn rules(lists: u16) -> impl Strategy<Value = Vec<Rule>> {
    prop::collection::vec(
        (
            0..lists,
            name(3),
            any::<bool>(),
            any::<bool>(),
            prop::bool::weighted(0.3),
            exempt(),
        )
            .prop_map(|(list, name, subtree, allow, important, exempt)| {
                // Below the name mostly; else any name (above it, or apart).
                let exempt: Vec<String> = exempt
                    .into_iter()
                    .map(|(e, below)| if below { format!("{e}.{name}") } else { e })
                    .collect();
                Rule {
                    list,
                    subtree: subtree || !exempt.is_empty(),
                    name,
                    allow,
                    important,
                    exempt,
                }
            }),
        0..40,
    )
}

/// A rule's `$denyallow` names, mostly none: (name, whether below the
/// rule's name).
fn exempt() -> impl Strategy<Value = Vec<(String, bool)>> {
    prop_oneof![
        3 => Just(Vec::new()),
        1 => prop::collection::vec((name(2), prop::bool::weighted(0.8)), 1..3),
    ]
}

/// A query: a name with random capitals and maybe a trailing dot.
fn query() -> impl Strategy<Value = String> {
    (name(5), any::<u64>(), any::<bool>()).prop_map(|(name, caps, dot)| {
        let mut q: String = name
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if caps >> (i % 64) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        if dot {
            q.push('.');
        }
        q
    })
}

fn cases() -> impl Strategy<Value = (u16, Vec<Rule>, Vec<String>, u8)> {
    (1u16..5).prop_flat_map(|lists| {
        (
            Just(lists),
            rules(lists),
            prop::collection::vec(query(), 1..30),
            any::<u8>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn image_agrees_with_naive_model((lists, rules, queries, mask) in cases()) {
        let mut b = ImageBuilder::new();
        for l in 0..lists {
            b.add_list(&format!("list{l}"), is_allow_list(l));
        }
        for r in &rules {
            match r.exempt.as_slice() {
                [] => b.add_rule_with(r.list, &r.name, r.subtree, r.allow, r.important),
                exempt => {
                    let exempt = exempt.iter().map(String::as_str);
                    b.add_denyallow_rule(r.list, &r.name, (r.allow, r.important), exempt);
                }
            }
        }
        let model = Model::new(&rules);
        // Entries and counts: the rules with exemptions add their own.
        if model.1.is_empty() {
            prop_assert_eq!(b.len(), model.entries());
        }
        let image = Image::open(b.build(1)).expect("fresh image opens");
        image.verify().expect("fresh image verifies");
        if model.1.is_empty() {
            prop_assert_eq!(image.rule_count(), model.entries());
            let counted: u64 = (0..lists).filter_map(|l| image.list_rule_count(l)).sum();
            let given: usize = model.0.values().map(BTreeMap::len).sum();
            prop_assert_eq!(counted, given as u64);
        }

        // Every list, and the lists of a random mask (as for one client).
        let all = |_: ListId| true;
        let some = |list: ListId| mask >> list & 1 == 1;
        for q in &queries {
            let got = image.lookup(q);
            prop_assert_eq!(got, model.verdict(q, &all), "query {}", q);
            let bare = q.strip_suffix('.').unwrap_or(q);
            let labels = bare.split('.').map(str::as_bytes);
            prop_assert_eq!(image.lookup_labels(labels), got, "labels of {}", q);
            let masked = image.lookup_for(q, some);
            prop_assert_eq!(masked, model.verdict(q, &some), "query {} for mask {:b}", q, mask);
            let labels = bare.split('.').map(str::as_bytes);
            let with = image.lookup_labels_with(labels, bare, 1, some);
            prop_assert_eq!(with.verdict, masked, "labels of {}", q);
            prop_assert_eq!(with.listed, got != Verdict::NotListed, "listed: {}", q);
        }
    }
}

#[test]
fn model_reports_the_most_specific_rule() {
    let rules = [
        Rule {
            list: 0,
            name: "a.b".into(),
            subtree: true,
            allow: false,
            important: false,
            exempt: Vec::new(),
        },
        Rule {
            list: 1,
            name: "b".into(),
            subtree: true,
            allow: false,
            important: false,
            exempt: Vec::new(),
        },
    ];
    let model = Model::new(&rules);
    let want = Verdict::Blocked(Match {
        list: 0,
        subtree: true,
        labels: 2,
        regex: None,
        important: false,
    });
    assert_eq!(model.verdict("x.A.b.", &|_| true), want);
}

/// A small image touching every section.
fn sample() -> Vec<u8> {
    let mut b = ImageBuilder::new();
    let ads = b.add_list("ads", false);
    let mine = b.add_list("mine", true);
    b.add_rule(ads, "tracker.example", true, false);
    b.add_rule(ads, "exact.example", false, false);
    b.add_rule(ads, "example.net", true, false);
    b.add_rule(mine, "ok.example.net", false, true);
    let to_a = Rewrite::To(Answer::A(std::net::Ipv4Addr::new(192, 168, 1, 10)));
    b.add_rewrite(ads, "nas.example", false, to_a, 5);
    let refused = Rewrite::To(Answer::Rcode(crate::answer::Rcode::Refused));
    b.add_rewrite(ads, "r.example.net", true, refused, 6);
    b.add_rewrite(mine, "x.r.example.net", true, Rewrite::Off, 2);
    b.build(7)
}

/// Recomputes the checksum after a test edits the bytes.
fn reseal(bytes: &mut [u8]) {
    let sum = checksum(bytes);
    bytes[field::CHECKSUM..field::CHECKSUM + 8].copy_from_slice(&sum.to_le_bytes());
}

/// Opens and, if that succeeds, verifies and looks names up whatever
/// `verify` says (lookups must be safe after `open` alone); must not panic.
fn exercise(bytes: &[u8]) {
    if let Ok(image) = Image::open(bytes.to_vec()) {
        let _ = image.verify();
        for name in ["a.tracker.example", "ok.example.net", "x", "exact.example"] {
            let _ = image.lookup(name);
            let _ = image.lookup_labels(name.split('.').map(str::as_bytes));
        }
        let _ = image.lookup(&"a.".repeat(300));
        for name in ["nas.example", "y.x.r.example.net", "a.r.example.net"] {
            if let (RewriteVerdict::To(r), _) = image.rewrite_for(name, |_| true) {
                let _ = image.rewrite_records(&r, 1).count();
                let _ = image.rewrite_records(&r, 28).count();
            }
        }
        for id in 0..4 {
            let _ = (image.list_name(id), image.list_rule_count(id));
            let _ = image.list_is_allow(id);
        }
    }
}

#[test]
fn every_truncation_is_refused_without_panic() {
    let bytes = sample();
    for len in 0..bytes.len() {
        assert!(Image::open(bytes[..len].to_vec()).is_err(), "len {len}");
        exercise(&bytes[..len]);
    }
}

#[test]
fn single_bit_flips_never_panic_and_fail_verify() {
    let good = sample();
    let mut bytes = good.clone();
    for bit in 0..good.len() * 8 {
        bytes[bit / 8] ^= 1 << (bit % 8);
        exercise(&bytes);
        if let Ok(image) = Image::open(bytes.clone()) {
            assert!(image.verify().is_err(), "bit {bit} flipped yet verifies");
        }
        bytes[bit / 8] ^= 1 << (bit % 8);
    }
}

#[test]
fn bit_flips_with_resealed_checksum_never_panic() {
    let good = sample();
    for bit in 0..good.len() * 8 {
        let mut bytes = good.clone();
        bytes[bit / 8] ^= 1 << (bit % 8);
        reseal(&mut bytes);
        exercise(&bytes);
    }
}

/// xorshift64*: deterministic random numbers without a dependency.
fn rng(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn random_header_and_index_values_never_panic() {
    let good = sample();
    let mut next = rng(0x5EED);
    for _ in 0..20_000 {
        let mut bytes = good.clone();
        for _ in 0..1 + next() % 3 {
            // Any aligned word from the image length field to the end of
            // the entries: counts, bits, section table, bucket index.
            let at = 24 + 4 * (next() as usize % ((bytes.len() - 28) / 4));
            let value = match next() % 4 {
                0 => 0,
                1 => u32::MAX,
                2 => (next() % 64) as u32,
                _ => next() as u32,
            };
            bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
        }
        reseal(&mut bytes);
        exercise(&bytes);
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut next = rng(0x9E37_79B9_7F4A_7C15);
    let good = sample();
    for round in 0..2000 {
        let len = (next() % 700) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if round % 2 == 0 && len >= 16 {
            // Keep a valid start so that the deeper checks are reached.
            bytes[..16].copy_from_slice(&good[..16]);
        }
        exercise(&bytes);
    }
}
