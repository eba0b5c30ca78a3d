//! Conditional forwarding over real sockets: names under a `[[forward]]`
//! zone and the LAN's reverse zone go to the "router" (an in-process
//! upstream of their own), everything else to the public upstream; the
//! house's other private reverse zones still never leave it, and the
//! router's answers are kept no longer than their TTL.

use std::net::Ipv4Addr;
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::PTR;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use ralo::domain::Domain;
use ralo::vocab::Outcome;

use crate::ralo::Setup;
use crate::support::client::{Client, answers_a};
use crate::support::upstream::Upstream;

/// The router: its DHCP clients' names and their reverse records, TTL 5.
async fn router() -> Upstream {
    let ptr = Record::from_rdata(
        Name::from_str("20.178.168.192.in-addr.arpa.").unwrap(),
        5,
        RData::PTR(PTR(Name::from_str("printer.fritz.box.").unwrap())),
    );
    Upstream::builder()
        .ttl(5)
        .a("printer.fritz.box", "192.168.178.20")
        .a("nas.lan", "192.168.178.30")
        .record(ptr)
        .start()
        .await
}

/// A ralo forwarding to `public`, with `router`'s zones forwarded to it.
fn behind_router(public: &Upstream, router: &Upstream) -> Setup {
    Setup::new(public.addr()).toml(&forward_table(router))
}

fn forward_table(router: &Upstream) -> String {
    format!(
        "[[forward]]\ndomains = [\"fritz.box\", \"lan\", \"192.168.178.0/24\"]\nservers = [\"{}\"]\n",
        router.addr()
    )
}

#[tokio::test]
async fn the_routers_names_and_reverse_zone_go_to_the_router() {
    let public = Upstream::standard().await;
    let router = router().await;
    let ralo = behind_router(&public, &router).start().await;
    let client = Client::new(ralo.addr);

    let printer = client.udp("printer.fritz.box", RecordType::A).await;
    assert_eq!(answers_a(&printer), [Ipv4Addr::new(192, 168, 178, 20)]);
    let nas = client.udp("NAS.lan", RecordType::A).await;
    assert_eq!(answers_a(&nas), [Ipv4Addr::new(192, 168, 178, 30)]);
    let ptr = client
        .udp("20.178.168.192.in-addr.arpa", RecordType::PTR)
        .await;
    let target: Vec<String> = ptr
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::PTR(p) => Some(p.0.to_ascii()),
            _ => None,
        })
        .collect();
    assert_eq!(target, ["printer.fritz.box."]);

    // Everything else goes to the public upstream.
    let public_answer = client.udp("allowed.example.com", RecordType::A).await;
    assert_eq!(answers_a(&public_answer), [Ipv4Addr::new(192, 0, 2, 1)]);

    assert_eq!(router.queries_for("printer.fritz.box"), 1);
    assert_eq!(router.queries_for("nas.lan"), 1);
    assert_eq!(router.queries_for("20.178.168.192.in-addr.arpa"), 1);
    assert_eq!(router.queries_for("allowed.example.com"), 0);
    assert_eq!(public.queries_for("printer.fritz.box"), 0);
    assert_eq!(public.queries_for("20.178.168.192.in-addr.arpa"), 0);
    ralo.stop().await;
}

#[tokio::test]
async fn other_private_reverse_zones_stay_at_home() {
    let public = Upstream::standard().await;
    let router = router().await;
    let ralo = behind_router(&public, &router).start().await;
    let client = Client::new(ralo.addr);
    let other = client
        .udp("7.1.168.192.in-addr.arpa", RecordType::PTR)
        .await;
    assert_eq!(other.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(router.queries(), 0);
    assert_eq!(public.queries(), 0);
    ralo.stop().await;
}

#[tokio::test]
async fn the_most_specific_zone_picks_the_resolver() {
    let public = Upstream::standard().await;
    let router = router().await;
    let nas_box = Upstream::builder()
        .a("disk.nas.fritz.box", "192.168.178.31")
        .start()
        .await;
    let ralo = behind_router(&public, &router)
        .toml(&format!(
            "[[forward]]\ndomains = [\"nas.fritz.box\"]\nservers = [\"{}\"]\n",
            nas_box.addr()
        ))
        .start()
        .await;
    let client = Client::new(ralo.addr);
    let disk = client.udp("disk.nas.fritz.box", RecordType::A).await;
    assert_eq!(answers_a(&disk), [Ipv4Addr::new(192, 168, 178, 31)]);
    client.udp("printer.fritz.box", RecordType::A).await;
    assert_eq!(nas_box.queries_for("disk.nas.fritz.box"), 1);
    assert_eq!(router.queries_for("disk.nas.fritz.box"), 0);
    assert_eq!(router.queries_for("printer.fritz.box"), 1);
    ralo.stop().await;
}

#[tokio::test]
async fn the_routers_answers_are_kept_no_longer_than_their_ttl() {
    let public = Upstream::standard().await;
    let router = router().await;
    let ralo = behind_router(&public, &router)
        .start_with("[cache]\nmin_ttl = 600\n")
        .await;
    let client = Client::new(ralo.addr);
    let first = client.udp("printer.fritz.box", RecordType::A).await;
    assert!(first.answers[0].ttl <= 5, "TTL {}", first.answers[0].ttl);
    let again = client.udp("printer.fritz.box", RecordType::A).await;
    assert!(again.answers[0].ttl <= 5, "TTL {}", again.answers[0].ttl);
    // A public answer is raised to min_ttl, as configured.
    let public_answer = client.udp("short.example.com", RecordType::A).await;
    assert_eq!(public_answer.answers[0].ttl, 600);
    ralo.stop().await;
}

#[tokio::test]
async fn an_expired_answer_of_the_router_is_asked_again_not_answered_optimistically() {
    let public = Upstream::standard().await;
    let router = Upstream::builder()
        .ttl(1)
        .a("printer.fritz.box", "192.168.178.20")
        .start()
        .await;
    let ralo = behind_router(&public, &router).telemetry().start().await;
    let client = Client::new(ralo.addr);
    client.udp("printer.fritz.box", RecordType::A).await;
    client.udp("short.example.com", RecordType::A).await;
    // Both expired (TTL 1 and 2 s), well inside optimistic_max_age.
    tokio::time::sleep(Duration::from_millis(2300)).await;

    let public_again = client.udp("short.example.com", RecordType::A).await;
    assert_eq!(ralo.last_outcome(), Outcome::Stale, "optimistic by default");
    assert_eq!(public_again.answers[0].ttl, 30);
    let router_again = client.udp("printer.fritz.box", RecordType::A).await;
    assert_eq!(ralo.last_outcome(), Outcome::Forwarded);
    assert!(
        router_again.answers[0].ttl <= 1,
        "{:?}",
        router_again.answers
    );
    assert_eq!(router.queries_for("printer.fritz.box"), 2);
    ralo.stop().await;
}

#[tokio::test]
async fn check_says_which_resolvers_a_forwarded_zone_asks() {
    let public = Upstream::standard().await;
    let router = router().await;
    let ralo = behind_router(&public, &router).start().await;
    let describe = |name: &str| {
        let domain = Domain::parse(name).expect("a name");
        let client = "127.0.0.1".parse().expect("an address");
        ralo.check(&domain, client).text
    };
    let printer = describe("printer.fritz.box");
    let line = format!("asked of {} ([[forward]] for `fritz.box`)", router.addr());
    assert!(printer.contains(&line), "{printer}");
    let public_name = describe("allowed.example.com");
    assert!(!public_name.contains("[[forward]]"), "{public_name}");
    ralo.stop().await;
}
