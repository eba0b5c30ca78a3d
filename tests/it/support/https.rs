//! A real HTTPS server for the list-source tests, on `127.0.0.1`, port 0.
//!
//! [`HttpsServer::start`] makes a throw-away certificate authority and a
//! server certificate for `localhost` and `127.0.0.1` (`super::pki`), and serves
//! TLS with `tokio-rustls` (ring provider). HTTP is a tiny hand-written
//! HTTP/1.1 responder: one request per connection, answered with
//! `Connection: close`. The fetcher under test trusts the CA through
//! `Fetcher::with_extra_root(&server.ca_pem())`.
//!
//! Routes are set by the test at any time with [`HttpsServer::set`] (a fixed
//! [`Response`]) or [`HttpsServer::set_drip`] (a body sent a chunk at a time
//! with pauses: for timeouts). A fixed response that carries an `ETag` or
//! `Last-Modified` header gets a real conditional GET: a matching
//! `If-None-Match` (or, without it, an equal `If-Modified-Since`) is
//! answered `304 Not Modified`. An unknown path is `404`. Every request is
//! counted per path ([`HttpsServer::hits`]), and so are those that carried
//! `If-None-Match` ([`HttpsServer::if_none_match_hits`]).
//!
//! Bounded: request heads over 16 KiB are dropped, every connection ends
//! within 30 s, a drip sends a fixed number of chunks, and dropping the
//! server stops it and every connection it still holds.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use super::pki::TestCa;

/// The largest request head read.
const MAX_HEAD: usize = 16 * 1024;

/// The longest one connection lives.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(30);

/// A fixed answer for a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Extra headers, sent as given (`Content-Length` and `Connection` are
    /// added by the server).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Whether to send `Content-Length`; without it the body ends when the
    /// connection closes, so a client cannot know its size in advance.
    pub content_length: bool,
}

impl Response {
    /// `200` with `Content-Type: text/plain` and `body`.
    pub fn text(body: impl Into<Vec<u8>>) -> Response {
        Response::status(200)
            .with_header("Content-Type", "text/plain; charset=utf-8")
            .with_body(body)
    }

    /// `status` with no headers and an empty body.
    pub fn status(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            content_length: true,
        }
    }

    /// A redirect with `status` (301, 302, 307, 308) to `location`.
    pub fn redirect(status: u16, location: &str) -> Response {
        Response::status(status).with_header("Location", location)
    }

    /// This response with one more header.
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// This response with `body`.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }

    /// This response without `Content-Length` (the body is ended by closing
    /// the connection).
    pub fn without_length(mut self) -> Response {
        self.content_length = false;
        self
    }

    /// The value of header `name` (case-insensitive), if set.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A slow body: `200 text/plain` without `Content-Length`, then `chunk`
/// `chunks` times with a pause of `every` before each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drip {
    /// The bytes sent each time.
    pub chunk: Vec<u8>,
    /// How many times (bounds the route's life).
    pub chunks: u32,
    /// The pause before each chunk.
    pub every: Duration,
}

/// What a path serves.
#[derive(Debug, Clone)]
enum Route {
    Fixed(Response),
    Drip(Drip),
}

/// Routes and counters, shared with the connection tasks.
#[derive(Debug, Default)]
struct State {
    routes: HashMap<String, Route>,
    hits: HashMap<String, u64>,
    if_none_match_hits: HashMap<String, u64>,
}

/// The server; dropping it stops it.
#[derive(Debug)]
pub struct HttpsServer {
    addr: SocketAddr,
    ca_pem: String,
    state: Arc<Mutex<State>>,
    task: AbortHandle,
}

impl HttpsServer {
    /// Makes a CA and a server certificate, binds `127.0.0.1:0`, and starts
    /// serving with no routes.
    pub async fn start() -> HttpsServer {
        let ca = TestCa::new();
        let config = ca.server(&["localhost", "127.0.0.1"], &[b"http/1.1"]);
        let ca_pem = ca.pem().to_owned();
        let acceptor = TlsAcceptor::from(config);
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State::default()));
        let task = tokio::spawn(accept_loop(listener, acceptor, Arc::clone(&state))).abort_handle();
        HttpsServer {
            addr,
            ca_pem,
            state,
            task,
        }
    }

    /// `https://127.0.0.1:PORT` followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The test CA's certificate, PEM.
    pub fn ca_pem(&self) -> Vec<u8> {
        self.ca_pem.clone().into_bytes()
    }

    /// Serves `response` at `path` from now on.
    pub fn set(&self, path: &str, response: Response) {
        self.state()
            .routes
            .insert(path.to_owned(), Route::Fixed(response));
    }

    /// Serves `drip` at `path` from now on.
    pub fn set_drip(&self, path: &str, drip: Drip) {
        self.state()
            .routes
            .insert(path.to_owned(), Route::Drip(drip));
    }

    /// Requests received for `path` so far.
    pub fn hits(&self, path: &str) -> u64 {
        self.state().hits.get(path).copied().unwrap_or(0)
    }

    /// Requests for `path` so far that carried `If-None-Match`.
    pub fn if_none_match_hits(&self, path: &str) -> u64 {
        self.state()
            .if_none_match_hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Locks `state`, ignoring poisoning (a panicking test thread holds no
/// half-written state here).
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Accepts connections until aborted; dropping the set aborts them all.
async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, state: Arc<Mutex<State>>) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((stream, _peer)) = listener.accept().await else {
            continue;
        };
        let (acceptor, state) = (acceptor.clone(), Arc::clone(&state));
        connections.spawn(async move {
            let _ = tokio::time::timeout(CONNECTION_DEADLINE, serve(stream, acceptor, state)).await;
        });
    }
}

/// One request on one connection. Errors just end the connection.
async fn serve(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    state: Arc<Mutex<State>>,
) -> std::io::Result<()> {
    let mut tls = acceptor.accept(stream).await?;
    let Some(head) = read_head(&mut tls).await? else {
        return Ok(());
    };
    let request = parse_head(&head);
    let route = {
        let mut state = lock(&state);
        *state.hits.entry(request.path.clone()).or_default() += 1;
        if request.header("if-none-match").is_some() {
            *state
                .if_none_match_hits
                .entry(request.path.clone())
                .or_default() += 1;
        }
        state.routes.get(&request.path).cloned()
    };
    match route {
        None => {
            write_response(
                &mut tls,
                &Response::status(404).with_body("no such route\n"),
            )
            .await?
        }
        Some(Route::Fixed(response)) => {
            let response = if not_modified(&request, &response) {
                let mut answer = Response::status(304);
                answer.headers = response
                    .headers
                    .iter()
                    .filter(|(n, _)| {
                        n.eq_ignore_ascii_case("etag") || n.eq_ignore_ascii_case("last-modified")
                    })
                    .cloned()
                    .collect();
                answer
            } else {
                response
            };
            write_response(&mut tls, &response).await?;
        }
        Some(Route::Drip(drip)) => {
            tls.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n",
            )
            .await?;
            tls.flush().await?;
            for _ in 0..drip.chunks {
                tokio::time::sleep(drip.every).await;
                tls.write_all(&drip.chunk).await?;
                tls.flush().await?;
            }
        }
    }
    tls.shutdown().await
}

/// Reads up to the blank line ending the request head; `None` if the peer
/// closed first or the head is too large.
async fn read_head<S: AsyncReadExt + Unpin>(stream: &mut S) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() + n > MAX_HEAD {
            return Ok(None);
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(Some(head))
}

/// The parts of a request the server looks at.
#[derive(Debug)]
struct Request {
    path: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn parse_head(head: &[u8]) -> Request {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let path = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .unwrap_or("/")
        .to_owned();
    let headers = lines
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Request { path, headers }
}

/// Whether `request` is a conditional GET that `response` satisfies.
fn not_modified(request: &Request, response: &Response) -> bool {
    if let Some(wanted) = request.header("if-none-match") {
        return response.header("etag").is_some_and(|etag| {
            wanted
                .split(',')
                .map(str::trim)
                .any(|w| w == "*" || w == etag)
        });
    }
    match (
        request.header("if-modified-since"),
        response.header("last-modified"),
    ) {
        (Some(since), Some(modified)) => since == modified,
        _ => false,
    }
}

async fn write_response<S: AsyncWriteExt + Unpin>(
    stream: &mut S,
    response: &Response,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if response.content_length {
        head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&response.body).await?;
    stream.flush().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
