//! The query history of `ralo web`, in SQLite: every query the DNS server
//! answered, as the web process reads it from the server's query ring
//! (`telemetry::Ring`), for the query log, the charts and the top lists of
//! the page. [`History`] is the only code that touches the file; the API
//! handlers read through it and the follower (`web::follow`) writes
//! through it.
//!
//! # One disk write a minute
//!
//! The SD card of a Raspberry Pi wears with every write, so events are
//! first *staged*: [`History::stage`] puts them in a TEMP table of the same
//! connection (`temp_store = MEMORY`), which touches no file. Every read
//! runs over the union of the table on disk and the staged rows, so the page
//! is live. [`History::flush`] (the follower's timer: once a minute) moves
//! the staged rows, their hour counts, the losses and the ring's resume
//! point to disk in one transaction, which also drops what is older than the
//! retention, in whole hours: old rows go once an hour, not a few at every
//! flush. The file is in WAL mode with `synchronous = NORMAL`: a commit
//! appends to the WAL without a sync, the checkpoint syncs.
//!
//! # Schema (`PRAGMA user_version` 1, `application_id` "RALO")
//!
//! - `queries`: one row per query, clustered by `(time_ms, id)` (`WITHOUT
//!   ROWID`), so a time range is a range of the table itself and "newest
//!   first" is its order read backwards. Names and clients are integers
//!   into `names` and `clients` (as Pi-hole's FTL does); the query type is
//!   its text (`A`, `AAAA`), the outcome its index in [`Outcome::ALL`], the
//!   list the blocking list's name.
//! - Indexes on `client`, `name`, `outcome` and (blocked rows only) `list`.
//!   Each implicitly ends with `(time_ms, id)`, so a filter on one of them
//!   reads its rows newest first from the index and stops after a page, and
//!   counts them without touching the table.
//! - `hours`: queries per hour, outcome and query type, kept a year: the
//!   whole hours of [`History::summary`] and [`History::days`].
//! - `losses`: how many queries the ring lost before this process read them.
//! - `state`: one row: the next id and the ring's resume point.
//!
//! # Why this shape (measured on 350,000 rows: 7 days, 3,000 names, 20 clients)
//!
//! - Normalized names and clients: inline text took 68 MB against 43 MB
//!   normalized (both as a rowid table with an index per filter), and a
//!   `*substring*` name filter counted its rows in 66 ms inline against
//!   0.5 ms normalized, which matches the pattern against the 3,000
//!   distinct names only.
//! - Clustering by time instead of a rowid plus a time index, and no index
//!   on the query type (a scan of 7 days counts a type in ~30 ms), brought
//!   the file to 35 MB (about 100 bytes a query).
//! - What a flush writes (pages of 4 KiB appended to the WAL, which the
//!   checkpoint copies to the file): 82 for an average minute (34
//!   queries), 582 for the flush an hour that also drops the oldest hour
//!   (`benches/history.rs` prints both). Replaying such minutes against
//!   the file with one index dropped at a time showed that the name index
//!   is most of it (74 pages a flush with it, 27 without, 4 for the table
//!   alone), and that deleting old rows at every flush instead of hourly
//!   cost 107. The name index stays: without it a name filter scans the
//!   range (33 ms to count 7 days here, several times that on a Pi)
//!   instead of reading under 1 ms of index.
//! - Sorting is what costs: grouping 7 days of rows in SQLite takes ~300
//!   ms, reading them ~25 ms. So the summary counts whole hours from
//!   `hours`, distinct names and clients are probes of their indexes, chart
//!   slots are filled in Rust, and the top lists group each side (disk,
//!   staged) by itself before adding the two.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, TransactionBehavior, params};

use crate::telemetry::Event;

use super::error::Error;
use super::query::{CLIENTS, NAMES};

/// The schema this code writes and reads (`PRAGMA user_version`).
pub(super) const SCHEMA_VERSION: i64 = 1;
/// `PRAGMA application_id`: "RALO" in ASCII, marks the file as ours.
pub(super) const APPLICATION_ID: i64 = 0x5241_4C4F;
/// Milliseconds in an hour and in a day.
pub(super) const HOUR_MS: i64 = 3_600_000;
pub(super) const DAY_MS: i64 = 86_400_000;
/// How long the hour counts and the losses are kept.
pub(super) const YEAR_MS: i64 = 365 * DAY_MS;
/// The most slots or days one chart read returns.
pub(super) const MAX_BUCKETS: u64 = 100_000;

/// The columns of `queries` and `temp.staged`, in order.
pub(super) const COLUMNS: &str =
    "time_ms, id, client, name, qtype, outcome, list, protocol, latency_us";

/// A query row's columns and key, the same on disk (`queries`) and staged
/// (`temp.staged`).
macro_rules! query_row {
    () => {
        "(
    time_ms INTEGER NOT NULL,
    id INTEGER NOT NULL,
    client INTEGER NOT NULL,
    name INTEGER NOT NULL,
    qtype TEXT NOT NULL,
    outcome INTEGER NOT NULL,
    list TEXT,
    protocol INTEGER NOT NULL,
    latency_us INTEGER NOT NULL,
    PRIMARY KEY (time_ms, id)
) WITHOUT ROWID;"
    };
}

pub(super) const SCHEMA: &str = concat!(
    "
CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE clients (id INTEGER PRIMARY KEY, ip TEXT NOT NULL UNIQUE);
CREATE TABLE queries ",
    query_row!(),
    "
CREATE INDEX queries_client ON queries (client);
CREATE INDEX queries_name ON queries (name);
CREATE INDEX queries_outcome ON queries (outcome);
CREATE INDEX queries_list ON queries (list) WHERE list IS NOT NULL;
CREATE TABLE hours (
    hour INTEGER NOT NULL,
    outcome INTEGER NOT NULL,
    qtype TEXT NOT NULL,
    total INTEGER NOT NULL,
    PRIMARY KEY (hour, outcome, qtype)
) WITHOUT ROWID;
CREATE TABLE losses (time_ms INTEGER NOT NULL, count INTEGER NOT NULL);
CREATE TABLE state (
    only INTEGER PRIMARY KEY CHECK (only = 1),
    next_id INTEGER NOT NULL,
    server_started_ms INTEGER,
    next_event INTEGER
);
INSERT INTO state (only, next_id) VALUES (1, 1);
PRAGMA application_id = 1380011087;
PRAGMA user_version = 1;
"
);

pub(super) const STAGING: &str = concat!(
    "CREATE TEMP TABLE staged ",
    query_row!(),
    "
CREATE TEMP TABLE new_names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TEMP TABLE new_clients (id INTEGER PRIMARY KEY, ip TEXT NOT NULL UNIQUE);
"
);

/// The first part of a flush: new names and clients, the staged rows, their
/// hour counts.
pub(super) const WRITE_STAGED: &str = "
INSERT INTO main.names (id, name) SELECT id, name FROM temp.new_names;
INSERT INTO main.clients (id, ip) SELECT id, ip FROM temp.new_clients;
INSERT INTO main.queries (time_ms, id, client, name, qtype, outcome, list, protocol, latency_us)
    SELECT time_ms, id, client, name, qtype, outcome, list, protocol, latency_us FROM temp.staged;
INSERT INTO main.hours (hour, outcome, qtype, total)
    SELECT time_ms / 3600000, outcome, qtype, count(*) FROM temp.staged WHERE true GROUP BY 1, 2, 3
    ON CONFLICT (hour, outcome, qtype) DO UPDATE SET total = total + excluded.total;
";

/// Names and clients no query refers to any more.
pub(super) const FORGET_UNUSED: &str = "
DELETE FROM main.names WHERE NOT EXISTS (SELECT 1 FROM main.queries WHERE queries.name = names.id);
DELETE FROM main.clients WHERE NOT EXISTS (SELECT 1 FROM main.queries WHERE queries.client = clients.id);
";

pub(super) const CLEAR_STAGED: &str =
    "DELETE FROM temp.staged; DELETE FROM temp.new_names; DELETE FROM temp.new_clients;";

/// A term every row passes, which has SQLite read the clients' index
/// (`client, time_ms, id`) in order instead of the table: one seek per
/// client, then index entries only, already grouped by client. The top
/// clients of 24 h in `benches/history.rs` take 3 ms so, against 14 ms
/// when SQLite reads the table and sorts (it does not choose this
/// skip-scan by itself without statistics).
pub(super) const EVERY_CLIENT: &str =
    "client IN (SELECT id FROM main.clients UNION ALL SELECT id FROM temp.new_clients)";

/// Where to continue reading the ring after the web process restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resume {
    /// When the server run that numbered the events started (ms since the
    /// Unix epoch); another value means the server restarted and numbers
    /// from 0 again.
    pub server_started_ms: u64,
    /// The ring event number to read next.
    pub next: u64,
}

/// What one [`History::flush`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flushed {
    /// Whether it wrote a transaction (false: nothing had changed).
    pub committed: bool,
    /// Staged rows written.
    pub written: usize,
    /// Rows deleted for being older than the retention.
    pub expired: usize,
}

/// The query history: a SQLite file plus the rows staged in memory.
///
/// One connection, so one caller at a time: share it behind a mutex and
/// call it off the async reactor (`spawn_blocking`), as each call may read
/// the file.
#[derive(Debug)]
pub struct History {
    pub(super) conn: Connection,
    pub(super) keep_days: u32,
    /// The id the next staged row gets.
    pub(super) next_id: i64,
    /// The id the next new name and the next new client get.
    pub(super) next_name: i64,
    pub(super) next_client: i64,
    /// Rows in `temp.staged`.
    pub(super) staged: usize,
    /// Losses not yet written: (time, queries lost).
    pub(super) losses: Vec<(u64, u64)>,
    /// The resume point on disk.
    pub(super) saved: Option<Resume>,
    pub(super) commits: u64,
}

impl History {
    /// Opens the history at `path`, creating it if the file is absent or
    /// empty, keeping queries `keep_days` days (hour counts a year).
    /// Refuses a damaged file, another program's database, and a history
    /// written by a newer ralo, each with what to do about it.
    pub fn open(path: &Path, keep_days: u32) -> Result<History, Error> {
        let conn = Connection::open(path).map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
        History::start(conn, path, keep_days)
    }

    /// A history that lives in memory only (for tests).
    pub fn open_in_memory(keep_days: u32) -> Result<History, Error> {
        let conn = Connection::open_in_memory()?;
        History::start(conn, Path::new(":memory:"), keep_days)
    }

    /// Checks or creates the schema, sets the connection up and reads where
    /// the ids continue.
    pub(super) fn start(conn: Connection, path: &Path, keep_days: u32) -> Result<History, Error> {
        let failed = |source: rusqlite::Error| match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => Error::NotHistory {
                path: path.to_owned(),
                reason: source.to_string(),
            },
            _ => Error::Open {
                path: path.to_owned(),
                source,
            },
        };
        let refused = |reason: &str| Error::NotHistory {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        conn.busy_timeout(Duration::from_secs(5)).map_err(failed)?;
        let pragma = |name: &str| {
            conn.pragma_query_value(None, name, |row| row.get::<_, i64>(0))
                .map_err(failed)
        };
        let (application, version) = (pragma("application_id")?, pragma("user_version")?);
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM main.sqlite_schema", [], |row| {
                row.get(0)
            })
            .map_err(failed)?;
        let fresh = match (application, version) {
            (APPLICATION_ID, SCHEMA_VERSION) => false,
            (APPLICATION_ID, found) if found > SCHEMA_VERSION => {
                return Err(Error::Newer {
                    path: path.to_owned(),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            (0, 0) if objects == 0 => true,
            (APPLICATION_ID, found) => {
                return Err(refused(&format!("unknown schema version {found}")));
            }
            _ => return Err(refused("it is another program's SQLite database")),
        };
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;",
        )
        .map_err(failed)?;
        let mut commits = 0;
        if fresh {
            conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} COMMIT;"))
                .map_err(failed)?;
            commits += 1;
        }
        conn.execute_batch(STAGING).map_err(failed)?;
        let (next_id, saved) = conn
            .query_row(
                "SELECT max(next_id, coalesce((SELECT max(id) FROM main.queries), 0) + 1),
                        server_started_ms, next_event
                 FROM main.state",
                [],
                |row| Ok((row.get::<_, i64>(0)?, resume_of(row.get(1)?, row.get(2)?))),
            )
            .map_err(failed)?;
        let next_of = |table: &str| {
            conn.query_row(
                &format!("SELECT coalesce(max(id), 0) + 1 FROM main.{table}"),
                [],
                |row| row.get::<_, i64>(0),
            )
            .map_err(failed)
        };
        let (next_name, next_client) = (next_of("names")?, next_of("clients")?);
        Ok(History {
            conn,
            keep_days,
            next_id,
            next_name,
            next_client,
            staged: 0,
            losses: Vec::new(),
            saved,
            commits,
        })
    }

    /// Stages `events` in memory, visible to every read at once, written at
    /// the next [`History::flush`]. Each gets the next id.
    pub fn stage(&mut self, events: &[Event]) -> Result<(), Error> {
        if events.is_empty() {
            return Ok(());
        }
        let (mut id, mut next_name, mut next_client) =
            (self.next_id, self.next_name, self.next_client);
        // Writes the temp tables only; reading `main` takes no write lock.
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(&format!(
                "INSERT INTO temp.staged ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))?;
            for event in events {
                let name = NAMES.intern(&tx, &event.name, &mut next_name)?;
                let client = CLIENTS.intern(&tx, &event.client.to_string(), &mut next_client)?;
                insert.execute(params![
                    to_sql(event.time_unix_ms),
                    id,
                    client,
                    name,
                    event.qtype.to_string(),
                    to_sql_usize(event.outcome.index()),
                    event.list,
                    to_sql_usize(event.protocol.index()),
                    event.latency_us,
                ])?;
                id += 1;
            }
        }
        tx.commit()?;
        (self.next_id, self.next_name, self.next_client) = (id, next_name, next_client);
        self.staged += events.len();
        Ok(())
    }

    /// Notes that the ring lost `count` queries (around `time_ms`) before
    /// this process read them; written at the next flush.
    pub fn stage_loss(&mut self, time_ms: u64, count: u64) {
        if count > 0 {
            self.losses.push((time_ms, count));
        }
    }

    /// Writes everything staged to disk in one transaction: the rows (same
    /// ids), their hour counts, the losses and `resume` (if given); and, as
    /// of `now_ms`, deletes the rows of the hours older than the retention
    /// and the hour counts and losses older than a year. Writes nothing when
    /// nothing is staged and `resume` is the saved one. On an error nothing
    /// is written and everything stays staged for the next flush.
    pub fn flush(&mut self, now_ms: u64, resume: Option<Resume>) -> Result<Flushed, Error> {
        let resume = resume.filter(|resume| self.saved != Some(*resume));
        if self.staged == 0 && self.losses.is_empty() && resume.is_none() {
            return Ok(Flushed::default());
        }
        let now = to_sql(now_ms);
        let hour_before = |ms: i64| ms.div_euclid(HOUR_MS) * HOUR_MS;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(WRITE_STAGED)?;
        {
            let mut loss =
                tx.prepare_cached("INSERT INTO main.losses (time_ms, count) VALUES (?1, ?2)")?;
            for &(time_ms, count) in &self.losses {
                loss.execute([to_sql(time_ms), to_sql(count)])?;
            }
        }
        tx.execute(
            "UPDATE main.state SET next_id = ?1,
                 server_started_ms = coalesce(?2, server_started_ms),
                 next_event = coalesce(?3, next_event)",
            params![
                self.next_id,
                resume.map(|r| to_sql(r.server_started_ms)),
                resume.map(|r| to_sql(r.next)),
            ],
        )?;
        let keep = i64::from(self.keep_days) * DAY_MS;
        let expired = tx.execute(
            "DELETE FROM main.queries WHERE time_ms < ?1",
            [hour_before(now.saturating_sub(keep))],
        )?;
        if expired > 0 {
            tx.execute_batch(FORGET_UNUSED)?;
        }
        let year_ago = hour_before(now.saturating_sub(YEAR_MS));
        tx.execute(
            "DELETE FROM main.hours WHERE hour < ?1",
            [year_ago / HOUR_MS],
        )?;
        tx.execute("DELETE FROM main.losses WHERE time_ms < ?1", [year_ago])?;
        tx.execute_batch(CLEAR_STAGED)?;
        tx.commit()?;
        self.commits += 1;
        let written = std::mem::take(&mut self.staged);
        self.losses.clear();
        if resume.is_some() {
            self.saved = resume;
        }
        Ok(Flushed {
            committed: true,
            written,
            expired,
        })
    }

    /// Disk transactions since open (the schema's creation included).
    pub fn commits(&self) -> u64 {
        self.commits
    }

    /// Rows staged and not yet written.
    pub fn staged(&self) -> usize {
        self.staged
    }

    /// The resume point on disk, as the last flush that had one wrote it.
    pub fn resume(&self) -> Result<Option<Resume>, Error> {
        Ok(self.conn.query_row(
            "SELECT server_started_ms, next_event FROM main.state",
            [],
            |row| Ok(resume_of(row.get(0)?, row.get(1)?)),
        )?)
    }
}

/// The resume point of the state row's two columns, if both are set.
pub(super) fn resume_of(server_started_ms: Option<i64>, next: Option<i64>) -> Option<Resume> {
    server_started_ms.zip(next).map(|(started, next)| Resume {
        server_started_ms: to_u64(started),
        next: to_u64(next),
    })
}

/// A time or count as SQLite's integer (they stay far below `i64::MAX`).
pub(super) fn to_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A length, offset or index as SQLite's integer.
pub(super) fn to_sql_usize(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A stored time or count back (never negative as written).
pub(super) fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
