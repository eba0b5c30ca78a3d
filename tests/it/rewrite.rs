//! Custom answers over real sockets (issue #16): `$dnsrewrite` rules answer
//! their records for the type asked and NODATA for the others, or a
//! response code; a rewrite beats a block rule, an allowlist does not undo
//! it, and `@@$dnsrewrite` turns it off; a hosts list with `hosts_addresses
//! = "answer"` serves its addresses and still blocks with its sinks; a
//! rewrite for one group answers that group only; and an image whose
//! answer section is corrupt is refused while the old one keeps serving.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use ralo::answer::{Answer, Rewrite};
use ralo::control::{self, Reply};
use ralo::exchange::SealedImage;
use ralo::image::ImageBuilder;
use ralo::vocab::Outcome;
use tokio::task::block_in_place;

use crate::blocking::is_null_a;
use crate::process::Site;
use crate::ralo::Setup;
use crate::support::client::{Client, answers_a, answers_aaaa, ede, loopback};
use crate::support::upstream::Upstream;

/// The EDE code of a made-up answer (RFC 8914 "Forged Answer").
const EDE_FORGED: u16 = 4;

const NAS: &str = "! the household's names\n\
                   ||nas.test^$dnsrewrite=NOERROR;A;192.168.1.10\n\
                   ||nas.test^$dnsrewrite=192.168.1.11\n\
                   ||nas.test^$dnsrewrite=NOERROR;AAAA;fd00::10\n\
                   ||nas.test^$dnsrewrite=NOERROR;MX;10 mail.nas.test\n\
                   |cname.test^$dnsrewrite=nas.test\n";

#[tokio::test]
async fn a_dnsrewrite_answers_its_records_of_the_type_asked_and_nodata_for_others() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("home", NAS, "")
        .telemetry()
        .start_with("[blocking]\nttl = 42\n")
        .await;
    let client = Client::new(ralo.addr);
    let nas = [
        Ipv4Addr::new(192, 168, 1, 10),
        Ipv4Addr::new(192, 168, 1, 11),
    ];
    for name in ["nas.test", "Printer.NAS.test"] {
        let a = client.udp(name, RecordType::A).await;
        assert_eq!(a.metadata.response_code, ResponseCode::NoError);
        assert_eq!(answers_a(&a), nas, "{name}: one record per rule");
        assert!(a.answers.iter().all(|r| r.ttl == 42), "the blocking TTL");
        let (code, text) = ede(&a).expect("the answer explains itself");
        assert_eq!((code, text.as_str()), (EDE_FORGED, "answered by list home"));
        assert_eq!(ralo.last_outcome(), Outcome::Local);
        assert_eq!(
            ralo.events().last().and_then(|e| e.list.clone()),
            Some("home".into())
        );
    }
    let aaaa = client.tcp("nas.test", RecordType::AAAA).await;
    assert_eq!(
        answers_aaaa(&aaaa),
        vec!["fd00::10".parse::<Ipv6Addr>().unwrap()]
    );
    for qtype in [RecordType::MX, RecordType::TXT, RecordType::HTTPS] {
        let other = client.udp("nas.test", qtype).await;
        assert_eq!(
            other.metadata.response_code,
            ResponseCode::NoError,
            "{qtype}"
        );
        assert!(
            other.answers.is_empty(),
            "{qtype}: NODATA, the MX rule is skipped"
        );
    }
    assert_eq!(up.queries_for("nas.test"), 0, "never forwarded");
    // A CNAME rewrite is skipped: the name resolves upstream.
    let cname = client.udp("cname.test", RecordType::A).await;
    assert!(ede(&cname).is_none_or(|(code, _)| code != EDE_FORGED));
    assert_eq!(up.queries_for("cname.test"), 1);
    ralo.stop().await;
}

#[tokio::test]
async fn a_response_code_rewrite_answers_that_code_and_counts_as_blocked() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list(
            "codes",
            "||refused.test^$dnsrewrite=REFUSED\n|nx.test^$dnsrewrite=NXDOMAIN;;\n\
             ||empty.test^$important,dnsrewrite=NOERROR\n",
            "",
        )
        .telemetry()
        .start()
        .await;
    let client = Client::new(ralo.addr);
    for (name, rcode) in [
        ("refused.test", ResponseCode::Refused),
        ("x.refused.test", ResponseCode::Refused),
        ("nx.test", ResponseCode::NXDomain),
        ("empty.test", ResponseCode::NoError),
    ] {
        let msg = client.udp(name, RecordType::A).await;
        assert_eq!(msg.metadata.response_code, rcode, "{name}");
        assert!(msg.answers.is_empty(), "{name}");
        let (code, text) = ede(&msg).expect("EDE");
        assert_eq!(
            (code, text.as_str()),
            (15, "blocked by list codes ($dnsrewrite)")
        );
        assert_eq!(ralo.last_outcome(), Outcome::Blocked, "{name}");
    }
    let exact = client.udp("www.nx.test", RecordType::A).await;
    assert_eq!(
        up.queries_for("www.nx.test"),
        1,
        "`|nx.test^` is for the name alone: {exact:?}"
    );
    assert_eq!(up.queries(), 1);
    ralo.stop().await;
}

#[tokio::test]
async fn a_rewrite_beats_block_and_allow_rules_and_an_exception_turns_it_off() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("ads", "||tracker.test^\n", "")
        .list(
            "rewrites",
            "||tracker.test^$dnsrewrite=10.0.0.1\n@@||ads.tracker.test^$dnsrewrite\n\
             @@||www.tracker.test^\n",
            "",
        )
        .allowlist("allow", "home.tracker.test\n")
        .start()
        .await;
    let client = Client::new(ralo.addr);
    let ten = vec![Ipv4Addr::new(10, 0, 0, 1)];
    assert_eq!(
        answers_a(&client.udp("tracker.test", RecordType::A).await),
        ten
    );
    assert_eq!(
        answers_a(&client.udp("www.tracker.test", RecordType::A).await),
        ten,
        "an exception lets a blocked name through; it does not undo a rewrite"
    );
    // A rewrite to an A record answers an AAAA question with NODATA, not
    // with the block rule's `::`.
    let aaaa = client.udp("tracker.test", RecordType::AAAA).await;
    assert_eq!(aaaa.metadata.response_code, ResponseCode::NoError);
    assert!(aaaa.answers.is_empty(), "{aaaa:?}");
    assert_eq!(ede(&aaaa).map(|e| e.0), Some(EDE_FORGED));
    // The exception turns the rewrite off: the block rule decides.
    let off = client.udp("x.ads.tracker.test", RecordType::A).await;
    assert!(is_null_a(&off), "{off:?}");
    assert_eq!(ede(&off).map(|e| e.1), Some("blocked by list ads".into()));
    assert_eq!(up.queries(), 0);
    // The household's allowlist beats the rewrite too, as AdGuard Home
    // asks its allowlists first: the name goes upstream.
    let home = client.udp("home.tracker.test", RecordType::A).await;
    assert_ne!(answers_a(&home), ten, "{home:?}");
    assert_eq!(up.queries_for("home.tracker.test"), 1);
    ralo.stop().await;
}

#[tokio::test]
async fn a_hosts_list_that_answers_serves_its_addresses_and_blocks_with_its_sinks() {
    let up = Upstream::standard().await;
    let hosts = "192.168.1.10 nas.lan\nfd00::10 nas.lan\n0.0.0.0 ads.example.com\n\
                 127.0.0.1 tracker.example.com\n";
    let ralo = Setup::new(up.addr())
        .list(
            "home",
            hosts,
            "hosts_addresses = \"answer\"\nsubdomains = true",
        )
        .list("plain", "192.168.1.20 printer.lan\n", "")
        .start()
        .await;
    let client = Client::new(ralo.addr);
    let a = client.udp("NAS.lan", RecordType::A).await;
    assert_eq!(answers_a(&a), vec![Ipv4Addr::new(192, 168, 1, 10)]);
    let aaaa = client.udp("nas.lan", RecordType::AAAA).await;
    assert_eq!(
        answers_aaaa(&aaaa),
        vec!["fd00::10".parse::<Ipv6Addr>().unwrap()]
    );
    assert!(
        !answers_a(&client.udp("www.nas.lan", RecordType::A).await)
            .contains(&Ipv4Addr::new(192, 168, 1, 10)),
        "an answered hosts name is the name alone, whatever `subdomains` says"
    );
    assert_eq!(up.queries_for("www.nas.lan"), 1);
    assert!(is_null_a(
        &client.udp("ads.example.com", RecordType::A).await
    ));
    assert!(is_null_a(
        &client.udp("x.tracker.example.com", RecordType::A).await
    ));
    // Without the key (the default, "block"), every hosts line blocks.
    assert!(is_null_a(&client.udp("printer.lan", RecordType::A).await));
    assert_eq!(up.queries_for("nas.lan"), 0);
    ralo.stop().await;
}

#[tokio::test]
async fn a_rewrite_for_one_group_answers_its_clients_only() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list(
            "kids",
            "||ads.tracker.test^$dnsrewrite=REFUSED\n",
            "groups = [\"kids\"]",
        )
        .toml("[[groups]]\nname = \"kids\"\nclients = [\"127.0.0.2\"]\n")
        .start()
        .await;
    let client = Client::new(ralo.addr);
    let kid = client
        .udp_from(loopback(2), "ads.tracker.test", RecordType::A)
        .await
        .expect("an answer");
    assert_eq!(kid.metadata.response_code, ResponseCode::Refused);
    let adult = client
        .udp_from(loopback(1), "ads.tracker.test", RecordType::A)
        .await
        .expect("an answer");
    assert_eq!(answers_a(&adult), vec![Ipv4Addr::new(192, 0, 2, 66)]);
    ralo.stop().await;
}

/// An image whose one list answers `nas.rewrite.test` with 192.168.1.10.
fn rewrite_image(generation: u64) -> Vec<u8> {
    let mut builder = ImageBuilder::new();
    let list = builder.add_list("rewrite", false);
    let answer = Rewrite::To(Answer::A(Ipv4Addr::new(192, 168, 1, 10)));
    assert!(builder.add_rewrite(list, "nas.rewrite.test", true, answer, 1));
    builder.build(generation)
}

/// Where the answer section lies (header offsets 256 and 264).
fn answer_section(bytes: &[u8]) -> (usize, usize) {
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(w) as usize
    };
    (word(256), word(264))
}

/// Rewrites the checksum after a deliberate change, so the structure checks
/// (not the checksum) must catch it.
fn reseal(bytes: &mut [u8]) {
    let sum = xxhash_rust::xxh3::xxh3_64(&bytes[24..]);
    bytes[16..24].copy_from_slice(&sum.to_le_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_with_a_bad_answer_section_are_refused_and_the_old_one_keeps_serving() {
    let up = Upstream::standard().await;
    let site = Site::new(up.addr(), "");
    let text = std::fs::read_to_string(site.config()).expect("config");
    let text = text.replacen("[server]\n", "[server]\nspawn_updater = false\n", 1);
    std::fs::write(site.config(), text).expect("config");
    let mut server = block_in_place(|| site.serve());
    let client = Client::new(server.addr);
    let publish = |bytes: &[u8], generation| {
        let sealed = SealedImage::create(bytes, "rewrite").expect("memfd");
        block_in_place(|| {
            control::publish(&site.socket(), sealed, generation, Duration::from_secs(5))
        })
        .expect("publish")
    };
    assert_eq!(
        publish(&rewrite_image(1), 1),
        Reply::Accepted { generation: 1 }
    );
    let nas = vec![Ipv4Addr::new(192, 168, 1, 10)];
    assert_eq!(
        answers_a(&client.udp("nas.rewrite.test", RecordType::A).await),
        nas
    );

    // A changed byte without a new checksum.
    let mut flipped = rewrite_image(2);
    let (at, _) = answer_section(&flipped);
    flipped[at + 24] ^= 1;
    let Reply::Refused { generation, reason } = publish(&flipped, 2) else {
        panic!("a flipped answer is refused");
    };
    assert_eq!(generation, 1);
    assert!(reason.contains("checksum"), "{reason}");

    // A record of a type ralo never writes (TXT), checksum right.
    let mut txt = rewrite_image(2);
    txt[at + 12] = 16;
    reseal(&mut txt);
    let Reply::Refused { reason, .. } = publish(&txt, 2) else {
        panic!("an answer of an unknown type is refused");
    };
    assert!(reason.contains("answer"), "{reason}");

    // A section that is not whole records.
    let mut short = rewrite_image(2);
    let (_, len) = answer_section(&short);
    short[264..272].copy_from_slice(&(len as u64 - 8).to_le_bytes());
    reseal(&mut short);
    let Reply::Refused { reason, .. } = publish(&short, 2) else {
        panic!("a torn answer section is refused");
    };
    assert!(reason.contains("answer section"), "{reason}");

    assert!(server.alive(), "server died; log:\n{}", server.log());
    let still = client.udp("x.nas.rewrite.test", RecordType::A).await;
    assert_eq!(answers_a(&still), nas, "the old image serves on");
}
