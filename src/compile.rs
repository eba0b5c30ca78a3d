//! List texts → image: parses every `[[lists]]` and `[[allowlists]]` text
//! with [`crate::lists`] and compiles one [`crate::image`], reporting per
//! source what it yielded and, against the image serving before, what it
//! adds and removes. A source without text (a missing file, a download that
//! failed with no last good copy) is reported and contributes nothing; a bad
//! line is counted and reported with its source and line number, never fatal.

use tracing::{info, warn};

use crate::config::{Config, ListSource};
use crate::image::{Image, ImageBuilder, Verdict};
use crate::lists::{self, ParseOptions, Stats};

/// How many added names a report keeps as examples.
const EXAMPLES: usize = 3;

/// One source and its text, ready to compile.
#[derive(Debug)]
pub struct Loaded<'a> {
    /// The configured source.
    pub source: &'a ListSource,
    /// An allowlist.
    pub allow: bool,
    /// Its text, or why there is none.
    pub text: Result<&'a str, &'a str>,
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
    let texts: Vec<(&ListSource, bool, Result<String, String>)> = sources(config)
        .map(|(source, allow)| {
            let text = match source.resolved_path(&config.base_dir) {
                Some(path) => std::fs::read(&path)
                    .map(crate::sources::into_text)
                    .map_err(|e| format!("{}: {e}", path.display())),
                None => Err("not a local file".to_owned()),
            };
            (source, allow, text)
        })
        .collect();
    compile::<Vec<u8>>(&borrow(&texts), None, generation)
}

/// Sources with their texts (or why there is none), as [`Loaded`] items.
pub fn borrow<S: std::borrow::Borrow<ListSource>>(
    texts: &[(S, bool, Result<String, String>)],
) -> Vec<Loaded<'_>> {
    texts
        .iter()
        .map(|(source, allow, text)| Loaded {
            source: source.borrow(),
            allow: *allow,
            text: text.as_deref().map_err(String::as_str),
        })
        .collect()
}

/// The configured sources, block lists first, each with its allow flag.
pub fn sources(config: &Config) -> impl Iterator<Item = (&ListSource, bool)> {
    let blocks = config.lists.iter().map(|s| (s, false));
    blocks.chain(config.allowlists.iter().map(|s| (s, true)))
}

/// Compiles `loaded` into an image with `generation`, logging one line per
/// source; `previous` (the image serving now) is compared for the report.
pub fn compile<B: AsRef<[u8]>>(
    loaded: &[Loaded<'_>],
    previous: Option<&Image<B>>,
    generation: u64,
) -> Compiled {
    let mut builder = ImageBuilder::new();
    let mut reports = Vec::with_capacity(loaded.len());
    for item in loaded {
        let report = add(&mut builder, item, previous);
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

fn add<B: AsRef<[u8]>>(
    builder: &mut ImageBuilder,
    item: &Loaded<'_>,
    previous: Option<&Image<B>>,
) -> SourceReport {
    let mut report = SourceReport {
        name: item.source.name.clone(),
        stats: None,
        error: None,
        added: 0,
        removed: 0,
        added_examples: Vec::new(),
    };
    let text = match &item.text {
        Ok(text) => text,
        Err(error) => {
            report.error = Some((*error).to_owned());
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
    let stats = lists::parse(text, options, |rule| {
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
