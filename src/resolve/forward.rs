//! Step 5: forwarding to the upstream resolvers.
//!
//! Each try uses a fresh UDP socket on a random source port (the kernel's
//! ephemeral range), connected to the upstream so the kernel drops datagrams
//! from any other address or port, and a fresh random query ID. An answer is
//! accepted only when its ID, QR bit and question (name, type, class) match;
//! anything else — including a malformed datagram arriving first — is ignored
//! and the try keeps waiting. A truncated answer is asked again over TCP.
//! At most `max_inflight` distinct questions are in flight at once; one
//! more is turned away at once with [`Error::Overloaded`] (the chain then
//! answers stale or SERVFAIL), so a flood of distinct names can take only
//! so many sockets and in-flight table entries.
//! When a try has had `timeout` without an answer, or failed (SERVFAIL,
//! REFUSED, a socket error), the next upstream is tried — at most
//! `max_tries` tries within `deadline` in all. Earlier tries keep listening
//! until the deadline, so a slow upstream's late answer is still taken. Identical
//! questions asked while one is in flight share that one upstream query.
//!
//! The upstream asked first is the one with the lowest smoothed round-trip
//! time, now and then another ([`super::choice`]); the rest follow in the
//! configured order.
//!
//! An encrypted upstream (DoT, DoH) is asked through its
//! `resolve::encrypted` channel instead of a fresh socket: one kept
//! connection carries many questions at once; its answers are matched the
//! same way. Upstreams of every kind take turns in one failover order.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until, timeout_at};

use super::cache::Key;
use super::choice::Choice;
use super::encrypted::Channel;
use super::entry::Entry;
use super::trust::Trust;
use crate::config::{self, UpstreamSpec};

/// EDNS payload size advertised upstream (DNS flag day 2020).
const UPSTREAM_PAYLOAD: u16 = 1232;
/// The largest upstream datagram read: well above the payload advertised.
/// A longer one is cut, fails to decode and is ignored like any stray
/// datagram; an upstream with more to say sets TC and is asked over TCP.
const UPSTREAM_DATAGRAM: usize = 4096;

/// Why no upstream answer could be had.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Every try failed or the deadline passed.
    #[error(
        "no upstream answered in time ({tries} tries); check [upstream] servers and the network"
    )]
    Exhausted {
        /// Tries made.
        tries: u8,
    },
    /// The shared in-flight query this one waited for was dropped.
    #[error("the shared upstream query was abandoned")]
    Abandoned,
    /// `max_inflight` questions were already waiting for upstream answers.
    #[error(
        "too many upstream queries in flight; raise [upstream] max_inflight if this happens without a flood"
    )]
    Overloaded,
    /// An upstream answered with records that cannot be written back out.
    #[error("the upstream answer cannot be encoded")]
    Unencodable,
}

/// How one upstream try ended, for the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Try {
    /// Upstream `index` (its place in `[upstream] servers`) answered after
    /// this long.
    Answered {
        /// The upstream's index.
        index: usize,
        /// Time from sending to the accepted answer.
        latency: Duration,
        /// Its smoothed round-trip time now (µs).
        srtt_us: u32,
        /// It was the question's first choice.
        first: bool,
    },
    /// Upstream `index` failed: timeout, error, SERVFAIL, REFUSED.
    Failed {
        /// The upstream's index.
        index: usize,
        /// Its smoothed round-trip time now (µs).
        srtt_us: u32,
        /// It was the question's first choice.
        first: bool,
    },
    /// None was made: `max_inflight` questions were already in flight.
    TurnedAway,
}

/// What forwarding one question gave.
#[derive(Debug)]
pub struct Flight {
    /// The answer, shared with every identical question in flight.
    pub result: Result<Arc<Entry>, Error>,
    /// This question asked upstream itself (the others joined it).
    pub leader: bool,
    /// Its tries, in the order they ended; none for a question that
    /// joined another's flight.
    pub tries: Vec<Try>,
}

/// The question to forward.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The name as the client wrote it.
    pub name: &'a Name,
    /// Query type.
    pub qtype: RecordType,
    /// Query class.
    pub qclass: DNSClass,
    /// Ask for DNSSEC records.
    pub dnssec_ok: bool,
    /// Ask the upstream not to validate.
    pub checking_disabled: bool,
}

type Shared = watch::Sender<Option<Result<Arc<Entry>, Error>>>;

/// Counters the forwarder keeps.
#[derive(Debug, Default)]
pub struct Counters {
    /// Upstream tries sent.
    pub tries: AtomicU64,
    /// Tries that failed (timeout, error, SERVFAIL, REFUSED).
    pub failures: AtomicU64,
    /// Client questions answered by joining a query already in flight.
    pub coalesced: AtomicU64,
    /// Client questions turned away because `max_inflight` were in flight.
    pub overloaded: AtomicU64,
}

/// How one upstream is asked.
#[derive(Debug)]
enum Link {
    /// A fresh UDP socket per try (TCP when truncated).
    Plain(SocketAddr),
    /// A kept, shared TLS or HTTPS connection.
    Encrypted(Box<Channel>),
}

/// Sends questions upstream.
pub struct Forwarder {
    upstreams: Vec<Link>,
    timeout: Duration,
    deadline: Duration,
    max_tries: u8,
    max_inflight: usize,
    /// The counters' number of the first upstream ([`Try`] indexes).
    first_index: usize,
    /// Which upstream to ask first.
    choice: Choice,
    inflight: Mutex<HashMap<Key, Arc<Shared>>>,
    /// Counters.
    pub counters: Counters,
}

/// Removes a finished flight from the in-flight table, also on cancellation.
struct FlightGuard<'a> {
    table: &'a Mutex<HashMap<Key, Arc<Shared>>>,
    key: Key,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut table) = self.table.lock() {
            table.remove(&self.key);
        }
    }
}

impl Forwarder {
    /// A forwarder for `[upstream]`.
    pub fn new(config: &config::Upstream) -> Forwarder {
        let timeout = Duration::from_millis(config.timeout_ms);
        let deadline = Duration::from_millis(config.deadline_ms);
        let trust = config
            .servers
            .iter()
            .any(UpstreamSpec::is_encrypted)
            .then(|| Trust::new(config));
        let upstreams = config
            .servers
            .iter()
            .map(|spec| {
                let channel = trust.as_ref().and_then(|trust| {
                    Channel::new(spec, trust, &config.bootstrap, timeout, deadline)
                });
                match channel {
                    Some(channel) => Link::Encrypted(Box::new(channel)),
                    None => Link::Plain(spec.addr()),
                }
            })
            .collect();
        Forwarder {
            upstreams,
            timeout,
            deadline,
            max_tries: config.max_tries,
            max_inflight: config.max_inflight,
            first_index: 0,
            choice: Choice::new(
                config.servers.len(),
                Duration::from_millis(config.timeout_ms),
            ),
            inflight: Mutex::new(HashMap::new()),
            counters: Counters::default(),
        }
    }

    /// This forwarder with its upstreams numbered from `first` in the
    /// [`Try`]s it reports (the counters number every forwarder's
    /// upstreams in one sequence).
    pub fn numbered_from(mut self, first: usize) -> Forwarder {
        self.first_index = first;
        self
    }

    /// The upstream answer for `request`, written by `encode`, sharing one
    /// upstream query among identical questions in flight (`key` identifies
    /// them).
    pub async fn forward(
        &self,
        key: Key,
        request: Request<'_>,
        encode: impl FnOnce(&Message) -> Option<Entry>,
    ) -> Flight {
        let mut tries = Vec::new();
        let (shared, leader) = {
            let mut table = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            match table.get(&key) {
                Some(shared) => (shared.clone(), false),
                None if table.len() >= self.max_inflight => {
                    drop(table);
                    self.counters.overloaded.fetch_add(1, Ordering::Relaxed);
                    tries.push(Try::TurnedAway);
                    return Flight {
                        result: Err(Error::Overloaded),
                        leader: false,
                        tries,
                    };
                }
                None => {
                    let shared = Arc::new(watch::channel(None).0);
                    table.insert(key.clone(), shared.clone());
                    (shared, true)
                }
            }
        };
        if !leader {
            self.counters.coalesced.fetch_add(1, Ordering::Relaxed);
            let mut rx = shared.subscribe();
            drop(shared);
            let result = match rx.wait_for(Option::is_some).await {
                Ok(value) => value.clone().unwrap_or(Err(Error::Abandoned)),
                Err(_) => Err(Error::Abandoned),
            };
            return Flight {
                result,
                leader,
                tries,
            };
        }
        let guard = FlightGuard {
            table: &self.inflight,
            key,
        };
        let result = match self.resolve(request, &mut tries).await {
            Ok(message) => encode(&message).map(Arc::new).ok_or(Error::Unencodable),
            Err(error) => Err(error),
        };
        drop(guard);
        shared.send_replace(Some(result.clone()));
        Flight {
            result,
            leader,
            tries,
        }
    }

    /// Distinct questions waiting for upstream answers now.
    pub fn inflight(&self) -> usize {
        self.inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Tries the upstreams in turn until one answers.
    async fn resolve(&self, request: Request<'_>, log: &mut Vec<Try>) -> Result<Message, Error> {
        let deadline = Instant::now() + self.deadline;
        let count = self.upstreams.len();
        let first = self.choice.first();
        let mut tries = 0u8;
        // Tries overlap: a new one starts when the last has had `timeout`
        // without an answer (or failed outright), but every try keeps
        // listening until the deadline, so a slow upstream's late answer
        // still counts.
        let mut pending = FuturesUnordered::new();
        let mut outstanding: Vec<usize> = Vec::with_capacity(usize::from(self.max_tries));
        let mut next_try = Instant::now();
        if count == 0 {
            return Err(Error::Exhausted { tries });
        }
        loop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if tries < self.max_tries && now >= next_try {
                let index = self.choice.nth(first, usize::from(tries));
                let upstream = &self.upstreams[index];
                tries += 1;
                self.counters.tries.fetch_add(1, Ordering::Relaxed);
                outstanding.push(index);
                pending.push(async move {
                    let answer = self.try_upstream(upstream, request, deadline).await;
                    (index, now, answer)
                });
                next_try = now + self.timeout;
            }
            if pending.is_empty() && tries >= self.max_tries {
                break;
            }
            let wake = if tries < self.max_tries {
                next_try.min(deadline)
            } else {
                deadline
            };
            tokio::select! {
                Some((index, sent, answer)) = pending.next() => match answer {
                    Some(answer) => {
                        let latency = sent.elapsed();
                        log.push(Try::Answered {
                            index: self.first_index + index,
                            latency,
                            srtt_us: self.choice.answered(index, latency),
                            first: index == first,
                        });
                        return Ok(answer);
                    }
                    None => {
                        if let Some(at) = outstanding.iter().position(|&i| i == index) {
                            outstanding.swap_remove(at);
                        }
                        self.failed(index, index == first, log);
                        // Failed outright (refused, unreachable, SERVFAIL):
                        // the next try need not wait.
                        next_try = Instant::now();
                    }
                },
                () = sleep_until(wake) => {}
            }
        }
        // Tries still unanswered at the deadline failed too.
        for index in outstanding {
            self.failed(index, index == first, log);
        }
        Err(Error::Exhausted { tries })
    }

    fn failed(&self, index: usize, first: bool, log: &mut Vec<Try>) {
        self.counters.failures.fetch_add(1, Ordering::Relaxed);
        log.push(Try::Failed {
            index: self.first_index + index,
            srtt_us: self.choice.failed(index),
            first,
        });
    }

    /// One try: UDP, then TCP if truncated, or one question on an
    /// encrypted connection. `None` when this upstream failed.
    async fn try_upstream(
        &self,
        upstream: &Link,
        request: Request<'_>,
        deadline: Instant,
    ) -> Option<Message> {
        let upstream = match upstream {
            Link::Plain(addr) => *addr,
            Link::Encrypted(channel) => {
                let query = query_message(rand::random(), request);
                return match timeout_at(deadline, channel.exchange(query, request)).await {
                    Ok(Some(message)) => usable(message),
                    Ok(None) | Err(_) => None,
                };
            }
        };
        let (id, bytes) = encode_query(request)?;
        let message = match timeout_at(deadline, udp_exchange(upstream, id, &bytes, request)).await
        {
            Ok(Some(message)) => message,
            Ok(None) | Err(_) => return None,
        };
        let message = if message.metadata.truncation {
            let (id, bytes) = encode_query(request)?;
            match timeout_at(deadline, tcp_exchange(upstream, id, &bytes, request)).await {
                Ok(Some(message)) => message,
                Ok(None) | Err(_) => return None,
            }
        } else {
            message
        };
        usable(message)
    }
}

/// The message in `bytes` when it answers the query with `id` for
/// `request`: it decodes, carries `id`, has QR=1 and opcode QUERY, and
/// holds exactly the question asked (name, type, class). `None` for
/// anything else, which a try ignores.
pub fn accept(bytes: &[u8], id: u16, request: Request<'_>) -> Option<Message> {
    let message = Message::from_vec(bytes).ok()?;
    matches(&message, id, request).then_some(message)
}

/// An accepted, untruncated upstream message, or `None` when its response
/// code says this upstream failed (SERVFAIL, REFUSED, NOTIMP, FORMERR) and
/// the next one is to be asked.
pub fn usable(message: Message) -> Option<Message> {
    match message.metadata.response_code {
        ResponseCode::ServFail
        | ResponseCode::Refused
        | ResponseCode::NotImp
        | ResponseCode::FormErr => None,
        _ => Some(message),
    }
}

/// A fresh random ID and the query for `request`, encoded.
pub(super) fn encode_query(request: Request<'_>) -> Option<(u16, Vec<u8>)> {
    let id: u16 = rand::random();
    query_message(id, request)
        .to_vec()
        .ok()
        .map(|bytes| (id, bytes))
}

/// The query upstream for `request`: RD, CD as the client asked, EDNS with
/// our payload size and the client's DO bit.
fn query_message(id: u16, request: Request<'_>) -> Message {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.metadata.checking_disabled = request.checking_disabled;
    let mut query = Query::query(request.name.clone(), request.qtype);
    query.set_query_class(request.qclass);
    message.add_query(query);
    let mut edns = Edns::new();
    edns.set_max_payload(UPSTREAM_PAYLOAD);
    edns.set_dnssec_ok(request.dnssec_ok);
    message.set_edns(edns);
    message
}

/// Whether `message` is the answer to the query with `id` for `request`.
fn matches(message: &Message, id: u16, request: Request<'_>) -> bool {
    message.metadata.id == id && matches_question(message, request)
}

/// Whether `message` is an answer (QR, opcode QUERY) to exactly the
/// question of `request`, whatever its ID.
pub(super) fn matches_question(message: &Message, request: Request<'_>) -> bool {
    message.metadata.message_type == MessageType::Response
        && message.metadata.op_code == OpCode::Query
        && message.queries.len() == 1
        && message.queries[0].name() == request.name
        && message.queries[0].query_type() == request.qtype
        && message.queries[0].query_class() == request.qclass
}

/// One query over a fresh UDP socket connected to `upstream`: the first
/// datagram that [`accept`]s, `None` on a socket error.
pub(super) async fn udp_exchange(
    upstream: SocketAddr,
    id: u16,
    bytes: &[u8],
    request: Request<'_>,
) -> Option<Message> {
    let local: SocketAddr = if upstream.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await.ok()?;
    socket.connect(upstream).await.ok()?;
    socket.send(bytes).await.ok()?;
    let mut buf = vec![0u8; UPSTREAM_DATAGRAM];
    loop {
        // A refused port (ICMP) ends the try at once; the caller's deadline
        // bounds the loop.
        let len = socket.recv(&mut buf).await.ok()?;
        if let Some(message) = accept(&buf[..len], id, request) {
            return Some(message);
        }
    }
}

async fn tcp_exchange(
    upstream: SocketAddr,
    id: u16,
    bytes: &[u8],
    request: Request<'_>,
) -> Option<Message> {
    let mut stream = TcpStream::connect(upstream).await.ok()?;
    let len = u16::try_from(bytes.len()).ok()?;
    let mut framed = Vec::with_capacity(bytes.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(bytes);
    stream.write_all(&framed).await.ok()?;
    loop {
        let len = stream.read_u16().await.ok()?;
        let mut body = vec![0u8; usize::from(len)];
        stream.read_exact(&mut body).await.ok()?;
        let Ok(message) = Message::from_vec(&body) else {
            return None;
        };
        if matches(&message, id, request) {
            return Some(message);
        }
    }
}
