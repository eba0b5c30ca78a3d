//! One UDP worker per socket, each a thread of its own: it waits in
//! `recvmmsg` for up to [`BATCH`] datagrams at once (no readiness events, no
//! task wake-ups), answers every question that needs no upstream on the spot
//! ([`Handler::answer_now`]) and sends those answers with one `sendmmsg`.
//! This is the one place that does not go through hickory-server's
//! sockets: reading and answering in batches halves the CPU time per
//! answer (`benches/sidebyside.sh`). A question that needs upstream
//! becomes a task on the runtime ([`Handler::answer_later`]), at most
//! [`MAX_PENDING`] at once per worker — past that, queries are dropped and
//! the client asks again, so a flood cannot pile up tasks without bound.

use std::io::{ErrorKind, IoSlice, IoSliceMut};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg, sendto};
use tokio::runtime::Handle;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::Error;
use super::handler::{Arrival, Handler, Moment, Now};
use super::pulse::Beat;
use crate::vocab::{Admission, Protocol};

/// The largest datagram read; longer ones arrive cut and fail to parse.
const MAX_DATAGRAM: usize = 4096;
/// General-path queries one worker has in flight at most.
const MAX_PENDING: usize = 1024;
/// Datagrams read (and fast answers sent) with one system call at most.
const BATCH: usize = 32;
/// How long a worker waits for a datagram before it looks whether the
/// server is shutting down (the socket's receive timeout).
pub(crate) const IDLE_CHECK: Duration = Duration::from_millis(50);
/// Tries at sending one answer from a task, a millisecond apart.
const SEND_TRIES: usize = 10;

/// What one worker reuses from batch to batch: answering without upstream
/// allocates nothing.
struct Buffers {
    datagrams: Box<[[u8; MAX_DATAGRAM]; BATCH]>,
    received: [(usize, Option<SocketAddr>); BATCH],
    answers: Vec<Vec<u8>>,
    destinations: [Option<SockaddrStorage>; BATCH],
    recv_headers: MultiHeaders<SockaddrStorage>,
    send_headers: MultiHeaders<SockaddrStorage>,
}

impl Buffers {
    fn new() -> Buffers {
        Buffers {
            datagrams: Box::new([[0; MAX_DATAGRAM]; BATCH]),
            received: [(0, None); BATCH],
            answers: (0..BATCH).map(|_| Vec::with_capacity(1232)).collect(),
            destinations: [None; BATCH],
            recv_headers: MultiHeaders::preallocate(BATCH, None),
            send_headers: MultiHeaders::preallocate(BATCH, None),
        }
    }

    /// Waits for at least one datagram (at most [`IDLE_CHECK`]) and reads
    /// up to [`BATCH`] of those waiting; how many.
    fn receive(&mut self, socket: &UdpSocket) -> std::io::Result<usize> {
        let mut slices = self.datagrams.each_mut().map(|d| [IoSliceMut::new(d)]);
        let results = recvmmsg(
            socket.as_raw_fd(),
            &mut self.recv_headers,
            slices.iter_mut(),
            MsgFlags::MSG_WAITFORONE,
            None,
        )
        .map_err(std::io::Error::from)?;
        let mut n = 0;
        for (slot, message) in self.received.iter_mut().zip(results) {
            *slot = (message.bytes, message.address.and_then(to_std));
            n += 1;
        }
        Ok(n)
    }

    /// Sends the first `n` answers to their destinations; how many went.
    fn send(&mut self, socket: &UdpSocket, n: usize) -> std::io::Result<usize> {
        let slices: [[IoSlice<'_>; 1]; BATCH] =
            std::array::from_fn(|i| [IoSlice::new(&self.answers[i])]);
        let results = sendmmsg(
            socket.as_raw_fd(),
            &mut self.send_headers,
            slices[..n].iter(),
            &self.destinations[..n],
            [],
            MsgFlags::empty(),
        )
        .map_err(std::io::Error::from)?;
        Ok(results.count())
    }
}

/// Serves `socket` until `shutdown`, on the thread it is called on (a
/// blocking one); questions that need upstream go to `runtime`.
pub(crate) fn serve(
    socket: UdpSocket,
    handler: Arc<Handler>,
    runtime: Handle,
    beat: Beat,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let socket = Arc::new(socket);
    let pending = Arc::new(Semaphore::new(MAX_PENDING));
    let mut b = Buffers::new();
    while !shutdown.is_cancelled() {
        let result = b.receive(&socket);
        let received = Moment::now();
        beat.stamp(received.at.into_std());
        let n = match result {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) if is_transient(&e) => {
                debug!(error = %e, "UDP receive error");
                continue;
            }
            Err(e) => return Err(Error::Socket(e)),
        };
        let mut answered = 0;
        for i in 0..n {
            let (len, src) = b.received[i];
            let Some(src) = src.filter(|&src| can_answer(src)) else {
                continue;
            };
            let packet = &b.datagrams[i][..len.min(MAX_DATAGRAM)];
            let admission = handler.admit(src.ip(), received);
            if admission == Admission::Drop {
                continue;
            }
            let arrival = Arrival {
                src,
                protocol: Protocol::Udp,
                admission,
                received,
            };
            let later = match handler.answer_now(packet, arrival, &mut b.answers[answered]) {
                Now::Answered => {
                    b.destinations[answered] = Some(SockaddrStorage::from(src));
                    answered += 1;
                    continue;
                }
                Now::Silent => continue,
                Now::Later(later) => later,
            };
            let Ok(permit) = pending.clone().try_acquire_owned() else {
                debug!(%src, "too many queries in flight; dropped one");
                continue;
            };
            let packet = packet.to_vec();
            let (handler, socket) = (handler.clone(), socket.clone());
            runtime.spawn(async move {
                let mut out = Vec::with_capacity(512);
                if handler
                    .answer_later(&packet, arrival, later, &mut out)
                    .await
                {
                    send_one(&socket, src, &out).await;
                }
                drop(permit);
            });
        }
        // Blocks while the send buffer is full, which also slows reading
        // down. When only part went, the rest moves to the front; an answer
        // that cannot go at all is dropped, never the batch.
        let mut rest = answered;
        while rest > 0 {
            match b.send(&socket, rest) {
                Ok(k) if k == 0 || k >= rest => break,
                Ok(k) => {
                    b.answers[..rest].rotate_left(k);
                    b.destinations[..rest].rotate_left(k);
                    rest -= k;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    // The first answer could not go (its destination is
                    // refused or unreachable): drop it, send the others.
                    debug!(error = %e, "UDP send error");
                    b.answers[..rest].rotate_left(1);
                    b.destinations[..rest].rotate_left(1);
                    rest -= 1;
                }
            }
        }
    }
    Ok(())
}

/// Sends one answer from a task. The socket is in blocking mode (its
/// worker waits in `recvmmsg`); a task never blocks on it: without room in
/// the send buffer it waits a moment and tries again, then gives up (the
/// client asks again).
async fn send_one(socket: &UdpSocket, dst: SocketAddr, bytes: &[u8]) {
    let to = SockaddrStorage::from(dst);
    for _ in 0..SEND_TRIES {
        match sendto(socket.as_raw_fd(), bytes, &to, MsgFlags::MSG_DONTWAIT) {
            Ok(_) => return,
            Err(Errno::EAGAIN) => tokio::time::sleep(Duration::from_millis(1)).await,
            Err(error) => {
                debug!(%error, %dst, "could not send an answer");
                return;
            }
        }
    }
    debug!(%dst, "the UDP send buffer stayed full; an answer was dropped");
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
