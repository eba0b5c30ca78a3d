//! The decision: one function, [`Resolver::decide`], says what every
//! question gets, in this order, written once:
//!
//! 1. **Access**: a client outside `[access] allow` is refused.
//! 2. **Rate limit**: a message the limiter said to refuse is refused (the
//!    server asks [`Resolver::admit`] once per message, before parsing it,
//!    and drops what it says to drop).
//! 3. **Not served**: classes other than IN and zone transfers are refused.
//! 4. **Local**: the household's records and special-use names
//!    ([`super::local`]).
//! 5. **Blocking** (unless switched off): a list's custom answer
//!    (`$dnsrewrite`, a hosts address served) beats the rest; allow rules
//!    beat block rules and canaries; canaries beat block rules
//!    ([`super::block`]).
//! 6. `ANY` gets the RFC 8482 answer.
//! 7. **Cache**: a fresh entry — unless its CNAME chain leads to a blocked
//!    name and no allow rule covers the question. A popular entry with less
//!    than a tenth of its lifetime left also claims a background refetch
//!    (`[cache] prefetch`); with `[cache] optimistic`, an expired entry is
//!    answered at once ([`Decision::Stale`]) and claims one too. The server
//!    runs a claimed refetch after answering ([`Resolver::refetch`]).
//! 8. Otherwise the question needs upstream: [`Decision::Forward`], asked
//!    of its `[[forward]]` zone's resolvers or `[upstream] servers`
//!    ([`super::route`]).
//!
//! Blocking asks only the lists that apply to the client now (its groups,
//! the lists' schedules: [`super::policy`]; of the `$client` lists, those
//! whose scope names the client: [`super::scope`]). A cache entry remembers the
//! image generation in which steps 5 and 7 found nothing listed for it in
//! any list ([`Entry::is_clear_in`]); while that image serves, a hit skips
//! their lookups, which gives the same decision for every client without
//! probing the image (`benches/sidebyside.sh`, the `allowed` mix at 1M
//! names).
//!
//! Only that last one waits: [`Resolver::forward`] asks upstream (one query
//! for identical questions in flight), stores the answer in the cache and
//! gives it the same CNAME check as a cache hit; when every upstream fails,
//! a stale entry, else a failure.
//!
//! A [`Decided`] says what the answer is and why — the rule and list that
//! blocked, the entry that answers — and holds the image the decision was
//! made with, so the list's name is read from the same generation. The
//! answer's bytes, its Extended DNS Error, the counters and the query ring
//! are all derived from it where the answer is sent (`server`); nothing
//! here allocates on the blocked, local or cached paths.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use arc_swap::{ArcSwap, Guard};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use tracing::info;

use super::access::Access;
use super::block::{Allowed, Block, Screen, blocked_target, screen_for};
use super::cache::{Cache, Key, KeyRef};
use super::devices::Devices;
use super::entry::Entry;
use super::forward::{self, Forwarder, Try};
use super::local::{Local, LocalAnswer};
use super::policy::{Lists, Policy};
use super::ratelimit::RateLimiter;
use super::route::Routes;
use crate::config::{self, Config};
use crate::domain::wire::Labels;
use crate::image::{Image, Match, Rewritten};
use crate::vocab::{Admission, ListId, Outcome, unix_ms};

/// The image type the server answers from.
pub type ServedImage = Image<crate::exchange::Mapping>;

/// The image the server answers from, with its policy at this minute:
/// swapped together, so a decision never reads one image's list ids with
/// another's groups.
pub struct Served {
    /// The image.
    pub image: Arc<ServedImage>,
    /// Which of its lists apply to whom now.
    pub policy: Policy,
    /// The image's list names by id, read from it once: every blocked
    /// answer names its list twice (EDE, query ring), and reading the name
    /// from the image checks its UTF-8 each time (1.4 % of the CPU of a
    /// blocked answer in `perf`).
    list_names: Arc<[Box<str>]>,
}

impl Served {
    /// `image` with `policy`.
    pub fn new(image: Arc<ServedImage>, policy: Policy) -> Served {
        let list_names = (0..image.list_count())
            .map_while(|id| ListId::try_from(id).ok())
            .map(|id| image.list_name(id).unwrap_or("?").into())
            .collect();
        Served {
            image,
            policy,
            list_names,
        }
    }

    /// The same image with `policy`.
    fn with_policy(&self, policy: Policy) -> Served {
        Served {
            image: self.image.clone(),
            policy,
            list_names: self.list_names.clone(),
        }
    }

    /// The name of list `id`.
    pub fn list_name(&self, id: ListId) -> Option<&str> {
        self.list_names.get(usize::from(id)).map(|name| &**name)
    }
}

/// One client question, as it came: the name in wire form and its text.
#[derive(Clone, Copy, Debug)]
pub struct Question<'a> {
    /// The name as the client wrote it (uncompressed wire form).
    pub name: &'a [u8],
    /// The name's lower-case text (`domain::wire::lower_text`).
    pub lower: &'a str,
    /// Query type.
    pub qtype: RecordType,
    /// Query class.
    pub qclass: DNSClass,
    /// The client's address: the packet's source, or the EDNS Client Subnet
    /// address a trusted forwarder gave.
    pub client: IpAddr,
    /// The client's MAC address, when a trusted forwarder gave it
    /// (dnsmasq's `--add-mac`).
    pub mac: Option<crate::groups::Mac>,
    /// EDNS DO bit.
    pub dnssec_ok: bool,
    /// CD bit.
    pub checking_disabled: bool,
    /// What the rate limit said about the message ([`Admission::Serve`]
    /// or [`Admission::Refuse`]).
    pub admission: Admission,
    /// When it was asked: the cache's ages and prefetch are taken at this
    /// moment.
    pub asked: tokio::time::Instant,
}

impl Question<'_> {
    /// What its answer is filed under in the cache.
    pub fn key(&self) -> KeyRef<'_> {
        KeyRef {
            name: self.lower,
            qtype: u16::from(self.qtype),
            qclass: u16::from(self.qclass),
            dnssec_ok: self.dnssec_ok,
            checking_disabled: self.checking_disabled,
        }
    }
}

/// Why a question is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The client is outside `[access] allow`.
    Network,
    /// The client is over its rate limit.
    RateLimited,
    /// A zone transfer, or a class other than IN.
    NotServed,
}

/// What a question gets, and why.
#[derive(Debug)]
pub enum Decision<'r> {
    /// Refused.
    Refused(Refusal),
    /// Answered here.
    Local(LocalAnswer<'r>),
    /// Blocked.
    Blocked(Block),
    /// Answered as a list's custom answer says (`$dnsrewrite`, a hosts
    /// address served): counted as blocked when it answers a response code
    /// alone, as local when it answers records (or NODATA for a type it
    /// has none of).
    Rewritten(Rewritten),
    /// Answered from a fresh cache entry.
    Cached {
        /// The entry.
        entry: Arc<Entry>,
        /// Its age in whole seconds: the TTLs count down by this.
        age: u32,
        /// An allow rule beat a block rule of a CNAME target.
        allowed: bool,
        /// The entry is popular and nearly expired: after answering, fetch
        /// it again in the background ([`Resolver::refetch_of`]).
        refetch: Option<Claim<'r>>,
    },
    /// Needs upstream ([`Resolver::forward`]); `allowed` is the allow rule
    /// that let it through, if one did. Rendered, it is a failure.
    Forward {
        /// The allow rule that matched the name.
        allowed: Option<Allowed>,
    },
    /// Answered from upstream.
    Forwarded {
        /// The answer.
        entry: Arc<Entry>,
        /// An allow rule beat a block rule, of the name or a CNAME target.
        allowed: bool,
    },
    /// Answered from an expired entry: every upstream failed, or
    /// `[cache] optimistic` answers it at once while it is refetched.
    Stale {
        /// The entry.
        entry: Arc<Entry>,
        /// Answered at once by `[cache] optimistic`, not because every
        /// upstream failed.
        optimistic: bool,
        /// Optimistic: after answering, fetch it again in the background
        /// ([`Resolver::refetch_of`]); `None` when a refetch already runs
        /// (or there is no room for one).
        refetch: Option<Claim<'r>>,
    },
    /// Every upstream failed and nothing was cached: SERVFAIL.
    Failed,
}

impl Decision<'_> {
    /// How it counts.
    pub fn outcome(&self) -> Outcome {
        match self {
            Decision::Refused(_) => Outcome::Refused,
            Decision::Local(_) => Outcome::Local,
            Decision::Blocked(_) => Outcome::Blocked,
            Decision::Rewritten(r) if r.rcode.is_some() => Outcome::Blocked,
            Decision::Rewritten(_) => Outcome::Local,
            Decision::Cached { .. } => Outcome::Cached,
            Decision::Forwarded { allowed: true, .. } => Outcome::Allowed,
            Decision::Forwarded { allowed: false, .. } => Outcome::Forwarded,
            Decision::Stale { .. } => Outcome::Stale,
            Decision::Forward { .. } | Decision::Failed => Outcome::Failed,
        }
    }
}

/// A decision with the image it was made with, and the upstream tries it
/// took (none unless it was forwarded).
pub struct Decided<'r> {
    /// What the answer is and why.
    pub decision: Decision<'r>,
    /// The image (and policy) the decision was made with.
    pub served: Guard<Arc<Served>>,
    /// The upstream tries made for it, for the counters.
    pub tries: Vec<Try>,
    /// The client's groups (bit `g` for the image's group `g`), for the
    /// counters and the query ring.
    pub groups: u64,
}

impl Decided<'_> {
    /// The image the decision was made with.
    pub fn image(&self) -> &ServedImage {
        &self.served.image
    }

    /// The name of the list whose rule blocked or rewrote, if one did.
    pub fn list(&self) -> Option<&str> {
        match &self.decision {
            Decision::Blocked(block) => self.served.list_name(block.list()?),
            Decision::Rewritten(rewritten) => self.served.list_name(rewritten.list),
            _ => None,
        }
    }
}

/// What the CNAME check says about an answer.
enum Chain {
    /// Let through; `beaten`: an allow rule beat a block of a target;
    /// `listed`: some list, applying or not, has a rule for a target.
    Pass { beaten: bool, listed: bool },
    /// A target is blocked.
    Blocked(Match),
}

/// Decides questions and forwards the ones that need upstream.
pub struct Resolver {
    limiter: RateLimiter,
    access: Access,
    local: Local,
    check_cnames: bool,
    served: ArcSwap<Served>,
    /// The devices the network knows, for policies that name devices by
    /// MAC address or host name.
    devices: ArcSwap<Devices>,
    /// The local time zone, for list schedules.
    zone: jiff::tz::TimeZone,
    /// Groups whose blocking is paused: name → until (Unix ms).
    group_pauses: std::sync::Mutex<HashMap<String, u64>>,
    cache: Cache,
    cache_config: config::Cache,
    /// `cache_config` without `min_ttl`, for `[[forward]]` zones.
    local_cache_config: config::Cache,
    routes: Routes,
    /// `[upstream] max_inflight`.
    upstream_cap: usize,
    /// Background refetches claimed and not yet done.
    refetches: AtomicUsize,
    /// Blocking is off until this time (ms since the Unix epoch); 0: on.
    disabled_until_ms: AtomicU64,
}

/// A claimed background refetch of a cache entry, in a decision; dropped
/// unused (a decision that is only looked at), it gives the claim back.
#[derive(Debug)]
pub struct Claim<'r> {
    refetches: &'r AtomicUsize,
    /// The entry; taken by [`Resolver::refetch_of`].
    entry: Option<Arc<Entry>>,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            entry.release_refetch();
            self.refetches.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A background fetch of a cache entry's question (a prefetch, or the
/// refresh behind an optimistic answer) that a decision claimed
/// ([`Decision::Cached`] or [`Decision::Stale`] with a [`Claim`]);
/// dropping it, run or not, gives the claim back.
pub struct Refetch {
    resolver: Arc<Resolver>,
    key: Key,
    /// The name as the client wrote it.
    wire: Box<[u8]>,
    qtype: RecordType,
    qclass: DNSClass,
    dnssec_ok: bool,
    checking_disabled: bool,
    /// The entry being refetched.
    entry: Arc<Entry>,
}

impl Drop for Refetch {
    fn drop(&mut self) {
        self.entry.release_refetch();
        self.resolver.refetches.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Resolver {
    /// A resolver for `config`, answering blocks from `image`.
    pub fn new(config: &Config, image: ServedImage) -> Resolver {
        let zone = jiff::tz::TimeZone::try_system().unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot tell the local time zone: list schedules follow UTC");
            jiff::tz::TimeZone::UTC
        });
        let served = Self::serve(image, &zone, jiff::Timestamp::now(), &HashMap::new());
        Resolver {
            limiter: RateLimiter::new(&config.access),
            access: Access::new(config.access.allow.clone()),
            local: Local::new(&config.local, &config.access.allow, &config.forward),
            check_cnames: config.blocking.check_cnames,
            served: ArcSwap::from_pointee(served),
            devices: ArcSwap::from_pointee(Devices::default()),
            zone,
            group_pauses: std::sync::Mutex::new(HashMap::new()),
            cache: Cache::new(&config.cache),
            cache_config: config.cache.clone(),
            local_cache_config: config::Cache {
                min_ttl: 0,
                ..config.cache.clone()
            },
            routes: Routes::new(config),
            upstream_cap: config.upstream.max_inflight,
            refetches: AtomicUsize::new(0),
            disabled_until_ms: AtomicU64::new(0),
        }
    }

    /// `image` with its policy at `now`, with `pauses`.
    fn serve(
        image: ServedImage,
        zone: &jiff::tz::TimeZone,
        now: jiff::Timestamp,
        pauses: &HashMap<String, u64>,
    ) -> Served {
        let (day, minute, _) = super::policy::local_minute(now, zone);
        let policy = Policy::new(&image, day, minute, pauses);
        Served::new(Arc::new(image), policy)
    }

    /// Replaces the image; decisions in flight finish on the old one.
    pub fn swap_image(&self, image: ServedImage) {
        let pauses = self.pauses();
        let mut served = Self::serve(image, &self.zone, jiff::Timestamp::now(), &pauses);
        served.policy = served.policy.with_devices(&self.devices.load());
        self.served.store(Arc::new(served));
    }

    /// The group pauses still running.
    fn pauses(&self) -> HashMap<String, u64> {
        let mut pauses = self
            .group_pauses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = unix_ms();
        pauses.retain(|_, until| now < *until);
        pauses.clone()
    }

    /// Switches blocking off for the clients of `group` until
    /// `until_unix_ms` (`u64::MAX`: until switched on), or on again with 0;
    /// `false` when the serving image has no such group.
    pub fn pause_group(&self, group: &str, until_unix_ms: u64) -> bool {
        let image = self.image();
        let known = (0..image.group_count())
            .filter_map(|g| image.group_name(u8::try_from(g).ok()?))
            .any(|name| name == group);
        if !known {
            return false;
        }
        {
            let mut pauses = self
                .group_pauses
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match until_unix_ms {
                0 => pauses.remove(group),
                until => pauses.insert(group.to_owned(), until),
            };
        }
        self.refresh_policy(jiff::Timestamp::now());
        true
    }

    /// The image now in use.
    pub fn image(&self) -> Arc<ServedImage> {
        self.served.load().image.clone()
    }

    /// Evaluates the schedules again at `now`; gives the milliseconds until
    /// the next local minute, when to call again.
    pub fn refresh_policy(&self, now: jiff::Timestamp) -> u64 {
        let (day, minute, wait_ms) = super::policy::local_minute(now, &self.zone);
        let served = self.served.load_full();
        let policy = Policy::new(&*served.image, day, minute, &self.pauses())
            .with_devices(&self.devices.load());
        let fresh = served.with_policy(policy);
        // An image swapped in meanwhile brought its own policy.
        let _ = self.served.compare_and_swap(&served, Arc::new(fresh));
        wait_ms
    }

    /// Whether the serving policy recognises devices by MAC address or host
    /// name, so that [`Resolver::set_devices`] is worth calling.
    pub fn needs_devices(&self) -> bool {
        self.served.load().policy.needs_devices()
    }

    /// The devices the network knows now (read outside the query path).
    pub fn set_devices(&self, devices: Devices) {
        self.devices.store(Arc::new(devices));
        // Fold them into the serving policy; an image or minute swapped in
        // meanwhile read the new devices already.
        let served = self.served.load_full();
        let fresh = served.with_policy(served.policy.clone().with_devices(&self.devices.load()));
        let _ = self.served.compare_and_swap(&served, Arc::new(fresh));
    }

    /// The groups of `client` (with the MAC address a forwarder gave) now,
    /// as the server would use them.
    pub fn groups_of(&self, client: IpAddr, mac: Option<crate::groups::Mac>) -> u64 {
        self.served.load().policy.groups_now(client, mac)
    }

    /// The devices the network knows, as last set.
    pub fn devices(&self) -> Guard<Arc<Devices>> {
        self.devices.load()
    }

    /// The ids that recognise `client` now, each with its groups (see
    /// [`Policy::recognised`]); empty for a client in `default`.
    pub fn recognised(
        &self,
        client: IpAddr,
        mac: Option<crate::groups::Mac>,
    ) -> Vec<(crate::groups::ClientId, u64)> {
        self.served
            .load()
            .policy
            .recognised(client, mac, &self.devices.load())
    }

    /// The `[[forward]]` zone the name `lower` falls in, and its table's
    /// servers; `None` for names asked of `[upstream] servers`.
    pub fn forward_zone(&self, lower: &str) -> Option<(&str, &[String])> {
        self.routes.route(lower).zone
    }

    /// The counters of the forwarder of `[upstream] servers`.
    pub fn forward_counters(&self) -> &forward::Counters {
        &self.routes.default_forwarder().counters
    }

    /// Distinct questions waiting for upstream answers now, of every
    /// forwarder (each at most `[upstream] max_inflight`).
    pub fn upstream_inflight(&self) -> usize {
        self.routes.all().map(Forwarder::inflight).sum()
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
    }

    /// Blocking is off until this Unix time in ms; 0 when it is on (also
    /// once a pause has run out).
    pub fn blocking_disabled_until(&self) -> u64 {
        match self.disabled_until_ms.load(Ordering::Relaxed) {
            until if until != 0 && unix_ms() >= until => 0,
            until => until,
        }
    }

    /// Whether blocking is on; the first question after a pause ran out
    /// switches it back on for good and says so in the log.
    fn blocking_enabled(&self) -> bool {
        let until = self.disabled_until_ms.load(Ordering::Relaxed);
        if until == 0 {
            return true;
        }
        if unix_ms() < until {
            return false;
        }
        let ended =
            self.disabled_until_ms
                .compare_exchange(until, 0, Ordering::Relaxed, Ordering::Relaxed);
        if ended.is_ok() {
            info!("blocking switched on again: the pause is over");
        }
        true
    }

    /// Counts one received message from `client` against its rate limit
    /// and says whether to serve it, refuse it or drop it. The server calls
    /// this once per message, before parsing it.
    pub fn admit(&self, client: IpAddr, now: tokio::time::Instant) -> Admission {
        self.limiter.admit(client, now)
    }

    /// Decides `q`; see the module docs for the order.
    pub fn decide(&self, q: &Question<'_>) -> Decided<'_> {
        let served = self.served.load();
        let groups = served.policy.groups_now(q.client, q.mac);
        let decision = self.decision(q, &served, groups);
        Decided {
            decision,
            served,
            tries: Vec::new(),
            groups,
        }
    }

    fn decision(&self, q: &Question<'_>, served: &Served, groups: u64) -> Decision<'_> {
        let image = &*served.image;
        if !self.access.allows(q.client) {
            return Decision::Refused(Refusal::Network);
        }
        if q.admission != Admission::Serve {
            return Decision::Refused(Refusal::RateLimited);
        }
        if q.qclass != DNSClass::IN || matches!(q.qtype, RecordType::AXFR | RecordType::IXFR) {
            return Decision::Refused(Refusal::NotServed);
        }
        if let Some(local) = self.local.answer(q.lower, q.qtype) {
            return Decision::Local(local);
        }
        let blocking = self.blocking_enabled();
        let generation = image.generation();
        let now = q.asked;
        let cached = match self.cache.fresh_at(&q.key(), now) {
            Some((entry, age)) if !blocking || entry.is_clear_in(generation) => {
                let refetch = self.prefetch_due(&entry, now);
                return Decision::Cached {
                    entry,
                    age,
                    allowed: false,
                    refetch,
                };
            }
            other => other,
        };
        let lists = served.policy.lists_for(groups, q.client, q.mac);
        let mut allowed = None;
        let mut listed = false;
        if blocking {
            let qtype = u16::from(q.qtype);
            let (screen, any) = screen_for(image, Labels::new(q.name), q.lower, qtype, lists);
            listed = any;
            match screen {
                Screen::Blocked(block) => return Decision::Blocked(block),
                Screen::Rewritten(rewritten) => return Decision::Rewritten(rewritten),
                Screen::Allowed(allow) => allowed = Some(allow),
                Screen::Clear => {}
            }
        }
        if q.qtype == RecordType::ANY {
            return Decision::Local(LocalAnswer::Hinfo);
        }
        match cached {
            Some((entry, age)) => match self.chain(blocking, image, &entry, q, allowed, lists) {
                Chain::Blocked(m) => Decision::Blocked(Block::Cname(m)),
                Chain::Pass {
                    beaten,
                    listed: target_listed,
                } => {
                    // Clear for every client: no list has the name or a
                    // target.
                    if !listed && !target_listed {
                        entry.mark_clear_in(generation);
                    }
                    let refetch = self.prefetch_due(&entry, now);
                    Decision::Cached {
                        entry,
                        age,
                        allowed: beaten,
                        refetch,
                    }
                }
            },
            None => match self.optimistic(q) {
                Some(entry) => match self.chain(blocking, image, &entry, q, allowed, lists) {
                    Chain::Blocked(m) => Decision::Blocked(Block::Cname(m)),
                    Chain::Pass { .. } => {
                        let refetch = self.claim(&entry);
                        Decision::Stale {
                            entry,
                            optimistic: true,
                            refetch,
                        }
                    }
                },
                None => Decision::Forward { allowed },
            },
        }
    }

    /// Whether a cache hit on `entry` should fetch it again in the
    /// background (`[cache] prefetch`): asked often enough, less than a
    /// tenth of its lifetime left, room for one more refetch, and nobody
    /// fetching it yet, at `now`. A `Some` claims the refetch.
    fn prefetch_due(&self, entry: &Arc<Entry>, now: tokio::time::Instant) -> Option<Claim<'_>> {
        let due = self.cache_config.prefetch
            && entry.asked() >= self.cache_config.prefetch_after
            && entry.nearly_expired(now);
        if due { self.claim(entry) } else { None }
    }

    /// Claims the background refetch of `entry`, if there is room for one
    /// and nobody fetches it yet.
    fn claim(&self, entry: &Arc<Entry>) -> Option<Claim<'_>> {
        if !self.may_refetch() || !entry.claim_refetch() {
            return None;
        }
        self.refetches.fetch_add(1, Ordering::Relaxed);
        Some(Claim {
            refetches: &self.refetches,
            entry: Some(entry.clone()),
        })
    }

    /// An expired entry to answer at once under `[cache] optimistic`; never
    /// one of a `[[forward]]` zone, kept no longer than its TTL.
    fn optimistic(&self, q: &Question<'_>) -> Option<Arc<Entry>> {
        if !self.cache_config.optimistic {
            return None;
        }
        let entry = self.cache.expired(&q.key())?;
        (!self.routes.route(q.lower).local).then_some(entry)
    }

    /// Whether one more background refetch may start: fewer than
    /// `[cache] prefetch_inflight` running, and the upstream queries in
    /// flight below half their cap, so that clients' questions keep it.
    fn may_refetch(&self) -> bool {
        self.refetches.load(Ordering::Relaxed) < self.cache_config.prefetch_inflight
            && self.routes.default_forwarder().inflight() < self.upstream_cap / 2
    }

    /// The background refetch of the entry that answers `q`, from the
    /// decision's claim; hand it to [`Resolver::refetch`] (or drop it: that
    /// gives the claim back).
    pub fn refetch_of(self: &Arc<Self>, q: &Question<'_>, mut claim: Claim<'_>) -> Option<Refetch> {
        let entry = claim.entry.take()?;
        Some(Refetch {
            resolver: self.clone(),
            key: q.key().to_key(),
            wire: q.name.into(),
            qtype: q.qtype,
            qclass: q.qclass,
            dnssec_ok: q.dnssec_ok,
            checking_disabled: q.checking_disabled,
            entry,
        })
    }

    /// Asks upstream again for the question of `refetch` and puts the
    /// answer in the cache: whether it did, and the upstream tries it took,
    /// for the counters.
    pub async fn refetch(refetch: Refetch) -> (bool, Vec<Try>) {
        let Ok(name) = Name::from_labels(Labels::new(&refetch.wire)) else {
            return (false, Vec::new());
        };
        let resolver = &refetch.resolver;
        let request = forward::Request {
            name: &name,
            qtype: refetch.qtype,
            qclass: refetch.qclass,
            dnssec_ok: refetch.dnssec_ok,
            checking_disabled: refetch.checking_disabled,
        };
        let route = resolver.routes.route(&refetch.key.name);
        let config = resolver.entry_config(route.local);
        let encode = |message: &_| Entry::encode(&refetch.wire, refetch.qtype, message, config);
        let flight = route
            .forwarder
            .forward(refetch.key.clone(), request, encode)
            .await;
        let stored = match (flight.result, flight.leader) {
            (Ok(entry), true) => {
                resolver.cache.insert(refetch.key.clone(), entry);
                true
            }
            _ => false,
        };
        (stored, flight.tries)
    }

    /// Asks upstream for `q`, which [`Resolver::decide`] said to forward
    /// (`allowed`: the allow rule it found), and decides on the answer.
    pub async fn forward(&self, q: &Question<'_>, allowed: Option<Allowed>) -> Decided<'_> {
        let key = q.key();
        let Ok(name) = Name::from_labels(Labels::new(q.name)) else {
            let groups = self.served.load().policy.groups_now(q.client, q.mac);
            return self.failed(Vec::new(), groups);
        };
        let request = forward::Request {
            name: &name,
            qtype: q.qtype,
            qclass: q.qclass,
            dnssec_ok: q.dnssec_ok,
            checking_disabled: q.checking_disabled,
        };
        let route = self.routes.route(q.lower);
        let config = self.entry_config(route.local);
        let encode = |message: &_| Entry::encode(q.name, q.qtype, message, config);
        let flight = route.forwarder.forward(key.to_key(), request, encode).await;
        let served = self.served.load();
        let groups = served.policy.groups_now(q.client, q.mac);
        let lists = served.policy.lists_for(groups, q.client, q.mac);
        let blocking = self.blocking_enabled();
        let (entry, stale) = match flight.result {
            Ok(entry) => {
                if flight.leader {
                    self.cache.insert(key.to_key(), entry.clone());
                }
                (entry, false)
            }
            Err(_) => match self.cache.stale(&key) {
                Some(entry) => (entry, true),
                None => return self.failed(flight.tries, groups),
            },
        };
        let decision = match self.chain(blocking, &served.image, &entry, q, allowed, lists) {
            Chain::Blocked(m) => Decision::Blocked(Block::Cname(m)),
            Chain::Pass { .. } if stale => Decision::Stale {
                entry,
                optimistic: false,
                refetch: None,
            },
            Chain::Pass { beaten, .. } => Decision::Forwarded {
                entry,
                allowed: beaten || allowed.is_some_and(|a| a.overrides.is_some()),
            },
        };
        Decided {
            decision,
            served,
            tries: flight.tries,
            groups,
        }
    }

    /// How answers are kept: `[cache]`, and for the household's own
    /// `[[forward]]` zones no longer than their TTL (no `min_ttl`).
    fn entry_config(&self, local: bool) -> &config::Cache {
        if local {
            &self.local_cache_config
        } else {
            &self.cache_config
        }
    }

    fn failed(&self, tries: Vec<Try>, groups: u64) -> Decided<'_> {
        Decided {
            decision: Decision::Failed,
            served: self.served.load(),
            tries,
            groups,
        }
    }

    /// The CNAME check of the answer to `q` for a client to whom `lists`
    /// apply: a blocked target blocks it, unless blocking is off, the check
    /// is, or an allow rule let the name through.
    fn chain(
        &self,
        blocking: bool,
        image: &ServedImage,
        entry: &Entry,
        q: &Question<'_>,
        allowed: Option<Allowed>,
        lists: Lists<'_>,
    ) -> Chain {
        if !blocking || !self.check_cnames {
            return Chain::Pass {
                beaten: false,
                listed: false,
            };
        }
        let qtype = u16::from(q.qtype);
        match (
            blocked_target(image, entry.cname_targets(), qtype, lists),
            allowed,
        ) {
            ((Some(m), _), None) => Chain::Blocked(m),
            ((target, listed), _) => Chain::Pass {
                beaten: target.is_some(),
                listed,
            },
        }
    }
}
