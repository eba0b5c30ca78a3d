//! A cached answer in wire form: the records as they follow the question in
//! a response, encoded once by hickory-server's response encoder, with where
//! each TTL sits. The server's fast path copies them into a response and
//! counts the TTLs down; the general path decodes them back into records.
//! Some 100 bytes an answer instead of hickory's records at some 300 bytes
//! each.

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::{Message, Metadata, ResponseCode};
use hickory_proto::rr::RData;
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use hickory_server::zone_handler::MessageResponseBuilder;

use super::answer::{Answer, Sections};

/// An answer's records in wire form, as they follow the question when the
/// question is the entry's lower-case name.
#[derive(Debug)]
pub struct Wire {
    /// Answer, authority and additional records (no OPT).
    pub body: Box<[u8]>,
    /// Offsets into `body` of each record's 4-byte TTL.
    pub ttl_offsets: Box<[u16]>,
    /// Record counts: answer, authority, additional.
    pub counts: [u16; 3],
}

impl Wire {
    /// The records of `answer` after the question `name`/`qtype` (class IN)
    /// as the server encodes them, or `None` when that cannot be done.
    pub fn encode(name: &str, qtype: u16, answer: &Answer) -> Option<Wire> {
        let (packet, question_end) = query(name, qtype)?;
        let src = SocketAddr::from(([127, 0, 0, 1], 53));
        let request = Request::from_bytes(packet, src, Protocol::Udp).ok()?;
        let metadata = Metadata::response_from_request(&request.metadata);
        let s = &answer.sections;
        let response = MessageResponseBuilder::new(&request.queries, None).build(
            metadata,
            s.answers.iter(),
            s.authorities.iter(),
            std::iter::empty(),
            s.additionals.iter(),
        );
        let mut bytes = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut bytes);
        response.destructive_emit(&mut encoder).ok()?;
        let count = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
        let counts = [count(6), count(8), count(10)];
        let body = bytes.get(question_end..)?;
        let records = counts.iter().map(|&c| usize::from(c)).sum();
        let ttl_offsets = ttl_offsets(body, records)?;
        Some(Wire {
            body: body.into(),
            ttl_offsets: ttl_offsets.into(),
            counts,
        })
    }

    /// The records back, each TTL mapped by `ttl`, as an answer with
    /// `rcode` and the AD flag `authentic_data`.
    pub fn decode(
        &self,
        name: &str,
        qtype: u16,
        rcode: ResponseCode,
        authentic_data: bool,
        ttl: impl Fn(u32) -> u32,
    ) -> Option<Answer> {
        let (mut packet, question_end) = query(name, qtype)?;
        packet[2] |= 0x80;
        packet[6..8].copy_from_slice(&self.counts[0].to_be_bytes());
        packet[8..10].copy_from_slice(&self.counts[1].to_be_bytes());
        packet[10..12].copy_from_slice(&self.counts[2].to_be_bytes());
        packet.extend_from_slice(&self.body);
        for &at in self.ttl_offsets.iter() {
            let at = question_end + usize::from(at);
            let field = packet.get_mut(at..at + 4)?;
            let old = u32::from_be_bytes([field[0], field[1], field[2], field[3]]);
            field.copy_from_slice(&ttl(old).to_be_bytes());
        }
        let message = Message::from_vec(&packet).ok()?;
        Some(Answer {
            rcode,
            sections: Arc::new(Sections {
                answers: message.answers,
                authorities: message.authorities,
                additionals: message.additionals,
            }),
            ede: None,
            authentic_data,
        })
    }
}

/// The CNAME targets in `answer`'s answer section, lower case, without the
/// trailing dot (what the blocklist is asked about).
pub fn cname_targets(answer: &Answer) -> Box<[Box<str>]> {
    answer
        .sections
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::CNAME(target) => {
                let text = target.0.to_ascii().to_ascii_lowercase();
                Some(text.trim_end_matches('.').into())
            }
            _ => None,
        })
        .collect()
}

/// A query for `name`/`qtype` class IN with RD set, and where its question
/// ends. Only names of letters, digits, `-` and `_` (the text is then the
/// name exactly); others are not kept in wire form.
fn query(name: &str, qtype: u16) -> Option<(Vec<u8>, usize)> {
    let plain = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_';
    let mut packet = vec![0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        if !label.bytes().all(plain) {
            return None;
        }
        packet.push(u8::try_from(label.len()).ok().filter(|&n| n <= 63)?);
        packet.extend_from_slice(label.as_bytes());
    }
    packet.push(0);
    packet.extend_from_slice(&qtype.to_be_bytes());
    packet.extend_from_slice(&1u16.to_be_bytes());
    let end = packet.len();
    Some((packet, end))
}

/// Where the TTL of each of `records` records in `body` sits.
fn ttl_offsets(body: &[u8], records: usize) -> Option<Vec<u16>> {
    let mut offsets = Vec::with_capacity(records);
    let mut at = 0;
    for _ in 0..records {
        // Owner name: labels up to the root or a pointer.
        loop {
            let len = *body.get(at)?;
            if len & 0xc0 == 0xc0 {
                at += 2;
                break;
            }
            at += 1 + usize::from(len);
            if len == 0 {
                break;
            }
        }
        // Type and class, then the TTL.
        offsets.push(u16::try_from(at + 4).ok()?);
        let rdlen = body.get(at + 8..at + 10)?;
        at += 10 + usize::from(u16::from_be_bytes([rdlen[0], rdlen[1]]));
    }
    (at == body.len()).then_some(offsets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, CNAME, SOA};
    use hickory_proto::rr::{Name, Record};

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn answer() -> Answer {
        let www = name("www.example.com.");
        let edge = name("Edge.CDN.example.net.");
        Answer::with(
            ResponseCode::NoError,
            Sections {
                answers: vec![
                    Record::from_rdata(www, 300, RData::CNAME(CNAME(edge.clone()))),
                    Record::from_rdata(edge.clone(), 60, RData::A(A::new(192, 0, 2, 7))),
                ],
                authorities: vec![Record::from_rdata(
                    name("example.net."),
                    900,
                    RData::SOA(SOA::new(
                        name("ns.example.net."),
                        name("h.example.net."),
                        1,
                        2,
                        3,
                        4,
                        5,
                    )),
                )],
                additionals: Vec::new(),
            },
        )
    }

    #[test]
    fn records_come_back_with_ttls_mapped() {
        let original = answer();
        let wire = Wire::encode("www.example.com", 1, &original).unwrap();
        assert_eq!(wire.counts, [2, 1, 0]);
        assert_eq!(wire.ttl_offsets.len(), 3);
        let back = wire
            .decode("www.example.com", 1, ResponseCode::NoError, true, |t| {
                t - 10
            })
            .unwrap();
        assert!(back.authentic_data);
        let ttls: Vec<u32> = back.sections.answers.iter().map(|r| r.ttl).collect();
        assert_eq!(ttls, [290, 50]);
        assert_eq!(back.sections.authorities[0].ttl, 890);
        let datas = |a: &Answer| -> Vec<RData> {
            a.sections.answers.iter().map(|r| r.data.clone()).collect()
        };
        assert_eq!(datas(&back), datas(&original));
        assert_eq!(
            back.sections.answers[1].name.to_ascii(),
            "Edge.CDN.example.net."
        );
    }

    #[test]
    fn cname_targets_are_lower_case_without_the_dot() {
        assert_eq!(
            &*cname_targets(&answer()),
            [Box::from("edge.cdn.example.net")]
        );
    }

    #[test]
    fn names_that_do_not_fit_a_question_are_not_encoded() {
        let long = "a".repeat(64);
        assert!(Wire::encode(&long, 1, &answer()).is_none());
        assert!(Wire::encode("caf\u{e9}.example", 1, &answer()).is_none());
        assert!(Wire::encode("a b.example", 1, &answer()).is_none());
    }
}
