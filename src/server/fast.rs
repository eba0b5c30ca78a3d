//! The fast path for UDP: a blocked name or a fresh cache entry is answered
//! on the receiving task, into a buffer the task keeps, with no allocation,
//! no task and no hickory message. Everything else — and every query not in
//! the common shape [`Query::parse`] accepts — returns `false` and goes the
//! general path ([`Handler`](super::Handler)), which gives byte-identical
//! answers (a test compares them).
//!
//! A blocked answer is written straight from the query: the header, the
//! question as sent, the sinkhole record owned by the name as sent (hickory
//! writes it out rather than pointing at the question, and the answers are
//! to be the same), and the OPT with the Extended DNS Error naming the list. A cached answer
//! is the entry's records, encoded once by hickory when first served this
//! way, copied with each TTL counted down.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use hickory_proto::op::Metadata;
use hickory_proto::rr::RecordType;
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use hickory_server::zone_handler::MessageResponseBuilder;

use super::wire::{Head, Query, Writer};
use crate::config::Mode;
use crate::resolve::answer::{Answer, EDE_BLOCKED};
use crate::resolve::block::{Blocker, LIST_PREFIX};
use crate::resolve::cache::{Entry, Wire};
use crate::resolve::{Outcome, Quick, QuickQuestion, Resolver};
use crate::telemetry::{self, QueryName};

/// RR types written here.
const TYPE_A: u16 = 1;
const TYPE_SOA: u16 = 6;
const TYPE_AAAA: u16 = 28;

/// The SOA data of negative blocked answers, after the names: serial 1,
/// refresh 3600, retry 600, expire 86400 (the minimum, the TTL, follows).
const SOA_NUMBERS: [u8; 16] = [
    0, 0, 0, 1, 0, 0, 0x0e, 0x10, 0, 0, 0x02, 0x58, 0, 1, 0x51, 0x80,
];
/// `ralo.` and `hostmaster.ralo.` as the SOA's names, the second pointing
/// into the first; the pointer's low byte is filled in per answer.
const SOA_MNAME: &[u8] = b"\x04ralo\x00";
const SOA_RNAME_LABEL: &[u8] = b"\x0ahostmaster";

/// Answers `packet` from `client` into `out` when it can; `false` leaves it
/// to the general path. `received` is when the packet came in.
pub(crate) fn answer(
    resolver: &Resolver,
    packet: &[u8],
    client: IpAddr,
    out: &mut Vec<u8>,
    received: Instant,
) -> bool {
    let Some(query) = Query::parse(packet) else {
        return false;
    };
    let mut name = [0u8; 255];
    let lower = query.lower(&mut name);
    let qtype = RecordType::from(query.qtype);
    let question = QuickQuestion {
        lower,
        labels: query.labels(),
        qtype,
        client,
        dnssec_ok: query.edns.is_some_and(|e| e.dnssec_ok),
        checking_disabled: query.cd,
    };
    resolver.quick(&question, |found| {
        let (outcome, list) = match found {
            Quick::Blocked(list) if blocked(out, &query, resolver.blocker(), list) => {
                (Outcome::Blocked, Some(list))
            }
            Quick::Cached(entry) if cached(out, &query, lower, &entry) => (Outcome::Cached, None),
            _ => return false,
        };
        // Over the client's UDP size: the general path sets TC.
        if out.len() > query.udp_limit() {
            return false;
        }
        if let Some(telemetry) = resolver.telemetry() {
            telemetry.record(&telemetry::Query {
                client,
                name: QueryName::Wire(query.name),
                qtype,
                outcome,
                protocol: telemetry::Protocol::Udp,
                list,
                latency: received.elapsed(),
            });
        }
        true
    })
}

/// Writes the blocked answer for `query`, as [`Blocker::answer`] builds it.
fn blocked(out: &mut Vec<u8>, query: &Query<'_>, blocker: &Blocker, list: &str) -> bool {
    let ttl = blocker.ttl();
    let (rcode, sinkhole): (u8, Option<(u16, &[u8])>) = match (blocker.mode(), query.qtype) {
        (Mode::Null, TYPE_A) => (0, Some((TYPE_A, &[0; 4]))),
        (Mode::Null, TYPE_AAAA) => (0, Some((TYPE_AAAA, &[0; 16]))),
        (Mode::Null | Mode::Nodata, _) => (0, None),
        (Mode::Nxdomain, _) => (3, None),
        (Mode::Refused, _) => (5, None),
    };
    let refused = blocker.mode() == Mode::Refused;
    let head = Head {
        rcode,
        authentic_data: false,
        answers: u16::from(sinkhole.is_some()),
        authorities: u16::from(sinkhole.is_none() && !refused),
        additionals: 0,
    };
    let mut w = Writer::start(out, query, head);
    match sinkhole {
        Some((rtype, data)) => {
            w.record(query.name, rtype, ttl, &[data]);
        }
        None if !refused => {
            // The rname points at the mname, which starts right after this
            // record's owner and fixed part (type, class, TTL, length: 10
            // bytes). Past 0x3fff no pointer fits: general path.
            let Ok(mname_at) = u16::try_from(w.len() + query.name.len() + 10) else {
                return false;
            };
            if mname_at > 0x3fff {
                return false;
            }
            let pointer = (0xc000 | mname_at).to_be_bytes();
            w.record(
                query.name,
                TYPE_SOA,
                ttl,
                &[
                    SOA_MNAME,
                    SOA_RNAME_LABEL,
                    &pointer,
                    &SOA_NUMBERS,
                    &ttl.to_be_bytes(),
                ],
            );
        }
        None => {}
    }
    w.opt(
        query,
        Some((EDE_BLOCKED, &[LIST_PREFIX.as_bytes(), list.as_bytes()])),
    );
    true
}

/// Writes `entry`'s answer for `query`, TTLs counted down.
fn cached(out: &mut Vec<u8>, query: &Query<'_>, lower: &str, entry: &Entry) -> bool {
    // The body was encoded after a lower-case question; compression could
    // differ after one in other case, so those go the general path.
    if !query.is_lower() {
        return false;
    }
    let answer = entry.answer();
    let Some(wire) = entry.wire(|answer| encode_body(lower, query.qtype, answer)) else {
        return false;
    };
    let rcode = u16::from(answer.rcode);
    if rcode > 0x0f {
        return false;
    }
    let dnssec_ok = query.edns.is_some_and(|e| e.dnssec_ok);
    let head = Head {
        // Checked above: fits in four bits.
        rcode: rcode as u8,
        authentic_data: answer.authentic_data && (dnssec_ok || query.ad),
        answers: wire.counts[0],
        authorities: wire.counts[1],
        additionals: wire.counts[2],
    };
    let age = entry.age();
    let mut w = Writer::start(out, query, head);
    let base = w.len();
    w.bytes(&wire.body);
    for &at in wire.ttl_offsets.iter() {
        let at = base + usize::from(at);
        let Some(field) = out.get_mut(at..at + 4) else {
            return false;
        };
        let ttl = u32::from_be_bytes([field[0], field[1], field[2], field[3]]);
        field.copy_from_slice(&ttl.saturating_sub(age).to_be_bytes());
    }
    Writer::resume(out).opt(query, None);
    true
}

/// The records of `answer` in wire form as hickory writes them after the
/// question `lower`/`qtype` (class IN), or `None` when that cannot be done.
pub(crate) fn encode_body(lower: &str, qtype: u16, answer: &Answer) -> Option<Wire> {
    let mut packet = vec![0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in lower.split('.') {
        packet.push(u8::try_from(label.len()).ok()?);
        packet.extend_from_slice(label.as_bytes());
    }
    packet.push(0);
    packet.extend_from_slice(&qtype.to_be_bytes());
    packet.extend_from_slice(&1u16.to_be_bytes());
    let question_end = packet.len();
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
