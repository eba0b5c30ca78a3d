//! Why the history could not be opened, written or read: each error says
//! what to do about it.

use std::path::PathBuf;

use rusqlite::ErrorCode;

use super::store::MAX_BUCKETS;

/// Why the history could not be opened, written or read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file cannot be opened or set up.
    #[error(
        "cannot open the query history {path}: {source} (check that its folder exists and that ralo web may write there)"
    )]
    Open {
        /// The history's path.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },

    /// The file is damaged or another program's database.
    #[error(
        "{path} is not a ralo query history ({reason}): move it away; ralo web starts a new history"
    )]
    NotHistory {
        /// The history's path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The file was written by a newer ralo.
    #[error(
        "{path} is a query history of schema version {found}, but this ralo reads version {supported}: run the newer ralo, or move the file away to start a new history"
    )]
    Newer {
        /// The history's path.
        path: PathBuf,
        /// The version in the file.
        found: i64,
        /// The version this build reads.
        supported: i64,
    },

    /// SQLite found the file damaged while in use.
    #[error(
        "the query history is damaged ({source}): stop ralo web and move the file away; it starts a new history"
    )]
    Damaged {
        /// What SQLite said.
        source: rusqlite::Error,
    },

    /// The file holds a value this code never writes.
    #[error(
        "the query history holds {what}, which ralo never writes: move the file away; ralo web starts a new history"
    )]
    Value {
        /// The value and where it was.
        what: String,
    },

    /// A chart range that cannot be cut into slots.
    #[error(
        "cannot cut {from_ms}..{until_ms} ms into slots of {slot_ms} ms: give a slot of at least 1 ms and at most {MAX_BUCKETS} slots"
    )]
    Range {
        /// Start of the range (ms since the Unix epoch).
        from_ms: u64,
        /// End of the range.
        until_ms: u64,
        /// The slot length asked for.
        slot_ms: u64,
    },

    /// Any other SQLite failure (a full disk, a locked file).
    #[error("the query history failed: {0}")]
    Sql(rusqlite::Error),
}

impl From<rusqlite::Error> for Error {
    fn from(error: rusqlite::Error) -> Error {
        match error.sqlite_error_code() {
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
                Error::Damaged { source: error }
            }
            _ => Error::Sql(error),
        }
    }
}
