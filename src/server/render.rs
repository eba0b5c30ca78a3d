//! Writing answers: every [`Decision`] becomes its response here, by one
//! byte writer, for UDP and TCP alike — refused, local, blocked, cached,
//! forwarded, stale and failed answers, rewritten ones (a list's custom
//! answer, its records read from the image), and the error responses to
//! messages that are not a plain question ([`error`]).
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
use crate::answer::Rcode;
use crate::config::Mode;
use crate::image::Rewritten;
use crate::resolve::block::Block;
use crate::resolve::local::{LOCAL_TTL, LocalAnswer};
use crate::resolve::{Decided, Decision, Entry, Refusal, ServedImage};

/// The EDNS payload ralo answers with at most (DNS flag day 2020).
pub(crate) const MAX_PAYLOAD: u16 = 1232;
/// The EDNS option code of Extended DNS Errors (RFC 8914).
pub(crate) const EDE_OPTION: u16 = 15;

/// Extended DNS Error info-codes (RFC 8914).
const EDE_STALE: u16 = 3;
const EDE_FORGED: u16 = 4;
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
    /// Mode `ip`'s addresses (`[blocking] ipv4`, `ipv6`).
    pub(crate) ipv4: Option<[u8; 4]>,
    pub(crate) ipv6: Option<[u8; 16]>,
}

impl Sinkhole {
    /// The sinkhole `[blocking]` describes.
    pub(crate) fn new(config: &crate::config::Blocking) -> Sinkhole {
        Sinkhole {
            mode: config.mode,
            ttl: config.ttl,
            ipv4: config.ipv4.map(|a| a.octets()),
            ipv6: config.ipv6.map(|a| a.octets()),
        }
    }
}

/// An Extended DNS Error: info-code and text, in parts.
type Ede<'a> = (u16, [&'a [u8]; 3]);

/// Header fields.
#[derive(Clone, Copy, Debug)]
struct Head {
    /// The response code; above 15 its high bits go in the OPT record.
    rcode: u16,
    authentic_data: bool,
    counts: [u16; 3],
    truncated: bool,
}

impl Head {
    fn empty(rcode: u16) -> Head {
        Head {
            rcode,
            authentic_data: false,
            counts: [0; 3],
            truncated: false,
        }
    }

    /// A NOERROR answer of `count` answer records.
    fn answers(count: u16) -> Head {
        Head {
            counts: [count, 0, 0],
            ..Head::empty(0)
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
    let head = write(out, query, decided, sinkhole);
    opt(out, query, head, ede);
    if out.len() > limit {
        let head = Head {
            counts: [0; 3],
            truncated: true,
            ..head
        };
        start(out, query, head);
        opt(out, query, head, ede);
    }
}

/// Writes the error response `rcode` (FORMERR, NOTIMP, BADVERS) to
/// `query`, which carries the message's ID, opcode and flags; its question
/// is echoed unless `query` is `None` — then only a header with `id`, the
/// first two flag bytes' opcode and RD from `flags`.
pub(crate) fn error(out: &mut Vec<u8>, query: Option<&Query<'_>>, head: [u8; 4], rcode: u16) {
    match query {
        Some(query) => {
            let head = start(out, query, Head::empty(rcode));
            opt(out, query, head, None);
        }
        None => {
            out.clear();
            // ID; QR, the opcode and RD; RA and the code; no records.
            out.extend_from_slice(&[head[0], head[1], 0x80 | (head[2] & 0x79), 0x80]);
            out[3] |= (rcode & 0x0f) as u8;
            out.extend_from_slice(&[0; 8]);
        }
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
        Decision::Rewritten(rewritten) => {
            let list = decided.list().unwrap_or("?").as_bytes();
            match rewritten.rcode {
                Some(_) => (EDE_BLOCKED, [b"blocked by list ", list, b" ($dnsrewrite)"]),
                None => (EDE_FORGED, [b"answered by list ", list, b""]),
            }
        }
        Decision::Stale {
            optimistic: false, ..
        } => (EDE_STALE, text("stale answer: upstream unreachable")),
        Decision::Stale {
            optimistic: true, ..
        } => (EDE_STALE, text("stale answer: being refreshed")),
        Decision::Forward { .. } | Decision::Failed => {
            (EDE_NO_REACHABLE_AUTHORITY, text("no upstream answered"))
        }
        Decision::Local(_) | Decision::Cached { .. } | Decision::Forwarded { .. } => {
            return None;
        }
    })
}

/// Writes header, question and records; the header it wrote.
fn write(out: &mut Vec<u8>, query: &Query<'_>, decided: &Decided<'_>, sinkhole: Sinkhole) -> Head {
    match &decided.decision {
        Decision::Refused(_) => start(out, query, Head::empty(5)),
        Decision::Rewritten(rewritten) => {
            rewritten_answer(out, query, decided.image(), rewritten, sinkhole.ttl)
        }
        Decision::Local(answer) => local(out, query, *answer),
        Decision::Blocked(block) => blocked(out, query, *block, sinkhole),
        Decision::Cached { entry, age, .. } => {
            records(out, query, entry, |ttl| ttl.saturating_sub(*age))
        }
        Decision::Forwarded { entry, .. } => {
            let age = entry.age();
            records(out, query, entry, |ttl| ttl.saturating_sub(age))
        }
        Decision::Stale { entry, .. } => records(out, query, entry, |_| STALE_TTL),
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
            let head = start(out, query, Head::answers(count as u16));
            for addr in addrs.iter().filter(of_type) {
                match addr {
                    IpAddr::V4(v4) => record(out, TYPE_A, LOCAL_TTL, &[&v4.octets()]),
                    IpAddr::V6(v6) => record(out, TYPE_AAAA, LOCAL_TTL, &[&v6.octets()]),
                }
            }
            head
        }
        LocalAnswer::Pointer(target) => {
            let head = start(out, query, Head::answers(1));
            record(out, TYPE_PTR, LOCAL_TTL, &[target]);
            head
        }
        LocalAnswer::Negative { nonexistent } => {
            negative(out, query, if nonexistent { 3 } else { 0 }, LOCAL_TTL)
        }
        LocalAnswer::Hinfo => {
            let head = start(out, query, Head::answers(1));
            record(out, TYPE_HINFO, HINFO_TTL, &[HINFO_DATA]);
            head
        }
    }
}

/// A list's custom answer, with `ttl` (`[blocking] ttl`, the TTL AdGuard
/// Home gives `$dnsrewrite` answers): its response code alone (NXDOMAIN
/// and NOERROR with an SOA, as negative answers), or its records of the
/// type asked, copied from the image, or NODATA when it has none of that
/// type.
fn rewritten_answer(
    out: &mut Vec<u8>,
    query: &Query<'_>,
    image: &ServedImage,
    rewritten: &Rewritten,
    ttl: u32,
) -> Head {
    match rewritten.rcode {
        Some(Rcode::NxDomain) => return negative(out, query, 3, ttl),
        Some(Rcode::NoError) => return negative(out, query, 0, ttl),
        Some(rcode) => return start(out, query, Head::empty(rcode.number().into())),
        None => {}
    }
    // No message holds 2^16 records; past the client's limit the renderer
    // truncates.
    let most = usize::from(u16::MAX);
    let count = image
        .rewrite_records(rewritten, query.qtype)
        .take(most)
        .count();
    if count == 0 {
        return negative(out, query, 0, ttl);
    }
    let head = start(out, query, Head::answers(count as u16));
    for data in image.rewrite_records(rewritten, query.qtype).take(count) {
        record(out, query.qtype, ttl, &[data]);
    }
    head
}

fn blocked(out: &mut Vec<u8>, query: &Query<'_>, block: Block, sinkhole: Sinkhole) -> Head {
    let ttl = sinkhole.ttl;
    if block == Block::Canary {
        return negative(out, query, 3, ttl);
    }
    let address: Option<(u16, &[u8])> = match (sinkhole.mode, query.qtype) {
        (Mode::Null, TYPE_A) => Some((TYPE_A, &[0; 4])),
        (Mode::Null, TYPE_AAAA) => Some((TYPE_AAAA, &[0; 16])),
        (Mode::Ip, TYPE_A) => sinkhole.ipv4.as_ref().map(|a| (TYPE_A, &a[..])),
        (Mode::Ip, TYPE_AAAA) => sinkhole.ipv6.as_ref().map(|a| (TYPE_AAAA, &a[..])),
        _ => None,
    };
    match (sinkhole.mode, address) {
        (_, Some((rtype, data))) => {
            let head = start(out, query, Head::answers(1));
            record(out, rtype, ttl, &[data]);
            head
        }
        (Mode::Refused, None) => start(out, query, Head::empty(5)),
        (Mode::Nxdomain, None) => negative(out, query, 3, ttl),
        (Mode::Null | Mode::Nodata | Mode::Ip, None) => negative(out, query, 0, ttl),
    }
}

/// No records but an SOA in the authority section, whose minimum is `ttl`
/// (so negative caching lasts no longer, RFC 2308).
fn negative(out: &mut Vec<u8>, query: &Query<'_>, rcode: u16, ttl: u32) -> Head {
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
        rcode: u16::from(entry.rcode()),
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
    let mut flags = [0x80 | (query.opcode & 0x0f) << 3, 0x80];
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
    flags[1] |= (head.rcode & 0x0f) as u8;
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

/// Appends the OPT record, when the client sent EDNS: the high bits of
/// the response code, version 0, the client's DO bit and the EDE.
fn opt(out: &mut Vec<u8>, query: &Query<'_>, head: Head, ede: Option<Ede<'_>>) {
    let Some(edns) = query.edns else { return };
    let payload = edns.payload.clamp(512, MAX_PAYLOAD);
    out.push(0);
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&payload.to_be_bytes());
    let flags: u8 = if edns.dnssec_ok { 0x80 } else { 0 };
    // Response codes are 12 bits: the high 8 fit a byte.
    out.extend_from_slice(&[(head.rcode >> 4) as u8, 0, flags, 0]);
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

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::sync::Arc;

    use arc_swap::ArcSwap;
    use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
    use hickory_proto::rr::rdata::opt::EdnsOption;
    use hickory_proto::rr::rdata::{A, TXT};
    use hickory_proto::rr::{Name, RData, Record};

    use super::*;
    use crate::exchange::SealedImage;
    use crate::image::{Image, ImageBuilder, Match};
    use crate::resolve::decide::{Decision, Served};
    use crate::resolve::policy::Policy;
    use crate::server::query::Edns;

    const NAME: &[u8] = b"\x03Ads\x07Example\x03com\x00";

    fn images() -> ArcSwap<Served> {
        let mut builder = ImageBuilder::new();
        builder.add_list("ads", false);
        let sealed = SealedImage::create(&builder.build(1), "render-test").unwrap();
        ArcSwap::from_pointee(Served::new(
            Arc::new(Image::open(sealed.map().unwrap()).unwrap()),
            Policy::trivial(),
        ))
    }

    fn query(qtype: u16, edns: Option<Edns>) -> Query<'static> {
        Query {
            id: 0x4242,
            opcode: 0,
            rd: true,
            ad: false,
            cd: true,
            name: NAME,
            qtype,
            qclass: 1,
            edns,
            hint: Default::default(),
        }
    }

    const EDNS: Option<Edns> = Some(Edns {
        payload: 4096,
        dnssec_ok: false,
    });

    const SINKHOLE: Sinkhole = Sinkhole {
        ipv4: None,
        ipv6: None,
        mode: Mode::Null,
        ttl: 10,
    };

    /// Renders `decision` for `query` and decodes the bytes.
    fn rendered(
        query: &Query<'_>,
        decision: Decision<'_>,
        sinkhole: Sinkhole,
        limit: usize,
    ) -> Message {
        let images = images();
        let decided = Decided {
            decision,
            served: images.load(),
            tries: Vec::new(),
            groups: 1,
        };
        let mut out = Vec::new();
        render(&mut out, query, &decided, sinkhole, limit);
        assert!(out.len() <= limit, "{} bytes over {limit}", out.len());
        Message::from_vec(&out).expect("the response decodes")
    }

    fn ede(message: &Message) -> Option<(u16, String)> {
        message
            .edns
            .as_ref()?
            .options()
            .options
            .iter()
            .find_map(|(_, option)| match option {
                EdnsOption::Unknown(15, data) => Some((
                    u16::from_be_bytes([data[0], data[1]]),
                    String::from_utf8_lossy(&data[2..]).into_owned(),
                )),
                _ => None,
            })
    }

    fn rule() -> Block {
        Block::Rule(Match {
            list: 0,
            subtree: true,
            labels: 2,
            regex: None,
            important: false,
        })
    }

    #[test]
    fn a_blocked_name_is_answered_in_the_clients_case_naming_its_list() {
        let m = rendered(
            &query(TYPE_A, EDNS),
            Decision::Blocked(rule()),
            SINKHOLE,
            1232,
        );
        let meta = &m.metadata;
        assert_eq!(meta.id, 0x4242);
        assert_eq!(meta.message_type, MessageType::Response);
        assert_eq!(meta.op_code, OpCode::Query);
        assert!(meta.recursion_desired && meta.recursion_available && meta.checking_disabled);
        assert!(!meta.authoritative && !meta.truncation);
        assert_eq!(m.queries[0].name().to_ascii(), "Ads.Example.com.");
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].name.to_ascii(), "Ads.Example.com.");
        assert_eq!(m.answers[0].ttl, 10);
        assert_eq!(m.answers[0].data, RData::A(A(Ipv4Addr::UNSPECIFIED)));
        assert_eq!(ede(&m), Some((15, "blocked by list ads".into())));
        let cname = rendered(
            &query(TYPE_A, EDNS),
            Decision::Blocked(Block::Cname(Match {
                list: 0,
                subtree: true,
                labels: 2,
                regex: None,
                important: false,
            })),
            SINKHOLE,
            1232,
        );
        assert_eq!(
            ede(&cname),
            Some((15, "blocked by list ads (CNAME target)".into()))
        );
    }

    #[test]
    fn ip_mode_answers_its_address_of_the_family_asked() {
        let sinkhole = Sinkhole {
            mode: Mode::Ip,
            ipv4: Some([192, 168, 1, 2]),
            ..SINKHOLE
        };
        let a = rendered(
            &query(TYPE_A, EDNS),
            Decision::Blocked(rule()),
            sinkhole,
            1232,
        );
        assert_eq!(
            a.answers[0].data,
            RData::A(A(Ipv4Addr::new(192, 168, 1, 2)))
        );
        assert_eq!(a.answers[0].ttl, SINKHOLE.ttl);
        // No IPv6 address given: AAAA gets NODATA, as every other type.
        for qtype in [TYPE_AAAA, 65] {
            let m = rendered(
                &query(qtype, EDNS),
                Decision::Blocked(rule()),
                sinkhole,
                1232,
            );
            assert_eq!(m.metadata.response_code, ResponseCode::NoError);
            assert!(m.answers.is_empty());
        }
        let both = Sinkhole {
            ipv6: Some("fd00::2".parse::<std::net::Ipv6Addr>().unwrap().octets()),
            ..sinkhole
        };
        let aaaa = rendered(
            &query(TYPE_AAAA, EDNS),
            Decision::Blocked(rule()),
            both,
            1232,
        );
        assert_eq!(
            aaaa.answers[0].data,
            RData::AAAA(hickory_proto::rr::rdata::AAAA("fd00::2".parse().unwrap()))
        );
    }

    #[test]
    fn every_mode_answers_every_type_with_no_record_leading_around_the_block() {
        for (mode, qtype, rcode, answers) in [
            (Mode::Null, TYPE_AAAA, ResponseCode::NoError, 1),
            (Mode::Null, 65, ResponseCode::NoError, 0),
            (Mode::Null, 15, ResponseCode::NoError, 0),
            (Mode::Nodata, TYPE_A, ResponseCode::NoError, 0),
            (Mode::Nxdomain, TYPE_A, ResponseCode::NXDomain, 0),
            (Mode::Refused, TYPE_A, ResponseCode::Refused, 0),
        ] {
            let sinkhole = Sinkhole {
                mode,
                ttl: 7,
                ..SINKHOLE
            };
            let m = rendered(
                &query(qtype, EDNS),
                Decision::Blocked(rule()),
                sinkhole,
                1232,
            );
            assert_eq!(m.metadata.response_code, rcode, "{mode:?} {qtype}");
            assert_eq!(m.answers.len(), answers, "{mode:?} {qtype}");
            if answers == 1 {
                assert_eq!(m.answers[0].data, RData::AAAA(Ipv6Addr::UNSPECIFIED.into()));
            }
            let soa = m.authorities.iter().find_map(|r| match &r.data {
                RData::SOA(soa) => Some((r.ttl, soa.minimum)),
                _ => None,
            });
            match (mode, answers) {
                (Mode::Refused, _) | (_, 1) => assert_eq!(soa, None),
                _ => assert_eq!(soa, Some((7, 7)), "{mode:?} {qtype}: negative TTL"),
            }
            assert_eq!(ede(&m).map(|e| e.0), Some(15));
        }
        let canary = rendered(
            &query(TYPE_A, None),
            Decision::Blocked(Block::Canary),
            SINKHOLE,
            512,
        );
        assert_eq!(canary.metadata.response_code, ResponseCode::NXDomain);
        assert!(canary.edns.is_none(), "no OPT to a client without EDNS");
    }

    #[test]
    fn local_answers_follow_the_question_type() {
        let addrs = ["192.168.1.10".parse().unwrap(), "fd00::10".parse().unwrap()];
        let a = rendered(
            &query(TYPE_A, EDNS),
            Decision::Local(LocalAnswer::Addresses(&addrs)),
            SINKHOLE,
            1232,
        );
        assert_eq!(a.answers[0].data, RData::A(A::new(192, 168, 1, 10)));
        assert_eq!(a.answers[0].ttl, LOCAL_TTL);
        assert_eq!(ede(&a), None);
        let aaaa = rendered(
            &query(TYPE_AAAA, EDNS),
            Decision::Local(LocalAnswer::Addresses(&addrs)),
            SINKHOLE,
            1232,
        );
        assert_eq!(aaaa.answers.len(), 1);
        let mx = rendered(
            &query(15, EDNS),
            Decision::Local(LocalAnswer::Addresses(&addrs)),
            SINKHOLE,
            1232,
        );
        assert_eq!((mx.answers.len(), mx.authorities.len()), (0, 1));
        let ptr = rendered(
            &query(TYPE_PTR, EDNS),
            Decision::Local(LocalAnswer::Pointer(b"\x03nas\x04home\x04arpa\x00")),
            SINKHOLE,
            1232,
        );
        assert!(
            matches!(&ptr.answers[0].data, RData::PTR(p) if p.0.to_ascii() == "nas.home.arpa.")
        );
        let any = rendered(
            &query(255, EDNS),
            Decision::Local(LocalAnswer::Hinfo),
            SINKHOLE,
            1232,
        );
        assert!(matches!(&any.answers[0].data, RData::HINFO(h) if &h.cpu[..] == b"RFC8482"));
    }

    #[test]
    fn refusals_and_failures_explain_themselves() {
        for (decision, rcode, code) in [
            (
                Decision::Refused(Refusal::Network),
                ResponseCode::Refused,
                18,
            ),
            (
                Decision::Refused(Refusal::RateLimited),
                ResponseCode::Refused,
                18,
            ),
            (
                Decision::Refused(Refusal::NotServed),
                ResponseCode::Refused,
                21,
            ),
            (Decision::Failed, ResponseCode::ServFail, 22),
        ] {
            let m = rendered(&query(TYPE_A, EDNS), decision, SINKHOLE, 1232);
            assert_eq!(m.metadata.response_code, rcode);
            assert!(m.answers.is_empty() && m.authorities.is_empty());
            assert_eq!(ede(&m).map(|e| e.0), Some(code));
        }
    }

    fn big_entry() -> Arc<Entry> {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        m.metadata.authentic_data = true;
        let owner = Name::from_ascii("ads.example.com.").unwrap();
        m.answers = (0..12)
            .map(|i| {
                let text = format!("{i:02}{}", "x".repeat(60));
                Record::from_rdata(owner.clone(), 300, RData::TXT(TXT::new(vec![text])))
            })
            .collect();
        let config = crate::config::Cache::default();
        Arc::new(Entry::encode(NAME, hickory_proto::rr::RecordType::TXT, &m, &config).unwrap())
    }

    #[test]
    fn an_answer_too_big_for_the_client_is_truncated_whole() {
        let entry = big_entry();
        let cached = || Decision::Cached {
            entry: entry.clone(),
            age: 100,
            allowed: false,
            refetch: None,
        };
        let full = rendered(&query(16, EDNS), cached(), SINKHOLE, 65_535);
        assert_eq!(full.answers.len(), 12);
        assert!(full.answers.iter().all(|r| r.ttl == 200), "TTLs count down");
        let small = query(16, None);
        let cut = rendered(&small, cached(), SINKHOLE, small.udp_limit());
        assert!(cut.metadata.truncation);
        assert!(cut.answers.is_empty());
        assert_eq!(cut.queries[0].name().to_ascii(), "Ads.Example.com.");
    }

    #[test]
    fn the_ad_flag_goes_only_to_clients_that_understand_it() {
        let entry = big_entry();
        let cached = || Decision::Cached {
            entry: entry.clone(),
            age: 0,
            allowed: false,
            refetch: None,
        };
        let plain = rendered(&query(16, EDNS), cached(), SINKHOLE, 65_535);
        assert!(!plain.metadata.authentic_data);
        let dnssec = Some(Edns {
            payload: 4096,
            dnssec_ok: true,
        });
        let aware = rendered(&query(16, dnssec), cached(), SINKHOLE, 65_535);
        assert!(aware.metadata.authentic_data);
        let mut asks_ad = query(16, EDNS);
        asks_ad.ad = true;
        assert!(
            rendered(&asks_ad, cached(), SINKHOLE, 65_535)
                .metadata
                .authentic_data
        );
    }

    #[test]
    fn an_entry_for_a_question_of_another_length_is_never_pasted() {
        let entry = big_entry();
        let mut other = query(16, EDNS);
        other.name = b"\x04Adss\x07Example\x03com\x00";
        let m = rendered(
            &other,
            Decision::Cached {
                entry,
                age: 0,
                allowed: false,
                refetch: None,
            },
            SINKHOLE,
            65_535,
        );
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    }

    #[test]
    fn a_stale_answer_has_ttl_30_and_says_so() {
        let m = rendered(
            &query(16, EDNS),
            Decision::Stale {
                entry: big_entry(),
                optimistic: false,
                refetch: None,
            },
            SINKHOLE,
            65_535,
        );
        assert!(m.answers.iter().all(|r| r.ttl == STALE_TTL));
        assert_eq!(ede(&m).map(|e| e.0), Some(3));
    }
}
