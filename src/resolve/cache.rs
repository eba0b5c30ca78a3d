//! Step 4: the answer cache.
//!
//! Bounded by entries (`[cache] entries`; when full, the least used entries
//! go first). An entry lives for the smallest TTL of its records, clamped to
//! `min_ttl..=max_ttl`; answers count their TTLs down. NXDOMAIN and NODATA
//! answers live for the SOA's negative TTL (RFC 2308: the smaller of the SOA
//! record's TTL and its minimum field), capped by `negative_max_ttl`; a
//! negative answer without an SOA is not cached. SERVFAIL, REFUSED and
//! truncated answers are never cached. An expired entry stays until evicted
//! and may be served stale (RFC 8767) for `stale_max_age` when every upstream
//! fails, with TTL 30 and Extended DNS Error 3 "Stale Answer".

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::time::{Duration, Instant};

use super::answer::{Answer, EDE_STALE, Sections};
pub use super::stored::Wire;
use super::stored::cname_targets;
use crate::config;

/// TTL given to records of a stale answer (RFC 8767 recommends 30 s).
const STALE_TTL: u32 = 30;

/// What an entry is filed under.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// Lower-case name without trailing dot.
    pub name: Box<str>,
    /// Query type.
    pub qtype: u16,
    /// Query class.
    pub qclass: u16,
    /// The client asked for DNSSEC records (EDNS DO bit).
    pub dnssec_ok: bool,
    /// The client disabled validation (CD bit).
    pub checking_disabled: bool,
}

/// A [`Key`] made of borrowed parts, to look an entry up without
/// allocating. Hashes and compares as the `Key` it stands for.
#[derive(Clone, Copy, Debug)]
pub struct KeyRef<'a> {
    /// Lower-case name without trailing dot.
    pub name: &'a str,
    /// Query type.
    pub qtype: u16,
    /// Query class.
    pub qclass: u16,
    /// EDNS DO bit.
    pub dnssec_ok: bool,
    /// CD bit.
    pub checking_disabled: bool,
}

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The same fields in the same order as `Key`'s derived `Hash`;
        // `Box<str>` and `&str` hash alike.
        self.name.hash(state);
        self.qtype.hash(state);
        self.qclass.hash(state);
        self.dnssec_ok.hash(state);
        self.checking_disabled.hash(state);
    }
}

impl quick_cache::Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        *key.name == *self.name
            && key.qtype == self.qtype
            && key.qclass == self.qclass
            && key.dnssec_ok == self.dnssec_ok
            && key.checking_disabled == self.checking_disabled
    }
}

/// One cached answer, its records in wire form.
#[derive(Debug)]
pub struct Entry {
    wire: Wire,
    rcode: ResponseCode,
    authentic_data: bool,
    /// CNAME targets in the answer section, for the blocklist check.
    cnames: Box<[Box<str>]>,
    stored: Instant,
    /// Seconds the entry is fresh.
    ttl: u32,
}

impl Entry {
    /// The records, as the server's fast path copies them.
    pub fn wire(&self) -> &Wire {
        &self.wire
    }

    /// The response code.
    pub fn rcode(&self) -> ResponseCode {
        self.rcode
    }

    /// The AD flag the upstream set.
    pub fn authentic_data(&self) -> bool {
        self.authentic_data
    }

    /// The CNAME targets of the answer section (lower case, no trailing dot).
    pub fn cname_targets(&self) -> &[Box<str>] {
        &self.cnames
    }

    /// Whole seconds since the entry was stored; TTLs count down by this.
    pub fn age(&self) -> u32 {
        u32::try_from(self.stored.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    fn answer(&self, key: &Key, ttl: impl Fn(u32) -> u32) -> Option<Answer> {
        self.wire
            .decode(&key.name, key.qtype, self.rcode, self.authentic_data, ttl)
    }
}

/// The bounded answer cache.
pub struct Cache {
    entries: Option<quick_cache::sync::Cache<Key, Arc<Entry>>>,
    config: config::Cache,
}

impl Cache {
    /// A cache sized and clamped by `config`.
    pub fn new(config: &config::Cache) -> Cache {
        let entries = (config.entries > 0).then(|| quick_cache::sync::Cache::new(config.entries));
        Cache {
            entries,
            config: config.clone(),
        }
    }

    /// A fresh answer, its TTLs counted down, or `None`.
    pub fn get(&self, key: &Key) -> Option<Answer> {
        let entry = self.entries.as_ref()?.get(key)?;
        let age = entry.age();
        if age >= entry.ttl {
            return None;
        }
        entry.answer(key, |ttl| ttl.saturating_sub(age))
    }

    /// A fresh entry for `key`, without copying its answer.
    pub fn fresh_entry(&self, key: &KeyRef<'_>) -> Option<Arc<Entry>> {
        let entry = self.entries.as_ref()?.get(key)?;
        (entry.age() < entry.ttl).then_some(entry)
    }

    /// An expired answer that may still be served stale, or `None`.
    pub fn get_stale(&self, key: &Key) -> Option<Answer> {
        if !self.config.serve_stale {
            return None;
        }
        let entry = self.entries.as_ref()?.get(key)?;
        let expired_at = entry.stored + Duration::from_secs(u64::from(entry.ttl));
        let now = Instant::now();
        if now > expired_at + Duration::from_secs(u64::from(self.config.stale_max_age)) {
            return None;
        }
        let mut answer = entry.answer(key, |_| STALE_TTL)?;
        answer.ede = Some((EDE_STALE, Arc::from("stale answer: upstream unreachable")));
        Some(answer)
    }

    /// Stores an upstream answer, if it may be cached.
    pub fn insert(&self, key: Key, answer: &Answer) {
        let Some(entries) = &self.entries else { return };
        let Some(ttl) = self.lifetime(answer) else {
            return;
        };
        if ttl == 0 {
            return;
        }
        let clamped = with_ttls(answer, |t| {
            t.clamp(self.config.min_ttl, self.config.max_ttl)
        });
        // Names the wire form cannot hold exactly are not kept.
        let Some(wire) = Wire::encode(&key.name, key.qtype, &clamped) else {
            return;
        };
        if key.qclass != u16::from(hickory_proto::rr::DNSClass::IN) {
            return;
        }
        let entry = Entry {
            wire,
            rcode: clamped.rcode,
            authentic_data: clamped.authentic_data,
            cnames: cname_targets(&clamped),
            stored: Instant::now(),
            ttl,
        };
        entries.insert(key, Arc::new(entry));
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, |e| e.len())
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lifetime(&self, answer: &Answer) -> Option<u32> {
        let c = &self.config;
        let s = &answer.sections;
        match answer.rcode {
            ResponseCode::NoError if !s.answers.is_empty() => {
                let min = s.answers.iter().map(|r| r.ttl).min()?;
                Some(min.clamp(c.min_ttl, c.max_ttl))
            }
            ResponseCode::NoError | ResponseCode::NXDomain => {
                let soa = s
                    .authorities
                    .iter()
                    .find(|r| r.record_type() == RecordType::SOA)?;
                let RData::SOA(data) = &soa.data else {
                    return None;
                };
                Some(soa.ttl.min(data.minimum).min(c.negative_max_ttl))
            }
            _ => None,
        }
    }
}

/// A copy of `answer` with every record's TTL mapped by `f`.
fn with_ttls(answer: &Answer, f: impl Fn(u32) -> u32) -> Answer {
    let map = |records: &[Record]| -> Vec<Record> {
        records
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.ttl = f(r.ttl);
                r
            })
            .collect()
    };
    let s = &answer.sections;
    Answer {
        sections: Arc::new(Sections {
            answers: map(&s.answers),
            authorities: map(&s.authorities),
            additionals: map(&s.additionals),
        }),
        ..answer.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::block::soa_record;
    use hickory_proto::rr::Name;
    use hickory_proto::rr::rdata::A;

    fn key(name: &str) -> Key {
        Key {
            name: name.into(),
            qtype: 1,
            qclass: 1,
            dnssec_ok: false,
            checking_disabled: false,
        }
    }

    fn a_answer(ttl: u32) -> Answer {
        let name = Name::from_ascii("www.example.com.").unwrap();
        let record = Record::from_rdata(name, ttl, RData::A(A::new(192, 0, 2, 1)));
        Answer::with(
            ResponseCode::NoError,
            Sections {
                answers: vec![record],
                ..Sections::default()
            },
        )
    }

    #[tokio::test(start_paused = true)]
    async fn ttl_counts_down_and_entry_expires() {
        let cache = Cache::new(&config::Cache::default());
        cache.insert(key("www.example.com"), &a_answer(100));
        tokio::time::advance(Duration::from_secs(40)).await;
        let hit = cache.get(&key("www.example.com")).unwrap();
        assert_eq!(hit.sections.answers[0].ttl, 60);
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(cache.get(&key("www.example.com")).is_none());
        let stale = cache.get_stale(&key("www.example.com")).unwrap();
        assert_eq!(stale.sections.answers[0].ttl, STALE_TTL);
        assert_eq!(stale.ede.unwrap().0, EDE_STALE);
    }

    #[tokio::test(start_paused = true)]
    async fn negative_answer_lives_for_soa_minimum() {
        let cache = Cache::new(&config::Cache::default());
        let name = Name::from_ascii("nope.example.com.").unwrap();
        let mut soa = soa_record(&name, 60);
        soa.ttl = 300;
        let answer = Answer::with(
            ResponseCode::NXDomain,
            Sections {
                authorities: vec![soa],
                ..Sections::default()
            },
        );
        cache.insert(key("nope.example.com"), &answer);
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(
            cache.get(&key("nope.example.com")).unwrap().rcode,
            ResponseCode::NXDomain
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(cache.get(&key("nope.example.com")).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn servfail_and_soa_less_negative_answers_are_not_cached() {
        let cache = Cache::new(&config::Cache::default());
        cache.insert(key("a.example"), &Answer::empty(ResponseCode::ServFail));
        cache.insert(key("b.example"), &Answer::empty(ResponseCode::NXDomain));
        assert!(cache.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn ttls_are_clamped() {
        let cfg = config::Cache {
            min_ttl: 50,
            max_ttl: 200,
            ..config::Cache::default()
        };
        let cache = Cache::new(&cfg);
        cache.insert(key("low"), &a_answer(5));
        cache.insert(key("high"), &a_answer(5000));
        assert_eq!(cache.get(&key("low")).unwrap().sections.answers[0].ttl, 50);
        assert_eq!(
            cache.get(&key("high")).unwrap().sections.answers[0].ttl,
            200
        );
    }

    #[tokio::test(start_paused = true)]
    async fn cache_is_bounded_by_entries() {
        let cfg = config::Cache {
            entries: 100,
            ..config::Cache::default()
        };
        let cache = Cache::new(&cfg);
        for i in 0..1000 {
            cache.insert(key(&format!("n{i}.example")), &a_answer(300));
        }
        assert!(cache.len() <= 100, "{}", cache.len());
    }

    #[tokio::test(start_paused = true)]
    async fn stale_is_not_served_past_max_age() {
        let cfg = config::Cache {
            stale_max_age: 10,
            ..config::Cache::default()
        };
        let cache = Cache::new(&cfg);
        cache.insert(key("x"), &a_answer(5));
        tokio::time::advance(Duration::from_secs(16)).await;
        assert!(cache.get_stale(&key("x")).is_none());
    }
}
