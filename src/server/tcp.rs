//! DNS over TCP (RFC 7766): length-prefixed messages, answered by the same
//! [`Handler`] as UDP, with the limits a LAN-facing server needs.
//!
//! - Connections: at most `tcp_max_connections` in all and
//!   `tcp_max_per_client` from one address; a connection over either cap is
//!   closed at once.
//! - Idle: a connection must deliver each whole message (prefix and body)
//!   within `tcp_idle`, so a silent or trickling client is closed.
//! - Pipelining: queries on one connection are answered concurrently, each
//!   response with its query's ID, in the order they finish; at most
//!   [`MAX_PIPELINE`] are in flight, after which reading waits.
//! - A client that stops reading its answers is closed once a write has
//!   waited `tcp_idle`.
//! - Each message counts against the client's rate limit, as on UDP.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::Error;
use super::handler::{Arrival, Handler, Moment};
use super::listen::Settings;
use crate::vocab::{Admission, Protocol};

/// Queries one connection has in flight at most.
const MAX_PIPELINE: usize = 16;

/// The connection caps, shared by every listener.
#[derive(Clone, Debug)]
pub(crate) struct TcpLimits {
    idle: Duration,
    max_total: usize,
    max_per_client: usize,
    open: Arc<Mutex<Open>>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

/// A connection's place under the caps; given back when dropped.
#[derive(Debug)]
struct Slot {
    client: IpAddr,
    open: Arc<Mutex<Open>>,
}

impl TcpLimits {
    pub(crate) fn new(settings: &Settings) -> TcpLimits {
        TcpLimits {
            idle: settings.tcp_idle,
            max_total: settings.tcp_max_connections,
            max_per_client: settings.tcp_max_per_client,
            open: Arc::default(),
        }
    }

    /// A slot for a new connection from `client`, if both caps allow one.
    fn admit(&self, client: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().ok()?;
        let mine = open.per_client.get(&client).copied().unwrap_or(0);
        if open.total >= self.max_total || mine >= self.max_per_client {
            return None;
        }
        open.total += 1;
        open.per_client.insert(client, mine + 1);
        Some(Slot {
            client,
            open: self.open.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Ok(mut open) = self.open.lock() else {
            return;
        };
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                open.per_client.remove(&self.client);
            }
        }
    }
}

/// Accepts connections on `listener` until `shutdown`.
pub(crate) async fn serve(
    listener: TcpListener,
    handler: Arc<Handler>,
    limits: TcpLimits,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.cancelled() => return Ok(()),
        };
        let (stream, src) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_transient(&e) => {
                debug!(error = %e, "TCP accept error");
                // Out of descriptors or memory: give connections time to close.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(e) => return Err(Error::Socket(e)),
        };
        let Some(slot) = limits.admit(src.ip()) else {
            debug!(%src, "TCP connection over the cap; closed");
            continue;
        };
        let handler = handler.clone();
        let idle = limits.idle;
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            connection(stream, src, handler, idle, shutdown).await;
            drop(slot);
        });
    }
}

/// Reads queries from one connection and writes their answers.
async fn connection(
    stream: TcpStream,
    src: SocketAddr,
    handler: Arc<Handler>,
    idle: Duration,
    shutdown: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let (queue, mut answers) = mpsc::channel::<Vec<u8>>(MAX_PIPELINE);
    let closed = shutdown.child_token();
    let write = {
        let closed = closed.clone();
        async move {
            while let Some(answer) = answers.recv().await {
                let Ok(len) = u16::try_from(answer.len()) else {
                    continue;
                };
                let mut frame = Vec::with_capacity(2 + answer.len());
                frame.extend_from_slice(&len.to_be_bytes());
                frame.extend_from_slice(&answer);
                match timeout(idle, writer.write_all(&frame)).await {
                    Ok(Ok(())) => {}
                    _ => break,
                }
            }
            // Stop reading too: nobody takes the answers.
            closed.cancel();
            let _ = writer.shutdown().await;
        }
    };
    let read = async move {
        let in_flight = Arc::new(Semaphore::new(MAX_PIPELINE));
        loop {
            let permit = tokio::select! {
                permit = in_flight.clone().acquire_owned() => permit,
                _ = closed.cancelled() => break,
            };
            let Ok(permit) = permit else { break };
            let message = tokio::select! {
                message = read_message(&mut reader, idle) => message,
                _ = closed.cancelled() => break,
            };
            let Some(message) = message else { break };
            let received = Moment::now();
            let admission = handler.admit(src.ip(), received);
            if admission == Admission::Drop {
                continue;
            }
            let arrival = Arrival {
                src,
                protocol: Protocol::Tcp,
                admission,
                received,
            };
            let handler = handler.clone();
            let queue = queue.clone();
            tokio::spawn(async move {
                if let Some(answer) = handler.answer(&message, arrival).await {
                    // The writer is gone only when the connection closed.
                    let _ = queue.send(answer).await;
                }
                drop(permit);
            });
        }
        // Dropping `queue` here lets the writer finish once the queries in
        // flight have answered.
    };
    tokio::join!(read, write);
}

/// The next whole message, or `None` when the client closed, sent a zero
/// length, or took longer than `idle`.
async fn read_message<R: AsyncReadExt + Unpin>(reader: &mut R, idle: Duration) -> Option<Vec<u8>> {
    let mut prefix = [0u8; 2];
    timeout(idle, reader.read_exact(&mut prefix))
        .await
        .ok()?
        .ok()?;
    let len = usize::from(u16::from_be_bytes(prefix));
    if len == 0 {
        return None;
    }
    let mut message = vec![0u8; len];
    timeout(idle, reader.read_exact(&mut message))
        .await
        .ok()?
        .ok()?;
    Some(message)
}

/// Accept errors that leave the listener usable.
fn is_transient(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::ConnectionAborted
            | ErrorKind::ConnectionReset
            | ErrorKind::Interrupted
            | ErrorKind::OutOfMemory
    ) || error
        .raw_os_error()
        // EMFILE, ENFILE, ENOBUFS, ENOMEM, EPROTO, EPERM (firewalls).
        .is_some_and(|code| matches!(code, 24 | 23 | 105 | 12 | 71 | 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_client: usize) -> TcpLimits {
        TcpLimits::new(&Settings {
            tcp_idle: Duration::from_secs(1),
            tcp_max_connections: total,
            tcp_max_per_client: per_client,
            pulse: Default::default(),
        })
    }

    #[test]
    fn one_client_gets_at_most_its_share() {
        let l = limits(10, 2);
        let a: IpAddr = "192.168.1.5".parse().unwrap();
        let b: IpAddr = "192.168.1.6".parse().unwrap();
        let first = l.admit(a).unwrap();
        let _second = l.admit(a).unwrap();
        assert!(l.admit(a).is_none());
        assert!(l.admit(b).is_some());
        drop(first);
        assert!(l.admit(a).is_some());
    }

    #[test]
    fn the_total_cap_holds_across_clients() {
        let l = limits(3, 3);
        let slots: Vec<Slot> = (1..=3)
            .map(|i| l.admit(IpAddr::from([10, 0, 0, i])).unwrap())
            .collect();
        assert!(l.admit("10.0.0.9".parse().unwrap()).is_none());
        drop(slots);
        assert_eq!(l.open.lock().unwrap().total, 0);
        assert!(l.open.lock().unwrap().per_client.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_is_closed_after_idle() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let read =
            tokio::spawn(async move { read_message(&mut server, Duration::from_secs(5)).await });
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(read.await.unwrap().is_none());
        // The client end is still open: it was the timer that ended it.
        client.write_all(&[0]).await.ok();
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickled_message_must_arrive_within_idle() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let read =
            tokio::spawn(async move { read_message(&mut server, Duration::from_secs(5)).await });
        client.write_all(&[0, 12]).await.unwrap();
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            // Fails once the reader gave up and dropped its end.
            let _ = client.write_all(&[0]).await;
        }
        assert!(read.await.unwrap().is_none());
    }

    #[tokio::test]
    async fn zero_length_ends_the_connection() {
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(&[0, 0, 0, 3, 1, 2, 3]).await.unwrap();
        assert!(
            read_message(&mut server, Duration::from_secs(5))
                .await
                .is_none()
        );
    }
}
