//! `telemetry::Error`: making or opening the telemetry segment, each message
//! saying what to do about it.

use std::io;
use std::path::PathBuf;

/// Why the telemetry segment could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No segment at the path: no server has run with this runtime folder.
    #[error(
        "no telemetry at {path}: ralo serve is not running with this config (it makes the segment when it starts; check --config and [paths] runtime)"
    )]
    Missing {
        /// The segment's path.
        path: PathBuf,
    },

    /// The segment exists but cannot be opened or mapped.
    #[error("cannot read the telemetry segment {path}: {source}")]
    Open {
        /// The segment's path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },

    /// The server could not make the segment.
    #[error(
        "cannot create the telemetry segment {path}: {source} (check that [paths] runtime is writable)"
    )]
    Create {
        /// The segment's path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },

    /// The file does not start with the telemetry magic.
    #[error(
        "{path} is not a ralo telemetry segment (bad magic); restarting ralo serve replaces it"
    )]
    NotSegment {
        /// The segment's path.
        path: PathBuf,
    },

    /// The segment has a layout version this ralo does not read.
    #[error(
        "{path} has telemetry layout version {found}, but this ralo reads version {supported} only: {hint}"
    )]
    Version {
        /// The segment's path.
        path: PathBuf,
        /// The version in the segment.
        found: u64,
        /// The version this build reads.
        supported: u64,
        /// Which side to upgrade.
        hint: &'static str,
    },

    /// The header's sizes do not fit the file or each other.
    #[error(
        "{path} has an inconsistent telemetry layout ({reason}); restarting ralo serve replaces it"
    )]
    Layout {
        /// The segment's path.
        path: PathBuf,
        /// What does not fit.
        reason: String,
    },

    /// A ring size the layout cannot take.
    #[error(
        "{slots} ring slots: give a power of two from {min} to {max} (telemetry.ring_slots)",
        min = super::layout::MIN_SLOTS,
        max = super::layout::MAX_SLOTS
    )]
    RingSize {
        /// The size asked for.
        slots: usize,
    },
}

impl Error {
    /// The hint for a version mismatch: which binary is the older one.
    pub(super) fn version_hint(found: u64, supported: u64) -> &'static str {
        if found > supported {
            "the running server is newer than this ralo; run the ralo binary that matches it"
        } else {
            "the running server is older than this ralo; restart it with this ralo binary"
        }
    }
}
