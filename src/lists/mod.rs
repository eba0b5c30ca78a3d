//! Parsing blocklist and allowlist text (hosts, plain domains, adblock,
//! regex) into rules with line numbers and per-source counts; free of
//! server concerns so the updater can run it on its own.

mod adblock;
mod badfilter;
mod dnsrewrite;
mod hosts;
mod line;
mod name;
mod options;
mod parse;
mod reason;
mod regex;
mod stats;

#[cfg(test)]
mod data_tests;
#[cfg(test)]
mod properties;

pub use badfilter::Badfilters;
pub use options::{Format, ParseOptions};
pub use parse::{MAX_LINE_BYTES, Rule, parse, parse_reader, parse_reader_with};
pub(crate) use regex::syntax_config as regex_syntax;
pub use stats::{IssueKind, LineIssue, Stats};
