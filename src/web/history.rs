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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Row as SqlRow, TransactionBehavior, params,
    params_from_iter,
};

use crate::telemetry::Event;
use crate::vocab::{Outcome, Protocol};

/// The schema this code writes and reads (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;
/// `PRAGMA application_id`: "RALO" in ASCII, marks the file as ours.
const APPLICATION_ID: i64 = 0x5241_4C4F;
/// Milliseconds in an hour and in a day.
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// How long the hour counts and the losses are kept.
const YEAR_MS: i64 = 365 * DAY_MS;
/// The most slots or days one chart read returns.
const MAX_BUCKETS: u64 = 100_000;

/// The columns of `queries` and `temp.staged`, in order.
const COLUMNS: &str = "time_ms, id, client, name, qtype, outcome, list, protocol, latency_us";

const SCHEMA: &str = "
CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE clients (id INTEGER PRIMARY KEY, ip TEXT NOT NULL UNIQUE);
CREATE TABLE queries (
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
) WITHOUT ROWID;
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
";

const STAGING: &str = "
CREATE TEMP TABLE staged (
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
) WITHOUT ROWID;
CREATE TEMP TABLE new_names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TEMP TABLE new_clients (id INTEGER PRIMARY KEY, ip TEXT NOT NULL UNIQUE);
";

/// The first part of a flush: new names and clients, the staged rows, their
/// hour counts.
const WRITE_STAGED: &str = "
INSERT INTO main.names (id, name) SELECT id, name FROM temp.new_names;
INSERT INTO main.clients (id, ip) SELECT id, ip FROM temp.new_clients;
INSERT INTO main.queries (time_ms, id, client, name, qtype, outcome, list, protocol, latency_us)
    SELECT time_ms, id, client, name, qtype, outcome, list, protocol, latency_us FROM temp.staged;
INSERT INTO main.hours (hour, outcome, qtype, total)
    SELECT time_ms / 3600000, outcome, qtype, count(*) FROM temp.staged WHERE true GROUP BY 1, 2, 3
    ON CONFLICT (hour, outcome, qtype) DO UPDATE SET total = total + excluded.total;
";

/// Names and clients no query refers to any more.
const FORGET_UNUSED: &str = "
DELETE FROM main.names WHERE NOT EXISTS (SELECT 1 FROM main.queries WHERE queries.name = names.id);
DELETE FROM main.clients WHERE NOT EXISTS (SELECT 1 FROM main.queries WHERE queries.client = clients.id);
";

const CLEAR_STAGED: &str =
    "DELETE FROM temp.staged; DELETE FROM temp.new_names; DELETE FROM temp.new_clients;";

/// A term every row passes, which has SQLite read the clients' index
/// (`client, time_ms, id`) in order instead of the table: one seek per
/// client, then index entries only, already grouped by client. The top
/// clients of 24 h in `benches/history.rs` take 3 ms so, against 14 ms
/// when SQLite reads the table and sorts (it does not choose this
/// skip-scan by itself without statistics).
const EVERY_CLIENT: &str =
    "client IN (SELECT id FROM main.clients UNION ALL SELECT id FROM temp.new_clients)";

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

/// What the query log asks for: rows in a time range that pass every filter
/// given, newest first, one page of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    /// Rows at or after this time (ms since the Unix epoch).
    pub from_ms: Option<u64>,
    /// Rows before this time.
    pub until_ms: Option<u64>,
    /// Only rows with an id up to this one: the [`Page::cursor`] of the
    /// first page, so later pages do not shift while new rows arrive.
    pub cursor: Option<i64>,
    /// Rows to skip (the page's offset).
    pub start: usize,
    /// Rows per page.
    pub length: usize,
    /// The name, exact, or with `*` standing for any run of characters
    /// (`*.example.com`, `*track*`), as Pi-hole's `domain` filter; ASCII
    /// letters in any case. Empty: any name.
    pub name: Option<String>,
    /// The client's address, exact or with `*` as for `name`.
    pub client: Option<String>,
    /// The query type's text (`AAAA`), in any case.
    pub qtype: Option<String>,
    /// Rows with any of these outcomes; empty: any outcome.
    pub outcomes: Vec<Outcome>,
    /// Rows blocked by the list of this name.
    pub list: Option<String>,
}

impl Default for Filter {
    /// Every row, the first 100.
    fn default() -> Filter {
        Filter {
            from_ms: None,
            until_ms: None,
            cursor: None,
            start: 0,
            length: 100,
            name: None,
            client: None,
            qtype: None,
            outcomes: Vec::new(),
            list: None,
        }
    }
}

/// One page of the query log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// The rows, newest first.
    pub rows: Vec<Row>,
    /// Rows in the time range (up to the cursor), filters aside.
    pub total: u64,
    /// Rows in the time range (up to the cursor) that pass the filters.
    pub filtered: u64,
    /// The cursor to pass for the next pages: the one asked with, or the
    /// newest id when the first page was read (`None`: no rows yet).
    pub cursor: Option<i64>,
}

/// One query of the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Its id: increasing in the order the ring delivered the queries,
    /// the same staged and on disk, never reused.
    pub id: i64,
    /// When it was answered (ms since the Unix epoch).
    pub time_ms: u64,
    /// The client's address.
    pub client: String,
    /// The name asked.
    pub name: String,
    /// The query type's text.
    pub qtype: String,
    /// How it was answered.
    pub outcome: Outcome,
    /// The blocking list, for blocked queries.
    pub list: Option<String>,
    /// UDP or TCP.
    pub protocol: Protocol,
    /// Time from question to answer (µs).
    pub latency_us: u32,
}

/// Counts over a time range.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Queries.
    pub total: u64,
    /// Queries per outcome, in [`Outcome::ALL`] order.
    pub outcomes: [u64; 8],
    /// Distinct names asked.
    pub unique_names: u64,
    /// Distinct clients that asked.
    pub unique_clients: u64,
    /// Queries per query type, most first.
    pub qtypes: Vec<(String, u64)>,
}

/// Queries per outcome in one slot of a chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Start of the slot (ms since the Unix epoch).
    pub start_ms: u64,
    /// Queries per outcome, in [`Outcome::ALL`] order.
    pub counts: [u64; 8],
}

/// The busiest clients of a range and their queries per slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSlots {
    /// The busiest clients' addresses, most queries first.
    pub clients: Vec<String>,
    /// Every slot of the range, empty ones included: its start (ms since
    /// the Unix epoch) and the queries of each of `clients`, in its order.
    pub slots: Vec<(u64, Vec<u64>)>,
}

/// Queries per outcome on one local day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Day {
    /// Local midnight that starts the day (ms since the Unix epoch).
    pub start_ms: u64,
    /// Queries per outcome, in [`Outcome::ALL`] order.
    pub counts: [u64; 8],
}

/// The query history: a SQLite file plus the rows staged in memory.
///
/// One connection, so one caller at a time: share it behind a mutex and
/// call it off the async reactor (`spawn_blocking`), as each call may read
/// the file.
#[derive(Debug)]
pub struct History {
    conn: Connection,
    keep_days: u32,
    /// The id the next staged row gets.
    next_id: i64,
    /// The id the next new name and the next new client get.
    next_name: i64,
    next_client: i64,
    /// Rows in `temp.staged`.
    staged: usize,
    /// Losses not yet written: (time, queries lost).
    losses: Vec<(u64, u64)>,
    /// The resume point on disk.
    saved: Option<Resume>,
    commits: u64,
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
    fn start(conn: Connection, path: &Path, keep_days: u32) -> Result<History, Error> {
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

    /// One page of the query log, with how many rows the range and the
    /// filters hold.
    pub fn queries(&self, filter: &Filter) -> Result<Page, Error> {
        let mut range = Terms::default();
        range.range(filter.from_ms, filter.until_ms);
        if let Some(cursor) = filter.cursor {
            let p = range.param(cursor);
            range.term(format!("id <= {p}"));
        }
        let mut terms = range.clone();
        filter.narrow(&mut terms);
        let narrowed = terms.terms.len() > range.terms.len();
        let total = self.count(&range)?;
        let filtered = if narrowed { self.count(&terms)? } else { total };
        let where_ = terms.sql();
        let limit = terms.param(to_sql_usize(filter.length));
        let offset = terms.param(to_sql_usize(filter.start));
        let sql = format!(
            "SELECT q.id, q.time_ms, {name}, {client}, q.qtype, q.outcome, q.list, q.protocol, q.latency_us
             FROM ({both} ORDER BY time_ms DESC, id DESC LIMIT {limit} OFFSET {offset}) AS q
             ORDER BY q.time_ms DESC, q.id DESC",
            name = NAMES.text("q.name"),
            client = CLIENTS.text("q.client"),
            both = both(COLUMNS, &where_),
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement
            .query_and_then(params_from_iter(&terms.params), Row::read)?
            .collect::<Result<Vec<Row>, Error>>()?;
        let newest = (self.next_id > 1).then(|| self.next_id - 1);
        Ok(Page {
            rows,
            total,
            filtered,
            cursor: filter.cursor.or(newest),
        })
    }

    /// Rows on disk and staged that pass `terms`.
    fn count(&self, terms: &Terms) -> Result<u64, Error> {
        let where_ = terms.sql();
        let sql = format!(
            "SELECT (SELECT count(*) FROM main.queries WHERE {where_})
                  + (SELECT count(*) FROM temp.staged WHERE {where_})"
        );
        let count: i64 = self
            .conn
            .prepare_cached(&sql)?
            .query_row(params_from_iter(&terms.params), |row| row.get(0))?;
        Ok(to_u64(count))
    }

    /// Totals of the queries in `from_ms..until_ms`. The whole hours of the
    /// range are counted from the hour counts, which outlive the rows (a
    /// year); distinct names and clients from the rows kept.
    pub fn summary(&self, from_ms: u64, until_ms: u64) -> Result<Summary, Error> {
        let (from, until) = (to_sql(from_ms), to_sql(until_ms.max(from_ms)));
        // The whole hours first_hour..end_hour, and the rows around them.
        let first_hour = from.saturating_add(HOUR_MS - 1).div_euclid(HOUR_MS);
        let end_hour = until.div_euclid(HOUR_MS);
        let (first_hour, end_hour, head_end, tail_start) = if first_hour < end_hour {
            let head_end = first_hour * HOUR_MS;
            (first_hour, end_hour, head_end, end_hour * HOUR_MS)
        } else {
            (0, 0, until, until)
        };
        let mut statement = self.conn.prepare_cached(
            "SELECT outcome, qtype, total FROM main.hours WHERE hour >= ?5 AND hour < ?6
             UNION ALL
             SELECT outcome, qtype, count(*) FROM main.queries
             WHERE time_ms >= ?1 AND time_ms < ?2 GROUP BY 1, 2
             UNION ALL
             SELECT outcome, qtype, count(*) FROM main.queries
             WHERE time_ms >= ?3 AND time_ms < ?4 GROUP BY 1, 2
             UNION ALL
             SELECT outcome, qtype, count(*) FROM temp.staged
             WHERE time_ms >= ?1 AND time_ms < ?4 GROUP BY 1, 2",
        )?;
        let mut rows =
            statement.query([from, head_end, tail_start, until, first_hour, end_hour])?;
        let mut summary = Summary::default();
        let mut qtypes: BTreeMap<String, u64> = BTreeMap::new();
        while let Some(row) = rows.next()? {
            let n: i64 = row.get(2)?;
            add(&mut summary.outcomes, row.get(0)?, n)?;
            *qtypes.entry(row.get(1)?).or_default() += to_u64(n);
        }
        summary.total = summary.outcomes.iter().sum();
        summary.qtypes = qtypes.into_iter().collect();
        summary
            .qtypes
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let distinct = |side: &Side| {
            let Side { column, disk, .. } = side;
            format!(
                "SELECT count(*) FROM (
                     SELECT id FROM {disk} WHERE EXISTS (SELECT 1 FROM main.queries AS q
                         WHERE q.{column} = {disk}.id AND q.time_ms >= ?1 AND q.time_ms < ?2)
                     UNION
                     SELECT {column} FROM temp.staged WHERE time_ms >= ?1 AND time_ms < ?2)"
            )
        };
        let sql = format!("SELECT ({}), ({})", distinct(&NAMES), distinct(&CLIENTS));
        (summary.unique_names, summary.unique_clients) = self
            .conn
            .prepare_cached(&sql)?
            .query_row([from, until], |row| {
                Ok((to_u64(row.get(0)?), to_u64(row.get(1)?)))
            })?;
        Ok(summary)
    }

    /// The `count` names asked most in `from_ms..until_ms`, most first:
    /// blocked ones (`blocked`), or those answered otherwise (every outcome
    /// but blocked and refused).
    pub fn top_names(
        &self,
        from_ms: u64,
        until_ms: u64,
        blocked: bool,
        count: usize,
    ) -> Result<Vec<(String, u64)>, Error> {
        self.top(&NAMES, from_ms, until_ms, Some(blocked), None, count)
    }

    /// As [`History::top_names`], for the queries of one client (its
    /// address, exact or with `*` as in [`Filter::client`]).
    pub fn top_names_of(
        &self,
        from_ms: u64,
        until_ms: u64,
        blocked: bool,
        count: usize,
        client: &str,
    ) -> Result<Vec<(String, u64)>, Error> {
        self.top(
            &NAMES,
            from_ms,
            until_ms,
            Some(blocked),
            Some(client),
            count,
        )
    }

    /// The `count` clients that asked most in `from_ms..until_ms`, most
    /// first: every query (`None`), blocked ones (`Some(true)`), or those
    /// answered otherwise (`Some(false)`: neither blocked nor refused).
    pub fn top_clients(
        &self,
        from_ms: u64,
        until_ms: u64,
        blocked: Option<bool>,
        count: usize,
    ) -> Result<Vec<(String, u64)>, Error> {
        self.top(&CLIENTS, from_ms, until_ms, blocked, None, count)
    }

    /// The most frequent values of `side` with their counts, ties by text,
    /// of the queries that `blocked` and `client` select.
    fn top(
        &self,
        side: &Side,
        from_ms: u64,
        until_ms: u64,
        blocked: Option<bool>,
        client: Option<&str>,
        count: usize,
    ) -> Result<Vec<(String, u64)>, Error> {
        Ok(self
            .top_ids(side, from_ms, until_ms, blocked, client, count)?
            .into_iter()
            .map(|(_, text, n)| (text, n))
            .collect())
    }

    /// As [`History::top`], with each value's id. Each side is grouped by
    /// itself, then the two small results are added.
    fn top_ids(
        &self,
        side: &Side,
        from_ms: u64,
        until_ms: u64,
        blocked: Option<bool>,
        client: Option<&str>,
        count: usize,
    ) -> Result<Vec<(i64, String, u64)>, Error> {
        let mut terms = Terms::default();
        terms.range(Some(from_ms), Some(until_ms));
        if let Some(client) = client {
            CLIENTS.narrow(client, &mut terms);
        }
        match blocked {
            Some(true) => terms.term(format!("outcome = {}", Outcome::Blocked.index())),
            Some(false) => terms.term(format!(
                "outcome NOT IN ({}, {})",
                Outcome::Blocked.index(),
                Outcome::Refused.index()
            )),
            None if side.column == CLIENTS.column => terms.term(EVERY_CLIENT.to_owned()),
            None => {}
        }
        let where_ = terms.sql();
        let limit = terms.param(to_sql_usize(count));
        let column = side.column;
        let sql = format!(
            "SELECT g.key, {text}, g.n FROM (
                 SELECT key, sum(n) AS n FROM (
                     SELECT {column} AS key, count(*) AS n FROM main.queries WHERE {where_} GROUP BY 1
                     UNION ALL
                     SELECT {column}, count(*) FROM temp.staged WHERE {where_} GROUP BY 1
                 ) GROUP BY key
             ) AS g
             ORDER BY g.n DESC, 2 LIMIT {limit}",
            text = side.text("g.key"),
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_and_then(params_from_iter(&terms.params), |row| {
            let id: i64 = row.get(0)?;
            let text = row
                .get::<_, Option<String>>(1)?
                .ok_or_else(|| Error::Value {
                    what: format!("a query with {column} id {id}, which is unknown"),
                })?;
            Ok::<_, Error>((id, text, to_u64(row.get(2)?)))
        })?;
        rows.collect()
    }

    /// The names of the `count` newest blocked queries, newest first (a
    /// name blocked twice is there twice).
    pub fn recent_blocked(&self, count: usize) -> Result<Vec<String>, Error> {
        let blocked = format!("outcome = {}", Outcome::Blocked.index());
        let sql = format!(
            "SELECT {text} FROM ({both} ORDER BY time_ms DESC, id DESC LIMIT ?1) AS q
             ORDER BY q.time_ms DESC, q.id DESC",
            text = NAMES.text("q.name"),
            both = both("time_ms, id, name", &blocked),
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_and_then([to_sql_usize(count)], |row| {
            row.get::<_, Option<String>>(0)?
                .ok_or_else(|| Error::Value {
                    what: "a blocked query with an unknown name id".to_owned(),
                })
        })?;
        rows.collect()
    }

    /// Queries per outcome in every `slot_ms` slot (aligned to multiples of
    /// `slot_ms` since the epoch) from the one holding `from_ms` to the one
    /// holding the last ms before `until_ms`, empty slots included; the
    /// first slot counts from its start.
    pub fn slots(&self, from_ms: u64, until_ms: u64, slot_ms: u64) -> Result<Vec<Slot>, Error> {
        let (start, count) = buckets(from_ms, until_ms, slot_ms)?;
        let mut slots: Vec<Slot> = (0..count)
            .map(|i| Slot {
                start_ms: start + i * slot_ms,
                counts: [0; 8],
            })
            .collect();
        self.per_slot("outcome", start, until_ms, slot_ms, |slot, outcome| {
            let slot = slots.get_mut(slot).ok_or_else(|| out_of_range(slot))?;
            add(&mut slot.counts, outcome, 1)
        })?;
        Ok(slots)
    }

    /// The `top` clients with the most queries over the slots of
    /// [`History::slots`], and their queries per slot.
    pub fn client_slots(
        &self,
        from_ms: u64,
        until_ms: u64,
        slot_ms: u64,
        top: usize,
    ) -> Result<ClientSlots, Error> {
        let (start, count) = buckets(from_ms, until_ms, slot_ms)?;
        let clients = self.top_ids(&CLIENTS, start, until_ms, None, None, top)?;
        let mut slots: Vec<(u64, Vec<u64>)> = (0..count)
            .map(|i| (start + i * slot_ms, vec![0; clients.len()]))
            .collect();
        self.per_slot("client", start, until_ms, slot_ms, |slot, client| {
            let (_, counts) = slots.get_mut(slot).ok_or_else(|| out_of_range(slot))?;
            if let Some(i) = clients.iter().position(|(id, _, _)| *id == client) {
                counts[i] += 1;
            }
            Ok(())
        })?;
        Ok(ClientSlots {
            clients: clients.into_iter().map(|(_, ip, _)| ip).collect(),
            slots,
        })
    }

    /// Calls `each(slot, value)` for every query in `start..until_ms` with
    /// its value of `column`: streaming the rows into the slots takes a
    /// quarter of the time SQLite takes to sort them into groups
    /// (`benches/history.rs`, `slots/24h`: 9 ms against 38 ms).
    fn per_slot(
        &self,
        column: &str,
        start: u64,
        until_ms: u64,
        slot_ms: u64,
        mut each: impl FnMut(usize, i64) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut terms = Terms::default();
        terms.range(Some(start), Some(until_ms));
        let sql = both(&format!("time_ms, {column}"), &terms.sql());
        let mut statement = self.conn.prepare_cached(&sql)?;
        let mut rows = statement.query(params_from_iter(&terms.params))?;
        while let Some(row) = rows.next()? {
            let since = to_u64(row.get(0)?).saturating_sub(start);
            let slot = usize::try_from(since / slot_ms).unwrap_or(usize::MAX);
            each(slot, row.get(1)?)?;
        }
        Ok(())
    }

    /// Queries per outcome on every local day (the clock `utc_offset_secs`
    /// ahead of UTC) from the one holding `from_ms` to the one holding the
    /// last ms before `until_ms`, empty days included, whole days each,
    /// from the hour counts (kept a year) and the staged rows. An hour
    /// counts on the day its start falls on.
    pub fn days(
        &self,
        from_ms: u64,
        until_ms: u64,
        utc_offset_secs: i32,
    ) -> Result<Vec<Day>, Error> {
        if until_ms <= from_ms {
            return Ok(Vec::new());
        }
        let offset = i64::from(utc_offset_secs) * 1000;
        let day_of = |ms: i64| ms.saturating_add(offset).div_euclid(DAY_MS);
        let start_of = |day: i64| day.saturating_mul(DAY_MS).saturating_sub(offset);
        let first = day_of(to_sql(from_ms));
        let last = day_of(to_sql(until_ms - 1));
        if u64::try_from(last - first).unwrap_or(u64::MAX) >= MAX_BUCKETS {
            return Err(Error::Range {
                from_ms,
                until_ms,
                slot_ms: DAY_MS.unsigned_abs(),
            });
        }
        let mut days: Vec<Day> = (first..=last)
            .map(|day| Day {
                start_ms: to_u64(start_of(day)),
                counts: [0; 8],
            })
            .collect();
        let hour_at_or_after = |ms: i64| ms.saturating_add(HOUR_MS - 1).div_euclid(HOUR_MS);
        let first_hour = hour_at_or_after(start_of(first));
        let end_hour = hour_at_or_after(start_of(last.saturating_add(1)));
        let mut statement = self.conn.prepare_cached(
            "SELECT hour, outcome, total FROM main.hours WHERE hour >= ?1 AND hour < ?2
             UNION ALL
             SELECT time_ms / 3600000, outcome, count(*) FROM temp.staged
             WHERE time_ms >= ?1 * 3600000 AND time_ms < ?2 * 3600000 GROUP BY 1, 2",
        )?;
        let mut rows = statement.query([first_hour, end_hour])?;
        while let Some(row) = rows.next()? {
            let hour: i64 = row.get(0)?;
            let day = usize::try_from(day_of(hour.saturating_mul(HOUR_MS)) - first)
                .map_err(|_| out_of_range(0))?;
            let day = days.get_mut(day).ok_or_else(|| out_of_range(day))?;
            add(&mut day.counts, row.get(1)?, row.get(2)?)?;
        }
        Ok(days)
    }

    /// Queries the ring lost in `from_ms..until_ms`, written and staged.
    pub fn losses(&self, from_ms: u64, until_ms: u64) -> Result<u64, Error> {
        let written: i64 = self.conn.query_row(
            "SELECT coalesce(sum(count), 0) FROM main.losses WHERE time_ms >= ?1 AND time_ms < ?2",
            [to_sql(from_ms), to_sql(until_ms)],
            |row| row.get(0),
        )?;
        let staged = self
            .losses
            .iter()
            .filter(|(time_ms, _)| (from_ms..until_ms).contains(time_ms))
            .map(|(_, count)| count)
            .sum::<u64>();
        Ok(to_u64(written).saturating_add(staged))
    }
}

impl Filter {
    /// Adds a term for each filter given.
    fn narrow(&self, terms: &mut Terms) {
        let given = |text: &Option<String>| text.clone().filter(|text| !text.is_empty());
        if let Some(name) = given(&self.name) {
            NAMES.narrow(&name, terms);
        }
        if let Some(client) = given(&self.client) {
            CLIENTS.narrow(&client, terms);
        }
        if let Some(qtype) = given(&self.qtype) {
            let p = terms.param(qtype.to_ascii_uppercase());
            terms.term(format!("qtype = {p}"));
        }
        if !self.outcomes.is_empty() {
            let outcomes: Vec<String> = self
                .outcomes
                .iter()
                .map(|outcome| outcome.index().to_string())
                .collect();
            terms.term(format!("outcome IN ({})", outcomes.join(", ")));
        }
        if let Some(list) = given(&self.list) {
            let p = terms.param(list);
            terms.term(format!("list = {p}"));
        }
    }
}

impl Row {
    /// A row of the query log's SELECT.
    fn read(row: &SqlRow<'_>) -> Result<Row, Error> {
        let id: i64 = row.get(0)?;
        let unknown = |what: &str| Error::Value {
            what: format!("query {id} with an unknown {what}"),
        };
        let outcome: i64 = row.get(5)?;
        let protocol: i64 = row.get(7)?;
        Ok(Row {
            id,
            time_ms: to_u64(row.get(1)?),
            name: row
                .get::<_, Option<String>>(2)?
                .ok_or_else(|| unknown("name id"))?,
            client: row
                .get::<_, Option<String>>(3)?
                .ok_or_else(|| unknown("client id"))?,
            qtype: row.get(4)?,
            outcome: usize::try_from(outcome)
                .ok()
                .and_then(|i| Outcome::ALL.get(i).copied())
                .ok_or_else(|| unknown("outcome"))?,
            list: row.get(6)?,
            protocol: usize::try_from(protocol)
                .ok()
                .and_then(|i| Protocol::ALL.get(i).copied())
                .ok_or_else(|| unknown("protocol"))?,
            latency_us: u32::try_from(row.get::<_, i64>(8)?).unwrap_or(u32::MAX),
        })
    }
}

/// A side table of distinct texts (names or clients), on disk and staged.
struct Side {
    /// The column of `queries` that refers to it.
    column: &'static str,
    /// The table on disk and the staged one.
    disk: &'static str,
    staged: &'static str,
    /// Its text column.
    key: &'static str,
}

const NAMES: Side = Side {
    column: "name",
    disk: "main.names",
    staged: "temp.new_names",
    key: "name",
};

const CLIENTS: Side = Side {
    column: "client",
    disk: "main.clients",
    staged: "temp.new_clients",
    key: "ip",
};

impl Side {
    /// The id of `text`, a new staged one if it has none yet.
    fn intern(&self, conn: &Connection, text: &str, next: &mut i64) -> Result<i64, Error> {
        let Side {
            disk, staged, key, ..
        } = self;
        let found = conn
            .prepare_cached(&format!(
                "SELECT id FROM {disk} WHERE {key} = ?1 UNION ALL SELECT id FROM {staged} WHERE {key} = ?1"
            ))?
            .query_row([text], |row| row.get(0))
            .optional()?;
        if let Some(id) = found {
            return Ok(id);
        }
        let id = *next;
        conn.prepare_cached(&format!("INSERT INTO {staged} (id, {key}) VALUES (?1, ?2)"))?
            .execute(params![id, text])?;
        *next += 1;
        Ok(id)
    }

    /// The text of the id `id` (an SQL expression), NULL if unknown.
    fn text(&self, id: &str) -> String {
        let Side {
            disk, staged, key, ..
        } = self;
        format!(
            "coalesce((SELECT {key} FROM {disk} WHERE id = {id}), (SELECT {key} FROM {staged} WHERE id = {id}))"
        )
    }

    /// Adds the term "the text is `pattern`": exact, or with `*` for any run
    /// of characters. ASCII letters match in any case.
    fn narrow(&self, pattern: &str, terms: &mut Terms) {
        let Side {
            column,
            disk,
            staged,
            key,
        } = self;
        let pattern = pattern.to_ascii_lowercase();
        if pattern.contains('*') {
            let p = terms.param(glob(&pattern));
            terms.term(format!(
                "{column} IN (SELECT id FROM {disk} WHERE {key} GLOB {p} UNION ALL SELECT id FROM {staged} WHERE {key} GLOB {p})"
            ));
        } else {
            let p = terms.param(pattern);
            terms.term(format!(
                "{column} = coalesce((SELECT id FROM {disk} WHERE {key} = {p}), (SELECT id FROM {staged} WHERE {key} = {p}))"
            ));
        }
    }
}

/// A pattern with `*` for any run of characters as a GLOB pattern in which
/// every other character matches itself only.
fn glob(pattern: &str) -> String {
    let mut glob = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match c {
            '?' => glob.push_str("[?]"),
            '[' => glob.push_str("[[]"),
            c => glob.push(c),
        }
    }
    glob
}

/// The terms of a WHERE clause and their numbered parameters.
#[derive(Clone, Debug, Default)]
struct Terms {
    terms: Vec<String>,
    params: Vec<Value>,
}

impl Terms {
    /// Adds a parameter; returns its placeholder.
    fn param(&mut self, value: impl Into<Value>) -> String {
        self.params.push(value.into());
        format!("?{}", self.params.len())
    }

    /// Adds a term.
    fn term(&mut self, term: String) {
        self.terms.push(term);
    }

    /// Adds `from_ms <= time_ms < until_ms`, each bound if given.
    fn range(&mut self, from_ms: Option<u64>, until_ms: Option<u64>) {
        if let Some(from) = from_ms {
            let p = self.param(to_sql(from));
            self.term(format!("time_ms >= {p}"));
        }
        if let Some(until) = until_ms {
            let p = self.param(to_sql(until));
            self.term(format!("time_ms < {p}"));
        }
    }

    /// The terms joined by AND.
    fn sql(&self) -> String {
        if self.terms.is_empty() {
            "1".to_owned()
        } else {
            self.terms.join(" AND ")
        }
    }
}

/// `columns` of the rows on disk and the staged ones that pass `terms`.
fn both(columns: &str, terms: &str) -> String {
    format!(
        "SELECT {columns} FROM main.queries WHERE {terms} UNION ALL SELECT {columns} FROM temp.staged WHERE {terms}"
    )
}

/// The resume point of the state row's two columns, if both are set.
fn resume_of(server_started_ms: Option<i64>, next: Option<i64>) -> Option<Resume> {
    server_started_ms.zip(next).map(|(started, next)| Resume {
        server_started_ms: to_u64(started),
        next: to_u64(next),
    })
}

/// The first slot's start and the number of slots of a chart.
fn buckets(from_ms: u64, until_ms: u64, slot_ms: u64) -> Result<(u64, u64), Error> {
    let refused = Error::Range {
        from_ms,
        until_ms,
        slot_ms,
    };
    if slot_ms == 0 {
        return Err(refused);
    }
    let start = from_ms - from_ms % slot_ms;
    if until_ms <= from_ms {
        return Ok((start, 0));
    }
    let count = (until_ms - start).div_ceil(slot_ms);
    if count > MAX_BUCKETS || until_ms > to_u64(i64::MAX) {
        return Err(refused);
    }
    Ok((start, count))
}

/// Adds `n` queries of the outcome with index `outcome` to `counts`.
fn add(counts: &mut [u64; 8], outcome: i64, n: i64) -> Result<(), Error> {
    let count = usize::try_from(outcome)
        .ok()
        .and_then(|i| counts.get_mut(i))
        .ok_or_else(|| Error::Value {
            what: format!("outcome {outcome}"),
        })?;
    *count += to_u64(n);
    Ok(())
}

/// A slot or day outside the range asked (only a time out of order on disk).
fn out_of_range(index: usize) -> Error {
    Error::Value {
        what: format!("a time outside its own slot (slot {index})"),
    }
}

/// A time or count as SQLite's integer (they stay far below `i64::MAX`).
fn to_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A length, offset or index as SQLite's integer.
fn to_sql_usize(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A stored time or count back (never negative as written).
fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use hickory_proto::rr::RecordType;

    use super::*;

    const T0: u64 = 1_760_000_000_000;
    const MINUTE: u64 = 60_000;
    const DAY: u64 = 86_400_000;

    const NAMES_USED: [&str; 8] = [
        "example.com",
        "www.example.com",
        "ads.tracker.net",
        "tracker.net",
        "cdn.example.org",
        "mail.example.com",
        "ads.example.com",
        "video.cdn.net",
    ];
    const CLIENTS_USED: [&str; 4] = ["192.168.1.10", "192.168.1.11", "10.0.0.5", "fd00::1"];
    const QTYPES: [RecordType; 3] = [RecordType::A, RecordType::AAAA, RecordType::HTTPS];

    fn event(time_ms: u64, client: &str, name: &str, qtype: RecordType, outcome: Outcome) -> Event {
        Event {
            number: 0,
            time_unix_ms: time_ms,
            client: client.parse().expect("an address"),
            name: name.to_owned(),
            name_truncated: false,
            qtype,
            outcome,
            protocol: Protocol::Udp,
            list: (outcome == Outcome::Blocked).then(|| "hagezi".to_owned()),
            latency_us: 1200,
        }
    }

    /// `count` queries `step` ms apart from `from`, every name, client,
    /// type and outcome mixed with every other.
    fn traffic(count: usize, from: u64, step: u64) -> Vec<Event> {
        (0..count)
            .map(|i| {
                let mut e = event(
                    from + i as u64 * step,
                    CLIENTS_USED[(i / 3) % 4],
                    NAMES_USED[(i * 5) % 8],
                    QTYPES[(i * 2 + i / 8) % 3],
                    Outcome::ALL[(i * 3 + i / 5) % 8],
                );
                if e.outcome == Outcome::Blocked && i % 2 == 1 {
                    e.list = Some("household".to_owned());
                }
                if i % 4 == 0 {
                    e.protocol = Protocol::Tcp;
                }
                e.latency_us = i as u32;
                e
            })
            .collect()
    }

    /// `events` with ids from 1 in order, as the history numbers them.
    fn numbered(events: &[Event]) -> Vec<(i64, &Event)> {
        events.iter().zip(1..).map(|(e, id)| (id, e)).collect()
    }

    /// `pattern` with `*` for any run of characters matches `text`.
    fn matches(pattern: &str, text: &str) -> bool {
        match pattern.split_once('*') {
            None => pattern == text,
            Some((head, rest)) => {
                text.starts_with(head)
                    && (head.len()..=text.len()).any(|i| matches(rest, &text[i..]))
            }
        }
    }

    /// What a plain walk over `events` says `filter` selects, newest first.
    fn plain(events: &[Event], filter: &Filter) -> (u64, Vec<i64>) {
        let mut total = 0;
        let mut ids = Vec::new();
        for (id, e) in numbered(events).into_iter().rev() {
            let t = e.time_unix_ms;
            if filter.from_ms.is_some_and(|f| t < f)
                || filter.until_ms.is_some_and(|u| t >= u)
                || filter.cursor.is_some_and(|c| id > c)
            {
                continue;
            }
            total += 1;
            let text = |f: &Option<String>, value: &str| {
                f.as_ref()
                    .is_none_or(|p| matches(&p.to_ascii_lowercase(), value))
            };
            if text(&filter.name, &e.name)
                && text(&filter.client, &e.client.to_string())
                && filter
                    .qtype
                    .as_ref()
                    .is_none_or(|q| q.eq_ignore_ascii_case(&e.qtype.to_string()))
                && (filter.outcomes.is_empty() || filter.outcomes.contains(&e.outcome))
                && filter
                    .list
                    .as_ref()
                    .is_none_or(|l| e.list.as_ref() == Some(l))
            {
                ids.push(id);
            }
        }
        (total, ids)
    }

    fn ids(page: &Page) -> Vec<i64> {
        page.rows.iter().map(|r| r.id).collect()
    }

    fn all(history: &History) -> Page {
        let filter = Filter {
            length: 100_000,
            ..Filter::default()
        };
        history.queries(&filter).expect("the query log reads")
    }

    fn file_len(path: &Path) -> u64 {
        std::fs::metadata(path).map_or(0, |m| m.len())
    }

    #[test]
    fn staged_rows_are_read_at_once_and_kept_only_once_flushed() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("history.sqlite");
        let events = traffic(10, T0, MINUTE);
        let mut history = History::open(&path, 7).expect("a new history");
        history.stage(&events).expect("staged");
        assert_eq!(history.staged(), 10);
        let page = all(&history);
        assert_eq!(page.rows.len(), 10);
        assert_eq!(page.rows[0].name, events[9].name);
        assert_eq!(page.rows[0].client, events[9].client.to_string());
        assert_eq!(page.rows[0].qtype, events[9].qtype.to_string());
        assert_eq!(page.rows[0].outcome, events[9].outcome);
        assert_eq!(page.rows[0].protocol, events[9].protocol);
        assert_eq!(page.rows[0].latency_us, events[9].latency_us);
        assert_eq!(page.rows[0].time_ms, events[9].time_unix_ms);
        drop(history);

        let mut history = History::open(&path, 7).expect("reopens");
        assert_eq!(all(&history).total, 0, "staged rows are not on disk");
        history.stage(&events).expect("staged");
        history.flush(T0 + DAY, None).expect("flushed");
        assert_eq!(history.staged(), 0);
        drop(history);

        let history = History::open(&path, 7).expect("reopens");
        let page = all(&history);
        assert_eq!(page.total, 10);
        let names: Vec<&str> = page.rows.iter().map(|r| r.name.as_str()).collect();
        let expected: Vec<&str> = events.iter().rev().map(|e| e.name.as_str()).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn staging_writes_nothing_to_the_file() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("history.sqlite");
        let wal = dir.path().join("history.sqlite-wal");
        let mut history = History::open(&path, 7).expect("a new history");
        history.stage(&traffic(5, T0, MINUTE)).expect("staged");
        history.flush(T0, None).expect("flushed");
        let before = (file_len(&path), file_len(&wal), history.commits());
        history
            .stage(&traffic(500, T0 + DAY, 1000))
            .expect("staged");
        history.stage_loss(T0 + DAY, 3);
        assert_eq!((file_len(&path), file_len(&wal), history.commits()), before);
        assert_eq!(all(&history).total, 505);
    }

    #[test]
    fn a_flush_is_one_transaction_and_nothing_new_makes_none() {
        let mut history = History::open_in_memory(7).expect("a history");
        let start = history.commits();
        assert!(!history.flush(T0, None).expect("flushed").committed);
        assert_eq!(history.commits(), start);

        history.stage(&traffic(50, T0, MINUTE)).expect("staged");
        history
            .stage(&traffic(50, T0 + DAY, MINUTE))
            .expect("staged");
        let flushed = history.flush(T0 + DAY, None).expect("flushed");
        assert_eq!(
            flushed,
            Flushed {
                committed: true,
                written: 100,
                expired: 0
            }
        );
        assert_eq!(history.commits(), start + 1);
        assert!(!history.flush(T0 + DAY, None).expect("flushed").committed);

        let resume = Resume {
            server_started_ms: T0,
            next: 100,
        };
        assert!(
            history
                .flush(T0 + DAY, Some(resume))
                .expect("flushed")
                .committed
        );
        assert!(
            !history
                .flush(T0 + DAY, Some(resume))
                .expect("flushed")
                .committed
        );
        history.stage_loss(T0 + DAY, 7);
        assert!(
            history
                .flush(T0 + DAY, Some(resume))
                .expect("flushed")
                .committed
        );
        assert_eq!(history.commits(), start + 3);
    }

    #[test]
    fn ids_stay_from_staged_to_flushed_and_continue_after_reopen() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("history.sqlite");
        let mut history = History::open(&path, 1).expect("a new history");
        history.stage(&traffic(5, T0, MINUTE)).expect("staged");
        assert_eq!(ids(&all(&history)), [5, 4, 3, 2, 1]);
        history.flush(T0, None).expect("flushed");
        assert_eq!(ids(&all(&history)), [5, 4, 3, 2, 1]);
        drop(history);

        let mut history = History::open(&path, 1).expect("reopens");
        history
            .stage(&traffic(3, T0 + MINUTE * 10, MINUTE))
            .expect("staged");
        assert_eq!(ids(&all(&history)), [8, 7, 6, 5, 4, 3, 2, 1]);
        // Retention empties the table; the ids still go on.
        let flushed = history.flush(T0 + 10 * DAY, None).expect("flushed");
        assert_eq!(flushed.expired, 8);
        drop(history);

        let mut history = History::open(&path, 1).expect("reopens");
        history
            .stage(&traffic(1, T0 + 10 * DAY, MINUTE))
            .expect("staged");
        assert_eq!(ids(&all(&history)), [9]);
    }

    #[test]
    fn retention_drops_old_rows_and_their_names_and_keeps_hour_counts() {
        let mut history = History::open_in_memory(7).expect("a history");
        let old = vec![event(
            T0 - 10 * DAY,
            "10.9.9.9",
            "old.example",
            RecordType::A,
            Outcome::Cached,
        )];
        let recent = traffic(20, T0 - DAY, MINUTE);
        history.stage(&old).expect("staged");
        history.stage(&recent).expect("staged");
        let flushed = history.flush(T0, None).expect("flushed");
        assert_eq!(flushed.expired, 1);
        assert_eq!(all(&history).total, 20);

        let days = history.days(T0 - 11 * DAY, T0, 0).expect("days read");
        let total: u64 = days.iter().map(|d| d.counts.iter().sum::<u64>()).sum();
        assert_eq!(total, 21, "the hour counts keep the expired row");
        let summary = history.summary(T0 - 11 * DAY, T0).expect("summary");
        assert_eq!(summary.total, 21, "whole hours count from the hour counts");
        assert_eq!(
            summary.unique_clients, 4,
            "distinct clients from the rows kept"
        );

        // Rows go in whole hours: one just past the retention stays until
        // its hour is past it.
        let edge = T0 - 7 * DAY - (T0 % 3_600_000) / 2;
        history
            .stage(&[event(
                edge,
                "10.0.0.1",
                "edge.example",
                RecordType::A,
                Outcome::Cached,
            )])
            .expect("staged");
        assert_eq!(history.flush(T0, None).expect("flushed").expired, 0);
        let hour_later = T0 - T0 % 3_600_000 + 3_600_000;
        history.stage_loss(hour_later, 1);
        assert_eq!(history.flush(hour_later, None).expect("flushed").expired, 1);

        let known = |table: &str, column: &str, text: &str| -> i64 {
            history
                .conn
                .query_row(
                    &format!("SELECT count(*) FROM main.{table} WHERE {column} = ?1"),
                    [text],
                    |row| row.get(0),
                )
                .expect("counted")
        };
        assert_eq!(known("names", "name", "old.example"), 0);
        assert_eq!(known("clients", "ip", "10.9.9.9"), 0);
        assert_eq!(known("names", "name", "example.com"), 1);
    }

    #[test]
    fn hour_counts_older_than_a_year_go() {
        let mut history = History::open_in_memory(7).expect("a history");
        let ancient = T0 - 400 * DAY;
        history.stage(&traffic(5, ancient, MINUTE)).expect("staged");
        history
            .stage(&traffic(5, T0 - DAY, MINUTE))
            .expect("staged");
        history.flush(T0, None).expect("flushed");
        let count = |from: u64| -> u64 {
            history
                .days(from, from + DAY, 0)
                .expect("days read")
                .iter()
                .map(|d| d.counts.iter().sum::<u64>())
                .sum()
        };
        assert_eq!(count(ancient), 0);
        assert_eq!(count(T0 - DAY), 5);
    }

    #[test]
    fn each_filter_selects_what_a_plain_walk_selects() {
        let events = traffic(240, T0, MINUTE);
        let mut history = History::open_in_memory(30).expect("a history");
        history.stage(&events[..150]).expect("staged");
        history.flush(T0 + DAY, None).expect("flushed");
        history.stage(&events[150..]).expect("staged");

        let text = |s: &str| Some(s.to_owned());
        let filters = [
            Filter::default(),
            Filter {
                from_ms: Some(T0 + 30 * MINUTE),
                until_ms: Some(T0 + 200 * MINUTE),
                ..Filter::default()
            },
            Filter {
                name: text("tracker.net"),
                ..Filter::default()
            },
            Filter {
                name: text("Ads.Example.COM"),
                ..Filter::default()
            },
            Filter {
                name: text("*.example.com"),
                ..Filter::default()
            },
            Filter {
                name: text("ads*"),
                ..Filter::default()
            },
            Filter {
                name: text("*track*"),
                ..Filter::default()
            },
            Filter {
                name: text("nowhere.test"),
                ..Filter::default()
            },
            Filter {
                client: text("192.168.1.11"),
                ..Filter::default()
            },
            Filter {
                client: text("192.168.1.*"),
                ..Filter::default()
            },
            Filter {
                client: text("fd00::1"),
                ..Filter::default()
            },
            Filter {
                qtype: text("aaaa"),
                ..Filter::default()
            },
            Filter {
                outcomes: vec![Outcome::Blocked],
                ..Filter::default()
            },
            Filter {
                outcomes: vec![Outcome::Cached, Outcome::Forwarded, Outcome::Failed],
                ..Filter::default()
            },
            Filter {
                list: text("household"),
                ..Filter::default()
            },
            Filter {
                from_ms: Some(T0 + 100 * MINUTE),
                client: text("10.0.0.5"),
                outcomes: vec![Outcome::Blocked, Outcome::Allowed],
                name: text("*example*"),
                ..Filter::default()
            },
        ];
        for filter in filters {
            let filter = Filter {
                length: 1000,
                ..filter
            };
            let page = history.queries(&filter).expect("the query log reads");
            let (total, expected) = plain(&events, &filter);
            let nowhere = filter.name.as_deref() == Some("nowhere.test");
            assert_eq!(expected.is_empty(), nowhere, "{filter:?} selects nothing");
            assert_eq!(page.total, total, "{filter:?}");
            assert_eq!(page.filtered, expected.len() as u64, "{filter:?}");
            assert_eq!(ids(&page), expected, "{filter:?}");
            assert_eq!(page.cursor, Some(240));
        }
        let page = history
            .queries(&Filter {
                outcomes: vec![Outcome::Blocked],
                ..Filter::default()
            })
            .expect("the query log reads");
        assert!(!page.rows.is_empty());
        assert!(page.rows.iter().all(|r| r.list.is_some()));
    }

    #[test]
    fn wildcards_match_every_other_character_as_itself() {
        let mut history = History::open_in_memory(7).expect("a history");
        let names = ["a?c.test", "abc.test", "a[b]c.test", "a%c.test", "a_c.test"];
        let events: Vec<Event> = names
            .iter()
            .zip(0..)
            .map(|(name, i)| event(T0 + i, "10.0.0.1", name, RecordType::A, Outcome::Cached))
            .collect();
        history.stage(&events).expect("staged");
        let found = |pattern: &str| -> Vec<String> {
            let filter = Filter {
                name: Some(pattern.to_owned()),
                ..Filter::default()
            };
            let mut names: Vec<String> = history
                .queries(&filter)
                .expect("the query log reads")
                .rows
                .into_iter()
                .map(|r| r.name)
                .collect();
            names.sort();
            names
        };
        assert_eq!(found("a?c*"), ["a?c.test"]);
        assert_eq!(found("a[b]*"), ["a[b]c.test"]);
        assert_eq!(found("a%c*"), ["a%c.test"]);
        assert_eq!(found("a_c.test"), ["a_c.test"]);
        assert_eq!(found("*c.test").len(), 5);
        assert_eq!(found("*"), found("*c.test"));
    }

    #[test]
    fn cursor_pages_stay_put_while_rows_arrive() {
        let events = traffic(300, T0, 1000);
        let mut history = History::open_in_memory(7).expect("a history");
        history.stage(&events[..200]).expect("staged");
        history.flush(T0, None).expect("flushed");
        history.stage(&events[200..250]).expect("staged");

        let first = history.queries(&Filter::default()).expect("page 1");
        assert_eq!(first.cursor, Some(250));
        assert_eq!(ids(&first), (151..=250).rev().collect::<Vec<_>>());

        history.stage(&events[250..]).expect("more arrive");
        history.flush(T0 + 1000, None).expect("flushed");
        let second = history
            .queries(&Filter {
                cursor: first.cursor,
                start: 100,
                ..Filter::default()
            })
            .expect("page 2");
        assert_eq!(ids(&second), (51..=150).rev().collect::<Vec<_>>());
        assert_eq!((second.total, second.cursor), (250, Some(250)));
        let third = history
            .queries(&Filter {
                cursor: first.cursor,
                start: 200,
                ..Filter::default()
            })
            .expect("page 3");
        assert_eq!(ids(&third), (1..=50).rev().collect::<Vec<_>>());
        let fresh = history
            .queries(&Filter::default())
            .expect("a new first page");
        assert_eq!((fresh.total, fresh.cursor), (300, Some(300)));
    }

    /// Counts per key, most first, ties by key.
    fn ranked<'a>(keys: impl Iterator<Item = String> + 'a) -> Vec<(String, u64)> {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for key in keys {
            *counts.entry(key).or_default() += 1;
        }
        let mut ranked: Vec<(String, u64)> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
    }

    #[test]
    fn summary_tops_slots_and_days_agree_with_a_plain_count() {
        let events = traffic(700, T0 - 2 * DAY, 7 * MINUTE);
        let mut history = History::open_in_memory(30).expect("a history");
        history.stage(&events[..400]).expect("staged");
        history.flush(T0, None).expect("flushed");
        history.stage(&events[400..]).expect("staged");

        let (from, until) = (T0 - DAY - 33 * MINUTE, T0 + 5 * MINUTE);
        let inside: Vec<&Event> = events
            .iter()
            .filter(|e| (from..until).contains(&e.time_unix_ms))
            .collect();
        let summary = history.summary(from, until).expect("summary");
        let mut outcomes = [0u64; 8];
        for e in &inside {
            outcomes[e.outcome.index()] += 1;
        }
        assert_eq!(summary.total, inside.len() as u64);
        assert_eq!(summary.outcomes, outcomes);
        let distinct = |f: fn(&Event) -> String| {
            inside
                .iter()
                .map(|e| f(e))
                .collect::<std::collections::BTreeSet<_>>()
                .len() as u64
        };
        assert_eq!(summary.unique_names, distinct(|e| e.name.clone()));
        assert_eq!(summary.unique_clients, distinct(|e| e.client.to_string()));
        assert_eq!(
            summary.qtypes,
            ranked(inside.iter().map(|e| e.qtype.to_string()))
        );

        let blocked = |e: &&&Event| e.outcome == Outcome::Blocked;
        let answered = |e: &&&Event| !matches!(e.outcome, Outcome::Blocked | Outcome::Refused);
        let names = |pick: &dyn Fn(&&&Event) -> bool| {
            let mut top = ranked(inside.iter().filter(pick).map(|e| e.name.clone()));
            top.truncate(3);
            top
        };
        assert_eq!(
            history.top_names(from, until, true, 3).expect("top"),
            names(&blocked)
        );
        assert_eq!(
            history.top_names(from, until, false, 3).expect("top"),
            names(&answered)
        );
        let of = "192.168.1.10";
        let mut of_client = ranked(
            inside
                .iter()
                .filter(|e| e.outcome == Outcome::Blocked && e.client.to_string() == of)
                .map(|e| e.name.clone()),
        );
        of_client.truncate(5);
        assert_eq!(
            history.top_names_of(from, until, true, 5, of).expect("top"),
            of_client
        );
        let clients = |pick: &dyn Fn(&&&Event) -> bool| {
            ranked(inside.iter().filter(pick).map(|e| e.client.to_string()))
        };
        assert_eq!(
            history.top_clients(from, until, None, 10).expect("top"),
            clients(&|_| true)
        );
        assert_eq!(
            history
                .top_clients(from, until, Some(true), 10)
                .expect("top"),
            clients(&blocked)
        );
        assert_eq!(
            history
                .top_clients(from, until, Some(false), 2)
                .expect("top")[..],
            clients(&answered)[..2]
        );

        let recent: Vec<String> = events
            .iter()
            .rev()
            .filter(|e| e.outcome == Outcome::Blocked)
            .take(4)
            .map(|e| e.name.clone())
            .collect();
        assert_eq!(history.recent_blocked(4).expect("recent"), recent);

        let slot_ms = 10 * MINUTE;
        let slots = history.slots(from, until, slot_ms).expect("slots");
        let start = from - from % slot_ms;
        assert_eq!(slots.len() as u64, (until - start).div_ceil(slot_ms));
        for (i, slot) in slots.iter().enumerate() {
            assert_eq!(slot.start_ms, start + i as u64 * slot_ms);
            let mut counts = [0u64; 8];
            for e in &events {
                if (slot.start_ms..(slot.start_ms + slot_ms).min(until)).contains(&e.time_unix_ms) {
                    counts[e.outcome.index()] += 1;
                }
            }
            assert_eq!(slot.counts, counts, "slot {i}");
        }

        let by_client = history
            .client_slots(from, until, slot_ms, 2)
            .expect("client slots");
        let busiest: Vec<String> = ranked(
            events
                .iter()
                .filter(|e| (start..until).contains(&e.time_unix_ms))
                .map(|e| e.client.to_string()),
        )
        .into_iter()
        .take(2)
        .map(|(ip, _)| ip)
        .collect();
        assert_eq!(by_client.clients, busiest);
        assert_eq!(by_client.slots.len(), slots.len());
        for (start_ms, counts) in &by_client.slots {
            for (ip, n) in busiest.iter().zip(counts) {
                let plain = events
                    .iter()
                    .filter(|e| {
                        (*start_ms..(start_ms + slot_ms).min(until)).contains(&e.time_unix_ms)
                            && e.client.to_string() == *ip
                    })
                    .count() as u64;
                assert_eq!(*n, plain, "{ip} at {start_ms}");
            }
        }

        for offset in [0, 3600, -5 * 3600] {
            let days = history
                .days(T0 - 2 * DAY, T0 + 2 * DAY, offset)
                .expect("days");
            let local_day = |ms: u64| (ms as i64 + i64::from(offset) * 1000).div_euclid(DAY_MS);
            let first = local_day(T0 - 2 * DAY);
            assert_eq!(days.len() as i64, local_day(T0 + 2 * DAY - 1) - first + 1);
            for (i, day) in days.iter().enumerate() {
                assert_eq!(local_day(day.start_ms), first + i as i64);
                assert_eq!(local_day(day.start_ms - 1), first + i as i64 - 1);
                let mut counts = [0u64; 8];
                for e in &events {
                    if local_day(e.time_unix_ms) == first + i as i64 {
                        counts[e.outcome.index()] += 1;
                    }
                }
                assert_eq!(day.counts, counts, "offset {offset}, day {i}");
            }
        }
    }

    #[test]
    fn the_resume_point_survives_a_reopen() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("history.sqlite");
        let mut history = History::open(&path, 7).expect("a new history");
        assert_eq!(history.resume().expect("read"), None);
        let resume = Resume {
            server_started_ms: T0,
            next: 12_345,
        };
        history.flush(T0, Some(resume)).expect("flushed");
        history.stage(&traffic(3, T0, MINUTE)).expect("staged");
        history.flush(T0, None).expect("flushed");
        assert_eq!(history.resume().expect("read"), Some(resume));
        drop(history);
        let history = History::open(&path, 7).expect("reopens");
        assert_eq!(history.resume().expect("read"), Some(resume));
    }

    #[test]
    fn losses_are_counted_staged_and_kept_once_flushed() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("history.sqlite");
        let mut history = History::open(&path, 7).expect("a new history");
        history.stage_loss(T0, 5);
        history.stage_loss(T0 + MINUTE, 0);
        history.stage_loss(T0 + 2 * DAY, 2);
        assert_eq!(history.losses(T0, T0 + DAY).expect("losses"), 5);
        history.flush(T0 + 2 * DAY, None).expect("flushed");
        history.stage_loss(T0 + 3 * DAY, 1);
        assert_eq!(history.losses(0, u64::MAX).expect("losses"), 8);
        drop(history);
        let history = History::open(&path, 7).expect("reopens");
        assert_eq!(history.losses(0, u64::MAX).expect("losses"), 7);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_with_advice() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("history.sqlite");
        let mut header = b"SQLite format 3\0".to_vec();
        header.extend((0..8000u32).map(|i| (i * 7919 % 251) as u8));
        let garbage: [Vec<u8>; 4] = [
            b"not a database".to_vec(),
            (0..4096u32).map(|i| (i * 31 % 256) as u8).collect(),
            vec![0xff; 100_000],
            header,
        ];
        for bytes in garbage {
            std::fs::write(&path, &bytes).expect("written");
            let error = History::open(&path, 7).expect_err("refused");
            assert!(
                matches!(error, Error::NotHistory { .. }),
                "{} bytes: {error:?}",
                bytes.len()
            );
            assert!(error.to_string().contains("move it away"), "{error}");
            assert_eq!(std::fs::read(&path).expect("read"), bytes, "left as it was");
        }
    }

    #[test]
    fn another_programs_database_and_a_newer_history_are_refused() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let foreign = dir.path().join("foreign.sqlite");
        Connection::open(&foreign)
            .and_then(|c| c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);"))
            .expect("a foreign database");
        let error = History::open(&foreign, 7).expect_err("refused");
        assert!(matches!(error, Error::NotHistory { .. }), "{error:?}");

        let newer = dir.path().join("newer.sqlite");
        drop(History::open(&newer, 7).expect("a new history"));
        Connection::open(&newer)
            .and_then(|c| c.execute_batch("PRAGMA user_version = 2;"))
            .expect("set");
        let error = History::open(&newer, 7).expect_err("refused");
        assert!(
            matches!(
                error,
                Error::Newer {
                    found: 2,
                    supported: 1,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("move the file away"), "{error}");

        let missing = dir.path().join("no/such/folder/history.sqlite");
        let error = History::open(&missing, 7).expect_err("refused");
        assert!(matches!(error, Error::Open { .. }), "{error:?}");
    }

    #[test]
    fn damaged_pages_give_errors_with_advice_not_panics() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("history.sqlite");
        let mut history = History::open(&path, 30).expect("a new history");
        history.stage(&traffic(20_000, T0, 1000)).expect("staged");
        history.flush(T0, None).expect("flushed");
        drop(history);
        let clean = std::fs::read(&path).expect("read");
        let len = clean.len();
        assert!(len > 64 * 1024, "{len} bytes");
        let advice = |error: Error| {
            let text = error.to_string();
            assert!(text.contains("move"), "{text}");
        };
        // Half the file, then single pages here and there: some damage is
        // found on open, some by a read, some by neither; none panics.
        let pages = len / 4096;
        let regions = [(pages / 4, pages * 3 / 4)]
            .into_iter()
            .chain((2..pages).step_by(pages / 16).map(|page| (page, page + 1)));
        let (mut refused, mut failed_reads) = (0, 0);
        for (first, last) in regions {
            let mut bytes = clean.clone();
            for (i, byte) in bytes[first * 4096..last * 4096].iter_mut().enumerate() {
                *byte = (i * 131 % 256) as u8;
            }
            std::fs::write(&path, &bytes).expect("written");
            let history = match History::open(&path, 30) {
                Ok(history) => history,
                Err(error) => {
                    refused += 1;
                    advice(error);
                    continue;
                }
            };
            let results = [
                history.queries(&Filter::default()).err(),
                history.summary(0, u64::MAX).err(),
                history.top_names(0, u64::MAX, false, 10).err(),
                history.slots(T0, T0 + DAY, 10 * MINUTE).err(),
            ];
            for error in results.into_iter().flatten() {
                failed_reads += 1;
                advice(error);
            }
        }
        assert!(
            refused > 0 && failed_reads > 0,
            "{refused} refused, {failed_reads} failed reads"
        );
    }

    #[test]
    fn nonsense_ranges_give_errors_or_nothing() {
        let mut history = History::open_in_memory(7).expect("a history");
        history.stage(&traffic(10, T0, MINUTE)).expect("staged");
        assert!(matches!(
            history.slots(T0, T0 + DAY, 0),
            Err(Error::Range { .. })
        ));
        assert!(matches!(
            history.slots(0, u64::MAX, 1),
            Err(Error::Range { .. })
        ));
        assert!(matches!(
            history.client_slots(0, T0, 1, 3),
            Err(Error::Range { .. })
        ));
        assert_eq!(history.slots(T0, T0, MINUTE).expect("empty"), []);
        assert_eq!(history.slots(T0 + DAY, T0, MINUTE).expect("empty"), []);
        assert!(matches!(
            history.days(0, u64::MAX, 0),
            Err(Error::Range { .. })
        ));
        assert_eq!(history.days(T0, T0, 0).expect("empty"), []);
        for offset in [i32::MIN, i32::MAX] {
            let days = history.days(T0 - DAY, T0 + DAY, offset).expect("days");
            assert!(!days.is_empty());
        }
        history
            .days(u64::MAX - DAY, u64::MAX, i32::MAX)
            .expect("far days");
        let page = history
            .queries(&Filter {
                from_ms: Some(u64::MAX),
                until_ms: Some(0),
                start: usize::MAX,
                length: usize::MAX,
                ..Filter::default()
            })
            .expect("the query log reads");
        assert_eq!((page.rows.len(), page.total), (0, 0));
        let page = history
            .queries(&Filter {
                start: usize::MAX,
                length: usize::MAX,
                ..Filter::default()
            })
            .expect("the query log reads");
        assert_eq!((page.rows.len(), page.total), (0, 10));
        assert_eq!(history.summary(u64::MAX, 0).expect("summary").total, 0);
        assert_eq!(history.top_names(0, u64::MAX, true, 0).expect("top"), []);
    }
}
