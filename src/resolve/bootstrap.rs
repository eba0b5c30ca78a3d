//! The address of a DoH host written as a name: asked of the plain
//! `[upstream] bootstrap` resolvers — never of ralo itself, which the
//! config check refuses — when `resolve::encrypted` first connects, again
//! when the answer's TTL has run out, and after a connection to the address
//! failed (then the next address found is tried first). An A record is
//! asked first, AAAA when the name has none. The plain exchange is
//! `resolve::forward`'s.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use tokio::time::{Instant, timeout};

use super::forward::{Request, encode_query, udp_exchange};

/// The shortest time a found address is kept, whatever its TTL.
const MIN_KEEP: Duration = Duration::from_secs(30);
/// The longest.
const MAX_KEEP: Duration = Duration::from_secs(24 * 3600);

/// Finds and keeps one host's addresses.
#[derive(Debug)]
pub(super) struct Bootstrap {
    host: Name,
    servers: Vec<SocketAddr>,
    /// How long one bootstrap resolver is waited for.
    timeout: Duration,
    known: Mutex<Option<Known>>,
}

#[derive(Debug)]
struct Known {
    addrs: Vec<IpAddr>,
    until: Instant,
    /// Which of `addrs` to connect to next.
    turn: usize,
}

impl Bootstrap {
    /// Finds `host` through `servers`, waiting `timeout` for each. `None`
    /// when `host` is not a DNS name.
    pub(super) fn new(
        host: &str,
        servers: Vec<SocketAddr>,
        timeout: Duration,
    ) -> Option<Bootstrap> {
        let mut host = Name::from_ascii(host).ok()?;
        host.set_fqdn(true);
        Some(Bootstrap {
            host,
            servers,
            timeout,
            known: Mutex::new(None),
        })
    }

    /// An address of the host: the one found before while its TTL lasts,
    /// else asked anew. `None` when no bootstrap resolver gave one.
    pub(super) async fn addr(&self) -> Option<IpAddr> {
        if let Some(addr) = self.current() {
            return Some(addr);
        }
        let (addrs, ttl) = self.ask().await?;
        let keep = Duration::from_secs(u64::from(ttl)).clamp(MIN_KEEP, MAX_KEEP);
        tracing::debug!(host = %self.host, ?addrs, ?keep, "DoH host found through bootstrap");
        let first = addrs.first().copied();
        *self.lock() = Some(Known {
            addrs,
            until: Instant::now() + keep,
            turn: 0,
        });
        first
    }

    /// A connection to the address given last failed: the next address
    /// found is tried first, and the host is asked again before it.
    pub(super) fn failed(&self) {
        let mut known = self.lock();
        if let Some(known) = known.as_mut() {
            known.turn += 1;
            known.until = Instant::now();
        }
    }

    fn current(&self) -> Option<IpAddr> {
        let known = self.lock();
        let known = known.as_ref()?;
        (Instant::now() < known.until && !known.addrs.is_empty())
            .then(|| known.addrs[known.turn % known.addrs.len()])
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Known>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The host's addresses and their smallest TTL, from the first
    /// bootstrap resolver that has some.
    async fn ask(&self) -> Option<(Vec<IpAddr>, u32)> {
        for &server in &self.servers {
            for qtype in [RecordType::A, RecordType::AAAA] {
                let request = Request {
                    name: &self.host,
                    qtype,
                    qclass: DNSClass::IN,
                    dnssec_ok: false,
                    checking_disabled: false,
                };
                let Some((id, bytes)) = encode_query(request) else {
                    continue;
                };
                let exchange = udp_exchange(server, id, &bytes, request);
                let Ok(Some(answer)) = timeout(self.timeout, exchange).await else {
                    tracing::debug!(%server, host = %self.host, "bootstrap resolver gave no answer");
                    break;
                };
                let mut ttl = u32::MAX;
                let addrs: Vec<IpAddr> = answer
                    .answers
                    .iter()
                    .filter_map(|record| {
                        let ip = match &record.data {
                            RData::A(a) => IpAddr::V4(a.0),
                            RData::AAAA(aaaa) => IpAddr::V6(aaaa.0),
                            _ => return None,
                        };
                        ttl = ttl.min(record.ttl);
                        Some(ip)
                    })
                    .collect();
                if !addrs.is_empty() {
                    return Some((addrs, ttl));
                }
            }
        }
        tracing::warn!(host = %self.host, "no [upstream] bootstrap resolver gave the DoH host's address");
        None
    }
}
