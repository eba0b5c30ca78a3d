//! The one decision, over real sockets: allow beats block through a CNAME
//! chain and for canaries, the house's reverse names stay home, answers keep
//! the client's case (from the cache too), and `ralo check` says what the
//! server does.

use std::net::{IpAddr, Ipv4Addr};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use ralo::domain::Domain;
use ralo::vocab::Outcome;

use crate::ralo::Setup;
use crate::support::client::{Client, Transport, answers_a, answers_cname, ede, query};
use crate::support::upstream::Upstream;

const BLOCKS: &str = "||tracker.test^\n||ads.example.com^\n||use-application-dns.net^\n";

#[tokio::test]
async fn an_allowlisted_alias_of_a_blocked_name_gets_the_real_chain() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("ads", BLOCKS, "")
        .allowlist("mine", "cname-to-blocked.example.com\n")
        .start()
        .await;
    let client = Client::new(ralo.addr);
    for transport in [Transport::Udp, Transport::Tcp, Transport::Udp] {
        let msg = client
            .expect(
                &query("cname-to-blocked.example.com", RecordType::A),
                transport,
            )
            .await;
        assert_eq!(answers_cname(&msg), ["ads.tracker.test"], "{msg:?}");
        assert_eq!(answers_a(&msg), [Ipv4Addr::new(192, 0, 2, 66)], "{msg:?}");
        assert_eq!(ede(&msg), None, "not blocked: {msg:?}");
    }
    assert_eq!(
        up.queries_for("cname-to-blocked.example.com"),
        1,
        "then cached"
    );
    ralo.stop().await;
}

#[tokio::test]
async fn an_alias_of_a_blocked_name_is_blocked_without_an_allow_rule() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr()).list("ads", BLOCKS, "").start().await;
    let client = Client::new(ralo.addr);
    for _ in 0..2 {
        let msg = client
            .udp("cname-to-blocked.example.com", RecordType::A)
            .await;
        assert_eq!(answers_a(&msg), [Ipv4Addr::UNSPECIFIED], "{msg:?}");
        let (code, text) = ede(&msg).expect("an EDE");
        assert_eq!(code, 15);
        assert!(text.contains("ads") && text.contains("CNAME"), "{text}");
    }
    ralo.stop().await;
}

#[tokio::test]
async fn an_allowlisted_canary_is_answered_from_upstream() {
    let up = Upstream::builder()
        .a("use-application-dns.net", "192.0.2.53")
        .a("mask.icloud.com", "192.0.2.54")
        .start()
        .await;
    let ralo = Setup::new(up.addr())
        .list("ads", BLOCKS, "")
        .allowlist("mine", "use-application-dns.net\nmask.icloud.com\n")
        .start()
        .await;
    let client = Client::new(ralo.addr);
    let doh = client.udp("use-application-dns.net", RecordType::A).await;
    assert_eq!(answers_a(&doh), [Ipv4Addr::new(192, 0, 2, 53)], "{doh:?}");
    let relay = client.udp("mask.icloud.com", RecordType::A).await;
    assert_eq!(
        answers_a(&relay),
        [Ipv4Addr::new(192, 0, 2, 54)],
        "{relay:?}"
    );
    let other = client.udp("mask-h2.icloud.com", RecordType::A).await;
    assert_eq!(other.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(ede(&other).map(|e| e.0), Some(15), "still a canary");
    assert_eq!(up.queries_for("mask-h2.icloud.com"), 0);
    ralo.stop().await;
}

#[tokio::test]
async fn a_blocklisted_canary_is_still_nxdomain() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr()).list("ads", BLOCKS, "").start().await;
    let msg = Client::new(ralo.addr)
        .udp("use-application-dns.net", RecordType::A)
        .await;
    assert_eq!(
        msg.metadata.response_code,
        ResponseCode::NXDomain,
        "{msg:?}"
    );
    assert_eq!(up.queries(), 0);
    ralo.stop().await;
}

#[tokio::test]
async fn reverse_lookups_of_the_house_never_leave_it() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr()).start().await;
    let client = Client::new(ralo.addr);
    let loopback6 = format!("1.{}ip6.arpa", "0.".repeat(31));
    for name in ["1.0.0.127.in-addr.arpa", loopback6.as_str()] {
        let msg = client.udp(name, RecordType::PTR).await;
        let targets: Vec<String> = msg
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::PTR(ptr) => Some(ptr.0.to_ascii()),
                _ => None,
            })
            .collect();
        assert_eq!(targets, ["localhost."], "{name}: {msg:?}");
    }
    for name in [
        "7.1.64.100.in-addr.arpa",
        "9.9.127.100.in-addr.arpa",
        "1.1.168.192.in-addr.arpa",
        "3.2.1.10.in-addr.arpa",
        "5.0.20.172.in-addr.arpa",
        "4.3.254.169.in-addr.arpa",
        &format!("{}d.f.ip6.arpa", "1.".repeat(30)),
        &format!("{}8.e.f.ip6.arpa", "1.".repeat(29)),
    ] {
        let msg = client.udp(name, RecordType::PTR).await;
        assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain, "{name}");
    }
    assert_eq!(
        up.queries(),
        0,
        "nothing of the house was forwarded: {:?}",
        up.seen()
    );
    client.udp("8.8.8.8.in-addr.arpa", RecordType::PTR).await;
    client
        .udp("1.1.128.100.in-addr.arpa", RecordType::PTR)
        .await;
    assert_eq!(up.queries(), 2, "public reverse names are forwarded");
    ralo.stop().await;
}

/// The owner names of the answer section, as sent.
fn owners(msg: &Message) -> Vec<String> {
    msg.answers.iter().map(|r| r.name.to_ascii()).collect()
}

#[tokio::test]
async fn answers_keep_the_client_case_from_upstream_cache_and_lists() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr()).list("ads", BLOCKS, "").start().await;
    let client = Client::new(ralo.addr);
    for (name, transport) in [
        ("ALLOWED.example.COM", Transport::Udp),
        ("allowed.Example.com", Transport::Udp),
        ("aLLoWeD.eXaMpLe.cOm", Transport::Tcp),
    ] {
        let msg = client.expect(&query(name, RecordType::A), transport).await;
        assert_eq!(msg.queries[0].name().to_ascii(), format!("{name}."));
        assert_eq!(owners(&msg), [format!("{name}.")], "{msg:?}");
        assert_eq!(answers_a(&msg), [Ipv4Addr::new(192, 0, 2, 1)]);
    }
    assert_eq!(
        up.queries_for("allowed.example.com"),
        1,
        "two came from the cache"
    );
    let chain = client.udp("Alias.EXAMPLE.com", RecordType::A).await;
    assert_eq!(owners(&chain)[0], "Alias.EXAMPLE.com.", "{chain:?}");
    let chain = client.udp("ALIAS.example.com", RecordType::A).await;
    assert_eq!(owners(&chain)[0], "ALIAS.example.com.", "{chain:?}");
    let blocked = client.udp("X.Ads.Example.Com", RecordType::A).await;
    assert_eq!(owners(&blocked), ["X.Ads.Example.Com."]);
    let missing = client.udp("NoSuch.Example.COM", RecordType::A).await;
    assert_eq!(missing.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(missing.queries[0].name().to_ascii(), "NoSuch.Example.COM.");
    ralo.stop().await;
}

#[tokio::test]
async fn ralo_check_and_the_server_never_disagree() {
    let up = Upstream::builder()
        .a("ads.example.com", "192.0.2.10")
        .a("www.ads.example.com", "192.0.2.11")
        .a("exact.example.net", "192.0.2.12")
        .a("deep.exact.example.net", "192.0.2.13")
        .a("kept.ads.example.com", "192.0.2.14")
        .a("self.example.org", "192.0.2.15")
        .a("sub.self.example.org", "192.0.2.16")
        .cname("alias.example.com", "ads.example.com")
        .cname("plain-alias.example.com", "ads.example.com")
        .a("use-application-dns.net", "192.0.2.17")
        .a("fine.example.com", "192.0.2.18")
        .start()
        .await;
    // `self.example.org`: blocked and excepted in the same list.
    let list = "||ads.example.com^\n0.0.0.0 exact.example.net\n||self.example.org^\n@@||sub.self.example.org^\n";
    let ralo = Setup::new(up.addr())
        .telemetry()
        .list("ads", list, "")
        .allowlist(
            "mine",
            "kept.ads.example.com\nalias.example.com\nuse-application-dns.net\n",
        )
        .start_with("[local]\nrecords = { \"nas.home.arpa\" = [\"192.168.1.10\"] }\n")
        .await;
    let client = Client::new(ralo.addr);
    let table = [
        ("ads.example.com", Outcome::Blocked),
        ("www.ads.example.com", Outcome::Blocked),
        ("exact.example.net", Outcome::Blocked),
        ("deep.exact.example.net", Outcome::Forwarded),
        ("kept.ads.example.com", Outcome::Allowed),
        ("self.example.org", Outcome::Blocked),
        ("sub.self.example.org", Outcome::Allowed),
        ("alias.example.com", Outcome::Allowed),
        ("use-application-dns.net", Outcome::Forwarded),
        ("mask.icloud.com", Outcome::Blocked),
        ("nas.home.arpa", Outcome::Local),
        ("fine.example.com", Outcome::Forwarded),
    ];
    for (name, expected) in table {
        let domain = Domain::parse(name).expect("a name");
        let said = ralo.check(&domain, IpAddr::from(Ipv4Addr::LOCALHOST));
        let msg = client.udp(name, RecordType::A).await;
        let served = ralo.last_outcome();
        let sinkholed = answers_a(&msg) == [Ipv4Addr::UNSPECIFIED]
            || msg.metadata.response_code == ResponseCode::NXDomain;
        assert_eq!(
            said.blocked_now, sinkholed,
            "{name}: check said {}",
            said.text
        );
        assert_eq!(said.blocked_now, served == Outcome::Blocked, "{name}");
        // Blocked, local and allowed-over-a-block are the same words; an
        // allowlisted alias counts as allowed only once its answer shows
        // the blocked target.
        let agree = said.outcome == served
            || (said.outcome == Outcome::Forwarded && served == Outcome::Allowed);
        assert!(
            agree,
            "{name}: check {:?}, server {served:?}\n{}",
            said.outcome, said.text
        );
        assert_eq!(served, expected, "{name}: {msg:?}");
    }
    // `plain-alias` is not allowlisted: check sees a clear name, the
    // server blocks its answer's target.
    let msg = client.udp("plain-alias.example.com", RecordType::A).await;
    assert_eq!(answers_a(&msg), [Ipv4Addr::UNSPECIFIED]);
    ralo.stop().await;
}

/// An image of generation `generation` blocking `names` and their subdomains.
fn image_blocking(generation: u64, names: &[&str]) -> ralo::resolve::ServedImage {
    let mut builder = ralo::image::ImageBuilder::new();
    let list = builder.add_list("later", false);
    for name in names {
        builder.add_rule(list, name, true, false);
    }
    let sealed = ralo::exchange::SealedImage::create(&builder.build(generation), "test-later")
        .expect("memfd");
    ralo::image::Image::open(sealed.map().expect("map")).expect("opens")
}

#[tokio::test]
async fn a_cached_answer_is_screened_again_under_a_new_image() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr()).start().await;
    let client = Client::new(ralo.addr);
    for name in ["allowed.example.com", "alias.example.com"] {
        for _ in 0..3 {
            let msg = client.udp(name, RecordType::A).await;
            assert_eq!(answers_a(&msg), [Ipv4Addr::new(192, 0, 2, 1)], "{name}");
        }
    }
    assert_eq!(up.queries(), 2, "answered from the cache");
    ralo.resolver
        .swap_image(image_blocking(2, &["allowed.example.com"]));
    for name in ["allowed.example.com", "alias.example.com"] {
        let msg = client.udp(name, RecordType::A).await;
        assert_eq!(answers_a(&msg), [Ipv4Addr::UNSPECIFIED], "{name}: {msg:?}");
    }
    ralo.resolver.swap_image(image_blocking(3, &[]));
    let msg = client.udp("alias.example.com", RecordType::A).await;
    assert_eq!(
        answers_a(&msg),
        [Ipv4Addr::new(192, 0, 2, 1)],
        "unblocked again"
    );
    assert_eq!(up.queries(), 2, "all from the cache");
    ralo.stop().await;
}
