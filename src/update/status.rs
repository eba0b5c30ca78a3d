//! What the last update did, in `<runtime>/update-status.json`: when it ran,
//! whether it was published (or why not: a refused publish, the guard
//! against a collapsed list, no source readable), and per list its counts
//! and its fetch result. The updater writes it after every run; `ralo web`
//! reads it for the lists page, so the web process never parses list text.
//! It lives in the runtime folder (tmpfs on the Pi): rewritten by every
//! update, it costs the SD card nothing, and it can still say why an image
//! was not saved when the state folder's disk is full.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::compile::SourceReport;

/// The last update's outcome.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// When the update ended (ms since the Unix epoch).
    pub time_unix_ms: u64,
    /// Whether a new image was published (or stored for a server to come).
    pub published: bool,
    /// The image generation serving after it (0: unknown).
    pub generation: u64,
    /// What happened, in words: "published generation 7 with 81,234 rules",
    /// or why nothing was published.
    pub message: String,
    /// One entry per list that was compiled, block lists first.
    pub lists: Vec<ListStatus>,
}

/// One list in the last update.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ListStatus {
    /// The list's config name.
    pub name: String,
    /// Rules taken from it.
    pub rules: u64,
    /// Lines that are not valid rules.
    pub invalid: u64,
    /// Lines skipped (unsupported syntax, e.g. cosmetic adblock rules).
    pub skipped: u64,
    /// Rules not in the previous image.
    pub added: u64,
    /// Rules gone since the previous image.
    pub removed: u64,
    /// Why its text was missing this time, if it was (the last good copy
    /// is used where there is one).
    pub error: Option<String>,
}

impl ListStatus {
    /// The status of one compiled source.
    pub fn of(report: &SourceReport) -> ListStatus {
        let stats = report.stats.as_ref();
        ListStatus {
            name: report.name.clone(),
            rules: stats.map_or(0, |s| s.accepted),
            invalid: stats.map_or(0, |s| s.invalid),
            skipped: stats.map_or(0, |s| s.skipped),
            added: report.added,
            removed: report.removed,
            error: report.error.clone(),
        }
    }
}

/// The status file in the runtime folder.
pub fn path(runtime: &Path) -> PathBuf {
    runtime.join("update-status.json")
}

impl Status {
    /// Writes the status (atomically); a failure is the caller's to log.
    pub fn store(&self, runtime: &Path) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::exchange::write_atomic(&text, &path(runtime)).map_err(std::io::Error::other)
    }

    /// The last status, if an update ever wrote one that reads.
    pub fn load(runtime: &Path) -> Option<Status> {
        let bytes = std::fs::read(path(runtime)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Status::load(dir.path()), None);
        let status = Status {
            time_unix_ms: 1,
            published: false,
            generation: 3,
            message: "the server refused the image".into(),
            lists: vec![ListStatus {
                name: "default".into(),
                rules: 10,
                error: Some("timed out".into()),
                ..ListStatus::default()
            }],
        };
        status.store(dir.path()).unwrap();
        assert_eq!(Status::load(dir.path()), Some(status));
        std::fs::write(path(dir.path()), b"{not json").unwrap();
        assert_eq!(Status::load(dir.path()), None);
    }
}
