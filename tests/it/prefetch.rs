//! Answers before anyone waits: a popular name is fetched again in the
//! background before it expires (`[cache] prefetch`), and with `[cache]
//! optimistic` an expired one is answered at once while it is refreshed.
//!
//! These run on the real clock: the server, the in-process upstream and the
//! client talk over real sockets, whose waits a paused clock would skip
//! past (it advances whenever every task waits on I/O, so the forwarder's
//! timeouts would fire before the upstream could answer). The name used has
//! a 2 s TTL, so each test takes a few seconds.

use std::net::Ipv4Addr;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use ralo::vocab::Outcome;

use crate::ralo::{Ralo, Setup};
use crate::support::client::{Client, answers_a, ede};
use crate::support::upstream::Upstream;

/// In the upstream's zone: A 192.0.2.2, TTL 2 s.
const SHORT: &str = "short.example.com";

/// The outcomes of every query the server recorded, in order.
fn outcomes(ralo: &Ralo) -> Vec<Outcome> {
    ralo.events().iter().map(|e| e.outcome).collect()
}

/// Asks for [`SHORT`] every 60 ms for 3.3 s (across its expiry at 2 s;
/// fewer questions than the test server's ring of 64 holds); every answer
/// must carry its address.
async fn ask_across_expiry(ralo: &Ralo) {
    let client = Client::new(ralo.addr);
    for _ in 0..55 {
        let answer = client.udp(SHORT, RecordType::A).await;
        assert_eq!(answers_a(&answer), [Ipv4Addr::new(192, 0, 2, 2)]);
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
}

#[tokio::test]
async fn a_popular_name_is_fetched_again_before_it_expires() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr()).telemetry().start().await;
    ask_across_expiry(&ralo).await;
    let seen = outcomes(&ralo);
    assert_eq!(
        seen[0],
        Outcome::Forwarded,
        "the first answer comes from upstream"
    );
    assert!(
        seen[1..].iter().all(|&o| o == Outcome::Cached),
        "every later answer comes from memory: {seen:?}"
    );
    // Fetched at 0 s, again before 2 s, and again before 4 s... at least
    // once more than the first time.
    assert!(
        up.queries_for(SHORT) >= 2,
        "the upstream saw the refresh: {}",
        up.queries_for(SHORT)
    );
    ralo.stop().await;
}

#[tokio::test]
async fn without_prefetch_the_question_after_expiry_waits_for_upstream() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .telemetry()
        .start_with("[cache]\nprefetch = false\noptimistic = false\n")
        .await;
    ask_across_expiry(&ralo).await;
    let seen = outcomes(&ralo);
    let forwarded = seen.iter().filter(|&&o| o == Outcome::Forwarded).count();
    assert!(forwarded >= 2, "asked upstream after expiry: {seen:?}");
    ralo.stop().await;
}

#[tokio::test]
async fn a_name_asked_once_is_not_prefetched() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .telemetry()
        .start_with("[cache]\nprefetch_after = 3\n")
        .await;
    let client = Client::new(ralo.addr);
    client.udp(SHORT, RecordType::A).await;
    // Asked a second time inside its last tenth: below prefetch_after.
    tokio::time::sleep(Duration::from_millis(1850)).await;
    client.udp(SHORT, RecordType::A).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        up.queries_for(SHORT),
        1,
        "no refresh for a name asked twice"
    );
    ralo.stop().await;
}

#[tokio::test]
async fn optimistic_answers_an_expired_name_at_once_and_refreshes_it() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .telemetry()
        .start_with("[cache]\noptimistic = true\nprefetch = false\n")
        .await;
    let client = Client::new(ralo.addr);
    client.udp(SHORT, RecordType::A).await;
    tokio::time::sleep(Duration::from_millis(2200)).await;

    let stale = client.udp(SHORT, RecordType::A).await;
    assert_eq!(answers_a(&stale), [Ipv4Addr::new(192, 0, 2, 2)]);
    assert_eq!(
        stale.answers[0].ttl, 30,
        "an optimistic answer carries TTL 30"
    );
    assert_eq!(
        ede(&stale),
        Some((3, "stale answer: being refreshed".to_owned())),
        "EDE 3 Stale Answer"
    );
    assert_eq!(ralo.last_outcome(), Outcome::Stale);

    // The refresh reaches the upstream in the background...
    for _ in 0..100 {
        if up.queries_for(SHORT) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(up.queries_for(SHORT), 2, "the upstream saw the refresh");
    // ... and the next question gets the fresh answer from memory.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fresh = client.udp(SHORT, RecordType::A).await;
    assert!(
        fresh.answers[0].ttl <= 2,
        "fresh TTL: {}",
        fresh.answers[0].ttl
    );
    assert_eq!(ede(&fresh), None);
    assert_eq!(ralo.last_outcome(), Outcome::Cached);
    ralo.stop().await;
}
