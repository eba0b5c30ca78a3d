//! One UDP worker per socket: it reads datagrams itself and answers blocked
//! and cached names on the spot ([`super::fast`]); every other query gets a
//! task on the general path ([`Handler::handle_raw`]), at most
//! [`MAX_PENDING`] at once per worker — past that, queries are dropped and
//! the client asks again, so a flood cannot pile up tasks without bound.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use hickory_server::net::xfer::Protocol;
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::Error;
use super::fast;
use super::handler::Handler;
use super::reply::UdpReply;
use crate::resolve::Resolver;

/// The largest datagram read; longer ones arrive cut and fail to parse.
const MAX_DATAGRAM: usize = 4096;
/// General-path queries one worker has in flight at most.
const MAX_PENDING: usize = 1024;
/// Datagrams answered in a row before the worker lets other tasks run.
const BATCH: usize = 32;

/// Serves `socket` until `shutdown`.
pub(crate) async fn serve(
    socket: UdpSocket,
    handler: Arc<Handler>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let socket = Arc::new(socket);
    let pending = Arc::new(Semaphore::new(MAX_PENDING));
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut out = Vec::with_capacity(1232);
    let mut in_a_row = 0;
    loop {
        let (len, src) = match socket.try_recv_from(&mut buf) {
            Ok(received) => received,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                in_a_row = 0;
                tokio::select! {
                    ready = socket.readable() => {
                        ready.map_err(|e| Error::Serve(format!("UDP socket failed: {e}")))?;
                        continue;
                    }
                    _ = shutdown.cancelled() => return Ok(()),
                }
            }
            Err(e) if is_transient(&e) => {
                debug!(error = %e, "UDP receive error");
                continue;
            }
            Err(e) => return Err(Error::Serve(format!("UDP socket failed: {e}"))),
        };
        in_a_row += 1;
        if in_a_row == BATCH {
            in_a_row = 0;
            tokio::task::yield_now().await;
        }
        if !can_answer(src) {
            continue;
        }
        let received = Instant::now();
        let packet = &buf[..len];
        if fast::answer(handler.resolver(), packet, src.ip(), &mut out, received) {
            match socket.try_send_to(&out, src) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    // The send buffer is full: wait for room, which also
                    // slows reading down.
                    if let Err(e) = socket.send_to(&out, src).await {
                        debug!(error = %e, "UDP send error");
                    }
                }
                Err(e) => debug!(error = %e, "UDP send error"),
            }
            continue;
        }
        let Ok(permit) = pending.clone().try_acquire_owned() else {
            debug!(%src, "too many queries in flight; dropped one");
            continue;
        };
        let raw = packet.to_vec();
        let handler = handler.clone();
        let reply = UdpReply {
            socket: socket.clone(),
            dst: src,
        };
        tokio::spawn(async move {
            handler.handle_raw(raw, src, Protocol::Udp, reply).await;
            drop(permit);
        });
    }
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
