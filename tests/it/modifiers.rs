//! Adblock modifiers over real sockets. `$important`: an important block
//! beats an `@@` exception of a block list, `@@…$important` beats it in
//! turn, and the household's allowlist beats every block; the EDE names
//! the list whose rule decided. `$denyallow`: a rule leaves out its names
//! and their subdomains, only for itself, on a block or an exception.

use std::net::Ipv4Addr;

use hickory_proto::rr::RecordType;

use crate::blocking::is_null_a;
use crate::ralo::Setup;
use crate::support::client::{Client, answers_a, ede};
use crate::support::upstream::Upstream;

/// The upstream's address for `ads.tracker.test`.
const TRACKER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 66);
/// The upstream's address for `mx.example.com`.
const MX: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 25);
/// The upstream's address for `allowed.example.com`.
const ALLOWED: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

#[tokio::test]
async fn an_important_block_beats_an_exception_and_an_important_exception_beats_it() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list(
            "ads",
            "||tracker.test^$important\n||example.com^$important\n",
            "",
        )
        .list(
            "exceptions",
            "@@||ads.tracker.test^\n@@||mx.example.com^$important\n",
            "",
        )
        .start()
        .await;
    let client = Client::new(ralo.addr);
    let blocked = client.udp("ads.tracker.test", RecordType::A).await;
    assert!(is_null_a(&blocked), "{blocked:?}");
    let (code, text) = ede(&blocked).expect("EDE option present");
    assert_eq!(code, 15);
    assert!(text.contains("ads"), "{text}");
    let allowed = client.tcp("mx.example.com", RecordType::A).await;
    assert_eq!(answers_a(&allowed), vec![MX]);
    assert!(is_null_a(
        &client.udp("allowed.example.com", RecordType::A).await
    ));
    assert_eq!(up.queries_for("ads.tracker.test"), 0);
    ralo.stop().await;
}

#[tokio::test]
async fn without_important_the_exception_still_wins() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("ads", "||tracker.test^\n", "")
        .list("exceptions", "@@||ads.tracker.test^\n", "")
        .start()
        .await;
    let client = Client::new(ralo.addr);
    let allowed = client.udp("ads.tracker.test", RecordType::A).await;
    assert_eq!(answers_a(&allowed), vec![TRACKER]);
    ralo.stop().await;
}

#[tokio::test]
async fn the_household_allowlist_beats_an_important_block() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("ads", "||tracker.test^$important\n", "")
        .allowlist("ok", "ads.tracker.test\n")
        .start()
        .await;
    let client = Client::new(ralo.addr);
    let allowed = client.udp("ads.tracker.test", RecordType::A).await;
    assert_eq!(answers_a(&allowed), vec![TRACKER]);
    assert!(is_null_a(
        &client.udp("other.tracker.test", RecordType::A).await
    ));
    ralo.stop().await;
}

#[tokio::test]
async fn a_denyallow_rule_blocks_its_subtree_but_the_names_it_leaves_out() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list(
            "ads",
            "||example.com^$denyallow=allowed.example.com|other.example.com\n\
             ||tracker.test^$denyallow=~ads.tracker.test\n",
            "",
        )
        .start()
        .await;
    let client = Client::new(ralo.addr);
    let left_out = client.udp("allowed.example.com", RecordType::A).await;
    assert_eq!(answers_a(&left_out), vec![ALLOWED]);
    let blocked = client.tcp("mx.example.com", RecordType::A).await;
    assert!(is_null_a(&blocked), "{blocked:?}");
    assert!(ede(&blocked).is_some_and(|(code, text)| code == 15 && text.contains("ads")));
    // A CNAME from a blocked name is no way around: the name itself is blocked.
    assert!(is_null_a(
        &client.udp("alias.example.com", RecordType::A).await
    ));
    // The invalid line blocks nothing.
    let fine = client.udp("ads.tracker.test", RecordType::A).await;
    assert_eq!(answers_a(&fine), vec![TRACKER]);
    assert_eq!(up.queries_for("mx.example.com"), 0);
    ralo.stop().await;
}

#[tokio::test]
async fn a_name_a_denyallow_rule_leaves_out_is_blocked_by_another_rule() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("ads", "||example.com^$denyallow=allowed.example.com\n", "")
        .list("more", "allowed.example.com\n", "")
        .start()
        .await;
    let client = Client::new(ralo.addr);
    let blocked = client.udp("allowed.example.com", RecordType::A).await;
    assert!(is_null_a(&blocked), "{blocked:?}");
    assert!(ede(&blocked).is_some_and(|(_, text)| text.contains("more")));
    ralo.stop().await;
}

#[tokio::test]
async fn a_denyallow_exception_lets_through_all_but_the_names_it_leaves_out() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list(
            "ads",
            "||example.com^\n@@||example.com^$denyallow=mx.example.com\n",
            "",
        )
        .start()
        .await;
    let client = Client::new(ralo.addr);
    let allowed = client.udp("allowed.example.com", RecordType::A).await;
    assert_eq!(answers_a(&allowed), vec![ALLOWED]);
    let blocked = client.udp("mx.example.com", RecordType::A).await;
    assert!(is_null_a(&blocked), "{blocked:?}");
    ralo.stop().await;
}
