//! Target (b): bytes an upstream might send → the forwarder's answer
//! matching (`forward::accept`) → ralo's [`Answer`] (`forward::usable`) →
//! the cache, stored and read back.
//!
//! The first input byte picks one of a few questions (and the DO bit); the
//! rest is the datagram, expected to answer query ID [`ID`]. The seed corpus
//! holds real answers to those questions, so the fuzzer starts past the
//! matching and explores the records.

use std::time::Duration;

use hickory_proto::op::{MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use tokio::time::Instant;

use crate::config;
use crate::resolve::Answer;
use crate::resolve::cache::{Cache, Key};
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
///   REFUSED, NOTIMP or FORMERR, with its rcode and records unchanged;
/// - the cache keeps exactly the answers `cache.rs` says it keeps, and one
///   read back has the same rcode and records, each TTL no higher than the
///   one inserted (after the configured clamp).
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
    let (answers, authorities, additionals) = (
        message.answers.clone(),
        message.authorities.clone(),
        message.additionals.clone(),
    );
    let Some(answer) = forward::usable(message) else {
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
    assert_eq!(answer.rcode, rcode);
    let s = &answer.sections;
    assert!(s.answers == answers && s.authorities == authorities && s.additionals == additionals);

    let key = Key {
        name: text.trim_end_matches('.').to_ascii_lowercase().into(),
        qtype: u16::from(qtype),
        qclass: u16::from(DNSClass::IN),
        dnssec_ok: request.dnssec_ok,
        checking_disabled: false,
    };
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
    for config in [plain, clamped] {
        check_cache(&config, key.clone(), &answer);
    }
}

/// Stores `answer` in a fresh cache and reads it back.
fn check_cache(config: &config::Cache, key: Key, answer: &Answer) {
    let cache = Cache::new(config);
    let lifetime = lifetime(config, answer).filter(|&ttl| ttl > 0);
    let stored = Instant::now();
    cache.insert(key.clone(), answer);
    let Some(cached) = cache.get(&key) else {
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
    assert_eq!(cached.rcode, answer.rcode);
    assert_eq!(cached.authentic_data, answer.authentic_data);
    assert!(cached.ede.is_none(), "a cached answer has no EDE");
    let (got, put) = (&cached.sections, &answer.sections);
    for (got, put) in [
        (&got.answers, &put.answers),
        (&got.authorities, &put.authorities),
        (&got.additionals, &put.additionals),
    ] {
        assert_eq!(got.len(), put.len(), "the cache keeps every record");
        for (got, put) in got.iter().zip(put) {
            same_record(got, put, config);
        }
    }
    let stale = cache.get_stale(&key);
    assert!(
        stale.as_ref().is_some_and(|s| s.rcode == answer.rcode),
        "a kept answer can be served stale"
    );
}

/// `got` is `put` read back: same name, class and data; the TTL no higher
/// than the one inserted, clamped to `min_ttl..=max_ttl`.
fn same_record(got: &Record, put: &Record, config: &config::Cache) {
    assert!(
        got.name.iter().eq(put.name.iter()) && got.dns_class == put.dns_class,
        "record {} read back as {}",
        put.name,
        got.name
    );
    assert!(got.data == put.data, "record data changed in the cache");
    let bound = put.ttl.clamp(config.min_ttl, config.max_ttl);
    assert!(
        got.ttl <= bound,
        "TTL {} read back above the {} inserted",
        got.ttl,
        bound
    );
}

/// How long the cache keeps `answer`, by the rules in `cache.rs`: the
/// smallest answer TTL, clamped; for NXDOMAIN and NODATA, the smaller of the
/// first SOA's TTL and its minimum, capped by `negative_max_ttl`; otherwise
/// (other rcodes, a negative answer without SOA) not at all.
fn lifetime(config: &config::Cache, answer: &Answer) -> Option<u32> {
    let s = &answer.sections;
    match answer.rcode {
        ResponseCode::NoError if !s.answers.is_empty() => {
            let min = s.answers.iter().map(|r| r.ttl).min()?;
            Some(min.clamp(config.min_ttl, config.max_ttl))
        }
        ResponseCode::NoError | ResponseCode::NXDomain => {
            let soa = s
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
