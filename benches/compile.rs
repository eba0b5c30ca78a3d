//! What turning list text into an image costs the updater, in names and
//! megabytes per second, two steps:
//!
//! - `parse`: `lists::parse` alone (classify, normalize, drop duplicates);
//! - `compile`: `compile::compile`, the updater's whole step from list text
//!   to image bytes (parse, add every rule to the builder, sort, index,
//!   checksum), with no previous image to compare against.
//!
//! On the real lists of the shared data folder (skipped with a message when
//! it is absent) and on 1,000,000 seeded synthetic names written as a hosts
//! file (`0.0.0.0 name`, the side-by-side benchmark's list format). The
//! element count is the rules a list yields; the byte count its text.
//!
//! Run: `cargo bench --bench compile`.

mod support;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use ralo::compile::{self, Loaded};
use ralo::config::Config;
use ralo::image::Image;
use ralo::lists::{self, Format, ParseOptions};
use ralo::sources::ListText;

use support::{data, synthetic};

/// One list text and the config entry that reads it.
struct Source {
    label: &'static str,
    format: Format,
    text: String,
    /// The same text, as the compile takes it.
    list: ListText,
}

impl Source {
    fn options(&self) -> ParseOptions {
        ParseOptions {
            format: self.format,
            ..ParseOptions::default()
        }
    }
}

/// The real lists, if the shared data folder is there.
fn real() -> Vec<Source> {
    let Some(folder) = data::folder("the real lists (hagezi, adguard, adaway)") else {
        return Vec::new();
    };
    [
        ("hagezi-domains", Format::Domains, data::HAGEZI_DOMAINS),
        ("hagezi-adblock", Format::Adblock, data::HAGEZI_ADBLOCK),
        ("adguard-adblock", Format::Adblock, data::ADGUARD),
        ("adaway-hosts", Format::Hosts, data::ADAWAY),
    ]
    .into_iter()
    .map(|(label, format, relative)| {
        let text = data::read(&folder, relative);
        Source {
            label,
            format,
            list: ListText::from(text.as_str()),
            text,
        }
    })
    .collect()
}

fn synthetic_1m() -> Source {
    let names = synthetic::names(1_000_000, synthetic::LIST_SEED);
    let text = synthetic::hosts_text(&names);
    Source {
        label: "synthetic-1m-hosts",
        format: Format::Hosts,
        list: ListText::from(text.as_str()),
        text,
    }
}

/// A config with one `[[lists]]` entry in `format`, for `compile::compile`.
fn config(format: Format) -> Config {
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[upstream]\nservers = [\"127.0.0.1:9\"]\n\
         [[lists]]\nname = \"bench\"\npath = \"bench.txt\"\nformat = \"{format}\"\n"
    );
    Config::parse(&text, "bench config", PathBuf::from(".")).expect("bench config is valid")
}

fn parse_count(source: &Source) -> u64 {
    let mut rules = 0u64;
    lists::parse(&source.text, source.options(), |_| rules += 1);
    rules
}

fn compile_image(config: &Config, source: &Source) -> Vec<u8> {
    let loaded = [Loaded {
        source: &config.lists[0],
        allow: false,
        groups: 1,
        text: Ok(&source.list),
    }];
    compile::compile::<Vec<u8>>(
        &loaded,
        &compile::Audience::default(),
        None,
        1,
        compile::Caps {
            per_list: u64::MAX,
            total: u64::MAX,
        },
    )
    .image
}

fn compiles(c: &mut Criterion) {
    let sources: Vec<Source> = real().into_iter().chain([synthetic_1m()]).collect();
    let mut group = c.benchmark_group("compile");
    // One run of the 1M list takes most of a second: ten runs a sample set,
    // not criterion's default growing counts.
    group.sampling_mode(SamplingMode::Flat);
    for source in &sources {
        let config = config(source.format);
        let rules = parse_count(source);
        let image = Image::open(compile_image(&config, source)).expect("image opens");
        image.verify().expect("image verifies");
        assert!(rules > 0, "{} yields no rules", source.label);
        assert!(image.rule_count() > 0, "{}: empty image", source.label);
        println!(
            "{}: {} bytes of text, {rules} rules parsed, {} in the image of {} bytes",
            source.label,
            source.text.len(),
            image.rule_count(),
            image.as_bytes().len()
        );

        group.throughput(Throughput::ElementsAndBytes {
            elements: rules,
            bytes: source.text.len() as u64,
        });
        let big = source.text.len() > 8 << 20;
        group.sample_size(if big { 10 } else { 20 });
        group.measurement_time(Duration::from_secs(if big { 8 } else { 3 }));
        group.bench_with_input(BenchmarkId::new("parse", source.label), source, |b, s| {
            b.iter(|| parse_count(black_box(s)))
        });
        group.bench_with_input(BenchmarkId::new("compile", source.label), source, |b, s| {
            b.iter(|| compile_image(&config, black_box(s)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = compiles
}
criterion_main!(benches);
