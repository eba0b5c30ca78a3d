//! Step 3: the answer for a blocked name, by `[blocking] mode`.
//!
//! `null` gives 0.0.0.0 for A and :: for AAAA, and NODATA for every other type
//! (HTTPS, SVCB, MX, TXT included, so no record can lead around the block);
//! `nxdomain`, `nodata` and `refused` answer every type that way. Negative
//! answers carry an SOA whose minimum is the blocked TTL, so clients cache
//! them no longer than a blocked A record (RFC 2308). Every blocked answer
//! carries Extended DNS Error 15 "Blocked" naming the list (RFC 8914).

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::answer::{Answer, EDE_BLOCKED, Sections};
use crate::config::Mode;

/// Names that tell software whether the network filters DNS. Answered
/// NXDOMAIN while blocking is on: Firefox then keeps its DNS-over-HTTPS off
/// (`use-application-dns.net`), and iCloud Private Relay stays off
/// (`mask.icloud.com`), so the household's blocking applies to them.
pub const CANARY_NAMES: &[&str] = &[
    "use-application-dns.net",
    "mask.icloud.com",
    "mask-h2.icloud.com",
];

/// How a blocked answer's Extended DNS Error text starts, before the list.
pub const LIST_PREFIX: &str = "blocked by list ";
/// The EDE text of a canary answer.
const CANARY_TEXT: &str = "blocked: canary name";

/// The list named in a blocked answer's Extended DNS Error, without
/// allocating (the query ring records it); "canary name" for canaries.
pub fn blocking_list(answer: &Answer) -> Option<&str> {
    match &answer.ede {
        Some((EDE_BLOCKED, text)) => Some(
            text.strip_prefix(LIST_PREFIX)
                .or_else(|| text.strip_prefix("blocked: "))
                .unwrap_or(text),
        ),
        _ => None,
    }
}

/// Builds blocked answers.
#[derive(Clone, Debug)]
pub struct Blocker {
    mode: Mode,
    ttl: u32,
}

impl Blocker {
    /// A blocker answering in `mode` with `ttl`.
    pub fn new(mode: Mode, ttl: u32) -> Blocker {
        Blocker { mode, ttl }
    }

    /// How blocked names are answered.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The TTL of blocked answers.
    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    /// The answer for `qname`/`qtype`, blocked by `list`.
    pub fn answer(&self, qname: &Name, qtype: RecordType, list: &str) -> Answer {
        let text = format!("{LIST_PREFIX}{list}");
        let rcode = match self.mode {
            Mode::Null | Mode::Nodata => ResponseCode::NoError,
            Mode::Nxdomain => ResponseCode::NXDomain,
            Mode::Refused => return Answer::empty(ResponseCode::Refused).ede(EDE_BLOCKED, text),
        };
        let sinkhole = match (self.mode, qtype) {
            (Mode::Null, RecordType::A) => Some(RData::A(A(Ipv4Addr::UNSPECIFIED))),
            (Mode::Null, RecordType::AAAA) => Some(RData::AAAA(AAAA(Ipv6Addr::UNSPECIFIED))),
            _ => None,
        };
        let sections = match sinkhole {
            Some(rdata) => Sections {
                answers: vec![Record::from_rdata(qname.clone(), self.ttl, rdata)],
                ..Sections::default()
            },
            None => Sections {
                authorities: vec![soa_record(qname, self.ttl)],
                ..Sections::default()
            },
        };
        Answer::with(rcode, sections).ede(EDE_BLOCKED, text)
    }

    /// The NXDOMAIN answer for a canary name (see [`CANARY_NAMES`]).
    pub fn canary(&self, qname: &Name) -> Answer {
        let sections = Sections {
            authorities: vec![soa_record(qname, self.ttl)],
            ..Sections::default()
        };
        Answer::with(ResponseCode::NXDomain, sections).ede(EDE_BLOCKED, CANARY_TEXT)
    }
}

/// An SOA record for negative answers about `owner`: TTL and minimum `ttl`.
pub fn soa_record(owner: &Name, ttl: u32) -> Record {
    // Fixed, valid literals: parsing cannot fail, but stay total anyway.
    let mname = Name::from_ascii("ralo.").unwrap_or_else(|_| Name::root());
    let rname = Name::from_ascii("hostmaster.ralo.").unwrap_or_else(|_| Name::root());
    let soa = SOA::new(mname, rname, 1, 3600, 600, 86400, ttl);
    Record::from_rdata(owner.clone(), ttl, RData::SOA(soa))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> Name {
        Name::from_ascii("ads.example.com.").unwrap()
    }

    #[test]
    fn null_mode_answers_unspecified_addresses() {
        let b = Blocker::new(Mode::Null, 10);
        let a = b.answer(&name(), RecordType::A, "l");
        assert_eq!(
            a.sections.answers[0].data,
            RData::A(A(Ipv4Addr::UNSPECIFIED))
        );
        let aaaa = b.answer(&name(), RecordType::AAAA, "l");
        assert_eq!(
            aaaa.sections.answers[0].data,
            RData::AAAA(AAAA(Ipv6Addr::UNSPECIFIED))
        );
    }

    #[test]
    fn null_mode_answers_nodata_with_soa_for_other_types() {
        let b = Blocker::new(Mode::Null, 7);
        for t in [
            RecordType::HTTPS,
            RecordType::SVCB,
            RecordType::MX,
            RecordType::TXT,
        ] {
            let a = b.answer(&name(), t, "l");
            assert_eq!(a.rcode, ResponseCode::NoError);
            assert!(a.sections.answers.is_empty());
            assert_eq!(a.sections.authorities[0].ttl, 7);
        }
    }

    #[test]
    fn every_blocked_answer_names_its_list() {
        for mode in [Mode::Null, Mode::Nxdomain, Mode::Nodata, Mode::Refused] {
            let a = Blocker::new(mode, 10).answer(&name(), RecordType::A, "stevenblack");
            let (code, text) = a.ede.unwrap();
            assert_eq!(code, EDE_BLOCKED);
            assert!(text.contains("stevenblack"));
        }
    }
}
