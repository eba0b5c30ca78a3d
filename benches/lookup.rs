//! What one blocklist lookup costs the server: `Image::lookup_labels` on the
//! labels of a hickory `Name`, as `resolve/decide.rs` calls it for every
//! query, in an image mapped from a sealed memfd as `ralo serve` maps the
//! updater's. Two lists:
//!
//! - `hagezi`: the real hagezi light list (176,041 names) from the shared
//!   data folder, skipped with a message when the folder is absent;
//! - `synthetic-1m`: 1,000,000 seeded tracker-like names (`support/synthetic.rs`).
//!
//! Every rule covers its subdomains (`subdomains = true`), so three kinds of
//! query: `hit` (a listed name), `miss` (a name no rule covers: for hagezi the
//! popular Tranco names it does not list, for the synthetic list names from
//! another seed) and `deep` (four more labels in front of a listed name,
//! blocked through that ancestor). Each iteration looks up 10,000 names in a
//! seeded random order, so the reads spread over the whole image as real
//! traffic does. Before timing, every query's verdict is checked.
//!
//! Run: `cargo bench --bench lookup`.

mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hickory_proto::rr::Name;
use ralo::exchange::{Mapping, SealedImage};
use ralo::image::{Image, ImageBuilder, Verdict};
use ralo::lists::{self, Format, ParseOptions};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use support::{data, synthetic};

/// Names looked up per iteration.
const QUERIES: usize = 10_000;

/// One list's image and its three query sets.
struct Set {
    label: &'static str,
    image: Image<Mapping>,
    hit: Vec<Name>,
    miss: Vec<Name>,
    deep: Vec<Name>,
}

/// An image holding `names` as subtree rules of one block list, mapped from
/// a sealed memfd.
fn image_of(names: &[String]) -> Image<Mapping> {
    let mut builder = ImageBuilder::new();
    let list = builder.add_list("bench", false);
    for name in names {
        builder.add_rule(list, name, true, false);
    }
    let bytes = builder.build(1);
    let sealed = SealedImage::create(&bytes, "ralo-bench").expect("sealed memfd");
    let image = Image::open(sealed.map().expect("mapping")).expect("image opens");
    image.verify().expect("image verifies");
    image
}

/// A fully qualified name, as hickory parses it from the wire.
fn fqdn(name: &str) -> Name {
    Name::from_ascii(format!("{name}.")).expect("valid name")
}

/// `QUERIES` names drawn from `names` in a seeded random order.
fn sample(names: &[String], rng: &mut StdRng) -> Vec<String> {
    (0..QUERIES)
        .map(|_| names.choose(rng).expect("a non-empty list").clone())
        .collect()
}

/// Four random labels in front of each name.
fn deepen(names: &[String], rng: &mut StdRng) -> Vec<String> {
    names
        .iter()
        .map(|name| {
            let prefix: Vec<String> = (0..4)
                .map(|_| {
                    let longest = rng.random_range(2..=8);
                    synthetic::label(rng, 1, longest)
                })
                .collect();
            format!("{}.{name}", prefix.join("."))
        })
        .collect()
}

/// Checks each kind of query against the image, then builds the set.
fn set(
    label: &'static str,
    image: Image<Mapping>,
    hit: Vec<String>,
    miss: Vec<String>,
    rng: &mut StdRng,
) -> Set {
    let deep = deepen(&hit, rng);
    for name in &hit {
        assert!(
            matches!(image.lookup(name), Verdict::Blocked(m) if usize::from(m.labels) == name.split('.').count()),
            "{label}: listed name {name} is not blocked by its own rule"
        );
    }
    for name in &miss {
        assert_eq!(image.lookup(name), Verdict::NotListed, "{label}: {name}");
    }
    for name in &deep {
        assert!(
            matches!(image.lookup(name), Verdict::Blocked(m) if usize::from(m.labels) + 4 <= name.split('.').count()),
            "{label}: {name} is not blocked through its listed ancestor"
        );
    }
    let names = |v: &[String]| v.iter().map(|n| fqdn(n)).collect::<Vec<_>>();
    Set {
        label,
        hit: names(&hit),
        miss: names(&miss),
        deep: names(&deep),
        image,
    }
}

/// The hagezi light list; misses are the popular names it does not list.
fn hagezi(rng: &mut StdRng) -> Option<Set> {
    let folder = data::folder("the hagezi lookup set")?;
    let mut names = Vec::new();
    let options = ParseOptions {
        format: Format::Domains,
        ..ParseOptions::default()
    };
    let text = data::read(&folder, data::HAGEZI_DOMAINS);
    let stats = lists::parse(&text, options, |rule| names.push(rule.name.to_owned()));
    assert_eq!(stats.accepted, 176_041, "the hagezi light list changed");
    let image = image_of(&names);

    let mut popular = Vec::new();
    let text = data::read(&folder, data::POPULAR);
    lists::parse(&text, options, |rule| {
        if image.lookup(rule.name) == Verdict::NotListed {
            popular.push(rule.name.to_owned());
        }
    });
    assert!(popular.len() > 40_000, "{} unlisted names", popular.len());
    let hit = sample(&names, rng);
    let miss = sample(&popular, rng);
    Some(set("hagezi", image, hit, miss, rng))
}

/// One million synthetic names; misses come from another seed.
fn synthetic_1m(rng: &mut StdRng) -> Set {
    let names = synthetic::names(1_000_000, synthetic::LIST_SEED);
    let image = image_of(&names);
    let others: Vec<String> = synthetic::names(200_000, synthetic::LIST_SEED + 1)
        .into_iter()
        .filter(|n| image.lookup(n) == Verdict::NotListed)
        .collect();
    let hit = sample(&names, rng);
    let miss = sample(&others, rng);
    set("synthetic-1m", image, hit, miss, rng)
}

/// Looks every name up; counts the blocked ones so no lookup is optimized away.
fn blocked(image: &Image<Mapping>, names: &[Name]) -> usize {
    names
        .iter()
        .filter(|n| matches!(image.lookup_labels(n.iter()), Verdict::Blocked(_)))
        .count()
}

fn lookups(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(7);
    let sets: Vec<Set> = hagezi(&mut rng)
        .into_iter()
        .chain([synthetic_1m(&mut rng)])
        .collect();
    for set in &sets {
        let mut group = c.benchmark_group(format!("lookup/{}", set.label));
        group.throughput(Throughput::Elements(QUERIES as u64));
        for (kind, names, expect) in [
            ("hit", &set.hit, QUERIES),
            ("miss", &set.miss, 0),
            ("deep", &set.deep, QUERIES),
        ] {
            assert_eq!(blocked(&set.image, names), expect, "{} {kind}", set.label);
            group.bench_function(kind, |b| b.iter(|| blocked(&set.image, black_box(names))));
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = lookups
}
criterion_main!(benches);
