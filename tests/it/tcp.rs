//! TCP limits (RFC 7766): idle and trickling connections are closed, the
//! caps on connections per client and in total hold, pipelined queries are
//! answered with matching IDs, each as soon as it is ready, and a client
//! flooding connections does not keep other clients' UDP answers waiting.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::ralo::{Ralo, Setup};
use crate::support::client::{Client, QueryExt, query};
use crate::support::upstream::{Mode, Upstream};

/// Longest wait for anything in these tests.
const PATIENCE: Duration = Duration::from_secs(5);

/// A server closing idle connections after 1 s, with at most 4 connections
/// per client and 6 in all.
async fn server() -> (Upstream, Ralo) {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("ads", "||ads.example.com^\n", "")
        .server_keys("tcp_idle_secs = 1\ntcp_max_per_client = 4\ntcp_max_connections = 6")
        .start()
        .await;
    (up, ralo)
}

async fn connect_from(local: IpAddr, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(local, 0)).expect("bind");
    socket.connect(server).await.expect("connect")
}

fn frame(message: &Message) -> Vec<u8> {
    let bytes = message.to_vec().expect("encode");
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend(bytes);
    out
}

/// Reads one framed message, or `None` when the server closed first.
async fn read_frame(stream: &mut TcpStream) -> Option<Message> {
    let mut len = [0u8; 2];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut len))
        .await
        .expect("the server neither answers nor closes")
        .ok()?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut body).await.ok()?;
    Some(Message::from_vec(&body).expect("a DNS message"))
}

/// Asks one question on `stream`; `None` when the server closed instead.
async fn ask(stream: &mut TcpStream, name: &str) -> Option<Message> {
    stream
        .write_all(&frame(&query(name, RecordType::A)))
        .await
        .ok()?;
    read_frame(stream).await
}

/// How long until the server closes `stream`, which sends nothing more.
async fn closed_after(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 64];
    loop {
        match tokio::time::timeout(PATIENCE, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the connection stayed open past {PATIENCE:?}"),
        }
    }
}

#[tokio::test]
async fn an_idle_connection_is_closed() {
    let (_up, ralo) = server().await;
    let mut quiet = connect_from("127.0.0.1".parse().unwrap(), ralo.addr).await;
    let waited = closed_after(&mut quiet).await;
    println!("idle connection closed after {waited:?} (tcp_idle_secs = 1)");
    assert!(
        waited >= Duration::from_millis(900),
        "not before the idle time"
    );
    ralo.stop().await;
}

#[tokio::test]
async fn a_trickling_client_is_closed() {
    let (_up, ralo) = server().await;
    let mut slow = connect_from("127.0.0.1".parse().unwrap(), ralo.addr).await;
    let bytes = frame(&query("www.example.com", RecordType::A));
    // One byte every 300 ms: the whole message would take seconds.
    let started = Instant::now();
    let mut closed = false;
    for byte in bytes.iter().take(20) {
        if slow.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut probe = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(1), slow.read(&mut probe)).await
        {
            closed = true;
            break;
        }
    }
    println!("trickling client closed after {:?}", started.elapsed());
    assert!(closed, "a message trickled over 6 s is not waited for");
    ralo.stop().await;
}

#[tokio::test]
async fn one_client_gets_at_most_its_connections() {
    let (_up, ralo) = server().await;
    let me: IpAddr = "127.0.0.1".parse().unwrap();
    let mut open = Vec::new();
    for _ in 0..4 {
        let mut stream = connect_from(me, ralo.addr).await;
        assert!(ask(&mut stream, "ads.example.com").await.is_some());
        open.push(stream);
    }
    let mut fifth = connect_from(me, ralo.addr).await;
    assert!(
        ask(&mut fifth, "ads.example.com").await.is_none(),
        "the fifth connection from one address is closed unanswered"
    );
    // Another address is not affected.
    let mut other = connect_from("127.0.0.2".parse().unwrap(), ralo.addr).await;
    assert!(ask(&mut other, "ads.example.com").await.is_some());
    // A closed connection frees its place.
    drop(open.pop());
    let mut again = None;
    for _ in 0..50 {
        let mut stream = connect_from(me, ralo.addr).await;
        if ask(&mut stream, "ads.example.com").await.is_some() {
            again = Some(stream);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "a place is free again once one closed");
    ralo.stop().await;
}

#[tokio::test]
async fn the_total_cap_holds_across_clients() {
    let (_up, ralo) = server().await;
    let mut open = Vec::new();
    for i in 1..=6u8 {
        let mut stream = connect_from(IpAddr::from([127, 0, 1, i]), ralo.addr).await;
        assert!(ask(&mut stream, "ads.example.com").await.is_some());
        open.push(stream);
    }
    let mut seventh = connect_from("127.0.1.7".parse().unwrap(), ralo.addr).await;
    assert!(ask(&mut seventh, "ads.example.com").await.is_none());
    ralo.stop().await;
}

#[tokio::test]
async fn pipelined_queries_get_answers_with_their_ids() {
    let (up, ralo) = server().await;
    let mut stream = connect_from("127.0.0.1".parse().unwrap(), ralo.addr).await;
    let names = [
        "ads.example.com",
        "www.example.com",
        "missing.example.com",
        "sub.ads.example.com",
        "example.com",
    ];
    let mut asked = HashMap::new();
    let mut burst = Vec::new();
    for round in 0..4u16 {
        for (i, name) in names.iter().enumerate() {
            let id = 1000 + round * 10 + i as u16;
            asked.insert(id, *name);
            burst.extend(frame(&query(name, RecordType::A).with_id(id)));
        }
    }
    // All 20 queries in one write, before reading anything.
    stream.write_all(&burst).await.expect("write");
    let mut answered = 0;
    while !asked.is_empty() {
        let answer = read_frame(&mut stream).await.expect("an answer per query");
        let id = answer.metadata.id;
        let name = asked
            .remove(&id)
            .unwrap_or_else(|| panic!("answer with unknown ID {id}"));
        let question = answer.queries[0].name().to_ascii();
        assert_eq!(
            question.trim_end_matches('.'),
            name,
            "answer {id} is for its own question"
        );
        answered += 1;
    }
    println!("pipelined: {answered} queries in one write, {answered} answers with matching IDs");
    assert!(up.queries() >= 1);
    ralo.stop().await;
}

#[tokio::test]
async fn a_pipelined_answer_does_not_wait_for_a_slow_one_before_it() {
    let (up, ralo) = server().await;
    up.set_mode(Mode::Silent);
    let mut stream = connect_from("127.0.0.1".parse().unwrap(), ralo.addr).await;
    let slow = query("www.example.com", RecordType::A).with_id(1);
    let blocked = query("ads.example.com", RecordType::A).with_id(2);
    let mut burst = frame(&slow);
    burst.extend(frame(&blocked));
    stream.write_all(&burst).await.expect("write");
    // The slow one waits for the upstream deadline (1.5 s) and SERVFAIL;
    // the blocked one, sent after it, is answered first.
    let first = read_frame(&mut stream).await.expect("an answer");
    assert_eq!(first.metadata.id, 2, "the blocked answer comes first");
    let second = read_frame(&mut stream)
        .await
        .expect("the slow one's answer");
    assert_eq!(second.metadata.id, 1);
    ralo.stop().await;
}

#[tokio::test]
async fn a_connection_flood_does_not_hold_up_udp() {
    let (_up, ralo) = server().await;
    let flooder: IpAddr = "127.0.2.1".parse().unwrap();
    let addr = ralo.addr;
    let flood = tokio::spawn(async move {
        let mut held = Vec::new();
        let mut refused = 0;
        // Far more than the caps: most are closed at once.
        for _ in 0..400 {
            match tokio::time::timeout(PATIENCE, connect_from_ok(flooder, addr)).await {
                Ok(Some(stream)) => held.push(stream),
                _ => refused += 1,
            }
        }
        (held, refused)
    });
    let client = Client::new(ralo.addr);
    let mut worst = Duration::ZERO;
    let mut latencies = Vec::new();
    for i in 0..200 {
        let started = Instant::now();
        let name = if i % 2 == 0 {
            "ads.example.com"
        } else {
            "www.example.com"
        };
        client.udp(name, RecordType::A).await;
        let took = started.elapsed();
        worst = worst.max(took);
        latencies.push(took);
    }
    let (held, failed) = flood.await.expect("flood task");
    // Which of the flood's connections did the server keep open?
    let mut kept = 0;
    for mut stream in held {
        let mut probe = [0u8; 1];
        if tokio::time::timeout(Duration::from_millis(200), stream.read(&mut probe))
            .await
            .is_err()
        {
            kept += 1;
        }
    }
    latencies.sort();
    println!(
        "UDP during a flood of 400 TCP connections from one address ({kept} kept open by the server, {failed} failed to connect): p50 {:?}, max {worst:?}",
        latencies[latencies.len() / 2]
    );
    assert!(
        kept <= 4,
        "the flooder keeps no more than its 4 connections"
    );
    assert!(
        worst < PATIENCE,
        "every UDP query was answered while the flood went on"
    );
    ralo.stop().await;
}

async fn connect_from_ok(local: IpAddr, server: SocketAddr) -> Option<TcpStream> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.bind(SocketAddr::new(local, 0)).ok()?;
    socket.connect(server).await.ok()
}
