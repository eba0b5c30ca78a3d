//! The malformed-packet corpus: named classes of bad or unusual queries,
//! hand-built byte by byte, sent over UDP and TCP to one running ralo. Each
//! class has its expected outcome; after each class (and transport) a canary
//! question is answered within [`CANARY_BOUND`].
//!
//! | class                     | bytes                                              | UDP            | TCP            |
//! |---------------------------|----------------------------------------------------|----------------|----------------|
//! | `empty`                   | nothing                                            | silence        | —              |
//! | `short-header`            | 11 bytes of a header                               | silence        | silence        |
//! | `qdcount-0`               | header only, QDCOUNT 0                             | FORMERR        | FORMERR        |
//! | `qdcount-2`               | two questions                                      | FORMERR        | FORMERR        |
//! | `qdcount-65535`           | QDCOUNT 65535, one question present                | FORMERR        | FORMERR        |
//! | `qr-response`             | a response (QR=1)                                  | silence        | silence        |
//! | `opcode-iquery`           | opcode 1                                           | NOTIMP         | NOTIMP         |
//! | `opcode-status`           | opcode 2                                           | NOTIMP         | NOTIMP         |
//! | `opcode-notify`           | opcode 4                                           | NOTIMP         | NOTIMP         |
//! | `opcode-update`           | opcode 5                                           | NOTIMP         | NOTIMP         |
//! | `opcode-15`               | unassigned opcode 15                               | NOTIMP         | NOTIMP         |
//! | `ancount-no-records`      | ANCOUNT 5, no records                              | FORMERR        | FORMERR        |
//! | `arcount-no-records`      | ARCOUNT 1, no records                              | FORMERR        | FORMERR        |
//! | `truncated-question`      | name without type and class                        | FORMERR        | FORMERR        |
//! | `trailing-garbage`        | valid query + 9 junk bytes                         | FORMERR/answer | FORMERR/answer |
//! | `pointer-self-loop`       | name = pointer to itself                           | FORMERR        | FORMERR        |
//! | `pointer-two-loop`        | two names pointing at each other                   | FORMERR        | FORMERR        |
//! | `pointer-forward`         | pointer to a name later in the packet              | FORMERR        | FORMERR        |
//! | `pointer-out-of-range`    | pointer to offset 1023 of a 34-byte packet         | FORMERR        | FORMERR        |
//! | `label-64`                | length byte 64 (0x40: extended label type)         | FORMERR        | FORMERR        |
//! | `label-type-0x80`         | reserved label type 10                             | FORMERR        | FORMERR        |
//! | `name-over-255`           | a 261-byte name                                    | FORMERR        | FORMERR        |
//! | `two-opt`                 | two OPT records (RFC 6891 §6.1.1)                  | FORMERR        | FORMERR        |
//! | `opt-nonroot-owner`       | OPT owned by `a.` (RFC 6891 §6.1.2)                | FORMERR        | FORMERR        |
//! | `edns-version-1`          | EDNS version 1                                     | BADVERS (16)   | BADVERS (16)   |
//! | `edns-unknown-option`     | option 65001, 4 bytes                              | answer         | answer         |
//! | `edns-option-past-end`    | option length 100 in an 4-byte RDATA               | FORMERR        | FORMERR        |
//! | `opt-rdlen-past-end`      | OPT RDLENGTH 50, 4 bytes follow                    | FORMERR        | FORMERR        |
//! | `qtype-any`               | ANY                                                | HINFO RFC8482  | HINFO RFC8482  |
//! | `qtype-axfr`              | AXFR                                               | REFUSED        | REFUSED        |
//! | `qtype-ixfr`              | IXFR                                               | REFUSED        | REFUSED        |
//! | `class-chaos`             | `version.bind` TXT CH                              | REFUSED        | REFUSED        |
//! | `class-any`               | class 255                                          | REFUSED        | REFUSED        |
//! | `rd-0`                    | RD=0                                               | answer, RD=0   | answer, RD=0   |
//! | `junk-64k`                | query header + junk to the largest datagram/frame  | FORMERR/silence| FORMERR/silence|
//! | `tcp-length-0`            | length prefix 0                                    | —              | silence        |
//! | `tcp-length-past-body`    | length 64, 3 bytes, then close                     | —              | silence        |
//! | `tcp-half-prefix`         | one byte of a length prefix, then close            | —              | silence        |
//! | `tcp-garbage`             | an HTTP request on the DNS port                    | —              | silence        |
//!
//! "silence" means no reply within [`WAIT`] (on TCP: none, or the connection
//! closed). "FORMERR/answer" marks a class the RFCs leave open. Every reply
//! must carry the query's ID with QR=1.

use std::fmt;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::{RData, RecordType};

use crate::ralo::Setup;
use crate::support::client::{Client, answers_a};
use crate::support::upstream::Upstream;

/// How long to wait before calling a class "silence".
const WAIT: Duration = Duration::from_millis(250);
/// The 100 ms for a canary, plus 100 ms of slack for an
/// unoptimized build on a shared machine.
const CANARY_BOUND: Duration = Duration::from_millis(200);

const FORMERR: u16 = 1;
const NOTIMP: u16 = 4;
const REFUSED: u16 = 5;
const BADVERS: u16 = 16;
const ID: u16 = 0x5a5a;
/// Flags of a plain query: RD=1.
const QUERY: u16 = 0x0100;

/// What a class should get back.
#[derive(Clone, Copy)]
enum Expect {
    /// No reply.
    Silence,
    /// A reply with this RCODE.
    Rcode(u16),
    /// Either of two RCODEs (where the RFCs leave a choice; 0 = answered).
    Either(u16, u16),
    /// No reply, or this RCODE.
    SilenceOr(u16),
    /// NOERROR, and the check holds.
    Answer(&'static str, fn(&Message) -> bool),
}

/// What came back.
enum Observed {
    Silence,
    Reply(Message),
    Garbage(usize),
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Silence => write!(f, "silence"),
            Expect::Rcode(c) => write!(f, "rcode {c}"),
            Expect::Either(a, b) => write!(f, "rcode {a} or {b}"),
            Expect::SilenceOr(c) => write!(f, "silence or rcode {c}"),
            Expect::Answer(what, _) => write!(f, "{what}"),
        }
    }
}

impl fmt::Display for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Observed::Silence => write!(f, "silence"),
            Observed::Garbage(n) => write!(f, "undecodable {n}-byte reply"),
            Observed::Reply(m) => write!(
                f,
                "rcode {} id {:#06x} qr {} rd {} {} answers",
                u16::from(m.metadata.response_code),
                m.metadata.id,
                u8::from(m.metadata.message_type == hickory_proto::op::MessageType::Response),
                u8::from(m.metadata.recursion_desired),
                m.answers.len()
            ),
        }
    }
}

impl Expect {
    fn holds(self, observed: &Observed) -> bool {
        let reply = match observed {
            Observed::Silence => {
                return matches!(self, Expect::Silence | Expect::SilenceOr(_));
            }
            Observed::Garbage(_) => return false,
            Observed::Reply(m) => m,
        };
        let is_response = reply.metadata.message_type == hickory_proto::op::MessageType::Response;
        if reply.metadata.id != ID || !is_response {
            return false;
        }
        let rcode = u16::from(reply.metadata.response_code);
        match self {
            Expect::Silence => false,
            Expect::Rcode(c) | Expect::SilenceOr(c) => rcode == c,
            Expect::Either(a, b) => rcode == a || rcode == b,
            Expect::Answer(_, check) => rcode == 0 && check(reply),
        }
    }
}

/// One class: its bytes and its expected outcome per transport (`None`:
/// not sent over that transport). TCP sends the bytes with a correct length
/// prefix unless the class is TCP-only (`raw_tcp`), whose bytes go as-is.
struct Class {
    name: &'static str,
    bytes: Vec<u8>,
    udp: Option<Expect>,
    tcp: Option<Expect>,
    raw_tcp: bool,
}

fn class(name: &'static str, bytes: Vec<u8>, both: Expect) -> Class {
    Class {
        name,
        bytes,
        udp: Some(both),
        tcp: Some(both),
        raw_tcp: false,
    }
}

fn tcp_only(name: &'static str, bytes: Vec<u8>) -> Class {
    Class {
        name,
        bytes,
        udp: None,
        tcp: Some(Expect::Silence),
        raw_tcp: true,
    }
}

fn header(flags: u16, qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    [ID, flags, qd, an, ns, ar]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect()
}

/// A name in wire format, uncompressed.
fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(u8::try_from(label.len()).expect("a test label fits a length byte"));
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

fn type_class(qtype: u16, qclass: u16) -> Vec<u8> {
    [qtype, qclass]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect()
}

/// An OPT record: owner root, payload 1232, `version`, raw RDATA `rdata`
/// whose RDLENGTH is `rdlen`.
fn opt_with(owner: &[u8], version: u8, rdlen: u16, rdata: &[u8]) -> Vec<u8> {
    let mut out = owner.to_vec();
    out.extend_from_slice(&41u16.to_be_bytes());
    out.extend_from_slice(&1232u16.to_be_bytes());
    out.extend_from_slice(&[0, version, 0, 0]);
    out.extend_from_slice(&rdlen.to_be_bytes());
    out.extend_from_slice(rdata);
    out
}

fn opt() -> Vec<u8> {
    opt_with(&[0], 0, 0, &[])
}

const NAME: &str = "allowed.example.com";
const A: u16 = 1;
const IN: u16 = 1;

/// A well-formed query for `NAME` with `qtype`/`qclass`, `flags`, and EDNS.
fn query_bytes(flags: u16, qtype: u16, qclass: u16) -> Vec<u8> {
    let mut out = header(flags, 1, 0, 0, 1);
    out.extend(wire_name(NAME));
    out.extend(type_class(qtype, qclass));
    out.extend(opt());
    out
}

/// A query with one question for `NAME` A IN whose OPT record is `opt`.
fn with_opt(ar: u16, opt: &[u8]) -> Vec<u8> {
    let mut out = header(QUERY, 1, 0, 0, ar);
    out.extend(wire_name(NAME));
    out.extend(type_class(A, IN));
    out.extend_from_slice(opt);
    out
}

/// A question whose name is `name_bytes` (raw), then A IN.
fn raw_question(qd: u16, name_bytes: &[u8]) -> Vec<u8> {
    let mut out = header(QUERY, qd, 0, 0, 0);
    out.extend_from_slice(name_bytes);
    out.extend(type_class(A, IN));
    out
}

/// Deterministic junk (xorshift), so a failure can be replayed.
fn junk(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

fn allowed_a(m: &Message) -> bool {
    answers_a(m) == [Ipv4Addr::new(192, 0, 2, 1)]
}

fn rfc8482(m: &Message) -> bool {
    m.answers.len() == 1 && matches!(&m.answers[0].data, RData::HINFO(h) if &*h.cpu == b"RFC8482")
}

fn rd_cleared_and_answered(m: &Message) -> bool {
    !m.metadata.recursion_desired && allowed_a(m)
}

fn corpus() -> Vec<Class> {
    let mut classes = Vec::new();
    let mut push = |c: Class| classes.push(c);

    push(Class {
        udp: Some(Expect::Silence),
        tcp: None,
        ..class("empty", Vec::new(), Expect::Silence)
    });
    push(class(
        "short-header",
        header(QUERY, 1, 0, 0, 0)[..11].to_vec(),
        Expect::Silence,
    ));
    push(class(
        "qdcount-0",
        header(QUERY, 0, 0, 0, 0),
        Expect::Rcode(FORMERR),
    ));
    let mut two = query_bytes(QUERY, A, IN);
    two[5] = 2;
    let opt_at = two.len() - 11;
    two.splice(
        opt_at..opt_at,
        [wire_name("mail.example.com"), type_class(15, IN)].concat(),
    );
    push(class("qdcount-2", two, Expect::Rcode(FORMERR)));
    let mut many = query_bytes(QUERY, A, IN);
    many[4..6].copy_from_slice(&[0xff, 0xff]);
    push(class("qdcount-65535", many, Expect::Rcode(FORMERR)));
    push(class(
        "qr-response",
        query_bytes(0x8180, A, IN),
        Expect::Silence,
    ));
    for (name, opcode) in [
        ("opcode-iquery", 1u16),
        ("opcode-status", 2),
        ("opcode-notify", 4),
        ("opcode-update", 5),
        ("opcode-15", 15),
    ] {
        push(class(
            name,
            query_bytes(opcode << 11 | QUERY, A, IN),
            Expect::Rcode(NOTIMP),
        ));
    }
    let mut an = query_bytes(QUERY, A, IN);
    an[7] = 5;
    push(class("ancount-no-records", an, Expect::Rcode(FORMERR)));
    let mut ar = header(QUERY, 1, 0, 0, 1);
    ar.extend(wire_name(NAME));
    ar.extend(type_class(A, IN));
    push(class("arcount-no-records", ar, Expect::Rcode(FORMERR)));
    let mut cut = header(QUERY, 1, 0, 0, 0);
    cut.extend(wire_name(NAME));
    push(class("truncated-question", cut, Expect::Rcode(FORMERR)));
    let mut trailing = query_bytes(QUERY, A, IN);
    trailing.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 1]);
    push(class(
        "trailing-garbage",
        trailing,
        Expect::Either(FORMERR, 0),
    ));
    push(class(
        "pointer-self-loop",
        raw_question(1, &[0xc0, 12]),
        Expect::Rcode(FORMERR),
    ));
    push(class(
        "pointer-two-loop",
        raw_question(1, &[1, b'a', 0xc0, 16, 1, b'b', 0xc0, 12]),
        Expect::Rcode(FORMERR),
    ));
    let mut forward = raw_question(1, &[0xc0, 18]);
    forward.extend(wire_name(NAME));
    push(class("pointer-forward", forward, Expect::Rcode(FORMERR)));
    let mut far = raw_question(1, &[0xc3, 0xff]);
    far.extend_from_slice(&[0; 16]);
    push(class("pointer-out-of-range", far, Expect::Rcode(FORMERR)));
    let mut long_label = vec![64];
    long_label.extend_from_slice(&[b'a'; 64]);
    long_label.extend(wire_name("com"));
    push(class(
        "label-64",
        raw_question(1, &long_label),
        Expect::Rcode(FORMERR),
    ));
    let mut label80 = vec![0x80, b'a'];
    label80.extend(wire_name("com"));
    push(class(
        "label-type-0x80",
        raw_question(1, &label80),
        Expect::Rcode(FORMERR),
    ));
    let l63 = "a".repeat(63);
    let long_name = format!("{l63}.{l63}.{l63}.{l63}.com");
    push(class(
        "name-over-255",
        raw_question(1, &wire_name(&long_name)),
        Expect::Rcode(FORMERR),
    ));
    push(class(
        "two-opt",
        with_opt(2, &[opt(), opt()].concat()),
        Expect::Rcode(FORMERR),
    ));
    push(class(
        "opt-nonroot-owner",
        with_opt(1, &opt_with(&wire_name("a"), 0, 0, &[])),
        Expect::Rcode(FORMERR),
    ));
    push(class(
        "edns-version-1",
        with_opt(1, &opt_with(&[0], 1, 0, &[])),
        Expect::Rcode(BADVERS),
    ));
    let unknown = [0xfd, 0xe9, 0, 4, 1, 2, 3, 4];
    push(class(
        "edns-unknown-option",
        with_opt(1, &opt_with(&[0], 0, 8, &unknown)),
        Expect::Answer("answer 192.0.2.1", allowed_a),
    ));
    let past = [0xfd, 0xe9, 0, 100];
    push(class(
        "edns-option-past-end",
        with_opt(1, &opt_with(&[0], 0, 4, &past)),
        Expect::Rcode(FORMERR),
    ));
    push(class(
        "opt-rdlen-past-end",
        with_opt(1, &opt_with(&[0], 0, 50, &past)),
        Expect::Rcode(FORMERR),
    ));
    push(class(
        "qtype-any",
        query_bytes(QUERY, 255, IN),
        Expect::Answer("HINFO RFC8482", rfc8482),
    ));
    push(class(
        "qtype-axfr",
        query_bytes(QUERY, 252, IN),
        Expect::Rcode(REFUSED),
    ));
    push(class(
        "qtype-ixfr",
        query_bytes(QUERY, 251, IN),
        Expect::Rcode(REFUSED),
    ));
    let mut chaos = header(QUERY, 1, 0, 0, 0);
    chaos.extend(wire_name("version.bind"));
    chaos.extend(type_class(16, 3));
    push(class("class-chaos", chaos, Expect::Rcode(REFUSED)));
    push(class(
        "class-any",
        query_bytes(QUERY, A, 255),
        Expect::Rcode(REFUSED),
    ));
    push(class(
        "rd-0",
        query_bytes(0, A, IN),
        Expect::Answer("answer 192.0.2.1 with RD=0", rd_cleared_and_answered),
    ));
    let mut big = header(QUERY, 1, 0, 0, 0);
    big.extend(junk(65_507 - 12, 0x0123_4567_89ab_cdef));
    let mut big_tcp = big.clone();
    big_tcp.extend(junk(65_535 - big_tcp.len(), 7));
    push(Class {
        udp: Some(Expect::SilenceOr(FORMERR)),
        tcp: None,
        ..class("junk-64k", big, Expect::Silence)
    });
    push(Class {
        udp: None,
        tcp: Some(Expect::SilenceOr(FORMERR)),
        ..class("junk-64k", big_tcp, Expect::Silence)
    });
    push(tcp_only("tcp-length-0", vec![0, 0]));
    push(tcp_only("tcp-length-past-body", vec![0, 64, 1, 2, 3]));
    push(tcp_only("tcp-half-prefix", vec![0]));
    push(tcp_only(
        "tcp-garbage",
        b"GET / HTTP/1.1\r\nHost: ralo\r\n\r\n".to_vec(),
    ));
    classes
}

fn observe(reply: Option<Vec<u8>>) -> Observed {
    match reply {
        None => Observed::Silence,
        Some(bytes) => match Message::from_vec(&bytes) {
            Ok(m) => Observed::Reply(m),
            Err(_) => Observed::Garbage(bytes.len()),
        },
    }
}

/// The canary answered from ralo's cache; returns how long it took.
async fn canary(client: &Client) -> Duration {
    let started = Instant::now();
    let msg = client.udp(NAME, RecordType::A).await;
    let took = started.elapsed();
    assert!(allowed_a(&msg), "the canary is answered: {msg:?}");
    took
}

#[tokio::test]
async fn every_malformed_class_gets_its_outcome_and_the_server_keeps_answering() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr()).start().await;
    let client = Client::new(ralo.addr);
    canary(&client).await; // fills the cache

    let classes = corpus();
    let mut failures = Vec::new();
    let mut slowest = Duration::ZERO;
    let mut sent = 0;
    println!("{:<24} {:<4} {:<28} observed", "class", "via", "expected");
    for c in &classes {
        for (via, expect) in [("udp", c.udp), ("tcp", c.tcp)] {
            let Some(expect) = expect else { continue };
            let reply = if via == "udp" {
                client.send_raw_udp(&c.bytes, WAIT).await
            } else if c.raw_tcp {
                client.send_raw_tcp(&c.bytes, WAIT).await
            } else {
                let len = u16::try_from(c.bytes.len()).expect("a TCP class fits a frame");
                let framed = [&len.to_be_bytes()[..], &c.bytes].concat();
                client.send_raw_tcp(&framed, WAIT).await
            };
            sent += 1;
            let observed = observe(reply);
            let ok = expect.holds(&observed);
            println!(
                "{:<24} {via:<4} {:<28} {observed}{}",
                c.name,
                expect.to_string(),
                if ok { "" } else { "   <-- MISMATCH" }
            );
            if !ok {
                failures.push(format!(
                    "{} over {via}: expected {expect}, got {observed}",
                    c.name
                ));
            }
            let took = canary(&client).await;
            slowest = slowest.max(took);
            assert!(
                took <= CANARY_BOUND,
                "canary after {} over {via} took {took:?}",
                c.name
            );
        }
    }
    let tcp = client.tcp(NAME, RecordType::A).await;
    assert!(allowed_a(&tcp), "TCP still answers");
    println!(
        "corpus: {} classes, {sent} packets, 0 crashes, slowest canary {slowest:?}",
        classes.len()
    );
    assert!(classes.len() >= 25);
    assert!(
        failures.is_empty(),
        "classes with the wrong outcome:\n{}",
        failures.join("\n")
    );
    ralo.stop().await;
}
