//! The fixed sets the counters are kept by besides outcomes and protocols
//! (whose order is `vocab`'s `Outcome::ALL` and `Protocol::ALL`): query
//! types and the latency histogram's buckets. Their order is part of the
//! segment layout (`layout`): append only, and bump the layout version when
//! an index changes meaning.

use hickory_proto::rr::RecordType;

/// The query types counted one by one; every other type is `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// HTTPS service binding.
    Https,
    /// Alias.
    Cname,
    /// Mail exchanger.
    Mx,
    /// Text.
    Txt,
    /// Reverse lookup.
    Ptr,
    /// Service location.
    Srv,
    /// Service binding.
    Svcb,
    /// Any other type.
    Other,
}

impl QType {
    /// Every counted type, in the order of the segment's type counters.
    pub const ALL: [QType; 10] = [
        QType::A,
        QType::Aaaa,
        QType::Https,
        QType::Cname,
        QType::Mx,
        QType::Txt,
        QType::Ptr,
        QType::Srv,
        QType::Svcb,
        QType::Other,
    ];

    /// The counted type of `qtype`.
    pub fn of(qtype: RecordType) -> QType {
        match qtype {
            RecordType::A => QType::A,
            RecordType::AAAA => QType::Aaaa,
            RecordType::HTTPS => QType::Https,
            RecordType::CNAME => QType::Cname,
            RecordType::MX => QType::Mx,
            RecordType::TXT => QType::Txt,
            RecordType::PTR => QType::Ptr,
            RecordType::SRV => QType::Srv,
            RecordType::SVCB => QType::Svcb,
            _ => QType::Other,
        }
    }

    /// Its index in [`QType::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The label used by `stats` and the metrics: `A`, `AAAA`, …, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            QType::A => "A",
            QType::Aaaa => "AAAA",
            QType::Https => "HTTPS",
            QType::Cname => "CNAME",
            QType::Mx => "MX",
            QType::Txt => "TXT",
            QType::Ptr => "PTR",
            QType::Srv => "SRV",
            QType::Svcb => "SVCB",
            QType::Other => "other",
        }
    }
}

/// Upper bounds of the latency histogram's buckets (ms); one more bucket
/// holds everything slower.
pub const LATENCY_BOUNDS_MS: [u64; 10] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

/// The number of latency buckets, the last one unbounded.
pub(super) const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

/// The bucket of a latency of `us` microseconds.
pub(super) fn latency_bucket(us: u64) -> usize {
    LATENCY_BOUNDS_MS
        .iter()
        .position(|&ms| us <= ms * 1000)
        .unwrap_or(LATENCY_BOUNDS_MS.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qtype_indexes_follow_the_segment_order() {
        for (i, qtype) in QType::ALL.into_iter().enumerate() {
            assert_eq!(qtype.index(), i);
        }
        assert_eq!(QType::of(RecordType::AAAA), QType::Aaaa);
        assert_eq!(QType::of(RecordType::NS), QType::Other);
    }

    #[test]
    fn latency_buckets_include_their_upper_bound() {
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(1000), 0);
        assert_eq!(latency_bucket(1001), 1);
        assert_eq!(latency_bucket(1_000_000), 9);
        assert_eq!(latency_bucket(1_000_001), 10);
        assert_eq!(latency_bucket(u64::MAX), 10);
    }
}
