//! Sources → image: reads every `[[lists]]` and `[[allowlists]]` file,
//! parses it with [`crate::lists`], and compiles one [`crate::image`].
//! A missing or unreadable file is reported and compiled as empty; a bad
//! line is counted and reported with its source and line number, never fatal.

use std::path::PathBuf;

use tracing::{info, warn};

use crate::config::{Config, ListSource};
use crate::image::ImageBuilder;
use crate::lists::{self, ParseOptions, Stats};

/// What one source yielded.
#[derive(Debug)]
pub struct SourceReport {
    /// The list's config name.
    pub name: String,
    /// The file read.
    pub path: Option<PathBuf>,
    /// Parse counts; `None` when the file could not be read.
    pub stats: Option<Stats>,
    /// Why the file could not be read.
    pub error: Option<String>,
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

/// Compiles every source of `config` into an image with `generation`,
/// logging one line per source.
pub fn compile(config: &Config, generation: u64) -> Compiled {
    let mut builder = ImageBuilder::new();
    let mut reports = Vec::new();
    let sources = config
        .lists
        .iter()
        .map(|s| (s, false))
        .chain(config.allowlists.iter().map(|s| (s, true)));
    for (source, allow) in sources {
        let report = add_source(&mut builder, config, source, allow);
        match (&report.stats, &report.error) {
            (Some(stats), _) => {
                info!(list = %report.name, allow, counts = %stats.summary(), "list compiled");
                for issue in &stats.examples {
                    info!(list = %report.name, line = issue.line, reason = %issue.reason, text = %issue.text, "list line not used");
                }
            }
            (None, Some(error)) => {
                warn!(list = %report.name, %error, "list not read; it contributes no rules")
            }
            (None, None) => {}
        }
        reports.push(report);
    }
    let rules = builder.len();
    Compiled {
        image: builder.build(generation),
        rules,
        reports,
    }
}

fn add_source(
    builder: &mut ImageBuilder,
    config: &Config,
    source: &ListSource,
    allow: bool,
) -> SourceReport {
    let path = source.resolved_path(&config.base_dir);
    let mut report = SourceReport {
        name: source.name.clone(),
        path: path.clone(),
        stats: None,
        error: None,
    };
    let Some(path) = path else {
        report.error = Some("no path".into());
        return report;
    };
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => {
            report.error = Some(format!("{}: {e}", path.display()));
            return report;
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    let list = builder.add_list(&source.name, allow);
    let options = ParseOptions {
        allow,
        subdomains: source.subdomains,
        format: source.format,
    };
    let stats = lists::parse(&text, options, |rule| {
        builder.add_rule(list, rule.name, rule.subtree, rule.allow)
    });
    report.stats = Some(stats);
    report
}
