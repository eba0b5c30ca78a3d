//! Devices and groups over real sockets: queries sent from different
//! loopback addresses (127.0.0.2, 127.0.0.3, … are all this machine) get
//! the lists of their groups; schedules follow a clock the test sets; a
//! trusted forwarder's EDNS Client Subnet and add-mac options name the
//! client, an untrusted one's do not.

use std::net::IpAddr;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};

use crate::ralo::Setup;
use crate::support::client::{Client, loopback, query, sinkholed};
use crate::support::upstream::Upstream;

/// In the upstream's zone: A 192.0.2.66.
const TRACKER: &str = "ads.tracker.test";
/// In the upstream's zone: A 192.0.2.25.
const MX: &str = "mx.example.com";

#[tokio::test]
async fn a_list_for_one_group_blocks_for_its_clients_only() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("social", &format!("{TRACKER}\n"), "groups = [\"kids\"]")
        .toml(
            "[[clients]]\nname = \"kids-tablet\"\nids = [\"127.0.0.2\"]\n\
             [[groups]]\nname = \"kids\"\nclients = [\"kids-tablet\"]\n",
        )
        .start()
        .await;
    assert!(ralo.blocked_for(2, TRACKER).await, "the kids' tablet");
    assert!(!ralo.blocked_for(1, TRACKER).await, "a client in default");
    // Both answers may come from the cache now; each client still gets its own.
    assert!(ralo.blocked_for(2, TRACKER).await);
    assert!(!ralo.blocked_for(1, TRACKER).await);
    ralo.stop().await;
}

#[tokio::test]
async fn a_client_in_two_groups_gets_the_lists_of_both() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list("social", &format!("{TRACKER}\n"), "groups = [\"kids\"]")
        .list("mail", &format!("{MX}\n"), "groups = [\"tv\"]")
        .toml(
            "[[groups]]\nname = \"kids\"\nclients = [\"127.0.0.2\", \"127.0.0.3\"]\n\
             [[groups]]\nname = \"tv\"\nclients = [\"127.0.0.3/32\"]\n",
        )
        .start()
        .await;
    assert!(ralo.blocked_for(3, TRACKER).await && ralo.blocked_for(3, MX).await);
    assert!(ralo.blocked_for(2, TRACKER).await && !ralo.blocked_for(2, MX).await);
    assert!(!ralo.blocked_for(1, TRACKER).await && !ralo.blocked_for(1, MX).await);
    ralo.stop().await;
}

#[tokio::test]
async fn an_allowlist_for_one_group_lets_only_its_clients_through() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list(
            "ads",
            "||tracker.test^\n",
            "groups = [\"default\", \"kids\"]",
        )
        .file("kids-allow.txt", &format!("{TRACKER}\n"))
        .toml(
            "[[allowlists]]\nname = \"kids-allow\"\npath = \"kids-allow.txt\"\ngroups = [\"kids\"]\n\
             [[groups]]\nname = \"kids\"\nclients = [\"127.0.0.0/30\"]\n",
        )
        .start()
        .await;
    assert!(!ralo.blocked_for(2, TRACKER).await, "allowed for kids");
    assert!(
        ralo.blocked_for(5, TRACKER).await,
        "still blocked for default"
    );
    ralo.stop().await;
}

/// `weekday` (0 Monday) at `hour:minute`, local time, in the week of
/// 2026-12-07.
fn local(weekday: i8, hour: i8, minute: i8) -> jiff::Timestamp {
    let zone = jiff::tz::TimeZone::system();
    jiff::civil::date(2026, 12, 7 + weekday)
        .at(hour, minute, 0, 0)
        .to_zoned_datetime(zone)
        .expect("a local time that exists")
        .timestamp()
}

#[tokio::test]
async fn a_schedule_blocks_inside_its_windows_only_even_across_midnight() {
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list(
            "nights",
            &format!("{TRACKER}\n"),
            "schedule = [\"wed 11:00-13:00\", \"sun 23:00-01:00\"]",
        )
        .start()
        .await;
    for (when, blocked) in [
        (local(2, 12, 0), true),
        (local(2, 13, 30), false),
        (local(6, 23, 30), true),
        // Sunday's window runs into Monday.
        (local(0, 0, 30), true),
        (local(0, 1, 30), false),
        (local(1, 0, 30), false),
    ] {
        ralo.resolver.refresh_policy(when);
        assert_eq!(
            ralo.blocked_for(1, TRACKER).await,
            blocked,
            "at {when} (local {})",
            when.to_zoned_datetime(jiff::tz::TimeZone::system())
        );
    }
    ralo.stop().await;
}

/// A query for `name` with a client subnet and, if given, an add-mac option.
fn forwarded(name: &str, subnet: Option<IpAddr>, mac: Option<[u8; 6]>) -> Message {
    let mut message = query(name, RecordType::A);
    let edns = message.edns.as_mut().expect("query() adds EDNS");
    if let Some(subnet) = subnet {
        edns.options_mut()
            .insert(EdnsOption::Subnet(ClientSubnet::new(subnet, 32, 0)));
    }
    if let Some(mac) = mac {
        edns.options_mut()
            .insert(EdnsOption::Unknown(65001, mac.to_vec()));
    }
    message
}

#[tokio::test]
async fn a_trusted_forwarder_names_the_client_and_an_untrusted_one_does_not() {
    let up = Upstream::standard().await;
    let tv_mac = [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
    let ralo = Setup::new(up.addr())
        .list("social", &format!("{TRACKER}\n"), "groups = [\"kids\"]")
        .list("tv-strict", &format!("{MX}\n"), "groups = [\"tv\"]")
        .toml(
            "[[clients]]\nname = \"tablet\"\nids = [\"192.168.1.50\"]\n\
             [[clients]]\nname = \"tv\"\nids = [\"aa:bb:cc:dd:ee:ff\"]\n\
             [[groups]]\nname = \"kids\"\nclients = [\"tablet\"]\n\
             [[groups]]\nname = \"tv\"\nclients = [\"tv\"]\n\
             [client_lookup]\ntrusted_forwarders = [\"127.0.0.9\"]\n",
        )
        .start()
        .await;
    let client = Client::new(ralo.addr);
    let tablet = Some("192.168.1.50".parse().unwrap());
    let ask = |from: u8, message: Message| {
        let client = &client;
        async move {
            client
                .send_from(loopback(from), &message)
                .await
                .expect("an answer")
        }
    };
    // Client Subnet (read through hickory: the fast path leaves it to it).
    let answer = ask(9, forwarded(TRACKER, tablet, None)).await;
    assert!(
        sinkholed(&answer, TRACKER),
        "the router asks for the tablet"
    );
    let answer = ask(8, forwarded(TRACKER, tablet, None)).await;
    assert!(
        !sinkholed(&answer, TRACKER),
        "an untrusted sender's subnet is ignored"
    );
    // add-mac alone (read on the fast path).
    let answer = ask(9, forwarded(MX, None, Some(tv_mac))).await;
    assert!(sinkholed(&answer, MX), "the router asks for the TV");
    let answer = ask(8, forwarded(MX, None, Some(tv_mac))).await;
    assert!(
        !sinkholed(&answer, MX),
        "an untrusted sender's MAC is ignored"
    );
    // The router's own questions are its own.
    assert!(!ralo.blocked_for(9, TRACKER).await);
    ralo.stop().await;
}

#[tokio::test]
async fn a_paused_group_gets_no_blocking_while_the_others_keep_theirs() {
    use ralo::control::{Reply, Request};
    let up = Upstream::standard().await;
    let ralo = Setup::new(up.addr())
        .list(
            "ads",
            &format!("{TRACKER}\n"),
            "groups = [\"default\", \"kids\"]",
        )
        .toml("[[groups]]\nname = \"kids\"\nclients = [\"127.0.0.2\"]\n")
        .start()
        .await;
    let pause = |group: &str, until: u64| {
        ralo::intake::handle(
            &ralo.resolver,
            None,
            Request::PauseGroup {
                group: group.to_owned(),
                disabled_until_ms: until,
            },
        )
    };
    assert!(ralo.blocked_for(2, TRACKER).await);
    assert!(matches!(pause("kids", u64::MAX), Reply::State { .. }));
    assert!(!ralo.blocked_for(2, TRACKER).await, "kids paused");
    assert!(ralo.blocked_for(1, TRACKER).await, "default still blocked");
    let Reply::Refused { reason, .. } = pause("teens", u64::MAX) else {
        panic!("an unknown group is refused");
    };
    assert!(reason.contains("teens"), "{reason}");
    assert!(matches!(pause("kids", 0), Reply::State { .. }));
    assert!(ralo.blocked_for(2, TRACKER).await, "kids on again");
    // A pause whose end has passed is over (the policy's unit tests check
    // that a running pause ends by itself).
    assert!(matches!(pause("kids", 1), Reply::State { .. }));
    assert!(ralo.blocked_for(2, TRACKER).await, "a pause in the past");
    ralo.stop().await;
}
