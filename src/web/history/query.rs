//! The query log: one page of rows that pass the filters, newest first,
//! read over the rows on disk and the staged ones alike.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row as SqlRow, params, params_from_iter};

use crate::vocab::{Outcome, Protocol};

use super::error::Error;
use super::store::*;

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

impl History {
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
    pub(super) fn count(&self, terms: &Terms) -> Result<u64, Error> {
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
}

impl Filter {
    /// Adds a term for each filter given.
    pub(super) fn narrow(&self, terms: &mut Terms) {
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
    pub(super) fn read(row: &SqlRow<'_>) -> Result<Row, Error> {
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
pub(super) struct Side {
    /// The column of `queries` that refers to it.
    pub(super) column: &'static str,
    /// The table on disk and the staged one.
    pub(super) disk: &'static str,
    pub(super) staged: &'static str,
    /// Its text column.
    pub(super) key: &'static str,
}

pub(super) const NAMES: Side = Side {
    column: "name",
    disk: "main.names",
    staged: "temp.new_names",
    key: "name",
};

pub(super) const CLIENTS: Side = Side {
    column: "client",
    disk: "main.clients",
    staged: "temp.new_clients",
    key: "ip",
};

impl Side {
    /// The id of `text`, a new staged one if it has none yet.
    pub(super) fn intern(
        &self,
        conn: &Connection,
        text: &str,
        next: &mut i64,
    ) -> Result<i64, Error> {
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
    pub(super) fn text(&self, id: &str) -> String {
        let Side {
            disk, staged, key, ..
        } = self;
        format!(
            "coalesce((SELECT {key} FROM {disk} WHERE id = {id}), (SELECT {key} FROM {staged} WHERE id = {id}))"
        )
    }

    /// Adds the term "the text is `pattern`": exact, or with `*` for any run
    /// of characters. ASCII letters match in any case.
    pub(super) fn narrow(&self, pattern: &str, terms: &mut Terms) {
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
pub(super) fn glob(pattern: &str) -> String {
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
pub(super) struct Terms {
    pub(super) terms: Vec<String>,
    pub(super) params: Vec<Value>,
}

impl Terms {
    /// Adds a parameter; returns its placeholder.
    pub(super) fn param(&mut self, value: impl Into<Value>) -> String {
        self.params.push(value.into());
        format!("?{}", self.params.len())
    }

    /// Adds a term.
    pub(super) fn term(&mut self, term: String) {
        self.terms.push(term);
    }

    /// Adds `from_ms <= time_ms < until_ms`, each bound if given.
    pub(super) fn range(&mut self, from_ms: Option<u64>, until_ms: Option<u64>) {
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
    pub(super) fn sql(&self) -> String {
        if self.terms.is_empty() {
            "1".to_owned()
        } else {
            self.terms.join(" AND ")
        }
    }
}

/// `columns` of the rows on disk and the staged ones that pass `terms`.
pub(super) fn both(columns: &str, terms: &str) -> String {
    format!(
        "SELECT {columns} FROM main.queries WHERE {terms} UNION ALL SELECT {columns} FROM temp.staged WHERE {terms}"
    )
}
