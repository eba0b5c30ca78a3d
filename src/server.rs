//! The DNS server: sockets, hickory-server's `Server`, and the
//! [`Handler`] that turns a hickory request into a [`Question`] for the
//! [`Resolver`] and its [`Answer`] back into a response.
//!
//! hickory-server does the wire work: it drops packets shorter than a
//! header, answers FORMERR to an unparseable query whose header it can read,
//! never answers a response (QR=1, so no reflection loops), and truncates
//! UDP answers to the size the client allows (512 bytes without EDNS).
//! The handler answers NOTIMP to opcodes other than QUERY, FORMERR to a
//! message without exactly one question, and BADVERS to EDNS versions above 0.
//! The question is echoed as the client wrote it, written out in full when
//! it used compression pointers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::serialize::binary::{BinDecoder, BinEncodable, BinEncoder, NameEncoding};
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo, Server};
use hickory_server::zone_handler::{MessageResponseBuilder, Queries};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::resolve::answer::Answer;
use crate::resolve::{Question, Resolver};
use crate::telemetry;

/// EDNS payload size ralo answers with at most (DNS flag day 2020).
const MAX_PAYLOAD: u16 = 1232;
/// The EDNS option code of Extended DNS Errors (RFC 8914).
const EDE_OPTION: u16 = 15;

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
    /// hickory's server failed.
    #[error("the DNS server failed: {0}")]
    Serve(String),
}

/// Bound sockets, ready to serve.
#[derive(Debug, Default)]
pub struct Listeners {
    /// UDP sockets.
    pub udp: Vec<UdpSocket>,
    /// TCP listeners.
    pub tcp: Vec<TcpListener>,
}

impl Listeners {
    /// Binds UDP and TCP on each address. Port 0 gets one free port shared
    /// by UDP and TCP (tests use it).
    pub fn bind(addrs: &[SocketAddr]) -> Result<Listeners, Error> {
        let mut listeners = Listeners::default();
        for &addr in addrs {
            let (udp, tcp) = bind_pair(addr)?;
            listeners.udp.push(udp);
            listeners.tcp.push(tcp);
        }
        Ok(listeners)
    }

    /// The UDP addresses actually bound.
    pub fn udp_addrs(&self) -> Vec<SocketAddr> {
        self.udp
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .collect()
    }
}

fn bind_pair(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), Error> {
    // With port 0, UDP picks a port and TCP must get the same one; another
    // program may hold it on TCP, so try a few ports.
    let attempts = if addr.port() == 0 { 20 } else { 1 };
    let mut last = None;
    for _ in 0..attempts {
        let udp = bind_socket(addr, Type::DGRAM).map_err(|source| Error::Bind {
            protocol: "udp",
            addr,
            source,
        })?;
        let bound = udp
            .local_addr()
            .and_then(|a| a.as_socket().ok_or(std::io::ErrorKind::Other.into()));
        let bound = bound.map_err(|source| Error::Bind {
            protocol: "udp",
            addr,
            source,
        })?;
        match bind_socket(bound, Type::STREAM) {
            Ok(tcp) => {
                let udp = std::net::UdpSocket::from(udp);
                let tcp = std::net::TcpListener::from(tcp);
                let wrap = |r: std::io::Result<()>, protocol| {
                    r.map_err(|source| Error::Bind {
                        protocol,
                        addr: bound,
                        source,
                    })
                };
                wrap(udp.set_nonblocking(true), "udp")?;
                wrap(tcp.set_nonblocking(true), "tcp")?;
                let udp = UdpSocket::from_std(udp).map_err(|source| Error::Bind {
                    protocol: "udp",
                    addr: bound,
                    source,
                })?;
                let tcp = TcpListener::from_std(tcp).map_err(|source| Error::Bind {
                    protocol: "tcp",
                    addr: bound,
                    source,
                })?;
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
    }
    socket.bind(&addr.into())?;
    if kind == Type::STREAM {
        socket.listen(1024)?;
    }
    Ok(socket)
}

/// Serves `listeners` with `resolver` until `shutdown` is cancelled.
pub async fn run(
    listeners: Listeners,
    resolver: Arc<Resolver>,
    tcp_idle: Duration,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let mut server = Server::new(Handler { resolver });
    for socket in listeners.udp {
        if let Ok(addr) = socket.local_addr() {
            info!(protocol = "udp", %addr, "listening");
        }
        server.register_socket(socket);
    }
    for listener in listeners.tcp {
        if let Ok(addr) = listener.local_addr() {
            info!(protocol = "tcp", %addr, "listening");
        }
        server.register_listener(listener, tcp_idle, 65_535);
    }
    tokio::select! {
        _ = shutdown.cancelled() => {
            server.shutdown_gracefully().await.map_err(|e| Error::Serve(e.to_string()))
        }
        result = server.block_until_done() => {
            result.map_err(|e| Error::Serve(e.to_string()))
        }
    }
}

/// hickory's request handler: one [`Question`] in, one response out.
pub struct Handler {
    resolver: Arc<Resolver>,
}

impl Handler {
    /// A handler answering with `resolver`.
    pub fn new(resolver: Arc<Resolver>) -> Handler {
        Handler { resolver }
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        let received = std::time::Instant::now();
        let meta = &request.metadata;
        if meta.op_code != OpCode::Query {
            return respond(
                request,
                response_handle,
                &Answer::empty(ResponseCode::NotImp),
            )
            .await;
        }
        if request.edns.as_ref().is_some_and(|edns| edns.version() > 0) {
            let answer = Answer::empty(ResponseCode::BADVERS);
            return respond(request, response_handle, &answer).await;
        }
        let [query] = request.queries.queries() else {
            return respond(
                request,
                response_handle,
                &Answer::empty(ResponseCode::FormErr),
            )
            .await;
        };
        let question = Question {
            name: query.original().name(),
            qtype: query.query_type(),
            qclass: query.query_class(),
            client: request.src().ip(),
            dnssec_ok: request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok),
            checking_disabled: meta.checking_disabled,
        };
        let (answer, outcome) = self.resolver.resolve(question).await;
        if let Some(telemetry) = self.resolver.telemetry() {
            // Before the answer leaves: a client that has its answer can
            // count on seeing it in `stats` and `tail`.
            telemetry.record(&telemetry::Query {
                client: question.client,
                name: question.name,
                qtype: question.qtype,
                outcome,
                protocol: match request.protocol() {
                    hickory_server::net::xfer::Protocol::Udp => telemetry::Protocol::Udp,
                    _ => telemetry::Protocol::Tcp,
                },
                list: crate::resolve::block::blocking_list(&answer),
                latency: received.elapsed(),
            });
        }
        respond(request, response_handle, &answer).await
    }
}

/// Sends `answer` to the client with its ID, question and EDNS.
async fn respond<R: ResponseHandler>(
    request: &Request,
    mut handle: R,
    answer: &Answer,
) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.recursion_available = true;
    metadata.response_code = answer.rcode;
    let client_do = request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
    metadata.authentic_data =
        answer.authentic_data && (client_do || request.metadata.authentic_data);
    let edns = request.edns.as_ref().map(|client| {
        let mut edns = Edns::new();
        edns.set_max_payload(client.max_payload().clamp(512, MAX_PAYLOAD));
        edns.set_dnssec_ok(client_do);
        if let Some((code, text)) = &answer.ede {
            let mut data = Vec::with_capacity(2 + text.len());
            data.extend_from_slice(&code.to_be_bytes());
            data.extend_from_slice(text.as_bytes());
            edns.options_mut()
                .insert(EdnsOption::Unknown(EDE_OPTION, data));
        }
        edns
    });
    let s = &answer.sections;
    let rebuilt = uncompressed_question(&request.queries);
    let queries = rebuilt.as_ref().unwrap_or(&request.queries);
    let builder = || {
        let mut builder = MessageResponseBuilder::new(queries, None);
        if let Some(edns) = &edns {
            builder.edns(edns);
        }
        builder
    };
    if request.protocol() == hickory_server::net::xfer::Protocol::Udp
        && !s.answers.is_empty()
        && !fits_udp(builder(), metadata, s, edns.as_ref())
    {
        // Too big for the client: no partial RRsets, just TC=1 so it asks
        // again over TCP.
        metadata.truncation = true;
        let response = builder().build_no_records(metadata);
        return send(request, handle.send_response(response).await);
    }
    let response = builder().build(
        metadata,
        s.answers.iter(),
        s.authorities.iter(),
        std::iter::empty(),
        s.additionals.iter(),
    );
    send(request, handle.send_response(response).await)
}

/// The question to echo when the client's own bytes, which hickory echoes
/// as they came, hold compression pointers: those point into the query and
/// may land on other bytes in the response (its header differs), making it
/// undecodable. `None` (echo the client's bytes) in the usual case, found
/// without allocating.
fn uncompressed_question(queries: &Queries) -> Option<Queries> {
    if !has_pointer(queries.as_bytes(), queries.len()) {
        return None;
    }
    let mut bytes = Vec::with_capacity(queries.as_bytes().len() + 256);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_name_encoding(NameEncoding::Uncompressed);
    for query in queries.queries() {
        query.original().emit(&mut encoder).ok()?;
    }
    Queries::read(&mut BinDecoder::new(&bytes), queries.len()).ok()
}

/// Whether a question section of `count` questions uses a compression
/// pointer (or does not read as one, to be safe).
fn has_pointer(section: &[u8], count: usize) -> bool {
    let mut at = 0;
    for _ in 0..count {
        loop {
            match section.get(at) {
                Some(0) => break,
                Some(&len) if len < 0x40 => at += 1 + usize::from(len),
                _ => return true,
            }
        }
        // The root label, type and class.
        at += 5;
    }
    false
}

/// Whether the response fits the client's UDP payload size.
fn fits_udp(
    builder: MessageResponseBuilder<'_>,
    metadata: Metadata,
    s: &crate::resolve::answer::Sections,
    edns: Option<&Edns>,
) -> bool {
    let limit = edns.map_or(512, Edns::max_payload);
    let response = builder.build(
        metadata,
        s.answers.iter(),
        s.authorities.iter(),
        std::iter::empty(),
        s.additionals.iter(),
    );
    let mut bytes = Vec::with_capacity(512);
    let mut encoder = hickory_proto::serialize::binary::BinEncoder::new(&mut bytes);
    encoder.set_max_size(limit);
    match response.destructive_emit(&mut encoder) {
        Ok(_) => !bytes.is_empty() && bytes.len() <= usize::from(limit) && bytes[2] & 0x02 == 0,
        Err(_) => false,
    }
}

/// The info of a sent response, or SERVFAIL info when sending failed.
fn send(
    request: &Request,
    sent: Result<ResponseInfo, hickory_server::net::NetError>,
) -> ResponseInfo {
    match sent {
        Ok(info) => info,
        Err(error) => {
            warn!(%error, "could not send a response");
            let mut failed = Metadata::new(
                request.metadata.id,
                MessageType::Response,
                request.metadata.op_code,
            );
            failed.response_code = ResponseCode::ServFail;
            ResponseInfo::from(Header {
                metadata: failed,
                counts: HeaderCounts::default(),
            })
        }
    }
}
