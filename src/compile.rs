//! List texts → image: parses every `[[lists]]` and `[[allowlists]]` text
//! with [`crate::lists`] and compiles one [`crate::image`], reporting per
//! source what it yielded and, against the image serving before, what it
//! adds and removes. A source without text (a missing file, a download that
//! failed with no last good copy) is reported and contributes nothing; a bad
//! line is counted and reported with its source and line number, never fatal.
//! The rules are capped ([`Caps`]): per list, and over all lists; rules past
//! a cap are left out, counted in the report and warned about, so a
//! runaway list cannot take the updater's memory.

use tracing::{info, warn};

use crate::config::{self, Config, ListSource};
use crate::image::{Image, ImageBuilder, Verdict};
use crate::lists::{self, ParseOptions, Stats};

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
        source: crate::sources::LocalError,
    },
    /// A downloaded list, which `ralo serve --check` does not fetch.
    #[error("a downloaded list: `ralo update` fetches it")]
    NotLocal,
    /// The source names neither a path nor a URL.
    #[error("the list has no `path` or `url`")]
    Nowhere,
}

/// One source and its text, ready to compile.
#[derive(Debug)]
pub struct Loaded<'a> {
    /// The configured source.
    pub source: &'a ListSource,
    /// An allowlist.
    pub allow: bool,
    /// Its text, or why there is none.
    pub text: Result<&'a str, &'a NoText>,
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
    let texts: Vec<(&ListSource, bool, Result<String, NoText>)> = sources(config)
        .map(|(source, allow)| {
            let text = match source.resolved_path(&config.base_dir) {
                Some(path) => crate::sources::read_list_file(&path, config.update.max_bytes())
                    .map(crate::sources::into_text)
                    .map_err(|source| NoText::File { path, source }),
                None => Err(NoText::NotLocal),
            };
            (source, allow, text)
        })
        .collect();
    compile::<Vec<u8>>(&borrow(&texts), None, generation, Caps::of(&config.update))
}

/// Sources with their texts (or why there is none), as [`Loaded`] items.
pub fn borrow<S: std::borrow::Borrow<ListSource>>(
    texts: &[(S, bool, Result<String, NoText>)],
) -> Vec<Loaded<'_>> {
    texts
        .iter()
        .map(|(source, allow, text)| Loaded {
            source: source.borrow(),
            allow: *allow,
            text: text.as_deref(),
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
/// source; `previous` (the image serving now) is compared for the report.
/// At most `caps` rules are taken, in list and line order.
pub fn compile<B: AsRef<[u8]>>(
    loaded: &[Loaded<'_>],
    previous: Option<&Image<B>>,
    generation: u64,
    caps: Caps,
) -> Compiled {
    let mut builder = ImageBuilder::new();
    let mut reports = Vec::with_capacity(loaded.len());
    let mut taken = 0u64;
    for item in loaded {
        let report = add(&mut builder, item, previous, caps, &mut taken);
        log(&report, item.allow);
        reports.push(report);
    }
    let rules = builder.len();
    Compiled {
        image: builder.build(generation),
        rules,
        reports,
    }
}

/// Adds one source's rules; `taken` counts the rules of every list so far.
fn add<B: AsRef<[u8]>>(
    builder: &mut ImageBuilder,
    item: &Loaded<'_>,
    previous: Option<&Image<B>>,
    caps: Caps,
    taken: &mut u64,
) -> SourceReport {
    let mut report = SourceReport {
        name: item.source.name.clone(),
        stats: None,
        error: None,
        added: 0,
        removed: 0,
        added_examples: Vec::new(),
        capped: 0,
        capped_by: None,
    };
    let text = match &item.text {
        Ok(text) => text,
        Err(error) => {
            report.error = Some(error.to_string());
            report.removed = previous_count(previous, &item.source.name);
            return report;
        }
    };
    let list = builder.add_list(&item.source.name, item.allow);
    // At most one rule per line.
    builder.reserve(text.bytes().filter(|&b| b == b'\n').count() + 1);
    let options = ParseOptions {
        allow: item.allow,
        subdomains: item.source.subdomains,
        format: item.source.format,
    };
    let mut kept = 0u64;
    let mut mine = 0u64;
    let stats = lists::parse(text, options, |rule| {
        let cap = if mine >= caps.per_list {
            Some("update.max_list_entries")
        } else if *taken >= caps.total {
            Some("update.max_entries")
        } else {
            None
        };
        if let Some(key) = cap {
            report.capped += 1;
            report.capped_by.get_or_insert(key);
            return;
        }
        mine += 1;
        *taken += 1;
        builder.add_rule(list, rule.name, rule.subtree, rule.allow);
        let Some(previous) = previous else { return };
        if had_rule(previous, rule.name, rule.allow) {
            kept += 1;
        } else {
            report.added += 1;
            if report.added_examples.len() < EXAMPLES {
                report.added_examples.push(rule.name.to_owned());
            }
        }
    });
    report.removed = previous_count(previous, &item.source.name).saturating_sub(kept);
    report.stats = Some(stats);
    report
}

/// Whether `previous` has a rule on exactly `name` of the same kind.
fn had_rule<B: AsRef<[u8]>>(previous: &Image<B>, name: &str, allow: bool) -> bool {
    let labels = name.split('.').count();
    let exact = |m: crate::image::Match| usize::from(m.labels) == labels;
    match previous.lookup(name) {
        Verdict::Blocked(m) => !allow && exact(m),
        Verdict::Allowed {
            allow: a,
            overrides,
        } => {
            if allow {
                exact(a)
            } else {
                overrides.is_some_and(exact)
            }
        }
        Verdict::NotListed => false,
    }
}

/// Rules the previous image attributes to the list called `name`.
fn previous_count<B: AsRef<[u8]>>(previous: Option<&Image<B>>, name: &str) -> u64 {
    let Some(image) = previous else { return 0 };
    (0..image.list_count())
        .filter_map(|i| u16::try_from(i).ok())
        .find(|&id| image.list_name(id) == Some(name))
        .and_then(|id| image.list_rule_count(id))
        .unwrap_or(0)
}

fn log(report: &SourceReport, allow: bool) {
    let name = &report.name;
    match (&report.stats, &report.error) {
        (Some(stats), _) => {
            info!(list = %name, allow, counts = %stats.summary(), added = report.added, removed = report.removed, examples = ?report.added_examples, "list compiled");
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

    fn source(name: &str) -> ListSource {
        ListSource {
            name: name.into(),
            path: Some(format!("{name}.txt").into()),
            url: None,
            allow_http: false,
            household: false,
            format: lists::Format::Auto,
            subdomains: false,
            enabled: true,
            comment: None,
        }
    }

    fn names(prefix: &str, n: usize) -> String {
        (0..n).map(|i| format!("{prefix}{i}.example\n")).collect()
    }

    fn compile_with(texts: &[(&ListSource, &str)], caps: Caps) -> Compiled {
        let loaded: Vec<Loaded<'_>> = texts
            .iter()
            .map(|(source, text)| Loaded {
                source,
                allow: false,
                text: Ok(text),
            })
            .collect();
        compile::<Vec<u8>>(&loaded, None, 1, caps)
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
