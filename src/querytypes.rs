//! [`QueryTypes`]: the query types a rule is restricted to, as a 16-bit
//! mask with one bit per type that Pi-hole's `;querytype=` names (and one
//! for every other type). Regex list lines fill it from `;querytype=`; the
//! image stores it per regex pattern and the resolver tests a question's
//! type against it. The same mask can carry adblock `$dnstype=` later.
//!
//! Like [`crate::vocab`], this module imports nothing of the crate.

use std::fmt;

/// The type names, in bit order: bit `i` is `NAMES[i]`, with its
/// record-type number in `CODES[i]`; `OTHER` (the last bit) is every type
/// not named.
const NAMES: [&str; 16] = [
    "A", "AAAA", "ANY", "SRV", "SOA", "PTR", "TXT", "NAPTR", "MX", "DS", "RRSIG", "DNSKEY", "NS",
    "SVCB", "HTTPS", "OTHER",
];
/// The record-type number of each named bit (`OTHER` has none).
const CODES: [u16; 15] = [1, 28, 255, 33, 6, 12, 16, 35, 15, 43, 46, 48, 2, 64, 65];

/// A set of query types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QueryTypes(u16);

/// Why a `querytype=` value was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A name that is none of the types known.
    #[error(
        "unknown query type `{0}`: give one of A, AAAA, ANY, SRV, SOA, PTR, TXT, NAPTR, MX, DS, RRSIG, DNSKEY, NS, SVCB, HTTPS or OTHER"
    )]
    Unknown(String),
    /// An empty list, or one that leaves no type.
    #[error("the query type list names no type: give at least one, e.g. `querytype=A`")]
    Empty,
}

impl QueryTypes {
    /// Every type: a rule without restriction.
    pub const ALL: QueryTypes = QueryTypes(u16::MAX);

    /// The set with these bits (unknown bits are none: every bit names a
    /// type).
    pub const fn from_bits(bits: u16) -> QueryTypes {
        QueryTypes(bits)
    }

    /// The bits.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// The set of one record type, by its number (types not named go to
    /// `OTHER`).
    pub fn of(code: u16) -> QueryTypes {
        let bit = CODES
            .iter()
            .position(|&c| c == code)
            .unwrap_or(NAMES.len() - 1);
        QueryTypes(1 << bit)
    }

    /// Whether a question of record type `code` is in the set.
    #[inline]
    pub fn contains(self, code: u16) -> bool {
        self.0 & QueryTypes::of(code).0 != 0
    }

    /// Parses Pi-hole's list: type names separated by `,` (any case), the
    /// whole list inverted by a leading `!` (`!A,AAAA`: every type but A
    /// and AAAA).
    pub fn parse(list: &str) -> Result<QueryTypes, Error> {
        let (invert, list) = match list.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, list),
        };
        let mut bits = 0u16;
        for name in list.split(',').map(str::trim) {
            if name.is_empty() {
                return Err(Error::Empty);
            }
            let bit = NAMES
                .iter()
                .position(|n| n.eq_ignore_ascii_case(name))
                .ok_or_else(|| Error::Unknown(name.to_owned()))?;
            bits |= 1 << bit;
        }
        let bits = if invert { !bits } else { bits };
        if bits == 0 {
            return Err(Error::Empty);
        }
        Ok(QueryTypes(bits))
    }
}

impl fmt::Display for QueryTypes {
    /// `any type`, or the names joined by `,` (`!` and the names left out
    /// when that is shorter).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == QueryTypes::ALL {
            return f.write_str("any type");
        }
        let names = |bits: u16| {
            NAMES
                .iter()
                .enumerate()
                .filter(move |(i, _)| bits >> i & 1 == 1)
                .map(|(_, n)| *n)
                .collect::<Vec<_>>()
                .join(",")
        };
        if self.0.count_ones() > 8 {
            write!(f, "!{}", names(!self.0))
        } else {
            f.write_str(&names(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_names_is_those_types_and_a_bang_inverts_it() {
        let a = QueryTypes::parse("A").unwrap();
        assert!(a.contains(1) && !a.contains(28));
        let both = QueryTypes::parse("a, AAAA,HTTPS").unwrap();
        assert!(both.contains(1) && both.contains(28) && both.contains(65));
        assert!(!both.contains(16));
        let not_a = QueryTypes::parse("!A").unwrap();
        assert!(!not_a.contains(1) && not_a.contains(28) && not_a.contains(99));
        assert_eq!(not_a.to_string(), "!A");
        assert_eq!(both.to_string(), "A,AAAA,HTTPS");
    }

    #[test]
    fn other_covers_every_type_not_named() {
        let other = QueryTypes::parse("OTHER").unwrap();
        assert!(other.contains(99) && other.contains(252) && !other.contains(1));
        assert_eq!(QueryTypes::of(99), other);
    }

    #[test]
    fn unknown_and_empty_lists_are_refused() {
        assert_eq!(
            QueryTypes::parse("A,CNAMEX"),
            Err(Error::Unknown("CNAMEX".into()))
        );
        for list in ["", "A,", "!"] {
            assert!(QueryTypes::parse(list).is_err(), "{list:?}");
        }
        let every = NAMES.join(",");
        assert_eq!(QueryTypes::parse(&format!("!{every}")), Err(Error::Empty));
        assert_eq!(QueryTypes::parse(&every), Ok(QueryTypes::ALL));
    }
}
