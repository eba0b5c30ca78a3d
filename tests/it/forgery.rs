//! Forgery resistance of the forwarder, against the scripted upstream
//! (`support::scripted`) over plain UDP:
//!
//! - a flood of forged answers aimed at ralo's upstream-facing sockets while
//!   real queries are in flight — the real ID and question from a wrong
//!   source port, random IDs, wrong questions, plus wrong-ID and
//!   wrong-question decoys from the upstream's own address — is never
//!   accepted: every client answer is the real one and [`FORGED`] never
//!   shows up;
//! - 100 identical client questions at once make one upstream query;
//! - the source ports and IDs of 10,000 upstream queries are spread (distinct
//!   ports counted, IDs checked with a chi-square test), and those 10,000
//!   forwarded queries finish quickly.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::net::UdpSocket;
use tokio::task::JoinSet;

use crate::ralo::Setup;
use crate::support::client::{Client, Transport, answers_a, fqdn, query};
use crate::support::scripted::{Decoy, FORGED, REAL, Script, Scripted};

/// Asks every name in `names` over one UDP socket, one at a time, and
/// returns the answers (`None` when none came within 3 s).
async fn lane(server: SocketAddr, names: Vec<String>) -> Vec<Option<Message>> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind a client socket");
    socket.connect(server).await.expect("connect");
    let mut buf = vec![0u8; 65_535];
    let mut answers = Vec::with_capacity(names.len());
    for name in names {
        let q = query(&name, RecordType::A);
        let id = q.metadata.id;
        socket
            .send(&q.to_vec().expect("encode"))
            .await
            .expect("send to ralo");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        let answer = loop {
            match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
                Ok(Ok(len)) => match Message::from_vec(&buf[..len]) {
                    Ok(m) if m.metadata.id == id => break Some(m),
                    _ => continue, // a late answer to an earlier question
                },
                Ok(Err(_)) | Err(_) => break None,
            }
        };
        answers.push(answer);
    }
    answers
}

/// Asks `count` distinct names `{prefix}-{i}.example` over `lanes`
/// concurrent client sockets.
async fn ask_many(
    server: SocketAddr,
    prefix: &str,
    count: usize,
    lanes: usize,
) -> Vec<Option<Message>> {
    let mut set = JoinSet::new();
    for l in 0..lanes {
        let names = (l..count)
            .step_by(lanes)
            .map(|i| format!("{prefix}-{i}.example"))
            .collect();
        set.spawn(lane(server, names));
    }
    set.join_all().await.into_iter().flatten().collect()
}

/// A forged answer to `name` with `id`, pointing at [`FORGED`].
fn forged(id: u16, name: &Name) -> Vec<u8> {
    let mut message = Message::new(id, MessageType::Response, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.metadata.recursion_available = true;
    message.metadata.response_code = ResponseCode::NoError;
    message.add_query(Query::query(name.clone(), RecordType::A));
    message.add_answer(Record::from_rdata(
        name.clone(),
        86_400,
        RData::A(A(FORGED)),
    ));
    message.to_vec().expect("a forgery encodes")
}

/// Until `stop`, sends forgeries at every upstream query the scripted
/// upstream records: to the query's source port on 127.0.0.1 from other
/// loopback sockets, with the real ID and question, with random IDs and
/// with a wrong question. Returns how many were sent.
async fn flood(up: Arc<Scripted>, stop: Arc<AtomicBool>, sent: Arc<AtomicU64>) {
    const PER_QUERY: usize = 30;
    let mut forgers = Vec::new();
    for _ in 0..4 {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind a forger socket");
        forgers.push(socket);
    }
    let wrong = fqdn("forged.invalid");
    let mut done = 0;
    while !stop.load(Ordering::SeqCst) {
        let received = up.received();
        for seen in &received[done..] {
            let target = SocketAddr::from((Ipv4Addr::LOCALHOST, seen.src.port()));
            let name = fqdn(&seen.name);
            for k in 0..PER_QUERY {
                let bytes = match k % 3 {
                    0 => forged(seen.id, &name),
                    1 => forged(rand::random(), &name),
                    _ => forged(seen.id, &wrong),
                };
                let forger = &forgers[k % forgers.len()];
                if forger.send_to(&bytes, target).await.is_ok() {
                    sent.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        done = received.len();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_answers_are_never_accepted() {
    // The delay keeps each upstream query in flight while the flood hits
    // its socket; the decoys come from the upstream's own address and port.
    let script = Script::answer()
        .delay(Duration::from_millis(100))
        .decoy(Decoy::WrongId)
        .decoy(Decoy::WrongQuestion);
    let up = Arc::new(Scripted::start(script).await);
    let ralo = Setup::new(up.addr()).start().await;

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let flooder = tokio::spawn(flood(up.clone(), stop.clone(), sent.clone()));
    const QUERIES: usize = 300;
    let answers = ask_many(ralo.addr, "real", QUERIES, 30).await;
    stop.store(true, Ordering::SeqCst);
    flooder.await.expect("the flood task");

    let mut accepted = 0;
    let mut real = 0;
    for answer in answers.iter().flatten() {
        let addrs = answers_a(answer);
        if addrs.contains(&FORGED) {
            accepted += 1;
        } else if addrs == [REAL] {
            real += 1;
        }
    }
    let sent = sent.load(Ordering::SeqCst);
    let decoys = 2 * up.count();
    println!(
        "forgery: {sent} forged datagrams from wrong ports + {decoys} decoys from the \
         upstream's port, {QUERIES} real queries: {accepted} forgeries accepted, {real} real answers"
    );
    assert_eq!(accepted, 0, "forged answers reached clients");
    assert_eq!(real, QUERIES, "every client got the real answer");
    assert!(sent >= 5_000, "the flood sent only {sent} datagrams");
    assert_eq!(
        up.count(),
        QUERIES,
        "one upstream query per question, no retries"
    );
    ralo.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_identical_questions_make_one_upstream_query() {
    let up = Scripted::start(Script::answer().delay(Duration::from_millis(300))).await;
    let ralo = Setup::new(up.addr()).start().await;
    let client = Client::new(ralo.addr);
    let mut set = JoinSet::new();
    for _ in 0..100 {
        set.spawn(async move {
            client
                .expect(&query("same.example", RecordType::A), Transport::Udp)
                .await
        });
    }
    let answers = set.join_all().await;
    assert!(answers.iter().all(|m| answers_a(m) == [REAL]));
    let upstream = up.count_for("same.example");
    println!(
        "coalescing: 100 identical questions -> {upstream} upstream query ({} coalesced)",
        ralo.resolver
            .forward_counters()
            .coalesced
            .load(Ordering::SeqCst)
    );
    assert_eq!(upstream, 1);
    ralo.stop().await;
}

/// Pearson's statistic of `ids` over 16 equal buckets (top 4 bits).
fn chi_square_16(ids: &[u16]) -> f64 {
    let mut buckets = [0u64; 16];
    for id in ids {
        buckets[usize::from(id >> 12)] += 1;
    }
    let expected = ids.len() as f64 / 16.0;
    buckets
        .iter()
        .map(|&o| (o as f64 - expected).powi(2) / expected)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_upstream_queries_spread_ports_and_ids_and_stay_fast() {
    let up = Scripted::start(Script::answer()).await;
    let ralo = Setup::new(up.addr()).start().await;
    const QUERIES: usize = 10_000;
    let started = Instant::now();
    let answers = ask_many(ralo.addr, "spread", QUERIES, 32).await;
    let took = started.elapsed();
    let answered = answers
        .iter()
        .flatten()
        .filter(|m| answers_a(m) == [REAL])
        .count();

    let received = up.received();
    let udp: Vec<_> = received
        .iter()
        .filter(|r| r.transport == Transport::Udp)
        .collect();
    let ports: HashSet<u16> = udp.iter().map(|r| r.src.port()).collect();
    let ids: Vec<u16> = udp.iter().map(|r| r.id).collect();
    let chi2 = chi_square_16(&ids);
    println!(
        "spread: {QUERIES} forwarded in {took:?} ({:.0}/s), {answered} answered; {} upstream \
         queries from {} distinct ports; ID chi-square {chi2:.1} (16 buckets, 15 dof, p=0.001 at 37.7)",
        QUERIES as f64 / took.as_secs_f64(),
        udp.len(),
        ports.len()
    );
    assert_eq!(answered, QUERIES, "every distinct name answered");
    assert!(udp.len() >= QUERIES, "{} upstream queries", udp.len());
    // Random ports from a ~28,000-port range: about 8,400 distinct expected.
    assert!(ports.len() >= 4_000, "only {} distinct ports", ports.len());
    assert!(chi2 < 40.0, "IDs unevenly spread: chi-square {chi2:.1}");
    assert!(
        took < Duration::from_secs(30),
        "10,000 forwarded queries took {took:?}"
    );
    ralo.stop().await;
}
