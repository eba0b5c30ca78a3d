//! Target (b): bytes an upstream might send → the forwarder's answer
//! matching (`forward::accept`, `forward::usable`) → an [`Entry`] in wire
//! form, read back after a question in other case → the cache.
//!
//! The first input byte picks one of a few questions (and the DO bit); the
//! rest is the datagram, expected to answer query ID [`ID`]. The seed corpus
//! holds real answers to those questions, so the fuzzer starts past the
//! matching and explores the records.

use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};
use tokio::time::Instant;

use crate::config;
use crate::domain::wire::TextBuffer;
use crate::resolve::Entry;
use crate::resolve::cache::{Cache, KeyRef};
use crate::resolve::forward::{self, Request};

/// The query ID the answers are matched against.
pub const ID: u16 = 0x5a5a;

/// The questions the first byte picks from (index = byte % 4).
pub const QUESTIONS: [(&str, RecordType); 4] = [
    ("www.example.com.", RecordType::A),
    ("Mixed.Example.ORG.", RecordType::AAAA),
    ("example.net.", RecordType::MX),
    ("txt.example.com.", RecordType::TXT),
];

/// Runs one upstream datagram through matching, conversion and the cache.
/// Panics when the oracle is broken:
///
/// - an accepted message has the ID, QR=1, opcode QUERY and the question
///   asked, and the same bytes with another ID are refused;
/// - an accepted, untruncated message is used unless its rcode is SERVFAIL,
///   REFUSED, NOTIMP or FORMERR;
/// - its entry, written after the question in upper case, decodes to the
///   same records (names but for case), each TTL no higher than the one
///   inserted (after the configured clamp);
/// - the cache keeps exactly the answers `entry.rs` says it keeps, fresh
///   and then stale.
pub fn upstream_answer(data: &[u8]) {
    let Some((&select, bytes)) = data.split_first() else {
        return;
    };
    let (text, qtype) = QUESTIONS[usize::from(select) % QUESTIONS.len()];
    let name = Name::from_ascii(text).unwrap_or_else(|e| panic!("fixed question {text}: {e}"));
    let request = Request {
        name: &name,
        qtype,
        qclass: DNSClass::IN,
        dnssec_ok: select & 0x10 != 0,
        checking_disabled: false,
    };
    let Some(message) = forward::accept(bytes, ID, request) else {
        return;
    };
    let meta = &message.metadata;
    assert_eq!(meta.id, ID);
    assert_eq!(meta.message_type, MessageType::Response);
    assert_eq!(meta.op_code, OpCode::Query);
    assert_eq!(message.queries.len(), 1);
    assert_eq!(message.queries[0].name(), &name);
    assert_eq!(message.queries[0].query_type(), qtype);
    assert_eq!(message.queries[0].query_class(), DNSClass::IN);
    let mut other_id = bytes.to_vec();
    other_id[0] ^= 0x80;
    assert!(
        forward::accept(&other_id, ID, request).is_none(),
        "an answer with another ID is accepted"
    );
    if meta.truncation {
        // Asked again over TCP; a truncated answer is never used.
        return;
    }
    let rcode = meta.response_code;
    let Some(message) = forward::usable(message) else {
        assert!(
            matches!(
                rcode,
                ResponseCode::ServFail
                    | ResponseCode::Refused
                    | ResponseCode::NotImp
                    | ResponseCode::FormErr
            ),
            "an answer with rcode {rcode} is not used"
        );
        return;
    };
    assert_eq!(message.metadata.response_code, rcode);
    let clamped = config::Cache {
        entries: 8,
        min_ttl: 60,
        max_ttl: 600,
        negative_max_ttl: 300,
        ..config::Cache::default()
    };
    let plain = config::Cache {
        entries: 8,
        ..config::Cache::default()
    };
    let mut wire = Vec::new();
    let mut encoder = BinEncoder::new(&mut wire);
    encoder.set_name_encoding(NameEncoding::Uncompressed);
    name.emit(&mut encoder)
        .unwrap_or_else(|e| panic!("fixed question {text}: {e}"));
    for config in [plain, clamped] {
        let Some(entry) = Entry::encode(&wire, qtype, &message, &config) else {
            assert!(
                u16::from(rcode) > 0x0f || message.to_vec().is_err() || bytes.len() > 2048,
                "an answer hickory can write could not be kept in wire form"
            );
            return;
        };
        read_back(&message, &entry, &wire, qtype, &config);
        check_cache(&config, &message, &wire, request.dnssec_ok, entry);
    }
}

/// The entry written after a question in other case decodes to the
/// upstream's records: same names (but for case), classes and data, TTLs
/// no higher than inserted after the clamp.
fn read_back(
    message: &Message,
    entry: &Entry,
    wire: &[u8],
    qtype: RecordType,
    config: &config::Cache,
) {
    let mut bytes = vec![0x12, 0x34, 0x81, 0x80 | entry.rcode(), 0, 1];
    for count in entry.counts() {
        bytes.extend_from_slice(&count.to_be_bytes());
    }
    let shouted: Vec<u8> = wire.iter().map(u8::to_ascii_uppercase).collect();
    bytes.extend_from_slice(&shouted);
    bytes.extend_from_slice(&u16::from(qtype).to_be_bytes());
    bytes.extend_from_slice(&[0, 1]);
    assert_eq!(entry.question_len(), wire.len() + 4);
    bytes.extend_from_slice(entry.body());
    let back = Message::from_vec(&bytes)
        .unwrap_or_else(|e| panic!("the entry does not decode after its question: {e}"));
    for (got, put) in [
        (&back.answers, &message.answers),
        (&back.authorities, &message.authorities),
        (&back.additionals, &message.additionals),
    ] {
        assert_eq!(got.len(), put.len(), "the entry keeps every record");
        for (got, put) in got.iter().zip(put) {
            same_record(got, put, config);
        }
    }
    assert_eq!(entry.authentic_data(), message.metadata.authentic_data);
}

/// Stores `entry` in a fresh cache and reads it back.
fn check_cache(
    config: &config::Cache,
    message: &Message,
    wire: &[u8],
    dnssec_ok: bool,
    entry: Entry,
) {
    let cache = Cache::new(config);
    let lifetime = lifetime(config, message).filter(|&ttl| ttl > 0);
    assert_eq!(
        entry.lifetime(),
        lifetime.unwrap_or(0),
        "the entry's lifetime"
    );
    let stored = Instant::now();
    let mut text = TextBuffer::new();
    let key = KeyRef {
        name: text.lower(wire),
        qtype: u16::from(entry_type(message)),
        qclass: u16::from(DNSClass::IN),
        dnssec_ok,
        checking_disabled: false,
    };
    cache.insert(key.to_key(), Arc::new(entry));
    let Some((cached, _)) = cache.fresh(&key) else {
        // Only an answer that may not be kept, or one whose lifetime has
        // already passed on a slow machine, is missing.
        assert!(
            lifetime.is_none_or(|ttl| stored.elapsed() >= Duration::from_secs(u64::from(ttl))),
            "an answer living {lifetime:?} s was not kept"
        );
        return;
    };
    assert!(
        lifetime.is_some(),
        "an answer that may not be kept was kept"
    );
    assert_eq!(
        u16::from(cached.rcode()),
        u16::from(message.metadata.response_code)
    );
    assert!(
        cache.stale(&key).is_some(),
        "a kept answer can be served stale"
    );
}

/// The type the question asked, as the message echoes it.
fn entry_type(message: &Message) -> RecordType {
    message.queries[0].query_type()
}

/// `got` is `put` read back: same name, class and data; the TTL no higher
/// than the one inserted, clamped to `min_ttl..=max_ttl`.
fn same_record(got: &Record, put: &Record, config: &config::Cache) {
    assert!(
        got.name == put.name && got.dns_class == put.dns_class,
        "record {} read back as {}",
        put.name,
        got.name
    );
    assert!(got.data == put.data, "record data changed in the entry");
    let bound = put.ttl.clamp(config.min_ttl, config.max_ttl);
    assert!(
        got.ttl <= bound,
        "TTL {} read back above the {} inserted",
        got.ttl,
        bound
    );
}

/// How long the cache keeps `message`, by the rules in `entry.rs`: the
/// smallest answer TTL, clamped; for NXDOMAIN and NODATA, the smaller of the
/// first SOA's TTL and its minimum, capped by `negative_max_ttl`; otherwise
/// (other rcodes, a negative answer without SOA) not at all.
fn lifetime(config: &config::Cache, message: &Message) -> Option<u32> {
    match message.metadata.response_code {
        ResponseCode::NoError if !message.answers.is_empty() => {
            let min = message.answers.iter().map(|r| r.ttl).min()?;
            Some(min.clamp(config.min_ttl, config.max_ttl))
        }
        ResponseCode::NoError | ResponseCode::NXDomain => {
            let soa = message
                .authorities
                .iter()
                .find(|r| r.record_type() == RecordType::SOA)?;
            let RData::SOA(SOA { minimum, .. }) = &soa.data else {
                return None;
            };
            Some(soa.ttl.min(*minimum).min(config.negative_max_ttl))
        }
        _ => None,
    }
}
