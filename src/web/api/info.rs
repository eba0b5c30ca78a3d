//! `/api/info/version`, `/api/info/ftl` and `/api/search/{domain}`: what
//! the clients of Pi-hole's API read about the installation, and what
//! `ralo check` says of a name.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::json;

use super::reply::{Reply, bad_request, blocking, error, ok, with_history};
use super::stats::{DAY_MS, gravity};
use crate::cli::check;
use crate::domain::Domain;
use crate::resolve::Resolver;
use crate::vocab::unix_ms;
use crate::web::app::App;

const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

/// `GET /api/info/version`: ralo's version where Pi-hole names its parts
/// (core, web, FTL); there is no "remote" version to compare with.
pub(super) async fn version() -> Reply {
    let started = Instant::now();
    let local = json!({"version": VERSION, "branch": "ralo", "hash": null, "date": null});
    let remote = json!({"version": null, "hash": null});
    let part = json!({"local": local, "remote": remote});
    ok(
        started,
        json!({"version": {
            "core": part, "web": part, "ftl": part,
            "docker": {"local": null, "remote": null},
            "ralo": {"version": env!("CARGO_PKG_VERSION")},
        }}),
    )
}

/// `GET /api/info/ftl`: the counts Pi-hole's clients show.
pub(super) async fn ftl(State(app): State<Arc<App>>) -> Reply {
    let started = Instant::now();
    let now = unix_ms();
    let (day, ever) = with_history(&app, move |h| {
        Ok((
            h.summary(now.saturating_sub(DAY_MS), now + 1)?,
            h.summary(0, now + 1)?,
        ))
    })
    .await?;
    let app2 = app.clone();
    let image = blocking(move || gravity(&app2)).await?;
    let lists = app.config.lists.len() + app.config.allowlists.len();
    let groups = app.config.group_names().len();
    let count = |n: u64| json!({"total": n, "enabled": n});
    ok(
        started,
        json!({"ftl": {
            "database": {
                "gravity": image.rules, "groups": groups, "lists": lists,
                "clients": ever.unique_clients,
                "domains": {"allowed": count(image.household_allow), "denied": count(image.household_deny)},
                "regex": {"allowed": count(image.regex_allow), "denied": count(image.regex_deny)},
            },
            "privacy_level": 0,
            "query_frequency": day.total as f64 / (DAY_MS / 1000) as f64,
            "clients": {"total": ever.unique_clients, "active": day.unique_clients},
            "pid": std::process::id(),
            "uptime": app.started.elapsed().as_millis() as u64,
            "%mem": 0.0,
            "%cpu": 0.0,
            "allow_destructive": true,
            "dnsmasq": {},
        }}),
    )
}

/// `GET /api/search/{domain}`: what the server decides for the name, and
/// why, in the words of `ralo check`.
pub(super) async fn search(State(app): State<Arc<App>>, Path(name): Path<String>) -> Reply {
    let started = Instant::now();
    let domain = Domain::parse(name.trim())
        .map_err(|e| bad_request(&format!("`{name}` is not a domain name: {e}")))?;
    let app2 = app.clone();
    let path = app.config.paths.image_file();
    let from = path.clone();
    let described = blocking(
        move || -> Result<check::Description, crate::intake::Refusal> {
            let image = crate::intake::load(&from)?;
            let resolver = Resolver::new(&app2.config, image);
            Ok(check::describe(
                &app2.config,
                &resolver,
                &domain,
                std::net::IpAddr::from(std::net::Ipv4Addr::LOCALHOST),
                None,
                None,
            ))
        },
    )
    .await?
    .map_err(|e| {
        let message = format!("no usable image at {}: {e}", path.display());
        error(StatusCode::SERVICE_UNAVAILABLE, "no_image", &message)
    })?;
    ok(
        started,
        json!({
            "search": {
                "domains": [],
                "gravity": [],
                "results": {"domains": {"exact": 0, "regex": 0}, "gravity": {"allow": 0, "block": 0}, "total": 0},
                "parameters": {"N": 20, "partial": false, "domain": name, "debug": false},
            },
            "ralo": {
                "text": described.text,
                "outcome": described.outcome.as_str(),
                "blocked": described.blocked_now,
            },
        }),
    )
}
