//! `GET/POST /api/dns/blocking`: the same switch as `ralo disable` and
//! `ralo enable`, held by the running server and reached over its control
//! socket.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::reply::{JsonBody, Reply, bad_request, blocking, error, ok};
use crate::control::{self, Reply as ControlReply};
use crate::vocab::unix_ms;
use crate::web::app::App;

/// The body of a switch.
#[derive(Debug, Deserialize)]
pub(super) struct Switch {
    blocking: Option<bool>,
    timer: Option<f64>,
}

/// How long the server's socket may take.
const WAIT: Duration = Duration::from_secs(3);

/// Pi-hole's answer for a pause ending at `until_ms` (0: on).
fn state_json(until_ms: u64) -> serde_json::Value {
    let now = unix_ms();
    if until_ms == 0 || until_ms <= now {
        return json!({"blocking": "enabled", "timer": null});
    }
    let timer = (until_ms != u64::MAX).then(|| (until_ms - now) as f64 / 1000.0);
    json!({"blocking": "disabled", "timer": timer})
}

fn unreachable_server(e: control::Error) -> axum::response::Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "server_unavailable",
        &format!("the DNS server does not answer on its control socket: {e}"),
    )
}

/// `GET /api/dns/blocking`.
pub(super) async fn get(State(app): State<Arc<App>>) -> Reply {
    let started = Instant::now();
    let socket = app.config.paths.server_socket();
    let reply = blocking(move || control::state(&socket, WAIT))
        .await?
        .map_err(unreachable_server)?;
    let ControlReply::State {
        disabled_until_ms, ..
    } = reply
    else {
        return Err(bad_request("the server answered something else"));
    };
    ok(started, state_json(disabled_until_ms))
}

/// `POST /api/dns/blocking`: `{"blocking": false, "timer": 300}` pauses for
/// five minutes, `"timer": null` until enabled; `{"blocking": true}`
/// switches blocking on.
pub(super) async fn set(State(app): State<Arc<App>>, JsonBody(body): JsonBody<Switch>) -> Reply {
    let started = Instant::now();
    let Some(switch) = body else {
        return Err(bad_request(
            "send {\"blocking\": true|false, \"timer\": seconds|null} as JSON",
        ));
    };
    let Some(on) = switch.blocking else {
        return Err(bad_request("`blocking` (true or false) is missing"));
    };
    let until = match (on, switch.timer) {
        (true, _) => 0,
        (false, None) => u64::MAX,
        (false, Some(0.0)) => u64::MAX,
        (false, Some(secs)) if secs.is_finite() && secs > 0.0 && secs <= 366.0 * 86_400.0 => {
            unix_ms() + (secs * 1000.0) as u64
        }
        (false, Some(secs)) => {
            return Err(bad_request(&format!(
                "`timer` {secs} is not a number of seconds from 1 to a year (null: until enabled)"
            )));
        }
    };
    let socket = app.config.paths.server_socket();
    let reply = blocking(move || control::set_blocking(&socket, until, WAIT))
        .await?
        .map_err(unreachable_server)?;
    let ControlReply::State {
        disabled_until_ms, ..
    } = reply
    else {
        return Err(bad_request("the server did not confirm the switch"));
    };
    ok(started, state_json(disabled_until_ms))
}
