//! What answering a blocked name costs the server, from a parsed query to
//! the bytes of the answer, on the general path (`server/handler.rs`,
//! `resolve/block.rs`) and on the UDP fast path (`server/fast.rs`), for an
//! A query with EDNS (as dig and most stub resolvers send it) for a listed
//! name.
//!
//! - `block_answer`: `Blocker::answer` alone, the answer's records and its
//!   Extended DNS Error text;
//! - `handle/udp`: `server::Handler::handle_request`, the whole chain for the
//!   query (access, local names, canaries, image lookup, blocked answer)
//!   and the response written into bytes as hickory's UDP response handle
//!   writes them, including the server's check that the answer fits the
//!   client's UDP size;
//! - `handle/tcp`: the same over TCP, where no size check is made;
//! - `parse_query`: hickory decoding the query bytes into a `Request`,
//!   which it does before the handler runs;
//! - `fast_path`: what a UDP worker does instead for a plain query
//!   (`server::fast_answer`): from the datagram's bytes straight to the
//!   answer's bytes, with no hickory message and no allocation.
//!
//! No sockets: the handler's response goes to a `server::Capture`, which
//! encodes it as the server does and keeps the bytes; the blocked path never
//! waits, so its future is polled once. Telemetry is off here; its cost is
//! in `benches/telemetry.rs`. Before timing, the bytes are decoded and
//! checked: NOERROR, one A record 0.0.0.0, EDE 15 naming the list.
//!
//! Run: `cargo bench --bench blocked_answer`.

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseInfo};
use ralo::config::{Config, Mode};
use ralo::exchange::SealedImage;
use ralo::image::{Image, ImageBuilder};
use ralo::resolve::Resolver;
use ralo::resolve::block::Blocker;
use ralo::server::{Capture, Handler};

/// The listed name the query asks for.
const BLOCKED: &str = "pixel.a8fk3kdq7.com.";
/// The list it is on.
const LIST: &str = "hagezi-light";

/// A resolver whose image lists `BLOCKED` (and its subdomains) on `LIST`.
fn resolver() -> Arc<Resolver> {
    let config = Config::parse(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[upstream]\nservers = [\"127.0.0.1:9\"]\n",
        "bench config",
        PathBuf::from("."),
    )
    .expect("bench config is valid");
    let mut builder = ImageBuilder::new();
    let list = builder.add_list(LIST, false);
    builder.add_rule(list, BLOCKED.trim_end_matches('.'), true, false);
    let sealed = SealedImage::create(&builder.build(1), "ralo-bench").expect("sealed memfd");
    let image = Image::open(sealed.map().expect("mapping")).expect("image opens");
    Arc::new(Resolver::new(&config, image))
}

/// The query's bytes: `BLOCKED` A, recursion desired, EDNS payload 1232.
fn query_bytes() -> Vec<u8> {
    let mut message = Message::new(0x5a5a, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    let name = Name::from_ascii(BLOCKED).expect("valid name");
    message.add_query(Query::query(name, RecordType::A));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    message.set_edns(edns);
    message.to_vec().expect("query encodes")
}

fn request(protocol: Protocol) -> Request {
    let client = SocketAddr::from((Ipv4Addr::new(192, 168, 1, 20), 40_000));
    Request::from_bytes(query_bytes(), client, protocol).expect("query decodes")
}

/// Runs the handler once; the blocked path completes without waiting.
fn handle(handler: &Handler, request: &Request, capture: &Capture) -> ResponseInfo {
    handler
        .handle_request::<_, TokioTime>(request, capture.handler())
        .now_or_never()
        .expect("the blocked path does not wait")
}

/// Decodes an answer and checks it is the blocked answer for `BLOCKED`.
fn check(bytes: &[u8]) {
    let message = Message::from_vec(bytes).expect("answer decodes");
    assert_eq!(message.metadata.id, 0x5a5a);
    assert_eq!(message.metadata.response_code, ResponseCode::NoError);
    assert_eq!(message.answers.len(), 1, "{message:?}");
    assert_eq!(message.answers[0].data, RData::A(A(Ipv4Addr::UNSPECIFIED)));
    let edns = message.edns.as_ref().expect("answer has EDNS");
    let ede = edns
        .options()
        .options
        .iter()
        .find_map(|(_, option)| match option {
            EdnsOption::Unknown(15, data) if data.len() >= 2 => Some(data.clone()),
            _ => None,
        });
    let ede = ede.expect("answer has an Extended DNS Error");
    assert_eq!(u16::from_be_bytes([ede[0], ede[1]]), 15);
    assert!(String::from_utf8_lossy(&ede[2..]).contains(LIST));
}

fn blocked_answer(c: &mut Criterion) {
    let resolver = resolver();
    let handler = Handler::new(resolver.clone());
    let name = Name::from_ascii(BLOCKED).expect("valid name");
    let blocker = Blocker::new(Mode::Null, 10);

    let mut group = c.benchmark_group("blocked_answer");
    group.bench_function("block_answer", |b| {
        b.iter(|| blocker.answer(black_box(&name), RecordType::A, black_box(LIST)))
    });
    for (label, protocol) in [("handle/udp", Protocol::Udp), ("handle/tcp", Protocol::Tcp)] {
        let request = request(protocol);
        let capture = Capture::new(protocol == Protocol::Udp);
        handle(&handler, &request, &capture);
        check(&capture.take().expect("the handler answers"));
        group.bench_function(label, |b| {
            b.iter(|| handle(&handler, black_box(&request), &capture))
        });
    }
    let bytes = query_bytes();
    let client_ip = Ipv4Addr::new(192, 168, 1, 20).into();
    let mut out = Vec::with_capacity(1232);
    assert!(ralo::server::fast_answer(
        &resolver, &bytes, client_ip, &mut out
    ));
    check(&out);
    group.bench_function("fast_path", |b| {
        b.iter(|| ralo::server::fast_answer(&resolver, black_box(&bytes), client_ip, &mut out))
    });
    let client = SocketAddr::from((Ipv4Addr::LOCALHOST, 40_000));
    group.bench_function("parse_query", |b| {
        b.iter(|| Request::from_bytes(black_box(bytes.clone()), client, Protocol::Udp))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = blocked_answer
}
criterion_main!(benches);
