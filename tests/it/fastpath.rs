//! The UDP fast path against the general (hickory) path: for the same
//! query bytes both give byte-identical answers — blocked names in every
//! mode and type, cached answers of every kind — and the fast path takes
//! the queries it should take and leaves the rest.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use ralo::server::{Handler, fast_answer};

use crate::ralo::{Ralo, Setup};
use crate::support::client::{Client, QueryExt, query};
use crate::support::upstream::Upstream;

const CLIENT: SocketAddr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40_000);

/// Variants of one question: with and without EDNS, DO, CD, RD, a small
/// payload, and a cookie option.
fn variants(name: &str, qtype: RecordType) -> Vec<(String, Vec<u8>)> {
    let base = || query(name, qtype).with_id(0x4242);
    let mut cookie = base().to_vec().expect("encode");
    // Append an EDNS cookie option (code 10, 8 bytes) to the OPT record,
    // which is last: bump its RDLENGTH.
    let len = cookie.len();
    let rdlen = u16::from_be_bytes([cookie[len - 2], cookie[len - 1]]) + 12;
    cookie[len - 2..].copy_from_slice(&rdlen.to_be_bytes());
    cookie.extend_from_slice(&[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
    let messages: Vec<(&str, Message)> = vec![
        ("edns", base()),
        ("no-edns", base().without_edns()),
        ("do", base().with_dnssec_ok()),
        ("cd", base().with_cd()),
        ("no-rd", base().without_rd()),
        ("payload-512", base().with_payload(512)),
        ("payload-4096", base().with_payload(4096)),
    ];
    let mut out: Vec<(String, Vec<u8>)> = messages
        .into_iter()
        .map(|(label, m)| (label.to_owned(), m.to_vec().expect("encode")))
        .collect();
    out.push(("cookie".to_owned(), cookie));
    for (label, _) in &mut out {
        *label = format!("{name} {qtype} {label}");
    }
    out
}

/// Asserts both paths answer `bytes` alike; returns whether the fast path
/// answered. A cached TTL can tick between the two calls, so a mismatch is
/// asked again a few times before it counts.
async fn same_answer(ralo: &Ralo, handler: &Handler, label: &str, bytes: &[u8]) -> bool {
    let mut fast = Vec::new();
    for _ in 0..3 {
        let took = fast_answer(&ralo.resolver, bytes, CLIENT.ip(), &mut fast);
        let general = handler
            .answer_bytes(bytes, CLIENT, true)
            .await
            .unwrap_or_else(|| panic!("{label}: the general path answers"));
        if !took {
            return false;
        }
        if fast == general {
            return true;
        }
        eprintln!("{label}: fast {fast:02x?}\n   general {general:02x?}");
    }
    panic!("{label}: the fast path's answer differs from the general path's");
}

async fn blocked_names_in(mode: &str) {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("ads", "||ads.example.com^\n||t.co^\n", "")
        .start_with(&format!("[blocking]\nmode = \"{mode}\"\nttl = 17\n"))
        .await;
    let handler = Handler::new(ralo.resolver.clone());
    let mut taken = 0;
    let mut total = 0;
    for name in [
        "ads.example.com",
        "deep.sub.ads.example.com",
        "x.t.co",
        "Deep.ADS.example.com",
    ] {
        for qtype in [
            RecordType::A,
            RecordType::AAAA,
            RecordType::HTTPS,
            RecordType::MX,
            RecordType::TXT,
        ] {
            for (label, bytes) in variants(name, qtype) {
                total += 1;
                if same_answer(&ralo, &handler, &format!("{mode} {label}"), &bytes).await {
                    taken += 1;
                }
            }
        }
    }
    println!("blocked, mode {mode}: {taken} of {total} queries on the fast path, all identical");
    assert_eq!(
        taken, total,
        "every plain blocked query takes the fast path"
    );
    assert_eq!(up.queries(), 0);
    ralo.stop().await;
}

#[tokio::test]
async fn blocked_answers_are_identical_in_null_mode() {
    blocked_names_in("null").await;
}

#[tokio::test]
async fn blocked_answers_are_identical_in_nxdomain_mode() {
    blocked_names_in("nxdomain").await;
}

#[tokio::test]
async fn blocked_answers_are_identical_in_nodata_mode() {
    blocked_names_in("nodata").await;
}

#[tokio::test]
async fn blocked_answers_are_identical_in_refused_mode() {
    blocked_names_in("refused").await;
}

#[tokio::test]
async fn cached_answers_are_identical() {
    let up = Upstream::builder()
        .a("www.example.com", "192.0.2.1")
        .a("www.example.com", "192.0.2.2")
        .aaaa("www.example.com", "2001:db8::1")
        .cname("alias.example.com", "www.example.com")
        .mx("example.com", 10, "mail.example.com")
        .txt("example.com", "v=spf1 -all")
        .start()
        .await;
    let ralo = Setup::new(up.addr()).start().await;
    let client = Client::new(ralo.addr);
    let handler = Handler::new(ralo.resolver.clone());
    let questions = [
        ("www.example.com", RecordType::A),
        ("www.example.com", RecordType::AAAA),
        ("alias.example.com", RecordType::A),
        ("example.com", RecordType::MX),
        ("example.com", RecordType::TXT),
        ("missing.example.com", RecordType::A),
        ("www.example.com", RecordType::TXT),
    ];
    let (mut taken, mut total) = (0, 0);
    for (name, qtype) in questions {
        for (label, bytes) in variants(name, qtype) {
            // Prime the cache for exactly this question (DO and CD are
            // part of the key) through the real server.
            let message = Message::from_vec(&bytes).expect("decode");
            client
                .expect(&message, crate::support::client::Transport::Udp)
                .await;
            total += 1;
            if same_answer(&ralo, &handler, &label, &bytes).await {
                taken += 1;
            }
        }
    }
    println!("cached: {taken} of {total} queries on the fast path, all identical");
    assert_eq!(taken, total, "every plain cached query takes the fast path");
    ralo.stop().await;
}

#[tokio::test]
async fn unusual_queries_take_the_general_path() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("ads", "||ads.example.com^\n", "")
        .start()
        .await;
    let client = Client::new(ralo.addr);
    // Cache a name, then ask it in mixed case: compression could differ.
    client.udp("www.example.com", RecordType::A).await;
    let mixed = query("WWW.Example.com", RecordType::A).to_vec().unwrap();
    let any = query("ads.example.com", RecordType::ANY).to_vec().unwrap();
    let canary = query("use-application-dns.net", RecordType::A)
        .to_vec()
        .unwrap();
    let local = query("localhost", RecordType::A).to_vec().unwrap();
    let uncached = query("other.example.com", RecordType::A).to_vec().unwrap();
    let mut out = Vec::new();
    for (label, bytes) in [
        ("mixed case", mixed),
        ("ANY", any),
        ("canary", canary),
        ("localhost", local),
        ("not cached", uncached),
    ] {
        assert!(
            !fast_answer(&ralo.resolver, &bytes, CLIENT.ip(), &mut out),
            "{label} goes the general path"
        );
    }
    // Blocked, but from a client outside [access] allow: REFUSED, general path.
    let outsider: IpAddr = "203.0.113.9".parse().unwrap();
    let blocked = query("ads.example.com", RecordType::A).to_vec().unwrap();
    assert!(!fast_answer(&ralo.resolver, &blocked, outsider, &mut out));
    assert!(fast_answer(&ralo.resolver, &blocked, CLIENT.ip(), &mut out));
    ralo.stop().await;
}

#[tokio::test]
async fn blocking_switched_off_sends_blocked_names_upstream() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("ads", "||www.example.com^\n", "")
        .start()
        .await;
    let bytes = query("www.example.com", RecordType::A).to_vec().unwrap();
    let mut out = Vec::new();
    assert!(fast_answer(&ralo.resolver, &bytes, CLIENT.ip(), &mut out));
    ralo.resolver.set_blocking_disabled_until(u64::MAX);
    assert!(
        !fast_answer(&ralo.resolver, &bytes, CLIENT.ip(), &mut out),
        "not blocked and not cached: the general path forwards it"
    );
    Client::new(ralo.addr)
        .udp("www.example.com", RecordType::A)
        .await;
    assert_eq!(up.queries_for("www.example.com"), 1);
    ralo.stop().await;
}
