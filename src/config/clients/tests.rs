//! The sections of clients and groups as a config file gives them, and
//! what [`Config`] resolves from them.

use std::path::PathBuf;

use super::ClientEntry;
use crate::config::file::{parse_test as parse, refused_key};
use crate::config::{Config, Error};
use crate::groups::{ClientId, Weekday};

/// The example of `config/ralo.toml`, every key given.
const EXAMPLE: &str = r#"
[[clients]]
name = "kids-tablet"
ids = ["192.168.1.50", "192.168.1.64/28", "aa:bb:cc:dd:ee:ff", "fd00::50", "tablet.lan"]

[[groups]]
name = "kids"
clients = ["kids-tablet", "192.168.1.70"]
comment = "bedtime for the kids' devices"

[[lists]]
name = "social"
url = "https://lists.example/social.txt"
groups = ["kids"]
schedule = ["mon-fri 21:00-07:00", "sat,sun 22:00-08:00"]

[[allowlists]]
name = "school"
url = "https://lists.example/school.txt"
groups = ["kids"]

[client_lookup]
leases = "/var/lib/misc/dnsmasq.leases"
trusted_forwarders = ["192.168.1.1"]
refresh_secs = 30
"#;

fn id(text: &str) -> ClientId {
    text.parse().unwrap()
}

/// The message `text` is refused with, which must name `key`.
fn refusal(text: &str, key: &str) -> String {
    assert_eq!(refused_key(text), key, "{text}");
    parse(text).unwrap_err().to_string()
}

#[test]
fn the_full_example_parses() {
    let c = parse(EXAMPLE).unwrap();
    assert_eq!(c.clients.len(), 1);
    assert_eq!(c.clients[0].ids.len(), 5);
    assert_eq!(c.clients[0].ids[4], id("tablet.lan"));
    assert_eq!(c.groups[0].clients, ["kids-tablet", "192.168.1.70"]);
    assert_eq!(c.group_names(), ["default", "kids"]);
    let social = &c.lists[0];
    assert_eq!(social.groups, ["kids"]);
    assert_eq!(social.schedule.windows().len(), 2);
    assert!(social.schedule.is_active(Weekday::Tue, 22 * 60));
    assert!(!social.schedule.is_active(Weekday::Tue, 12 * 60));
    assert_eq!(c.allowlists[0].groups, ["kids"]);
    assert!(c.allowlists[0].schedule.is_always());
    let lookup = &c.client_lookup;
    assert_eq!(
        lookup.leases,
        Some(PathBuf::from("/var/lib/misc/dnsmasq.leases"))
    );
    assert_eq!(
        lookup.trusted_forwarders,
        ["192.168.1.1/32".parse().unwrap()]
    );
    assert_eq!(lookup.refresh_secs, 30);
}

#[test]
fn without_the_sections_there_is_only_the_default_group() {
    let c = parse("").unwrap();
    assert!(c.clients.is_empty() && c.groups.is_empty());
    assert_eq!(c.group_names(), ["default"]);
    assert!(c.client_ids().is_empty());
    let lookup = &c.client_lookup;
    assert_eq!(lookup.leases, None);
    assert!(lookup.trusted_forwarders.is_empty());
    assert_eq!(lookup.refresh_secs, 30);
}

#[test]
fn a_list_without_groups_applies_to_default_only() {
    let c = parse(
        "[[groups]]\nname = \"kids\"\n\
             [[lists]]\nname = \"ads\"\npath = \"ads.txt\"\n\
             [[lists]]\nname = \"both\"\npath = \"b.txt\"\ngroups = [\"kids\", \"default\"]\n",
    )
    .unwrap();
    assert_eq!(c.lists[0].groups, ["default"]);
    assert!(c.lists[0].schedule.is_always());
    assert_eq!(c.list_groups(&c.lists[0]), 0b01);
    assert_eq!(c.list_groups(&c.lists[1]), 0b11);
}

#[test]
fn household_lists_apply_to_every_group() {
    let c = parse(
        "[[groups]]\nname = \"kids\"\n[[groups]]\nname = \"guests\"\n\
             [[lists]]\nname = \"mine\"\npath = \"mine.txt\"\nhousehold = true\n",
    )
    .unwrap();
    assert_eq!(c.list_groups(&c.lists[0]), 0b111);
    // The implicit household allowlist, too.
    assert!(c.allowlists[0].household);
    assert_eq!(c.list_groups(&c.allowlists[0]), 0b111);

    let alone = parse("").unwrap();
    assert_eq!(alone.list_groups(&alone.lists[0]), 0b1);

    let mut text = String::new();
    for i in 0..63 {
        text.push_str(&format!("[[groups]]\nname = \"g{i}\"\n"));
    }
    let full = parse(&text).unwrap();
    assert_eq!(full.list_groups(&full.lists[0]), u64::MAX);
}

#[test]
fn a_client_in_two_groups_gets_both_and_a_bare_id_its_groups() {
    let c = parse(
        "[[clients]]\nname = \"tablet\"\nids = [\"192.168.1.50\", \"aa:bb:cc:dd:ee:ff\"]\n\
             [[clients]]\nname = \"tv\"\nids = [\"tv.lan\"]\n\
             [[groups]]\nname = \"kids\"\nclients = [\"tablet\", \"192.168.1.70\"]\n\
             [[groups]]\nname = \"evening\"\nclients = [\"tablet\"]\n",
    )
    .unwrap();
    let entry = |text: &str, groups: u64, client: Option<&str>| ClientEntry {
        id: id(text),
        groups,
        client: client.map(str::to_owned),
    };
    assert_eq!(
        c.client_ids(),
        [
            entry("192.168.1.50", 0b110, Some("tablet")),
            entry("aa:bb:cc:dd:ee:ff", 0b110, Some("tablet")),
            entry("tv.lan", 0b001, Some("tv")),
            entry("192.168.1.70", 0b010, None),
        ]
    );
}

#[test]
fn an_id_given_twice_is_one_entry_in_the_groups_of_both() {
    let c = parse(
        "[[clients]]\nname = \"tablet\"\nids = [\"192.168.1.50\", \"tablet.lan\"]\n\
             [[clients]]\nname = \"old-tablet\"\nids = [\"Tablet.lan\"]\n\
             [[groups]]\nname = \"kids\"\nclients = [\"tablet\"]\n\
             [[groups]]\nname = \"guests\"\nclients = [\"old-tablet\", \"192.168.1.50\"]\n",
    )
    .unwrap();
    let ids = c.client_ids();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_eq!(ids[0].id, id("192.168.1.50"));
    assert_eq!(ids[0].groups, 0b110);
    assert_eq!(ids[0].client.as_deref(), Some("tablet"));
    assert_eq!(ids[1].id, id("tablet.lan"));
    assert_eq!(ids[1].groups, 0b110);
    assert_eq!(ids[1].client.as_deref(), Some("tablet"));
}

#[test]
fn an_id_of_an_ungrouped_client_that_a_group_names_is_in_both() {
    let c = parse(
        "[[clients]]\nname = \"laptop\"\nids = [\"192.168.1.20\", \"192.168.1.21\"]\n\
             [[groups]]\nname = \"work\"\nclients = [\"192.168.1.21\"]\n",
    )
    .unwrap();
    let masks: Vec<u64> = c.client_ids().iter().map(|e| e.groups).collect();
    assert_eq!(masks, [0b01, 0b11]);
}

#[test]
fn a_group_member_that_is_a_client_name_means_the_client() {
    // `tablet.lan` would also be a host-name id; the client wins.
    let c = parse(
        "[[clients]]\nname = \"tablet.lan\"\nids = [\"192.168.1.50\"]\n\
             [[groups]]\nname = \"kids\"\nclients = [\"tablet.lan\"]\n",
    )
    .unwrap();
    let ids = c.client_ids();
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].id, id("192.168.1.50"));
    assert_eq!(ids[0].groups, 0b10);
}

#[test]
fn client_checks_name_the_key_and_the_value() {
    let long = "x".repeat(65);
    let err = refusal(
        &format!("[[clients]]\nname = \"{long}\"\nids = [\"10.0.0.1\"]\n"),
        "clients.name",
    );
    assert!(err.contains(&long), "{err}");
    let err = refusal("[[clients]]\nname = \"tv\"\nids = []\n", "clients.ids");
    assert!(err.contains("`tv` has no ids"), "{err}");
    let err = refusal(
        "[[clients]]\nname = \"tv\"\nids = [\"10.0.0.1\"]\n\
             [[clients]]\nname = \"tv\"\nids = [\"10.0.0.2\"]\n",
        "clients.name",
    );
    assert!(err.contains("`tv` is used twice"), "{err}");
    let err = parse("[[clients]]\nname = \"tv\"\nids = [\"10.0.0.300\"]\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("ids") && err.contains("`10.0.0.300`"), "{err}");
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn group_checks_name_the_key_and_the_value() {
    let err = refusal("[[groups]]\nname = \"default\"\n", "groups.name");
    assert!(
        err.contains("`default`") && err.contains("implicit"),
        "{err}"
    );
    let err = refusal("[[groups]]\nname = \"\"\n", "groups.name");
    assert!(err.contains("1 to 64 characters"), "{err}");
    let err = refusal(
        "[[groups]]\nname = \"kids\"\n[[groups]]\nname = \"kids\"\n",
        "groups.name",
    );
    assert!(err.contains("`kids` is used twice"), "{err}");
    let err = refusal(
        "[[groups]]\nname = \"kids\"\nclients = [\"192.168.1.300\"]\n",
        "groups.clients",
    );
    assert!(
        err.contains("group `kids`") && err.contains("`192.168.1.300`"),
        "{err}"
    );

    let mut text = String::new();
    for i in 0..64 {
        text.push_str(&format!("[[groups]]\nname = \"g{i}\"\n"));
    }
    let err = refusal(&text, "groups");
    assert!(err.contains("64 groups: at most 63"), "{err}");
}

#[test]
fn a_list_naming_an_unknown_group_is_refused_with_the_known_ones() {
    let err = refusal(
        "[[groups]]\nname = \"kids\"\n\
             [[allowlists]]\nname = \"school\"\npath = \"s.txt\"\ngroups = [\"kidz\"]\n",
        "allowlists.groups",
    );
    assert!(
        err.contains("list `school` names the group `kidz`") && err.contains("`default`, `kids`"),
        "{err}"
    );
    let err = refusal(
        "[[lists]]\nname = \"ads\"\npath = \"a.txt\"\ngroups = []\n",
        "lists.groups",
    );
    assert!(err.contains("`ads` applies to no group"), "{err}");
    let err = refusal(
        "[[groups]]\nname = \"kids\"\n\
             [[lists]]\nname = \"mine\"\npath = \"m.txt\"\nhousehold = true\ngroups = [\"kids\"]\n",
        "lists.groups",
    );
    assert!(err.contains("`mine` is the household's own"), "{err}");
}

#[test]
fn a_misspelt_schedule_day_is_refused_naming_it_and_its_line() {
    let text = "[[lists]]\nname = \"social\"\npath = \"s.txt\"\n\
                    schedule = [\"mon-fry 21:00-07:00\"]\n";
    let Err(Error::Syntax { message, .. }) = parse(text) else {
        panic!("accepted or refused by a check: {:?}", parse(text));
    };
    assert!(
        message.contains("unknown day `fry`") && message.contains("mon-fry 21:00-07:00"),
        "{message}"
    );
    assert!(message.contains("line 4"), "{message}");
}

#[test]
fn client_lookup_reads_bare_addresses_and_checks_its_values() {
    let c = parse(
            "[client_lookup]\nleases = \"leases\"\n\
             trusted_forwarders = [\"192.168.1.1\", \"fd00::1\", \"10.0.0.0/30\", \"::ffff:10.1.1.1\"]\n",
        )
        .unwrap();
    let nets: Vec<String> = c
        .client_lookup
        .trusted_forwarders
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        nets,
        [
            "192.168.1.1/32",
            "fd00::1/128",
            "10.0.0.0/30",
            "10.1.1.1/32"
        ]
    );
    assert_eq!(
        c.client_lookup.leases,
        Some(PathBuf::from("/etc/ralo/leases"))
    );

    let err = parse("[client_lookup]\ntrusted_forwarders = [\"router.lan\"]\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("trusted_forwarders") && err.contains("`router.lan` is not an address"),
        "{err}"
    );
    for secs in [4, 3601] {
        let err = refusal(
            &format!("[client_lookup]\nrefresh_secs = {secs}\n"),
            "client_lookup.refresh_secs",
        );
        assert!(
            err.contains(&format!("{secs} is out of range 5..=3600")),
            "{err}"
        );
    }
    let err = refusal("[client_lookup]\nleases = \"\"\n", "client_lookup.leases");
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn the_embedded_defaults_have_no_groups() {
    let c = Config::embedded().unwrap();
    assert_eq!(c.group_names(), ["default"]);
    assert!(c.client_ids().is_empty());
    assert!(c.lists.iter().all(|l| c.list_groups(l) == 1));
}

#[test]
fn the_client_at_an_address_is_the_one_with_the_most_specific_range() {
    let c = parse(
        "[[clients]]\nname = \"kids-room\"\nids = [\"192.168.1.64/28\"]\n\
             [[clients]]\nname = \"tablet\"\nids = [\"tv.lan\", \"192.168.1.70\"]\n",
    )
    .unwrap();
    let at = |addr: &str| c.client_at(addr.parse().unwrap()).map(|c| c.name.as_str());
    assert_eq!(at("192.168.1.70"), Some("tablet"));
    assert_eq!(at("::ffff:192.168.1.65"), Some("kids-room"));
    assert_eq!(at("192.168.1.1"), None);
}
