//! Forwarding over encrypted upstreams: answers over DNS over TLS and DNS
//! over HTTPS from hickory-server's listeners, a certificate for another
//! name refused and the next (plain) upstream asked, a DoT connection
//! killed with a question on it replaced without losing the question, a
//! DoH host found through the bootstrap resolvers (and never through ralo
//! itself), and many questions sharing one connection. Each upstream
//! trusts a throw-away CA that ralo is given as `tls_ca_file`.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::ralo::Setup;
use crate::support::client::{Client, answers_a};
use crate::support::dot_front::DotFront;
use crate::support::pki::TestCa;
use crate::support::upstream::Upstream;

/// Config lines inside `[upstream]` that trust `ca` (written as `ca.pem`
/// beside the config).
const TRUST: &str = "tls_ca_file = \"ca.pem\"\n";

/// The standard zone, also over TLS and HTTPS with a certificate for
/// `names`.
async fn encrypted_upstream(ca: &TestCa, names: &[&str]) -> Upstream {
    Upstream::standard_builder()
        .tls(ca.server(names, &[b"dot"]))
        .https(ca.server(names, &[b"h2"]))
        .start()
        .await
}

#[tokio::test]
async fn answers_come_over_dns_over_tls() {
    let ca = TestCa::new();
    let up = encrypted_upstream(&ca, &["dns.test"]).await;
    let server = format!("tls://{}#dns.test", up.tls_addr());
    let ralo = Setup::new(up.addr())
        .servers(&[&server])
        .file("ca.pem", ca.pem())
        .start_with(TRUST)
        .await;
    let client = Client::new(ralo.addr);
    let msg = client.udp("allowed.example.com", RecordType::A).await;
    assert_eq!(answers_a(&msg), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    let nx = client.udp("missing.example.com", RecordType::A).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(up.tls_queries(), 2, "both asked over TLS");
    assert_eq!(
        up.udp_queries() + up.tcp_queries(),
        0,
        "nothing in the clear"
    );
    ralo.stop().await;
}

#[tokio::test]
async fn answers_come_over_dns_over_https() {
    let ca = TestCa::new();
    let up = encrypted_upstream(&ca, &["doh.test"]).await;
    let server = format!(
        "https://doh.test:{}/dns-query#127.0.0.1",
        up.https_addr().port()
    );
    let ralo = Setup::new(up.addr())
        .servers(&[&server])
        .file("ca.pem", ca.pem())
        .start_with(TRUST)
        .await;
    let client = Client::new(ralo.addr);
    let msg = client.udp("allowed.example.com", RecordType::A).await;
    assert_eq!(answers_a(&msg), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    let aaaa = client.tcp("allowed.example.com", RecordType::AAAA).await;
    assert_eq!(aaaa.answers.len(), 1);
    assert_eq!(up.https_queries(), 2, "both asked over HTTPS");
    assert_eq!(
        up.udp_queries() + up.tcp_queries(),
        0,
        "nothing in the clear"
    );
    ralo.stop().await;
}

#[tokio::test]
async fn certificate_for_another_name_is_refused_and_the_next_upstream_answers() {
    let ca = TestCa::new();
    let impostor = encrypted_upstream(&ca, &["other.test"]).await;
    let plain = Upstream::standard().await;
    let dot = format!("tls://{}#dns.test", impostor.tls_addr());
    let doh = format!(
        "https://dns.test:{}/dns-query#127.0.0.1",
        impostor.https_addr().port()
    );
    for first in [dot, doh] {
        plain.reset_counts();
        let ralo = Setup::new(plain.addr())
            .servers(&[&first, &plain.addr().to_string()])
            .file("ca.pem", ca.pem())
            .start_with(TRUST)
            .await;
        let msg = Client::new(ralo.addr)
            .udp("allowed.example.com", RecordType::A)
            .await;
        assert_eq!(
            answers_a(&msg),
            vec![Ipv4Addr::new(192, 0, 2, 1)],
            "{first}"
        );
        assert_eq!(plain.queries(), 1, "the plain upstream answered: {first}");
        ralo.stop().await;
    }
    assert_eq!(
        impostor.queries(),
        0,
        "no question is sent to a server whose certificate is for another name"
    );
}

#[tokio::test]
async fn dot_connection_killed_with_a_question_on_it_loses_no_question() {
    let ca = TestCa::new();
    let up = Upstream::standard().await;
    let front = DotFront::start(ca.server(&["dns.test"], &[]), up.addr()).await;
    let server = format!("tls://{}#dns.test", front.addr());
    let ralo = Setup::new(up.addr())
        .servers(&[&server])
        .file("ca.pem", ca.pem())
        .start_with(TRUST)
        .await;
    let client = Client::new(ralo.addr);
    let warm = client.udp("short.example.com", RecordType::A).await;
    assert_eq!(warm.answers.len(), 1);
    assert_eq!(front.connections(), 1);

    // The open, used connection dies with the next question on it.
    front.kill_next(1);
    let msg = client.udp("allowed.example.com", RecordType::A).await;
    assert_eq!(
        answers_a(&msg),
        vec![Ipv4Addr::new(192, 0, 2, 1)],
        "the question was not lost"
    );
    assert_eq!(
        front.queries(),
        3,
        "asked on the killed connection, then again"
    );
    assert_eq!(front.connections(), 2, "the killed connection was replaced");
    assert_eq!(up.queries_for("allowed.example.com"), 1, "answered once");

    // A new connection killed with its first question: the same.
    front.kill_next(1);
    let mx = client.udp("mail.example.com", RecordType::MX).await;
    assert_eq!(mx.answers.len(), 1, "the question was not lost");
    assert_eq!(front.connections(), 3);
    ralo.stop().await;
}

#[tokio::test]
async fn doh_host_by_name_is_found_through_bootstrap_never_through_ralo() {
    let ca = TestCa::new();
    let up = encrypted_upstream(&ca, &["doh.test"]).await;
    let bootstrap = Upstream::builder().a("doh.test", "127.0.0.1").start().await;
    let server = format!("https://doh.test:{}/dns-query", up.https_addr().port());
    let ralo = Setup::new(up.addr())
        .servers(&[&server])
        .file("ca.pem", ca.pem())
        .telemetry()
        .start_with(&format!("{TRUST}bootstrap = [\"{}\"]\n", bootstrap.addr()))
        .await;
    let client = Client::new(ralo.addr);
    for name in ["allowed.example.com", "alias.example.com"] {
        let msg = client.udp(name, RecordType::A).await;
        assert_eq!(answers_a(&msg), vec![Ipv4Addr::new(192, 0, 2, 1)], "{name}");
    }
    assert_eq!(up.https_queries(), 2);
    assert_eq!(
        bootstrap.queries_for("doh.test"),
        1,
        "the bootstrap resolver was asked once; its answer is kept"
    );
    let counters = ralo.counters();
    assert_eq!(
        counters.protocols.iter().sum::<u64>(),
        2,
        "ralo answered only the client's two questions: it never asked itself"
    );
    assert_eq!(
        counters.upstreams[0].addr,
        SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), up.https_addr().port()),
        "a DoH upstream by name is counted under 0.0.0.0 and its port"
    );
    ralo.stop().await;
}

#[tokio::test]
async fn many_questions_share_one_dot_connection() {
    let ca = TestCa::new();
    let up = Upstream::standard().await;
    let front = DotFront::start(ca.server(&["dns.test"], &[]), up.addr()).await;
    let server = format!("tls://{}#dns.test", front.addr());
    let ralo = Setup::new(up.addr())
        .servers(&[&server])
        .file("ca.pem", ca.pem())
        .start_with(TRUST)
        .await;
    let client = Client::new(ralo.addr).with_timeout(Duration::from_secs(5));
    // One first, so the rest find the connection open.
    client.udp("allowed.example.com", RecordType::A).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..60 {
        tasks.spawn(async move {
            client
                .udp(&format!("n{i}.example.com"), RecordType::A)
                .await
        });
    }
    while let Some(result) = tasks.join_next().await {
        let msg = result.expect("task");
        assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
    }
    assert_eq!(front.queries(), 61);
    assert_eq!(
        front.connections(),
        1,
        "one connection carried every question"
    );
    ralo.stop().await;
}
