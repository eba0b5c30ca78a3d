//! Writing answers: every [`Decision`] becomes its response here, by one
//! byte writer, for UDP and TCP alike — refused, local, blocked, cached,
//! forwarded, stale and failed answers. Only hickory's error responses to
//! odd messages (`query`) are written elsewhere.
//!
//! A response is the header (the query's ID, RD and CD; RA; AD when the
//! answer is authentic and the client asked with DO or AD), the question as
//! the client sent it (the name written out in full), the records, and an
//! OPT record when the client sent EDNS: payload 512 to 1232, the client's
//! DO bit, and the Extended DNS Error (RFC 8914) the decision explains
//! itself with. Records made here (local, blocked) are owned by the
//! question through a compression pointer, so they carry the client's
//! case; an [`Entry`]'s body points into the question the same way. A UDP
//! response larger than the client takes is sent as TC=1 with no records,
//! so it asks again over TCP.

use std::net::IpAddr;

use hickory_proto::rr::RecordType;

use super::query::Query;
use crate::config::Mode;
use crate::resolve::block::Block;
use crate::resolve::local::{LOCAL_TTL, LocalAnswer};
use crate::resolve::{Decided, Decision, Entry, Refusal};

/// The EDNS payload ralo answers with at most (DNS flag day 2020).
pub(crate) const MAX_PAYLOAD: u16 = 1232;
/// The EDNS option code of Extended DNS Errors (RFC 8914).
pub(crate) const EDE_OPTION: u16 = 15;

/// Extended DNS Error info-codes (RFC 8914).
const EDE_STALE: u16 = 3;
const EDE_BLOCKED: u16 = 15;
const EDE_PROHIBITED: u16 = 18;
const EDE_NOT_SUPPORTED: u16 = 21;
const EDE_NO_REACHABLE_AUTHORITY: u16 = 22;

/// TTL of records in a stale answer (RFC 8767 recommends 30 s).
const STALE_TTL: u32 = 30;
/// TTL of the RFC 8482 answer to `ANY`.
const HINFO_TTL: u32 = 3600;

const TYPE_A: u16 = 1;
const TYPE_SOA: u16 = 6;
const TYPE_PTR: u16 = 12;
const TYPE_HINFO: u16 = 13;
const TYPE_AAAA: u16 = 28;
const TYPE_OPT: u16 = 41;

/// A pointer to the question's name, which always starts at byte 12.
const TO_QUESTION: [u8; 2] = [0xc0, 12];
/// The SOA data of negative answers, after the names: serial 1, refresh
/// 3600, retry 600, expire 86400 (the minimum, the TTL, follows).
const SOA_NUMBERS: [u8; 16] = [
    0, 0, 0, 1, 0, 0, 0x0e, 0x10, 0, 0, 0x02, 0x58, 0, 1, 0x51, 0x80,
];
/// `ralo.` and `hostmaster.` (followed by a pointer to `ralo.`) as the
/// SOA's names.
const SOA_MNAME: &[u8] = b"\x04ralo\x00";
const SOA_RNAME_LABEL: &[u8] = b"\x0ahostmaster";
/// The RFC 8482 HINFO data: CPU "RFC8482", OS "".
const HINFO_DATA: &[u8] = b"\x07RFC8482\x00";

/// How blocked names are answered (`[blocking] mode` and `ttl`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sinkhole {
    pub(crate) mode: Mode,
    pub(crate) ttl: u32,
}

/// An Extended DNS Error: info-code and text, in parts.
type Ede<'a> = (u16, [&'a [u8]; 3]);

/// Header fields.
#[derive(Clone, Copy, Debug)]
struct Head {
    rcode: u8,
    authentic_data: bool,
    counts: [u16; 3],
    truncated: bool,
}

impl Head {
    fn empty(rcode: u8) -> Head {
        Head {
            rcode,
            authentic_data: false,
            counts: [0; 3],
            truncated: false,
        }
    }
}

/// Writes the response to `query` that `decided` says into `out`, at most
/// `limit` bytes (else truncated).
pub(crate) fn render(
    out: &mut Vec<u8>,
    query: &Query<'_>,
    decided: &Decided<'_>,
    sinkhole: Sinkhole,
    limit: usize,
) {
    let ede = ede(decided);
    let head = write(out, query, &decided.decision, sinkhole);
    opt(out, query, ede);
    if out.len() > limit {
        let head = Head {
            counts: [0; 3],
            truncated: true,
            ..head
        };
        start(out, query, head);
        opt(out, query, ede);
    }
}

/// The Extended DNS Error a decision explains itself with.
fn ede<'d>(decided: &'d Decided<'_>) -> Option<Ede<'d>> {
    let text = |t: &'static str| -> [&'d [u8]; 3] { [t.as_bytes(), b"", b""] };
    Some(match &decided.decision {
        Decision::Refused(Refusal::Network) => (EDE_PROHIBITED, text("client network not allowed")),
        Decision::Refused(Refusal::RateLimited) => (
            EDE_PROHIBITED,
            text("rate limited: too many queries from this client"),
        ),
        Decision::Refused(Refusal::NotServed) => (
            EDE_NOT_SUPPORTED,
            text("only class IN is served, and no zone transfers"),
        ),
        Decision::Blocked(Block::Canary) => (EDE_BLOCKED, text("blocked: canary name")),
        Decision::Blocked(block) => {
            let list = decided.list().unwrap_or("?").as_bytes();
            let tail: &[u8] = match block {
                Block::Cname(_) => b" (CNAME target)",
                _ => b"",
            };
            (EDE_BLOCKED, [b"blocked by list ", list, tail])
        }
        Decision::Stale(_) => (EDE_STALE, text("stale answer: upstream unreachable")),
        Decision::Forward { .. } | Decision::Failed => {
            (EDE_NO_REACHABLE_AUTHORITY, text("no upstream answered"))
        }
        Decision::Local(_) | Decision::Cached { .. } | Decision::Forwarded { .. } => {
            return None;
        }
    })
}

/// Writes header, question and records; the header it wrote.
fn write(
    out: &mut Vec<u8>,
    query: &Query<'_>,
    decision: &Decision<'_>,
    sinkhole: Sinkhole,
) -> Head {
    match decision {
        Decision::Refused(_) => start(out, query, Head::empty(5)),
        Decision::Local(answer) => local(out, query, *answer),
        Decision::Blocked(block) => blocked(out, query, *block, sinkhole),
        Decision::Cached { entry, age, .. } => {
            records(out, query, entry, |ttl| ttl.saturating_sub(*age))
        }
        Decision::Forwarded { entry, .. } => {
            let age = entry.age();
            records(out, query, entry, |ttl| ttl.saturating_sub(age))
        }
        Decision::Stale(entry) => records(out, query, entry, |_| STALE_TTL),
        Decision::Forward { .. } | Decision::Failed => start(out, query, Head::empty(2)),
    }
}

fn local(out: &mut Vec<u8>, query: &Query<'_>, answer: LocalAnswer<'_>) -> Head {
    match answer {
        LocalAnswer::Addresses(addrs) => {
            let qtype = RecordType::from(query.qtype);
            let of_type = |addr: &&IpAddr| match addr {
                IpAddr::V4(_) => qtype == RecordType::A,
                IpAddr::V6(_) => qtype == RecordType::AAAA,
            };
            let count = addrs.iter().filter(of_type).count();
            if count == 0 {
                return negative(out, query, 0, LOCAL_TTL);
            }
            // At most a handful of configured addresses.
            let head = Head {
                counts: [count as u16, 0, 0],
                ..Head::empty(0)
            };
            start(out, query, head);
            for addr in addrs.iter().filter(of_type) {
                match addr {
                    IpAddr::V4(v4) => record(out, TYPE_A, LOCAL_TTL, &[&v4.octets()]),
                    IpAddr::V6(v6) => record(out, TYPE_AAAA, LOCAL_TTL, &[&v6.octets()]),
                }
            }
            head
        }
        LocalAnswer::Pointer(target) => {
            let head = Head {
                counts: [1, 0, 0],
                ..Head::empty(0)
            };
            start(out, query, head);
            record(out, TYPE_PTR, LOCAL_TTL, &[target]);
            head
        }
        LocalAnswer::Negative { nonexistent } => {
            negative(out, query, if nonexistent { 3 } else { 0 }, LOCAL_TTL)
        }
        LocalAnswer::Hinfo => {
            let head = Head {
                counts: [1, 0, 0],
                ..Head::empty(0)
            };
            start(out, query, head);
            record(out, TYPE_HINFO, HINFO_TTL, &[HINFO_DATA]);
            head
        }
    }
}

fn blocked(out: &mut Vec<u8>, query: &Query<'_>, block: Block, sinkhole: Sinkhole) -> Head {
    let ttl = sinkhole.ttl;
    if block == Block::Canary {
        return negative(out, query, 3, ttl);
    }
    let address: Option<(u16, &[u8])> = match (sinkhole.mode, query.qtype) {
        (Mode::Null, TYPE_A) => Some((TYPE_A, &[0; 4])),
        (Mode::Null, TYPE_AAAA) => Some((TYPE_AAAA, &[0; 16])),
        _ => None,
    };
    match (sinkhole.mode, address) {
        (_, Some((rtype, data))) => {
            let head = Head {
                counts: [1, 0, 0],
                ..Head::empty(0)
            };
            start(out, query, head);
            record(out, rtype, ttl, &[data]);
            head
        }
        (Mode::Refused, None) => start(out, query, Head::empty(5)),
        (Mode::Nxdomain, None) => negative(out, query, 3, ttl),
        (Mode::Null | Mode::Nodata, None) => negative(out, query, 0, ttl),
    }
}

/// No records but an SOA in the authority section, whose minimum is `ttl`
/// (so negative caching lasts no longer, RFC 2308).
fn negative(out: &mut Vec<u8>, query: &Query<'_>, rcode: u8, ttl: u32) -> Head {
    let head = Head {
        counts: [0, 1, 0],
        ..Head::empty(rcode)
    };
    start(out, query, head);
    // The rname's pointer to the mname, which starts right after this
    // record's owner pointer and fixed part (2 + 10 bytes). A question is
    // at most 259 bytes, so the offset fits a pointer.
    let mname_at = (out.len() + 12) as u16;
    let pointer = (0xc000 | mname_at).to_be_bytes();
    record(
        out,
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
    head
}

/// An entry's records after the question, each TTL mapped by `ttl`.
fn records(out: &mut Vec<u8>, query: &Query<'_>, entry: &Entry, ttl: impl Fn(u32) -> u32) -> Head {
    // The body points into a question of this length; any other would
    // make its pointers land elsewhere.
    if entry.question_len() != query.name.len() + 4 {
        return start(out, query, Head::empty(2));
    }
    let dnssec_ok = query.edns.is_some_and(|e| e.dnssec_ok);
    let head = Head {
        rcode: entry.rcode(),
        authentic_data: entry.authentic_data() && (dnssec_ok || query.ad),
        counts: entry.counts(),
        truncated: false,
    };
    start(out, query, head);
    let base = out.len();
    out.extend_from_slice(entry.body());
    for &at in entry.ttl_offsets() {
        let at = base + usize::from(at);
        if let Some(field) = out.get_mut(at..at + 4) {
            let old = u32::from_be_bytes([field[0], field[1], field[2], field[3]]);
            field.copy_from_slice(&ttl(old).to_be_bytes());
        }
    }
    head
}

/// Starts the response in `out` (cleared): header and question. One more
/// additional record is counted for the OPT when the client sent EDNS.
fn start(out: &mut Vec<u8>, query: &Query<'_>, head: Head) -> Head {
    out.clear();
    let mut flags = [0x80u8, 0x80];
    if query.rd {
        flags[0] |= 0x01;
    }
    if head.truncated {
        flags[0] |= 0x02;
    }
    if head.authentic_data {
        flags[1] |= 0x20;
    }
    if query.cd {
        flags[1] |= 0x10;
    }
    flags[1] |= head.rcode & 0x0f;
    let opt = u16::from(query.edns.is_some());
    let [answers, authorities, additionals] = head.counts;
    out.extend_from_slice(&query.id.to_be_bytes());
    out.extend_from_slice(&flags);
    for count in [1, answers, authorities, additionals + opt] {
        out.extend_from_slice(&count.to_be_bytes());
    }
    out.extend_from_slice(query.name);
    out.extend_from_slice(&query.qtype.to_be_bytes());
    out.extend_from_slice(&query.qclass.to_be_bytes());
    head
}

/// Appends a record owned by the question's name, class IN, with the data
/// made of `data` parts.
fn record(out: &mut Vec<u8>, rtype: u16, ttl: u32, data: &[&[u8]]) {
    let len: usize = data.iter().map(|d| d.len()).sum();
    out.extend_from_slice(&TO_QUESTION);
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    // Record data written here is at most a few hundred bytes.
    out.extend_from_slice(&(len as u16).to_be_bytes());
    for d in data {
        out.extend_from_slice(d);
    }
}

/// Appends the OPT record, when the client sent EDNS.
fn opt(out: &mut Vec<u8>, query: &Query<'_>, ede: Option<Ede<'_>>) {
    let Some(edns) = query.edns else { return };
    let payload = edns.payload.clamp(512, MAX_PAYLOAD);
    out.push(0);
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&payload.to_be_bytes());
    let flags: u8 = if edns.dnssec_ok { 0x80 } else { 0 };
    out.extend_from_slice(&[0, 0, flags, 0]);
    match ede {
        None => out.extend_from_slice(&[0, 0]),
        Some((code, text)) => {
            let text_len: usize = text.iter().map(|t| t.len()).sum();
            // List names are at most 64 bytes, the fixed texts shorter.
            let option_len = (2 + text_len) as u16;
            out.extend_from_slice(&(option_len + 4).to_be_bytes());
            out.extend_from_slice(&EDE_OPTION.to_be_bytes());
            out.extend_from_slice(&option_len.to_be_bytes());
            out.extend_from_slice(&code.to_be_bytes());
            for t in text {
                out.extend_from_slice(t);
            }
        }
    }
}
