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
//! is the entry's records, kept in wire form by the cache, copied with each
//! TTL counted down.

use std::net::IpAddr;
use std::time::Instant;

use hickory_proto::rr::RecordType;

use super::wire::{Head, Query, Writer};
use crate::config::Mode;
use crate::resolve::answer::EDE_BLOCKED;
use crate::resolve::block::{Blocker, LIST_PREFIX};
use crate::resolve::cache::Entry;
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
            Quick::Cached(entry) if cached(out, &query, &entry) => (Outcome::Cached, None),
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
fn cached(out: &mut Vec<u8>, query: &Query<'_>, entry: &Entry) -> bool {
    // The body was encoded after a lower-case question; compression could
    // differ after one in other case, so those go the general path.
    if !query.is_lower() {
        return false;
    }
    let wire = entry.wire();
    let rcode = u16::from(entry.rcode());
    if rcode > 0x0f {
        return false;
    }
    let dnssec_ok = query.edns.is_some_and(|e| e.dnssec_ok);
    let head = Head {
        // Checked above: fits in four bits.
        rcode: rcode as u8,
        authentic_data: entry.authentic_data() && (dnssec_ok || query.ad),
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
