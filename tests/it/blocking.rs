//! Blocking: each list format with its exact/subtree rule, allow beating
//! block, every mode and query type, EDE naming the list, CNAME cloaking.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use crate::ralo::Setup;
use crate::support::client::{Client, answers_a, answers_aaaa, ede};
use crate::support::upstream::Upstream;

/// A NOERROR answer whose only A record is the sinkhole's `0.0.0.0`.
pub fn is_null_a(msg: &hickory_proto::op::Message) -> bool {
    msg.metadata.response_code == ResponseCode::NoError
        && answers_a(msg) == vec![Ipv4Addr::UNSPECIFIED]
}

#[tokio::test]
async fn hosts_entry_blocks_exact_name_only() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("hosts", "# comment\n0.0.0.0 ads.example.com\t tracker.example.com # inline\r\n127.0.0.1 localhost\n", "")
        .start()
        .await;
    let client = Client::new(ralo.addr);
    assert!(is_null_a(
        &client.udp("ads.example.com", RecordType::A).await
    ));
    assert!(is_null_a(
        &client.udp("tracker.example.com", RecordType::A).await
    ));
    assert!(is_null_a(
        &client.tcp("ads.example.com", RecordType::A).await
    ));
    let sub = client.udp("www.ads.example.com", RecordType::A).await;
    assert_eq!(
        sub.metadata.response_code,
        ResponseCode::NXDomain,
        "subdomain of a hosts entry is not blocked"
    );
    let parent = client.udp("example.com", RecordType::A).await;
    assert!(
        answers_a(&parent).is_empty(),
        "parent of a blocked name is not blocked"
    );
    assert_eq!(
        up.queries_for("ads.example.com"),
        0,
        "blocked names never reach upstream"
    );
    assert_eq!(up.queries_for("www.ads.example.com"), 1);
    ralo.stop().await;
}

#[tokio::test]
async fn hosts_list_with_subdomains_key_blocks_subtree() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("hosts", "0.0.0.0 tracker.test\n", "subdomains = true")
        .start()
        .await;
    let client = Client::new(ralo.addr);
    assert!(is_null_a(&client.udp("tracker.test", RecordType::A).await));
    assert!(is_null_a(
        &client.udp("ads.tracker.test", RecordType::A).await
    ));
    assert!(is_null_a(
        &client.udp("a.b.c.tracker.test", RecordType::A).await
    ));
    assert_eq!(up.queries(), 0);
    ralo.stop().await;
}

#[tokio::test]
async fn plain_list_is_exact_and_wildcard_is_subtree() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("plain", "exact.example.com\n*.wild.example.com\n", "")
        .start()
        .await;
    let client = Client::new(ralo.addr);
    assert!(is_null_a(
        &client.udp("exact.example.com", RecordType::A).await
    ));
    assert!(!is_null_a(
        &client.udp("sub.exact.example.com", RecordType::A).await
    ));
    assert!(is_null_a(
        &client.udp("wild.example.com", RecordType::A).await
    ));
    assert!(is_null_a(
        &client.udp("deep.sub.wild.example.com", RecordType::A).await
    ));
    ralo.stop().await;
}

#[tokio::test]
async fn adblock_rule_blocks_subtree_and_exception_allows() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list(
            "adblock",
            "! title\n||tracker.test^\n@@||ads.tracker.test^\n||example.com^$third-party\n",
            "",
        )
        .start()
        .await;
    let client = Client::new(ralo.addr);
    assert!(is_null_a(&client.udp("tracker.test", RecordType::A).await));
    assert!(is_null_a(
        &client.udp("x.tracker.test", RecordType::A).await
    ));
    let allowed = client.udp("ads.tracker.test", RecordType::A).await;
    assert_eq!(
        answers_a(&allowed),
        vec![Ipv4Addr::new(192, 0, 2, 66)],
        "@@ exception beats the block rule"
    );
    let modifier = client.udp("allowed.example.com", RecordType::A).await;
    assert_eq!(
        answers_a(&modifier),
        vec![Ipv4Addr::new(192, 0, 2, 1)],
        "rules with modifiers are skipped"
    );
    ralo.stop().await;
}

#[tokio::test]
async fn allowlist_beats_every_block_rule() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("block", "||example.com^\n", "")
        .allowlist("allow", "allowed.example.com\n")
        .start()
        .await;
    let client = Client::new(ralo.addr);
    let allowed = client.udp("ALLOWED.Example.com", RecordType::A).await;
    assert_eq!(answers_a(&allowed), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    assert_eq!(
        allowed.queries[0].name().to_ascii(),
        "ALLOWED.Example.com.",
        "the client's question is echoed"
    );
    assert!(is_null_a(
        &client.udp("mail.example.com", RecordType::A).await
    ));
    assert!(
        is_null_a(&client.udp("x.allowed.example.com", RecordType::A).await),
        "an exact allow does not cover subdomains"
    );
    ralo.stop().await;
}

#[tokio::test]
async fn null_mode_answers_each_query_type() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("ads", "||tracker.test^\n", "")
        .start_with("[blocking]\nttl = 7\n")
        .await;
    let client = Client::new(ralo.addr);
    let a = client.udp("ads.tracker.test", RecordType::A).await;
    assert_eq!(answers_a(&a), vec![Ipv4Addr::UNSPECIFIED]);
    assert_eq!(a.answers[0].ttl, 7);
    let aaaa = client.udp("ads.tracker.test", RecordType::AAAA).await;
    assert_eq!(answers_aaaa(&aaaa), vec![Ipv6Addr::UNSPECIFIED]);
    for qtype in [
        RecordType::HTTPS,
        RecordType::SVCB,
        RecordType::MX,
        RecordType::TXT,
        RecordType::CNAME,
    ] {
        let msg = client.udp("ads.tracker.test", qtype).await;
        assert_eq!(msg.metadata.response_code, ResponseCode::NoError, "{qtype}");
        assert!(msg.answers.is_empty(), "{qtype}: NODATA");
        let soa = msg
            .authorities
            .iter()
            .find(|r| r.record_type() == RecordType::SOA);
        assert!(
            soa.is_some_and(|r| r.ttl == 7),
            "{qtype}: SOA with the blocked TTL"
        );
    }
    assert_eq!(up.queries(), 0);
    ralo.stop().await;
}

#[tokio::test]
async fn a_badfilter_rule_cancels_the_same_rule_in_every_list() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("big", "||tracker.test^\n||example.com^$important\n", "")
        .list(
            "fixes",
            "||tracker.test^$badfilter\n||example.com^$badfilter\n",
            "",
        )
        .start()
        .await;
    let client = Client::new(ralo.addr);
    // Cancelled: answered from upstream.
    let tracker = client.udp("ads.tracker.test", RecordType::A).await;
    assert_eq!(answers_a(&tracker), vec![Ipv4Addr::new(192, 0, 2, 66)]);
    // Another rule (`$important`) than the one cancelled: still blocked.
    let other = client.udp("allowed.example.com", RecordType::A).await;
    assert_eq!(answers_a(&other), vec![Ipv4Addr::UNSPECIFIED]);
    // ralo check says why the tracker goes through.
    let domain = ralo::domain::Domain::parse("ads.tracker.test").unwrap();
    let client_addr = "127.0.0.1".parse().unwrap();
    let said = ralo.check(&domain, client_addr).text;
    assert!(
        said.contains(
            "rule `||tracker.test^` (line 1 of list `big`) is cancelled by `||tracker.test^$badfilter`, line 1 of list `fixes`"
        ),
        "{said}"
    );
    ralo.stop().await;
}

#[tokio::test]
async fn a_dnstype_rule_blocks_only_the_types_it_names() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("v6", "||allowed.example.com^$dnstype=AAAA\n", "")
        .start()
        .await;
    let client = Client::new(ralo.addr);
    let aaaa = client.udp("allowed.example.com", RecordType::AAAA).await;
    assert_eq!(answers_aaaa(&aaaa), vec![Ipv6Addr::UNSPECIFIED]);
    assert_eq!(ede(&aaaa).map(|e| e.0), Some(15));
    let a = client.udp("allowed.example.com", RecordType::A).await;
    assert_eq!(answers_a(&a), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    ralo.stop().await;
}

#[tokio::test]
async fn ip_mode_answers_the_block_page_address() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("ads", "||tracker.test^\n", "")
        .start_with("[blocking]\nmode = \"ip\"\nipv4 = \"192.168.1.2\"\nipv6 = \"fd00::2\"\n")
        .await;
    let client = Client::new(ralo.addr);
    let a = client.udp("ads.tracker.test", RecordType::A).await;
    assert_eq!(answers_a(&a), vec![Ipv4Addr::new(192, 168, 1, 2)]);
    assert_eq!(ede(&a).map(|e| e.0), Some(15), "still says blocked");
    let aaaa = client.udp("ads.tracker.test", RecordType::AAAA).await;
    assert_eq!(
        answers_aaaa(&aaaa),
        vec!["fd00::2".parse::<Ipv6Addr>().unwrap()]
    );
    let https = client.udp("ads.tracker.test", RecordType::HTTPS).await;
    assert_eq!(https.metadata.response_code, ResponseCode::NoError);
    assert!(https.answers.is_empty(), "other types: NODATA");
    assert_eq!(up.queries(), 0);
    ralo.stop().await;
}

#[tokio::test]
async fn blocked_answer_carries_ede_naming_the_list() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("stevenblack", "0.0.0.0 ads.example.com\n", "")
        .start()
        .await;
    let client = Client::new(ralo.addr);
    let msg = client.udp("ads.example.com", RecordType::A).await;
    let (code, text) = ede(&msg).expect("EDE option present");
    assert_eq!(code, 15, "EDE 15 Blocked");
    assert!(text.contains("stevenblack"), "{text}");
    ralo.stop().await;
}

#[tokio::test]
async fn other_modes_answer_as_named() {
    let up = Upstream::standard().await;
    for (mode, rcode) in [
        ("nxdomain", ResponseCode::NXDomain),
        ("nodata", ResponseCode::NoError),
        ("refused", ResponseCode::Refused),
    ] {
        let ralo = Setup::new(up.addr())
            .list("ads", "||tracker.test^\n", "")
            .start_with(&format!("[blocking]\nmode = \"{mode}\"\n"))
            .await;
        let client = Client::new(ralo.addr);
        for qtype in [RecordType::A, RecordType::AAAA, RecordType::HTTPS] {
            let msg = client.udp("ads.tracker.test", qtype).await;
            assert_eq!(msg.metadata.response_code, rcode, "{mode} {qtype}");
            assert!(msg.answers.is_empty(), "{mode} {qtype}");
            assert_eq!(ede(&msg).map(|e| e.0), Some(15), "{mode} {qtype}");
        }
        ralo.stop().await;
    }
    assert_eq!(up.queries(), 0);
}

/// With one list `name` (`text`, `keys`) blocking `ads.tracker.test`, a
/// name whose answer CNAMEs to it is blocked, the EDE naming the list, and
/// a CNAME to an unlisted name is not.
pub async fn cname_to_a_name_the_list_blocks_is_blocked(name: &str, text: &str, keys: &str) {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr()).list(name, text, keys).start().await;
    let client = Client::new(ralo.addr);
    let msg = client
        .udp("cname-to-blocked.example.com", RecordType::A)
        .await;
    assert!(is_null_a(&msg), "{msg:?}");
    assert!(ede(&msg).is_some_and(|(_, ede)| ede.contains(name)));
    let fine = client.udp("alias.example.com", RecordType::A).await;
    assert!(answers_a(&fine).contains(&Ipv4Addr::new(192, 0, 2, 1)));
    ralo.stop().await;
}

#[tokio::test]
async fn cname_to_blocked_name_is_blocked() {
    cname_to_a_name_the_list_blocks_is_blocked("ads", "ads.tracker.test\n", "").await;
}

#[tokio::test]
async fn canary_name_is_nxdomain_while_blocking() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr()).start().await;
    let msg = Client::new(ralo.addr)
        .udp("use-application-dns.net", RecordType::A)
        .await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(up.queries(), 0);
    ralo.stop().await;
}

#[tokio::test]
async fn local_records_answer_without_upstream() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .start_with("[local]\nrecords = { \"nas.home.arpa\" = [\"192.168.1.10\"] }\n")
        .await;
    let client = Client::new(ralo.addr);
    let msg = client.udp("nas.home.arpa", RecordType::A).await;
    assert_eq!(answers_a(&msg), vec![Ipv4Addr::new(192, 168, 1, 10)]);
    let ptr = client
        .udp("10.1.168.192.in-addr.arpa", RecordType::PTR)
        .await;
    assert!(matches!(&ptr.answers[0].data, RData::PTR(p) if p.0.to_ascii() == "nas.home.arpa."));
    let other = client.udp("printer.local", RecordType::A).await;
    assert_eq!(other.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(up.queries(), 0);
    ralo.stop().await;
}

#[tokio::test]
async fn shipped_default_list_blocks_doubleclick() {
    let up = Upstream::standard().await;
    let list = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/blocklists/default.hosts"
    ))
    .expect("shipped list");
    let ralo = Setup::new(up.addr())
        .list("default", &list, "subdomains = true")
        .start()
        .await;
    let client = Client::new(ralo.addr);
    assert!(is_null_a(
        &client.udp("doubleclick.net", RecordType::A).await
    ));
    assert!(is_null_a(
        &client.udp("ad.doubleclick.net", RecordType::A).await
    ));
    ralo.stop().await;
}
