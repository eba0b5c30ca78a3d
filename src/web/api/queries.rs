//! `GET /api/queries`: the query log over the history, newest first, with
//! Pi-hole's filters and paging (`cursor` keeps pages stable while new
//! queries arrive). Each query says why it was answered as it was: its
//! outcome in Pi-hole's status words and in ralo's, and the blocking list.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::reply::{
    Reply, bad_request, ok, outcomes_of, outcomes_of_reply, reply_word, status_word, with_history,
};
use crate::vocab::Outcome;
use crate::web::app::App;
use crate::web::history::{Filter, Row};

/// The most queries one page holds.
pub(super) const MAX_LENGTH: usize = 10_000;

/// The parameters, as Pi-hole names them (`outcome` and `list` are ralo's).
#[derive(Debug, Default, Deserialize)]
pub(super) struct Params {
    from: Option<f64>,
    until: Option<f64>,
    length: Option<usize>,
    start: Option<usize>,
    cursor: Option<i64>,
    domain: Option<String>,
    client_ip: Option<String>,
    upstream: Option<String>,
    #[serde(rename = "type")]
    qtype: Option<String>,
    status: Option<String>,
    reply: Option<String>,
    outcome: Option<String>,
    list: Option<String>,
    draw: Option<i64>,
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// A filter parameter with a word it does not know.
#[derive(Debug, thiserror::Error)]
enum Unknown {
    #[error("unknown status `{0}`")]
    Status(String),
    #[error(
        "unknown outcome `{0}`: one of blocked, allowed, cached, stale, forwarded, local, refused, failed"
    )]
    Outcome(String),
    #[error("unknown reply `{0}`")]
    Reply(String),
}

/// The filter the parameters ask for, or what is wrong with them.
fn filter(params: Params) -> Result<Filter, Unknown> {
    let mut outcomes: Option<Vec<Outcome>> = None;
    let mut narrow = |selected: Vec<Outcome>| {
        outcomes = Some(match outcomes.take() {
            None => selected,
            Some(before) => before
                .into_iter()
                .filter(|o| selected.contains(o))
                .collect(),
        });
    };
    if let Some(word) = non_empty(params.status) {
        narrow(outcomes_of(&word).ok_or_else(|| Unknown::Status(word.clone()))?);
    }
    if let Some(word) = non_empty(params.outcome) {
        let outcome = Outcome::parse(&word).ok_or_else(|| Unknown::Outcome(word.clone()))?;
        narrow(vec![outcome]);
    }
    if let Some(word) = non_empty(params.reply) {
        narrow(outcomes_of_reply(&word).ok_or_else(|| Unknown::Reply(word.clone()))?);
    }
    if let Some(upstream) = non_empty(params.upstream) {
        narrow(match upstream.as_str() {
            "blocklist" => vec![Outcome::Blocked],
            "cache" => vec![Outcome::Cached, Outcome::Local, Outcome::Stale],
            _ => vec![Outcome::Forwarded, Outcome::Allowed, Outcome::Failed],
        });
    }
    let outcomes = match outcomes {
        // Filters that exclude each other select nothing: a filter no row
        // can pass, rather than none at all.
        Some(list) if list.is_empty() => return Ok(nothing()),
        Some(list) => list,
        None => Vec::new(),
    };
    let to_ms = |secs: f64| (secs.max(0.0) * 1000.0) as u64;
    Ok(Filter {
        from_ms: params.from.map(to_ms),
        until_ms: params.until.map(to_ms),
        cursor: params.cursor,
        start: params.start.unwrap_or(0),
        length: params.length.unwrap_or(100).clamp(1, MAX_LENGTH),
        name: non_empty(params.domain).map(|d| d.trim().to_ascii_lowercase()),
        client: non_empty(params.client_ip),
        qtype: non_empty(params.qtype).map(|t| t.to_ascii_uppercase()),
        outcomes,
        list: non_empty(params.list),
    })
}

/// A filter that matches no row.
fn nothing() -> Filter {
    Filter {
        from_ms: Some(1),
        until_ms: Some(0),
        length: 1,
        ..Filter::default()
    }
}

/// One row in Pi-hole's shape, with ralo's `outcome` and `list`.
pub fn row_json(row: &Row, household_list: Option<&str>) -> Value {
    let household = row.list.is_some() && row.list.as_deref() == household_list;
    let (ede_code, ede_text) = match (row.outcome, &row.list) {
        (Outcome::Blocked, Some(list)) => (15, format!("Blocked (list {list})")),
        (Outcome::Blocked, None) => (15, "Blocked".to_owned()),
        // A list's custom answer, as the server's EDE says it.
        (Outcome::Local, Some(list)) => (4, format!("Forged Answer (list {list})")),
        (Outcome::Stale, _) => (3, "Stale Answer".to_owned()),
        _ => (-1, String::new()),
    };
    json!({
        "id": row.id,
        "time": row.time_ms as f64 / 1000.0,
        "type": row.qtype,
        "status": status_word(row.outcome, household),
        "dnssec": "UNKNOWN",
        "domain": row.name,
        "upstream": match row.outcome {
            Outcome::Blocked => Value::from("blocklist"),
            Outcome::Cached | Outcome::Local | Outcome::Stale => Value::from("cache"),
            _ => Value::Null,
        },
        "reply": {"type": reply_word(row.outcome), "time": row.latency_us as f64 / 1000.0},
        "client": {"ip": row.client, "name": null},
        "list_id": null,
        "ede": {"code": ede_code, "text": if ede_text.is_empty() { Value::Null } else { ede_text.into() }},
        "cname": null,
        "outcome": row.outcome.as_str(),
        "list": row.list,
        "protocol": row.protocol.as_str(),
    })
}

/// `GET /api/queries`.
pub(super) async fn queries(State(app): State<Arc<App>>, Query(params): Query<Params>) -> Reply {
    let started = Instant::now();
    let draw = params.draw.unwrap_or(0);
    let filter = filter(params).map_err(|unknown| bad_request(&unknown.to_string()))?;
    let page = with_history(&app, move |h| h.queries(&filter)).await?;
    let household = app
        .config
        .lists
        .iter()
        .find(|l| l.household)
        .map(|l| l.name.clone());
    let rows: Vec<Value> = page
        .rows
        .iter()
        .map(|row| row_json(row, household.as_deref()))
        .collect();
    ok(
        started,
        json!({
            "queries": rows,
            "cursor": page.cursor,
            "recordsTotal": page.total,
            "recordsFiltered": page.filtered,
            "draw": draw,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_outcome_filters_narrow_each_other() {
        let both = filter(Params {
            status: Some("FORWARDED".into()),
            outcome: Some("allowed".into()),
            ..Params::default()
        })
        .unwrap();
        assert_eq!(both.outcomes, vec![Outcome::Allowed]);
        let neither = filter(Params {
            status: Some("GRAVITY".into()),
            outcome: Some("cached".into()),
            ..Params::default()
        })
        .unwrap();
        assert!(neither.from_ms > neither.until_ms);
        assert!(
            filter(Params {
                status: Some("BOGUS".into()),
                ..Params::default()
            })
            .is_err()
        );
        let plain = filter(Params {
            domain: Some(" Example.COM ".into()),
            length: Some(1_000_000),
            ..Params::default()
        })
        .unwrap();
        assert_eq!(plain.name.as_deref(), Some("example.com"));
        assert_eq!(plain.length, MAX_LENGTH);
        assert!(plain.outcomes.is_empty());
    }

    #[test]
    fn a_row_names_the_list_that_blocked_or_answered_it() {
        let row = |outcome, list: Option<&str>| Row {
            id: 1,
            time_ms: 1_000,
            client: "192.168.1.2".into(),
            name: "nas.lan".into(),
            qtype: "A".into(),
            outcome,
            list: list.map(str::to_owned),
            protocol: crate::vocab::Protocol::Udp,
            latency_us: 100,
        };
        let answered = row_json(&row(Outcome::Local, Some("home")), None);
        assert_eq!(answered["status"], "CACHE");
        assert_eq!(answered["ede"]["code"], 4);
        assert_eq!(answered["ede"]["text"], "Forged Answer (list home)");
        assert_eq!(answered["list"], "home");
        let local = row_json(&row(Outcome::Local, None), None);
        assert_eq!(local["ede"]["code"], -1);
        let blocked = row_json(&row(Outcome::Blocked, Some("ads")), None);
        assert_eq!(blocked["ede"]["text"], "Blocked (list ads)");
    }
}
