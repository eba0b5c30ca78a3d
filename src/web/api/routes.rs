//! Which handler answers which path: the login routes open to all (of the
//! allowed networks), every other route behind a valid session.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post, put};

use super::{blocking, clients, domains, groups, info, lists, queries, session, stats};
use crate::web::app::App;

/// The routes that need no session: logging in and out, asking.
pub fn open_routes() -> Router<Arc<App>> {
    Router::new().route(
        "/auth",
        post(session::login)
            .get(session::status)
            .delete(session::logout),
    )
}

/// The routes behind a session.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/stats/summary", get(stats::summary))
        .route("/stats/top_domains", get(stats::top_domains))
        .route("/stats/top_clients", get(stats::top_clients))
        .route("/stats/upstreams", get(stats::upstreams))
        .route("/stats/query_types", get(stats::query_types))
        .route("/stats/recent_blocked", get(stats::recent_blocked))
        .route("/history", get(stats::history))
        .route("/history/clients", get(stats::history_clients))
        .route("/history/database", get(stats::history_database))
        .route("/queries", get(queries::queries))
        .route("/dns/blocking", get(blocking::get).post(blocking::set))
        .route(
            "/domains/{kind}/{reach}",
            get(domains::list).post(domains::add),
        )
        .route(
            "/domains/{kind}/{reach}/{domain}",
            axum::routing::delete(domains::remove),
        )
        .route("/lists", get(lists::list).post(lists::add))
        .route(
            "/lists/{*address}",
            put(lists::update).delete(lists::remove),
        )
        .route("/groups", get(groups::list).post(groups::add))
        .route(
            "/groups/{name}",
            get(groups::get).put(groups::update).delete(groups::remove),
        )
        .route("/clients", get(clients::list).post(clients::add))
        .route(
            "/clients/{*client}",
            get(clients::get)
                .put(clients::update)
                .delete(clients::remove),
        )
        .route("/action/gravity", post(lists::gravity))
        .route("/search/{domain}", get(info::search))
        .route("/info/version", get(info::version))
        .route("/info/ftl", get(info::ftl))
}
