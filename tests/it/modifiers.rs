//! Adblock modifiers over real sockets. `$important`: an important block
//! beats an `@@` exception of a block list, `@@…$important` beats it in
//! turn, and the household's allowlist beats every block; the EDE names
//! the list whose rule decided.

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
