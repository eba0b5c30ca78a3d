//! Telemetry against a real `ralo serve` + `ralo update`: `stats --json`
//! counts exactly what was sent, `tail` shows queries as they happen and
//! says exactly how many it missed while it was stopped, readers killed at
//! any moment never disturb the server, and `/metrics` is valid Prometheus
//! text whose counters agree with what was sent.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::Value;
use tokio::task::block_in_place;

use crate::process::{Server, Site};
use crate::support::client::Client;
use crate::support::upstream::Upstream;

const LISTS: &str = "[[lists]]\nname = \"household\"\npath = \"block.txt\"\nsubdomains = true\n\n[access]\nallow = [\"127.0.0.1/32\"]\n\n[local]\nrecords = { \"nas.home.arpa\" = [\"192.168.1.10\"] }\n";

/// A site that blocks `ads.example.com` and its subdomains, answers only
/// 127.0.0.1, has one local name, and runs no updater child; `extra` is
/// appended to the config.
fn site(upstream: SocketAddr, extra: &str) -> Site {
    let site = Site::new(upstream, &format!("{LISTS}{extra}"));
    let text = std::fs::read_to_string(site.config()).expect("config");
    let text = text.replacen("[server]\n", "[server]\nspawn_updater = false\n", 1);
    std::fs::write(site.config(), text).expect("config");
    site.write("block.txt", "0.0.0.0 ads.example.com\n");
    site
}

/// Starts the server and publishes the lists with `ralo update`.
fn start(site: &Site) -> Server {
    let server = site.serve();
    let update = site.update(&[]);
    assert!(
        update.status.success(),
        "ralo update failed: {}",
        String::from_utf8_lossy(&update.stderr)
    );
    assert_eq!(site.wait_generation(1, Duration::from_secs(10)), 1);
    server
}

fn ralo(site: &Site, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ralo"));
    command
        .args(args)
        .arg("--config")
        .arg(site.config())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs a command to its end, bounded.
fn output(mut command: Command) -> std::process::Output {
    let mut child = command.spawn().expect("start ralo");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("output")
}

fn stats_json(site: &Site) -> Value {
    let out = output(ralo(site, &["stats", "--json"]));
    assert!(
        out.status.success(),
        "ralo stats failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stats --json prints JSON")
}

/// A running `ralo tail`: its stdout lines arrive on a channel; killed on drop.
struct Tail {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Tail {
    /// Starts `ralo tail ARGS` and waits until it follows the server.
    fn start(site: &Site, args: &[&str]) -> Tail {
        let mut child = ralo(site, &[&["tail"], args].concat())
            .spawn()
            .expect("start ralo tail");
        let stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let (ready_tx, ready) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                let _ = ready_tx.send(line);
            }
        });
        let first = ready
            .recv_timeout(Duration::from_secs(10))
            .expect("ralo tail says what it follows");
        assert!(first.contains("following"), "{first}");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Tail { child, lines }
    }

    /// The next stdout line (bounded wait).
    fn line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(10))
            .expect("a line from ralo tail within 10 s")
    }

    fn signal(&self, signal: rustix::process::Signal) {
        rustix::process::kill_process(rustix::process::Pid::from_child(&self.child), signal)
            .expect("signal ralo tail");
    }

    /// Waits (bounded) for it to exit by itself.
    fn exits(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_json_counts_match_the_queries_sent() {
    let up = Upstream::standard().await;
    let site = site(up.addr(), "");
    let server = block_in_place(|| start(&site));
    let client = Client::new(server.addr);
    let other = "127.0.0.2".parse::<IpAddr>().unwrap();

    // 7 blocked (one over TCP), 5 forwarded, 3 cached, 2 refused, 1 local.
    for _ in 0..4 {
        client.udp("ads.example.com", RecordType::A).await;
    }
    client.udp("www.ads.example.com", RecordType::AAAA).await;
    client.udp("ads.example.com", RecordType::AAAA).await;
    client.tcp("ads.example.com", RecordType::HTTPS).await;
    let forwarded = [
        ("allowed.example.com", RecordType::A),
        ("allowed.example.com", RecordType::AAAA),
        ("mail.example.com", RecordType::MX),
        ("mx.example.com", RecordType::A),
        ("alias.example.com", RecordType::A),
    ];
    for (name, qtype) in forwarded {
        let answer = client.udp(name, qtype).await;
        assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    }
    for (name, qtype) in [forwarded[0], forwarded[0], forwarded[2]] {
        client.udp(name, qtype).await;
    }
    for _ in 0..2 {
        let answer = client
            .udp_from(other, "allowed.example.com", RecordType::A)
            .await
            .expect("an answer to 127.0.0.2");
        assert_eq!(answer.metadata.response_code, ResponseCode::Refused);
    }
    client.udp("nas.home.arpa", RecordType::A).await;

    let stats = block_in_place(|| stats_json(&site));
    let s = &stats["since_start"];
    assert_eq!(s["queries"], 18, "{stats:#}");
    assert_eq!(s["blocked"], 7);
    let expected_outcomes = [
        ("blocked", 7),
        ("forwarded", 5),
        ("cached", 3),
        ("refused", 2),
        ("local", 1),
        ("allowed", 0),
        ("stale", 0),
        ("failed", 0),
    ];
    for (outcome, n) in expected_outcomes {
        assert_eq!(s["by_outcome"][outcome], n, "{outcome}: {stats:#}");
    }
    let expected_types = [("A", 12), ("AAAA", 3), ("HTTPS", 1), ("MX", 2), ("TXT", 0)];
    for (qtype, n) in expected_types {
        assert_eq!(s["by_type"][qtype], n, "{qtype}: {stats:#}");
    }
    assert_eq!(s["by_protocol"]["tcp"], 1);
    assert_eq!(s["by_protocol"]["udp"], 17);
    assert_eq!(stats["last_hour"]["queries"], 18);
    assert_eq!(stats["last_hour"]["blocked"], 7);
    assert_eq!(stats["top_blocked"][0]["key"], "ads.example.com");
    assert_eq!(stats["top_blocked"][0]["count"], 6);
    assert_eq!(stats["top_blocked"][1]["key"], "www.ads.example.com");
    assert_eq!(stats["top_clients"][0]["key"], "127.0.0.1");
    assert_eq!(stats["top_clients"][0]["count"], 16);
    assert_eq!(stats["top_clients"][1]["key"], "127.0.0.2");
    let upstream = &stats["upstreams"][0];
    assert_eq!(upstream["address"], up.addr().to_string());
    assert_eq!(upstream["tries"], up.queries(), "{stats:#}");
    assert_eq!(upstream["tries"], 5);
    assert_eq!(upstream["failures"], 0);
    assert!(upstream["latency_p50_ms"].as_f64().is_some());
    assert_eq!(stats["generation"], 1);
    assert_eq!(stats["blocking"]["enabled"], true);
    assert_eq!(stats["server"]["running"], true);
    assert_eq!(stats["recent"]["held"], 18);

    let text = block_in_place(|| output(ralo(&site, &["stats"])));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("since start"), "{text}");
    assert!(text.contains("ads.example.com"), "{text}");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_says_when_no_server_is_running() {
    let up = Upstream::standard().await;
    let site = site(up.addr(), "");
    let out = block_in_place(|| output(ralo(&site, &["stats"])));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not running"), "{err}");

    let server = block_in_place(|| start(&site));
    Client::new(server.addr)
        .udp("ads.example.com", RecordType::A)
        .await;
    drop(server); // SIGKILL: it cannot mark the segment stopped
    let stats = block_in_place(|| stats_json(&site));
    assert_eq!(stats["server"]["running"], false);
    assert_eq!(stats["since_start"]["blocked"], 1, "the last run's counts");
    let out = block_in_place(|| output(ralo(&site, &["stats"])));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not running"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_shows_the_queries_sent_with_their_outcome() {
    let up = Upstream::standard().await;
    let site = site(up.addr(), "");
    let server = block_in_place(|| start(&site));
    let client = Client::new(server.addr);
    let mut blocked =
        block_in_place(|| Tail::start(&site, &["--json", "--outcome", "blocked", "--count", "2"]));
    let text = block_in_place(|| Tail::start(&site, &["--count", "1"]));

    client.udp("allowed.example.com", RecordType::A).await;
    client.udp("ads.example.com", RecordType::A).await;
    client.tcp("www.ads.example.com", RecordType::AAAA).await;

    let first = block_in_place(|| json(&blocked.line()));
    assert_eq!(first["name"], "ads.example.com", "{first}");
    assert_eq!(first["outcome"], "blocked");
    assert_eq!(first["type"], "A");
    assert_eq!(first["list"], "household");
    assert_eq!(first["client"], "127.0.0.1");
    assert_eq!(first["protocol"], "udp");
    let second = block_in_place(|| json(&blocked.line()));
    assert_eq!(second["name"], "www.ads.example.com");
    assert_eq!(second["protocol"], "tcp");
    assert!(block_in_place(|| blocked.exits()), "--count 2 ends it");

    let line = block_in_place(|| text.line());
    assert!(line.contains("allowed.example.com"), "{line}");
    assert!(line.contains("forwarded"), "{line}");
    assert!(line.contains("127.0.0.1"), "{line}");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_tail_reports_exactly_the_queries_it_missed_and_recovers() {
    const SLOTS: u64 = 256;
    const SENT: u64 = 2_000;
    let up = Upstream::standard().await;
    let site = site(up.addr(), &format!("\n[telemetry]\nring_slots = {SLOTS}\n"));
    let server = block_in_place(|| start(&site));
    let client = Client::new(server.addr);
    let mut tail = block_in_place(|| Tail::start(&site, &["--json", "--count", "266"]));
    // The reader sleeps (SIGSTOP) while the server answers many queries.
    tail.signal(rustix::process::Signal::STOP);
    let mut senders = tokio::task::JoinSet::new();
    for worker in 0..4 {
        senders.spawn(async move {
            for i in 0..SENT / 4 {
                let name = format!("q{worker}-{i}.ads.example.com");
                client.udp(&name, RecordType::A).await;
            }
        });
    }
    while senders.join_next().await.is_some() {}
    tail.signal(rustix::process::Signal::CONT);

    let lost = block_in_place(|| json(&tail.line()));
    assert_eq!(lost["lost"], SENT - SLOTS, "{lost}");
    let mut numbers = Vec::new();
    for _ in 0..SLOTS {
        let event = block_in_place(|| json(&tail.line()));
        assert_eq!(event["outcome"], "blocked", "{event}");
        numbers.push(event["number"].as_u64().expect("number"));
    }
    let expected: Vec<u64> = (SENT - SLOTS..SENT).collect();
    assert_eq!(numbers, expected, "the newest {SLOTS}, in order");

    // And it goes on with what happens next, losing nothing more.
    for i in 0..10 {
        client
            .udp(&format!("after{i}.ads.example.com"), RecordType::A)
            .await;
    }
    for i in 0..10 {
        let event = block_in_place(|| json(&tail.line()));
        assert_eq!(
            event["name"],
            format!("after{i}.ads.example.com"),
            "{event}"
        );
    }
    assert!(block_in_place(|| tail.exits()));
    let stats = block_in_place(|| stats_json(&site));
    assert_eq!(stats["since_start"]["blocked"], SENT + 10);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_killed_mid_read_never_disturb_the_server() {
    let up = Upstream::standard().await;
    let site = site(up.addr(), "\n[telemetry]\nring_slots = 64\n");
    let mut server = block_in_place(|| start(&site));
    let client = Client::new(server.addr).with_timeout(Duration::from_secs(2));
    let mut sent = 0u64;
    for round in 0..6u64 {
        let readers: Vec<Child> = (0..3)
            .map(|_| {
                ralo(&site, &["tail", "--recent", "--json", "--interval-ms", "1"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("start ralo tail")
            })
            .collect();
        for i in 0..50 {
            let answer = client
                .udp(&format!("k{round}-{i}.ads.example.com"), RecordType::A)
                .await;
            assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
            sent += 1;
        }
        for mut reader in readers {
            reader.kill().expect("SIGKILL a reader");
            reader.wait().expect("reap");
        }
    }
    assert!(
        server.alive(),
        "the server survived; log:\n{}",
        server.log()
    );
    let stats = block_in_place(|| stats_json(&site));
    assert_eq!(stats["since_start"]["queries"], sent);
}

/// `GET path` over a fresh connection: status line, headers, body.
fn http_get(addr: SocketAddr, path: &str) -> (String, String, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to metrics");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let (head, body) = response.split_once("\r\n\r\n").expect("head and body");
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (status.to_owned(), headers.to_lowercase(), body.to_owned())
}

/// Checks `label="value",…}` (escapes `\\`, `\"`, `\n`) and returns the
/// length up to and including the `}`.
fn parse_labels(s: &str, line: &str, is_name: impl Fn(&str) -> bool) -> usize {
    let bytes = s.as_bytes();
    let at = |i: usize| {
        *bytes
            .get(i)
            .unwrap_or_else(|| panic!("unterminated labels: {line}"))
    };
    let mut i = 0;
    loop {
        if at(i) == b'}' {
            return i + 1;
        }
        let eq = i + s[i..]
            .find('=')
            .unwrap_or_else(|| panic!("label without =: {line}"));
        assert!(is_name(&s[i..eq]), "bad label name in {line}");
        assert_eq!(at(eq + 1), b'"', "unquoted label value in {line}");
        i = eq + 2;
        loop {
            match at(i) {
                b'\\' => {
                    assert!(
                        matches!(at(i + 1), b'\\' | b'"' | b'n'),
                        "bad escape in {line}"
                    );
                    i += 2;
                }
                b'"' => break,
                _ => i += 1,
            }
        }
        i += 1;
        match at(i) {
            b',' => i += 1,
            b'}' => return i + 1,
            other => panic!("unexpected {:?} after a label in {line}", char::from(other)),
        }
    }
}

/// Checks every line of `text` against the Prometheus text format (0.0.4)
/// and returns the samples by `name{labels}` as written.
fn parse_prometheus(text: &str) -> HashMap<String, f64> {
    let is_name = |s: &str| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut typed: HashMap<String, String> = HashMap::new();
    let mut samples = HashMap::new();
    assert!(text.ends_with('\n'), "the text ends with a newline");
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let (kind, name, rest) = (parts.next(), parts.next(), parts.next());
            let name = name.unwrap_or_else(|| panic!("bad comment: {line}"));
            assert!(is_name(name), "bad metric name in {line}");
            match kind {
                Some("HELP") => assert!(rest.is_some_and(|h| !h.is_empty()), "{line}"),
                Some("TYPE") => {
                    let kind = rest.unwrap_or_default();
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                        "{line}"
                    );
                    assert!(
                        typed.insert(name.to_owned(), kind.to_owned()).is_none(),
                        "TYPE twice: {line}"
                    );
                }
                _ => panic!("unknown comment: {line}"),
            }
            continue;
        }
        assert!(
            !line.is_empty() && !line.starts_with('#'),
            "bad line: {line:?}"
        );
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("no value: {line}"));
        let name = &line[..name_end];
        assert!(is_name(name), "bad metric name in {line}");
        let mut rest = &line[name_end..];
        if let Some(labels) = rest.strip_prefix('{') {
            let used = parse_labels(labels, line, is_name);
            rest = &labels[used..];
        }
        let value = rest
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("space before the value: {line}"));
        let value = value.split(' ').next().unwrap_or_default();
        let number: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let family = ["_bucket", "_sum", "_count", ""]
            .iter()
            .find_map(|suffix| {
                let base = name.strip_suffix(suffix)?;
                typed.contains_key(base).then_some(base)
            })
            .unwrap_or_else(|| panic!("sample before its TYPE: {line}"));
        if name != family {
            assert_eq!(typed[family], "histogram", "{line}");
        }
        samples.insert(line[..line.len() - rest.len()].to_owned(), number);
    }
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_endpoint_is_prometheus_text_with_matching_counters() {
    let up = Upstream::standard().await;
    let site = site(up.addr(), "\n[metrics]\nlisten = \"127.0.0.1:0\"\n");
    let server = block_in_place(|| start(&site));
    let log = server.log();
    let addr: SocketAddr = log
        .lines()
        .find(|l| l.contains("listening") && l.contains("protocol=\"http\""))
        .and_then(|l| l.split("addr=").nth(1))
        .and_then(|a| a.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no metrics address in the log:\n{log}"));
    let client = Client::new(server.addr);
    for _ in 0..3 {
        client.udp("ads.example.com", RecordType::A).await;
    }
    client.udp("allowed.example.com", RecordType::A).await;
    client.udp("mail.example.com", RecordType::MX).await;
    client.tcp("allowed.example.com", RecordType::A).await;

    let (status, headers, body) = block_in_place(|| http_get(addr, "/metrics"));
    assert!(status.contains(" 200 "), "{status}");
    assert!(
        headers.contains("content-type: text/plain; version=0.0.4"),
        "{headers}"
    );
    let samples = parse_prometheus(&body);
    let get = |key: &str| -> f64 {
        *samples
            .get(key)
            .unwrap_or_else(|| panic!("no sample {key} in\n{body}"))
    };
    assert_eq!(get("ralo_queries_total{outcome=\"blocked\"}"), 3.0);
    assert_eq!(get("ralo_queries_total{outcome=\"forwarded\"}"), 2.0);
    assert_eq!(get("ralo_queries_total{outcome=\"cached\"}"), 1.0);
    assert_eq!(get("ralo_queries_total{outcome=\"failed\"}"), 0.0);
    assert_eq!(get("ralo_queries_by_type_total{type=\"MX\"}"), 1.0);
    assert_eq!(get("ralo_queries_by_protocol_total{protocol=\"tcp\"}"), 1.0);
    let upstream = up.addr().to_string();
    let tries = get(&format!(
        "ralo_upstream_tries_total{{upstream=\"{upstream}\"}}"
    ));
    assert_eq!(tries, up.queries() as f64);
    assert_eq!(tries, 2.0);
    assert_eq!(
        get(&format!(
            "ralo_upstream_latency_seconds_count{{upstream=\"{upstream}\"}}"
        )),
        2.0
    );
    assert_eq!(
        get(&format!(
            "ralo_upstream_latency_seconds_bucket{{upstream=\"{upstream}\",le=\"+Inf\"}}"
        )),
        2.0
    );
    assert_eq!(get("ralo_image_generation"), 1.0);
    assert_eq!(get("ralo_blocking_enabled"), 1.0);

    // The same counters as `ralo stats`.
    let stats = block_in_place(|| stats_json(&site));
    assert_eq!(
        stats["since_start"]["by_outcome"]["blocked"].as_f64(),
        Some(get("ralo_queries_total{outcome=\"blocked\"}"))
    );
    let (status, _, _) = block_in_place(|| http_get(addr, "/other"));
    assert!(status.contains(" 404 "), "{status}");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_log_keeps_the_history_in_batches() {
    let up = Upstream::standard().await;
    let site = site(
        up.addr(),
        "\n[telemetry]\nquery_log = \"queries.log\"\nquery_log_flush_secs = 1\n",
    );
    let server = block_in_place(|| start(&site));
    let client = Client::new(server.addr);
    client.udp("ads.example.com", RecordType::A).await;
    client.udp("allowed.example.com", RecordType::A).await;
    let path = site.path("queries.log");
    let deadline = Instant::now() + Duration::from_secs(5);
    let lines = loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.lines().count() >= 2 || Instant::now() > deadline {
            break text.lines().map(json).collect::<Vec<_>>();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["name"], "ads.example.com");
    assert_eq!(lines[0]["outcome"], "blocked");
    assert_eq!(lines[1]["name"], "allowed.example.com");
    assert_eq!(lines[1]["outcome"], "forwarded");
    drop(server);
}
