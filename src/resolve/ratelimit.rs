//! Step 1, before anything is parsed: the per-client rate limit.
//!
//! The server asks [`RateLimiter::admit`] (through
//! [`Resolver::admit`](super::Resolver::admit)) once per received message,
//! before it parses it; the answer is an [`Admission`]: serve it, answer
//! REFUSED, or drop it unanswered (`[access] rate_limit_action`).
//!
//! Each client has a token bucket of `rate_limit_burst` tokens refilled at
//! `rate_limit_qps` per second, kept as one number: the generic cell rate
//! algorithm's *theoretical arrival time* (TAT). A query at `now` is
//! admitted when `TAT - now` is at most the burst tolerance
//! (`(burst - 1)` refill intervals), and then moves the TAT one interval
//! on; a client whose TAT lies in the past has a full bucket.
//!
//! A client is an IPv4 address, or the IPv6 network of
//! `rate_limit_ipv6_prefix` bits around an IPv6 address (one host holds a
//! whole /64, so counting single addresses would let it pick a fresh
//! bucket per query). IPv4-mapped IPv6 clients count as IPv4. Networks in
//! `rate_limit_exempt` (by default loopback) are never limited and never
//! tracked.
//!
//! State is bounded and allocated once: [`TRACKED`] clients in sets of
//! [`WAYS`], each set under its own short-held mutex (never across an
//! `.await`). A client's set is picked by a hash with a random key, so a
//! sender cannot aim at another client's set. A new client takes the empty
//! or fullest bucket of its set, so what is forgotten first is a client
//! that is idle anyway. Admitting a known client allocates nothing.

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use ipnet::IpNet;
use tokio::time::Instant;
use tracing::warn;

use crate::config::{self, RateLimitAction};
pub use crate::vocab::Admission;

/// Buckets per set.
pub const WAYS: usize = 8;
/// Clients (IPv4 addresses, IPv6 networks) tracked at once.
pub const TRACKED: usize = 8192;

/// One client's bucket.
#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    /// The client (see [`client_key`]).
    key: u128,
    /// Theoretical arrival time, ns since the limiter's epoch; 0: empty.
    tat: u64,
    /// Over its limit since its bucket was last full (logged once).
    limited: bool,
}

/// What [`Table::check`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Within the limit.
    Within,
    /// Over the limit; `first` when this starts an episode.
    Over { first: bool },
}

/// The bounded table of buckets.
struct Table {
    sets: Box<[Mutex<[Bucket; WAYS]>]>,
    hasher: std::hash::RandomState,
    /// One token's refill time (ns).
    interval: u64,
    /// How far ahead of now a TAT may be and still admit (ns).
    tolerance: u64,
}

impl Table {
    /// Room for at least `clients` clients.
    fn new(clients: usize, qps: u32, burst: u32) -> Table {
        let sets = clients.div_ceil(WAYS).next_power_of_two();
        let interval = 1_000_000_000 / u64::from(qps.max(1));
        Table {
            sets: (0..sets)
                .map(|_| Mutex::new([Bucket::default(); WAYS]))
                .collect(),
            hasher: std::hash::RandomState::new(),
            interval,
            tolerance: interval * u64::from(burst.max(1) - 1),
        }
    }

    /// Counts one query of `key` at `now` (ns since the epoch, above 0).
    fn check(&self, key: u128, now: u64) -> Verdict {
        // `sets.len()` is a power of two: the mask keeps the index in range.
        let index = self.hasher.hash_one(key) as usize & (self.sets.len() - 1);
        let mut set = self.sets[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = now.max(1);
        if let Some(bucket) = set.iter_mut().find(|b| b.tat != 0 && b.key == key) {
            let tat = bucket.tat.max(now);
            if tat - now > self.tolerance {
                let first = !bucket.limited;
                bucket.limited = true;
                return Verdict::Over { first };
            }
            if bucket.tat <= now {
                bucket.limited = false;
            }
            bucket.tat = tat + self.interval;
            return Verdict::Within;
        }
        // A new client replaces the empty or fullest bucket (smallest TAT).
        let mut victim = 0;
        for (i, bucket) in set.iter().enumerate() {
            if bucket.tat < set[victim].tat {
                victim = i;
            }
        }
        set[victim] = Bucket {
            key,
            tat: now + self.interval,
            limited: false,
        };
        Verdict::Within
    }

    /// Clients tracked now.
    fn tracked(&self) -> usize {
        self.sets
            .iter()
            .map(|set| {
                let set = set.lock().unwrap_or_else(PoisonError::into_inner);
                set.iter().filter(|b| b.tat != 0).count()
            })
            .sum()
    }
}

/// The per-client rate limit of `[access]`.
pub struct RateLimiter {
    /// `None` when `rate_limit_qps` is 0.
    table: Option<Table>,
    exempt: Vec<IpNet>,
    ipv6_prefix: u8,
    over: Admission,
    epoch: Instant,
    qps: u32,
    burst: u32,
}

impl RateLimiter {
    /// The limit configured in `[access]`.
    pub fn new(config: &config::Access) -> RateLimiter {
        RateLimiter::with_capacity(config, TRACKED)
    }

    /// The same, tracking room for `clients` clients (rounded up to whole
    /// sets of [`WAYS`]).
    pub fn with_capacity(config: &config::Access, clients: usize) -> RateLimiter {
        let (qps, burst) = (config.rate_limit_qps, config.rate_limit_burst);
        RateLimiter {
            table: (qps > 0).then(|| Table::new(clients.max(1), qps, burst)),
            exempt: config.rate_limit_exempt.clone(),
            ipv6_prefix: config.rate_limit_ipv6_prefix.min(128),
            over: match config.rate_limit_action {
                RateLimitAction::Refuse => Admission::Refuse,
                RateLimitAction::Drop => Admission::Drop,
            },
            epoch: Instant::now(),
            qps,
            burst,
        }
    }

    /// Counts one message from `client`, arrived at `now`, and says what
    /// to do with it. The UDP workers pass their batch's moment, so a
    /// flood costs no clock read per message.
    pub fn admit(&self, client: IpAddr, now: Instant) -> Admission {
        let Some(table) = &self.table else {
            return Admission::Serve;
        };
        let client = client.to_canonical();
        if self.exempt.iter().any(|net| net.contains(&client)) {
            return Admission::Serve;
        }
        // Plus one: 0 marks an empty bucket.
        let since = now.saturating_duration_since(self.epoch);
        let elapsed = u64::try_from(since.as_nanos()).unwrap_or(u64::MAX - 1);
        let now = elapsed + 1;
        match table.check(client_key(client, self.ipv6_prefix), now) {
            Verdict::Within => Admission::Serve,
            Verdict::Over { first } => {
                if first {
                    warn!(
                        %client,
                        qps = self.qps,
                        burst = self.burst,
                        action = ?self.over,
                        "client over its rate limit ([access] rate_limit_qps); its queries are not answered until it slows down"
                    );
                }
                self.over
            }
        }
    }

    /// Clients (IPv4 addresses, IPv6 networks) tracked now.
    pub fn tracked(&self) -> usize {
        self.table.as_ref().map_or(0, Table::tracked)
    }
}

/// The bucket key of a canonical client address: IPv4 addresses as
/// IPv4-mapped IPv6, IPv6 addresses cut to their first `prefix` bits. The
/// two never meet: a cut IPv6 network with `prefix` < 96 has zeros where an
/// IPv4-mapped address has `ffff`, and with a longer prefix it is an
/// IPv4-mapped address only if the client was, and those are IPv4 here.
fn client_key(client: IpAddr, prefix: u8) -> u128 {
    match client {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            match prefix {
                0 => 0,
                p if p >= 128 => bits,
                p => bits & !(u128::MAX >> p),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    fn limited(qps: u32, burst: u32) -> config::Access {
        config::Access {
            rate_limit_qps: qps,
            rate_limit_burst: burst,
            rate_limit_exempt: Vec::new(),
            ..config::Access::default()
        }
    }

    fn served(table: &Table, key: u128, now: u64, n: usize) -> usize {
        (0..n)
            .filter(|_| table.check(key, now) == Verdict::Within)
            .count()
    }

    #[test]
    fn a_client_gets_its_burst_then_one_query_per_interval() {
        let table = Table::new(64, 10, 5);
        assert_eq!(served(&table, 1, SECOND, 20), 5);
        // 10 per second: one token back every 100 ms.
        assert_eq!(served(&table, 1, SECOND + SECOND / 10, 3), 1);
        assert_eq!(served(&table, 1, SECOND + SECOND / 2, 10), 4);
        // After a long pause the bucket is full again, never fuller.
        assert_eq!(served(&table, 1, 100 * SECOND, 20), 5);
    }

    #[test]
    fn over_the_limit_is_reported_first_once_per_episode() {
        let table = Table::new(64, 1, 2);
        assert_eq!(served(&table, 7, SECOND, 2), 2);
        assert_eq!(table.check(7, SECOND), Verdict::Over { first: true });
        assert_eq!(table.check(7, SECOND), Verdict::Over { first: false });
        // One token back but the bucket not full: the same episode.
        assert_eq!(table.check(7, 2 * SECOND), Verdict::Within);
        assert_eq!(table.check(7, 2 * SECOND), Verdict::Over { first: false });
        // Idle until full: a new episode.
        assert_eq!(served(&table, 7, 10 * SECOND, 2), 2);
        assert_eq!(table.check(7, 10 * SECOND), Verdict::Over { first: true });
    }

    #[test]
    fn clients_have_their_own_buckets() {
        let table = Table::new(64, 1, 2);
        assert_eq!(served(&table, 1, SECOND, 5), 2);
        assert_eq!(served(&table, 2, SECOND, 5), 2);
        assert_eq!(served(&table, 1, SECOND, 1), 0);
    }

    #[test]
    fn tracked_clients_never_exceed_the_table() {
        let table = Table::new(64, 1, 1);
        let slots = table.sets.len() * WAYS;
        for key in 0..10_000u128 {
            table.check(key, SECOND);
        }
        assert_eq!(table.tracked(), slots);
        assert_eq!(slots, 64);
    }

    #[test]
    fn a_new_client_evicts_the_fullest_bucket_of_its_set() {
        // One set: every key meets in it.
        let table = Table::new(WAYS, 1, 2);
        assert_eq!(table.sets.len(), 1);
        // Key 0 is drained at t=1 s (its TAT is 3 s); keys 1..8 are seen
        // once at t=1.5 s (TAT 2.5 s).
        assert_eq!(served(&table, 0, SECOND, 3), 2);
        for key in 1..WAYS as u128 {
            table.check(key, SECOND + SECOND / 2);
        }
        // A newcomer at t=2 s takes one of the fuller buckets; key 0 keeps
        // its state: one token back, then limited (a fresh bucket would
        // have given it two).
        assert_eq!(table.check(100, 2 * SECOND), Verdict::Within);
        assert_eq!(table.check(0, 2 * SECOND), Verdict::Within);
        assert!(matches!(table.check(0, 2 * SECOND), Verdict::Over { .. }));
    }

    #[test]
    fn zero_qps_turns_the_limit_off() {
        let limiter = RateLimiter::new(&limited(0, 1));
        let client = "192.0.2.1".parse().unwrap();
        assert!((0..10_000).all(|_| limiter.admit(client, Instant::now()) == Admission::Serve));
        assert_eq!(limiter.tracked(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn over_the_limit_gets_the_configured_action_and_refills() {
        let mut config = limited(2, 3);
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        for (action, over) in [
            (RateLimitAction::Refuse, Admission::Refuse),
            (RateLimitAction::Drop, Admission::Drop),
        ] {
            config.rate_limit_action = action;
            let limiter = RateLimiter::new(&config);
            let admitted: Vec<Admission> = (0..5)
                .map(|_| limiter.admit(client, Instant::now()))
                .collect();
            assert_eq!(admitted[..3], [Admission::Serve; 3]);
            assert_eq!(admitted[3..], [over; 2]);
            tokio::time::advance(std::time::Duration::from_millis(500)).await;
            assert_eq!(limiter.admit(client, Instant::now()), Admission::Serve);
            assert_eq!(limiter.admit(client, Instant::now()), over);
        }
    }

    #[test]
    fn exempt_networks_are_never_limited_or_tracked() {
        let mut config = limited(1, 1);
        config.rate_limit_exempt = vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let limiter = RateLimiter::new(&config);
        for client in ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"] {
            let client: IpAddr = client.parse().unwrap();
            assert!((0..100).all(|_| limiter.admit(client, Instant::now()) == Admission::Serve));
        }
        assert_eq!(limiter.tracked(), 0);
        let other: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(limiter.admit(other, Instant::now()), Admission::Serve);
        assert_eq!(limiter.admit(other, Instant::now()), Admission::Refuse);
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_prefix() {
        let config = limited(1, 2);
        let limiter = RateLimiter::new(&config);
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_56: IpAddr = "2001:db8:1:2f:aaaa::9".parse().unwrap();
        let other_56: IpAddr = "2001:db8:1:100::1".parse().unwrap();
        assert_eq!(limiter.admit(one, Instant::now()), Admission::Serve);
        assert_eq!(limiter.admit(same_56, Instant::now()), Admission::Serve);
        assert_eq!(limiter.admit(one, Instant::now()), Admission::Refuse);
        assert_eq!(limiter.admit(other_56, Instant::now()), Admission::Serve);
    }

    #[test]
    fn ipv4_mapped_clients_count_as_ipv4() {
        let limiter = RateLimiter::new(&limited(1, 1));
        assert_eq!(
            limiter.admit("192.0.2.7".parse().unwrap(), Instant::now()),
            Admission::Serve
        );
        assert_eq!(
            limiter.admit("::ffff:192.0.2.7".parse().unwrap(), Instant::now()),
            Admission::Refuse
        );
    }

    #[test]
    fn keys_cut_ipv6_to_the_prefix_and_keep_ipv4_whole() {
        let v6: IpAddr = "2001:db8:aaaa:bbbb:cccc::1".parse().unwrap();
        assert_eq!(
            client_key(v6, 56),
            u128::from(
                "2001:db8:aaaa:bb00::"
                    .parse::<std::net::Ipv6Addr>()
                    .unwrap()
            )
        );
        assert_eq!(
            client_key(v6, 64),
            u128::from(
                "2001:db8:aaaa:bbbb::"
                    .parse::<std::net::Ipv6Addr>()
                    .unwrap()
            )
        );
        assert_eq!(
            client_key(v6, 128),
            u128::from(
                "2001:db8:aaaa:bbbb:cccc::1"
                    .parse::<std::net::Ipv6Addr>()
                    .unwrap()
            )
        );
        let v4: IpAddr = "198.51.100.7".parse().unwrap();
        assert_ne!(
            client_key(v4, 56),
            client_key("198.51.100.8".parse().unwrap(), 56)
        );
    }
}
