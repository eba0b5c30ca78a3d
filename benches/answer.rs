//! What answering costs the server from a datagram's bytes to the answer's
//! bytes, as a UDP worker does it (`server::Handler::answer_now`: read the
//! query, decide, write the answer), for an A query with EDNS (as dig and
//! most stub resolvers send it):
//!
//! - `blocked`: a name on a list of 1,000 (answered 0.0.0.0 with an
//!   Extended DNS Error naming the list);
//! - `cached`: a name whose answer (a CNAME and an A record) is in the
//!   cache, asked in mixed case;
//! - `local`: a name of `[local] records`;
//! - `parse_query`: for scale, hickory decoding the same bytes into a
//!   `Request` (what answering used to start with).
//!
//! Before timing, each answer is decoded and checked, and the allocations
//! of 10,000 answers are counted (`dhat`'s counting allocator): blocked,
//! cached and local answers allocate nothing; the count is printed and a
//! non-zero one ends the run. No sockets but the upstream's: a thread on
//! loopback answers the one query that fills the cache. Telemetry is off
//! here; its cost is in `benches/telemetry.rs`.
//!
//! Run: `cargo bench --bench answer`.

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_server::net::xfer::Protocol as HickoryProtocol;
use hickory_server::server::Request;
use ralo::config::Config;
use ralo::exchange::SealedImage;
use ralo::image::{Image, ImageBuilder};
use ralo::resolve::Resolver;
use ralo::server::{Arrival, Handler, Moment, Now};
use ralo::vocab::{Admission, Protocol};

// Counts allocations while a `dhat` profiler runs; forwards to the system
// allocator otherwise.
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const LIST: &str = "hagezi-light";
const BLOCKED: &str = "pixel.a8fk3kdq7.com.";
const CACHED: &str = "WWW.Example.COM.";
const LOCAL: &str = "nas.home.arpa.";

/// An upstream on loopback that answers every A query with a CNAME and an
/// A record, TTL one hour.
fn upstream() -> SocketAddr {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the upstream");
    let addr = socket.local_addr().expect("upstream address");
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((len, from)) = socket.recv_from(&mut buf) {
            let Ok(query) = Message::from_vec(&buf[..len]) else {
                continue;
            };
            let mut answer = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
            answer.metadata.recursion_desired = true;
            answer.metadata.recursion_available = true;
            answer.queries = query.queries.clone();
            if let Some(q) = query.queries.first() {
                let target = Name::from_ascii("edge.cdn.example.net.").expect("name");
                answer.answers = vec![
                    Record::from_rdata(q.name().clone(), 3600, RData::CNAME(CNAME(target.clone()))),
                    Record::from_rdata(target, 3600, RData::A(A::new(192, 0, 2, 7))),
                ];
            }
            if let Ok(bytes) = answer.to_vec() {
                let _ = socket.send_to(&bytes, from);
            }
        }
    });
    addr
}

fn handler() -> Handler {
    let config = Config::parse(
        &format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n[upstream]\nservers = [\"{}\"]\n\
             [local.records]\n\"nas.home.arpa\" = [\"192.168.1.10\"]\n",
            upstream()
        ),
        "bench config",
        PathBuf::from("."),
    )
    .expect("bench config is valid");
    let mut builder = ImageBuilder::new();
    let list = builder.add_list(LIST, false);
    for i in 0..1000 {
        builder.add_rule(list, &format!("tracker{i}.example"), true, false);
    }
    builder.add_rule(list, BLOCKED.trim_end_matches('.'), true, false);
    let sealed = SealedImage::create(&builder.build(1), "ralo-bench").expect("sealed memfd");
    let image = Image::open(sealed.map().expect("mapping")).expect("image opens");
    Handler::new(Arc::new(Resolver::new(&config, image)), &config, None)
}

/// The query's bytes: `name` A, recursion desired, EDNS payload 1232.
fn query_bytes(name: &str) -> Vec<u8> {
    let mut message = Message::new(0x5a5a, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    let name = Name::from_ascii(name).expect("valid name");
    message.add_query(Query::query(name, RecordType::A));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    message.set_edns(edns);
    message.to_vec().expect("query encodes")
}

fn arrival() -> Arrival {
    Arrival {
        src: SocketAddr::from((Ipv4Addr::new(192, 168, 1, 20), 40_000)),
        protocol: Protocol::Udp,
        admission: Admission::Serve,
        received: Moment::now(),
    }
}

/// Answers `bytes` now, which must not need upstream.
fn answer(handler: &Handler, bytes: &[u8], out: &mut Vec<u8>) {
    // A UDP worker reads the clock once per batch of datagrams.
    thread_local! {
        static ARRIVAL: Arrival = arrival();
    }
    match handler.answer_now(bytes, ARRIVAL.with(|a| *a), out) {
        Now::Answered => {}
        other => panic!("not answered at once: {other:?}"),
    }
}

/// The allocations of 10,000 answers to `bytes`.
fn allocations(handler: &Handler, bytes: &[u8], out: &mut Vec<u8>) -> u64 {
    answer(handler, bytes, out);
    let profiler = dhat::Profiler::builder().testing().build();
    let before = dhat::HeapStats::get().total_blocks;
    for _ in 0..10_000 {
        answer(handler, bytes, out);
    }
    let after = dhat::HeapStats::get().total_blocks;
    drop(profiler);
    after - before
}

fn check(bytes: &[u8], want: &str, records: usize) {
    let message = Message::from_vec(bytes).expect("answer decodes");
    assert_eq!(message.metadata.id, 0x5a5a);
    assert_eq!(message.metadata.response_code, ResponseCode::NoError);
    assert_eq!(message.answers.len(), records, "{message:?}");
    assert_eq!(
        message.answers[0].name.to_ascii(),
        want,
        "owner keeps the case"
    );
}

fn answers(c: &mut Criterion) {
    let handler = handler();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cached = query_bytes(CACHED);
    runtime
        .block_on(handler.answer(&cached, arrival()))
        .expect("the upstream answers");
    let mut out = Vec::with_capacity(1232);
    let mut group = c.benchmark_group("answer");
    for (label, name, records) in [
        ("blocked", BLOCKED, 1),
        ("cached", CACHED, 2),
        ("local", LOCAL, 1),
    ] {
        let bytes = query_bytes(name);
        answer(&handler, &bytes, &mut out);
        check(&out, name, records);
        let allocated = allocations(&handler, &bytes, &mut out);
        println!("answer/{label}: {allocated} allocations in 10000 answers");
        assert_eq!(allocated, 0, "answering {label} allocates");
        group.bench_function(label, |b| {
            b.iter(|| answer(&handler, black_box(&bytes), &mut out))
        });
    }
    let bytes = query_bytes(BLOCKED);
    let client = SocketAddr::from((Ipv4Addr::LOCALHOST, 40_000));
    group.bench_function("parse_query", |b| {
        b.iter(|| Request::from_bytes(black_box(bytes.clone()), client, HickoryProtocol::Udp))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = answers
}
criterion_main!(benches);
