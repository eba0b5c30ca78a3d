//! How often a household waits: the program behind `benches/household.sh`.
//!
//! `household run` plays one upstream per server under test: a UDP
//! responder on 127.0.0.1 that answers every A and AAAA question after
//! [`DELAY`], with a TTL that depends only on the name ([`ttl_of`], 10 to
//! 300 s), so every server sees the same upstream. It writes the upstreams'
//! ports to `OUT/upstreams.tsv` for the script to configure the servers
//! with, waits until each server answers, then replays one seeded trace
//! against all of them at once, each from its own socket, every query at
//! the same offset from a common start: names drawn Zipf-like from a
//! popularity-ranked list, Poisson arrivals. Per query it measures send to
//! answer; it prints a markdown table per server (and writes it to
//! `OUT/summary.md`), every query to `OUT/queries.tsv`, and what each
//! upstream was asked.
//!
//! Alone (`cargo bench --bench household`, or once in `cargo test
//! --benches`) it checks itself: a short trace sent straight at an upstream
//! must come back complete, no sooner than the delay, with each name's TTL
//! and address.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use clap::Parser;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::UdpSocket;
use tokio::time::Instant;

/// How long the upstream waits before every answer.
const DELAY: Duration = Duration::from_millis(30);
/// The TTL range of the upstream's answers (seconds).
const TTL_MIN: u32 = 10;
const TTL_MAX: u32 = 300;
/// An answer sooner than this came from a cache.
const FAST: Duration = Duration::from_millis(2);
/// A name asked until each server answers it, before the trace starts.
const PROBE: &str = "probe.household.example.";

#[derive(Parser, Debug)]
#[command(name = "household run")]
struct Run {
    /// Names by popularity, most asked first, one a line.
    #[arg(long)]
    names: PathBuf,
    /// Folder for upstreams.tsv, queries.tsv and summary.md.
    #[arg(long)]
    out: PathBuf,
    /// Length of the trace (seconds).
    #[arg(long, default_value_t = 600)]
    dur: u64,
    /// The first seconds of the trace are sent but not measured.
    #[arg(long, default_value_t = 120)]
    warmup: u64,
    /// Queries a second (mean of the Poisson arrivals).
    #[arg(long, default_value_t = 20.0)]
    qps: f64,
    /// Zipf exponent of name popularity.
    #[arg(long, default_value_t = 1.2)]
    zipf: f64,
    /// Share of AAAA questions (the rest are A).
    #[arg(long, default_value_t = 0.2)]
    aaaa: f64,
    /// Seed of the trace.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// An answer later than this counts as lost (milliseconds).
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
    /// A server under test, NAME=IP:PORT; repeat for each.
    #[arg(long = "server", value_parser = parse_server, required = true)]
    servers: Vec<(String, SocketAddr)>,
}

fn parse_server(text: &str) -> Result<(String, SocketAddr), String> {
    let (name, addr) = text.split_once('=').ok_or("expected NAME=IP:PORT")?;
    let addr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    Ok((name.to_owned(), addr))
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("run") {
        let run = Run::parse_from(&args[1..]);
        runtime.block_on(household(run))
    } else {
        runtime.block_on(self_check())
    }
}

// ------------------------------------------------------------------ upstream

/// FNV-1a of the name's lowercase text without the final dot: the same
/// number for every spelling of a name.
fn name_hash(name: &Name) -> u64 {
    let text = name.to_ascii().to_ascii_lowercase();
    text.trim_end_matches('.')
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

/// The TTL the upstream gives `name`: 10 to 300 s, evenly spread over names.
fn ttl_of(name: &Name) -> u32 {
    TTL_MIN + (name_hash(name) % u64::from(TTL_MAX - TTL_MIN + 1)) as u32
}

/// The address the upstream gives `name` for `qtype` (A or AAAA).
fn address_of(name: &Name, qtype: RecordType) -> Option<RData> {
    let h = name_hash(name).rotate_left(17);
    match qtype {
        RecordType::A => Some(RData::A(A(Ipv4Addr::from(
            0xc612_0000 | (h as u32 & 0xffff), // 198.18.0.0/16
        )))),
        RecordType::AAAA => Some(RData::AAAA(AAAA(Ipv6Addr::from(
            (0x2001_0db8_u128 << 96) | u128::from(h),
        )))),
        _ => None,
    }
}

/// The upstream's answer to the datagram `query`: A or AAAA records as
/// [`address_of`] and [`ttl_of`] say, NODATA for other types; `None` for
/// anything that is not a query with one question.
fn upstream_answer(query: &[u8]) -> Option<Vec<u8>> {
    let query = Message::from_vec(query).ok()?;
    if query.metadata.message_type != MessageType::Query || query.queries.len() != 1 {
        return None;
    }
    let question = &query.queries[0];
    let mut answer = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    answer.metadata.recursion_desired = query.metadata.recursion_desired;
    answer.metadata.recursion_available = true;
    answer.metadata.authoritative = true;
    answer.metadata.response_code = ResponseCode::NoError;
    answer.add_query(question.clone());
    if let Some(data) = address_of(question.name(), question.query_type()) {
        let name = question.name().clone();
        answer.add_answer(Record::from_rdata(name.clone(), ttl_of(&name), data));
    }
    if query.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        answer.set_edns(edns);
    }
    answer.to_vec().ok()
}

/// Answers every question on `socket` after [`DELAY`], each in its own
/// task so that no answer waits for another; counts the questions.
async fn upstream(socket: UdpSocket, asked: Arc<AtomicU64>) {
    let socket = Arc::new(socket);
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        asked.fetch_add(1, Ordering::Relaxed);
        let query = buf[..len].to_vec();
        let socket = socket.clone();
        tokio::spawn(async move {
            tokio::time::sleep(DELAY).await;
            if let Some(answer) = upstream_answer(&query) {
                let _ = socket.send_to(&answer, peer).await;
            }
        });
    }
}

/// One upstream on 127.0.0.1 (a free port); its address and question count.
async fn start_upstream() -> anyhow::Result<(SocketAddr, Arc<AtomicU64>)> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = socket.local_addr()?;
    let asked = Arc::new(AtomicU64::new(0));
    tokio::spawn(upstream(socket, asked.clone()));
    Ok((addr, asked))
}

// ------------------------------------------------------------------ trace

/// One question of the trace.
#[derive(Clone, Debug, PartialEq)]
struct Ask {
    /// When it is sent, from the start of the trace.
    at: Duration,
    /// Index into the names.
    name: usize,
    qtype: RecordType,
    /// The first time this name is asked with this type: a compulsory miss
    /// (no cache can have it).
    first: bool,
}

/// What the trace is made of.
struct Spec {
    dur: Duration,
    qps: f64,
    zipf: f64,
    aaaa: f64,
    seed: u64,
}

/// Poisson arrivals at `spec.qps` for `spec.dur`; each a name of rank k
/// (from 1) with probability proportional to 1/k^zipf among `names`, AAAA
/// with probability `spec.aaaa`.
fn trace(names: usize, spec: &Spec) -> Vec<Ask> {
    let mut cdf = Vec::with_capacity(names);
    let mut total = 0.0;
    for rank in 1..=names {
        total += (rank as f64).powf(-spec.zipf);
        cdf.push(total);
    }
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut seen = HashSet::new();
    let mut asks = Vec::new();
    let mut at = 0.0;
    loop {
        // An exponential gap: 1 - u is in (0, 1], so its log is finite.
        at += -(1.0 - rng.random::<f64>()).ln() / spec.qps;
        if at >= spec.dur.as_secs_f64() {
            return asks;
        }
        let u = rng.random::<f64>() * total;
        let name = cdf.partition_point(|&c| c < u).min(names - 1);
        let qtype = if rng.random::<f64>() < spec.aaaa {
            RecordType::AAAA
        } else {
            RecordType::A
        };
        asks.push(Ask {
            at: Duration::from_secs_f64(at),
            name,
            qtype,
            first: seen.insert((name, qtype)),
        });
    }
}

/// The names of the file at `path`, in its order; lines that are no DNS
/// name are skipped (and counted).
fn read_names(path: &Path) -> anyhow::Result<(Vec<Name>, usize)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path:?}"))?;
    let mut names = Vec::new();
    let mut skipped = 0;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match Name::from_ascii(format!("{line}.")) {
            Ok(name) => names.push(name),
            Err(_) => skipped += 1,
        }
    }
    ensure!(!names.is_empty(), "{path:?} holds no names");
    Ok((names, skipped))
}

/// How an ideal cache would serve the trace.
#[derive(Clone, Copy, PartialEq)]
enum Ideal {
    /// Fetches on a miss only.
    Plain,
    /// Also fetches again when a question (the second at least) finds less
    /// than a tenth of the TTL left: unbound's and ralo's prefetch rule.
    Prefetch,
    /// Prefetch, and an expired entry answers at once and is fetched again.
    Optimistic,
}

/// The measured repeats (not compulsory misses) an ideal cache must send
/// upstream and wait for: exact TTLs from [`ttl_of`], each answer stored
/// [`DELAY`] after its question, no eviction, no clock granularity, no
/// scheduling; and how many of those came more than a TTL after the
/// previous question for the name and type, which no prefetch can serve.
fn ideal_waits(trace: &[Ask], names: &[Name], warmup: Duration, ideal: Ideal) -> (usize, usize) {
    struct Slot {
        stored: f64,
        asked: u32,
        refetched: Option<f64>,
        last: f64,
    }
    let delay = DELAY.as_secs_f64();
    let mut slots: HashMap<(usize, RecordType), Slot> = HashMap::new();
    let (mut waits, mut beyond) = (0, 0);
    for ask in trace {
        let t = ask.at.as_secs_f64();
        let ttl = f64::from(ttl_of(&names[ask.name]));
        let slot = slots.entry((ask.name, ask.qtype)).or_insert(Slot {
            stored: f64::INFINITY,
            asked: 0,
            refetched: None,
            last: t,
        });
        if let Some(at) = slot.refetched.filter(|&at| t >= at) {
            (slot.stored, slot.asked, slot.refetched) = (at, 1, None);
        }
        let wait = if slot.stored == f64::INFINITY || t < slot.stored {
            true // never asked, or its first answer is on its way
        } else if t < slot.stored + ttl {
            slot.asked += 1;
            let nearly_expired = (slot.stored + ttl - t) * 10.0 <= ttl;
            if ideal != Ideal::Plain && slot.asked >= 2 && nearly_expired {
                slot.refetched.get_or_insert(t + delay);
            }
            false
        } else if ideal == Ideal::Optimistic {
            slot.refetched.get_or_insert(t + delay);
            false
        } else {
            true
        };
        // A question that waits fetches, unless a fetch is on its way.
        if wait && (slot.stored == f64::INFINITY || slot.stored <= t) {
            (slot.stored, slot.asked, slot.refetched) = (t + delay, 1, None);
        }
        if wait && !ask.first && ask.at >= warmup {
            waits += 1;
            if t - slot.last > ttl {
                beyond += 1;
            }
        }
        slot.last = t;
    }
    (waits, beyond)
}

// ------------------------------------------------------------------ replay

/// What became of one question.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Reply {
    /// An answer of the asked type, this long after the question was sent.
    Answered(Duration),
    /// An answer without a record of the asked type.
    Empty(ResponseCode),
    /// No answer within the timeout.
    Lost,
}

impl Reply {
    fn latency(self) -> Option<Duration> {
        match self {
            Reply::Answered(latency) => Some(latency),
            _ => None,
        }
    }

    fn text(self) -> String {
        match self {
            Reply::Answered(latency) => format!("{}", latency.as_micros()),
            Reply::Empty(rcode) => format!("empty-{rcode}"),
            Reply::Lost => "lost".to_owned(),
        }
    }
}

fn query_bytes(id: u16, name: &Name, qtype: RecordType) -> Vec<u8> {
    let mut query = Message::new(id, MessageType::Query, OpCode::Query);
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(name.clone(), qtype));
    // Proven invariant: a one-question query of a parsed name encodes.
    query.to_vec().expect("a query encodes")
}

/// Asks `server` for `name` (A) every 200 ms until it answers with an
/// address, for at most `wait`.
async fn probe(server: SocketAddr, name: &Name, wait: Duration) -> anyhow::Result<()> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    socket.connect(server).await?;
    let deadline = Instant::now() + wait;
    let mut buf = vec![0u8; 4096];
    let mut id = 0u16;
    while Instant::now() < deadline {
        id = id.wrapping_add(1);
        socket.send(&query_bytes(id, name, RecordType::A)).await?;
        let until = Instant::now() + Duration::from_millis(200);
        while let Ok(Ok(len)) = tokio::time::timeout_at(until, socket.recv(&mut buf)).await {
            if let Ok(m) = Message::from_vec(&buf[..len])
                && m.metadata.id == id
                && m.answers.iter().any(|r| r.record_type() == RecordType::A)
            {
                return Ok(());
            }
        }
        tokio::time::sleep_until(until).await;
    }
    bail!("{server} gave no answer to {name} within {wait:?}")
}

/// Sends every question of `trace` to `server` at `start + at`, from one
/// socket, and times each answer from just before its send to just after
/// its receipt; waits `timeout` after the last send for late answers.
async fn replay(
    server: SocketAddr,
    trace: Arc<Vec<Ask>>,
    names: Arc<Vec<Name>>,
    start: Instant,
    timeout: Duration,
) -> anyhow::Result<Vec<Reply>> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    socket.connect(server).await?;
    let mut sent: Vec<Option<Instant>> = vec![None; trace.len()];
    let mut replies = vec![Reply::Lost; trace.len()];
    let mut waiting: HashMap<u16, usize> = HashMap::new();
    let mut buf = vec![0u8; 4096];
    let mut next = 0;
    let end = start + trace.last().map_or(Duration::ZERO, |a| a.at) + timeout;
    loop {
        let due = trace.get(next).map_or(end, |a| start + a.at);
        tokio::select! {
            biased;
            received = socket.recv(&mut buf) => {
                let now = Instant::now();
                let Ok(len) = received else { continue };
                let Ok(answer) = Message::from_vec(&buf[..len]) else { continue };
                let Some(&i) = waiting.get(&answer.metadata.id) else { continue };
                let ask = &trace[i];
                let matches = answer.queries.first().is_some_and(|q| {
                    q.query_type() == ask.qtype && *q.name() == names[ask.name]
                });
                // Proven invariant: only sent questions are waiting.
                let latency = now - sent[i].expect("sent");
                if !matches || latency > timeout {
                    continue;
                }
                waiting.remove(&answer.metadata.id);
                replies[i] = if answer.metadata.response_code == ResponseCode::NoError
                    && answer.answers.iter().any(|r| r.record_type() == ask.qtype)
                {
                    Reply::Answered(latency)
                } else {
                    Reply::Empty(answer.metadata.response_code)
                };
            }
            () = tokio::time::sleep_until(due) => {
                let Some(ask) = trace.get(next) else { break };
                let id = (next & 0xffff) as u16;
                let query = query_bytes(id, &names[ask.name], ask.qtype);
                sent[next] = Some(Instant::now());
                socket.send(&query).await?;
                waiting.insert(id, next);
                next += 1;
            }
        }
    }
    Ok(replies)
}

// ------------------------------------------------------------------ report

/// The figures of one server over the measured part of the trace.
struct Figures {
    asked: usize,
    answered: usize,
    fast: usize,
    repeat_asked: usize,
    repeat_fast: usize,
    /// Answers that took at least the upstream's delay.
    waited: usize,
    /// Latency percentiles; `None` where it falls on a lost or empty reply.
    p50: Option<Duration>,
    p95: Option<Duration>,
    p99: Option<Duration>,
}

fn figures(trace: &[Ask], replies: &[Reply], warmup: Duration) -> Figures {
    let measured: Vec<(&Ask, Reply)> = trace
        .iter()
        .zip(replies.iter().copied())
        .filter(|(a, _)| a.at >= warmup)
        .collect();
    let is_fast = |r: Reply| r.latency().is_some_and(|l| l < FAST);
    let mut latencies: Vec<Duration> = measured
        .iter()
        .map(|&(_, r)| r.latency().unwrap_or(Duration::MAX))
        .collect();
    latencies.sort_unstable();
    // Nearest rank.
    let pct = |p: f64| {
        let n = latencies.len();
        if n == 0 {
            return None;
        }
        let rank = ((p / 100.0 * n as f64).ceil() as usize).clamp(1, n);
        Some(latencies[rank - 1]).filter(|&l| l != Duration::MAX)
    };
    Figures {
        asked: measured.len(),
        answered: measured
            .iter()
            .filter(|(_, r)| r.latency().is_some())
            .count(),
        fast: measured.iter().filter(|&&(_, r)| is_fast(r)).count(),
        repeat_asked: measured.iter().filter(|(a, _)| !a.first).count(),
        repeat_fast: measured
            .iter()
            .filter(|&&(a, r)| !a.first && is_fast(r))
            .count(),
        waited: measured
            .iter()
            .filter(|(_, r)| r.latency().is_some_and(|l| l >= DELAY))
            .count(),
        p50: pct(50.0),
        p95: pct(95.0),
        p99: pct(99.0),
    }
}

fn share(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "–".to_owned();
    }
    format!("{:.1} %", 100.0 * part as f64 / whole as f64)
}

fn ms(latency: Option<Duration>) -> String {
    match latency {
        Some(l) => format!("{:.2} ms", l.as_secs_f64() * 1000.0),
        None => "lost".to_owned(),
    }
}

/// The markdown table: one row per server.
fn table(rows: &[(String, Figures, u64)]) -> String {
    let mut out = String::new();
    out.push_str(
        "| server | answered | < 2 ms (all) | < 2 ms (excluding compulsory misses) \
         | p50 | p95 | p99 | waited ≥ 30 ms | upstream queries |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for (name, f, upstream) in rows {
        let _ = writeln!(
            out,
            "| {name} | {} of {} | {} | {} | {} | {} | {} | {} | {upstream} |",
            f.answered,
            f.asked,
            share(f.fast, f.asked),
            share(f.repeat_fast, f.repeat_asked),
            ms(f.p50),
            ms(f.p95),
            ms(f.p99),
            f.waited,
        );
    }
    out
}

/// What the trace holds, in a few lines.
fn describe(trace: &[Ask], names: &[Name], skipped: usize, run: &Run) -> String {
    let warmup = Duration::from_secs(run.warmup);
    let measured = trace.iter().filter(|a| a.at >= warmup).count();
    let compulsory = trace.iter().filter(|a| a.at >= warmup && a.first).count();
    let distinct: HashSet<usize> = trace.iter().map(|a| a.name).collect();
    let aaaa = trace.iter().filter(|a| a.qtype == RecordType::AAAA).count();
    let mut per_name: HashMap<usize, usize> = HashMap::new();
    for ask in trace {
        *per_name.entry(ask.name).or_default() += 1;
    }
    let mut counts: Vec<usize> = per_name.into_values().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top10: usize = counts.iter().take(10).sum();
    let asked_once = counts.iter().filter(|&&c| c == 1).count();
    let (plain, _) = ideal_waits(trace, names, warmup, Ideal::Plain);
    let (prefetch, beyond) = ideal_waits(trace, names, warmup, Ideal::Prefetch);
    let (optimistic, _) = ideal_waits(trace, names, warmup, Ideal::Optimistic);
    let ideal = format!(
        "An ideal cache (exact TTLs, no eviction, no stalls) waits on {plain} of the {} \
         measured repeats without prefetch, {prefetch} with prefetch in the last tenth of the \
         TTL ({beyond} of them come more than a TTL after the previous question for the name \
         and type, which no prefetch can serve), {optimistic} answering expired entries.\n",
        measured - compulsory,
    );
    let trace_line = format!(
        "Trace: {} queries in {} s (Poisson, {} /s, seed {}), Zipf exponent {} over {} names \
         ({} lines skipped); {} distinct names, {} asked once; the 10 most asked take {}; \
         AAAA {}. Measured: the {} queries after the first {} s, of which {} compulsory \
         misses (first question for a name and type) and {} repeats. Upstream: every answer \
         {} ms late, TTL {}–{} s by name.\n",
        trace.len(),
        run.dur,
        run.qps,
        run.seed,
        run.zipf,
        names.len(),
        skipped,
        distinct.len(),
        asked_once,
        share(top10, trace.len()),
        share(aaaa, trace.len()),
        measured,
        run.warmup,
        compulsory,
        measured - compulsory,
        DELAY.as_millis(),
        TTL_MIN,
        TTL_MAX,
    );
    trace_line + &ideal
}

async fn household(run: Run) -> anyhow::Result<()> {
    ensure!(
        run.warmup < run.dur,
        "the warm-up must be shorter than the trace"
    );
    ensure!(
        run.qps > 0.0 && run.zipf > 0.0,
        "qps and zipf must be positive"
    );
    std::fs::create_dir_all(&run.out).with_context(|| format!("creating {:?}", run.out))?;
    let (names, skipped) = read_names(&run.names)?;
    let spec = Spec {
        dur: Duration::from_secs(run.dur),
        qps: run.qps,
        zipf: run.zipf,
        aaaa: run.aaaa,
        seed: run.seed,
    };
    let trace = Arc::new(trace(names.len(), &spec));
    let names = Arc::new(names);

    let mut upstreams = Vec::new();
    let mut listing = String::new();
    for (server, _) in &run.servers {
        let (addr, asked) = start_upstream().await?;
        let _ = writeln!(listing, "{server}\t{}", addr.port());
        upstreams.push(asked);
    }
    // Written whole and renamed, so the script never reads half of it.
    let listing_path = run.out.join("upstreams.tsv");
    std::fs::write(run.out.join("upstreams.tsv.new"), listing)?;
    std::fs::rename(run.out.join("upstreams.tsv.new"), &listing_path)?;

    let probe_name = Name::from_ascii(PROBE)?;
    for (server, addr) in &run.servers {
        probe(*addr, &probe_name, Duration::from_secs(60))
            .await
            .with_context(|| format!("{server} is not answering"))?;
    }
    let before: Vec<u64> = upstreams
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .collect();
    eprintln!(
        "household: {} servers answer; replaying {} queries over {} s",
        run.servers.len(),
        trace.len(),
        run.dur
    );

    let start = Instant::now() + Duration::from_secs(1);
    let timeout = Duration::from_millis(run.timeout_ms);
    let mut tasks = Vec::new();
    for (_, addr) in &run.servers {
        tasks.push(tokio::spawn(replay(
            *addr,
            trace.clone(),
            names.clone(),
            start,
            timeout,
        )));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await??);
    }

    let warmup = Duration::from_secs(run.warmup);
    let mut rows = Vec::new();
    let mut tsv = String::from("server\tindex\tat_ms\tname\tqtype\tttl\tfirst\tmeasured\treply\n");
    for (((server, _), replies), (asked, before)) in run
        .servers
        .iter()
        .zip(&results)
        .zip(upstreams.iter().zip(before))
    {
        for (i, (ask, reply)) in trace.iter().zip(replies).enumerate() {
            let name = &names[ask.name];
            let _ = writeln!(
                tsv,
                "{server}\t{i}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                ask.at.as_millis(),
                name.to_ascii().trim_end_matches('.'),
                ask.qtype,
                ttl_of(name),
                u8::from(ask.first),
                u8::from(ask.at >= warmup),
                reply.text(),
            );
        }
        let upstream = asked.load(Ordering::Relaxed) - before;
        rows.push((server.clone(), figures(&trace, replies, warmup), upstream));
    }
    std::fs::write(run.out.join("queries.tsv"), tsv)?;
    let summary = format!(
        "{}\n{}",
        describe(&trace, &names, skipped, &run),
        table(&rows)
    );
    std::fs::write(run.out.join("summary.md"), &summary)?;
    println!("{summary}");
    Ok(())
}

// ------------------------------------------------------------------ self-check

/// A short trace straight at an upstream: every answer comes, none sooner
/// than the delay, each with its name's TTL and address; the same seed
/// gives the same trace.
async fn self_check() -> anyhow::Result<()> {
    let names: Vec<Name> = (0..500)
        .map(|i| Name::from_ascii(format!("name-{i}.household.example.")))
        .collect::<Result<_, _>>()?;
    let spec = Spec {
        dur: Duration::from_secs(2),
        qps: 50.0,
        zipf: 1.2,
        aaaa: 0.2,
        seed: 7,
    };
    let asks = trace(names.len(), &spec);
    ensure!(asks == trace(names.len(), &spec), "the trace is not seeded");
    ensure!(asks.len() > 50, "too few questions: {}", asks.len());
    let (addr, asked) = start_upstream().await?;
    let trace = Arc::new(asks);
    let names = Arc::new(names);
    let start = Instant::now();
    let replies = replay(
        addr,
        trace.clone(),
        names.clone(),
        start,
        Duration::from_secs(1),
    )
    .await?;
    ensure!(asked.load(Ordering::Relaxed) == trace.len() as u64);
    for (ask, reply) in trace.iter().zip(&replies) {
        let Reply::Answered(latency) = *reply else {
            bail!("{:?}: {reply:?}", ask);
        };
        ensure!(latency >= DELAY, "{ask:?} answered in {latency:?}");
    }
    // The records themselves, through one more question.
    let name = &names[3];
    let answer = upstream_answer(&query_bytes(9, name, RecordType::AAAA)).context("answer")?;
    let answer = Message::from_vec(&answer)?;
    let record = answer.answers.first().context("a record")?;
    ensure!((TTL_MIN..=TTL_MAX).contains(&record.ttl) && record.ttl == ttl_of(name));
    ensure!(Some(&record.data) == address_of(name, RecordType::AAAA).as_ref());
    let upper = Name::from_ascii(name.to_ascii().to_uppercase())?;
    ensure!(
        ttl_of(&upper) == ttl_of(name),
        "the TTL depends on the case"
    );
    let slowest = replies.iter().filter_map(|r| r.latency()).max();
    println!(
        "household: self-check passed ({} questions, slowest answer {}); \
         benches/household.sh runs the comparison",
        trace.len(),
        ms(slowest)
    );
    Ok(())
}
