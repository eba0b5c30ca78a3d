//! What recording one query in the telemetry segment costs the server:
//! `Telemetry::record` (counters, minute buckets, one ring slot) on one
//! thread and on two at once, and the clock reads the handler adds around
//! it. A plain timing loop, no harness: `cargo bench --bench telemetry`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use ralo::telemetry::{Query, Telemetry};
use ralo::vocab::{Outcome, Protocol};

const PER_THREAD: u32 = 2_000_000;

fn names() -> Vec<&'static str> {
    vec![
        "ads.example.com",
        "www.google.com",
        "a-rather-long-label.cdn.some-tracker.example.net",
        "x.y",
        "graph.facebook.com",
        "1.0.168.192.in-addr.arpa",
    ]
}

fn record_many(telemetry: &Telemetry, names: &[&str]) -> Duration {
    let outcomes = [Outcome::Forwarded, Outcome::Cached, Outcome::Blocked];
    let started = Instant::now();
    for i in 0..PER_THREAD {
        let name = names[i as usize % names.len()];
        let outcome = outcomes[i as usize % outcomes.len()];
        telemetry.record(black_box(&Query {
            client: "192.168.1.20".parse().expect("address"),
            name,
            qtype: RecordType::A,
            outcome,
            protocol: Protocol::Udp,
            list: (outcome == Outcome::Blocked).then_some("household"),
            asked_ms: 1_765_000_000_000 + u64::from(i),
            latency: Duration::from_micros(u64::from(i % 900)),
            groups: 1,
        }));
    }
    started.elapsed()
}

fn per_query(elapsed: Duration, queries: u32) -> f64 {
    elapsed.as_nanos() as f64 / f64::from(queries)
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = "127.0.0.1:53".parse().expect("address");
    let telemetry = Arc::new(
        Telemetry::create(&dir.path().join("telemetry"), 8192, &[upstream]).expect("segment"),
    );
    telemetry.install().expect("install");
    let names = names();
    record_many(&telemetry, &names); // warm up

    let one = record_many(&telemetry, &names);
    println!(
        "record, 1 thread:   {:6.1} ns/query",
        per_query(one, PER_THREAD)
    );

    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            let (telemetry, names) = (telemetry.clone(), names.clone());
            s.spawn(move || record_many(&telemetry, &names));
        }
    });
    let two = started.elapsed();
    println!(
        "record, 2 threads:  {:6.1} ns/query per thread ({:.1} ns wall per query)",
        per_query(two, PER_THREAD),
        per_query(two, 2 * PER_THREAD)
    );

    let started = Instant::now();
    for _ in 0..PER_THREAD {
        let received = black_box(Instant::now());
        black_box(std::time::SystemTime::now());
        black_box(received.elapsed());
    }
    println!(
        "clock reads:        {:6.1} ns/query (Instant::now, elapsed, SystemTime::now)",
        per_query(started.elapsed(), PER_THREAD)
    );
    let counters = telemetry.view().counters();
    println!(
        "recorded {} queries, {} dropped from the ring",
        counters.total(),
        counters.ring_dropped
    );
}
