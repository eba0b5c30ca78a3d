//! What asking upstream costs per kind of upstream: the time from
//! `Forwarder::forward` to its answer over loopback, plain (a fresh UDP
//! socket per question), DNS over TLS and DNS over HTTPS (a kept
//! connection), for distinct names one after another; and the memory one
//! open encrypted connection holds on ralo's side (live heap, counted by
//! `dhat`, and RSS, from `/proc/self/statm`, each divided by the number of
//! connections opened).
//!
//! The upstream runs in a child process (this binary again), so its memory
//! is not counted: hickory-server answering `*.bench.test` A 192.0.2.1 on
//! UDP, TLS and HTTPS on `127.0.0.1`, with a throw-away CA the forwarder
//! trusts through `tls_ca_file`. Each answer is checked (an answered try)
//! before its time counts. Loopback hides the round trips a real resolver
//! costs: on the internet a new connection adds one (TCP) plus one (TLS
//! 1.3) round trip, which a kept connection saves.
//!
//! A plain timing loop, no harness: `cargo bench --bench upstream`.

use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::{A, NS, SOA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_server::Server;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use ralo::config::Config;
use ralo::resolve::cache::Key;
use ralo::resolve::forward::{Forwarder, Request, Try};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

// Counts live heap bytes while a `dhat` profiler runs; forwards to the
// system allocator otherwise.
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Set in the child's environment: the file to write the CA to.
const CHILD: &str = "RALO_BENCH_UPSTREAM_CA";
/// Questions timed per kind (`cargo bench`; 20 under `cargo test`).
const QUESTIONS: usize = 2_000;
/// Connections opened per kind for the memory figure (2 under `cargo test`).
const CONNECTIONS: usize = 200;

fn main() {
    if let Ok(ca_file) = std::env::var(CHILD) {
        return child(&ca_file);
    }
    // `cargo bench` passes --bench; `cargo test --benches` runs it once, small.
    let full = std::env::args().any(|a| a == "--bench");
    let (questions, connections) = if full {
        (QUESTIONS, CONNECTIONS)
    } else {
        (20, 2)
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_file = dir.path().join("ca.pem");
    let mut upstream = Command::new(std::env::current_exe().expect("this binary"))
        .env(CHILD, &ca_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the upstream");
    let mut line = String::new();
    BufReader::new(upstream.stdout.take().expect("child stdout"))
        .read_line(&mut line)
        .expect("the upstream's ports");
    let ports: Vec<u16> = line
        .split_whitespace()
        .map(|p| p.parse().expect("a port"))
        .collect();
    let [udp, tls, https] = ports[..] else {
        panic!("the upstream printed {line:?}");
    };
    let kinds = [
        ("plain", format!("127.0.0.1:{udp}")),
        ("DoT", format!("tls://127.0.0.1:{tls}#upstream.bench.test")),
        (
            "DoH",
            format!("https://upstream.bench.test:{https}/dns-query#127.0.0.1"),
        ),
    ];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("latency, {questions} distinct names one after another (µs):");
    println!("| upstream | first (opens the connection) | median | p90 | p99 | mean |");
    println!("|---|---|---|---|---|---|");
    for (kind, server) in &kinds {
        let forwarder = forwarder(server, &ca_file);
        let (first, times) = runtime.block_on(latency(&forwarder, kind, questions));
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let mean = times.iter().sum::<Duration>() / questions as u32;
        println!(
            "| {kind} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            us(first),
            us(times[questions / 2]),
            us(times[questions * 9 / 10]),
            us(times[questions * 99 / 100]),
            us(mean)
        );
    }
    println!();
    println!("memory per open connection ({connections} connections, ralo's side):");
    println!("| upstream | live heap | RSS |");
    println!("|---|---|---|");
    let profiler = dhat::Profiler::builder().testing().build();
    // Every forwarder lives to the end: a connection that closed during a
    // later kind's count would be taken off that count.
    let mut alive = Vec::new();
    for (kind, server) in &kinds[1..] {
        let forwarders: Vec<Forwarder> = (0..connections)
            .map(|_| forwarder(server, &ca_file))
            .collect();
        let (heap, rss) = runtime.block_on(memory(&forwarders, kind));
        alive.push(forwarders);
        println!(
            "| {kind} | {:.1} KiB | {:.1} KiB |",
            heap as f64 / 1024.0 / connections as f64,
            rss as f64 / 1024.0 / connections as f64
        );
    }
    drop(alive);
    drop(profiler);
    drop(upstream.stdin.take());
    let _ = upstream.wait();
}

/// A forwarder asking `server` alone, trusting the bench CA.
fn forwarder(server: &str, ca_file: &std::path::Path) -> Forwarder {
    let text = format!(
        "[upstream]\nservers = [\"{server}\"]\ntls_ca_file = \"{}\"\ntimeout_ms = 2000\ndeadline_ms = 2500\nmax_tries = 1\n",
        ca_file.display()
    );
    let config = Config::parse(&text, "bench", ".".into()).expect("bench config");
    Forwarder::new(&config.upstream)
}

/// Asks `name` and says whether it was answered.
async fn ask(forwarder: &Forwarder, name: &str) -> bool {
    let name = Name::from_ascii(name).expect("bench name");
    let key = Key {
        name: name.to_ascii().into_boxed_str(),
        qtype: u16::from(RecordType::A),
        qclass: u16::from(DNSClass::IN),
        dnssec_ok: false,
        checking_disabled: false,
    };
    let request = Request {
        name: &name,
        qtype: RecordType::A,
        qclass: DNSClass::IN,
        dnssec_ok: false,
        checking_disabled: false,
    };
    let mut right = false;
    let flight = forwarder
        .forward(key, request, |message: &Message| {
            right = message
                .answers
                .iter()
                .any(|r| r.data == RData::A(A(Ipv4Addr::new(192, 0, 2, 1))));
            None
        })
        .await;
    right && matches!(flight.tries.last(), Some(Try::Answered { .. }))
}

/// The time of the first question (which opens the connection of an
/// encrypted upstream), and the sorted times of `questions` distinct
/// questions after 100 more to warm up.
async fn latency(forwarder: &Forwarder, kind: &str, questions: usize) -> (Duration, Vec<Duration>) {
    let started = Instant::now();
    assert!(
        ask(forwarder, &format!("first.{kind}.bench.test.")).await,
        "{kind}: no answer"
    );
    let first = started.elapsed();
    for i in 0..100 {
        assert!(
            ask(forwarder, &format!("warm{i}.{kind}.bench.test.")).await,
            "{kind}: no answer"
        );
    }
    let mut times = Vec::with_capacity(questions);
    for i in 0..questions {
        let started = Instant::now();
        let answered = ask(forwarder, &format!("q{i}.{kind}.bench.test.")).await;
        times.push(started.elapsed());
        assert!(answered, "{kind}: question {i} not answered");
    }
    times.sort_unstable();
    (first, times)
}

/// Live heap and RSS grown by opening one connection per forwarder.
async fn memory(forwarders: &[Forwarder], kind: &str) -> (i64, i64) {
    let heap_before = dhat::HeapStats::get().curr_bytes as i64;
    let rss_before = rss();
    for (i, forwarder) in forwarders.iter().enumerate() {
        assert!(
            ask(forwarder, &format!("m{i}.{kind}.bench.test.")).await,
            "{kind}: no answer"
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let heap = dhat::HeapStats::get().curr_bytes as i64 - heap_before;
    (heap, rss() - rss_before)
}

/// This process's resident set, bytes.
fn rss() -> i64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: i64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

/// The upstream: serves until its stdin closes.
fn child(ca_file: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (tls_config, ca_pem) = tls_configs();
        std::fs::write(ca_file, ca_pem).expect("write the CA");
        let mut server = Server::new(catalog());
        let udp = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind UDP");
        let udp_port = udp.local_addr().expect("addr").port();
        server.register_socket(udp);
        let mut ports = vec![udp_port];
        for alpn in [b"dot".as_slice(), b"h2"] {
            let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .await
                .expect("bind TCP");
            ports.push(listener.local_addr().expect("addr").port());
            let mut config = (*tls_config).clone();
            config.alpn_protocols = vec![alpn.to_vec()];
            let config = Arc::new(config);
            if alpn == b"dot" {
                server
                    .register_tls_listener_with_tls_config(
                        listener,
                        Duration::from_secs(120),
                        config,
                    )
                    .expect("TLS listener");
            } else {
                server
                    .register_https_listener_with_tls_config(
                        listener,
                        Duration::from_secs(120),
                        config,
                        None,
                        "/dns-query".to_owned(),
                    )
                    .expect("HTTPS listener");
            }
        }
        let text: Vec<String> = ports.iter().map(ToString::to_string).collect();
        let mut stdout = std::io::stdout();
        writeln!(stdout, "{}", text.join(" ")).expect("print the ports");
        stdout.flush().expect("flush");
        // The parent closes stdin when it is done (or dies).
        let _ = tokio::task::spawn_blocking(|| std::io::stdin().lines().count()).await;
        let _ = server.shutdown_gracefully().await;
    });
}

/// `bench.test` with `*.bench.test` A 192.0.2.1.
fn catalog() -> Catalog {
    let origin = Name::from_ascii("bench.test.").expect("origin");
    let mut zone: InMemoryZoneHandler =
        InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
    let ns = Name::from_ascii("ns.bench.test.").expect("ns");
    let soa = SOA::new(ns.clone(), ns.clone(), 1, 3600, 600, 86400, 60);
    for record in [
        Record::from_rdata(origin.clone(), 60, RData::SOA(soa)),
        Record::from_rdata(origin.clone(), 60, RData::NS(NS(ns))),
        Record::from_rdata(
            Name::from_ascii("*.bench.test.").expect("wildcard"),
            300,
            RData::A(A(Ipv4Addr::new(192, 0, 2, 1))),
        ),
    ] {
        assert!(zone.upsert_mut(record, 1), "zone refused a record");
    }
    let mut catalog = Catalog::new();
    catalog.upsert(origin.into(), vec![Arc::new(zone)]);
    catalog
}

/// A server config for `upstream.bench.test` and `127.0.0.1`, and its CA.
fn tls_configs() -> (Arc<ServerConfig>, String) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ralo bench CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec![
        "upstream.bench.test".to_owned(),
        "127.0.0.1".to_owned(),
    ])
    .expect("server params");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &issuer).expect("server certificate");
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone(), ca_cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("server TLS config");
    (Arc::new(config), ca_cert.pem())
}
