//! The page: one HTML document with its script and style, and the vendored
//! chart library, all compiled into the binary from `web/` (no build step,
//! nothing fetched from elsewhere). The document is the same for everyone;
//! what it shows comes from the API after login.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::app::App;

const INDEX: &str = include_str!("../../web/index.html");
const SCRIPT: &str = include_str!("../../web/app.js");
const STYLE: &str = include_str!("../../web/app.css");
const CHART_SCRIPT: &str = include_str!("../../web/vendor/uPlot.iife.min.js");
const CHART_STYLE: &str = include_str!("../../web/vendor/uPlot.min.css");

/// The page's routes: `/` and `/admin` lead to `/admin/`.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/admin/") }))
        .route("/admin", get(|| async { Redirect::to("/admin/") }))
        .route("/admin/", get(index))
        .route("/admin/index.html", get(index))
        .route("/admin/app.js", get(|| async { asset(SCRIPT, JS) }))
        .route("/admin/app.css", get(|| async { asset(STYLE, CSS) }))
        .route(
            "/admin/vendor/uPlot.iife.min.js",
            get(|| async { asset(CHART_SCRIPT, JS) }),
        )
        .route(
            "/admin/vendor/uPlot.min.css",
            get(|| async { asset(CHART_STYLE, CSS) }),
        )
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The document, with the version filled in.
pub fn index_html() -> String {
    INDEX
        .replace("{{TITLE}}", "ralo")
        .replace("{{VERSION}}", env!("CARGO_PKG_VERSION"))
}

async fn index() -> Response {
    let mut response = index_html().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}
