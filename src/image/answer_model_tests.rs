//! The custom answers of an image (`answers.rs`) against a naive model: on
//! random rewrite rules (A, AAAA, response codes, `@@$dnsrewrite`
//! exceptions; exact and subtree; several lists) and random names, the
//! image picks the same rewrite, with the same records, as a walk over the
//! query's suffixes straight from the rules (the order of `answers.rs`'s
//! module docs), for every list and for the lists of a random mask.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::{Image, ImageBuilder, ListId, RewriteVerdict};
use crate::answer::{Answer, Rcode, Rewrite};

const LABELS: [&str; 4] = ["a", "b", "ab", "c"];

/// One `add_rewrite` call; its line is its index + 1.
#[derive(Clone, Debug)]
struct Rule {
    list: ListId,
    name: String,
    subtree: bool,
    rewrite: Rewrite,
}

/// What the model expects: the verdict's kind and data, the records of
/// either address type, and whether any list covers the name.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Expected {
    None,
    Off(ListId, u32),
    To {
        list: ListId,
        line: u32,
        rcode: Option<Rcode>,
        labels: u8,
        subtree: bool,
        a: Vec<[u8; 4]>,
        aaaa: Vec<[u8; 16]>,
    },
}

fn model(rules: &[Rule], query: &str, applies: &dyn Fn(ListId) -> bool) -> (Expected, bool) {
    let labels: Vec<&str> = query.split('.').collect();
    let (mut listed, mut off, mut best) = (false, None, None);
    for start in (0..labels.len()).rev() {
        let suffix = labels[start..].join(".");
        let whole = start == 0;
        let here: Vec<(u32, &Rule)> = rules
            .iter()
            .enumerate()
            .map(|(i, r)| (i as u32 + 1, r))
            .filter(|(_, r)| r.name == suffix && (r.subtree || whole))
            .collect();
        listed |= !here.is_empty();
        let applying = here.iter().filter(|(_, r)| applies(r.list));
        let offs = applying.clone().filter(|(_, r)| r.rewrite == Rewrite::Off);
        if off.is_none() {
            off = offs.map(|(line, r)| (r.list, *line)).min();
        }
        let first_list = applying
            .filter(|(_, r)| r.rewrite != Rewrite::Off)
            .map(|(_, r)| r.list)
            .min();
        if let Some(list) = first_list {
            let mine: Vec<(u32, Answer)> = here
                .iter()
                .filter(|(_, r)| r.list == list)
                .filter_map(|(line, r)| match r.rewrite {
                    Rewrite::To(answer) => Some((*line, answer)),
                    Rewrite::Off => None,
                })
                .collect();
            best = Some((list, mine, (labels.len() - start) as u8, !whole));
        }
    }
    let expected = match (off, best) {
        (Some((list, line)), _) => Expected::Off(list, line),
        (None, None) => Expected::None,
        (None, Some((list, mine, labels, subtree))) => {
            let rcode = mine.iter().find_map(|(line, a)| match a {
                Answer::Rcode(rcode) => Some((*line, *rcode)),
                _ => None,
            });
            let line = rcode.map_or(mine[0].0, |(line, _)| line);
            let (mut a, mut aaaa) = (Vec::new(), Vec::new());
            for (_, answer) in &mine {
                match answer {
                    Answer::A(v4) if !a.contains(&v4.octets()) => a.push(v4.octets()),
                    Answer::Aaaa(v6) if !aaaa.contains(&v6.octets()) => aaaa.push(v6.octets()),
                    _ => {}
                }
            }
            if rcode.is_some() {
                a.clear();
                aaaa.clear();
            }
            Expected::To {
                list,
                line,
                rcode: rcode.map(|(_, rcode)| rcode),
                labels,
                subtree,
                a,
                aaaa,
            }
        }
    };
    (expected, listed)
}

fn seen<B: super::ImageBytes>(image: &Image<B>, query: &str, mask: u8) -> (Expected, bool) {
    let applies = |list: ListId| mask >> list & 1 == 1;
    let (verdict, listed) = image.rewrite_for(query, applies);
    let labels = query.split('.').map(str::as_bytes);
    assert_eq!(image.rewrite_labels(labels, applies), (verdict, listed));
    let expected = match verdict {
        RewriteVerdict::None => Expected::None,
        RewriteVerdict::Off { list, line } => Expected::Off(list, line),
        RewriteVerdict::To(r) => Expected::To {
            list: r.list,
            line: r.line,
            rcode: r.rcode,
            labels: r.labels,
            subtree: r.subtree,
            a: image
                .rewrite_records(&r, 1)
                .map(|d| d.try_into().unwrap())
                .collect(),
            aaaa: image
                .rewrite_records(&r, 28)
                .map(|d| d.try_into().unwrap())
                .collect(),
        },
    };
    (expected, listed)
}

fn name(max_labels: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(&LABELS[..]), 1..=max_labels)
        .prop_map(|labels| labels.join("."))
}

fn rewrite() -> impl Strategy<Value = Rewrite> {
    prop_oneof![
        (1u8..4).prop_map(|n| Rewrite::To(Answer::A(Ipv4Addr::new(10, 0, 0, n)))),
        (1u16..3)
            .prop_map(|n| Rewrite::To(Answer::Aaaa(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, n)))),
        prop::sample::select(&Rcode::ALL[..]).prop_map(|r| Rewrite::To(Answer::Rcode(r))),
        Just(Rewrite::Off),
    ]
}

fn cases() -> impl Strategy<Value = (u16, Vec<Rule>, Vec<String>, u8)> {
    (1u16..4).prop_flat_map(|lists| {
        let rule = (0..lists, name(3), any::<bool>(), rewrite()).prop_map(
            |(list, name, subtree, rewrite)| Rule {
                list,
                name,
                subtree,
                rewrite,
            },
        );
        (
            Just(lists),
            prop::collection::vec(rule, 0..30),
            prop::collection::vec(name(4), 1..20),
            any::<u8>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn rewrites_agree_with_naive_model((lists, rules, queries, mask) in cases()) {
        let mut b = ImageBuilder::new();
        for l in 0..lists {
            b.add_list(&format!("list{l}"), false);
            // A plain rule beside the rewrites: the sections live together.
            b.add_rule(l, "b", true, false);
        }
        for (i, r) in rules.iter().enumerate() {
            prop_assert!(b.add_rewrite(r.list, &r.name, r.subtree, r.rewrite, i as u32 + 1));
        }
        let image = Image::open(b.build(1)).expect("fresh image opens");
        image.verify().expect("fresh image verifies");
        for q in &queries {
            prop_assert_eq!(seen(&image, q, u8::MAX), model(&rules, q, &|_| true), "query {}", q);
            let some = |list: ListId| mask >> list & 1 == 1;
            prop_assert_eq!(seen(&image, q, mask), model(&rules, q, &some), "query {} mask {:b}", q, mask);
        }
    }
}
