//! Target (d), structured: an image built from fuzzed rules must answer
//! every fuzzed query as a plain model does — a map of which lists give
//! each rule and a walk over the query's label suffixes — with every list
//! applying, and with only some (as for one client). The lists are
//! `$client` lists besides: those of the masked lookups for 10.0.0.1
//! alone, the others for every client but 10.0.0.1, so the policy's
//! lists for 10.0.0.1 must give the masked verdict and its lists for
//! 10.0.0.2 the verdict of the other lists.
//!
//! Input: byte 0 gives the number of lists (1–4; bits 2–5: which are
//! allowlists) and byte 1 the number of rules (up to 63); their top two
//! bits each say which lists apply to the client of the masked lookups. Each rule is a
//! header byte (list, subtree, allow, 1–3 labels, important) and one byte per label,
//! picking from a small alphabet so that names collide often; bit 7 of the
//! first label byte makes it a `$denyallow` subtree rule leaving out the
//! name under one more label (bits 3–5 pick it), and bit 6 also its
//! top-level name (which leaves no rule), read literally by the model. What is left
//! is queries: a header byte (1–24 labels, trailing dot) and one byte per
//! label: bytes below 0xF0 pick from the alphabet (bit 7 capitalizes), the
//! rest become one-byte labels of their own (`.`, capitals, non-ASCII).

use std::collections::{BTreeMap, HashMap};

use std::net::IpAddr;

use crate::groups::{ClientScope, ScopeClient, Weekday};
use crate::image::{Image, ImageBuilder, ListId, Match, Verdict};
use crate::resolve::policy::Policy;

/// Labels rule and query names are made of.
const ALPHABET: [&str; 8] = ["a", "b", "ab", "c", "xyz", "ads", "x-y", "_t"];
/// One-byte labels queries may hold besides the alphabet.
const ODD: [u8; 16] = [
    b'.', b'A', b'Z', b'0', b'-', b'*', b' ', 0, 0x7f, 0x80, 0xc3, 0xff, b'_', b'\\', b'a', b'B',
];

/// Per (name as labels, allow, important): each list that gives it, and
/// whether that list gave the subtree form.
type Plain = HashMap<(Vec<Vec<u8>>, bool, bool), BTreeMap<ListId, bool>>;

/// A `$denyallow` rule as given: list, name, allow, important (as the
/// image ranks it) and the names it leaves out, as labels.
type Guarded = (ListId, Vec<Vec<u8>>, bool, bool, Vec<Vec<Vec<u8>>>);

/// The rules without exemptions, merged, and those with, as given.
#[derive(Default)]
struct Model {
    plain: Plain,
    guarded: Vec<Guarded>,
}

/// Builds an image from the rules in `data` and checks every query in it
/// against the model. Panics when the image and the model disagree, or when
/// a freshly built image does not open or verify.
pub fn image_model(data: &[u8]) {
    let mut bytes = data.iter().copied();
    let (Some(head), Some(count)) = (bytes.next(), bytes.next()) else {
        return;
    };
    let lists = 1 + head % 4;
    let mut builder = ImageBuilder::new();
    let allow_list = |list: ListId| head >> (2 + list) & 1 == 1;
    let mask = (head >> 6) | (count >> 6) << 2;
    let some = |list: ListId| mask >> list & 1 == 1;
    let one = IpAddr::from([10, 0, 0, 1]);
    for list in 0..lists {
        let id = builder.add_list(&format!("list{list}"), allow_list(list.into()));
        let scope = ClientScope {
            exclude: !some(id),
            clients: vec![ScopeClient::Net(one.into())],
        };
        builder.set_scope(id, scope);
    }
    let mut model = Model::default();
    for _ in 0..count % 64 {
        let Some(rule) = bytes.next() else { break };
        let list = ListId::from(rule % lists);
        let subtree = rule & 0x04 != 0;
        let allow = rule & 0x08 != 0;
        let important = rule & 0x80 != 0;
        let mut first = None;
        let labels: Vec<&str> = (0..1 + (rule >> 4 & 0x07) % 3)
            .map_while(|_| bytes.next())
            .inspect(|&b| {
                first.get_or_insert(b);
            })
            .map(|b| ALPHABET[usize::from(b) % ALPHABET.len()])
            .collect();
        let (Some(first), false) = (first, labels.is_empty()) else {
            // The input ended inside the rule.
            break;
        };
        let name = labels.join(".");
        let key: Vec<Vec<u8>> = labels.iter().map(|l| l.as_bytes().to_vec()).collect();
        // The household's allowlists outrank every block: their allows
        // are important.
        let ranked = important || (allow && allow_list(list));
        if first & 0x80 != 0 {
            let below = ALPHABET[usize::from(first >> 3 & 0x07)];
            let mut exempt = vec![format!("{below}.{name}")];
            if first & 0x40 != 0 {
                exempt.push(labels[labels.len() - 1].to_owned());
            }
            let exempt_str = exempt.iter().map(String::as_str);
            builder.add_denyallow_rule(list, &name, (allow, important), exempt_str);
            let exempt = exempt
                .iter()
                .map(|e| e.split('.').map(|l| l.as_bytes().to_vec()).collect())
                .collect();
            model.guarded.push((list, key, allow, ranked, exempt));
            continue;
        }
        builder.add_rule_with(list, &name, subtree, allow, important);
        *model
            .plain
            .entry((key, allow, ranked))
            .or_default()
            .entry(list)
            .or_insert(false) |= subtree;
    }
    // One entry per name, kind, importance and form (rules with
    // exemptions add their own).
    let entries: usize = model
        .plain
        .values()
        .map(|lists| {
            usize::from(lists.values().any(|&s| s)) + usize::from(lists.values().any(|&s| !s))
        })
        .sum();
    let plain_only = model.guarded.is_empty();
    if plain_only {
        assert_eq!(builder.len(), entries, "merged rule count");
    }
    let image = Image::open(builder.build(1)).unwrap_or_else(|e| panic!("fresh image: {e}"));
    image
        .verify()
        .unwrap_or_else(|e| panic!("fresh image verifies: {e}"));
    if plain_only {
        assert_eq!(image.rule_count(), entries);
    }
    let policy = Policy::new(&image, Weekday::Mon, 0, &HashMap::new());
    let others = |list: ListId| !some(list);
    let clients: [(IpAddr, &dyn Fn(ListId) -> bool); 2] =
        [(one, &some), (IpAddr::from([10, 0, 0, 2]), &others)];

    while let Some(query) = bytes.next() {
        let labels: Vec<Vec<u8>> = (0..1 + (query & 0x7f) % 24)
            .map_while(|_| bytes.next())
            .map(|b| match b {
                0xf0.. => vec![ODD[usize::from(b & 0x0f)]],
                _ => {
                    let label = ALPHABET[usize::from(b & 0x7f) % ALPHABET.len()];
                    if b & 0x80 != 0 {
                        label.to_ascii_uppercase().into_bytes()
                    } else {
                        label.as_bytes().to_vec()
                    }
                }
            })
            .collect();
        let root = query & 0x80 != 0;
        let want = verdict(&model, &labels, &|_| true);
        let mut wire: Vec<&[u8]> = labels.iter().map(Vec::as_slice).collect();
        if root {
            wire.push(b"");
        }
        assert_eq!(
            image.lookup_labels(wire.iter().copied()),
            want,
            "labels {labels:?}"
        );
        assert_eq!(
            image.lookup_labels_for(wire.iter().copied(), some),
            verdict(&model, &labels, &some),
            "labels {labels:?} for lists {mask:04b}"
        );
        for (client, applies) in clients {
            let lists = policy.lists_for(policy.groups_now(client, None), client, None);
            assert_eq!(
                image.lookup_labels_for(wire.iter().copied(), |l| lists.applies(l)),
                verdict(&model, &labels, applies),
                "labels {labels:?} from {client}, lists {mask:04b} for 10.0.0.1"
            );
        }
        // As text only when no label holds a dot: the text form splits there.
        if labels.iter().all(|l| !l.contains(&b'.'))
            && let Ok(text) = String::from_utf8(labels.join(&b'.'))
        {
            let text = if root { format!("{text}.") } else { text };
            assert_eq!(image.lookup(&text), want, "name {text:?}");
        }
    }
}

/// The model's verdict among the lists that `applies` accepts, in
/// urlfilter's order with the allowlists on top: the most specific
/// important allow, else the most specific important block, else the most
/// specific allow, else the most specific block; an allow names the block
/// it beats, an important one first. Subtree rules match every suffix,
/// exact rules the whole name, `$denyallow` rules every suffix but their
/// exempt names and the names below them; at one suffix, the first list,
/// its subtree rule before its exact one.
fn verdict(model: &Model, labels: &[Vec<u8>], applies: &dyn Fn(ListId) -> bool) -> Verdict {
    let lower: Vec<Vec<u8>> = labels.iter().map(|l| l.to_ascii_lowercase()).collect();
    let best = |allow: bool, important: bool| {
        let mut best = None;
        for start in (0..lower.len()).rev() {
            let suffix = lower[start..].to_vec();
            let plain = model.plain.get(&(suffix.clone(), allow, important));
            let mut here: Vec<(ListId, bool)> = plain
                .into_iter()
                .flatten()
                .filter(|&(_, &subtree)| subtree || start == 0)
                .map(|(&list, &subtree)| (list, subtree))
                .collect();
            for (list, name, a, i, exempt) in &model.guarded {
                let left_out = exempt.iter().any(|e| lower.ends_with(e));
                if *name == suffix && (*a, *i) == (allow, important) && !left_out {
                    here.push((*list, true));
                }
            }
            here.sort_by_key(|&(list, subtree)| (list, !subtree));
            let first = here.into_iter().find(|&(list, _)| applies(list));
            if let Some((list, subtree)) = first {
                best = Some(Match {
                    list,
                    subtree,
                    regex: None,
                    labels: u8::try_from(lower.len() - start).unwrap_or(u8::MAX),
                    important,
                });
            }
        }
        best
    };
    let important_block = best(false, true);
    let block = important_block.or(best(false, false));
    if let Some(allow) = best(true, true) {
        return Verdict::Allowed {
            allow,
            overrides: block,
        };
    }
    if let Some(block) = important_block {
        return Verdict::Blocked(block);
    }
    match (best(true, false), block) {
        (Some(allow), overrides) => Verdict::Allowed { allow, overrides },
        (None, Some(block)) => Verdict::Blocked(block),
        (None, None) => Verdict::NotListed,
    }
}
