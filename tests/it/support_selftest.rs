//! Tests of the test helpers themselves: the upstream in `support::upstream`
//! answers, counts, misbehaves and truncates as documented, and the client in
//! `support::client` talks to it over real sockets.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{RData, RecordType};

use crate::support::client::{
    Client, QueryExt, Transport, answers_a, answers_aaaa, answers_cname, answers_txt, ede, query,
};
use crate::support::upstream::{Mode, Upstream, big_txt};

const SHORT: Duration = Duration::from_millis(300);

fn soa_in_authority(msg: &Message) -> (u32, u32) {
    msg.authorities
        .iter()
        .find_map(|r| match &r.data {
            RData::SOA(soa) => Some((r.ttl, soa.minimum)),
            _ => None,
        })
        .expect("an SOA in the authority section")
}

#[tokio::test]
async fn upstream_answers_a_and_aaaa_authoritatively() {
    let upstream = Upstream::standard().await;
    let client = Client::new(upstream.addr());

    let a = client.udp("allowed.example.com", RecordType::A).await;
    assert_eq!(a.metadata.response_code, ResponseCode::NoError);
    assert!(a.metadata.authoritative);
    assert_eq!(answers_a(&a), [Ipv4Addr::new(192, 0, 2, 1)]);
    assert_eq!(a.answers[0].ttl, 300);
    assert!(a.edns.is_some(), "an EDNS query gets an OPT record back");

    let aaaa = client.tcp("Allowed.Example.COM.", RecordType::AAAA).await;
    assert_eq!(
        answers_aaaa(&aaaa),
        ["2001:db8::1".parse::<Ipv6Addr>().unwrap()]
    );

    let short = client.udp("short.example.com", RecordType::A).await;
    assert_eq!(answers_a(&short), [Ipv4Addr::new(192, 0, 2, 2)]);
    assert_eq!(short.answers[0].ttl, 2);
}

#[tokio::test]
async fn upstream_follows_cnames_inside_the_zone() {
    let upstream = Upstream::standard().await;
    let client = Client::new(upstream.addr());

    let alias = client.udp("alias.example.com", RecordType::A).await;
    assert_eq!(answers_cname(&alias), ["allowed.example.com"]);
    assert_eq!(answers_a(&alias), [Ipv4Addr::new(192, 0, 2, 1)]);

    let to_blocked = client
        .udp("cname-to-blocked.example.com", RecordType::A)
        .await;
    assert_eq!(answers_cname(&to_blocked), ["ads.tracker.test"]);
    assert_eq!(answers_a(&to_blocked), [Ipv4Addr::new(192, 0, 2, 66)]);

    let cname_only = client.udp("alias.example.com", RecordType::CNAME).await;
    assert_eq!(cname_only.answers.len(), 1);
}

#[tokio::test]
async fn upstream_answers_mx_and_txt() {
    let upstream = Upstream::builder()
        .txt("note.test", "hello")
        .mx("mail.test", 5, "mx.test")
        .a("mx.test", "192.0.2.5")
        .start()
        .await;
    let client = Client::new(upstream.addr());

    let txt = client.udp("note.test", RecordType::TXT).await;
    assert_eq!(answers_txt(&txt), ["hello"]);

    let mx = client.udp("mail.test", RecordType::MX).await;
    let RData::MX(record) = &mx.answers[0].data else {
        panic!("expected MX, got {:?}", mx.answers);
    };
    assert_eq!(
        (record.preference, record.exchange.to_ascii().as_str()),
        (5, "mx.test.")
    );
}

#[tokio::test]
async fn unknown_name_is_nxdomain_with_root_soa() {
    let upstream = Upstream::standard().await;
    let client = Client::new(upstream.addr());

    let nx = client.udp("nope.example.org", RecordType::A).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert!(nx.answers.is_empty());
    assert_eq!(soa_in_authority(&nx), (60, 60));

    let nodata = client.udp("allowed.example.com", RecordType::TXT).await;
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert!(nodata.answers.is_empty());
    assert_eq!(soa_in_authority(&nodata), (60, 60));

    let empty_non_terminal = client.udp("example.com", RecordType::A).await;
    assert_eq!(
        empty_non_terminal.metadata.response_code,
        ResponseCode::NoError
    );
}

#[tokio::test]
async fn negative_ttl_is_configurable() {
    let upstream = Upstream::builder().negative_ttl(5).start().await;
    let nx = Client::new(upstream.addr())
        .udp("gone.test", RecordType::A)
        .await;
    assert_eq!(soa_in_authority(&nx), (5, 5));
}

#[tokio::test]
async fn upstream_counts_queries_per_transport_and_name() {
    let upstream = Upstream::standard().await;
    let client = Client::new(upstream.addr());

    client.udp("allowed.example.com", RecordType::A).await;
    client.udp("allowed.example.com", RecordType::AAAA).await;
    client.tcp("short.example.com", RecordType::A).await;
    client
        .send(
            &query("nope.test", RecordType::A).with_dnssec_ok().with_cd(),
            Transport::Udp,
        )
        .await
        .expect("an answer");

    assert_eq!(upstream.queries(), 4);
    assert_eq!(upstream.udp_queries(), 3);
    assert_eq!(upstream.tcp_queries(), 1);
    assert_eq!(upstream.queries_for("ALLOWED.example.com."), 2);
    assert_eq!(
        upstream.queries_for_type("allowed.example.com", RecordType::AAAA),
        1
    );
    assert_eq!(upstream.queries_for("short.example.com"), 1);
    assert_eq!(upstream.queries_for("never.asked"), 0);

    let seen = upstream.seen();
    assert_eq!(seen[2].transport, Transport::Tcp);
    let last = &seen[3];
    assert_eq!(last.name, "nope.test");
    assert!(last.dnssec_ok && last.checking_disabled && last.recursion_desired);
    assert_eq!(last.edns_payload, Some(1232));

    upstream.reset_counts();
    assert_eq!(upstream.queries(), 0);
    assert!(upstream.seen().is_empty());
}

#[tokio::test]
async fn silent_upstream_never_answers_but_counts() {
    let upstream = Upstream::standard().await;
    upstream.set_mode(Mode::Silent);
    let client = Client::new(upstream.addr()).with_timeout(SHORT);

    let q = query("allowed.example.com", RecordType::A);
    assert!(client.send(&q, Transport::Udp).await.is_none());
    assert!(client.send(&q, Transport::Tcp).await.is_none());
    assert_eq!(upstream.queries(), 2);

    upstream.set_mode(Mode::Answer);
    assert!(client.send(&q, Transport::Udp).await.is_some());
}

#[tokio::test]
async fn refused_and_servfail_modes_answer_with_those_codes() {
    let upstream = Upstream::standard().await;
    let client = Client::new(upstream.addr());

    upstream.set_mode(Mode::Refused);
    let refused = client.udp("allowed.example.com", RecordType::A).await;
    assert_eq!(refused.metadata.response_code, ResponseCode::Refused);
    assert!(refused.answers.is_empty());

    upstream.set_mode(Mode::ServFail);
    let failed = client.tcp("allowed.example.com", RecordType::A).await;
    assert_eq!(failed.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(upstream.queries(), 2);
}

#[tokio::test]
async fn big_answer_is_truncated_over_udp_and_whole_over_tcp() {
    let upstream = Upstream::standard().await;
    let client = Client::new(upstream.addr());

    for q in [
        query("big.example.com", RecordType::TXT).without_edns(),
        query("big.example.com", RecordType::TXT),
        query("big.example.com", RecordType::TXT).with_payload(4096),
    ] {
        let answer = client.expect(&q, Transport::Udp).await;
        assert!(answer.metadata.truncation, "TC=1 for {:?}", q.edns);
        assert!(answer.answers.is_empty(), "no partial RRset");
        assert_eq!(answer.edns.is_some(), q.edns.is_some());
    }

    let full = client.tcp("big.example.com", RecordType::TXT).await;
    assert!(!full.metadata.truncation);
    let mut texts = answers_txt(&full);
    texts.sort();
    assert_eq!(texts, (0..40).map(big_txt).collect::<Vec<_>>());
}

#[tokio::test]
async fn stopped_upstream_refuses_udp_and_tcp() {
    let upstream = Upstream::standard().await;
    let client = Client::new(upstream.addr()).with_timeout(Duration::from_secs(1));
    assert!(
        client
            .send(&query("allowed.example.com", RecordType::A), Transport::Udp)
            .await
            .is_some()
    );

    upstream.stop().await;
    upstream.stop().await;

    let q = query("allowed.example.com", RecordType::A);
    assert!(client.send(&q, Transport::Udp).await.is_none());
    assert!(client.send(&q, Transport::Tcp).await.is_none());
    let connect = std::net::TcpStream::connect(upstream.addr());
    assert_eq!(
        connect.unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
}

#[tokio::test]
async fn raw_senders_carry_bytes_as_is() {
    let upstream = Upstream::standard().await;
    let client = Client::new(upstream.addr());
    let q = query("allowed.example.com", RecordType::A);
    let bytes = q.to_vec().unwrap();

    let udp = client
        .send_raw_udp(&bytes, SHORT)
        .await
        .expect("a UDP answer");
    let udp = Message::from_vec(&udp).unwrap();
    assert_eq!(udp.metadata.id, q.metadata.id);
    assert_eq!(answers_a(&udp), [Ipv4Addr::new(192, 0, 2, 1)]);

    let mut framed = u16::try_from(bytes.len()).unwrap().to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    let tcp = client
        .send_raw_tcp(&framed, SHORT)
        .await
        .expect("a TCP answer");
    assert_eq!(Message::from_vec(&tcp).unwrap().metadata.id, q.metadata.id);
}

#[tokio::test]
async fn hickory_drops_short_packets_and_formerrs_bad_questions() {
    let upstream = Upstream::standard().await;
    let client = Client::new(upstream.addr());

    // Shorter than a header: no answer at all, and the handler never sees it.
    assert!(client.send_raw_udp(&[1, 2, 3, 4, 5], SHORT).await.is_none());

    // A header announcing one question that is not there: FORMERR, same ID.
    let header = [0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    let answer = client
        .send_raw_udp(&header, SHORT)
        .await
        .expect("a FORMERR");
    let answer = Message::from_vec(&answer).unwrap();
    assert_eq!(answer.metadata.id, 0xabcd);
    assert_eq!(answer.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(upstream.queries(), 0);
}

#[tokio::test]
async fn hickory_ignores_messages_with_qr_set() {
    let upstream = Upstream::standard().await;
    let client = Client::new(upstream.addr());
    let mut q = query("allowed.example.com", RecordType::A);
    q.metadata.message_type = MessageType::Response;

    let answer = client.send_raw_udp(&q.to_vec().unwrap(), SHORT).await;
    assert!(answer.is_none());
    assert_eq!(upstream.queries(), 0);
}

#[tokio::test]
async fn client_can_send_from_another_loopback_address() {
    let upstream = Upstream::standard().await;
    let client = Client::new(upstream.addr());
    let from = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

    let answer = client
        .udp_from(from, "allowed.example.com", RecordType::A)
        .await;
    assert_eq!(
        answers_a(&answer.expect("an answer")),
        [Ipv4Addr::new(192, 0, 2, 1)]
    );
    assert_eq!(upstream.seen()[0].src.ip(), from);
}

#[tokio::test]
async fn pipelined_tcp_queries_share_one_connection() {
    let upstream = Upstream::standard().await;
    let client = Client::new(upstream.addr());
    let queries = [
        query("allowed.example.com", RecordType::A).with_id(1),
        query("short.example.com", RecordType::A).with_id(2),
        query("nope.test", RecordType::A).with_id(3),
    ];

    let answers = client.tcp_pipelined(&queries).await;
    let codes: Vec<_> = answers
        .iter()
        .map(|a| {
            a.as_ref()
                .expect("every query answered")
                .metadata
                .response_code
        })
        .collect();
    assert_eq!(
        codes,
        [
            ResponseCode::NoError,
            ResponseCode::NoError,
            ResponseCode::NXDomain
        ]
    );
    let srcs: Vec<_> = upstream.seen().iter().map(|q| q.src).collect();
    assert!(
        srcs.iter().all(|src| *src == srcs[0]),
        "one connection: {srcs:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn client_works_under_a_paused_clock() {
    let upstream = Upstream::standard().await;
    let client = Client::new(upstream.addr());
    let start = tokio::time::Instant::now();

    client.udp("allowed.example.com", RecordType::A).await;
    client.tcp("allowed.example.com", RecordType::A).await;

    assert!(
        start.elapsed() < Duration::from_secs(1),
        "the clock did not jump"
    );
}

#[test]
fn ede_reads_option_15() {
    let mut msg = Message::query();
    let mut edns = Edns::new();
    let mut data = 15u16.to_be_bytes().to_vec();
    data.extend_from_slice(b"blocked by ralo");
    edns.options_mut().insert(EdnsOption::Unknown(15, data));
    msg.set_edns(edns);

    let decoded = Message::from_vec(&msg.to_vec().unwrap()).unwrap();
    assert_eq!(ede(&decoded), Some((15, "blocked by ralo".to_owned())));
    assert_eq!(ede(&query("x.test", RecordType::A)), None);
}
