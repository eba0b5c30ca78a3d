//! Custom answers: what a list may say to answer for a name instead of
//! blocking it or letting it through — an adblock `$dnsrewrite` rule, or a
//! hosts line whose address is served (`[[lists]] hosts_addresses =
//! "answer"`). The parser makes them (`lists`), the image carries them
//! (`image`), the resolver picks them and the server writes them. Like
//! `vocab`, this module imports nothing of the crate.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A response code a rewrite may answer with and no record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rcode {
    /// NOERROR with no record: NODATA for every type.
    NoError,
    /// SERVFAIL.
    ServFail,
    /// NXDOMAIN.
    NxDomain,
    /// REFUSED.
    Refused,
}

impl Rcode {
    /// Every code, in the order of their numbers.
    pub const ALL: [Rcode; 4] = [
        Rcode::NoError,
        Rcode::ServFail,
        Rcode::NxDomain,
        Rcode::Refused,
    ];

    /// Its number in DNS headers.
    pub fn number(self) -> u8 {
        match self {
            Rcode::NoError => 0,
            Rcode::ServFail => 2,
            Rcode::NxDomain => 3,
            Rcode::Refused => 5,
        }
    }

    /// The code whose number is `number`, if a rewrite may answer it.
    pub fn from_number(number: u8) -> Option<Rcode> {
        Rcode::ALL.into_iter().find(|r| r.number() == number)
    }

    /// Its name as AdGuard's `$dnsrewrite` writes it (`NXDOMAIN`).
    pub fn as_str(self) -> &'static str {
        match self {
            Rcode::NoError => "NOERROR",
            Rcode::ServFail => "SERVFAIL",
            Rcode::NxDomain => "NXDOMAIN",
            Rcode::Refused => "REFUSED",
        }
    }

    /// The code named `name` (upper case, as AdGuard takes it).
    pub fn parse(name: &str) -> Option<Rcode> {
        Rcode::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// One answer a rule gives for a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Answer {
    /// An A record with this address (A questions only).
    A(Ipv4Addr),
    /// An AAAA record with this address (AAAA questions only).
    Aaaa(Ipv6Addr),
    /// This response code and no record, whatever the type asked.
    Rcode(Rcode),
}

impl fmt::Display for Answer {
    /// As a `$dnsrewrite=` value in its full form: `NOERROR;A;1.2.3.4`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::A(v4) => write!(f, "NOERROR;A;{v4}"),
            Answer::Aaaa(v6) => write!(f, "NOERROR;AAAA;{v6}"),
            Answer::Rcode(rcode) => write!(f, "{};;", rcode.as_str()),
        }
    }
}

/// What a rule says about a name's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rewrite {
    /// Answer this (several rules for one name give several records).
    To(Answer),
    /// `@@||name^$dnsrewrite`: no rewrite for the name (and, for a subtree
    /// rule, its subdomains); the name is decided as if none were listed.
    Off,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rcodes_round_trip_through_numbers_and_names() {
        for rcode in Rcode::ALL {
            assert_eq!(Rcode::from_number(rcode.number()), Some(rcode));
            assert_eq!(Rcode::parse(rcode.as_str()), Some(rcode));
        }
        assert_eq!(Rcode::from_number(1), None);
        assert_eq!(Rcode::parse("refused"), None);
    }

    #[test]
    fn answers_display_as_full_dnsrewrite_values() {
        assert_eq!(
            Answer::A(Ipv4Addr::new(1, 2, 3, 4)).to_string(),
            "NOERROR;A;1.2.3.4"
        );
        assert_eq!(
            Answer::Aaaa(Ipv6Addr::LOCALHOST).to_string(),
            "NOERROR;AAAA;::1"
        );
        assert_eq!(Answer::Rcode(Rcode::Refused).to_string(), "REFUSED;;");
    }
}
