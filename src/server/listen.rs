//! Binding the listening sockets: per address, one TCP listener and one or
//! more UDP sockets on the same port. Several UDP sockets share the port with
//! `SO_REUSEPORT`, so each UDP worker (see [`super::udp`]) reads its own
//! socket and the kernel spreads clients across them. UDP sockets stay in
//! blocking mode: each worker is a thread of its own that waits in
//! `recvmmsg`.

use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use std::net::UdpSocket;

use tokio::net::TcpListener;

use super::Error;

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
    Err(last.unwrap_or(Error::Serve("no port could be bound".into())))
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
    }
    socket.bind(&addr.into())?;
    if kind == Type::STREAM {
        socket.listen(1024)?;
    }
    Ok(socket)
}
