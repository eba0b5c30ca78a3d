//! The edits against ralo's own parser and the shipped config.
use std::path::PathBuf;

use super::{Entry, Error, Kind, add, entries, remove, save, set_comment, set_enabled};
use crate::config::Config;

const RALO_TOML: &str = include_str!("../../../config/ralo.toml");

fn load(text: &str) -> Config {
    Config::parse(text, "edited.toml", PathBuf::from("/etc/ralo")).expect("edited config loads")
}

fn add_on(text: &str, kind: Kind, address: &str) -> String {
    add(text, kind, address, None, None, true).unwrap()
}

#[test]
fn shipped_config_lists_its_three_entries() {
    let all = entries(RALO_TOML).unwrap();
    let summary: Vec<(Kind, &str, &str, bool, usize)> = all
        .iter()
        .map(|e| {
            (
                e.kind,
                e.name.as_str(),
                e.address.as_str(),
                e.household,
                e.index,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (Kind::Block, "default", "blocklists/default.hosts", false, 0),
            (
                Kind::Block,
                "household-block",
                "blocklists/block.txt",
                true,
                1
            ),
            (
                Kind::Allow,
                "household-allow",
                "blocklists/allow.txt",
                true,
                0
            ),
        ]
    );
    assert!(all.iter().all(|e| e.enabled && e.comment.is_none()));
}

#[test]
fn added_blocklist_goes_after_the_last_one_and_nothing_else_changes() {
    let edited = add_on(RALO_TOML, Kind::Block, "https://lists.example/ads.txt");
    let (before, after) = RALO_TOML.split_at(RALO_TOML.find("\n# Allowlists").unwrap());
    let expected = format!(
        "{before}\n[[lists]]\nname = \"lists.example-ads\"\n\
         url = \"https://lists.example/ads.txt\"\n{after}"
    );
    assert_eq!(edited, expected);
    let config = load(&edited);
    let last = config.lists.last().unwrap();
    assert_eq!(last.url.as_deref(), Some("https://lists.example/ads.txt"));
    assert_eq!(last.name, "lists.example-ads");
    assert!(last.enabled && !last.allow_http && last.comment.is_none());
}

#[test]
fn added_allowlist_goes_at_the_end_after_the_household_one() {
    let edited = add(
        RALO_TOML,
        Kind::Allow,
        "lists/work.txt",
        Some("work"),
        Some("  the office's names  "),
        false,
    )
    .unwrap();
    let household = "# `ralo allow` / `ralo unallow` edit this file.\nhousehold = true\n";
    let split = RALO_TOML.find(household).unwrap() + household.len();
    let (before, after) = RALO_TOML.split_at(split);
    let expected = format!(
        "{before}\n[[allowlists]]\nname = \"work\"\npath = \"lists/work.txt\"\n\
         enabled = false\ncomment = \"the office's names\"\n{after}"
    );
    assert_eq!(edited, expected);
    let last = load(&edited).allowlists.pop().unwrap();
    assert_eq!(last.path, Some(PathBuf::from("lists/work.txt")));
    assert_eq!(last.comment.as_deref(), Some("the office's names"));
    assert!(!last.enabled);
}

#[test]
fn removing_an_added_list_gives_back_the_original_text() {
    for kind in [Kind::Block, Kind::Allow] {
        let edited = add_on(RALO_TOML, kind, "https://lists.example/ads.txt");
        let back = remove(&edited, kind, "https://lists.example/ads.txt").unwrap();
        assert_eq!(back, RALO_TOML, "{kind}");
    }
}

#[test]
fn removing_the_first_list_keeps_the_section_comment() {
    let edited = remove(RALO_TOML, Kind::Block, "blocklists/default.hosts").unwrap();
    let intro = "# entries also block subdomains; adblock `||x^` and `*.x` always do).\n";
    assert!(
        edited.contains(&format!("{intro}[[lists]]\nname = \"household-block\"\n")),
        "{edited}"
    );
    assert!(edited.starts_with(&RALO_TOML[..RALO_TOML.find("[[lists]]").unwrap()]));
    let config = load(&edited);
    assert_eq!(config.lists.len(), 1);
    assert_eq!(config.lists[0].name, "household-block");
    assert_eq!(config.allowlists.len(), 1);
}

#[test]
fn removing_a_later_list_takes_its_own_comment_and_leaves_the_others() {
    let text = "[[lists]]\nname = \"a\"\npath = \"a\"\n# subdomains = true\n\n\
                # the b list\n[[lists]]\nname = \"b\"\npath = \"b\"\n\n\
                [[lists]]\nname = \"c\"\npath = \"c\"\n";
    let edited = remove(text, Kind::Block, "b").unwrap();
    assert_eq!(
        edited,
        "[[lists]]\nname = \"a\"\npath = \"a\"\n# subdomains = true\n\n\
         [[lists]]\nname = \"c\"\npath = \"c\"\n"
    );
    let only = remove(
        "# my lists\n[[lists]]\nname = \"a\"\npath = \"a\"\n",
        Kind::Block,
        "a",
    )
    .unwrap();
    assert_eq!(only, "# my lists\n");
    assert!(entries(&only).unwrap().is_empty());
}

#[test]
fn disabling_and_enabling_a_list_round_trips() {
    let address = "blocklists/default.hosts";
    let off = set_enabled(RALO_TOML, Kind::Block, address, false).unwrap();
    assert!(
        off.contains("subdomains = true\nenabled = false\n"),
        "{off}"
    );
    assert!(!load(&off).lists[0].enabled);
    let on = set_enabled(&off, Kind::Block, address, true).unwrap();
    assert!(on.contains("subdomains = true\nenabled = true\n"), "{on}");
    assert!(load(&on).lists[0].enabled);
    assert_eq!(
        set_enabled(RALO_TOML, Kind::Block, address, true).unwrap(),
        RALO_TOML
    );
    let spaced = "[[lists]]\nname = \"a\"\npath = \"a\"\nenabled  =  true # keep\n";
    assert_eq!(
        set_enabled(spaced, Kind::Block, "a", false).unwrap(),
        "[[lists]]\nname = \"a\"\npath = \"a\"\nenabled  =  false # keep\n"
    );
}

#[test]
fn comment_is_set_changed_and_removed() {
    let address = "blocklists/default.hosts";
    let set = set_comment(RALO_TOML, Kind::Block, address, Some("Steven Black's")).unwrap();
    assert_eq!(
        load(&set).lists[0].comment.as_deref(),
        Some("Steven Black's")
    );
    let changed = set_comment(&set, Kind::Block, address, Some("the big one")).unwrap();
    assert_eq!(
        entries(&changed).unwrap()[0].comment.as_deref(),
        Some("the big one")
    );
    assert_eq!(
        set_comment(&changed, Kind::Block, address, None).unwrap(),
        RALO_TOML
    );
    assert_eq!(
        set_comment(&changed, Kind::Block, address, Some("  ")).unwrap(),
        RALO_TOML
    );
    let err = set_comment(RALO_TOML, Kind::Block, address, Some("two\nlines")).unwrap_err();
    assert!(matches!(err, Error::BadComment { .. }), "{err}");
}

#[test]
fn removed_comment_key_leaves_the_comments_above_it() {
    let text = "[[lists]]\nname = \"a\"\n# why\ncomment = \"x\"\npath = \"a\"\n";
    assert_eq!(
        set_comment(text, Kind::Block, "a", None).unwrap(),
        "[[lists]]\nname = \"a\"\n# why\npath = \"a\"\n"
    );
    let last = "[[lists]]\nname = \"a\"\npath = \"a\"\n# why\ncomment = \"x\"\n\n\
                [[allowlists]]\nname = \"b\"\npath = \"b\"\n";
    assert_eq!(
        set_comment(last, Kind::Block, "a", None).unwrap(),
        "[[lists]]\nname = \"a\"\npath = \"a\"\n# why\n\n\
         [[allowlists]]\nname = \"b\"\npath = \"b\"\n"
    );
}

#[test]
fn an_address_already_in_the_section_is_refused() {
    let err = add(
        RALO_TOML,
        Kind::Block,
        "blocklists/default.hosts",
        None,
        None,
        true,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::AlreadyListed {
                kind: Kind::Block,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("already a blocklist"), "{err}");
    let allowed = add_on(RALO_TOML, Kind::Allow, "blocklists/default.hosts");
    let config = load(&allowed);
    assert_eq!(config.allowlists.last().unwrap().name, "default-2");
}

#[test]
fn the_household_list_is_neither_removed_nor_switched_off() {
    let address = "blocklists/block.txt";
    for err in [
        remove(RALO_TOML, Kind::Block, address).unwrap_err(),
        set_enabled(RALO_TOML, Kind::Block, address, false).unwrap_err(),
    ] {
        assert!(matches!(err, Error::Household { .. }), "{err}");
        assert!(err.to_string().contains("`ralo block`"), "{err}");
    }
    assert_eq!(
        set_enabled(RALO_TOML, Kind::Block, address, true).unwrap(),
        RALO_TOML
    );
    let noted = set_comment(RALO_TOML, Kind::Allow, "blocklists/allow.txt", Some("ours"));
    assert!(noted.is_ok());
}

#[test]
fn unknown_address_is_no_such_list() {
    let err = remove(RALO_TOML, Kind::Allow, "blocklists/default.hosts").unwrap_err();
    assert!(
        matches!(
            err,
            Error::NoSuchList {
                kind: Kind::Allow,
                ..
            }
        ),
        "{err}"
    );
    let err = set_enabled(RALO_TOML, Kind::Block, "https://x.example/", false).unwrap_err();
    assert!(matches!(err, Error::NoSuchList { .. }), "{err}");
}

#[test]
fn plain_http_is_refused_and_never_allowed_silently() {
    let err = add(
        RALO_TOML,
        Kind::Block,
        "http://lists.example/a.txt",
        None,
        None,
        true,
    )
    .unwrap_err();
    assert!(matches!(err, Error::BadAddress { .. }), "{err}");
    assert!(err.to_string().contains("allow_http = true"), "{err}");
}

#[test]
fn bad_addresses_are_refused() {
    for address in [
        "",
        "https://",
        "https:///a.txt",
        "https://user@:443/a.txt",
        "ftp://lists.example/a.txt",
        "HTTPS://lists.example/a.txt",
        "lists/my list.txt",
        "lists/a\u{7}.txt",
        "~/lists/a.txt",
    ] {
        let err = add(RALO_TOML, Kind::Block, address, None, None, true).unwrap_err();
        assert!(
            matches!(err, Error::BadAddress { .. }),
            "{address:?}: {err}"
        );
    }
}

#[test]
fn names_are_derived_from_the_address_and_made_unique() {
    let mut text = RALO_TOML.to_owned();
    for address in [
        "https://big.oisd.nl/",
        "https://user@hosts.example:8443/x/ads.v2.txt?key=1#top",
        "lists/extra.hosts",
        "/srv/lists/default.txt",
        "https://[2001:db8::1]/hosts",
    ] {
        text = add_on(&text, Kind::Block, address);
    }
    text = add(
        &text,
        Kind::Allow,
        "https://big.oisd.nl/small",
        Some("big.oisd.nl"),
        None,
        true,
    )
    .unwrap();
    let long = format!("https://{}.example/list.txt", "a".repeat(70));
    text = add_on(&text, Kind::Allow, &long);
    text = add_on(&text, Kind::Block, &format!("{long}?again"));
    let all = entries(&text).unwrap();
    let names = |kind| -> Vec<&str> {
        let of_kind = all.iter().filter(move |e| e.kind == kind);
        of_kind.map(|e| e.name.as_str()).collect()
    };
    let long_name = "a".repeat(64);
    let long_again = format!("{}-2", "a".repeat(62));
    assert_eq!(
        names(Kind::Block)[2..],
        [
            "big.oisd.nl",
            "hosts.example-ads.v2",
            "extra",
            "default-2",
            "[2001:db8::1]-hosts",
            &long_again,
        ]
    );
    assert_eq!(
        names(Kind::Allow),
        ["household-allow", "big.oisd.nl-2", &long_name]
    );
    assert_eq!(load(&text).lists.len(), 8);
}

#[test]
fn given_names_are_checked() {
    for name in ["", "  ", &"x".repeat(65), "tab\there"] {
        let err = add(RALO_TOML, Kind::Block, "a.txt", Some(name), None, true).unwrap_err();
        assert!(matches!(err, Error::BadName { .. }), "{name:?}: {err}");
    }
}

#[test]
fn a_section_is_created_at_the_end_after_trailing_comments() {
    let text = "[server]\nudp_workers = 1\n\n# the end\n";
    let edited = add_on(text, Kind::Block, "https://lists.example/a.txt");
    assert_eq!(
        edited,
        "[server]\nudp_workers = 1\n\n# the end\n\n[[lists]]\n\
         name = \"lists.example-a\"\nurl = \"https://lists.example/a.txt\"\n"
    );
    // The one added, and the household's list the config marks none for.
    let lists: Vec<String> = load(&edited).lists.into_iter().map(|l| l.name).collect();
    assert_eq!(lists, ["lists.example-a", "household"]);
    let nested = "[local]\nrecords = {}\n[blocking]\nttl = 5\n[local.x]\n";
    let edited = add_on(nested, Kind::Allow, "a.txt");
    assert!(edited.ends_with("[local.x]\n\n[[allowlists]]\nname = \"a\"\npath = \"a.txt\"\n"));
    let empty = add_on("", Kind::Block, "a.txt");
    assert_eq!(empty, "[[lists]]\nname = \"a\"\npath = \"a.txt\"\n");
}

#[test]
fn text_that_is_not_toml_or_not_tables_is_refused() {
    let err = entries("[[lists]\nname = 1").unwrap_err();
    assert!(matches!(err, Error::NotToml { .. }), "{err}");
    assert!(err.to_string().contains("line 1"), "{err}");
    for text in ["lists = 3\n", "[lists]\nname = \"a\"\n", "lists = [1]\n"] {
        let err = entries(text).unwrap_err();
        assert!(
            matches!(err, Error::NotTables { section: "lists" }),
            "{text}: {err}"
        );
        assert!(add(text, Kind::Allow, "a.txt", None, None, true).is_err());
    }
}

#[test]
fn an_inline_array_is_read_but_not_edited() {
    let text = "lists = [{ name = \"a\", url = \"https://lists.example/a\", enabled = false }]\n";
    let all = entries(text).unwrap();
    assert_eq!(
        all,
        [Entry {
            kind: Kind::Block,
            name: "a".to_owned(),
            address: "https://lists.example/a".to_owned(),
            enabled: false,
            household: false,
            comment: None,
            index: 0,
            groups: vec!["default".to_owned()],
            schedule: Vec::new(),
        }]
    );
    let err = set_enabled(text, Kind::Block, "https://lists.example/a", true).unwrap_err();
    assert!(matches!(err, Error::NotTables { .. }), "{err}");
    assert!(add(text, Kind::Allow, "b.txt", None, None, true).is_ok());
}

#[test]
fn save_writes_only_a_config_that_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ralo.toml");
    std::fs::write(&path, RALO_TOML).unwrap();
    let broken = add_on(RALO_TOML, Kind::Block, "https://lists.example/a.txt")
        .replace("ttl = 10", "ttl = 7200");
    let err = save(&path, &broken).unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err}");
    assert!(err.to_string().contains("blocking.ttl"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), RALO_TOML);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    let good = add_on(RALO_TOML, Kind::Block, "https://lists.example/a.txt");
    save(&path, &good).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), good);
    let loaded = Config::load(&path).unwrap();
    assert_eq!(loaded.lists.len(), 3);
}

#[test]
fn save_through_a_symlink_replaces_the_file_it_points_to() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.toml");
    let link = dir.path().join("ralo.toml");
    std::fs::write(&real, RALO_TOML).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let good = add_on(RALO_TOML, Kind::Allow, "https://lists.example/a.txt");
    save(&link, &good).unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(&real).unwrap(), good);
}
