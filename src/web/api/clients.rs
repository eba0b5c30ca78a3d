//! `/api/clients[/{client}]`: ralo's clients in Pi-hole's shape, one entry
//! per id (address, range, MAC address or host name) as Pi-hole has them: a
//! `[[clients]]` entry with several ids is several entries sharing its
//! `name` and `comment`, and a bare id a group names is an entry without a
//! name. `groups` are group ids (`default`, 0, for a client in no group).
//! Edits go through [`groups_edit`], which says how an id maps onto the
//! config's clients and groups.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::domains::Names;
use super::groups::current_config;
use super::lists::change_config;
use super::reply::{JsonBody, Reply, bad_request, blocking, error, ok, ok_with};
use crate::config::Config;
use crate::groups::ClientId;
use crate::web::app::App;
use crate::web::groups_edit;

/// The body of an addition (`client`: one id or several) or a change.
#[derive(Debug, Deserialize)]
pub(super) struct ClientBody {
    client: Option<Names>,
    comment: Option<String>,
    groups: Option<Vec<u64>>,
    /// ralo's addition: the `[[clients]]` name, to give the id to an
    /// existing client or to name a new one.
    name: Option<String>,
}

/// Every client id, in Pi-hole's shape.
fn clients_json(config: &Config) -> Vec<Value> {
    config
        .client_ids()
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let comment = entry.client.as_deref().and_then(|name| {
                config
                    .clients
                    .iter()
                    .find(|c| c.name == name)
                    .and_then(|c| c.comment.clone())
            });
            let groups: Vec<u32> = (0..u64::BITS)
                .filter(|bit| entry.groups & (1 << bit) != 0)
                .collect();
            json!({
                "client": entry.id.to_string(),
                "name": entry.client,
                "comment": comment,
                "groups": groups,
                "id": i + 1,
                "date_added": 0,
                "date_modified": 0,
            })
        })
        .collect()
}

async fn current_clients(app: &Arc<App>) -> Result<Vec<Value>, Response> {
    let app = app.clone();
    blocking(move || current_config(&app).map(|c| clients_json(&c))).await?
}

/// The entries of `clients` whose id is `id` (none for text that is no id).
fn with_id(clients: Vec<Value>, id: &str) -> Vec<Value> {
    let Ok(id) = id.parse::<ClientId>() else {
        return Vec::new();
    };
    clients
        .into_iter()
        .filter(|c| c["client"].as_str().and_then(|t| t.parse().ok()) == Some(id.clone()))
        .collect()
}

/// `GET /api/clients`.
pub(super) async fn list(State(app): State<Arc<App>>) -> Reply {
    let started = Instant::now();
    let clients = current_clients(&app).await?;
    ok(started, json!({"clients": clients}))
}

/// `GET /api/clients/{client}`: 404 for an id no client has.
pub(super) async fn get(State(app): State<Arc<App>>, Path(id): Path<String>) -> Reply {
    let started = Instant::now();
    let clients = with_id(current_clients(&app).await?, &id);
    if clients.is_empty() {
        return Err(error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no client has the id `{id}`"),
        ));
    }
    ok(started, json!({"clients": clients}))
}

/// `POST /api/clients`: adds each id; 201 with the clients.
pub(super) async fn add(
    State(app): State<Arc<App>>,
    JsonBody(body): JsonBody<ClientBody>,
) -> Reply {
    let started = Instant::now();
    let Some(ClientBody {
        client: Some(ids),
        comment,
        groups,
        name,
    }) = body
    else {
        return Err(bad_request(
            "send {\"client\": \"192.168.1.50\", \"groups\": [1]} as JSON",
        ));
    };
    let ids = ids.into_vec();
    if ids.is_empty() {
        return Err(bad_request(
            "`client`: give an address, range, MAC address or host name",
        ));
    }
    let added = ids.clone();
    change_config(&app, move |text| {
        let names = groups
            .map(|ids| groups_edit::names_of(text, &ids))
            .transpose()?;
        ids.iter().try_fold(text.to_owned(), |text, id| {
            groups_edit::add_client(
                &text,
                id,
                name.as_deref(),
                comment.as_deref(),
                names.as_deref(),
            )
        })
    })
    .await?;
    let clients = current_clients(&app).await?;
    let success: Vec<Value> = added.iter().map(|id| json!({"item": id.trim()})).collect();
    ok_with(
        StatusCode::CREATED,
        started,
        json!({"clients": clients, "processed": {"success": success, "errors": []}}),
    )
}

/// `PUT /api/clients/{client}`: sets the comment and the groups.
pub(super) async fn update(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ClientBody>,
) -> Reply {
    let started = Instant::now();
    let Some(body) = body else {
        return Err(bad_request(
            "send {\"comment\": \"…\", \"groups\": [0]} as JSON",
        ));
    };
    let (comment, groups) = (body.comment, body.groups);
    let changed = id.clone();
    change_config(&app, move |text| {
        let names = groups
            .map(|ids| groups_edit::names_of(text, &ids))
            .transpose()?;
        groups_edit::set_client(text, &id, comment.as_deref(), names.as_deref())
    })
    .await?;
    let clients = with_id(current_clients(&app).await?, &changed);
    ok(
        started,
        json!({"clients": clients, "processed": {"success": [{"item": changed}], "errors": []}}),
    )
}

/// `DELETE /api/clients/{client}`: 204 once the update without it ended.
pub(super) async fn remove(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    change_config(&app, move |text| groups_edit::remove_client(text, &id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
