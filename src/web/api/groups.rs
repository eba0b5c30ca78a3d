//! `/api/groups[/{name}]`: ralo's groups in Pi-hole's shape. Group 0 is the
//! implicit `default` (every client in no other group), the others are the
//! `[[groups]]` entries in file order, their ids their positions (so ids
//! after a removed group move down by one). Adding, renaming and removing
//! edit the config file ([`groups_edit`]) and have the updater apply it.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::domains::Names;
use super::lists::change_config;
use super::reply::{JsonBody, Reply, bad_request, blocking, error, ok, ok_with};
use crate::config::{Config, DEFAULT_GROUP};
use crate::web::app::App;
use crate::web::groups_edit;

/// The body of an addition (`name`: one or several) or a change.
#[derive(Debug, Deserialize)]
pub(super) struct GroupBody {
    name: Option<Names>,
    comment: Option<String>,
    enabled: Option<bool>,
}

/// The config as the file holds it now (the embedded defaults without one).
pub(super) fn current_config(app: &App) -> Result<Config, Response> {
    match &app.config_path {
        Some(path) => Config::load(path).map_err(|e| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "config_error",
                &e.to_string(),
            )
        }),
        None => Ok(app.config.clone()),
    }
}

/// Every group, `default` first, in Pi-hole's shape.
fn groups_json(config: &Config) -> Vec<Value> {
    let default = std::iter::once((DEFAULT_GROUP, Some("every client in no other group")));
    let configured = config
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.comment.as_deref()));
    default
        .chain(configured)
        .enumerate()
        .map(|(id, (name, comment))| {
            json!({
                "name": name,
                "comment": comment,
                "enabled": true,
                "id": id,
                "date_added": 0,
                "date_modified": 0,
            })
        })
        .collect()
}

async fn current_groups(app: &Arc<App>) -> Result<Vec<Value>, Response> {
    let app = app.clone();
    blocking(move || current_config(&app).map(|c| groups_json(&c))).await?
}

/// `GET /api/groups`.
pub(super) async fn list(State(app): State<Arc<App>>) -> Reply {
    let started = Instant::now();
    let groups = current_groups(&app).await?;
    ok(started, json!({"groups": groups}))
}

/// `GET /api/groups/{name}`: 404 for a name that is no group.
pub(super) async fn get(State(app): State<Arc<App>>, Path(name): Path<String>) -> Reply {
    let started = Instant::now();
    let groups = current_groups(&app).await?;
    let Some(group) = groups.into_iter().find(|g| g["name"] == name.as_str()) else {
        return Err(error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("there is no group `{name}`"),
        ));
    };
    ok(started, json!({"groups": [group]}))
}

/// Refuses `enabled: false`: a ralo group is always on.
fn always_on(enabled: Option<bool>) -> Result<(), Response> {
    if enabled == Some(false) {
        return Err(bad_request(
            "ralo's groups cannot be switched off; switch off the group's lists, or remove the group",
        ));
    }
    Ok(())
}

/// `POST /api/groups`: adds each name; 201 with the groups.
pub(super) async fn add(State(app): State<Arc<App>>, JsonBody(body): JsonBody<GroupBody>) -> Reply {
    let started = Instant::now();
    let Some(GroupBody {
        name: Some(names),
        comment,
        enabled,
    }) = body
    else {
        return Err(bad_request(
            "send {\"name\": \"kids\", \"comment\": \"…\"} as JSON",
        ));
    };
    always_on(enabled)?;
    let names = names.into_vec();
    if names.is_empty() || names.iter().any(|n| n.trim().is_empty()) {
        return Err(bad_request("`name`: give the group's name"));
    }
    let added = names.clone();
    change_config(&app, move |text| {
        names.iter().try_fold(text.to_owned(), |text, name| {
            groups_edit::add_group(&text, name, comment.as_deref())
        })
    })
    .await?;
    let groups = current_groups(&app).await?;
    let success: Vec<Value> = added.iter().map(|n| json!({"item": n.trim()})).collect();
    ok_with(
        StatusCode::CREATED,
        started,
        json!({"groups": groups, "processed": {"success": success, "errors": []}}),
    )
}

/// `PUT /api/groups/{name}`: renames (`name`) and sets the comment.
pub(super) async fn update(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<GroupBody>,
) -> Reply {
    let started = Instant::now();
    let Some(body) = body else {
        return Err(bad_request(
            "send {\"name\": \"new name\", \"comment\": \"…\"} as JSON",
        ));
    };
    always_on(body.enabled)?;
    let new_name = match body.name.map(Names::into_vec).as_deref() {
        None | Some([]) => None,
        Some([one]) => Some(one.clone()),
        Some(_) => return Err(bad_request("`name`: a group has one name")),
    };
    let comment = body.comment;
    let renamed = new_name.clone().unwrap_or_else(|| name.clone());
    change_config(&app, move |text| {
        groups_edit::set_group(text, &name, new_name.as_deref(), comment.as_deref())
    })
    .await?;
    let groups = current_groups(&app).await?;
    let changed: Vec<Value> = groups
        .into_iter()
        .filter(|g| g["name"] == renamed.trim())
        .collect();
    ok(
        started,
        json!({"groups": changed, "processed": {"success": [{"item": renamed}], "errors": []}}),
    )
}

/// `DELETE /api/groups/{name}`: 204 once the update without it ended.
pub(super) async fn remove(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<Response, Response> {
    change_config(&app, move |text| groups_edit::remove_group(text, &name)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
