//! Target (a): the bytes of one client datagram or TCP message → the
//! server's [`Handler`] → the response bytes, checked by a round-trip
//! oracle.
//!
//! The handler's gate: fewer than 12 bytes and responses (QR=1, even
//! malformed ones) are dropped; a message whose header reads but whose body
//! does not gets FORMERR with no question. One renderer writes both
//! transports, so a UDP answer that was not truncated is the TCP answer
//! byte for byte.
//!
//! The [`Resolver`] behind the handler is built once: a small image with
//! blocked and allowed names, local records, the default cache, and no
//! upstream at all, so a question that reaches the forwarder fails at once
//! (SERVFAIL) instead of costing a socket and a timeout per input.
//!
//! Every input is served twice, as UDP and as TCP. Bit 0 of the query ID's
//! second byte picks the client: on loopback (answered) or outside
//! `[access] allow` (REFUSED).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use hickory_proto::op::{Header, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use crate::config::Config;
use crate::exchange::SealedImage;
use crate::image::{Image, ImageBuilder};
use crate::resolve::Resolver;
use crate::server::{Arrival, Handler, Moment};
use crate::vocab::{Admission, Protocol};

/// The config of the resolver under test; its upstream is removed after
/// parsing.
const CONFIG: &str = r#"
[server]
listen = ["127.0.0.1:0"]

[upstream]
servers = ["127.0.0.1:9"]

[local.records]
"nas.home.arpa" = ["192.168.1.10", "fd00::10"]
"printer.lan.example" = ["192.168.1.20"]
"#;

/// A client the default `[access] allow` answers.
const INSIDE: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40_000);
/// A client outside it (TEST-NET-3; nothing is ever sent there).
const OUTSIDE: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)), 40_000);
/// The largest EDNS payload ralo answers with (`server/render.rs`).
const MAX_PAYLOAD: usize = 1232;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    handler: Handler,
}

/// Serves `data` as one client message over UDP and over TCP and checks
/// each response. Panics when the oracle is broken:
///
/// - nothing is answered to fewer than 12 bytes or to QR=1;
/// - anything else gets exactly one response, which decodes as a DNS
///   message with QR=1, the query's ID and opcode;
/// - when the query decodes with one question, the response carries that
///   question byte for byte (case included), type and class; otherwise it
///   is a bare FORMERR;
/// - a UDP response fits 512 bytes, or 1232 when the query had EDNS.
pub fn client_query(data: &[u8]) {
    let fixture = fixture();
    let client = match data.get(1) {
        Some(byte) if byte & 1 == 1 => OUTSIDE,
        _ => INSIDE,
    };
    let mut answers = Vec::new();
    for protocol in [Protocol::Udp, Protocol::Tcp] {
        let arrival = Arrival {
            src: client,
            protocol,
            admission: Admission::Serve,
            received: Moment::now(),
        };
        let sent: Vec<Vec<u8>> = fixture
            .runtime
            .block_on(fixture.handler.answer(data, arrival))
            .into_iter()
            .collect();
        check(data, protocol, &sent);
        answers.push(sent);
    }
    if let ([udp], [tcp]) = (&answers[0][..], &answers[1][..])
        && udp[2] & 0x02 == 0
    {
        assert_eq!(udp, tcp, "an answer that fits is the same over UDP and TCP");
    }
}

/// The oracle for one query and the responses it got.
fn check(query: &[u8], protocol: Protocol, sent: &[Vec<u8>]) {
    let Ok(header) = Header::read(&mut BinDecoder::new(query)) else {
        assert!(sent.is_empty(), "answered a message shorter than a header");
        return;
    };
    if header.metadata.message_type == MessageType::Response {
        assert!(sent.is_empty(), "answered a response (QR=1)");
        return;
    }
    assert_eq!(sent.len(), 1, "a query gets exactly one response");
    let bytes = &sent[0];
    let response = Message::from_vec(bytes)
        .unwrap_or_else(|e| panic!("the response does not decode: {e}\n{bytes:02x?}"));
    let meta = &response.metadata;
    assert_eq!(meta.message_type, MessageType::Response, "QR=1");
    assert_eq!(meta.id, header.metadata.id, "the query's ID");

    assert_eq!(meta.op_code, header.metadata.op_code, "the query's opcode");
    let request = Message::from_vec(query).ok();
    match request.as_ref().map(|r| r.queries.as_slice()) {
        Some([asked]) => {
            let [echoed] = response.queries.as_slice() else {
                panic!(
                    "one question asked, {} echoed (rcode {})",
                    response.queries.len(),
                    meta.response_code
                );
            };
            assert!(
                echoed.name().iter().eq(asked.name().iter()),
                "the question's name is echoed byte for byte: {} vs {}",
                echoed.name(),
                asked.name()
            );
            assert_eq!(echoed.query_type(), asked.query_type());
            assert_eq!(echoed.query_class(), asked.query_class());
        }
        _ => {
            assert!(response.queries.is_empty(), "no question to echo");
            if header.metadata.op_code == OpCode::Query {
                assert_eq!(
                    meta.response_code,
                    ResponseCode::FormErr,
                    "not one question"
                );
            }
        }
    }
    if protocol == Protocol::Udp {
        let edns = request.as_ref().is_some_and(|r| r.edns.is_some());
        let limit = if edns { MAX_PAYLOAD } else { 512 };
        assert!(
            bytes.len() <= limit,
            "a UDP response of {} bytes, over {limit}",
            bytes.len()
        );
    }
    if header.metadata.op_code != OpCode::Query && request.is_some() {
        assert_eq!(meta.response_code, ResponseCode::NotImp);
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // Setup failures end the run: there is nothing to fuzz without it.
        let mut config = Config::parse(CONFIG, "client_query fixture", PathBuf::from("/"))
            .unwrap_or_else(|e| panic!("fixture config: {e}"));
        config.upstream.servers.clear();
        let sealed = SealedImage::create(&fixture_image(), "fuzz-image")
            .unwrap_or_else(|e| panic!("fixture image: {e}"));
        let mapping = sealed.map().unwrap_or_else(|e| panic!("fixture map: {e}"));
        let image = Image::open(mapping).unwrap_or_else(|e| panic!("fixture open: {e}"));
        let resolver = Arc::new(Resolver::new(&config, image));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("fixture runtime: {e}"));
        Fixture {
            runtime,
            handler: Handler::new(resolver, &config, None),
        }
    })
}

/// Blocked: `ads.example` and below, `tracker.example` exactly,
/// `doubleclick.net` and below; allowed: `ok.ads.example`.
fn fixture_image() -> Vec<u8> {
    let mut builder = ImageBuilder::new();
    let ads = builder.add_list("ads", false);
    builder.add_rule(ads, "ads.example", true, false);
    builder.add_rule(ads, "tracker.example", false, false);
    builder.add_rule(ads, "doubleclick.net", true, false);
    let mine = builder.add_list("mine", true);
    builder.add_rule(mine, "ok.ads.example", false, true);
    builder.build(1)
}
