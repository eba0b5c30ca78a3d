//! Step 2: names answered here and never forwarded — the household's own
//! records (with their reverse PTRs), and special-use names: `localhost`
//! (RFC 6761), `.local` (mDNS, RFC 6762), `.invalid`, `home.arpa` (RFC 8375),
//! `resolver.arpa` (RFC 9462), reverse zones of private ranges, and
//! single-label names (never sent to the internet, like dnsmasq's
//! `domain-needed`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::answer::{Answer, Sections};
use super::block::soa_record;
use crate::config;

/// TTL of local answers (seconds).
const LOCAL_TTL: u32 = 60;

/// Local records and special-use names.
#[derive(Debug, Default)]
pub struct Local {
    /// Name (lower-case, no trailing dot) → addresses.
    records: HashMap<String, Vec<IpAddr>>,
    /// Reverse name (`4.3.2.1.in-addr.arpa`) → the local name it points at.
    reverse: HashMap<String, Name>,
}

/// Reverse zones of private and loopback ranges: never forwarded.
const PRIVATE_REVERSE: &[&str] = &[
    "10.in-addr.arpa",
    "168.192.in-addr.arpa",
    "127.in-addr.arpa",
    "254.169.in-addr.arpa",
    "d.f.ip6.arpa",
    "8.e.f.ip6.arpa",
    "9.e.f.ip6.arpa",
    "a.e.f.ip6.arpa",
    "b.e.f.ip6.arpa",
];

/// Zones that never exist beyond the household: NXDOMAIN.
const NXDOMAIN_ZONES: &[&str] = &["local", "invalid", "home.arpa", "onion"];

impl Local {
    /// Builds the table from `[local]`. Names were validated with the config.
    pub fn new(config: &config::Local) -> Local {
        let mut local = Local::default();
        for (name, addrs) in &config.records {
            let Ok(domain) = crate::domain::Domain::parse(name) else {
                continue;
            };
            let key = domain.as_str().to_owned();
            if let Ok(fqdn) = Name::from_ascii(format!("{key}.")) {
                for addr in addrs {
                    local.reverse.insert(reverse_name(*addr), fqdn.clone());
                }
            }
            local.records.insert(key, addrs.clone());
        }
        local
    }

    /// Answers `name` (lower-case, no trailing dot) here, or `None` to go on.
    pub fn answer(&self, name: &str, qname: &Name, qtype: RecordType) -> Option<Answer> {
        Some(match self.decide(name, qtype)? {
            Decision::Addresses(addrs) => address_answer(qname, qtype, addrs),
            Decision::Pointer(target) => {
                let rdata = RData::PTR(PTR(target.clone()));
                let record = Record::from_rdata(qname.clone(), LOCAL_TTL, rdata);
                let sections = Sections {
                    answers: vec![record],
                    ..Sections::default()
                };
                Answer::with(ResponseCode::NoError, sections)
            }
            Decision::Negative(rcode) => negative(qname, rcode),
        })
    }

    /// Whether [`Local::answer`] answers `name`; allocates nothing.
    pub fn claims(&self, name: &str, qtype: RecordType) -> bool {
        self.decide(name, qtype).is_some()
    }

    fn decide(&self, name: &str, qtype: RecordType) -> Option<Decision<'_>> {
        if let Some(addrs) = self.records.get(name) {
            return Some(Decision::Addresses(addrs));
        }
        if name == "localhost" || name.ends_with(".localhost") {
            return Some(Decision::Addresses(&LOOPBACK));
        }
        if qtype == RecordType::PTR
            && let Some(target) = self.reverse.get(name)
        {
            return Some(Decision::Pointer(target));
        }
        if NXDOMAIN_ZONES
            .iter()
            .chain(PRIVATE_REVERSE)
            .any(|zone| in_zone(name, zone))
        {
            return Some(Decision::Negative(ResponseCode::NXDomain));
        }
        if in_zone(name, "resolver.arpa") {
            return Some(Decision::Negative(ResponseCode::NoError));
        }
        if is_private_172_reverse(name) {
            return Some(Decision::Negative(ResponseCode::NXDomain));
        }
        let single_label = !name.is_empty() && !name.contains('.');
        let infrastructure = matches!(
            qtype,
            RecordType::NS | RecordType::SOA | RecordType::DS | RecordType::DNSKEY
        );
        if single_label && !infrastructure {
            return Some(Decision::Negative(ResponseCode::NXDomain));
        }
        None
    }
}

/// What the local step answers.
enum Decision<'a> {
    /// These addresses (A or AAAA by the query type; NODATA for others).
    Addresses(&'a [IpAddr]),
    /// A PTR to this local name.
    Pointer(&'a Name),
    /// No records, with this code.
    Negative(ResponseCode),
}

const LOOPBACK: [IpAddr; 2] = [
    IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
    IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
];

fn in_zone(name: &str, zone: &str) -> bool {
    name == zone
        || (name.len() > zone.len()
            && name.ends_with(zone)
            && name.as_bytes()[name.len() - zone.len() - 1] == b'.')
}

/// `16.172.in-addr.arpa` … `31.172.in-addr.arpa`, and names under them.
fn is_private_172_reverse(name: &str) -> bool {
    const ZONE: &str = ".172.in-addr.arpa";
    let Some(head) = name.strip_suffix(ZONE) else {
        return false;
    };
    let octet = head.rsplit('.').next().unwrap_or(head);
    octet.parse::<u8>().is_ok_and(|o| (16..=31).contains(&o)) && !octet.starts_with('0')
}

fn address_answer(qname: &Name, qtype: RecordType, addrs: &[IpAddr]) -> Answer {
    let answers: Vec<Record> = addrs
        .iter()
        .filter_map(|addr| match (qtype, addr) {
            (RecordType::A, IpAddr::V4(v4)) => Some(RData::A(A(*v4))),
            (RecordType::AAAA, IpAddr::V6(v6)) => Some(RData::AAAA(AAAA(*v6))),
            _ => None,
        })
        .map(|rdata| Record::from_rdata(qname.clone(), LOCAL_TTL, rdata))
        .collect();
    if answers.is_empty() {
        return negative(qname, ResponseCode::NoError);
    }
    Answer::with(
        ResponseCode::NoError,
        Sections {
            answers,
            ..Sections::default()
        },
    )
}

fn negative(qname: &Name, rcode: ResponseCode) -> Answer {
    let sections = Sections {
        authorities: vec![soa_record(qname, LOCAL_TTL)],
        ..Sections::default()
    };
    Answer {
        rcode,
        sections: Arc::new(sections),
        ede: None,
        authentic_data: false,
    }
}

/// The reverse-lookup name of an address, without trailing dot.
fn reverse_name(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut out = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                out.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            out.push_str("ip6.arpa");
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> Local {
        let mut cfg = config::Local::default();
        cfg.records.insert(
            "nas.home.arpa".into(),
            vec!["192.168.1.10".parse().unwrap(), "fd00::10".parse().unwrap()],
        );
        Local::new(&cfg)
    }

    fn ask(l: &Local, name: &str, t: RecordType) -> Option<Answer> {
        let qname = Name::from_ascii(format!("{name}.")).unwrap();
        l.answer(name, &qname, t)
    }

    #[test]
    fn local_record_answers_a_and_aaaa() {
        let l = local();
        let a = ask(&l, "nas.home.arpa", RecordType::A).unwrap();
        assert_eq!(a.sections.answers.len(), 1);
        let aaaa = ask(&l, "nas.home.arpa", RecordType::AAAA).unwrap();
        assert_eq!(aaaa.sections.answers.len(), 1);
        let mx = ask(&l, "nas.home.arpa", RecordType::MX).unwrap();
        assert!(mx.sections.answers.is_empty());
        assert_eq!(mx.rcode, ResponseCode::NoError);
    }

    #[test]
    fn local_record_has_reverse_ptr() {
        let a = ask(&local(), "10.1.168.192.in-addr.arpa", RecordType::PTR).unwrap();
        assert_eq!(a.sections.answers.len(), 1);
        let v6 = reverse_name("fd00::10".parse().unwrap());
        assert!(v6.starts_with("0.1.0.0."), "{v6}");
        assert!(
            ask(&local(), &v6, RecordType::PTR)
                .unwrap()
                .sections
                .answers
                .len()
                == 1
        );
    }

    #[test]
    fn private_reverse_without_record_is_nxdomain() {
        let a = ask(&local(), "7.0.16.172.in-addr.arpa", RecordType::PTR).unwrap();
        assert_eq!(a.rcode, ResponseCode::NXDomain);
        assert!(ask(&local(), "7.0.32.172.in-addr.arpa", RecordType::PTR).is_none());
    }

    #[test]
    fn special_names_never_go_upstream() {
        let l = local();
        assert_eq!(
            ask(&l, "printer.local", RecordType::A).unwrap().rcode,
            ResponseCode::NXDomain
        );
        assert_eq!(
            ask(&l, "other.home.arpa", RecordType::A).unwrap().rcode,
            ResponseCode::NXDomain
        );
        assert_eq!(
            ask(&l, "wpad", RecordType::A).unwrap().rcode,
            ResponseCode::NXDomain
        );
        assert_eq!(
            ask(&l, "localhost", RecordType::A)
                .unwrap()
                .sections
                .answers
                .len(),
            1
        );
        assert!(ask(&l, "example.com", RecordType::A).is_none());
        assert!(ask(&l, "com", RecordType::DS).is_none());
    }
}
