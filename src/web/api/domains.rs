//! `/api/domains/{allow|deny}/exact[/{domain}]`: the household's own
//! allow and block entries, edited through the same call as `ralo allow`
//! and `ralo block`, answered once the change is live in DNS. Pi-hole's
//! regex kinds answer a clear 400: ralo's regex rules come from lists
//! (`format = "regex"`), which this API does not edit.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::reply::{JsonBody, Reply, bad_request, blocking, error, ok, ok_with};
use crate::cli::household::{self, Edit, RunUpdate};
use crate::domain::Domain;
use crate::web::app::App;

/// `domain` is one name or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Names {
    One(String),
    Many(Vec<String>),
}

impl Names {
    /// The names, one or several.
    pub(super) fn into_vec(self) -> Vec<String> {
        match self {
            Names::One(name) => vec![name],
            Names::Many(names) => names,
        }
    }
}

/// The body of an addition.
#[derive(Debug, Deserialize)]
pub(super) struct Addition {
    domain: Names,
    #[allow(dead_code)]
    comment: Option<String>,
}

/// Which of the household's lists a path names.
fn side(kind: &str, reach: &str) -> Result<bool, Response> {
    let allow = match kind {
        "allow" => true,
        "deny" => false,
        other => {
            return Err(error(
                StatusCode::NOT_FOUND,
                "not_found",
                &format!("`{other}`: use /api/domains/allow/… or /api/domains/deny/…"),
            ));
        }
    };
    match reach {
        "exact" => Ok(allow),
        "regex" => Err(bad_request(
            "regex rules come from lists with format = \"regex\" in ralo.toml, which this API does not edit; add the exact name (kind `exact`), or edit the regex list's file",
        )),
        other => Err(bad_request(&format!(
            "unknown kind `{other}`: ralo has `exact` entries"
        ))),
    }
}

fn entry_json(name: &str, allow: bool, subtree: bool, line: u32) -> Value {
    let unicode = idna::domain_to_unicode(name).0;
    json!({
        "domain": name,
        "unicode": unicode,
        "type": if allow { "allow" } else { "deny" },
        "kind": "exact",
        "comment": if subtree { Some("with its subdomains") } else { None },
        "groups": [0],
        "enabled": true,
        "id": line,
        "date_added": 0,
        "date_modified": 0,
        "ralo": {"subdomains": subtree, "line": line},
    })
}

/// The household's entries on one side.
fn entries(app: &App, allow: bool) -> Result<Vec<Value>, String> {
    let Some(file) = app.config.household_file(allow) else {
        return Ok(Vec::new());
    };
    let text = household::read_household(&file).map_err(|e| format!("{e:#}"))?;
    Ok(household::household_rules(&text, allow)
        .into_iter()
        .map(|(name, subtree, line)| entry_json(&name, allow, subtree, line))
        .collect())
}

/// `GET /api/domains/{type}/{kind}`.
pub(super) async fn list(
    State(app): State<Arc<App>>,
    Path((kind, reach)): Path<(String, String)>,
) -> Reply {
    let started = Instant::now();
    let allow = side(&kind, &reach)?;
    let app2 = app.clone();
    let domains = blocking(move || entries(&app2, allow))
        .await?
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, "file_error", &e))?;
    ok(started, json!({"domains": domains}))
}

/// `POST /api/domains/{type}/{kind}`: adds each name (exact), answering
/// 201 once the change is live.
pub(super) async fn add(
    State(app): State<Arc<App>>,
    Path((kind, reach)): Path<(String, String)>,
    JsonBody(body): JsonBody<Addition>,
) -> Reply {
    let started = Instant::now();
    let allow = side(&kind, &reach)?;
    let Some(addition) = body else {
        return Err(bad_request("send {\"domain\": \"name\"} as JSON"));
    };
    let names = addition.domain.into_vec();
    if names.is_empty() || names.len() > 100 {
        return Err(bad_request("give 1 to 100 names in `domain`"));
    }
    let edit = if allow { Edit::Allow } else { Edit::Block };
    let (success, errors, live) = run_edits(&app, edit, &names).await;
    if success.is_empty() {
        let message = errors
            .first()
            .and_then(|e| e["error"].as_str())
            .unwrap_or("nothing was added")
            .to_owned();
        return Err(error_with(StatusCode::BAD_REQUEST, &message, &errors));
    }
    let app2 = app.clone();
    let domains = blocking(move || entries(&app2, allow))
        .await?
        .unwrap_or_default();
    ok_with(
        StatusCode::CREATED,
        started,
        json!({
            "domains": domains,
            "processed": {"success": success, "errors": errors},
            "ralo": {"live_in_generation": live},
        }),
    )
}

fn error_with(status: StatusCode, message: &str, errors: &[Value]) -> Response {
    let body = json!({
        "error": {"key": "bad_request", "message": message, "hint": null},
        "processed": {"success": [], "errors": errors},
        "took": 0.0,
    });
    (status, Json(body)).into_response()
}

/// Runs `edit` for each name, one at a time (they share a file).
async fn run_edits(
    app: &Arc<App>,
    edit: Edit,
    names: &[String],
) -> (Vec<Value>, Vec<Value>, Option<u64>) {
    let _one_at_a_time = app.edits.lock().await;
    let mut success = Vec::new();
    let mut errors = Vec::new();
    let mut live = None;
    for name in names {
        let domain = match Domain::parse(name.trim()) {
            Ok(domain) => domain,
            Err(e) => {
                errors.push(
                    json!({"item": name, "error": format!("`{name}` is not a domain name: {e}")}),
                );
                continue;
            }
        };
        let applied = household::apply(
            &app.config,
            app.config_path.as_deref(),
            edit,
            &domain,
            false,
            RunUpdate::Child,
        )
        .await;
        match applied {
            Ok(applied) => {
                live = applied.generation.or(live);
                success.push(json!({"item": name, "ralo": applied.text()}));
            }
            Err(e) => errors.push(json!({"item": name, "error": format!("{e:#}")})),
        }
    }
    (success, errors, live)
}

/// `DELETE /api/domains/{type}/{kind}/{domain}`: 204 once live.
pub(super) async fn remove(
    State(app): State<Arc<App>>,
    Path((kind, reach, name)): Path<(String, String, String)>,
) -> Result<Response, Response> {
    let allow = side(&kind, &reach)?;
    let edit = if allow { Edit::Unallow } else { Edit::Unblock };
    let (success, errors, _) = run_edits(&app, edit, std::slice::from_ref(&name)).await;
    if success.is_empty() {
        let message = errors
            .first()
            .and_then(|e| e["error"].as_str())
            .unwrap_or("nothing was removed")
            .to_owned();
        return Err(bad_request(&message));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
