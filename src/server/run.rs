//! Starting and stopping the server: one task per UDP socket, one accept
//! loop per TCP listener, all stopped by one cancellation token.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::handler::Handler;
use super::listen::Listeners;
use super::tcp::{self, TcpLimits};
use super::udp;
use crate::config::Config;
use crate::resolve::Resolver;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A listening socket could not be bound.
    #[error(
        "cannot listen on {protocol} {addr}: {source} (is another DNS server running there? port 53 needs CAP_NET_BIND_SERVICE)"
    )]
    Bind {
        /// "udp" or "tcp".
        protocol: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The server failed.
    #[error("the DNS server failed: {0}")]
    Serve(String),
}

/// How the server treats connections.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// A TCP connection with no query for this long is closed.
    pub tcp_idle: Duration,
    /// TCP connections open at once, in all.
    pub tcp_max_connections: usize,
    /// TCP connections open at once from one client address.
    pub tcp_max_per_client: usize,
}

impl Settings {
    /// The settings of `[server]`.
    pub fn from_config(config: &Config) -> Settings {
        Settings {
            tcp_idle: config.tcp_idle(),
            tcp_max_connections: config.server.tcp_max_connections,
            tcp_max_per_client: config.server.tcp_max_per_client,
        }
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            tcp_idle: Duration::from_secs(10),
            tcp_max_connections: 256,
            tcp_max_per_client: 32,
        }
    }
}

/// Serves `listeners` with `resolver` until `shutdown` is cancelled.
pub async fn run(
    listeners: Listeners,
    resolver: Arc<Resolver>,
    settings: Settings,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let handler = Arc::new(Handler::new(resolver));
    let mut tasks = JoinSet::new();
    let runtime = tokio::runtime::Handle::current();
    for socket in listeners.udp {
        if let Ok(addr) = socket.local_addr() {
            info!(protocol = "udp", %addr, "listening");
        }
        let (handler, runtime, shutdown) = (handler.clone(), runtime.clone(), shutdown.clone());
        tasks.spawn_blocking(move || udp::serve(socket, handler, runtime, shutdown));
    }
    let limits = TcpLimits::new(&settings);
    for listener in listeners.tcp {
        if let Ok(addr) = listener.local_addr() {
            info!(protocol = "tcp", %addr, "listening");
        }
        tasks.spawn(tcp::serve(
            listener,
            handler.clone(),
            limits.clone(),
            shutdown.clone(),
        ));
    }
    let mut failure = None;
    while let Some(done) = tasks.join_next().await {
        let result = match done {
            Ok(result) => result,
            Err(error) => Err(Error::Serve(format!("a server task ended: {error}"))),
        };
        if let Err(error) = result
            && !shutdown.is_cancelled()
        {
            // A socket that fails for good stops the server, loudly, rather
            // than leaving it half deaf.
            failure = Some(error);
            shutdown.cancel();
        }
    }
    failure.map_or(Ok(()), Err)
}
