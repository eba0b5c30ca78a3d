//! The sockets: binding them, and [`run`]ning them until one cancellation
//! token stops them all.
//!
//! Per address, one TCP listener and one or more UDP sockets on the same
//! port. Several UDP sockets share the port with `SO_REUSEPORT`, so each UDP
//! worker (see `udp`) reads its own socket and the kernel spreads clients
//! across them. UDP sockets stay in blocking mode: each worker is a thread
//! of its own that waits in `recvmmsg`. Each TCP listener has an accept
//! loop (`tcp`).

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::handler::Handler;
use super::pulse::Pulse;
use super::tcp::{self, TcpLimits};
use super::udp;
use crate::config::Config;

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
    /// No port was free for both UDP and TCP.
    #[error(
        "cannot find a port free for both UDP and TCP on {addr}: give [server] listen a port of its own"
    )]
    NoPort {
        /// The address asked for, with port 0.
        addr: SocketAddr,
    },
    /// A listening socket failed while serving.
    #[error("a listening socket failed: {0}; restart ralo serve")]
    Socket(std::io::Error),
    /// A server task panicked or was cancelled.
    #[error("a server task ended: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// How the server treats connections.
#[derive(Clone, Debug)]
pub struct Settings {
    /// A TCP connection with no query for this long is closed.
    pub tcp_idle: Duration,
    /// TCP connections open at once, in all.
    pub tcp_max_connections: usize,
    /// TCP connections open at once from one client address.
    pub tcp_max_per_client: usize,
    /// Where the UDP workers stamp their signs of life.
    pub pulse: Arc<Pulse>,
}

impl Settings {
    /// The settings of `[server]`.
    pub fn from_config(config: &Config) -> Settings {
        Settings {
            tcp_idle: config.tcp_idle(),
            tcp_max_connections: config.server.tcp_max_connections,
            tcp_max_per_client: config.server.tcp_max_per_client,
            pulse: Arc::new(Pulse::new()),
        }
    }
}

/// Serves `listeners` with `handler` until `shutdown` is cancelled. A
/// socket that fails for good stops the whole server, loudly, rather than
/// leave it half deaf.
pub async fn run(
    listeners: Listeners,
    handler: Arc<Handler>,
    settings: Settings,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let mut tasks = JoinSet::new();
    let runtime = tokio::runtime::Handle::current();
    for socket in listeners.udp {
        if let Ok(addr) = socket.local_addr() {
            info!(protocol = "udp", %addr, "listening");
        }
        let (handler, runtime, shutdown) = (handler.clone(), runtime.clone(), shutdown.clone());
        let beat = settings.pulse.beat();
        tasks.spawn_blocking(move || udp::serve(socket, handler, runtime, beat, shutdown));
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
        let result = done.map_err(Error::from).and_then(|r| r);
        if let Err(error) = result
            && !shutdown.is_cancelled()
        {
            failure = Some(error);
            shutdown.cancel();
        }
    }
    failure.map_or(Ok(()), Err)
}

/// Bound sockets, ready to serve.
#[derive(Debug, Default)]
pub struct Listeners {
    /// UDP sockets; with several workers per address, several share a port.
    pub udp: Vec<UdpSocket>,
    /// TCP listeners.
    pub tcp: Vec<TcpListener>,
}

impl Listeners {
    /// Binds UDP and TCP on each address, with one UDP socket. Port 0 gets
    /// one free port shared by UDP and TCP (tests use it).
    pub fn bind(addrs: &[SocketAddr]) -> Result<Listeners, Error> {
        Listeners::bind_workers(addrs, 1)
    }

    /// Binds UDP and TCP on each address, with `workers` UDP sockets
    /// sharing the port (at least one).
    pub fn bind_workers(addrs: &[SocketAddr], workers: usize) -> Result<Listeners, Error> {
        let mut listeners = Listeners::default();
        for &addr in addrs {
            let (udp, tcp) = bind_pair(addr)?;
            let port = udp.local_addr().map_err(|source| Error::Bind {
                protocol: "udp",
                addr,
                source,
            })?;
            listeners.udp.push(udp);
            for _ in 1..workers.max(1) {
                listeners.udp.push(bind_udp(port)?);
            }
            listeners.tcp.push(tcp);
        }
        Ok(listeners)
    }

    /// The UDP addresses actually bound, one per address.
    pub fn udp_addrs(&self) -> Vec<SocketAddr> {
        let mut addrs: Vec<SocketAddr> = self
            .udp
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .collect();
        addrs.dedup();
        addrs
    }
}

/// The number of UDP workers for `configured` (0: one per CPU this process
/// may run on).
pub fn worker_count(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn bind_error(protocol: &'static str, addr: SocketAddr) -> impl Fn(std::io::Error) -> Error {
    move |source| Error::Bind {
        protocol,
        addr,
        source,
    }
}

fn bind_pair(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), Error> {
    // With port 0, UDP picks a port and TCP must get the same one; another
    // program may hold it on TCP, so try a few ports.
    let attempts = if addr.port() == 0 { 20 } else { 1 };
    let mut last = None;
    for _ in 0..attempts {
        let udp = bind_socket(addr, Type::DGRAM).map_err(bind_error("udp", addr))?;
        let bound = udp
            .local_addr()
            .and_then(|a| a.as_socket().ok_or(std::io::ErrorKind::Other.into()))
            .map_err(bind_error("udp", addr))?;
        match bind_socket(bound, Type::STREAM) {
            Ok(tcp) => {
                let udp = into_udp(udp, bound)?;
                let tcp = std::net::TcpListener::from(tcp);
                tcp.set_nonblocking(true)
                    .map_err(bind_error("tcp", bound))?;
                let tcp = TcpListener::from_std(tcp).map_err(bind_error("tcp", bound))?;
                return Ok((udp, tcp));
            }
            Err(source) => {
                last = Some(Error::Bind {
                    protocol: "tcp",
                    addr: bound,
                    source,
                })
            }
        }
    }
    Err(last.unwrap_or(Error::NoPort { addr }))
}

fn bind_udp(addr: SocketAddr) -> Result<UdpSocket, Error> {
    let socket = bind_socket(addr, Type::DGRAM).map_err(bind_error("udp", addr))?;
    into_udp(socket, addr)
}

fn into_udp(socket: Socket, addr: SocketAddr) -> Result<UdpSocket, Error> {
    let udp = UdpSocket::from(socket);
    // A worker checks for shutdown this often while no datagram comes.
    udp.set_read_timeout(Some(super::udp::IDLE_CHECK))
        .map_err(bind_error("udp", addr))?;
    Ok(udp)
}

/// Sends every IPv4 datagram of `socket` with Don't Fragment set, sized
/// to the interface and not to a path MTU learned from ICMP
/// (`IP_PMTUDISC_PROBE`), as RFC 9715 asks of DNS responders. An answer is
/// at most 1,232 bytes, so nothing changes on the wire but the DF bit; the
/// kernel then skips choosing an IP ID per datagram (`__ip_select_ident`,
/// 2.6 % of the server's CPU per blocked answer in `perf`), measured in
/// `benches/README.md` ("Don't Fragment"). IPv6 needs nothing: it picks an
/// ID only for a datagram it fragments, and 1,232 bytes fit its minimum MTU.
fn send_whole(socket: &Socket) -> std::io::Result<()> {
    use rustix::net::sockopt::{Ipv4PathMtuDiscovery, set_ip_mtu_discover};
    set_ip_mtu_discover(socket, Ipv4PathMtuDiscovery::PROBE).map_err(std::io::Error::from)
}

fn bind_socket(addr: SocketAddr, kind: Type) -> std::io::Result<Socket> {
    let protocol = if kind == Type::DGRAM {
        Protocol::UDP
    } else {
        Protocol::TCP
    };
    let socket = Socket::new(Domain::for_address(addr), kind, Some(protocol))?;
    if addr.is_ipv6() {
        // `[::]:53` must not also claim IPv4, so `0.0.0.0:53` can sit beside it.
        socket.set_only_v6(true)?;
    }
    if kind == Type::STREAM {
        socket.set_reuse_address(true)?;
    } else {
        // Each UDP worker binds its own socket to the same port; only
        // processes of the same user may join (the kernel's rule).
        socket.set_reuse_port(true)?;
        if addr.is_ipv4() {
            send_whole(&socket)?;
        }
    }
    socket.bind(&addr.into())?;
    if kind == Type::STREAM {
        socket.listen(1024)?;
    }
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::net::sockopt::{Ipv4PathMtuDiscovery, ip_mtu_discover};

    #[tokio::test]
    async fn every_ipv4_udp_socket_sends_with_dont_fragment() {
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let listeners = Listeners::bind_workers(&[addr], 3).unwrap();
        assert_eq!(listeners.udp.len(), 3);
        for socket in &listeners.udp {
            assert_eq!(
                ip_mtu_discover(socket).unwrap(),
                Ipv4PathMtuDiscovery::PROBE
            );
        }
    }
}
