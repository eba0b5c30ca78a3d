//! The HTTP side of `ralo web`: the listener that turns away clients
//! outside `[access] allow` before a byte is read, the shared [`App`]
//! state, the session check in front of every `/api` route but the login,
//! and the router that joins the page (`page`) and the API (`api`).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::api;
use super::auth::{Brake, Check, Sessions, Via};
use super::follow::Shared;
use super::page;
use crate::config::Config;
use crate::resolve::access::Access;

/// What every request handler shares.
#[derive(Debug)]
pub struct App {
    /// The config as loaded at start (list edits re-read the file).
    pub config: Config,
    /// The config file, when one was given (list edits need it).
    pub config_path: Option<PathBuf>,
    /// The query history.
    pub history: Shared,
    /// Open sessions.
    pub sessions: Sessions,
    /// The brake on wrong passwords.
    pub brake: Brake,
    /// One edit of lists or config at a time.
    pub edits: tokio::sync::Mutex<()>,
    /// When this process started (for `took` and uptime).
    pub started: std::time::Instant,
}

impl App {
    /// The state for `config`.
    pub fn new(config: Config, config_path: Option<PathBuf>, history: Shared) -> App {
        let validity = Duration::from_secs(config.web.session_minutes * 60);
        App {
            config,
            config_path,
            history,
            sessions: Sessions::new(validity),
            brake: Brake::new(),
            edits: tokio::sync::Mutex::new(()),
            started: std::time::Instant::now(),
        }
    }
}

/// A listener that accepts only clients `[access] allow` lets in; every
/// other connection is closed at once, unanswered.
pub struct Gate {
    listener: TcpListener,
    access: Access,
}

impl Gate {
    /// Wraps a bound listener.
    pub fn new(listener: TcpListener, config: &Config) -> Gate {
        Gate {
            listener,
            access: Access::new(config.access.allow.clone()),
        }
    }
}

impl Listener for Gate {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) if self.access.allows(peer.ip()) => return (stream, peer),
                Ok((stream, _)) => drop(stream),
                Err(error) => {
                    // Out of descriptors and the like: wait, do not spin.
                    warn!(%error, "cannot accept a web connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// The client of a request, as the handlers see it.
#[derive(Clone, Copy, Debug)]
pub struct Client(pub SocketAddr);

impl Connected<IncomingStream<'_, Gate>> for Client {
    fn connect_info(stream: IncomingStream<'_, Gate>) -> Self {
        Client(*stream.remote_addr())
    }
}

impl Client {
    /// The client's address, IPv4-mapped IPv6 as IPv4.
    pub fn ip(&self) -> IpAddr {
        self.0.ip().to_canonical()
    }
}

/// The router: the page under `/admin/`, the API under `/api/`.
pub fn router(app: Arc<App>) -> Router {
    let open = api::open_routes();
    let guarded =
        api::routes().route_layer(middleware::from_fn_with_state(app.clone(), require_session));
    Router::new()
        .merge(page::routes())
        .nest("/api", open.merge(guarded).fallback(api::not_found))
        .layer(middleware::from_fn(security_headers))
        .with_state(app)
}

/// Serves `router` on `listener` until `shutdown`.
pub async fn serve(
    listener: Gate,
    app: Arc<App>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    info!(%addr, "web page at http://{addr}/admin/");
    let service = router(app).into_make_service_with_connect_info::<Client>();
    axum::serve(listener, service)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// A request's session id and how it came.
pub fn presented_sid(headers: &HeaderMap, query: Option<&str>) -> Option<(String, Via)> {
    if let Some(sid) = headers.get("x-ftl-sid").and_then(|v| v.to_str().ok()) {
        return Some((sid.trim().to_owned(), Via::Header));
    }
    if let Some(sid) = query.and_then(|q| {
        q.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == "sid")
            .map(|(_, value)| value.to_owned())
    }) {
        return Some((sid, Via::Header));
    }
    let cookies = headers.get_all(header::COOKIE);
    cookies
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == "sid")
        .map(|(_, value)| (value.to_owned(), Via::Cookie))
}

/// The CSRF token a request carries: Pi-hole's `X-CSRF-TOKEN`, or
/// `X-FTL-CSRF`.
pub fn presented_csrf(headers: &HeaderMap) -> Option<&str> {
    ["x-csrf-token", "x-ftl-csrf"]
        .iter()
        .find_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()))
}

/// Lets a request through with a valid session; 401 otherwise, as Pi-hole
/// answers (also when the cookie came without its CSRF token).
async fn require_session(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let presented = presented_sid(headers, request.uri().query());
    let check = match &presented {
        Some((sid, via)) => app.sessions.check(Some(sid), *via, presented_csrf(headers)),
        None => Check::NoSession,
    };
    match check {
        Check::Valid { .. } => next.run(request).await,
        Check::NoSession => api::error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized: log in first (POST /api/auth)",
        ),
        Check::MissingCsrf => api::error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized: a request with the session cookie needs its CSRF token in X-CSRF-TOKEN",
        ),
    }
}

/// Headers that keep the page from being framed or sniffed.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    response
}

/// The client address of a request, for handlers that need it.
pub fn client_ip(info: &ConnectInfo<Client>) -> IpAddr {
    info.0.ip()
}

/// A response that only says "no".
pub fn refuse(status: StatusCode) -> Response {
    status.into_response()
}
