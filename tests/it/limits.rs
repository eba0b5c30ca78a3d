//! The server's limits against real sockets: the per-client rate limit
//! (`[access] rate_limit_*`: refused or dropped, counted, exempt networks,
//! one client never slowing another, tokens coming back), the forwarder's
//! in-flight cap (`[upstream] max_inflight`), and a random-subdomain flood
//! that neither evicts other clients' popular names from the cache nor
//! grows the cache past its cap.
//!
//! Clients are told apart by their loopback source address (127.0.0.1,
//! 127.0.0.2, ...); the exempt list is emptied so loopback is limited too.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::task::block_in_place;

use crate::process::Site;
use crate::ralo::{Ralo, Setup};
use crate::support::client::{Client, ede};
use crate::support::upstream::{Mode, Upstream};

const NAME: &str = "allowed.example.com";

fn ip(text: &str) -> IpAddr {
    text.parse().expect("an address")
}

/// `[access]` with a limit of `qps` per second and `burst` at once, for
/// every client, and `extra` keys.
fn limit(qps: u32, burst: u32, extra: &str) -> String {
    format!(
        "[access]\nrate_limit_qps = {qps}\nrate_limit_burst = {burst}\nrate_limit_exempt = []\n{extra}\n"
    )
}

async fn start(up: &Upstream, sections: &str) -> Ralo {
    Setup::new(up.addr()).telemetry().start_with(sections).await
}

/// Whether `answer` is the rate limit's refusal.
fn rate_limited(answer: &Message) -> bool {
    answer.metadata.response_code == ResponseCode::Refused
        && ede(answer).is_some_and(|(code, text)| code == 18 && text.contains("rate limited"))
}

/// Asks from `from` until the rate limit refuses (at most `bound` queries);
/// returns how many were served first. Panics on any other answer.
async fn served_until_refused(client: &Client, from: IpAddr, bound: usize) -> usize {
    for served in 0..bound {
        let answer = client
            .udp_from(from, NAME, RecordType::A)
            .await
            .expect("an answer");
        if rate_limited(&answer) {
            return served;
        }
        assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    }
    panic!("{from} was not rate limited within {bound} queries");
}

#[tokio::test]
async fn client_over_its_limit_is_refused_counted_and_others_are_unaffected() {
    let up = Upstream::standard().await;
    let ralo = start(&up, &limit(1, 5, "")).await;
    let client = Client::new(ralo.addr);
    let started = Instant::now();
    let served = served_until_refused(&client, ip("127.0.0.1"), 50).await;
    // The burst, plus at most one token per second that passed meanwhile.
    let refills = started.elapsed().as_secs() as usize + 1;
    assert!((5..=5 + refills).contains(&served), "served {served}");

    // Another client has its own bucket.
    let other = client
        .udp_from(ip("127.0.0.2"), NAME, RecordType::A)
        .await
        .expect("an answer to 127.0.0.2");
    assert_eq!(other.metadata.response_code, ResponseCode::NoError);

    // TCP is limited the same way.
    assert!(rate_limited(&client.tcp(NAME, RecordType::A).await));

    let counters = ralo.counters();
    assert_eq!(counters.rate_limited_refused, 2);
    assert_eq!(counters.rate_limited_dropped, 0);
    // Rate-limited messages are not queries: only the served ones count.
    assert_eq!(counters.total(), served as u64 + 1);
    ralo.stop().await;
}

#[tokio::test]
async fn drop_action_sends_nothing_and_counts_the_drops() {
    let up = Upstream::standard().await;
    let ralo = start(&up, &limit(1, 2, "rate_limit_action = \"drop\"")).await;
    let client = Client::new(ralo.addr).with_timeout(Duration::from_millis(300));
    let from = ip("127.0.0.1");
    let mut answered = 0;
    let mut silent = 0;
    for _ in 0..6 {
        match client.udp_from(from, NAME, RecordType::A).await {
            Some(answer) => {
                assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
                answered += 1;
            }
            None => silent += 1,
        }
    }
    assert!(answered >= 2, "answered {answered}");
    assert!(silent >= 1, "nothing was dropped");
    let counters = ralo.counters();
    assert_eq!(counters.rate_limited_dropped, silent);
    assert_eq!(counters.rate_limited_refused, 0);
    ralo.stop().await;
}

#[tokio::test]
async fn exempt_network_is_never_limited() {
    let up = Upstream::standard().await;
    let sections = "[access]\nrate_limit_qps = 1\nrate_limit_burst = 1\nrate_limit_exempt = [\"127.0.0.2/32\"]\n";
    let ralo = start(&up, sections).await;
    let client = Client::new(ralo.addr);
    for _ in 0..30 {
        let answer = client
            .udp_from(ip("127.0.0.2"), NAME, RecordType::A)
            .await
            .expect("an answer");
        assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    }
    // Its neighbour is limited after its one-query burst.
    let served = served_until_refused(&client, ip("127.0.0.1"), 50).await;
    assert!(served >= 1, "served {served}");
    assert_eq!(ralo.counters().rate_limited_refused, 1);
    ralo.stop().await;
}

#[tokio::test]
async fn loopback_is_exempt_by_default() {
    let up = Upstream::standard().await;
    let sections = "[access]\nrate_limit_qps = 1\nrate_limit_burst = 1\n";
    let ralo = start(&up, sections).await;
    let client = Client::new(ralo.addr);
    for _ in 0..30 {
        let answer = client.udp(NAME, RecordType::A).await;
        assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    }
    assert_eq!(ralo.counters().rate_limited_refused, 0);
    ralo.stop().await;
}

#[tokio::test]
async fn tokens_come_back_after_a_pause() {
    let up = Upstream::standard().await;
    // 5 per second: one token every 200 ms.
    let ralo = start(&up, &limit(5, 2, "")).await;
    let client = Client::new(ralo.addr);
    let from = ip("127.0.0.1");
    assert!(served_until_refused(&client, from, 50).await >= 2);
    tokio::time::sleep(Duration::from_millis(450)).await;
    let answer = client
        .udp_from(from, NAME, RecordType::A)
        .await
        .expect("an answer");
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    assert!(served_until_refused(&client, from, 50).await >= 1);
    assert_eq!(ralo.counters().rate_limited_refused, 2);
    ralo.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_shows_rate_limited_messages() {
    let up = Upstream::standard().await;
    let site = Site::new(up.addr(), &limit(1, 2, ""));
    let text = std::fs::read_to_string(site.config()).expect("config");
    let text = text.replacen("[server]\n", "[server]\nspawn_updater = false\n", 1);
    std::fs::write(site.config(), text).expect("config");
    let server = block_in_place(|| site.serve());
    let client = Client::new(server.addr);
    let mut refused = 0;
    for _ in 0..6 {
        if rate_limited(&client.udp(NAME, RecordType::A).await) {
            refused += 1;
        }
    }
    assert!(refused >= 1, "nothing was refused");
    let out = block_in_place(|| site.run(&["stats", "--json"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        stats["limits"]["rate_limited_refused"], refused,
        "{stats:#}"
    );
    assert_eq!(stats["limits"]["rate_limited_dropped"], 0);
    assert_eq!(stats["since_start"]["queries"], 6 - refused);
    let out = block_in_place(|| site.run(&["stats"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("rate limited: {refused} refused, 0 dropped")),
        "{text}"
    );
    assert!(
        server.log().contains("over its rate limit"),
        "{}",
        server.log()
    );
}

#[tokio::test]
async fn questions_over_the_inflight_cap_get_servfail_or_stale_at_once() {
    let up = Upstream::builder()
        .ttl(1)
        .a("stale.example.com", "192.0.2.9")
        .start()
        .await;
    // Continues the [upstream] table the setup writes.
    let sections =
        "max_tries = 1\nmax_inflight = 4\n\n[cache]\nserve_stale = true\noptimistic = false\n";
    let setup = Setup::new(up.addr()).telemetry();
    let ralo = setup.start_with(sections).await;
    let client = Client::new(ralo.addr);
    // A cached answer that will be stale by the time the cap is reached.
    let fresh = client.udp("stale.example.com", RecordType::A).await;
    assert_eq!(fresh.metadata.response_code, ResponseCode::NoError);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    up.set_mode(Mode::Silent);
    let before = up.queries();
    let waiting: Vec<_> = (0..4)
        .map(|i| {
            tokio::spawn(async move {
                client
                    .udp(&format!("slow{i}.example.com"), RecordType::A)
                    .await
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while ralo.resolver.upstream_inflight() < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(ralo.resolver.upstream_inflight(), 4);

    let mut turned_away = 0;
    for i in 0..10 {
        let answer = client
            .udp(&format!("more{i}.example.com"), RecordType::A)
            .await;
        assert_eq!(answer.metadata.response_code, ResponseCode::ServFail);
        turned_away += 1;
    }
    let stale = client.udp("stale.example.com", RecordType::A).await;
    assert_eq!(stale.metadata.response_code, ResponseCode::NoError);
    assert_eq!(ede(&stale).map(|(code, _)| code), Some(3));
    turned_away += 1;
    // Nothing over the cap reached the upstream, and the table stayed at it.
    assert_eq!(up.queries() - before, 4);
    assert!(ralo.resolver.upstream_inflight() <= 4);
    let overloaded = ralo
        .resolver
        .forward_counters()
        .overloaded
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(overloaded, turned_away);
    assert_eq!(ralo.counters().upstream_overload, turned_away);

    for task in waiting {
        let answer = task.await.expect("query task");
        assert_eq!(answer.metadata.response_code, ResponseCode::ServFail);
    }
    assert_eq!(ralo.resolver.upstream_inflight(), 0);
    ralo.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_subdomain_flood_leaves_popular_names_cached_and_the_cache_bounded() {
    const POPULAR: usize = 20;
    const FLOOD: usize = 4000;
    const CAP: usize = 200;
    let mut builder = Upstream::builder();
    for i in 0..POPULAR {
        builder = builder.a(&format!("pop{i}.example.com"), "192.0.2.80");
    }
    let up = builder.start().await;
    let sections = format!("[cache]\nentries = {CAP}\n");
    let ralo = Setup::new(up.addr()).start_with(&sections).await;
    let client = Client::new(ralo.addr);
    let household = ip("127.0.0.2");
    // A server that has run a while: its cache is full of other names.
    flood(&client, "old.example.net", 0..2 * CAP).await;
    assert!(ralo.resolver.cache_len() <= CAP);
    let popular: Vec<String> = (0..POPULAR)
        .map(|i| format!("pop{i}.example.com"))
        .collect();
    for _ in 0..3 {
        for name in &popular {
            let answer = client
                .udp_from(household, name, RecordType::A)
                .await
                .expect("an answer");
            assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
        }
    }
    // Each was fetched once or twice: a name the cache saw only once is
    // remembered (a ghost) and kept for good when it comes back.
    let fetched: Vec<u64> = popular.iter().map(|n| up.queries_for(n)).collect();
    assert!(fetched.iter().all(|&n| (1..=2).contains(&n)), "{fetched:?}");

    // The flood: thousands of unique names under one domain, each asked
    // once and cached (NXDOMAIN with an SOA), from one client.
    let mut largest = 0;
    for batch in 0..FLOOD / 100 {
        flood(&client, "flood.example", batch * 100..(batch + 1) * 100).await;
        largest = largest.max(ralo.resolver.cache_len());
        assert!(largest <= CAP, "cache holds {largest}");
    }
    assert!(
        largest >= CAP / 2,
        "the flood filled the cache to {largest} only"
    );
    assert!(
        up.queries() >= FLOOD as u64,
        "the flood reached the upstream"
    );

    // The household's popular names are still answered from the cache.
    for name in &popular {
        let answer = client
            .udp_from(household, name, RecordType::A)
            .await
            .expect("an answer");
        assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    }
    let refetched: Vec<&String> = popular
        .iter()
        .zip(&fetched)
        .filter(|(name, before)| up.queries_for(name) > **before)
        .map(|(name, _)| name)
        .collect();
    assert!(refetched.is_empty(), "evicted by the flood: {refetched:?}");
    ralo.stop().await;
}

/// Asks `r<n>.<domain>` for every `n` in `range`, four at a time, from
/// 127.0.0.1; each gets NXDOMAIN from the upstream.
async fn flood(client: &Client, domain: &str, range: std::ops::Range<usize>) {
    let lanes: Vec<_> = (0..4)
        .map(|lane| {
            let (client, domain) = (*client, domain.to_owned());
            let names: Vec<usize> = range.clone().skip(lane).step_by(4).collect();
            tokio::spawn(async move {
                for n in names {
                    let answer = client
                        .udp(&format!("r{n:05}.{domain}"), RecordType::A)
                        .await;
                    assert_eq!(answer.metadata.response_code, ResponseCode::NXDomain);
                }
            })
        })
        .collect();
    for lane in lanes {
        lane.await.expect("flood lane");
    }
}
