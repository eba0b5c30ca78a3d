//! Regex rules over real sockets: a `format = "regex"` list blocks the
//! names its regexes match (with the EDE naming the list) and lets the
//! others through; an allow regex beats an exact block; `;querytype=`
//! restricts a regex to its types; a regex list for one group blocks for
//! that group's clients only; a CNAME to a regex-blocked name is blocked;
//! an adblock `/regex/` line blocks too.

use std::net::Ipv4Addr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::blocking::is_null_a;
use crate::ralo::Setup;
use crate::support::client::{Client, answers_a, ede, loopback};
use crate::support::upstream::Upstream;

/// A Pi-hole style regex list; `ads.tracker.test` is in the upstream's
/// zone, `www.tiktokv.com` is not.
const REGEXES: &str = "# Pi-hole regex list\n\
                       ^ads?[0-9]*\\.tracker\\.\n\
                       (^|\\.)tiktokv?\\.com$\n\
                       (unclosed\n\
                       ^mx\\.example\\.com$;querytype=AAAA\n";

#[tokio::test]
async fn a_regex_list_blocks_matching_names_and_lets_the_others_through() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("regex", REGEXES, "format = \"regex\"")
        .start()
        .await;
    let client = Client::new(ralo.addr);
    let msg = client.udp("ads.tracker.test", RecordType::A).await;
    assert!(is_null_a(&msg), "{msg:?}");
    let (code, text) = ede(&msg).expect("EDE option present");
    assert_eq!(code, 15);
    assert!(text.contains("regex"), "{text}");
    assert!(is_null_a(
        &client.udp("WWW.TikTokV.com", RecordType::A).await
    ));
    assert!(is_null_a(&client.tcp("tiktok.com", RecordType::A).await));
    let fine = client.udp("allowed.example.com", RecordType::A).await;
    assert_eq!(answers_a(&fine), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    let near = client.udp("nottiktok.com", RecordType::A).await;
    assert_eq!(near.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(up.queries_for("ads.tracker.test"), 0);
    assert_eq!(up.queries_for("www.tiktokv.com"), 0);
    ralo.stop().await;
}

#[tokio::test]
async fn an_allow_regex_beats_an_exact_block() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("hosts", "0.0.0.0 ads.tracker.test\n0.0.0.0 mx.example.com\n", "")
        .file("allow-regex.txt", "^ads\\.tracker\\.test$\n")
        .toml("[[allowlists]]\nname = \"allow-regex\"\npath = \"allow-regex.txt\"\nformat = \"regex\"\n")
        .start()
        .await;
    let client = Client::new(ralo.addr);
    let allowed = client.udp("ads.tracker.test", RecordType::A).await;
    assert_eq!(answers_a(&allowed), vec![Ipv4Addr::new(192, 0, 2, 66)]);
    assert!(is_null_a(
        &client.udp("mx.example.com", RecordType::A).await
    ));
    ralo.stop().await;
}

#[tokio::test]
async fn querytype_restricts_a_regex_to_its_types() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("regex", REGEXES, "format = \"regex\"")
        .start()
        .await;
    let client = Client::new(ralo.addr);
    let a = client.udp("mx.example.com", RecordType::A).await;
    assert_eq!(
        answers_a(&a),
        vec![Ipv4Addr::new(192, 0, 2, 25)],
        "A is not blocked"
    );
    let aaaa = client.udp("mx.example.com", RecordType::AAAA).await;
    assert_eq!(aaaa.metadata.response_code, ResponseCode::NoError);
    assert!(
        ede(&aaaa).is_some_and(|(code, _)| code == 15),
        "AAAA is blocked: {aaaa:?}"
    );
    ralo.stop().await;
}

#[tokio::test]
async fn a_regex_list_for_one_group_blocks_for_its_clients_only() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list(
            "social",
            "(^|\\.)tracker\\.test$\n",
            "format = \"regex\"\ngroups = [\"kids\"]",
        )
        .toml("[[groups]]\nname = \"kids\"\nclients = [\"127.0.0.2\"]\n")
        .start()
        .await;
    let client = Client::new(ralo.addr);
    for _ in 0..2 {
        let kid = client
            .udp_from(loopback(2), "ads.tracker.test", RecordType::A)
            .await
            .expect("an answer");
        assert!(is_null_a(&kid), "the kids' tablet: {kid:?}");
        let adult = client
            .udp_from(loopback(1), "ads.tracker.test", RecordType::A)
            .await
            .expect("an answer");
        assert_eq!(answers_a(&adult), vec![Ipv4Addr::new(192, 0, 2, 66)]);
    }
    ralo.stop().await;
}

#[tokio::test]
async fn a_cname_to_a_regex_blocked_name_is_blocked() {
    crate::blocking::cname_to_a_name_the_list_blocks_is_blocked(
        "regex",
        "^ads\\.tracker\\.test$\n",
        "format = \"regex\"",
    )
    .await;
}

#[tokio::test]
async fn an_adblock_slash_rule_is_a_regex() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list(
            "adblock",
            "! title\n/^ads?\\.tracker\\./\n||mx.example.com^\n",
            "",
        )
        .start()
        .await;
    let client = Client::new(ralo.addr);
    assert!(is_null_a(
        &client.udp("ads.tracker.test", RecordType::A).await
    ));
    assert!(is_null_a(
        &client.udp("mx.example.com", RecordType::A).await
    ));
    let fine = client.udp("allowed.example.com", RecordType::A).await;
    assert_eq!(answers_a(&fine), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    ralo.stop().await;
}
