//! `/api/lists` and `/api/action/gravity`: the configured lists with what
//! the last update made of each (from the updater's status file), adding,
//! removing and switching lists in the config file (comments and layout
//! kept), and "update now" with the progress streamed as lines.
//!
//! The web process never compiles: a change of the config is handed to the
//! watching updater (SIGHUP: it reads the config again and downloads), or,
//! when none runs, to a `ralo update` child.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

use super::reply::{JsonBody, Reply, bad_request, blocking, error, ok, ok_with};
use crate::config::Config;
use crate::update::{Status, lock};
use crate::web::app::App;
use crate::web::groups_edit;
use crate::web::lists_edit::{self, Kind};

/// How long an update may take before the answer stops waiting for it.
const UPDATE_WAIT: Duration = Duration::from_secs(120);

/// `type=block|allow`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct TypeParam {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// The body of an addition or a change.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ListBody {
    address: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    comment: Option<String>,
    enabled: Option<bool>,
    /// The ids of the groups it applies to (`PUT` only).
    groups: Option<Vec<u64>>,
}

fn kind_of(word: Option<&str>) -> Result<Kind, Response> {
    match word.unwrap_or("block") {
        "block" => Ok(Kind::Block),
        "allow" => Ok(Kind::Allow),
        other => Err(bad_request(&format!(
            "unknown list type `{other}`: `block` or `allow`"
        ))),
    }
}

pub(super) fn config_file(app: &App) -> Result<PathBuf, Response> {
    app.config_path.clone().ok_or_else(|| {
        bad_request(
            "ralo web runs on the embedded defaults, which it cannot edit: start ralo with --config FILE",
        )
    })
}

/// Every list of the config file as it is now, with the last update's
/// counts and result.
fn lists_json(app: &App) -> Result<Vec<Value>, String> {
    let text = match &app.config_path {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        None => crate::config::EMBEDDED.to_owned(),
    };
    let entries = lists_edit::entries(&text).map_err(|e| e.to_string())?;
    let group_names = groups_edit::group_names(&text).unwrap_or_else(|_| {
        let names = app.config.group_names();
        names.into_iter().map(str::to_owned).collect()
    });
    let status = Status::load(&app.config.paths.runtime);
    Ok(entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let compiled = status
                .as_ref()
                .and_then(|s| s.lists.iter().find(|l| l.name == entry.name));
            let result = match (entry.enabled, compiled) {
                (false, _) => "switched off: not compiled".to_owned(),
                (true, None) => match &status {
                    Some(s) if !s.published => format!("not compiled: {}", s.message),
                    _ => "not compiled yet: it is used from the next update".to_owned(),
                },
                (true, Some(list)) => match &list.error {
                    Some(why) => format!("last download failed ({why}); using the last good copy"),
                    None => format!(
                        "{} rules ({} added, {} removed in the last update)",
                        list.rules, list.added, list.removed
                    ),
                },
            };
            let pihole_status = match compiled {
                Some(list) if list.error.is_some() => 3,
                Some(_) => 1,
                None => 0,
            };
            json!({
                "address": entry.address,
                "comment": entry.comment,
                "groups": group_ids(entry, &group_names),
                "enabled": entry.enabled,
                "id": i + 1,
                "date_added": 0,
                "date_modified": 0,
                "type": match entry.kind { Kind::Block => "block", Kind::Allow => "allow" },
                "date_updated": status.as_ref().map_or(0, |s| s.time_unix_ms / 1000),
                "number": compiled.map_or(0, |l| l.rules),
                "invalid_domains": compiled.map_or(0, |l| l.invalid),
                "abp_entries": 0,
                "status": pihole_status,
                "name": entry.name,
                "household": entry.household,
                "schedule": entry.schedule,
                "result": result,
            })
        })
        .collect())
}

/// The ids of the groups `entry` applies to; the household's own list
/// applies to every group.
fn group_ids(entry: &lists_edit::Entry, names: &[String]) -> Vec<usize> {
    if entry.household {
        return (0..names.len()).collect();
    }
    entry
        .groups
        .iter()
        .filter_map(|group| names.iter().position(|name| name == group))
        .collect()
}

/// `GET /api/lists`.
pub(super) async fn list(State(app): State<Arc<App>>) -> Reply {
    let started = Instant::now();
    let app2 = app.clone();
    let lists = blocking(move || lists_json(&app2))
        .await?
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, "config_error", &e))?;
    let status = Status::load(&app.config.paths.runtime);
    ok(
        started,
        json!({"lists": lists, "ralo": {"last_update": status}}),
    )
}

/// An edit's refusal: its words and the status that answers it.
pub(super) trait Refusal: std::fmt::Display {
    /// 404 for an edit of something that does not exist, else 400.
    fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }
}

impl Refusal for lists_edit::Error {}

impl Refusal for groups_edit::Error {
    fn status(&self) -> StatusCode {
        if self.is_not_found() {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::BAD_REQUEST
        }
    }
}

/// Applies `change` to the config file's text, checks and saves it, and
/// has the updater apply it; waits for that update to end. A refused change
/// or a text that would not load leaves the file as it was.
pub(super) async fn change_config<E: Refusal + Send + 'static>(
    app: &Arc<App>,
    change: impl FnOnce(&str) -> Result<String, E> + Send + 'static,
) -> Result<(), Response> {
    let path = config_file(app)?;
    let _one_at_a_time = app.edits.lock().await;
    let saved = blocking(move || -> Result<(), Response> {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            let message = format!("cannot read {}: {e}", path.display());
            error(StatusCode::INTERNAL_SERVER_ERROR, "config_error", &message)
        })?;
        let new_text = change(&text).map_err(|e| {
            let key = if e.status() == StatusCode::NOT_FOUND {
                "not_found"
            } else {
                "bad_request"
            };
            error(e.status(), key, &e.to_string())
        })?;
        lists_edit::save(&path, &new_text).map_err(|e| bad_request(&e.to_string()))
    })
    .await?;
    saved?;
    let (tx, mut rx) = mpsc::channel(64);
    let config = app.config.clone();
    let config_path = app.config_path.clone();
    let update = tokio::spawn(async move { run_update(&config, config_path, tx).await });
    while rx.recv().await.is_some() {}
    let _ = update.await;
    Ok(())
}

/// `POST /api/lists`: 201 with the lists once the update with it ended.
pub(super) async fn add(State(app): State<Arc<App>>, JsonBody(body): JsonBody<ListBody>) -> Reply {
    let started = Instant::now();
    let Some(body) = body else {
        return Err(bad_request(
            "send {\"address\": \"https://…\", \"type\": \"block\"} as JSON",
        ));
    };
    let kind = kind_of(body.kind.as_deref())?;
    let Some(address) = body.address.filter(|a| !a.trim().is_empty()) else {
        return Err(bad_request("`address` (a URL or a file path) is missing"));
    };
    let address = address.trim().to_owned();
    let comment = body.comment.filter(|c| !c.trim().is_empty());
    let enabled = body.enabled.unwrap_or(true);
    change_config(&app, move |text| {
        lists_edit::add(text, kind, &address, None, comment.as_deref(), enabled)
    })
    .await?;
    let app2 = app.clone();
    let lists = blocking(move || lists_json(&app2))
        .await?
        .unwrap_or_default();
    ok_with(StatusCode::CREATED, started, json!({"lists": lists}))
}

/// `PUT /api/lists/{address}?type=…`: switch on or off, change the comment
/// and the groups it applies to.
pub(super) async fn update(
    State(app): State<Arc<App>>,
    Path(address): Path<String>,
    Query(param): Query<TypeParam>,
    JsonBody(body): JsonBody<ListBody>,
) -> Reply {
    let started = Instant::now();
    let body = body.unwrap_or_default();
    let kind = kind_of(body.kind.as_deref().or(param.kind.as_deref()))?;
    let enabled = body.enabled;
    let comment = body.comment;
    let groups = body.groups;
    change_config(&app, move |text| -> Result<String, groups_edit::Error> {
        let mut text = text.to_owned();
        if let Some(ids) = &groups {
            let names = groups_edit::names_of(&text, ids)?;
            text = lists_edit::set_groups(&text, kind, &address, &names)?;
        }
        if let Some(on) = enabled {
            text = lists_edit::set_enabled(&text, kind, &address, on)?;
        }
        if let Some(comment) = &comment {
            let comment = Some(comment.as_str()).filter(|c| !c.is_empty());
            text = lists_edit::set_comment(&text, kind, &address, comment)?;
        }
        Ok(text)
    })
    .await?;
    let app2 = app.clone();
    let lists = blocking(move || lists_json(&app2))
        .await?
        .unwrap_or_default();
    ok(started, json!({"lists": lists}))
}

/// `DELETE /api/lists/{address}?type=…`: 204 once the update without it
/// ended.
pub(super) async fn remove(
    State(app): State<Arc<App>>,
    Path(address): Path<String>,
    Query(param): Query<TypeParam>,
) -> Result<Response, Response> {
    let kind = kind_of(param.kind.as_deref())?;
    change_config(&app, move |text| lists_edit::remove(text, kind, &address)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/action/gravity`: updates every list now, streaming progress
/// lines as plain text.
pub(super) async fn gravity(State(app): State<Arc<App>>) -> Response {
    let (tx, rx) = mpsc::channel::<String>(64);
    let config = app.config.clone();
    let config_path = app.config_path.clone();
    tokio::spawn(async move { run_update(&config, config_path, tx).await });
    let lines = futures_util::stream::unfold(rx, |mut rx| async move {
        let line = rx.recv().await?;
        Some((Ok::<_, Infallible>(format!("{line}\n")), rx))
    });
    let mut response = Body::from_stream(lines).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Has the lists updated (by the watching updater, or a child) and says
/// what happens on `tx`, ending with the update's result per list.
async fn run_update(config: &Config, config_path: Option<PathBuf>, tx: mpsc::Sender<String>) {
    let runtime = config.paths.runtime.clone();
    let before = Status::load(&runtime).map_or(0, |s| s.time_unix_ms);
    let say = |line: String| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(line).await;
        }
    };
    if let Some(pid) = lock::holder(&config.paths.runtime) {
        let signalled = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
            .is_some_and(|pid| {
                rustix::process::kill_process(pid, rustix::process::Signal::HUP).is_ok()
            });
        if !signalled {
            say(format!("cannot reach the running updater (pid {pid})")).await;
            return;
        }
        say(format!(
            "asked the running updater (pid {pid}) to read the config and download every list"
        ))
        .await;
    } else {
        say("starting `ralo update`".to_owned()).await;
        let spawned =
            crate::supervise::update_once(config_path.as_deref()).and_then(|mut command| {
                command
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .kill_on_drop(true);
                command.spawn()
            });
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                say(format!("cannot start `ralo update`: {e:#}")).await;
                return;
            }
        };
        if let Some(stderr) = child.stderr.take() {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                say(line).await;
            }
        }
        let _ = tokio::time::timeout(UPDATE_WAIT, child.wait()).await;
    }
    let deadline = tokio::time::Instant::now() + UPDATE_WAIT;
    let mut last_said = tokio::time::Instant::now();
    let status = loop {
        match Status::load(&runtime) {
            Some(status) if status.time_unix_ms > before => break Some(status),
            _ => {}
        }
        if tokio::time::Instant::now() > deadline {
            break None;
        }
        if last_said.elapsed() > Duration::from_secs(5) {
            last_said = tokio::time::Instant::now();
            say("  still updating…".to_owned()).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let Some(status) = status else {
        say(format!(
            "the update did not end within {} s; see `journalctl -u ralo-update`",
            UPDATE_WAIT.as_secs()
        ))
        .await;
        return;
    };
    for list in &status.lists {
        let detail = match &list.error {
            Some(why) => format!(", download failed: {why}"),
            None => String::new(),
        };
        say(format!(
            "  list `{}`: {} rules, {} invalid lines{detail}",
            list.name, list.rules, list.invalid
        ))
        .await;
    }
    say(if status.published {
        format!("done: {}", status.message)
    } else {
        format!("nothing published: {}", status.message)
    })
    .await;
}
