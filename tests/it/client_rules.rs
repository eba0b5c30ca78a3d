//! Adblock `$client` rules over real sockets: queries sent from different
//! loopback addresses (127.0.0.2, 127.0.0.3, … are all this machine) meet
//! the rules written for them, by address, range or device name, and
//! `ralo check --client` says which rule is whose.

use std::net::Ipv4Addr;

use hickory_proto::rr::RecordType;
use ralo::domain::Domain;

use crate::ralo::{Ralo, Setup};
use crate::support::client::{Client, answers_a, loopback};
use crate::support::upstream::Upstream;

/// In the upstream's zone: A 192.0.2.66.
const TRACKER: &str = "ads.tracker.test";

/// A server whose list `ads` is `text`, with `toml` added to its config.
async fn serving(text: &str, toml: &str) -> (Upstream, Ralo) {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("ads", text, "")
        .toml(toml)
        .start()
        .await;
    (up, ralo)
}

#[tokio::test]
async fn a_client_rule_blocks_for_that_client_only() {
    let (_up, ralo) = serving("||tracker.test^$client=127.0.0.2\n", "").await;
    assert!(ralo.blocked_for(2, TRACKER).await, "the client named");
    assert!(!ralo.blocked_for(3, TRACKER).await, "another client");
    // Asked again (the answer is cached now), each still gets its own.
    assert!(ralo.blocked_for(2, TRACKER).await);
    assert!(!ralo.blocked_for(3, TRACKER).await);
    ralo.stop().await;
}

#[tokio::test]
async fn an_excluding_client_rule_blocks_for_every_client_but_those() {
    let (_up, ralo) = serving("||tracker.test^$client=~127.0.0.2|~127.0.0.4\n", "").await;
    assert!(!ralo.blocked_for(2, TRACKER).await, "a client left out");
    assert!(
        !ralo.blocked_for(4, TRACKER).await,
        "the other client left out"
    );
    assert!(ralo.blocked_for(3, TRACKER).await, "any other client");
    ralo.stop().await;
}

#[tokio::test]
async fn a_client_exception_lets_that_client_through_only() {
    let text = "||tracker.test^\n@@||tracker.test^$client=127.0.0.3\n";
    let (_up, ralo) = serving(text, "").await;
    assert!(ralo.blocked_for(2, TRACKER).await, "the rule for everyone");
    assert!(
        !ralo.blocked_for(3, TRACKER).await,
        "the exception's client"
    );
    ralo.stop().await;
}

#[tokio::test]
async fn a_client_range_holds_addresses_that_are_no_device() {
    let (_up, ralo) = serving("||tracker.test^$client=127.0.0.0/30\n", "").await;
    assert!(ralo.blocked_for(2, TRACKER).await && ralo.blocked_for(3, TRACKER).await);
    assert!(!ralo.blocked_for(5, TRACKER).await, "outside the range");
    ralo.stop().await;
}

#[tokio::test]
async fn a_client_rule_by_device_name_follows_the_device() {
    // The tablet is the range 127.0.0.0/29 but for 127.0.0.3, the TV.
    let toml = "[[clients]]\nname = \"kid's tablet\"\nids = [\"127.0.0.0/29\"]\n\
                [[clients]]\nname = \"tv\"\nids = [\"127.0.0.3\"]\n";
    let text = "||tracker.test^$client='kid\\'s tablet'\n";
    let (_up, ralo) = serving(text, toml).await;
    assert!(ralo.blocked_for(2, TRACKER).await, "the tablet");
    assert!(
        !ralo.blocked_for(3, TRACKER).await,
        "the TV, inside the tablet's range"
    );
    assert!(!ralo.blocked_for(9, TRACKER).await, "no device");
    ralo.stop().await;
}

#[tokio::test]
async fn an_important_client_rule_beats_the_exception_for_its_client_only() {
    let text = "@@||tracker.test^\n||tracker.test^$important,client=127.0.0.2\n";
    let (_up, ralo) = serving(text, "").await;
    assert!(
        ralo.blocked_for(2, TRACKER).await,
        "the important rule's client"
    );
    assert!(
        !ralo.blocked_for(3, TRACKER).await,
        "the exception for the others"
    );
    ralo.stop().await;
}

#[tokio::test]
async fn the_household_allowlist_beats_an_important_client_rule() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("ads", "||tracker.test^$important,client=127.0.0.2\n", "")
        .allowlist("mine", &format!("{TRACKER}\n"))
        .start()
        .await;
    assert!(!ralo.blocked_for(2, TRACKER).await);
    ralo.stop().await;
}

#[tokio::test]
async fn check_for_a_client_names_the_client_rule_and_agrees_with_the_server() {
    let toml = "[[clients]]\nname = \"kid tablet\"\nids = [\"127.0.0.2\"]\n";
    let text = "||tracker.test^$client='kid tablet'|127.0.0.5\n";
    let (_up, ralo) = serving(text, toml).await;
    let domain = Domain::parse(TRACKER).expect("a name");
    for from in [2, 3, 5] {
        let said = ralo.check(&domain, loopback(from));
        assert_eq!(
            said.blocked_now,
            ralo.blocked_for(from, TRACKER).await,
            "from 127.0.0.{from}: check said\n{}",
            said.text
        );
    }
    let said = ralo.check(&domain, loopback(2));
    assert!(said.blocked_now, "{}", said.text);
    assert!(
        said.text
            .contains("list `ads` for clients 'kid tablet', 127.0.0.5 (`$client`)"),
        "{}",
        said.text
    );
    assert!(
        said.text.contains("line 1: ||tracker.test^$client="),
        "{}",
        said.text
    );
    let said = ralo.check(&domain, loopback(3));
    assert!(!said.blocked_now, "{}", said.text);
    assert!(
        said.text.contains(
            "`ads` lists it, a `$client` rule for clients 'kid tablet', 127.0.0.5 only, not this client"
        ),
        "{}",
        said.text
    );
    ralo.stop().await;
}

#[tokio::test]
async fn a_client_rewrite_answers_that_client_only() {
    let text = "||tracker.test^$dnsrewrite=192.0.2.77,client=127.0.0.2\n";
    let (_up, ralo) = serving(text, "").await;
    for _ in 0..2 {
        let mine = Client::new(ralo.addr)
            .udp_from(loopback(2), TRACKER, RecordType::A)
            .await
            .expect("an answer to 127.0.0.2");
        assert_eq!(answers_a(&mine), [Ipv4Addr::new(192, 0, 2, 77)]);
        let other = Client::new(ralo.addr)
            .udp_from(loopback(3), TRACKER, RecordType::A)
            .await
            .expect("an answer to 127.0.0.3");
        assert_eq!(answers_a(&other), [Ipv4Addr::new(192, 0, 2, 66)]);
    }
    ralo.stop().await;
}
