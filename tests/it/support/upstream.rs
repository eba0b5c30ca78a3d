//! A real upstream DNS server for the tests: hickory's authoritative `Catalog`
//! holding one in-memory zone, served over UDP and TCP on `127.0.0.1`, same
//! port number for both, and when asked ([`Builder::tls`],
//! [`Builder::https`]) over DNS over TLS and DNS over HTTPS (HTTP/2, path
//! `/dns-query`) on ports of their own, with hickory-server's listeners.
//!
//! The zone is the root zone `.`, so the server is authoritative for every
//! name: a name that is not in it gets NXDOMAIN with the root SOA in the
//! authority section; an existing name without the asked type (or an empty
//! non-terminal such as `example.com`) gets NOERROR/NODATA with the same SOA.
//!
//! A thin [`RequestHandler`] in front of the catalog counts every query that
//! reaches it, can be switched between [`Mode`]s at run time, and truncates
//! UDP answers the way real servers do (see [`Upstream`]).
//!
//! # The standard zone ([`Upstream::standard`])
//!
//! | name                           | records                                        | TTL |
//! |--------------------------------|------------------------------------------------|-----|
//! | `allowed.example.com`          | A 192.0.2.1, AAAA 2001:db8::1                  | 300 |
//! | `short.example.com`            | A 192.0.2.2                                    | 2   |
//! | `alias.example.com`            | CNAME `allowed.example.com`                    | 300 |
//! | `cname-to-blocked.example.com` | CNAME `ads.tracker.test`                       | 300 |
//! | `ads.tracker.test`             | A 192.0.2.66                                   | 300 |
//! | `big.example.com`              | 40 TXT of 200 bytes (~8.5 kB: truncated on UDP) | 300 |
//! | `mail.example.com`             | MX 10 `mx.example.com`                         | 300 |
//! | `mx.example.com`               | A 192.0.2.25                                   | 300 |
//! | `.`                            | SOA `ns.upstream.test. hostmaster.upstream.test. 1 3600 600 86400 60`, NS `ns.upstream.test` | 60 |
//! | `ns.upstream.test`             | A 127.0.0.1                                    | 300 |
//!
//! Negative answers (NXDOMAIN and NODATA) carry that SOA, whose TTL and
//! `minimum` are both 60, so their negative-caching TTL is 60 seconds.
//! A query for a CNAME owner with another type gets the whole chain in the
//! answer section (hickory chases CNAMEs inside the zone).

use std::iter;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hickory_proto::op::{Edns, Header, HeaderCounts, Message, Metadata, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::Server;
use hickory_server::net::NetError;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{
    AxfrPolicy, Catalog, MessageResponse, MessageResponseBuilder, ZoneType,
};
use tokio::net::{TcpListener, UdpSocket};
use tokio_rustls::rustls::ServerConfig;

use super::client::{Transport, fqdn};

/// How the upstream reacts to the queries it receives. Every query is counted
/// whatever the mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answer from the zone.
    Answer,
    /// Never answer: a black hole (the query is still counted).
    Silent,
    /// Answer every query with REFUSED.
    Refused,
    /// Answer every query with SERVFAIL.
    ServFail,
}

/// One query as the upstream saw it, in arrival order.
#[derive(Clone, Debug)]
pub struct SeenQuery {
    /// Query name, lowercase, without the trailing dot (`""` for the root).
    pub name: String,
    /// Query type.
    pub qtype: RecordType,
    /// Transport it came over.
    pub transport: Transport,
    /// Source address of the sender.
    pub src: SocketAddr,
    /// RD flag.
    pub recursion_desired: bool,
    /// CD flag.
    pub checking_disabled: bool,
    /// UDP payload size of the OPT record, `None` without EDNS.
    pub edns_payload: Option<u16>,
    /// DO flag of the OPT record.
    pub dnssec_ok: bool,
}

/// What the zone is made of before the server starts. Records take the TTL
/// set by the last [`Builder::ttl`] call (300 at first).
#[derive(Debug)]
pub struct Builder {
    records: Vec<Record>,
    ttl: u32,
    negative_ttl: u32,
    tls: Option<Arc<ServerConfig>>,
    https: Option<Arc<ServerConfig>>,
}

/// A running upstream server; dropping it stops the server too.
///
/// Truncation: hickory's own encoder would cut a UDP answer record by record
/// (TC=1 with a partial RRset, and no OPT record if it no longer fits). This
/// handler instead
/// encodes the full answer and, over UDP, if it is larger than the client's
/// limit (EDNS payload size, at least 512; 512 without EDNS), sends only the
/// header with TC=1, the question and the OPT record, like BIND and Unbound.
pub struct Upstream {
    addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    https_addr: Option<SocketAddr>,
    state: Arc<State>,
    server: Mutex<Option<Server<Counting>>>,
}

impl Upstream {
    /// An empty zone (only the root SOA and NS) to fill in.
    pub fn builder() -> Builder {
        Builder {
            records: Vec::new(),
            ttl: 300,
            negative_ttl: 60,
            tls: None,
            https: None,
        }
    }

    /// The standard zone described in the module docs, started.
    pub async fn standard() -> Upstream {
        Upstream::standard_builder().start().await
    }

    /// The standard zone described in the module docs, to add to.
    pub fn standard_builder() -> Builder {
        let mut builder = Upstream::builder()
            .a("allowed.example.com", "192.0.2.1")
            .aaaa("allowed.example.com", "2001:db8::1")
            .cname("alias.example.com", "allowed.example.com")
            .cname("cname-to-blocked.example.com", "ads.tracker.test")
            .a("ads.tracker.test", "192.0.2.66")
            .mx("mail.example.com", 10, "mx.example.com")
            .a("mx.example.com", "192.0.2.25");
        for i in 0..40 {
            builder = builder.txt("big.example.com", &big_txt(i));
        }
        builder.ttl(2).a("short.example.com", "192.0.2.2")
    }

    /// Where the server listens (UDP and TCP share this address).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Switches how the following queries are handled.
    pub fn set_mode(&self, mode: Mode) {
        *lock(&self.state.mode) = mode;
    }

    /// Queries received so far, both transports.
    pub fn queries(&self) -> u64 {
        self.state.total.load(Ordering::SeqCst)
    }

    /// Queries received over UDP.
    pub fn udp_queries(&self) -> u64 {
        self.state.udp.load(Ordering::SeqCst)
    }

    /// Queries received over TCP.
    pub fn tcp_queries(&self) -> u64 {
        self.state.tcp.load(Ordering::SeqCst)
    }

    /// Where DNS over TLS is served; panics unless built with [`Builder::tls`].
    pub fn tls_addr(&self) -> SocketAddr {
        self.tls_addr.expect("built with Builder::tls")
    }

    /// Where DNS over HTTPS is served (path `/dns-query`); panics unless
    /// built with [`Builder::https`].
    pub fn https_addr(&self) -> SocketAddr {
        self.https_addr.expect("built with Builder::https")
    }

    /// Queries received over TLS.
    pub fn tls_queries(&self) -> u64 {
        self.state.tls.load(Ordering::SeqCst)
    }

    /// Queries received over HTTPS.
    pub fn https_queries(&self) -> u64 {
        self.state.https.load(Ordering::SeqCst)
    }

    /// Queries received for `name` (any type; case and trailing dot ignored).
    pub fn queries_for(&self, name: &str) -> u64 {
        let name = normalize(name);
        let seen = lock(&self.state.seen);
        seen.iter().filter(|q| q.name == name).count() as u64
    }

    /// Queries received for `name` with type `qtype`.
    pub fn queries_for_type(&self, name: &str, qtype: RecordType) -> u64 {
        let name = normalize(name);
        let seen = lock(&self.state.seen);
        seen.iter()
            .filter(|q| q.name == name && q.qtype == qtype)
            .count() as u64
    }

    /// Every query received so far, oldest first.
    pub fn seen(&self) -> Vec<SeenQuery> {
        lock(&self.state.seen).clone()
    }

    /// Forgets every count and every seen query.
    pub fn reset_counts(&self) {
        let mut seen = lock(&self.state.seen);
        seen.clear();
        self.state.total.store(0, Ordering::SeqCst);
        self.state.udp.store(0, Ordering::SeqCst);
        self.state.tcp.store(0, Ordering::SeqCst);
        self.state.tls.store(0, Ordering::SeqCst);
        self.state.https.store(0, Ordering::SeqCst);
    }

    /// Shuts the server down and closes its sockets: afterwards UDP queries
    /// to [`Upstream::addr`] meet ICMP port unreachable and TCP connections
    /// are refused. Calling it twice is harmless.
    pub async fn stop(&self) {
        let server = lock(&self.server).take();
        if let Some(mut server) = server {
            let stopped =
                tokio::time::timeout(Duration::from_secs(5), server.shutdown_gracefully());
            match stopped.await {
                Ok(result) => result.expect("upstream server failed while stopping"),
                Err(_) => panic!("upstream server did not stop within 5 s"),
            }
        }
    }
}

impl Builder {
    /// TTL of the records added after this call.
    pub fn ttl(mut self, secs: u32) -> Self {
        self.ttl = secs;
        self
    }

    /// TTL and `minimum` of the root SOA, i.e. the negative-caching TTL (60 by default).
    pub fn negative_ttl(mut self, secs: u32) -> Self {
        self.negative_ttl = secs;
        self
    }

    /// Adds an A record.
    pub fn a(self, name: &str, addr: &str) -> Self {
        let addr: Ipv4Addr = addr
            .parse()
            .unwrap_or_else(|e| panic!("bad IPv4 address {addr:?}: {e}"));
        self.rdata(name, RData::A(A(addr)))
    }

    /// Adds an AAAA record.
    pub fn aaaa(self, name: &str, addr: &str) -> Self {
        let addr: Ipv6Addr = addr
            .parse()
            .unwrap_or_else(|e| panic!("bad IPv6 address {addr:?}: {e}"));
        self.rdata(name, RData::AAAA(AAAA(addr)))
    }

    /// Adds a CNAME record (one per name).
    pub fn cname(self, name: &str, target: &str) -> Self {
        self.rdata(name, RData::CNAME(CNAME(fqdn(target))))
    }

    /// Adds a TXT record holding one character-string (at most 255 bytes).
    pub fn txt(self, name: &str, text: &str) -> Self {
        assert!(text.len() <= 255, "a TXT string holds at most 255 bytes");
        self.rdata(name, RData::TXT(TXT::new(vec![text.to_owned()])))
    }

    /// Adds an MX record.
    pub fn mx(self, name: &str, preference: u16, exchange: &str) -> Self {
        self.rdata(name, RData::MX(MX::new(preference, fqdn(exchange))))
    }

    /// Serves DNS over TLS too, on a port of its own, with `config`.
    pub fn tls(mut self, config: Arc<ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Serves DNS over HTTPS too (HTTP/2, `/dns-query`), on a port of its
    /// own, with `config` (whose ALPN must offer `h2`).
    pub fn https(mut self, config: Arc<ServerConfig>) -> Self {
        self.https = Some(config);
        self
    }

    /// Adds any record as it is (its own TTL included).
    pub fn record(mut self, record: Record) -> Self {
        self.records.push(record);
        self
    }

    fn rdata(self, name: &str, rdata: RData) -> Self {
        let ttl = self.ttl;
        self.record(Record::from_rdata(fqdn(name), ttl, rdata))
    }

    /// Binds UDP and TCP on `127.0.0.1` (same port) and starts serving.
    pub async fn start(mut self) -> Upstream {
        let (tls, https) = (self.tls.take(), self.https.take());
        let catalog = self.catalog();
        let (udp, tcp) = bind_pair().await;
        let addr = udp.local_addr().expect("a bound socket has an address");

        let state = Arc::new(State {
            mode: Mutex::new(Mode::Answer),
            total: AtomicU64::new(0),
            udp: AtomicU64::new(0),
            tcp: AtomicU64::new(0),
            tls: AtomicU64::new(0),
            https: AtomicU64::new(0),
            seen: Mutex::new(Vec::new()),
        });
        let handler = Counting {
            catalog,
            state: state.clone(),
        };
        let mut server = Server::new(handler);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(10), 64);
        let mut tls_addr = None;
        if let Some(config) = tls {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .await
                .expect("bind TLS 127.0.0.1:0");
            tls_addr = Some(
                listener
                    .local_addr()
                    .expect("a bound socket has an address"),
            );
            server
                .register_tls_listener_with_tls_config(listener, Duration::from_secs(30), config)
                .expect("TLS listener");
        }
        let mut https_addr = None;
        if let Some(config) = https {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .await
                .expect("bind HTTPS 127.0.0.1:0");
            https_addr = Some(
                listener
                    .local_addr()
                    .expect("a bound socket has an address"),
            );
            server
                .register_https_listener_with_tls_config(
                    listener,
                    Duration::from_secs(30),
                    config,
                    None,
                    "/dns-query".to_owned(),
                )
                .expect("HTTPS listener");
        }

        Upstream {
            addr,
            tls_addr,
            https_addr,
            state,
            server: Mutex::new(Some(server)),
        }
    }

    fn catalog(self) -> Catalog {
        let origin = Name::root();
        let mut zone: InMemoryZoneHandler =
            InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
        let soa = SOA::new(
            fqdn("ns.upstream.test"),
            fqdn("hostmaster.upstream.test"),
            1,
            3600,
            600,
            86400,
            self.negative_ttl,
        );
        let ns = fqdn("ns.upstream.test");
        let serial = 1;
        let base = [
            Record::from_rdata(origin.clone(), self.negative_ttl, RData::SOA(soa)),
            Record::from_rdata(origin.clone(), self.negative_ttl, RData::NS(NS(ns.clone()))),
            Record::from_rdata(ns, 300, RData::A(A(Ipv4Addr::LOCALHOST))),
        ];
        for record in base.into_iter().chain(self.records) {
            let text = record.to_string();
            assert!(zone.upsert_mut(record, serial), "zone refused {text}");
        }

        let mut catalog = Catalog::new();
        catalog.upsert(origin.into(), vec![Arc::new(zone)]);
        catalog
    }
}

/// The `i`-th 200-byte TXT string of `big.example.com`.
pub fn big_txt(i: usize) -> String {
    let head = format!("big-{i:02}-");
    format!("{head}{}", "x".repeat(200 - head.len()))
}

/// Binds UDP on port 0 and TCP on the same port, retrying with a fresh UDP
/// port when TCP is taken.
async fn bind_pair() -> (UdpSocket, TcpListener) {
    let mut last_error = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind UDP 127.0.0.1:0");
        let addr = udp.local_addr().expect("a bound socket has an address");
        match TcpListener::bind(addr).await {
            Ok(tcp) => return (udp, tcp),
            Err(e) => last_error = Some(e),
        }
    }
    panic!("no port free for both UDP and TCP on 127.0.0.1: {last_error:?}");
}

struct State {
    mode: Mutex<Mode>,
    total: AtomicU64,
    udp: AtomicU64,
    tcp: AtomicU64,
    tls: AtomicU64,
    https: AtomicU64,
    seen: Mutex<Vec<SeenQuery>>,
}

impl State {
    fn record(&self, request: &Request) {
        self.total.fetch_add(1, Ordering::SeqCst);
        let transport = match request.protocol() {
            Protocol::Tcp => {
                self.tcp.fetch_add(1, Ordering::SeqCst);
                Transport::Tcp
            }
            // Both are streams: seen as TCP, counted apart.
            Protocol::Tls => {
                self.tls.fetch_add(1, Ordering::SeqCst);
                Transport::Tcp
            }
            Protocol::Https => {
                self.https.fetch_add(1, Ordering::SeqCst);
                Transport::Tcp
            }
            _ => {
                self.udp.fetch_add(1, Ordering::SeqCst);
                Transport::Udp
            }
        };
        let edns = request.edns.as_ref();
        for query in request.queries.queries() {
            let seen = SeenQuery {
                name: normalize(&query.name().to_string()),
                qtype: query.query_type(),
                transport,
                src: request.src(),
                recursion_desired: request.metadata.recursion_desired,
                checking_disabled: request.metadata.checking_disabled,
                edns_payload: edns.map(|e| e.max_payload()),
                dnssec_ok: edns.is_some_and(|e| e.flags().dnssec_ok),
            };
            lock(&self.seen).push(seen);
        }
    }
}

/// The request handler: counts, applies the mode, truncates UDP.
struct Counting {
    catalog: Catalog,
    state: Arc<State>,
}

#[async_trait::async_trait]
impl RequestHandler for Counting {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        self.state.record(request);
        let mode = *lock(&self.state.mode);
        let code = match mode {
            Mode::Answer => None,
            Mode::Silent => return not_sent(request, ResponseCode::NoError),
            Mode::Refused => Some(ResponseCode::Refused),
            Mode::ServFail => Some(ResponseCode::ServFail),
        };
        if let Some(code) = code {
            let edns = request.edns.as_ref().map(|_| answer_edns());
            let response = MessageResponseBuilder::new(&request.queries, edns.as_ref())
                .error_msg(&request.metadata, code);
            return send(&mut response_handle, response, request).await;
        }

        // Let the catalog answer into a capture, then send that answer ourselves.
        let capture = Capture::default();
        self.catalog
            .handle_request::<_, T>(request, capture.clone())
            .await;
        let Some((mut message, size)) = capture.take() else {
            return not_sent(request, ResponseCode::ServFail);
        };
        if request.protocol() == Protocol::Udp && size > udp_limit(request) {
            message.metadata.truncation = true;
            message.answers.clear();
            message.authorities.clear();
            message.additionals.clear();
        }
        let response = MessageResponseBuilder::new(&request.queries, message.edns.as_ref()).build(
            message.metadata,
            message.answers.iter(),
            message.authorities.iter(),
            iter::empty(),
            message.additionals.iter(),
        );
        send(&mut response_handle, response, request).await
    }
}

/// Largest UDP answer the client accepts.
fn udp_limit(request: &Request) -> usize {
    request
        .edns
        .as_ref()
        .map_or(512, |edns| usize::from(edns.max_payload().max(512)))
}

/// The OPT record of an error answer to a request that had one.
fn answer_edns() -> Edns {
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    edns
}

async fn send<'a, R: ResponseHandler>(
    handle: &mut R,
    response: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
    request: &Request,
) -> ResponseInfo {
    match handle.send_response(response).await {
        Ok(info) => info,
        Err(_) => not_sent(request, ResponseCode::ServFail),
    }
}

/// What the server logs for a request that got no answer on the wire.
fn not_sent(request: &Request, code: ResponseCode) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = code;
    ResponseInfo::from(Header {
        metadata,
        counts: HeaderCounts::default(),
    })
}

/// A response handler that keeps the encoded answer (decoded again, with its
/// untruncated size) instead of sending it.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Option<(Message, usize)>>>);

impl Capture {
    fn take(&self) -> Option<(Message, usize)> {
        lock(&self.0).take()
    }
}

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let mut bytes = Vec::with_capacity(512);
        let info = response.destructive_emit(&mut BinEncoder::new(&mut bytes))?;
        let message = Message::from_vec(&bytes)?;
        *lock(&self.0) = Some((message, bytes.len()));
        Ok(info)
    }
}

/// Lowercase, no trailing dot.
fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Locks a test mutex; a poisoned one means another test thread already
/// panicked, so carrying on with its data is fine.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
