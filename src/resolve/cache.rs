//! Step 4: the answer cache.
//!
//! Bounded by entries (`[cache] entries`; when full, the least used entries
//! go first). It holds [`Entry`]s, upstream answers in wire form, filed by
//! the question's lower-case text, type, class and the DO and CD bits. An
//! entry lives for its lifetime (the smallest TTL, clamped; RFC 2308's
//! negative TTL for NXDOMAIN and NODATA; see `entry`); answers count their
//! TTLs down. SERVFAIL, REFUSED, truncated answers and negative answers
//! without an SOA are never stored. An expired entry stays until evicted
//! and may be served stale (RFC 8767) for `stale_max_age` when every
//! upstream fails.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use hickory_proto::rr::DNSClass;
use tokio::time::{Duration, Instant};

use super::entry::Entry;
use crate::config;

/// What an entry is filed under.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// The name's lower-case text (`domain::wire::lower_text`).
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
    /// The name's lower-case text.
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

impl KeyRef<'_> {
    /// The owned key.
    pub fn to_key(&self) -> Key {
        Key {
            name: self.name.into(),
            qtype: self.qtype,
            qclass: self.qclass,
            dnssec_ok: self.dnssec_ok,
            checking_disabled: self.checking_disabled,
        }
    }
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

/// The bounded answer cache.
pub struct Cache {
    entries: Option<quick_cache::sync::Cache<Key, Arc<Entry>>>,
    serve_stale: bool,
    stale_max_age: Duration,
    optimistic_max_age: Duration,
}

impl Cache {
    /// A cache sized by `config`.
    pub fn new(config: &config::Cache) -> Cache {
        let entries = (config.entries > 0).then(|| quick_cache::sync::Cache::new(config.entries));
        Cache {
            entries,
            serve_stale: config.serve_stale,
            stale_max_age: Duration::from_secs(u64::from(config.stale_max_age)),
            optimistic_max_age: Duration::from_secs(u64::from(config.optimistic_max_age)),
        }
    }

    /// A fresh entry for `key`, with its age in whole seconds (the clock
    /// is read once).
    pub fn fresh(&self, key: &KeyRef<'_>) -> Option<(Arc<Entry>, u32)> {
        self.fresh_at(key, Instant::now())
    }

    /// [`fresh`](Self::fresh) at `now`, a clock read the caller reuses.
    pub fn fresh_at(&self, key: &KeyRef<'_>, now: Instant) -> Option<(Arc<Entry>, u32)> {
        let entry = self.entries.as_ref()?.get(key)?;
        let age = entry.age_at(now);
        (age < entry.lifetime()).then_some((entry, age))
    }

    /// An expired entry for `key` that may still be served stale.
    pub fn stale(&self, key: &KeyRef<'_>) -> Option<Arc<Entry>> {
        if !self.serve_stale {
            return None;
        }
        let entry = self.entries.as_ref()?.get(key)?;
        (Instant::now() <= entry.expired_at() + self.stale_max_age).then_some(entry)
    }

    /// An expired entry for `key` no longer ago than `optimistic_max_age`,
    /// to answer at once while it is refreshed (`[cache] optimistic`).
    pub fn expired(&self, key: &KeyRef<'_>) -> Option<Arc<Entry>> {
        let entry = self.entries.as_ref()?.get(key)?;
        let expired_at = entry.expired_at();
        let now = Instant::now();
        (expired_at <= now && now <= expired_at + self.optimistic_max_age).then_some(entry)
    }

    /// Stores `entry` under `key`, if it may be cached at all.
    pub fn insert(&self, key: Key, entry: Arc<Entry>) {
        let Some(entries) = &self.entries else { return };
        if entry.lifetime() == 0 || key.qclass != u16::from(DNSClass::IN) {
            return;
        }
        entries.insert(key, entry);
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, |e| e.len())
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::{Name, RData, Record, RecordType};

    const NAME: &[u8] = b"\x03www\x07example\x03com\x00";

    fn key(name: &str) -> KeyRef<'_> {
        KeyRef {
            name,
            qtype: 1,
            qclass: 1,
            dnssec_ok: false,
            checking_disabled: false,
        }
    }

    fn entry(ttl: u32, cfg: &config::Cache) -> Arc<Entry> {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        m.metadata.response_code = ResponseCode::NoError;
        let owner = Name::from_ascii("www.example.com.").unwrap();
        m.answers = vec![Record::from_rdata(
            owner,
            ttl,
            RData::A(A::new(192, 0, 2, 1)),
        )];
        Arc::new(Entry::encode(NAME, RecordType::A, &m, cfg).unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn an_entry_is_fresh_for_its_lifetime_then_stale() {
        let cfg = config::Cache::default();
        let cache = Cache::new(&cfg);
        cache.insert(key("www.example.com").to_key(), entry(100, &cfg));
        tokio::time::advance(Duration::from_secs(40)).await;
        let (_, age) = cache.fresh(&key("www.example.com")).unwrap();
        assert_eq!(age, 40);
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(cache.fresh(&key("www.example.com")).is_none());
        assert!(cache.stale(&key("www.example.com")).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn stale_is_not_served_past_max_age_or_when_off() {
        let cfg = config::Cache {
            stale_max_age: 10,
            ..config::Cache::default()
        };
        let cache = Cache::new(&cfg);
        cache.insert(key("x").to_key(), entry(5, &cfg));
        tokio::time::advance(Duration::from_secs(14)).await;
        assert!(cache.stale(&key("x")).is_some());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(cache.stale(&key("x")).is_none());
        let off = Cache::new(&config::Cache {
            serve_stale: false,
            ..config::Cache::default()
        });
        off.insert(key("x").to_key(), entry(5, &cfg));
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(off.stale(&key("x")).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_entry_is_optimistic_only_until_its_own_max_age() {
        let cfg = config::Cache {
            optimistic_max_age: 10,
            stale_max_age: 100,
            ..config::Cache::default()
        };
        let cache = Cache::new(&cfg);
        cache.insert(key("x").to_key(), entry(5, &cfg));
        tokio::time::advance(Duration::from_secs(4)).await;
        assert!(cache.expired(&key("x")).is_none(), "still fresh");
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(cache.expired(&key("x")).is_some());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(cache.expired(&key("x")).is_none());
        assert!(
            cache.stale(&key("x")).is_some(),
            "serve-stale keeps its own age"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn entries_with_no_lifetime_and_other_classes_are_not_kept() {
        let cfg = config::Cache::default();
        let cache = Cache::new(&cfg);
        cache.insert(key("zero").to_key(), entry(0, &cfg));
        let mut chaos = key("chaos").to_key();
        chaos.qclass = 3;
        cache.insert(chaos, entry(60, &cfg));
        assert!(cache.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn the_cache_is_bounded_by_entries() {
        let cfg = config::Cache {
            entries: 100,
            ..config::Cache::default()
        };
        let cache = Cache::new(&cfg);
        let e = entry(300, &cfg);
        for i in 0..1000 {
            cache.insert(key(&format!("n{i}.example")).to_key(), e.clone());
        }
        assert!(cache.len() <= 100, "{}", cache.len());
    }

    #[tokio::test(start_paused = true)]
    async fn keys_differ_by_type_and_bits() {
        let cfg = config::Cache::default();
        let cache = Cache::new(&cfg);
        cache.insert(key("www.example.com").to_key(), entry(300, &cfg));
        let mut aaaa = key("www.example.com");
        aaaa.qtype = 28;
        assert!(cache.fresh(&aaaa).is_none());
        let mut dnssec = key("www.example.com");
        dnssec.dnssec_ok = true;
        assert!(cache.fresh(&dnssec).is_none());
        assert!(cache.fresh(&key("www.example.com")).is_some());
    }
}
