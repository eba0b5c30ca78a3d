//! A scripted DNS-over-TLS server for the tests that need to see or break
//! connections: it accepts TLS on `127.0.0.1` port 0, counts connections
//! and queries, and answers each query (2-byte length framing, several at
//! once on one connection) by asking a plain [`Upstream`] over TCP. It can
//! be told to kill connections: each of the next `n` queries read is left
//! unanswered and its connection closed at once, whatever else is on it.
//!
//! Bounded: every connection ends within 30 s, every upstream question
//! within 5 s, and dropping the server stops it and its connections.
//!
//! [`Upstream`]: super::upstream::Upstream

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

/// The longest one connection lives.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct Counts {
    connections: AtomicU64,
    queries: AtomicU64,
    kill: AtomicU64,
}

/// The server; dropping it stops it.
#[derive(Debug)]
pub struct DotFront {
    addr: SocketAddr,
    counts: Arc<Counts>,
    task: AbortHandle,
}

impl DotFront {
    /// Serves TLS with `config`, answering through the plain upstream at
    /// `upstream`.
    pub async fn start(config: Arc<ServerConfig>, upstream: SocketAddr) -> DotFront {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let counts = Arc::new(Counts::default());
        let task = tokio::spawn(accept_loop(
            listener,
            TlsAcceptor::from(config),
            upstream,
            counts.clone(),
        ))
        .abort_handle();
        DotFront { addr, counts, task }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Each of the next `n` queries read kills its connection unanswered.
    pub fn kill_next(&self, n: u64) {
        self.counts.kill.store(n, Ordering::SeqCst);
    }

    /// TLS connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.counts.connections.load(Ordering::SeqCst)
    }

    /// Queries read so far (answered or not).
    pub fn queries(&self) -> u64 {
        self.counts.queries.load(Ordering::SeqCst)
    }
}

impl Drop for DotFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    upstream: SocketAddr,
    counts: Arc<Counts>,
) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (acceptor, counts) = (acceptor.clone(), counts.clone());
        connections.spawn(async move {
            let _ = tokio::time::timeout(
                CONNECTION_DEADLINE,
                serve(stream, acceptor, upstream, counts),
            )
            .await;
        });
    }
}

async fn serve(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    upstream: SocketAddr,
    counts: Arc<Counts>,
) -> std::io::Result<()> {
    let tls = acceptor.accept(stream).await?;
    counts.connections.fetch_add(1, Ordering::SeqCst);
    let (mut reader, mut writer) = tokio::io::split(tls);
    let (answers, mut outgoing) = mpsc::channel::<Vec<u8>>(64);
    let writing = tokio::spawn(async move {
        while let Some(answer) = outgoing.recv().await {
            let Ok(len) = u16::try_from(answer.len()) else {
                continue;
            };
            if writer.write_all(&len.to_be_bytes()).await.is_err()
                || writer.write_all(&answer).await.is_err()
                || writer.flush().await.is_err()
            {
                break;
            }
        }
    });
    let mut asking = JoinSet::new();
    while let Ok(len) = reader.read_u16().await {
        let mut query = vec![0u8; usize::from(len)];
        reader.read_exact(&mut query).await?;
        counts.queries.fetch_add(1, Ordering::SeqCst);
        let kill = counts
            .kill
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if kill {
            // Dropping both halves and the writer closes the connection
            // with the query unanswered.
            writing.abort();
            return Ok(());
        }
        let answers = answers.clone();
        asking.spawn(async move {
            let asked = tokio::time::timeout(Duration::from_secs(5), ask(upstream, &query));
            if let Ok(Ok(answer)) = asked.await {
                let _ = answers.send(answer).await;
            }
        });
    }
    drop(answers);
    while asking.join_next().await.is_some() {}
    let _ = writing.await;
    Ok(())
}

/// One query over TCP to the plain upstream.
async fn ask(upstream: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await?;
    let len = u16::try_from(query.len()).map_err(std::io::Error::other)?;
    stream.write_all(&len.to_be_bytes()).await?;
    stream.write_all(query).await?;
    let len = stream.read_u16().await?;
    let mut answer = vec![0u8; usize::from(len)];
    stream.read_exact(&mut answer).await?;
    Ok(answer)
}
