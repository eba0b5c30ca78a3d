//! A real DNS stub client for the tests: hickory-proto `Message`s over real
//! UDP and TCP sockets (TCP with its 2-byte length prefix), plus raw senders
//! for malformed input and a few readers for the answers.
//!
//! Every wait is bounded by the client's timeout (3 s unless told otherwise),
//! measured in real time. The socket work runs on tokio's blocking pool with
//! std sockets; in a current-thread runtime with a paused clock
//! (`#[tokio::test(start_paused = true)]`) a blocking task stops tokio from
//! auto-advancing its clock, so the server under test sees no time jump while
//! the client waits for its answer, and the client's own timeout cannot fire
//! early. Only loopback addresses are used; ports come from the OS.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{Name, RData, RecordType};

/// How a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// One datagram each way.
    Udp,
    /// A fresh connection, messages framed by a 2-byte length.
    Tcp,
}

/// A DNS client aimed at one server.
#[derive(Clone, Copy, Debug)]
pub struct Client {
    /// Where queries go.
    pub server: SocketAddr,
    /// Longest wait for an answer, connection included.
    pub timeout: Duration,
}

impl Client {
    /// A client for `server` with a 3-second timeout.
    pub fn new(server: SocketAddr) -> Self {
        Client {
            server,
            timeout: Duration::from_secs(3),
        }
    }

    /// The same client with another timeout.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Client { timeout, ..self }
    }

    /// Asks `name`/`qtype` over UDP (RD=1, EDNS 1232); panics without an answer.
    pub async fn udp(&self, name: &str, qtype: RecordType) -> Message {
        self.expect(&query(name, qtype), Transport::Udp).await
    }

    /// Asks `name`/`qtype` over TCP (RD=1, EDNS 1232); panics without an answer.
    pub async fn tcp(&self, name: &str, qtype: RecordType) -> Message {
        self.expect(&query(name, qtype), Transport::Tcp).await
    }

    /// Sends `query` and returns the answer; panics without one.
    pub async fn expect(&self, query: &Message, transport: Transport) -> Message {
        match self.send(query, transport).await {
            Some(answer) => answer,
            None => panic!(
                "no answer from {} over {transport:?} to {} within {:?}",
                self.server,
                describe(query),
                self.timeout
            ),
        }
    }

    /// Sends `query`; `None` when no answer with its ID came back in time
    /// (timeout, ICMP unreachable, connection refused or closed).
    pub async fn send(&self, query: &Message, transport: Transport) -> Option<Message> {
        match transport {
            Transport::Udp => self.send_from(loopback_for(self.server), query).await,
            Transport::Tcp => {
                let answers = self.tcp_pipelined(std::slice::from_ref(query)).await;
                answers.into_iter().next().flatten()
            }
        }
    }

    /// Sends `query` over UDP from a socket bound to `local` (such as
    /// `127.0.0.2`), to test access control by source address.
    pub async fn send_from(&self, local: IpAddr, query: &Message) -> Option<Message> {
        let bytes = encode(query);
        let id = query.metadata.id;
        let (server, timeout) = (self.server, self.timeout);
        let answer = blocking(move || {
            udp_exchange(local, server, &bytes, timeout, |datagram| {
                Message::from_vec(datagram).is_ok_and(|m| {
                    m.metadata.id == id && m.metadata.message_type == MessageType::Response
                })
            })
        })
        .await?;
        Message::from_vec(&answer).ok()
    }

    /// Asks `name`/`qtype` over UDP from `local`; `None` without an answer.
    pub async fn udp_from(&self, local: IpAddr, name: &str, qtype: RecordType) -> Option<Message> {
        self.send_from(local, &query(name, qtype)).await
    }

    /// Sends `bytes` as one datagram and returns the first datagram that
    /// comes back within `wait`, whatever it holds.
    pub async fn send_raw_udp(&self, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
        let (bytes, server) = (bytes.to_vec(), self.server);
        blocking(move || udp_exchange(loopback_for(server), server, &bytes, wait, |_| true)).await
    }

    /// Writes `bytes` as-is on a fresh TCP connection (no length prefix is
    /// added) and returns the payload of the first length-prefixed message
    /// that comes back within `wait`; `None` on timeout or if the server
    /// closes the connection first.
    pub async fn send_raw_tcp(&self, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
        let (bytes, server) = (bytes.to_vec(), self.server);
        blocking(move || {
            let deadline = Instant::now() + wait;
            let mut stream = tcp_connect(server, deadline).ok()?;
            stream.write_all(&bytes).ok()?;
            read_frame(&mut stream, deadline).ok()
        })
        .await
    }

    /// Writes all `queries` at once on one TCP connection and collects the
    /// answers by message ID, in any order (RFC 7766 pipelining). The result
    /// follows the order of `queries`; `None` for a query left unanswered
    /// when the timeout ends or the server closes the connection.
    pub async fn tcp_pipelined(&self, queries: &[Message]) -> Vec<Option<Message>> {
        let ids: Vec<u16> = queries.iter().map(|q| q.metadata.id).collect();
        for (i, id) in ids.iter().enumerate() {
            assert!(
                !ids[..i].contains(id),
                "pipelined queries need distinct IDs"
            );
        }
        let mut wire = Vec::new();
        for query in queries {
            let bytes = encode(query);
            let len = u16::try_from(bytes.len()).expect("a DNS message fits in 65535 bytes");
            wire.extend_from_slice(&len.to_be_bytes());
            wire.extend_from_slice(&bytes);
        }
        let (server, timeout) = (self.server, self.timeout);
        blocking(move || {
            let mut answers: Vec<Option<Message>> = vec![None; ids.len()];
            let deadline = Instant::now() + timeout;
            let Ok(mut stream) = tcp_connect(server, deadline) else {
                return answers;
            };
            if stream.write_all(&wire).is_err() {
                return answers;
            }
            while answers.iter().any(Option::is_none) {
                let Ok(frame) = read_frame(&mut stream, deadline) else {
                    break;
                };
                let Ok(answer) = Message::from_vec(&frame) else {
                    continue;
                };
                if let Some(i) = ids.iter().position(|id| *id == answer.metadata.id) {
                    answers[i] = Some(answer);
                }
            }
            answers
        })
        .await
    }
}

/// The loopback address 127.0.0.`last`: every such address is this
/// machine, so a test can send as several clients.
pub fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// A query for `name`/`qtype`: random ID, RD=1, EDNS with a 1232-byte payload.
pub fn query(name: &str, qtype: RecordType) -> Message {
    let mut message = Message::new(rand::random(), MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(fqdn(name), qtype));
    message.with_payload(1232)
}

/// Tweaks for a query made by [`query`], chained: `query(..).with_cd().without_edns()`.
pub trait QueryExt: Sized {
    /// Sets the DO bit (adds EDNS if missing).
    fn with_dnssec_ok(self) -> Self;
    /// Sets the CD flag.
    fn with_cd(self) -> Self;
    /// Clears the RD flag.
    fn without_rd(self) -> Self;
    /// Removes the OPT record.
    fn without_edns(self) -> Self;
    /// Sets the EDNS UDP payload size (adds EDNS if missing; hickory raises
    /// values below 512 to 512).
    fn with_payload(self, size: u16) -> Self;
    /// Sets the message ID.
    fn with_id(self, id: u16) -> Self;
}

impl QueryExt for Message {
    fn with_dnssec_ok(mut self) -> Self {
        edns_mut(&mut self).set_dnssec_ok(true);
        self
    }

    fn with_cd(mut self) -> Self {
        self.metadata.checking_disabled = true;
        self
    }

    fn without_rd(mut self) -> Self {
        self.metadata.recursion_desired = false;
        self
    }

    fn without_edns(mut self) -> Self {
        self.edns = None;
        self
    }

    fn with_payload(mut self, size: u16) -> Self {
        edns_mut(&mut self).set_max_payload(size);
        self
    }

    fn with_id(mut self, id: u16) -> Self {
        self.metadata.id = id;
        self
    }
}

/// The IPv4 addresses of the A records in the answer section, in order.
pub fn answers_a(msg: &Message) -> Vec<Ipv4Addr> {
    msg.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

/// Whether `answer` (to an A query for `name`) is the sinkhole's 0.0.0.0;
/// it must hold an A record.
pub fn sinkholed(answer: &Message, name: &str) -> bool {
    let a = answers_a(answer);
    assert!(!a.is_empty(), "{name}: no A record in {answer:?}");
    a == [Ipv4Addr::UNSPECIFIED]
}

/// The IPv6 addresses of the AAAA records in the answer section, in order.
pub fn answers_aaaa(msg: &Message) -> Vec<Ipv6Addr> {
    msg.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::AAAA(aaaa) => Some(aaaa.0),
            _ => None,
        })
        .collect()
}

/// The targets of the CNAME records in the answer section, lowercase,
/// without the trailing dot.
pub fn answers_cname(msg: &Message) -> Vec<String> {
    msg.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::CNAME(cname) => Some(plain(&cname.0)),
            _ => None,
        })
        .collect()
}

/// The TXT records of the answer section, each one's strings joined.
pub fn answers_txt(msg: &Message) -> Vec<String> {
    msg.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s))
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect()
}

/// The Extended DNS Error (RFC 8914, EDNS option 15) of `msg`: info-code
/// and extra text. hickory 0.26 decodes that option as `EdnsOption::Unknown`.
pub fn ede(msg: &Message) -> Option<(u16, String)> {
    let edns = msg.edns.as_ref()?;
    edns.options()
        .options
        .iter()
        .find_map(|(_, option)| match option {
            EdnsOption::Unknown(15, data) if data.len() >= 2 => {
                let code = u16::from_be_bytes([data[0], data[1]]);
                let text = String::from_utf8_lossy(&data[2..]);
                Some((code, text.trim_end_matches('\0').to_owned()))
            }
            _ => None,
        })
}

/// `name` as an absolute DNS name; panics on a malformed name (tests only).
pub fn fqdn(name: &str) -> Name {
    let mut parsed =
        Name::from_ascii(name).unwrap_or_else(|e| panic!("bad DNS name {name:?}: {e}"));
    parsed.set_fqdn(true);
    parsed
}

/// `name` lowercase without the trailing dot.
fn plain(name: &Name) -> String {
    name.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

fn edns_mut(message: &mut Message) -> &mut Edns {
    message.edns.get_or_insert_with(|| {
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        edns
    })
}

fn encode(message: &Message) -> Vec<u8> {
    message.to_vec().expect("a test query encodes")
}

fn describe(query: &Message) -> String {
    match query.queries.first() {
        Some(q) => format!("{} {} (id {})", q.name(), q.query_type(), query.metadata.id),
        None => format!("a query without question (id {})", query.metadata.id),
    }
}

/// The loopback address of the server's family.
fn loopback_for(server: SocketAddr) -> IpAddr {
    match server {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    }
}

/// Runs socket work on the blocking pool (see the module docs for why).
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work)
        .await
        .expect("the client's socket thread panicked")
}

/// Sends one datagram from `local` and waits for a reply that `accept`s.
fn udp_exchange(
    local: IpAddr,
    server: SocketAddr,
    bytes: &[u8],
    wait: Duration,
    accept: impl Fn(&[u8]) -> bool,
) -> Option<Vec<u8>> {
    let deadline = Instant::now() + wait;
    let socket = UdpSocket::bind((local, 0))
        .unwrap_or_else(|e| panic!("bind a UDP client socket on {local}: {e}"));
    // Connected, so an ICMP port unreachable shows up as an error at once.
    socket.connect(server).ok()?;
    socket.send(bytes).ok()?;
    let mut buf = vec![0; 65535];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        socket
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .ok()?;
        let n = socket.recv(&mut buf).ok()?;
        if accept(&buf[..n]) {
            return Some(buf[..n].to_vec());
        }
    }
}

fn tcp_connect(server: SocketAddr, deadline: Instant) -> io::Result<TcpStream> {
    let left = time_left(deadline)?;
    let stream = TcpStream::connect_timeout(&server, left)?;
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(time_left(deadline)?))?;
    Ok(stream)
}

/// Reads one length-prefixed message and returns its payload.
fn read_frame(stream: &mut TcpStream, deadline: Instant) -> io::Result<Vec<u8>> {
    let mut len = [0; 2];
    stream.set_read_timeout(Some(time_left(deadline)?))?;
    stream.read_exact(&mut len)?;
    let mut payload = vec![0; usize::from(u16::from_be_bytes(len))];
    stream.set_read_timeout(Some(time_left(deadline)?))?;
    stream.read_exact(&mut payload)?;
    Ok(payload)
}

fn time_left(deadline: Instant) -> io::Result<Duration> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if !left.is_zero() => Ok(left),
        _ => Err(io::ErrorKind::TimedOut.into()),
    }
}
