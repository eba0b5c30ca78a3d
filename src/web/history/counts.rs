//! Counts over a time range: the summary, the top names and clients, the
//! chart slots and the days, from the hour counts and the rows.

use std::collections::BTreeMap;

use rusqlite::params_from_iter;

use crate::vocab::Outcome;

use super::error::Error;
use super::query::*;
use super::store::*;

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

impl History {
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
    pub(super) fn top(
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
    pub(super) fn top_ids(
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
    pub(super) fn per_slot(
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

/// The first slot's start and the number of slots of a chart.
pub(super) fn buckets(from_ms: u64, until_ms: u64, slot_ms: u64) -> Result<(u64, u64), Error> {
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
pub(super) fn add(counts: &mut [u64; 8], outcome: i64, n: i64) -> Result<(), Error> {
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
pub(super) fn out_of_range(index: usize) -> Error {
    Error::Value {
        what: format!("a time outside its own slot (slot {index})"),
    }
}
