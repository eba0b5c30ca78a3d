//! What the per-client rate limit costs the server per received message:
//! `RateLimiter::admit` for known clients on one thread and on two at once,
//! for a new client each time (every admit evicts a bucket), for an exempt
//! (loopback) client, and with the limit off. A plain timing loop, no
//! harness: `cargo bench --bench ratelimit`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use ralo::config;
use ralo::resolve::ratelimit::{RateLimiter, TRACKED};
use ralo::vocab::Admission;

const PER_THREAD: u32 = 4_000_000;

fn access(qps: u32) -> config::Access {
    config::Access {
        rate_limit_qps: qps,
        rate_limit_burst: 1_000_000,
        ..config::Access::default()
    }
}

/// `n` household-like clients, 192.168.x.y.
fn clients(n: u32, offset: u32) -> Vec<IpAddr> {
    (0..n)
        .map(|i| IpAddr::V4(Ipv4Addr::from(0xc0a8_0000 + offset + i)))
        .collect()
}

fn admit_many(limiter: &RateLimiter, clients: &[IpAddr]) -> (Duration, u32) {
    let mut served = 0;
    let started = Instant::now();
    for i in 0..PER_THREAD {
        let client = clients[i as usize % clients.len()];
        if black_box(limiter.admit(black_box(client), tokio::time::Instant::now()))
            == Admission::Serve
        {
            served += 1;
        }
    }
    (started.elapsed(), served)
}

fn ns(elapsed: Duration, n: u32) -> f64 {
    elapsed.as_nanos() as f64 / f64::from(n)
}

fn main() {
    let limiter = RateLimiter::new(&access(100_000));
    let household = clients(64, 0);
    admit_many(&limiter, &household); // warm up
    let (one, _) = admit_many(&limiter, &household);
    println!(
        "admit, known client, 1 thread:   {:6.1} ns/message",
        ns(one, PER_THREAD)
    );

    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..2 {
            let (limiter, clients) = (&limiter, clients(64, 1000 * (t + 1)));
            s.spawn(move || admit_many(limiter, &clients));
        }
    });
    let two = started.elapsed();
    println!(
        "admit, known client, 2 threads:  {:6.1} ns/message per thread",
        ns(two, PER_THREAD)
    );

    // More distinct clients than the table holds: every admit is a miss
    // that takes over a bucket.
    let churn = clients(16 * TRACKED as u32, 100_000);
    let (new, _) = admit_many(&limiter, &churn);
    println!(
        "admit, new client each time:     {:6.1} ns/message ({} tracked of {})",
        ns(new, PER_THREAD),
        limiter.tracked(),
        TRACKED
    );

    let loopback = [IpAddr::V4(Ipv4Addr::LOCALHOST)];
    let (exempt, _) = admit_many(&limiter, &loopback);
    println!(
        "admit, exempt (loopback):        {:6.1} ns/message",
        ns(exempt, PER_THREAD)
    );

    let off = RateLimiter::new(&access(0));
    let (disabled, _) = admit_many(&off, &household);
    println!(
        "admit, limit off:                {:6.1} ns/message",
        ns(disabled, PER_THREAD)
    );

    // One client at the default limit (1000 at once, 50/s): how many of a
    // tight loop's messages it gets.
    let default = RateLimiter::new(&config::Access {
        rate_limit_exempt: Vec::new(),
        ..config::Access::default()
    });
    let (flood, served) = admit_many(&default, &household[..1]);
    println!(
        "one client flooding at the default limit: {served} of {PER_THREAD} served in {:.2} s",
        flood.as_secs_f64()
    );
}
