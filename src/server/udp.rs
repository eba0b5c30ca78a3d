//! One UDP worker per socket: it reads datagrams itself, up to [`BATCH`]
//! with one `recvmmsg`, answers blocked and cached names on the spot
//! ([`super::fast`]) and sends those answers with one `sendmmsg`; every
//! other query gets a
//! task on the general path ([`Handler::handle_raw`]), at most
//! [`MAX_PENDING`] at once per worker — past that, queries are dropped and
//! the client asks again, so a flood cannot pile up tasks without bound.

use std::cell::RefCell;
use std::io::{ErrorKind, IoSlice, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Instant;

use hickory_server::net::xfer::Protocol;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::Error;
use super::fast;
use super::handler::Handler;
use super::reply::{Reply, UdpClient};
use crate::resolve::{Admission, Resolver};

/// The largest datagram read; longer ones arrive cut and fail to parse.
const MAX_DATAGRAM: usize = 4096;
/// General-path queries one worker has in flight at most.
const MAX_PENDING: usize = 1024;
/// Datagrams read (and fast answers sent) with one system call at most.
const BATCH: usize = 32;

thread_local! {
    /// The kernel's message headers for `recvmmsg` and `sendmmsg`. They hold
    /// raw pointers, so they cannot travel with a task between threads;
    /// they hold nothing between calls either, so each thread keeps its own.
    static HEADERS: RefCell<(MultiHeaders<SockaddrStorage>, MultiHeaders<SockaddrStorage>)> =
        RefCell::new((
            MultiHeaders::preallocate(BATCH, None),
            MultiHeaders::preallocate(BATCH, None),
        ));
}

/// What one worker reuses from batch to batch: nothing on the fast path
/// allocates.
struct Buffers {
    datagrams: Box<[[u8; MAX_DATAGRAM]; BATCH]>,
    received: [(usize, Option<SocketAddr>); BATCH],
    answers: Vec<Vec<u8>>,
    destinations: [Option<SockaddrStorage>; BATCH],
}

impl Buffers {
    fn new() -> Buffers {
        Buffers {
            datagrams: Box::new([[0; MAX_DATAGRAM]; BATCH]),
            received: [(0, None); BATCH],
            answers: (0..BATCH).map(|_| Vec::with_capacity(1232)).collect(),
            destinations: [None; BATCH],
        }
    }

    /// Reads up to [`BATCH`] waiting datagrams; how many.
    fn receive(&mut self, socket: &UdpSocket) -> std::io::Result<usize> {
        let fd = socket.as_raw_fd();
        HEADERS.with_borrow_mut(|(headers, _)| {
            let mut slices = self.datagrams.each_mut().map(|d| [IoSliceMut::new(d)]);
            let results = recvmmsg(fd, headers, slices.iter_mut(), MsgFlags::MSG_DONTWAIT, None)
                .map_err(std::io::Error::from)?;
            let mut n = 0;
            for (slot, message) in self.received.iter_mut().zip(results) {
                *slot = (message.bytes, message.address.and_then(to_std));
                n += 1;
            }
            Ok(n)
        })
    }

    /// Sends the first `n` answers to their destinations; how many went.
    fn send(&mut self, socket: &UdpSocket, n: usize) -> std::io::Result<usize> {
        let fd = socket.as_raw_fd();
        HEADERS.with_borrow_mut(|(_, headers)| {
            let slices: [[IoSlice<'_>; 1]; BATCH] =
                std::array::from_fn(|i| [IoSlice::new(&self.answers[i])]);
            let results = sendmmsg(
                fd,
                headers,
                slices[..n].iter(),
                &self.destinations[..n],
                [],
                MsgFlags::MSG_DONTWAIT,
            )
            .map_err(std::io::Error::from)?;
            Ok(results.count())
        })
    }
}

/// Serves `socket` until `shutdown`.
pub(crate) async fn serve(
    socket: UdpSocket,
    handler: Arc<Handler>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let socket = Arc::new(socket);
    let pending = Arc::new(Semaphore::new(MAX_PENDING));
    let mut b = Buffers::new();
    let failed = |e: std::io::Error| Error::Serve(format!("UDP socket failed: {e}"));
    loop {
        let n = match socket.try_io(Interest::READABLE, || b.receive(&socket)) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                tokio::select! {
                    ready = socket.readable() => {
                        ready.map_err(failed)?;
                        continue;
                    }
                    _ = shutdown.cancelled() => return Ok(()),
                }
            }
            Err(e) if is_transient(&e) => {
                debug!(error = %e, "UDP receive error");
                continue;
            }
            Err(e) => return Err(failed(e)),
        };
        let received = Instant::now();
        let mut answered = 0;
        for i in 0..n {
            let (len, src) = b.received[i];
            let Some(src) = src.filter(|&src| can_answer(src)) else {
                continue;
            };
            let packet = &b.datagrams[i][..len.min(MAX_DATAGRAM)];
            let admission = handler.admit(src.ip());
            if admission == Admission::Drop {
                continue;
            }
            let out = &mut b.answers[answered];
            if admission == Admission::Serve
                && fast::answer(handler.resolver(), packet, src.ip(), out, received)
            {
                b.destinations[answered] = Some(SockaddrStorage::from(src));
                answered += 1;
                continue;
            }
            let Ok(permit) = pending.clone().try_acquire_owned() else {
                debug!(%src, "too many queries in flight; dropped one");
                continue;
            };
            let raw = packet.to_vec();
            let handler = handler.clone();
            let reply = Reply(UdpClient {
                socket: socket.clone(),
                dst: src,
            });
            tokio::spawn(async move {
                if admission == Admission::Serve {
                    handler.handle_raw(raw, src, Protocol::Udp, reply).await;
                } else {
                    handler.refuse_raw(raw, src, Protocol::Udp, reply).await;
                }
                drop(permit);
            });
        }
        if answered > 0 {
            let sent = match socket.try_io(Interest::WRITABLE, || b.send(&socket, answered)) {
                Ok(sent) => sent,
                Err(e) => {
                    debug!(error = %e, "UDP batch send error");
                    0
                }
            };
            // What did not go at once waits for room, which also slows
            // reading down.
            for i in sent..answered {
                let Some(dst) = b.destinations[i].and_then(to_std) else {
                    continue;
                };
                if let Err(e) = socket.send_to(&b.answers[i], dst).await {
                    debug!(error = %e, "UDP send error");
                }
            }
        }
        // Let the general path's tasks and the other sockets run.
        tokio::task::yield_now().await;
    }
}

/// A socket address from the kernel's form.
fn to_std(address: SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = address.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    address
        .as_sockaddr_in6()
        .map(|v6| SocketAddr::V6((*v6).into()))
}

/// Answers `packet` on the fast path into `out` when it can (what a UDP
/// worker does first with each datagram); `false` means the general path.
pub fn fast_answer(resolver: &Resolver, packet: &[u8], client: IpAddr, out: &mut Vec<u8>) -> bool {
    fast::answer(resolver, packet, client, out, Instant::now())
}

/// Errors a UDP socket reports for one datagram (an ICMP error from an
/// earlier send, a short buffer): the socket itself is fine.
fn is_transient(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::ConnectionRefused
            | ErrorKind::ConnectionReset
            | ErrorKind::Interrupted
            | ErrorKind::HostUnreachable
            | ErrorKind::NetworkUnreachable
    ) || error
        .raw_os_error()
        .is_some_and(|code| code == 90 || code == 113)
}

/// Whether a reply to `src` can go anywhere: not port 0, not the
/// unspecified or broadcast address.
fn can_answer(src: SocketAddr) -> bool {
    if src.port() == 0 {
        return false;
    }
    match src.ip() {
        IpAddr::V4(v4) => !(v4.is_unspecified() || v4.is_broadcast()),
        IpAddr::V6(v6) => !v6.is_unspecified(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_never_go_to_port_zero_or_broadcast() {
        assert!(can_answer("192.168.1.5:5353".parse().unwrap()));
        assert!(!can_answer("192.168.1.5:0".parse().unwrap()));
        assert!(!can_answer("0.0.0.0:53".parse().unwrap()));
        assert!(!can_answer("255.255.255.255:53".parse().unwrap()));
        assert!(!can_answer("[::]:53".parse().unwrap()));
    }

    #[test]
    fn icmp_errors_do_not_stop_a_worker() {
        let refused = std::io::Error::from(ErrorKind::ConnectionRefused);
        assert!(is_transient(&refused));
        let bad = std::io::Error::from(ErrorKind::InvalidInput);
        assert!(!is_transient(&bad));
    }
}
