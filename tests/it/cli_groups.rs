//! `ralo check --client` and `ralo clients` against a real server with two
//! groups: what check describes for a client address is what the server
//! answers a query from that address, and the groups `ralo clients` shows
//! for the addresses in the query ring are the server's.

use std::net::{IpAddr, Ipv4Addr};

use hickory_proto::rr::RecordType;
use ralo::cli::clients::Seen;
use ralo::domain::Domain;
use ralo::telemetry::Cursor;
use ralo::vocab::Outcome;

use crate::ralo::{Ralo, Setup};
use crate::support::client::{Client, answers_a, loopback};
use crate::support::upstream::Upstream;

/// In the upstream's zone: A 192.0.2.66.
const TRACKER: &str = "ads.tracker.test";
/// In the upstream's zone: A 192.0.2.25.
const MX: &str = "mx.example.com";

/// `social` blocks the tracker for kids (127.0.0.2, the tablet), `mail`
/// blocks the mail host for tv (127.0.0.3 and the tablet).
async fn two_groups() -> (Upstream, Ralo) {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .telemetry()
        .list("social", &format!("{TRACKER}\n"), "groups = [\"kids\"]")
        .list("mail", &format!("{MX}\n"), "groups = [\"tv\"]")
        .toml(
            "[[clients]]\nname = \"kids-tablet\"\nids = [\"127.0.0.2\"]\n\
             [[groups]]\nname = \"kids\"\nclients = [\"kids-tablet\"]\n\
             [[groups]]\nname = \"tv\"\nclients = [\"127.0.0.3\", \"kids-tablet\"]\n",
        )
        .start()
        .await;
    (up, ralo)
}

#[tokio::test]
async fn check_for_a_client_agrees_with_what_the_server_answers_it() {
    let (_up, ralo) = two_groups().await;
    let client = Client::new(ralo.addr);
    for from in [1, 2, 3, 4] {
        for name in [TRACKER, MX] {
            let domain = Domain::parse(name).expect("a name");
            let said = ralo.check(&domain, loopback(from));
            let answer = client
                .udp_from(loopback(from), name, RecordType::A)
                .await
                .unwrap_or_else(|| panic!("no answer to {name} from 127.0.0.{from}"));
            let sinkholed = answers_a(&answer) == [Ipv4Addr::UNSPECIFIED];
            let served = ralo.last_outcome();
            assert_eq!(
                said.blocked_now, sinkholed,
                "{name} from 127.0.0.{from}: check said\n{}",
                said.text
            );
            assert_eq!(said.blocked_now, served == Outcome::Blocked);
        }
    }
    // And what it says: the tablet's groups and the other group's list.
    let domain = Domain::parse(MX).expect("a name");
    let said = ralo.check(&domain, loopback(2));
    assert!(said.blocked_now, "{}", said.text);
    assert!(
        said.text.contains("client 127.0.0.2: groups kids, tv\n"),
        "{}",
        said.text
    );
    assert!(
        said.text.contains("(client `kids-tablet`)"),
        "{}",
        said.text
    );
    let said = ralo.check(&domain, loopback(4));
    assert!(
        said.text
            .contains("  `mail` lists it, for group tv, not this client's groups\n"),
        "{}",
        said.text
    );
    ralo.stop().await;
}

#[tokio::test]
async fn clients_shows_the_servers_groups_for_the_addresses_it_saw() {
    let (_up, ralo) = two_groups().await;
    let client = Client::new(ralo.addr);
    for from in [1, 2, 2, 3] {
        client
            .udp_from(loopback(from), TRACKER, RecordType::A)
            .await
            .expect("an answer");
    }
    let events = ralo.events();
    let seen = Seen::from_events(&events, &ralo.config, Some(&ralo.resolver));
    let row = |from: u8| {
        seen.iter()
            .find(|s| s.address == loopback(from))
            .unwrap_or_else(|| panic!("127.0.0.{from} not seen: {seen:?}"))
    };
    assert_eq!(row(2).queries, 2);
    assert_eq!(row(2).blocked, 2);
    assert_eq!(row(2).groups, ["kids", "tv"]);
    assert_eq!(row(2).device.as_deref(), Some("kids-tablet"));
    assert_eq!(row(3).groups, ["tv"]);
    assert_eq!(row(3).blocked, 0);
    assert_eq!(row(1).groups, ["default"]);
    assert_eq!(row(1).device, None);
    ralo.stop().await;
}

#[tokio::test]
async fn the_ring_and_the_counters_record_each_clients_groups() {
    let (_up, ralo) = two_groups().await;
    let client = Client::new(ralo.addr);
    for from in [1, 2, 3, 3] {
        client
            .udp_from(loopback(from), TRACKER, RecordType::A)
            .await
            .expect("an answer");
    }
    let telemetry = ralo.handler.telemetry().expect("telemetry");
    let view = telemetry.view();
    let names = view.group_names();
    assert_eq!(names, ["default", "kids", "tv"]);
    let mut events = Vec::new();
    view.ring()
        .read(&mut Cursor::at(0), usize::MAX, &mut events);
    let groups: Vec<(IpAddr, Vec<&str>)> = events
        .iter()
        .map(|e| (e.client, e.group_names(&names)))
        .collect();
    assert_eq!(
        groups,
        [
            (loopback(1), vec!["default"]),
            (loopback(2), vec!["kids", "tv"]),
            (loopback(3), vec!["tv"]),
            (loopback(3), vec!["tv"]),
        ]
    );
    let counts: Vec<(String, u64, u64)> = view
        .counters()
        .groups
        .into_iter()
        .map(|g| (g.name, g.queries, g.blocked))
        .collect();
    // The tracker is blocked for kids only: the tablet's one query.
    assert_eq!(
        counts,
        [
            ("default".to_owned(), 1, 0),
            ("kids".to_owned(), 1, 1),
            ("tv".to_owned(), 3, 1),
        ]
    );
    ralo.stop().await;
}
