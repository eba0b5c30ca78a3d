//! Upstream faults, played by the scripted upstream (`support::scripted`):
//! black hole, closed port, REFUSED, SERVFAIL, slow, lossy, truncated,
//! oversize, wrong ID, wrong question, and a malformed datagram just before
//! the real answer.
//!
//! Throughout, blocked and cached names are still answered, no client
//! question costs more than 3 upstream tries (counted at the upstream), a
//! failure is a SERVFAIL within the 2.5 s bound, and service comes back
//! without a restart. The harness config is `timeout_ms = 400`,
//! `deadline_ms = 1500`, `max_tries` at its default of 3.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::ralo::{Ralo, Setup};
use crate::support::client::{Client, QueryExt, Transport, answers_a, query};
use crate::support::scripted::{Decoy, FORGED, OVERSIZE_RECORDS, REAL, Reply, Script, Scripted};

/// The bound the issue sets on a SERVFAIL when every upstream is dead.
const SERVFAIL_BOUND: Duration = Duration::from_millis(2500);
/// Most upstream tries one client question may cost.
const MAX_TRIES: usize = 3;

/// A ralo forwarding to `upstreams`, blocking `tracker.test`.
async fn start(upstreams: &[SocketAddr]) -> Ralo {
    Setup::new(upstreams[0])
        .upstreams(upstreams)
        .list("ads", "||tracker.test^\n", "")
        .start()
        .await
}

/// A loopback UDP and TCP port with nothing listening (bound, then released):
/// UDP meets ICMP port unreachable.
fn closed_addr() -> SocketAddr {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.local_addr().expect("addr")
}

/// Asks `cached.example` once so it sits in ralo's cache.
async fn prime(client: &Client) {
    let msg = client.udp("cached.example", RecordType::A).await;
    assert_eq!(answers_a(&msg), vec![REAL], "priming the cache");
}

/// A blocked and a cached name are answered, each well within the upstream
/// timeout (they never wait for an upstream).
async fn local_answers_hold(client: &Client) {
    let fast = client.with_timeout(Duration::from_millis(300));
    let blocked = fast.udp("ads.tracker.test", RecordType::A).await;
    assert_eq!(
        answers_a(&blocked),
        vec![Ipv4Addr::UNSPECIFIED],
        "blocked name"
    );
    let cached = fast.udp("cached.example", RecordType::A).await;
    assert_eq!(answers_a(&cached), vec![REAL], "cached name");
}

/// Asks `name`, returning the answer and how long it took.
async fn ask(client: &Client, name: &str) -> (Message, Duration) {
    let started = Instant::now();
    let msg = client.udp(name, RecordType::A).await;
    (msg, started.elapsed())
}

fn assert_not_forged(msg: &Message) {
    assert!(
        !answers_a(msg).contains(&FORGED),
        "a decoy answer reached the client: {msg:?}"
    );
}

/// One upstream failing with `script`: SERVFAIL within the bound after at
/// most 3 tries, local answers hold, and answers come back when it recovers.
async fn failing_upstream(script: Script, label: &str) {
    let up = Scripted::start(Script::answer()).await;
    let ralo = start(&[up.addr()]).await;
    let client = Client::new(ralo.addr);
    prime(&client).await;
    up.set(script);
    for i in 0..3 {
        let name = format!("fail-{i}.example");
        let (msg, took) = ask(&client, &name).await;
        assert_eq!(
            msg.metadata.response_code,
            ResponseCode::ServFail,
            "{label}"
        );
        assert_not_forged(&msg);
        assert!(took <= SERVFAIL_BOUND, "{label}: SERVFAIL took {took:?}");
        let tries = up.count_for(&name);
        assert!((1..=MAX_TRIES).contains(&tries), "{label}: {tries} tries");
        local_answers_hold(&client).await;
    }
    up.set(Script::answer());
    let (msg, _) = ask(&client, "fail-0.example").await;
    assert_eq!(
        answers_a(&msg),
        vec![REAL],
        "{label}: recovery without restart"
    );
    ralo.stop().await;
}

#[tokio::test]
async fn silent_upstream_gives_servfail_then_recovers() {
    failing_upstream(Script::reply(Reply::Silent), "silent").await;
}

#[tokio::test]
async fn refusing_upstream_gives_servfail_then_recovers() {
    failing_upstream(
        Script::reply(Reply::Rcode(ResponseCode::Refused)),
        "refused",
    )
    .await;
}

#[tokio::test]
async fn servfailing_upstream_gives_servfail_then_recovers() {
    failing_upstream(
        Script::reply(Reply::Rcode(ResponseCode::ServFail)),
        "servfail",
    )
    .await;
}

#[tokio::test]
async fn wrong_id_only_is_never_accepted() {
    failing_upstream(
        Script::reply(Reply::Silent).decoy(Decoy::WrongId),
        "wrong id",
    )
    .await;
}

#[tokio::test]
async fn wrong_question_only_is_never_accepted() {
    let script = Script::reply(Reply::Silent).decoy(Decoy::WrongQuestion);
    failing_upstream(script, "wrong question").await;
}

#[tokio::test]
async fn closed_upstream_port_fails_fast_and_next_upstream_answers() {
    let closed = closed_addr();
    let ralo = start(&[closed]).await;
    let client = Client::new(ralo.addr);
    let (msg, took) = ask(&client, "nobody-home.example").await;
    assert_eq!(msg.metadata.response_code, ResponseCode::ServFail);
    assert!(took <= SERVFAIL_BOUND, "SERVFAIL took {took:?}");
    let tries = ralo
        .resolver
        .forward_counters()
        .tries
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(tries <= MAX_TRIES as u64, "{tries} tries");
    ralo.stop().await;

    let up = Scripted::start(Script::answer()).await;
    let ralo = start(&[closed, up.addr()]).await;
    let client = Client::new(ralo.addr);
    let (msg, took) = ask(&client, "second.example").await;
    assert_eq!(answers_a(&msg), vec![REAL]);
    // ICMP port unreachable ends the first try at once, not after 400 ms.
    assert!(took < Duration::from_millis(400), "failover took {took:?}");
    ralo.stop().await;
}

#[tokio::test]
async fn all_upstreams_dead_servfail_p99_within_bound_then_recover() {
    let first = Scripted::start(Script::answer()).await;
    let second = Scripted::start(Script::answer()).await;
    let ralo = start(&[first.addr(), second.addr(), closed_addr()]).await;
    let client = Client::new(ralo.addr);
    prime(&client).await;
    first.set(Script::reply(Reply::Silent));
    second.set(Script::reply(Reply::Silent));

    const QUERIES: usize = 50;
    const LANES: usize = 10;
    let mut lanes = tokio::task::JoinSet::new();
    for lane in 0..LANES {
        lanes.spawn(async move {
            let mut took = Vec::new();
            for i in (lane..QUERIES).step_by(LANES) {
                let (msg, elapsed) = ask(&client, &format!("dead-{i}.example")).await;
                assert_eq!(msg.metadata.response_code, ResponseCode::ServFail);
                took.push(elapsed);
            }
            took
        });
    }
    // Local answers while 10 questions at a time hang on dead upstreams.
    for _ in 0..5 {
        local_answers_hold(&client).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut took: Vec<Duration> = lanes.join_all().await.into_iter().flatten().collect();
    took.sort();
    let p99 = took[(took.len() * 99).div_ceil(100) - 1];
    let p50 = took[took.len() / 2];
    println!("dead upstreams: {QUERIES} SERVFAILs, p50 {p50:?}, p99 {p99:?}");
    assert!(p99 <= SERVFAIL_BOUND, "SERVFAIL p99 {p99:?}");
    for i in 0..QUERIES {
        let name = format!("dead-{i}.example");
        let tries = first.count_for(&name) + second.count_for(&name);
        assert!(tries <= MAX_TRIES, "{name}: {tries} tries");
    }

    first.set(Script::answer());
    second.set(Script::answer());
    let (msg, _) = ask(&client, "dead-0.example").await;
    assert_eq!(answers_a(&msg), vec![REAL], "recovery without restart");
    ralo.stop().await;
}

#[tokio::test]
async fn slow_upstream_is_bounded_and_a_fast_one_takes_over() {
    // Slower than the try timeout (400 ms) but inside the deadline (1500 ms):
    // the first try is still listening and its late answer is taken. Slower
    // than the deadline: SERVFAIL within the bound.
    let slow = Scripted::start(Script::answer()).await;
    let ralo = start(&[slow.addr()]).await;
    let client = Client::new(ralo.addr);
    prime(&client).await;
    for (i, delay) in [1000, 2000, 3000].into_iter().enumerate() {
        slow.set(Script::answer().delay(Duration::from_millis(delay)));
        let name = format!("slow-{i}.example");
        let (msg, took) = ask(&client, &name).await;
        if delay < 1500 {
            assert_eq!(
                answers_a(&msg),
                vec![REAL],
                "{delay} ms: the late answer counts"
            );
        } else {
            assert_eq!(
                msg.metadata.response_code,
                ResponseCode::ServFail,
                "{delay} ms"
            );
        }
        assert!(took <= SERVFAIL_BOUND, "{delay} ms: took {took:?}");
        assert!(slow.count_for(&name) <= MAX_TRIES);
        local_answers_hold(&client).await;
    }
    ralo.stop().await;

    // Slow first choice, fast second: answered by failover.
    slow.set(Script::answer().delay(Duration::from_millis(1500)));
    let fast = Scripted::start(Script::answer()).await;
    let ralo = start(&[slow.addr(), fast.addr()]).await;
    let client = Client::new(ralo.addr);
    let (msg, took) = ask(&client, "failover.example").await;
    assert_eq!(answers_a(&msg), vec![REAL]);
    assert!(took < SERVFAIL_BOUND, "failover took {took:?}");
    assert_eq!(slow.count_for("failover.example"), 1);
    assert_eq!(fast.count_for("failover.example"), 1);
    ralo.stop().await;
}

#[tokio::test]
async fn lossy_upstream_is_retried() {
    let up = Scripted::start(Script::answer()).await;
    let ralo = start(&[up.addr()]).await;
    let client = Client::new(ralo.addr);
    prime(&client).await;
    up.set(Script::answer().lossy(30, 0x5eed));

    const QUERIES: usize = 40;
    const LANES: usize = 4;
    let mut lanes = tokio::task::JoinSet::new();
    for lane in 0..LANES {
        lanes.spawn(async move {
            let mut answered = 0;
            for i in (lane..QUERIES).step_by(LANES) {
                let (msg, _) = ask(&client, &format!("lossy-{i}.example")).await;
                match msg.metadata.response_code {
                    ResponseCode::NoError => {
                        assert_eq!(answers_a(&msg), vec![REAL]);
                        answered += 1;
                    }
                    code => assert_eq!(code, ResponseCode::ServFail),
                }
            }
            answered
        });
    }
    local_answers_hold(&client).await;
    let answered: usize = lanes.join_all().await.into_iter().sum();
    println!(
        "lossy 30 %: {answered}/{QUERIES} answered, {} of {} upstream queries dropped",
        up.dropped(),
        up.count() - 1
    );
    // Three tries each: a question fails with probability 0.3^3 = 2.7 %.
    assert!(
        answered >= QUERIES - 6,
        "only {answered}/{QUERIES} answered"
    );
    assert!(up.dropped() > 0, "the loss setting dropped nothing");
    for i in 0..QUERIES {
        let name = format!("lossy-{i}.example");
        assert!(up.count_for(&name) <= MAX_TRIES, "{name}");
    }
    ralo.stop().await;
}

#[tokio::test]
async fn truncated_udp_answer_is_fetched_over_tcp() {
    let up = Scripted::start(Script::reply(Reply::Truncated)).await;
    let ralo = start(&[up.addr()]).await;
    let client = Client::new(ralo.addr);
    let (msg, _) = ask(&client, "truncated.example").await;
    assert_eq!(answers_a(&msg), vec![REAL]);
    assert!(!msg.metadata.truncation);
    assert_eq!(up.count_over(Transport::Udp), 1);
    assert_eq!(up.count_over(Transport::Tcp), 1);
    ralo.stop().await;
}

#[tokio::test]
async fn oversize_udp_answer_is_accepted_and_truncated_for_the_client() {
    let up = Scripted::start(Script::reply(Reply::Oversize)).await;
    let ralo = start(&[up.addr()]).await;
    let client = Client::new(ralo.addr);
    let udp = client
        .expect(&query("oversize.example", RecordType::A), Transport::Udp)
        .await;
    assert_eq!(udp.metadata.response_code, ResponseCode::NoError);
    assert!(
        udp.metadata.truncation && udp.answers.is_empty(),
        "too big for the client's 1232 bytes: TC=1 and no partial RRset"
    );
    let tcp = client.tcp("oversize.example", RecordType::A).await;
    let addrs = answers_a(&tcp);
    assert_eq!(
        addrs.len(),
        OVERSIZE_RECORDS + 1,
        "the whole answer over TCP"
    );
    assert!(addrs.contains(&REAL));
    assert_eq!(up.count(), 1, "the TCP retry is answered from the cache");
    let small = query("oversize.example", RecordType::A).without_edns();
    let small = client.expect(&small, Transport::Udp).await;
    assert!(small.metadata.truncation, "512 bytes without EDNS");
    ralo.stop().await;
}

/// A decoy sent just before the real answer, from the real upstream's own
/// address and port, is ignored and the real answer accepted on the same try.
async fn decoy_then_real_answer(decoy: Decoy) {
    let up = Scripted::start(Script::answer().decoy(decoy)).await;
    let ralo = start(&[up.addr()]).await;
    let client = Client::new(ralo.addr);
    for i in 0..5 {
        let name = format!("decoyed-{i}.example");
        let (msg, _) = ask(&client, &name).await;
        assert_eq!(answers_a(&msg), vec![REAL], "{decoy:?}");
        assert_eq!(
            up.count_for(&name),
            1,
            "{decoy:?}: accepted on the first try"
        );
    }
    ralo.stop().await;
}

#[tokio::test]
async fn malformed_datagram_before_the_real_answer_is_skipped() {
    decoy_then_real_answer(Decoy::Malformed).await;
}

#[tokio::test]
async fn wrong_id_before_the_real_answer_is_skipped() {
    decoy_then_real_answer(Decoy::WrongId).await;
}

#[tokio::test]
async fn wrong_question_before_the_real_answer_is_skipped() {
    decoy_then_real_answer(Decoy::WrongQuestion).await;
}

/// Asks `count` distinct names (cache misses) from `prefix`, one at a time.
async fn ask_distinct(client: &Client, prefix: &str, count: usize) {
    for i in 0..count {
        let (msg, _) = ask(client, &format!("{prefix}-{i}.example")).await;
        assert_eq!(answers_a(&msg), vec![REAL]);
    }
}

#[tokio::test]
async fn the_faster_upstream_is_asked_first_and_a_recovered_one_found_again() {
    let slow = Scripted::start(Script::answer().delay(Duration::from_millis(60))).await;
    let fast = Scripted::start(Script::answer()).await;
    // The slow one is listed first: order alone would ask it every time.
    let ralo = Setup::new(slow.addr())
        .upstreams(&[slow.addr(), fast.addr()])
        .telemetry()
        .start()
        .await;
    let client = Client::new(ralo.addr);
    ask_distinct(&client, "speed", 64).await;
    // One question each to learn both, then the fast one, but for one in
    // 32 asked of the other.
    assert!(slow.count() <= 4, "slow asked {} times", slow.count());
    assert!(fast.count() >= 60, "fast asked {} times", fast.count());
    let upstreams = ralo.counters().upstreams;
    assert!(upstreams[1].first > upstreams[0].first);
    assert!(upstreams[1].srtt_us < upstreams[0].srtt_us, "{upstreams:?}");

    // The fast one goes silent: its questions fail over, it falls behind.
    fast.set(Script::reply(Reply::Silent));
    ask_distinct(&client, "outage", 4).await;
    let before = slow.count();
    ask_distinct(&client, "after", 8).await;
    assert_eq!(slow.count() - before, 8, "the slow one is asked first now");

    // Back and fast: exploration finds it, and it is first again.
    fast.set(Script::answer());
    ask_distinct(&client, "recovered", 64).await;
    let fast_before = fast.count();
    ask_distinct(&client, "settled", 16).await;
    assert!(fast.count() - fast_before >= 15, "fast is first again");
    ralo.stop().await;
}
