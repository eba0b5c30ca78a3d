//! Malformed queries never crash the server: too-short packets are dropped,
//! unparseable ones with a readable header get FORMERR, responses (QR=1) are
//! never answered, and a good query is answered right after each.

use std::time::Duration;

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::ralo::Setup;
use crate::support::client::{Client, Transport, answers_a, query};
use crate::support::upstream::Upstream;

const WAIT: Duration = Duration::from_millis(300);

async fn canary(client: &Client) {
    let msg = client.udp("allowed.example.com", RecordType::A).await;
    assert_eq!(answers_a(&msg).len(), 1, "the server still answers");
}

fn header(id: u16, flags: u16, qd: u16, an: u16) -> Vec<u8> {
    let mut out = Vec::new();
    for field in [id, flags, qd, an, 0, 0] {
        out.extend_from_slice(&field.to_be_bytes());
    }
    out
}

#[tokio::test]
async fn junk_packets_then_a_good_answer() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr()).start().await;
    let client = Client::new(ralo.addr);

    for short in [&b""[..], b"\x12", b"\x12\x34\x01\x00\x00"] {
        assert!(
            client.send_raw_udp(short, WAIT).await.is_none(),
            "a packet shorter than a header is dropped"
        );
        canary(&client).await;
    }

    // A header claiming one question, followed by garbage.
    let mut garbage = header(0xbeef, 0x0100, 1, 0);
    garbage.extend_from_slice(&[0xff; 7]);
    let reply = client
        .send_raw_udp(&garbage, WAIT)
        .await
        .expect("FORMERR for a readable header");
    let reply = Message::from_vec(&reply).expect("a well-formed reply");
    assert_eq!(reply.metadata.id, 0xbeef);
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
    canary(&client).await;

    // A compression pointer to itself.
    let mut looped = header(0x0101, 0x0100, 1, 0);
    looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    let reply = client
        .send_raw_udp(&looped, WAIT)
        .await
        .map(|r| Message::from_vec(&r).map(|m| m.metadata.response_code));
    assert!(
        matches!(reply, None | Some(Ok(ResponseCode::FormErr))),
        "{reply:?}"
    );
    canary(&client).await;

    // A response (QR=1) is never answered: no reflection loops.
    let mut response = query("allowed.example.com", RecordType::A);
    response.metadata.message_type = hickory_proto::op::MessageType::Response;
    let bytes = response.to_vec().expect("encode");
    assert!(client.send_raw_udp(&bytes, WAIT).await.is_none());
    canary(&client).await;

    // No question at all, and two questions.
    let empty = header(0x0202, 0x0100, 0, 0);
    let reply = Message::from_vec(&client.send_raw_udp(&empty, WAIT).await.expect("reply"))
        .expect("decode");
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
    let mut two = query("allowed.example.com", RecordType::A);
    two.add_query(hickory_proto::op::Query::query(
        crate::support::client::fqdn("mail.example.com"),
        RecordType::MX,
    ));
    let reply = client.expect(&two, Transport::Udp).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
    canary(&client).await;

    // An opcode other than QUERY.
    let mut notify = query("allowed.example.com", RecordType::SOA);
    notify.metadata.op_code = OpCode::Notify;
    let reply = client.expect(&notify, Transport::Udp).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NotImp);
    canary(&client).await;

    // EDNS version 1.
    let mut v1 = query("allowed.example.com", RecordType::A);
    v1.edns.as_mut().expect("edns").set_version(1);
    let reply = client.expect(&v1, Transport::Udp).await;
    // BADVERS and BADSIG share code 16; hickory decodes it as BADSIG.
    assert_eq!(u16::from(reply.metadata.response_code), 16, "BADVERS");

    // Garbage over TCP: a length prefix longer than the body, then close.
    assert!(
        client
            .send_raw_tcp(&[0x00, 0x40, 1, 2, 3], WAIT)
            .await
            .is_none()
    );
    let zero = client.send_raw_tcp(&[0x00, 0x00], WAIT).await;
    assert!(zero.is_none() || zero.is_some_and(|r| r.len() >= 2));
    canary(&client).await;
    let tcp = client.tcp("allowed.example.com", RecordType::A).await;
    assert_eq!(answers_a(&tcp).len(), 1);
    ralo.stop().await;
}

/// A question whose name ends in a compression pointer into the header
/// (offset 2: the flags, read as a label length) decodes in the query, but
/// the response's flags differ there (QR=1); the question is echoed written
/// out in full, so the answer still decodes.
#[tokio::test]
async fn question_pointing_into_the_header_gets_a_decodable_answer() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr()).start().await;
    let client = Client::new(ralo.addr);
    // QUERY: flags 0x01 0x00 read as a 1-byte label `\0`, then the root.
    // IQUERY (opcode 1, answered NOTIMP): 0x08 reads as an 8-byte label
    // from the rest of the header, then the last byte as the root.
    let cases: [(u16, &[u8]); 2] = [(0x0100, &[0]), (0x0800, &[0, 0, 1, 0, 0, 0, 0, 0])];
    for (flags, label) in cases {
        let mut query = header(0x0c0c, flags, 1, 0);
        query.extend_from_slice(&[3, b'w', b'w', b'w', 0xc0, 0x02, 0, 1, 0, 1]);
        let reply = client
            .send_raw_udp(&query, WAIT)
            .await
            .expect("an answer to a decodable query");
        let reply = Message::from_vec(&reply).expect("the answer decodes");
        assert_eq!(reply.metadata.id, 0x0c0c);
        let [echoed] = reply.queries.as_slice() else {
            panic!("one question echoed: {reply:?}");
        };
        let labels: Vec<&[u8]> = echoed.name().iter().collect();
        assert_eq!(labels, [&b"www"[..], label]);
    }
    canary(&client).await;
    ralo.stop().await;
}
