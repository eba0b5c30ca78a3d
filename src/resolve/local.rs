//! Step 2: names answered here and never forwarded — the household's own
//! records (with their reverse PTRs), and special-use names: `localhost`
//! (RFC 6761), `.local` (mDNS, RFC 6762), `.invalid`, `.onion`, `home.arpa`
//! (RFC 8375), `resolver.arpa` (RFC 9462), single-label names (never sent
//! to the internet, like dnsmasq's `domain-needed`), and the reverse zones
//! that belong to the house.
//!
//! Those reverse zones are RFC 6303's locally served zones (private,
//! loopback, link-local, documentation and unspecified ranges, `::1`,
//! ULA) with CGNAT `100.64.0.0/10` (RFC 7793), and the reverse zones of
//! every range in `[access] allow` — IPv4 ranges of /8 or longer, IPv6 of
//! /7 or longer, so a wide-open `allow` never swallows the public reverse
//! tree. A loopback address's PTR is `localhost`. What this step decides
//! travels as a [`LocalAnswer`]; the server writes it.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::RecordType;
use ipnet::IpNet;

use crate::config;
use crate::domain::reverse::{reverse_name, reverse_zones};
use crate::domain::wire;

/// TTL of local answers (seconds).
pub const LOCAL_TTL: u32 = 60;

/// RFC 6303 (and RFC 7793) ranges whose reverse zones are served here.
const LOCAL_RANGES: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "255.255.255.255/32",
    "::/128",
    "::1/128",
    "fd00::/8",
    "fe80::/10",
    "2001:db8::/32",
];

/// What the local step answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalAnswer<'a> {
    /// These addresses, as A or AAAA by the question's type (NODATA for
    /// other types, or when none is of the asked family).
    Addresses(&'a [IpAddr]),
    /// A PTR to this wire name.
    Pointer(&'a [u8]),
    /// No records: NXDOMAIN (`nonexistent`) or NODATA, with an SOA.
    Negative {
        /// NXDOMAIN rather than NODATA.
        nonexistent: bool,
    },
    /// The RFC 8482 answer to `ANY`: one HINFO record.
    Hinfo,
}

/// Local records, special-use names and the house's reverse zones.
#[derive(Debug, Default)]
pub struct Local {
    /// Name (lower-case text) → addresses, sorted by name: a binary search
    /// asks no hash of every question.
    records: Vec<(String, Vec<IpAddr>)>,
    /// Reverse name (`4.3.2.1.in-addr.arpa`) → the wire name it points at.
    reverse: HashMap<String, Box<[u8]>>,
    /// Reverse zones answered here (subtrees).
    zones: HashSet<String>,
    /// Zones of `[[forward]]` tables: names under them that would be
    /// answered here as special are forwarded instead.
    forwarded: HashSet<String>,
}

impl Local {
    /// Builds the tables from `[local]`, the `[access] allow` ranges and
    /// the `[[forward]]` zones. Names were validated with the config.
    pub fn new(config: &config::Local, allow: &[IpNet], forwards: &[config::Forward]) -> Local {
        let mut local = Local::default();
        let mut target = Vec::new();
        let loopback = [
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ];
        if wire::from_text("localhost", &mut target) {
            for addr in loopback {
                local
                    .reverse
                    .insert(reverse_name(addr), target.as_slice().into());
            }
        }
        for (name, addrs) in &config.records {
            let Ok(domain) = crate::domain::Domain::parse(name) else {
                continue;
            };
            if wire::from_text(domain.as_str(), &mut target) {
                for addr in addrs {
                    local
                        .reverse
                        .insert(reverse_name(*addr), target.as_slice().into());
                }
            }
            local
                .records
                .push((domain.as_str().to_owned(), addrs.clone()));
        }
        local.records.sort_by(|a, b| a.0.cmp(&b.0));
        // The config refuses a name given twice.
        local.records.dedup_by(|a, b| a.0 == b.0);
        let fixed = LOCAL_RANGES.iter().filter_map(|r| r.parse::<IpNet>().ok());
        // A wide-open range in `allow` must not swallow the public tree.
        let narrow = |net: &IpNet| match net {
            IpNet::V4(v4) => v4.prefix_len() >= 8,
            IpNet::V6(v6) => v6.prefix_len() >= 7,
        };
        for net in fixed.chain(allow.iter().copied()).filter(narrow) {
            local.zones.extend(reverse_zones(net));
        }
        local.forwarded = forwards.iter().flat_map(config::Forward::zones).collect();
        local
    }

    /// The local answer for the name with lower-case text `name`, or `None`
    /// to go on. Allocates nothing.
    pub fn answer(&self, name: &str, qtype: RecordType) -> Option<LocalAnswer<'_>> {
        if let Ok(at) = self.records.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            return Some(LocalAnswer::Addresses(&self.records[at].1));
        }
        let negative = |nonexistent| Some(LocalAnswer::Negative { nonexistent });
        // Every special-use name is known by its last label.
        let Some((_, top)) = name.rsplit_once('.') else {
            let infrastructure = matches!(
                qtype,
                RecordType::NS | RecordType::SOA | RecordType::DS | RecordType::DNSKEY
            );
            return match name {
                "localhost" => Some(LocalAnswer::Addresses(&LOOPBACK)),
                "local" | "invalid" | "onion" => negative(true),
                "" => None,
                _ if infrastructure || self.forwarded.contains(name) => None,
                // A single label: never sent to the internet.
                _ => negative(true),
            };
        };
        match top {
            "localhost" => Some(LocalAnswer::Addresses(&LOOPBACK)),
            "local" | "invalid" | "onion" => negative(true),
            "arpa" => self.arpa(name, qtype),
            _ => None,
        }
    }

    /// Names under `arpa`: local PTRs, `home.arpa`, the house's reverse
    /// zones and `resolver.arpa`.
    fn arpa(&self, name: &str, qtype: RecordType) -> Option<LocalAnswer<'_>> {
        let negative = |nonexistent| Some(LocalAnswer::Negative { nonexistent });
        if qtype == RecordType::PTR
            && let Some(target) = self.reverse.get(name)
        {
            return Some(LocalAnswer::Pointer(target));
        }
        // A zone the household forwards (the router's reverse zone) is
        // asked there, not answered here.
        if !self.forwarded.is_empty() && suffixes(name).any(|zone| self.forwarded.contains(zone)) {
            return None;
        }
        if in_zone(name, "home.arpa") {
            return negative(true);
        }
        if (name.ends_with(".in-addr.arpa") || name.ends_with(".ip6.arpa"))
            && suffixes(name).any(|zone| self.zones.contains(zone))
        {
            return negative(true);
        }
        if in_zone(name, "resolver.arpa") {
            return negative(false);
        }
        None
    }
}

const LOOPBACK: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::LOCALHOST),
    IpAddr::V6(Ipv6Addr::LOCALHOST),
];

fn in_zone(name: &str, zone: &str) -> bool {
    name == zone
        || (name.len() > zone.len()
            && name.ends_with(zone)
            && name.as_bytes()[name.len() - zone.len() - 1] == b'.')
}

/// `name` and each of its parents.
fn suffixes(name: &str) -> impl Iterator<Item = &str> {
    std::iter::once(name).chain(
        name.char_indices()
            .filter(|&(_, c)| c == '.')
            .map(move |(i, _)| &name[i + 1..]),
    )
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
        Local::new(&cfg, &config::Access::default().allow, &[])
    }

    fn nx(answer: Option<LocalAnswer<'_>>) -> bool {
        answer == Some(LocalAnswer::Negative { nonexistent: true })
    }

    #[test]
    fn local_record_answers_its_addresses() {
        let l = local();
        let Some(LocalAnswer::Addresses(addrs)) = l.answer("nas.home.arpa", RecordType::A) else {
            panic!("a local record");
        };
        assert_eq!(addrs.len(), 2);
        assert!(matches!(
            l.answer("nas.home.arpa", RecordType::MX),
            Some(LocalAnswer::Addresses(_))
        ));
    }

    #[test]
    fn local_record_has_reverse_ptr() {
        let l = local();
        assert_eq!(
            l.answer("10.1.168.192.in-addr.arpa", RecordType::PTR),
            Some(LocalAnswer::Pointer(b"\x03nas\x04home\x04arpa\x00"))
        );
        let v6 = reverse_name("fd00::10".parse().unwrap());
        assert!(v6.starts_with("0.1.0.0."), "{v6}");
        assert!(matches!(
            l.answer(&v6, RecordType::PTR),
            Some(LocalAnswer::Pointer(_))
        ));
    }

    #[test]
    fn loopback_addresses_point_to_localhost() {
        let l = local();
        let localhost = Some(LocalAnswer::Pointer(b"\x09localhost\x00"));
        assert_eq!(
            l.answer("1.0.0.127.in-addr.arpa", RecordType::PTR),
            localhost
        );
        let v6 = reverse_name(IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(l.answer(&v6, RecordType::PTR), localhost);
    }

    #[test]
    fn reverse_zones_of_the_house_are_nxdomain() {
        let l = local();
        for name in [
            "7.0.16.172.in-addr.arpa",
            "9.9.31.172.in-addr.arpa",
            "1.1.64.100.in-addr.arpa",
            "1.1.127.100.in-addr.arpa",
            "5.10.in-addr.arpa",
            "2.0.0.127.in-addr.arpa",
            "4.3.2.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa",
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.f.ip6.arpa",
            "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
        ] {
            assert!(nx(l.answer(name, RecordType::PTR)), "{name}");
        }
        for public in [
            "7.0.32.172.in-addr.arpa",
            "1.1.128.100.in-addr.arpa",
            "8.8.8.8.in-addr.arpa",
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.8.8.4.0.6.8.4.1.0.0.2.ip6.arpa",
        ] {
            assert!(l.answer(public, RecordType::PTR).is_none(), "{public}");
        }
    }

    #[test]
    fn forwarded_zones_are_not_answered_here() {
        let forward = config::Forward {
            domains: vec!["192.168.178.0/24".into(), "lan".into()],
            servers: vec!["192.168.178.1:53".parse().unwrap()],
        };
        let l = Local::new(
            &config::Local::default(),
            &config::Access::default().allow,
            &[forward],
        );
        // The router's reverse zone and its domain go to the router ...
        assert!(
            l.answer("7.178.168.192.in-addr.arpa", RecordType::PTR)
                .is_none()
        );
        assert!(
            l.answer("178.168.192.in-addr.arpa", RecordType::SOA)
                .is_none()
        );
        assert!(l.answer("lan", RecordType::A).is_none());
        // ... the house's other private zones and single labels stay here.
        assert!(nx(l.answer("7.1.168.192.in-addr.arpa", RecordType::PTR)));
        assert!(nx(l.answer("nas", RecordType::A)));
        // A loopback PTR is still answered here.
        assert!(matches!(
            l.answer("1.0.0.127.in-addr.arpa", RecordType::PTR),
            Some(LocalAnswer::Pointer(_))
        ));
    }

    #[test]
    fn access_ranges_bring_their_reverse_zones_but_wide_ones_do_not() {
        let allow: Vec<IpNet> = [
            "198.18.0.0/15",
            "2001:db8:1234:5600::/56",
            "0.0.0.0/0",
            "::/0",
        ]
        .iter()
        .map(|n| n.parse().unwrap())
        .collect();
        let l = Local::new(&config::Local::default(), &allow, &[]);
        assert!(nx(l.answer("9.9.19.198.in-addr.arpa", RecordType::PTR)));
        assert!(
            l.answer("9.9.20.198.in-addr.arpa", RecordType::PTR)
                .is_none()
        );
        let inside = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.5.4.3.2.1.8.b.d.0.1.0.0.2.ip6.arpa";
        assert!(nx(l.answer(inside, RecordType::PTR)));
        assert!(l.answer("8.8.8.8.in-addr.arpa", RecordType::PTR).is_none());
    }

    #[test]
    fn special_names_never_go_upstream() {
        let l = local();
        assert!(nx(l.answer("printer.local", RecordType::A)));
        assert!(nx(l.answer("other.home.arpa", RecordType::A)));
        assert!(nx(l.answer("wpad", RecordType::A)));
        assert_eq!(
            l.answer("_dns.resolver.arpa", RecordType::SVCB),
            Some(LocalAnswer::Negative { nonexistent: false })
        );
        assert!(matches!(
            l.answer("a.localhost", RecordType::AAAA),
            Some(LocalAnswer::Addresses(_))
        ));
        assert!(l.answer("example.com", RecordType::A).is_none());
        assert!(l.answer("com", RecordType::DS).is_none());
    }
}
