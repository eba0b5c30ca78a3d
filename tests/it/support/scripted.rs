//! A scripted fake upstream for fault and forgery tests: raw UDP and TCP on
//! one `127.0.0.1` port (port 0, same number for both), answering every
//! `A` question with [`REAL`] (TTL 300) and every other type with NODATA —
//! unless its [`Script`] tells it to misbehave.
//!
//! Unlike [`super::upstream`] (a correct authoritative server) it writes
//! its datagrams by hand, so it can be wrong on purpose: a decoy with a wrong
//! ID, a wrong question or malformed bytes sent first from the very same
//! socket; REFUSED or SERVFAIL; silence; a delay; seeded packet loss; TC=1
//! over UDP with the full answer over TCP; an answer larger than the
//! advertised payload. Decoys always carry [`FORGED`], so a test can assert
//! that address never reaches a client.
//!
//! It records every query it receives (transport, source address, ID,
//! name, type) for counting tries and measuring port and ID spread.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinSet;

use super::client::Transport;

/// The address of every real `A` answer.
pub const REAL: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 53);
/// The address of every decoy or forged answer.
pub const FORGED: Ipv4Addr = Ipv4Addr::new(6, 6, 6, 6);

/// Something sent before the real reply, from the same socket (UDP only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoy {
    /// The right question with another ID, answering [`FORGED`].
    WrongId,
    /// The right ID with another question name, answering [`FORGED`].
    WrongQuestion,
    /// The query's ID followed by bytes that do not decode.
    Malformed,
}

/// What finally comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The right answer.
    Answer,
    /// Nothing at all (a black hole).
    Silent,
    /// An error code with the question echoed.
    Rcode(ResponseCode),
    /// Over UDP: header and question with TC=1; over TCP: the answer.
    Truncated,
    /// The right answer followed by [`OVERSIZE_RECORDS`] more `A` records
    /// in 198.18.0.0/15: about 2.6 kB, more than the 1232 bytes ralo
    /// advertises, sent over UDP anyway.
    Oversize,
}

/// `A` records in an [`Reply::Oversize`] answer.
pub const OVERSIZE_RECORDS: usize = 160;

/// How the upstream behaves; switchable at run time with [`Scripted::set`].
#[derive(Clone, Debug)]
pub struct Script {
    /// Sent first, in order.
    pub decoys: Vec<Decoy>,
    /// Then this.
    pub reply: Reply,
    /// Wait before replying (the query is recorded at once).
    pub delay: Duration,
    /// Share of UDP queries ignored, in percent, drawn from an RNG seeded
    /// when the script is set.
    pub loss_percent: u8,
    /// Seed of that RNG.
    pub seed: u64,
}

impl Script {
    /// Answers correctly at once.
    pub fn answer() -> Script {
        Script {
            decoys: Vec::new(),
            reply: Reply::Answer,
            delay: Duration::ZERO,
            loss_percent: 0,
            seed: 0,
        }
    }

    /// Answers with `reply`.
    pub fn reply(reply: Reply) -> Script {
        Script {
            reply,
            ..Script::answer()
        }
    }

    /// Sends `decoy` before the reply.
    pub fn decoy(mut self, decoy: Decoy) -> Script {
        self.decoys.push(decoy);
        self
    }

    /// Waits `delay` before replying.
    pub fn delay(mut self, delay: Duration) -> Script {
        self.delay = delay;
        self
    }

    /// Drops `percent` % of UDP queries, seeded with `seed`.
    pub fn lossy(mut self, percent: u8, seed: u64) -> Script {
        self.loss_percent = percent;
        self.seed = seed;
        self
    }
}

/// One query as received.
#[derive(Clone, Debug)]
pub struct Received {
    /// UDP or TCP.
    pub transport: Transport,
    /// Source address and port.
    pub src: SocketAddr,
    /// Message ID.
    pub id: u16,
    /// Question name, lowercase, without the trailing dot.
    pub name: String,
    /// Question type.
    pub qtype: RecordType,
}

struct State {
    script: Mutex<(Script, StdRng)>,
    received: Mutex<Vec<Received>>,
    dropped: AtomicU64,
}

/// A running scripted upstream; dropping it closes its sockets.
pub struct Scripted {
    addr: SocketAddr,
    state: Arc<State>,
    tasks: Mutex<JoinSet<()>>,
}

impl Scripted {
    /// Starts one on `127.0.0.1`, port 0, following `script`.
    pub async fn start(script: Script) -> Scripted {
        let (udp, tcp) = bind_pair().await;
        let addr = udp.local_addr().expect("a bound socket has an address");
        let rng = StdRng::seed_from_u64(script.seed);
        let state = Arc::new(State {
            script: Mutex::new((script, rng)),
            received: Mutex::new(Vec::new()),
            dropped: AtomicU64::new(0),
        });
        let mut tasks = JoinSet::new();
        tasks.spawn(serve_udp(Arc::new(udp), state.clone()));
        tasks.spawn(serve_tcp(tcp, state.clone()));
        Scripted {
            addr,
            state,
            tasks: Mutex::new(tasks),
        }
    }

    /// Where it listens (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Follows `script` from now on (reseeding the loss RNG).
    pub fn set(&self, script: Script) {
        let rng = StdRng::seed_from_u64(script.seed);
        *lock(&self.state.script) = (script, rng);
    }

    /// Every query received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.state.received).clone()
    }

    /// How many queries were received so far.
    pub fn count(&self) -> usize {
        lock(&self.state.received).len()
    }

    /// Queries received over `transport`.
    pub fn count_over(&self, transport: Transport) -> usize {
        let received = lock(&self.state.received);
        received.iter().filter(|r| r.transport == transport).count()
    }

    /// Queries received for `name` (lowercase, no trailing dot), both transports.
    pub fn count_for(&self, name: &str) -> usize {
        let received = lock(&self.state.received);
        received.iter().filter(|r| r.name == name).count()
    }

    /// UDP queries ignored by the loss setting.
    pub fn dropped(&self) -> u64 {
        self.state.dropped.load(Ordering::SeqCst)
    }

    /// Closes both sockets: afterwards UDP meets ICMP port unreachable and
    /// TCP is refused.
    pub async fn stop(&self) {
        let mut tasks = std::mem::take(&mut *lock(&self.tasks));
        tasks.shutdown().await;
    }
}

async fn serve_udp(socket: Arc<UdpSocket>, state: Arc<State>) {
    let mut buf = vec![0u8; 65_535];
    let mut replies = JoinSet::new();
    loop {
        let Ok((len, src)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        while replies.try_join_next().is_some() {}
        let Some(query) = record(&state, &buf[..len], src, Transport::Udp) else {
            continue;
        };
        let script = {
            let mut guard = lock(&state.script);
            let (script, rng) = &mut *guard;
            if script.loss_percent > 0 && rng.random_range(0..100) < script.loss_percent {
                state.dropped.fetch_add(1, Ordering::SeqCst);
                continue;
            }
            script.clone()
        };
        let socket = socket.clone();
        let send = async move {
            if !script.delay.is_zero() {
                tokio::time::sleep(script.delay).await;
            }
            for decoy in &script.decoys {
                let _ = socket.send_to(&decoy_bytes(&query, *decoy), src).await;
            }
            if let Some(bytes) = reply_bytes(&query, script.reply, Transport::Udp) {
                let _ = socket.send_to(&bytes, src).await;
            }
        };
        if script.delay.is_zero() {
            send.await;
        } else {
            replies.spawn(send);
        }
    }
}

async fn serve_tcp(listener: TcpListener, state: Arc<State>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, src)) = listener.accept().await else {
            continue;
        };
        while connections.try_join_next().is_some() {}
        connections.spawn(serve_connection(stream, src, state.clone()));
    }
}

async fn serve_connection(mut stream: TcpStream, src: SocketAddr, state: Arc<State>) {
    loop {
        let Ok(len) = stream.read_u16().await else {
            return;
        };
        let mut body = vec![0u8; usize::from(len)];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        let Some(query) = record(&state, &body, src, Transport::Tcp) else {
            return;
        };
        let script = lock(&state.script).0.clone();
        tokio::time::sleep(script.delay).await;
        let Some(bytes) = reply_bytes(&query, script.reply, Transport::Tcp) else {
            continue;
        };
        let len = u16::try_from(bytes.len()).expect("a test answer fits in 65535 bytes");
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(&bytes);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}

/// Decodes and records a query; `None` for anything that is not one.
fn record(state: &State, bytes: &[u8], src: SocketAddr, transport: Transport) -> Option<Message> {
    let query = Message::from_vec(bytes).ok()?;
    if query.metadata.message_type != MessageType::Query || query.queries.len() != 1 {
        return None;
    }
    let q = &query.queries[0];
    lock(&state.received).push(Received {
        transport,
        src,
        id: query.metadata.id,
        name: q
            .name()
            .to_ascii()
            .trim_end_matches('.')
            .to_ascii_lowercase(),
        qtype: q.query_type(),
    });
    Some(query)
}

/// A response to `query` with its ID, question and RD bit.
fn response(query: &Message, code: ResponseCode) -> Message {
    let mut message = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    message.metadata.recursion_desired = query.metadata.recursion_desired;
    message.metadata.recursion_available = true;
    message.metadata.response_code = code;
    for q in &query.queries {
        message.add_query(q.clone());
    }
    message
}

fn a_record(name: &Name, addr: Ipv4Addr) -> Record {
    Record::from_rdata(name.clone(), 300, RData::A(A(addr)))
}

fn reply_bytes(query: &Message, reply: Reply, transport: Transport) -> Option<Vec<u8>> {
    let q = &query.queries[0];
    let mut message = response(query, ResponseCode::NoError);
    let answered = q.query_type() == RecordType::A;
    match reply {
        Reply::Silent => return None,
        Reply::Rcode(code) => message.metadata.response_code = code,
        Reply::Truncated if transport == Transport::Udp => message.metadata.truncation = true,
        Reply::Answer | Reply::Truncated => {
            if answered {
                message.add_answer(a_record(q.name(), REAL));
            }
        }
        Reply::Oversize => {
            if answered {
                message.add_answer(a_record(q.name(), REAL));
                for i in 0..OVERSIZE_RECORDS {
                    let [hi, lo] = (i as u16).to_be_bytes();
                    message.add_answer(a_record(q.name(), Ipv4Addr::new(198, 18, hi, lo)));
                }
            }
        }
    }
    Some(message.to_vec().expect("a scripted answer encodes"))
}

fn decoy_bytes(query: &Message, decoy: Decoy) -> Vec<u8> {
    let q = &query.queries[0];
    match decoy {
        Decoy::WrongId => {
            let mut message = response(query, ResponseCode::NoError);
            message.metadata.id = query.metadata.id.wrapping_add(1);
            message.add_answer(a_record(q.name(), FORGED));
            message.to_vec().expect("a decoy encodes")
        }
        Decoy::WrongQuestion => {
            let other = Name::from_ascii("forged.invalid.").expect("a valid name");
            let mut message = response(query, ResponseCode::NoError);
            message.queries.clear();
            message.add_query(Query::query(other.clone(), q.query_type()));
            message.add_answer(a_record(&other, FORGED));
            message.add_answer(a_record(q.name(), FORGED));
            message.to_vec().expect("a decoy encodes")
        }
        Decoy::Malformed => {
            // A response header claiming one question and one answer,
            // followed by a compression pointer to itself.
            let mut bytes = query.metadata.id.to_be_bytes().to_vec();
            bytes.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
            bytes.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 6, 6, 6, 6]);
            bytes
        }
    }
}

/// UDP on port 0 and TCP on the same port, retrying when TCP is taken.
async fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..20 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind UDP 127.0.0.1:0");
        let addr = udp.local_addr().expect("a bound socket has an address");
        if let Ok(tcp) = TcpListener::bind(addr).await {
            return (udp, tcp);
        }
    }
    panic!("no port free for both UDP and TCP on 127.0.0.1");
}

/// Locks a test mutex, carrying on past poisoning (another test thread
/// already panicked).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
