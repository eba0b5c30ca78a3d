//! Seeded synthetic blocklist names that look like tracker domains: a
//! registrable name of 5 to 14 characters under a common TLD, often with a
//! word label (`pixel.`, `metrics.`) or a random-plus-word label in front,
//! a few names per registrable domain (the shape of `shared/bench/gen_data.py`,
//! about 20 characters a name). The same seed always gives the same names.

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

/// The seed of the blocklist the benches use.
pub const LIST_SEED: u64 = 42;

const TLDS: &[&str] = &[
    "com", "net", "org", "io", "info", "xyz", "de", "co.uk", "ru", "tv",
];
const WORDS: &[&str] = &[
    "ads",
    "track",
    "pixel",
    "metrics",
    "stats",
    "cdn",
    "click",
    "banner",
    "beacon",
    "telemetry",
    "analytics",
    "adserver",
    "promo",
    "tag",
    "sync",
    "log",
    "events",
    "collect",
    "srv",
    "media",
    "static",
    "img",
    "api",
];
const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A label of `lo..=hi` characters that starts with a letter.
pub fn label(rng: &mut StdRng, lo: usize, hi: usize) -> String {
    let len = rng.random_range(lo..=hi);
    let mut out = String::with_capacity(len);
    out.push(char::from(ALPHA[rng.random_range(0..26)]));
    for _ in 1..len {
        out.push(char::from(ALPHA[rng.random_range(0..ALPHA.len())]));
    }
    out
}

/// `n` distinct names from `seed`.
pub fn names(n: usize, seed: u64) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut seen = HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let tld = TLDS.choose(&mut rng).copied().unwrap_or("com");
        let base = format!("{}.{tld}", label(&mut rng, 5, 14));
        let per_base = [1, 1, 1, 2, 3, 5].choose(&mut rng).copied().unwrap_or(1);
        for _ in 0..per_base {
            let word = WORDS.choose(&mut rng).copied().unwrap_or("ads");
            let roll: f64 = rng.random();
            let name = if roll < 0.35 {
                base.clone()
            } else if roll < 0.8 {
                format!("{word}.{base}")
            } else {
                format!("{}-{word}.{base}", label(&mut rng, 3, 10))
            };
            if seen.insert(name.clone()) {
                out.push(name);
                if out.len() == n {
                    break;
                }
            }
        }
    }
    out
}

/// The names as a hosts file, `0.0.0.0 name` a line (what Pi-hole's gravity
/// and the side-by-side benchmark's dnsmasq read).
pub fn hosts_text(names: &[String]) -> String {
    let mut text = String::with_capacity(names.len() * 30);
    for name in names {
        text.push_str("0.0.0.0 ");
        text.push_str(name);
        text.push('\n');
    }
    text
}
