//! Forwarding and caching: the upstream's answer with the client's ID and
//! question, cache hits that never reach upstream, negative caching,
//! failover, SERVFAIL within the bound, serve-stale, TCP on truncation,
//! one upstream query for identical questions, access control.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::ralo::Setup;
use crate::support::client::{Client, QueryExt, Transport, answers_a, answers_txt, ede, query};
use crate::support::upstream::{Mode, Upstream};

/// A loopback UDP port with nothing listening (bound, then released).
fn dead_addr() -> SocketAddr {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.local_addr().expect("addr")
}

#[tokio::test]
async fn allowed_name_gets_upstream_answer_with_client_id_and_question() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr()).start().await;
    let client = Client::new(ralo.addr);
    let q = query("Allowed.EXAMPLE.com", RecordType::A).with_id(4242);
    let msg = client.expect(&q, Transport::Udp).await;
    assert_eq!(msg.metadata.id, 4242);
    assert_eq!(msg.queries[0].name().to_ascii(), "Allowed.EXAMPLE.com.");
    assert_eq!(answers_a(&msg), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    assert!(msg.metadata.recursion_available);
    assert!(msg.metadata.recursion_desired);
    let tcp = client.tcp("allowed.example.com", RecordType::AAAA).await;
    assert_eq!(tcp.answers.len(), 1);
    ralo.stop().await;
}

#[tokio::test]
async fn cache_hit_does_not_reach_upstream_and_counts_ttl_down() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr()).start().await;
    let client = Client::new(ralo.addr);
    let first = client.udp("allowed.example.com", RecordType::A).await;
    assert_eq!(first.answers[0].ttl, 300);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = client.udp("allowed.example.com", RecordType::A).await;
    let third = client.tcp("ALLOWED.example.com", RecordType::A).await;
    assert_eq!(answers_a(&second), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    assert_eq!(answers_a(&third), answers_a(&second));
    assert!(
        second.answers[0].ttl < 300,
        "TTL counted down: {}",
        second.answers[0].ttl
    );
    assert_eq!(
        up.queries_for("allowed.example.com"),
        1,
        "one upstream query, then cache hits"
    );
    ralo.stop().await;
}

#[tokio::test]
async fn negative_answers_are_cached() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr()).start().await;
    let client = Client::new(ralo.addr);
    for _ in 0..3 {
        let msg = client.udp("missing.example.com", RecordType::A).await;
        assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
        assert!(!msg.authorities.is_empty(), "SOA passed on");
        let nodata = client.udp("allowed.example.com", RecordType::MX).await;
        assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
        assert!(nodata.answers.is_empty());
    }
    assert_eq!(up.queries_for("missing.example.com"), 1);
    assert_eq!(
        up.queries_for_type("allowed.example.com", RecordType::MX),
        1
    );
    ralo.stop().await;
}

#[tokio::test]
async fn dead_upstream_gives_servfail_within_bound_then_stale_for_cached_name() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr()).start().await;
    let client = Client::new(ralo.addr);
    let fresh = client.udp("short.example.com", RecordType::A).await;
    assert_eq!(answers_a(&fresh), vec![Ipv4Addr::new(192, 0, 2, 2)]);
    up.set_mode(Mode::Silent);
    let started = Instant::now();
    let failed = client.udp("allowed.example.com", RecordType::A).await;
    let took = started.elapsed();
    assert_eq!(failed.metadata.response_code, ResponseCode::ServFail);
    assert!(took < Duration::from_millis(2500), "SERVFAIL took {took:?}");
    assert!(
        up.queries_for("allowed.example.com") <= 3,
        "at most 3 tries"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await; // short.example.com (TTL 2) expires
    let stale = client.udp("short.example.com", RecordType::A).await;
    assert_eq!(stale.metadata.response_code, ResponseCode::NoError);
    assert_eq!(answers_a(&stale), vec![Ipv4Addr::new(192, 0, 2, 2)]);
    assert_eq!(stale.answers[0].ttl, 30, "stale answers carry TTL 30");
    assert_eq!(ede(&stale).map(|e| e.0), Some(3), "EDE 3 Stale Answer");
    up.set_mode(Mode::Answer);
    let recovered = client.udp("allowed.example.com", RecordType::A).await;
    assert_eq!(
        answers_a(&recovered),
        vec![Ipv4Addr::new(192, 0, 2, 1)],
        "recovers without a restart"
    );
    ralo.stop().await;
}

#[tokio::test]
async fn failover_to_next_upstream() {
    let up = Upstream::standard().await;
    let silent = Upstream::standard().await;
    silent.set_mode(Mode::Silent);
    let refusing = Upstream::standard().await;
    refusing.set_mode(Mode::Refused);
    for first in [dead_addr(), silent.addr(), refusing.addr()] {
        let ralo = Setup::new(up.addr())
            .upstreams(&[first, up.addr()])
            .start()
            .await;
        let msg = Client::new(ralo.addr)
            .udp("allowed.example.com", RecordType::A)
            .await;
        assert_eq!(
            answers_a(&msg),
            vec![Ipv4Addr::new(192, 0, 2, 1)],
            "first upstream {first}"
        );
        ralo.stop().await;
    }
}

#[tokio::test]
async fn truncated_upstream_answer_is_retried_over_tcp() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr()).start().await;
    let client = Client::new(ralo.addr);
    let tcp = client.tcp("big.example.com", RecordType::TXT).await;
    assert_eq!(answers_txt(&tcp).len(), 40, "full answer over TCP");
    assert!(up.tcp_queries() >= 1, "ralo asked upstream over TCP");
    let udp = client
        .expect(
            &query("big.example.com", RecordType::TXT).without_edns(),
            Transport::Udp,
        )
        .await;
    assert!(udp.metadata.truncation, "a 512-byte client gets TC=1");
    assert!(
        udp.answers.is_empty(),
        "no partial RRset in a truncated answer"
    );
    ralo.stop().await;
}

#[tokio::test]
async fn identical_questions_in_flight_share_one_upstream_query() {
    let up = Upstream::standard().await;
    up.set_mode(Mode::Silent);
    let ralo = Setup::new(up.addr()).start_with("").await;
    let client = Client::new(ralo.addr).with_timeout(Duration::from_secs(5));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        tasks.spawn(async move { client.udp("allowed.example.com", RecordType::A).await });
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    up.set_mode(Mode::Answer);
    let mut answered = 0;
    while let Some(result) = tasks.join_next().await {
        let msg = result.expect("task");
        assert!(matches!(
            msg.metadata.response_code,
            ResponseCode::NoError | ResponseCode::ServFail
        ));
        answered += 1;
    }
    assert_eq!(answered, 100);
    // The first try went unanswered (silent); the retry after the try
    // timeout was answered. 100 client questions, one flight of tries.
    assert!(
        up.queries_for("allowed.example.com") <= 3,
        "{} upstream queries",
        up.queries_for("allowed.example.com")
    );
    assert!(
        ralo.resolver
            .forward_counters()
            .coalesced
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 99
    );
    ralo.stop().await;
}

#[tokio::test]
async fn client_outside_allowed_networks_is_refused() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .start_with("[access]\nallow = [\"10.0.0.0/8\"]\n")
        .await;
    let client = Client::new(ralo.addr);
    let udp = client.udp("allowed.example.com", RecordType::A).await;
    assert_eq!(udp.metadata.response_code, ResponseCode::Refused);
    let tcp = client.tcp("allowed.example.com", RecordType::A).await;
    assert_eq!(tcp.metadata.response_code, ResponseCode::Refused);
    assert_eq!(up.queries(), 0);
    ralo.stop().await;

    let ralo = Setup::new(up.addr())
        .start_with("[access]\nallow = [\"127.0.0.2/32\"]\n")
        .await;
    let client = Client::new(ralo.addr);
    let from_allowed = client
        .udp_from(
            "127.0.0.2".parse().unwrap(),
            "allowed.example.com",
            RecordType::A,
        )
        .await;
    assert_eq!(
        from_allowed.map(|m| answers_a(&m)),
        Some(vec![Ipv4Addr::new(192, 0, 2, 1)])
    );
    let from_other = client.udp("allowed.example.com", RecordType::A).await;
    assert_eq!(from_other.metadata.response_code, ResponseCode::Refused);
    ralo.stop().await;
}

#[tokio::test]
async fn dnssec_ok_and_cd_reach_upstream_and_edns_is_answered() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr()).start().await;
    let client = Client::new(ralo.addr);
    let msg = client
        .expect(
            &query("allowed.example.com", RecordType::A)
                .with_dnssec_ok()
                .with_cd(),
            Transport::Udp,
        )
        .await;
    assert!(msg.metadata.checking_disabled);
    let edns = msg.edns.as_ref().expect("EDNS answered with EDNS");
    assert!(edns.flags().dnssec_ok);
    let seen = up.seen();
    let last = seen.last().expect("upstream saw the query");
    assert!(last.dnssec_ok && last.checking_disabled, "{last:?}");
    let plain = client
        .expect(
            &query("allowed.example.com", RecordType::A).without_edns(),
            Transport::Udp,
        )
        .await;
    assert!(plain.edns.is_none(), "no EDNS in, no EDNS out");
    ralo.stop().await;
}
