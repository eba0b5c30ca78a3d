//! How the API answers: Pi-hole's JSON shapes for success (`…, "took"`)
//! and errors (`{"error": {"key", "message", "hint"}}`), the history read
//! off the reactor, and ralo's outcomes in Pi-hole's words (one mapping,
//! used by the summary, the query log and its filters).

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::vocab::Outcome;
use crate::web::app::App;
use crate::web::follow::lock;
use crate::web::history::{self, History};

/// A handler's result: JSON, or an error response.
pub(super) type Reply = Result<Response, Response>;

/// A request's JSON body, read whatever its `Content-Type` says: Pi-hole
/// reads the body as JSON, and its documented `curl --data '{…}'` sends it
/// as a form. `None` for an empty body; a body that is not the JSON
/// expected is a 400 in Pi-hole's shape that says what is wrong.
pub(super) struct JsonBody<T>(pub(super) Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| error(e.status(), "bad_request", &e.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(None));
        }
        serde_json::from_slice(&bytes)
            .map(|value| JsonBody(Some(value)))
            .map_err(|e| bad_request(&format!("the request body is not the JSON expected: {e}")))
    }
}

/// `value` (an object) with `took`, the seconds since `started`, added.
pub(super) fn ok(started: Instant, value: Value) -> Reply {
    ok_with(StatusCode::OK, started, value)
}

/// As [`ok`] with another status (201 for a creation).
pub(super) fn ok_with(status: StatusCode, started: Instant, mut value: Value) -> Reply {
    if let Value::Object(map) = &mut value {
        map.insert("took".into(), json!(started.elapsed().as_secs_f64()));
    }
    Ok((status, Json(value)).into_response())
}

/// An error in Pi-hole's shape.
pub fn error(status: StatusCode, key: &str, message: &str) -> Response {
    error_hint(status, key, message, None)
}

/// An error with a hint.
pub(super) fn error_hint(
    status: StatusCode,
    key: &str,
    message: &str,
    hint: Option<&str>,
) -> Response {
    let body = json!({
        "error": {"key": key, "message": message, "hint": hint},
        "took": 0.0,
    });
    (status, Json(body)).into_response()
}

/// 400 with `message`.
pub(super) fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "bad_request", message)
}

/// The answer to an unknown `/api` path.
pub async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint: the endpoints ralo serves are listed in docs/api.md",
    )
}

/// Runs `read` on the history off the reactor; a failure is a 500 that
/// says what went wrong.
pub(super) async fn with_history<T, F>(app: &Arc<App>, read: F) -> Result<T, Response>
where
    T: Send + 'static,
    F: FnOnce(&History) -> Result<T, history::Error> + Send + 'static,
{
    let shared = app.history.clone();
    let result = tokio::task::spawn_blocking(move || read(&lock(&shared))).await;
    match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "database_error",
            &format!("cannot read the history: {e}"),
        )),
        Err(e) => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            &format!("the history read failed: {e}"),
        )),
    }
}

/// Runs blocking work (control sockets, files) off the reactor.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            &e.to_string(),
        )
    })
}

/// Pi-hole's status word for an outcome. `household` tells a block by the
/// household's own list (Pi-hole's "DENYLIST") from one by a downloaded
/// list ("GRAVITY").
pub fn status_word(outcome: Outcome, household: bool) -> &'static str {
    match outcome {
        Outcome::Blocked if household => "DENYLIST",
        Outcome::Blocked => "GRAVITY",
        Outcome::Allowed | Outcome::Forwarded | Outcome::Failed => "FORWARDED",
        Outcome::Cached | Outcome::Local => "CACHE",
        Outcome::Stale => "CACHE_STALE",
        Outcome::Refused => "UNKNOWN",
    }
}

/// Every status word ralo uses, for the summary's `status` table.
pub(super) const STATUS_WORDS: [&str; 6] = [
    "GRAVITY",
    "DENYLIST",
    "FORWARDED",
    "CACHE",
    "CACHE_STALE",
    "UNKNOWN",
];

/// Pi-hole's reply word for an outcome (ralo does not keep the reply's
/// records in the history, so a forwarded answer is "UNKNOWN"… except
/// where the outcome fixes it).
pub(super) fn reply_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Blocked => "IP",
        Outcome::Refused => "REFUSED",
        Outcome::Failed => "SERVFAIL",
        Outcome::Local => "IP",
        _ => "UNKNOWN",
    }
}

/// The outcomes a Pi-hole `status` word selects (or, failing that, a ralo
/// outcome word); `None` for a word neither knows.
pub(super) fn outcomes_of(word: &str) -> Option<Vec<Outcome>> {
    let outcomes = match word.to_ascii_uppercase().as_str() {
        "GRAVITY" | "DENYLIST" | "REGEX" | "GRAVITY_CNAME" | "DENYLIST_CNAME" => {
            vec![Outcome::Blocked]
        }
        "FORWARDED" => vec![Outcome::Forwarded, Outcome::Allowed, Outcome::Failed],
        "CACHE" => vec![Outcome::Cached, Outcome::Local],
        "CACHE_STALE" => vec![Outcome::Stale],
        "UNKNOWN" => vec![Outcome::Refused],
        _ => return Outcome::parse(word).map(|outcome| vec![outcome]),
    };
    Some(outcomes)
}

/// The outcomes a Pi-hole `reply` word selects.
pub(super) fn outcomes_of_reply(word: &str) -> Option<Vec<Outcome>> {
    let outcomes = match word.to_ascii_uppercase().as_str() {
        "REFUSED" => vec![Outcome::Refused],
        "SERVFAIL" => vec![Outcome::Failed],
        "IP" => vec![Outcome::Blocked, Outcome::Local],
        "UNKNOWN" => vec![
            Outcome::Allowed,
            Outcome::Cached,
            Outcome::Stale,
            Outcome::Forwarded,
        ],
        _ => return None,
    };
    Some(outcomes)
}

/// Whether `outcome` was counted as "forwarded" by Pi-hole's summary.
pub(super) fn is_forwarded(outcome: Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Forwarded | Outcome::Allowed | Outcome::Failed
    )
}

/// Whether `outcome` was counted as "cached" by Pi-hole's summary (local
/// answers included, as Pi-hole counts them).
pub(super) fn is_cached(outcome: Outcome) -> bool {
    matches!(outcome, Outcome::Cached | Outcome::Local | Outcome::Stale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_a_status_that_selects_it_again() {
        for outcome in Outcome::ALL {
            let word = status_word(outcome, false);
            assert!(STATUS_WORDS.contains(&word), "{word}");
            assert!(outcomes_of(word).unwrap().contains(&outcome), "{word}");
            let reply = reply_word(outcome);
            assert!(outcomes_of_reply(reply).unwrap().contains(&outcome));
        }
        assert_eq!(outcomes_of("nonsense"), None);
        assert_eq!(status_word(Outcome::Blocked, true), "DENYLIST");
    }
}
