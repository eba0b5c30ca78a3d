//! The chain every query walks, in this order:
//!
//! 0. **Rate limit**, before a message is even parsed: the server calls
//!    [`Resolver::admit`] once per received message, and a client over its
//!    limit is refused or dropped there ([`super::ratelimit`]); `resolve`
//!    itself never rate limits.
//! 1. **Access**: a client outside `[access] allow` gets REFUSED.
//! 2. **Refusals**: classes other than IN, and zone transfers, get REFUSED;
//!    `ANY` gets the RFC 8482 minimal answer unless the name is blocked.
//! 3. **Local**: the household's own records and special-use names.
//! 4. **Blocking** (unless switched off): canary names; then the image —
//!    an allow rule beats every block rule; a blocked name gets the
//!    configured sinkhole answer naming its list.
//! 5. **Cache**: a fresh entry is answered with its TTLs counted down.
//! 6. **Forward**: upstream, sharing identical questions in flight; the
//!    answer is cached. When every upstream fails, or `[upstream]
//!    max_inflight` questions are already in flight: a stale entry, else
//!    SERVFAIL.
//! 7. **CNAME check** on answers from 5 and 6: when a CNAME in the chain
//!    points at a blocked name, the query is answered as blocked (a tracker
//!    hidden behind a first-party alias). Skipped for allowed names.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::HINFO;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::access::Access;
use super::answer::{Answer, EDE_PROHIBITED, Sections};
use super::block::{Blocker, CANARY_NAMES};
use super::cache::{Cache, Entry, Key, KeyRef};
use super::forward::{self, Forwarder};
use super::local::Local;
use super::outcome::Outcome;
use super::ratelimit::{Admission, RateLimiter};
use crate::config::Config;
use crate::image::{Image, Verdict};
use crate::telemetry::Telemetry;

/// The image type the server answers from.
pub type ServedImage = Image<crate::exchange::Mapping>;

/// One client question.
#[derive(Clone, Copy, Debug)]
pub struct Question<'a> {
    /// The name as the client wrote it.
    pub name: &'a Name,
    /// Query type.
    pub qtype: RecordType,
    /// Query class.
    pub qclass: DNSClass,
    /// The client's address.
    pub client: IpAddr,
    /// EDNS DO bit.
    pub dnssec_ok: bool,
    /// CD bit.
    pub checking_disabled: bool,
}

/// A question as the server's fast path has it: straight from the packet,
/// class IN.
#[derive(Clone, Debug)]
pub struct QuickQuestion<'a, L> {
    /// The name in lower case, dotted, without the trailing dot.
    pub lower: &'a str,
    /// The name's labels, leftmost first, as sent.
    pub labels: L,
    /// Query type.
    pub qtype: RecordType,
    /// The client's address.
    pub client: IpAddr,
    /// EDNS DO bit.
    pub dnssec_ok: bool,
    /// CD bit.
    pub checking_disabled: bool,
}

/// What [`Resolver::quick`] found.
#[derive(Debug)]
pub enum Quick<'i> {
    /// Blocked by the list named: the configured sinkhole answer.
    Blocked(&'i str),
    /// A fresh cache entry.
    Cached(Arc<Entry>),
    /// Anything else: walk the whole chain with [`Resolver::resolve`].
    General,
}

/// Answers questions: owns every step of the chain.
pub struct Resolver {
    limiter: RateLimiter,
    access: Access,
    local: Local,
    blocker: Blocker,
    check_cnames: bool,
    image: ArcSwap<ServedImage>,
    cache: Cache,
    forwarder: Forwarder,
    /// Blocking is off until this time (ms since the Unix epoch); 0: on.
    disabled_until_ms: AtomicU64,
    /// Where answered queries are counted (`ralo serve` sets it).
    telemetry: Option<Arc<Telemetry>>,
}

impl Resolver {
    /// A resolver for `config`, answering blocks from `image`.
    pub fn new(config: &Config, image: ServedImage) -> Resolver {
        Resolver {
            limiter: RateLimiter::new(&config.access),
            access: Access::new(config.access.allow.clone()),
            local: Local::new(&config.local),
            blocker: Blocker::new(config.blocking.mode, config.blocking.ttl),
            check_cnames: config.blocking.check_cnames,
            image: ArcSwap::from_pointee(image),
            cache: Cache::new(&config.cache),
            forwarder: Forwarder::new(&config.upstream),
            disabled_until_ms: AtomicU64::new(0),
            telemetry: None,
        }
    }

    /// The same resolver, counting upstream tries and publishing the image
    /// generation and the blocking switch in `telemetry`.
    pub fn with_telemetry(mut self, telemetry: Arc<Telemetry>) -> Resolver {
        telemetry.set_generation(self.image.load().generation());
        self.forwarder.set_telemetry(telemetry.clone());
        self.telemetry = Some(telemetry);
        self
    }

    /// Where answered queries are to be recorded, if anywhere.
    pub fn telemetry(&self) -> Option<&Telemetry> {
        self.telemetry.as_deref()
    }

    /// Replaces the image; lookups in flight finish on the old one.
    pub fn swap_image(&self, image: ServedImage) {
        let generation = image.generation();
        self.image.store(Arc::new(image));
        if let Some(telemetry) = &self.telemetry {
            telemetry.set_generation(generation);
        }
    }

    /// The image now in use.
    pub fn image(&self) -> Arc<ServedImage> {
        self.image.load_full()
    }

    /// The forwarder's counters.
    pub fn forward_counters(&self) -> &forward::Counters {
        &self.forwarder.counters
    }

    /// Distinct questions waiting for upstream answers now (at most
    /// `[upstream] max_inflight`).
    pub fn upstream_inflight(&self) -> usize {
        self.forwarder.inflight()
    }

    /// Answers held in the cache now (at most `[cache] entries`).
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    /// Switches blocking off until `until_unix_ms` (`u64::MAX`: until
    /// switched on again), or on again with 0.
    pub fn set_blocking_disabled_until(&self, until_unix_ms: u64) {
        self.disabled_until_ms
            .store(until_unix_ms, Ordering::Relaxed);
        if let Some(telemetry) = &self.telemetry {
            telemetry.set_blocking_disabled_until(until_unix_ms);
        }
    }

    /// Blocking is off until this Unix time in ms; 0 when it is on (also
    /// once a pause has run out).
    pub fn blocking_disabled_until(&self) -> u64 {
        let until = self.disabled_until_ms.load(Ordering::Relaxed);
        if until != 0 && unix_ms() >= until {
            0
        } else {
            until
        }
    }

    /// How blocked names are answered: mode and TTL.
    pub fn blocker(&self) -> &Blocker {
        &self.blocker
    }

    /// The two answers that need no upstream and nothing built — a blocked
    /// name and a fresh cache entry — found the way [`Resolver::resolve`]
    /// finds them, in the same order, without allocating; everything else is
    /// [`Quick::General`]. `f` gets the finding while the image it came from
    /// is held.
    pub fn quick<'a, L, R>(&self, q: &QuickQuestion<'a, L>, f: impl FnOnce(Quick<'_>) -> R) -> R
    where
        L: DoubleEndedIterator<Item = &'a [u8]> + Clone,
    {
        let general = matches!(
            q.qtype,
            RecordType::AXFR | RecordType::IXFR | RecordType::ANY
        ) || !self.access.allows(q.client)
            || self.local.claims(q.lower, q.qtype);
        if general {
            return f(Quick::General);
        }
        let blocking = self.blocking_enabled();
        let image = self.image.load();
        let mut allowed = false;
        if blocking {
            if CANARY_NAMES.contains(&q.lower) {
                return f(Quick::General);
            }
            match image.lookup_labels(q.labels.clone()) {
                Verdict::Blocked(m) => {
                    return f(Quick::Blocked(image.list_name(m.list).unwrap_or("?")));
                }
                Verdict::Allowed { overrides, .. } => allowed = overrides.is_some(),
                Verdict::NotListed => {}
            }
        }
        let key = KeyRef {
            name: q.lower,
            qtype: u16::from(q.qtype),
            qclass: u16::from(DNSClass::IN),
            dnssec_ok: q.dnssec_ok,
            checking_disabled: q.checking_disabled,
        };
        match self.cache.fresh_entry(&key) {
            Some(entry)
                if !(blocking
                    && self.check_cnames
                    && !allowed
                    && entry
                        .cname_targets()
                        .iter()
                        .any(|t| matches!(image.lookup(t), Verdict::Blocked(_)))) =>
            {
                f(Quick::Cached(entry))
            }
            _ => f(Quick::General),
        }
    }

    fn blocking_enabled(&self) -> bool {
        let until = self.disabled_until_ms.load(Ordering::Relaxed);
        until == 0 || unix_ms() >= until
    }

    /// Counts one received message from `client` against its rate limit
    /// and says whether to serve it, refuse it or drop it. The server calls
    /// this once per message, before parsing it.
    pub fn admit(&self, client: IpAddr) -> Admission {
        self.limiter.admit(client)
    }

    /// The answer for [`Admission::Refuse`]: REFUSED with Extended DNS
    /// Error 18 "Prohibited" saying the client is rate limited.
    pub fn rate_limited_answer(&self) -> Answer {
        self.limiter.refusal()
    }

    /// Answers one question.
    pub async fn resolve(&self, q: Question<'_>) -> (Answer, Outcome) {
        if !self.access.allows(q.client) {
            let answer = Answer::empty(ResponseCode::Refused)
                .ede(EDE_PROHIBITED, "client network not allowed");
            return (answer, Outcome::Refused);
        }
        if q.qclass != DNSClass::IN || matches!(q.qtype, RecordType::AXFR | RecordType::IXFR) {
            return (Answer::empty(ResponseCode::Refused), Outcome::Refused);
        }
        let lower = lower_ascii(q.name);
        if let Some(answer) = self.local.answer(&lower, q.name, q.qtype) {
            return (answer, Outcome::Local);
        }
        let blocking = self.blocking_enabled();
        let image = self.image.load();
        let mut allowed = false;
        if blocking {
            if CANARY_NAMES.contains(&lower.as_str()) {
                return (self.blocker.canary(q.name), Outcome::Blocked);
            }
            match image.lookup_labels(q.name.iter()) {
                Verdict::Blocked(m) => {
                    let list = image.list_name(m.list).unwrap_or("?");
                    return (self.blocker.answer(q.name, q.qtype, list), Outcome::Blocked);
                }
                Verdict::Allowed { overrides, .. } => allowed = overrides.is_some(),
                Verdict::NotListed => {}
            }
        }
        if q.qtype == RecordType::ANY {
            return (rfc8482_answer(q.name), Outcome::Local);
        }
        let key = Key {
            name: lower.into_boxed_str(),
            qtype: u16::from(q.qtype),
            qclass: u16::from(q.qclass),
            dnssec_ok: q.dnssec_ok,
            checking_disabled: q.checking_disabled,
        };
        let (answer, outcome) = match self.cache.get(&key) {
            Some(answer) => (answer, Outcome::Cached),
            None => {
                let request = forward::Request {
                    name: q.name,
                    qtype: q.qtype,
                    qclass: q.qclass,
                    dnssec_ok: q.dnssec_ok,
                    checking_disabled: q.checking_disabled,
                };
                match self.forwarder.forward(&key, request).await {
                    Ok(answer) => {
                        self.cache.insert(key, &answer);
                        let outcome = if allowed {
                            Outcome::Allowed
                        } else {
                            Outcome::Forwarded
                        };
                        (answer, outcome)
                    }
                    Err(_) => match self.cache.get_stale(&key) {
                        Some(answer) => (answer, Outcome::Stale),
                        None => (Answer::empty(ResponseCode::ServFail), Outcome::Failed),
                    },
                }
            }
        };
        if blocking
            && self.check_cnames
            && !allowed
            && let Some(list) = blocked_cname(&image, &answer)
        {
            return (self.blocker.answer(q.name, q.qtype, list), Outcome::Blocked);
        }
        (answer, outcome)
    }
}

/// The list blocking a CNAME target in `answer`, if any.
fn blocked_cname<'i>(image: &'i ServedImage, answer: &Answer) -> Option<&'i str> {
    answer
        .sections
        .answers
        .iter()
        .find_map(|record| match &record.data {
            RData::CNAME(target) => match image.lookup_labels(target.0.iter()) {
                Verdict::Blocked(m) => image.list_name(m.list),
                _ => None,
            },
            _ => None,
        })
}

/// The RFC 8482 answer to `ANY`: one synthesized HINFO record.
fn rfc8482_answer(name: &Name) -> Answer {
    let hinfo = HINFO::new("RFC8482".to_owned(), String::new());
    let record = Record::from_rdata(name.clone(), 3600, RData::HINFO(hinfo));
    Answer::with(
        ResponseCode::NoError,
        Sections {
            answers: vec![record],
            ..Sections::default()
        },
    )
}

/// `name` in lower-case ASCII without the trailing dot.
fn lower_ascii(name: &Name) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, label) in name.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        for &b in label {
            out.push(char::from(b.to_ascii_lowercase()));
        }
    }
    out
}

/// Now, in ms since the Unix epoch.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
