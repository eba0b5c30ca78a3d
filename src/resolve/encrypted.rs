//! One encrypted upstream, [`Channel`]: DNS over TLS (RFC 7858) or over
//! HTTPS (RFC 8484, HTTP/2), one connection kept open and shared by every
//! question asked of it at once (pipelined), for `resolve::forward`.
//!
//! The wire work is hickory-net's: for DoT its `DnsMultiplexer` frames each
//! message with its 2-byte length and pairs answers to questions by a
//! random message ID of its own (the ID ralo chose is replaced, so the ID
//! check of strict matching is the multiplexer's); for DoH its HTTP/2
//! client POSTs `application/dns-message` with ID 0 and each HTTP/2 stream
//! carries one answer. `DnsExchange` puts either behind one cloneable
//! handle, driven by a task this module spawns per connection, so this
//! module sees when the connection has ended. Here is what hickory-net does
//! not do: the question of an answer is checked like a plain one's; a
//! connection is opened when first needed, reused, closed after [`IDLE`]
//! without a question, and replaced when it broke, when a question on it
//! went unanswered for a whole try, or when hickory-net reported an error
//! for it. The try that met the broken connection fails, and `forward`
//! asks again — this upstream on a new connection, or the next one —
//! within the query's deadline and tries. A connection that cannot be made
//! (refused, unreachable, a certificate for another name) fails every try
//! for [`DOWN`] at once, so the next upstream is asked without waiting; the
//! cause is logged once per outage (warn), and the recovery (info).
//! Answers are never truncated here, so the TCP retry of plain DNS never
//! applies.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use hickory_net::NetError;
use hickory_net::h2::HttpsClientStream;
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::tls::tls_client_connect;
use hickory_net::xfer::{DnsExchange, DnsHandle, DnsMultiplexer};
use hickory_proto::op::{DnsRequest, DnsRequestOptions, Message};
use rustls::pki_types::ServerName;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::bootstrap::Bootstrap;
use super::forward::{Request, matches_question};
use super::trust::Trust;
use crate::config::UpstreamSpec;

/// A connection without a question for this long is closed. Public
/// resolvers close theirs after 10–60 s themselves; keeping one longer
/// only holds memory on both ends (about 16 KiB of heap here for DoT,
/// 50 KiB for DoH: `benches/upstream.rs`), and a new connection costs two
/// round trips (TCP, then TLS 1.3) before its first question.
pub const IDLE: Duration = Duration::from_secs(30);
/// A connection idle for `IDLE` less this is not given to a new question,
/// so none is sent on a connection about to be closed.
const IDLE_MARGIN: Duration = Duration::from_secs(1);
/// After a connection could not be made, every try of this upstream fails
/// at once for this long.
pub const DOWN: Duration = Duration::from_secs(2);
/// Questions at once on one connection, beyond which hickory-net turns
/// one away (a failed try): `[upstream] max_inflight`'s bound.
const MAX_PIPELINED: usize = 4096;

/// How to reach one encrypted upstream.
#[derive(Debug)]
enum Kind {
    /// DoT to `addr`, checking the certificate against `name`.
    Tls {
        addr: SocketAddr,
        name: ServerName<'static>,
    },
    /// DoH to `https://host:port/path`.
    Https {
        host: Arc<str>,
        port: u16,
        path: Arc<str>,
        place: Place,
    },
}

/// Where a DoH host is.
#[derive(Debug)]
enum Place {
    /// Written in the config.
    Fixed(IpAddr),
    /// Found through `[upstream] bootstrap`.
    Found(Bootstrap),
}

/// One encrypted upstream and its connection.
#[derive(Debug)]
pub(super) struct Channel {
    kind: Kind,
    trust: Trust,
    /// A question on a connection unanswered for this long (a try's
    /// timeout) retires the connection.
    stall: Duration,
    /// The deadline of a whole query: hickory-net's own timeout per
    /// question.
    deadline: Duration,
    state: Mutex<State>,
    epoch: Instant,
}

#[derive(Debug, Default)]
struct State {
    connection: Option<Arc<Connection>>,
    /// No new connection is tried before this.
    down_until: Option<Instant>,
    /// The last connection tried could not be made.
    failing: bool,
}

/// Why a connection could not be made, for the log.
#[derive(Debug, thiserror::Error)]
enum ConnectError {
    /// No bootstrap resolver gave the DoH host's address.
    #[error(
        "no [upstream] bootstrap resolver gave the host's address; check bootstrap, or write the address after # in the URL"
    )]
    NoAddress,
    /// TCP, TLS (a certificate for another name, an unknown CA) or HTTP/2.
    #[error(
        "{addr}: {error}; check the address, the name after # (it must be on the certificate), and [upstream] tls_ca_file for a private CA"
    )]
    Connect {
        /// Where.
        addr: SocketAddr,
        /// hickory-net's error.
        error: NetError,
    },
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kind::Tls { addr, name } => write!(f, "tls://{addr}#{}", name.to_str()),
            Kind::Https {
                host, port, path, ..
            } => write!(f, "https://{host}:{port}{path}"),
        }
    }
}

/// One open connection.
struct Connection {
    exchange: DnsExchange<TokioRuntimeProvider>,
    /// Set when the connection has ended (closed by either side, broken,
    /// idle) or is to be replaced.
    closed: Arc<AtomicBool>,
    /// When the last question was sent, in ms since the channel's epoch.
    last_used: Arc<AtomicU64>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Channel {
    /// A channel for an encrypted `spec`; `None` for a plain one (or a
    /// DoH host that is not a DNS name, which the config refuses).
    pub(super) fn new(
        spec: &UpstreamSpec,
        trust: &Trust,
        bootstrap: &[SocketAddr],
        stall: Duration,
        deadline: Duration,
    ) -> Option<Channel> {
        let kind = match spec {
            UpstreamSpec::Plain(_) => return None,
            UpstreamSpec::Tls { addr, name } => Kind::Tls {
                addr: *addr,
                name: ServerName::try_from(name.clone()).ok()?,
            },
            UpstreamSpec::Https(https) => Kind::Https {
                host: https.host.as_str().into(),
                port: https.port,
                path: https.path.as_str().into(),
                place: match https.addr {
                    Some(ip) => Place::Fixed(ip),
                    None => Place::Found(Bootstrap::new(&https.host, bootstrap.to_vec(), stall)?),
                },
            },
        };
        Some(Channel {
            kind,
            trust: trust.clone(),
            stall,
            deadline,
            state: Mutex::new(State::default()),
            epoch: Instant::now(),
        })
    }

    /// Sends `query` (asking `request`) and waits for its answer. `None`
    /// when this try failed: no connection, the connection broke, an error,
    /// an answer to another question.
    pub(super) async fn exchange(&self, query: Message, request: Request<'_>) -> Option<Message> {
        let connection = self.connection().await?;
        let mut watch = Unanswered {
            connection: &connection,
            sent: Instant::now(),
            stall: self.stall,
            answered: false,
        };
        let mut answers = connection
            .exchange
            .send(DnsRequest::new(query, DnsRequestOptions::default()));
        let answer = answers.next().await;
        watch.answered = true;
        match answer {
            Some(Ok(response)) => {
                let message = response.into_message();
                matches_question(&message, request).then_some(message)
            }
            Some(Err(error)) => {
                tracing::debug!(%error, "encrypted upstream connection failed; it is replaced");
                connection.closed.store(true, Ordering::Relaxed);
                None
            }
            None => {
                connection.closed.store(true, Ordering::Relaxed);
                None
            }
        }
    }

    /// The open connection, or a new one.
    async fn connection(&self) -> Option<Arc<Connection>> {
        let mut state = self.state.lock().await;
        let now_ms = self.now_ms();
        if let Some(connection) = &state.connection {
            let idle = now_ms.saturating_sub(connection.last_used.load(Ordering::Relaxed));
            let fresh = u128::from(idle) < (IDLE - IDLE_MARGIN).as_millis();
            if fresh && !connection.closed.load(Ordering::Relaxed) {
                connection.last_used.store(now_ms, Ordering::Relaxed);
                return Some(connection.clone());
            }
            connection.closed.store(true, Ordering::Relaxed);
            state.connection = None;
        }
        if state.down_until.is_some_and(|until| Instant::now() < until) {
            return None;
        }
        match self.connect().await {
            Ok(connection) => {
                if state.failing {
                    tracing::info!(upstream = %self.kind, "encrypted upstream connected again");
                }
                connection.last_used.store(self.now_ms(), Ordering::Relaxed);
                let connection = Arc::new(connection);
                state.connection = Some(connection.clone());
                state.down_until = None;
                state.failing = false;
                Some(connection)
            }
            Err(error) => {
                // Once per outage at warn level, not every DOWN.
                if state.failing {
                    tracing::debug!(upstream = %self.kind, %error, "encrypted upstream still cannot be reached");
                } else {
                    tracing::warn!(upstream = %self.kind, %error, "cannot connect to an encrypted upstream; the next upstream is asked meanwhile");
                }
                state.down_until = Some(Instant::now() + DOWN);
                state.failing = true;
                None
            }
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Opens a connection and starts the task that drives it.
    async fn connect(&self) -> Result<Connection, ConnectError> {
        let provider = TokioRuntimeProvider::new();
        let closed = Arc::new(AtomicBool::new(false));
        let last_used = Arc::new(AtomicU64::new(self.now_ms()));
        let exchange = match &self.kind {
            Kind::Tls { addr, name } => {
                let (stream, handle) =
                    tls_client_connect(*addr, name.clone(), self.trust.dot.clone(), provider);
                let stream = stream
                    .await
                    .map_err(|error| ConnectError::Connect { addr: *addr, error })?;
                let multiplexer = DnsMultiplexer::new(stream, handle)
                    .with_timeout(self.deadline)
                    .with_max_active_requests(MAX_PIPELINED);
                let (exchange, background) =
                    DnsExchange::<TokioRuntimeProvider>::from_stream(multiplexer);
                self.drive(background, &closed, &last_used);
                exchange
            }
            Kind::Https {
                host,
                port,
                path,
                place,
            } => {
                let ip = match place {
                    Place::Fixed(ip) => *ip,
                    Place::Found(bootstrap) => {
                        bootstrap.addr().await.ok_or(ConnectError::NoAddress)?
                    }
                };
                let addr = SocketAddr::new(ip, *port);
                let stream = HttpsClientStream::builder(self.trust.doh.clone(), provider)
                    .build(addr, host.clone(), path.clone())
                    .await;
                let stream = match stream {
                    Ok(stream) => stream,
                    Err(error) => {
                        if let Place::Found(bootstrap) = place {
                            bootstrap.failed();
                        }
                        return Err(ConnectError::Connect { addr, error });
                    }
                };
                let (exchange, background) =
                    DnsExchange::<TokioRuntimeProvider>::from_stream(stream);
                self.drive(background, &closed, &last_used);
                exchange
            }
        };
        Ok(Connection {
            exchange,
            closed,
            last_used,
        })
    }

    /// Spawns the task that drives a connection; see [`drive`].
    fn drive(
        &self,
        background: impl Future<Output = ()> + Send + 'static,
        closed: &Arc<AtomicBool>,
        last_used: &Arc<AtomicU64>,
    ) {
        tokio::spawn(drive(
            background,
            closed.clone(),
            last_used.clone(),
            self.epoch,
        ));
    }
}

/// Drives a connection (`background`, hickory-net's I/O future) until it
/// ends or has been idle for [`IDLE`] since `last_used` (ms since
/// `epoch`), then marks it closed; dropping `background` closes the socket.
async fn drive(
    background: impl Future<Output = ()>,
    closed: Arc<AtomicBool>,
    last_used: Arc<AtomicU64>,
    epoch: Instant,
) {
    let idle = async {
        loop {
            let now = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
            let idle = Duration::from_millis(now.saturating_sub(last_used.load(Ordering::Relaxed)));
            if idle >= IDLE {
                return;
            }
            tokio::time::sleep(IDLE - idle).await;
        }
    };
    tokio::select! {
        () = background => {}
        () = idle => {}
    }
    closed.store(true, Ordering::Relaxed);
}

/// Retires the connection when a question on it is given up (its try
/// cancelled) after waiting a whole try's timeout: a connection that
/// stopped answering is not used for the next question.
struct Unanswered<'a> {
    connection: &'a Connection,
    sent: Instant,
    stall: Duration,
    answered: bool,
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if !self.answered && self.sent.elapsed() >= self.stall {
            self.connection.closed.store(true, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::Duration;

    use tokio::time::{Instant, advance};

    use super::{IDLE, drive};

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_closed_after_idle_time_counted_from_its_last_question() {
        let epoch = Instant::now();
        let closed = Arc::new(AtomicBool::new(false));
        let last_used = Arc::new(AtomicU64::new(0));
        let (ended_tx, ended) = tokio::sync::oneshot::channel::<()>();
        let background = async move {
            std::future::pending::<()>().await;
            drop(ended_tx);
        };
        let task = tokio::spawn(drive(background, closed.clone(), last_used.clone(), epoch));
        advance(IDLE - Duration::from_secs(5)).await;
        tokio::task::yield_now().await;
        assert!(!closed.load(Ordering::Relaxed));
        // A question now: idle counts again from here.
        last_used.store(
            u64::try_from(epoch.elapsed().as_millis()).unwrap(),
            Ordering::Relaxed,
        );
        advance(Duration::from_secs(10)).await;
        tokio::task::yield_now().await;
        assert!(!closed.load(Ordering::Relaxed), "used 10 s ago");
        advance(IDLE).await;
        task.await.unwrap();
        assert!(closed.load(Ordering::Relaxed), "closed after 30 s idle");
        // Dropping the driver dropped the connection's I/O future.
        assert!(ended.await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_ends_is_marked_closed_at_once() {
        let closed = Arc::new(AtomicBool::new(false));
        let last_used = Arc::new(AtomicU64::new(0));
        drive(async {}, closed.clone(), last_used, Instant::now()).await;
        assert!(closed.load(Ordering::Relaxed));
    }
}
