//! `/api/auth`: log in with the password (a session id in the `sid`
//! cookie and in the answer, with its CSRF token), ask whether a session
//! is valid, log out. Wrong passwords slow the client down after a few.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::reply::{JsonBody, Reply, blocking, error, error_hint, ok};
use crate::web::app::{App, Client, presented_csrf, presented_sid};
use crate::web::auth::{Check, Password, Via};

/// The login body.
#[derive(Debug, Deserialize)]
pub(super) struct Login {
    password: Option<String>,
}

/// `POST /api/auth`.
pub(super) async fn login(
    State(app): State<Arc<App>>,
    ConnectInfo(client): ConnectInfo<Client>,
    JsonBody(body): JsonBody<Login>,
) -> Reply {
    let started = Instant::now();
    let ip = client.ip();
    if let Some(wait) = app.brake.wait(ip) {
        let secs = wait.as_secs_f64().ceil() as u64;
        return Err(error_hint(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limiting",
            &format!("too many wrong passwords: try again in {secs} s"),
            Some(&format!("{secs}")),
        ));
    }
    let Some(Login {
        password: Some(password),
    }) = body
    else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "send {\"password\": \"…\"} as JSON",
        ));
    };
    let file = Password::file(&app.config.paths.state);
    let verified = blocking(move || -> Result<bool, crate::web::auth::Error> {
        let stored = Password::load(&file)?;
        Ok(stored.is_some_and(|p| p.verify(&password)))
    })
    .await?;
    match verified {
        Ok(true) => {}
        Ok(false) => {
            app.brake.failed(ip);
            let body = json!({
                "session": {"valid": false, "totp": false, "sid": null, "validity": -1,
                            "message": "password incorrect"},
                "error": {"key": "unauthorized", "message": "password incorrect", "hint": null},
                "took": started.elapsed().as_secs_f64(),
            });
            return Err((StatusCode::UNAUTHORIZED, Json(body)).into_response());
        }
        Err(unreadable) => {
            return Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "password_file",
                &unreadable.to_string(),
            ));
        }
    }
    app.brake.succeeded(ip);
    let opened = app.sessions.open();
    let mut response = ok(
        started,
        json!({"session": {
            "valid": true, "totp": false, "sid": opened.sid, "csrf": opened.csrf,
            "validity": opened.validity, "message": "password correct",
        }}),
    )?;
    let cookie = format!(
        "sid={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        opened.sid, opened.validity
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// `GET /api/auth`: whether the request's session is valid (200) or not
/// (401), with its CSRF token for the page that was reloaded.
pub(super) async fn status(State(app): State<Arc<App>>, headers: HeaderMap, uri: Uri) -> Reply {
    let started = Instant::now();
    let presented = presented_sid(&headers, uri.query());
    // Asking does not change anything: the cookie alone may ask.
    let check = match &presented {
        Some((sid, _)) => app.sessions.check(Some(sid), Via::Header, None),
        None => Check::NoSession,
    };
    match (check, presented) {
        (Check::Valid { validity }, Some((sid, _))) => ok(
            started,
            json!({"session": {
                "valid": true, "totp": false, "sid": sid, "csrf": app.sessions.csrf(&sid),
                "validity": validity, "message": null,
            }}),
        ),
        _ => {
            let body = json!({
                "session": {"valid": false, "totp": false, "sid": null, "validity": -1,
                            "message": null},
                "took": started.elapsed().as_secs_f64(),
            });
            Err((StatusCode::UNAUTHORIZED, Json(body)).into_response())
        }
    }
}

/// `DELETE /api/auth`: ends the session (204), clearing the cookie.
pub(super) async fn logout(State(app): State<Arc<App>>, headers: HeaderMap, uri: Uri) -> Response {
    let Some((sid, via)) = presented_sid(&headers, uri.query()) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "no session to end",
        );
    };
    match app
        .sessions
        .check(Some(&sid), via, presented_csrf(&headers))
    {
        Check::Valid { .. } => {
            app.sessions.close(&sid);
            let mut response = StatusCode::NO_CONTENT.into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_static("sid=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
            );
            response
        }
        Check::NoSession => error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the session is not valid",
        ),
        Check::MissingCsrf => error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a request with the session cookie needs its CSRF token in X-CSRF-TOKEN",
        ),
    }
}
