use std::path::PathBuf;

use super::{
    Error, add_client, add_group, group_names, names_of, remove_client, remove_group, set_client,
    set_group,
};
use crate::config::Config;

const TEXT: &str = r#"# The household's config.

[[lists]]
name = "ads"
path = "ads.txt"
# only for the kids
groups = ["kids"]

[[lists]]
name = "adult"
path = "adult.txt"
groups = ["kids", "default"]

# Devices.
[[clients]]
name = "tablet"
ids = ["192.168.1.50", "aa:bb:cc:dd:ee:ff"]
comment = "Ana's"

# Who gets which lists.
[[groups]]
name = "kids"
clients = ["tablet", "192.168.1.70"]
"#;

fn loads(text: &str) -> Config {
    Config::parse(text, "test.toml", PathBuf::from("/etc/ralo")).expect(text)
}

#[test]
fn a_new_group_is_appended_and_loads() {
    let text = add_group(TEXT, "guests", Some("visitors")).unwrap();
    assert!(text.starts_with("# The household's config."), "{text}");
    assert!(text.contains("# only for the kids"), "{text}");
    let config = loads(&text);
    assert_eq!(config.group_names(), ["default", "kids", "guests"]);
    assert_eq!(group_names(&text).unwrap(), ["default", "kids", "guests"]);
    assert_eq!(names_of(&text, &[2, 0]).unwrap(), ["guests", "default"]);
    assert!(matches!(
        names_of(&text, &[3]),
        Err(Error::NoSuchGroupId(3))
    ));
}

#[test]
fn renaming_a_group_renames_it_in_the_lists() {
    let text = set_group(TEXT, "kids", Some("children"), Some("under 12")).unwrap();
    let config = loads(&text);
    assert_eq!(config.group_names(), ["default", "children"]);
    assert_eq!(config.lists[0].groups, ["children"]);
    assert_eq!(config.lists[1].groups, ["children", "default"]);
    assert_eq!(config.groups[0].comment.as_deref(), Some("under 12"));
    assert!(matches!(
        set_group(TEXT, "default", Some("x"), None),
        Err(Error::DefaultGroup)
    ));
}

#[test]
fn removing_a_group_sends_a_list_left_without_one_back_to_default() {
    let text = remove_group(TEXT, "kids").unwrap();
    let config = loads(&text);
    assert_eq!(config.group_names(), ["default"]);
    assert_eq!(config.lists[0].groups, ["default"]);
    assert_eq!(config.lists[1].groups, ["default"]);
    assert!(text.contains("# Devices."), "{text}");
    assert!(!text.contains("[[groups]]"), "{text}");
    assert!(remove_group(TEXT, "nobody").unwrap_err().is_not_found());
}

#[test]
fn an_added_id_becomes_a_client_in_the_groups_given() {
    let text = add_client(
        TEXT,
        "192.168.1.80",
        None,
        Some("tv"),
        Some(&["kids".to_owned()]),
    )
    .unwrap();
    let config = loads(&text);
    let tv = config
        .clients
        .iter()
        .find(|c| c.name == "192.168.1.80")
        .unwrap();
    assert_eq!(tv.comment.as_deref(), Some("tv"));
    assert!(
        config.groups[0]
            .clients
            .contains(&"192.168.1.80".to_owned())
    );
    assert!(matches!(
        add_client(TEXT, "192.168.1.50", None, None, None),
        Err(Error::AlreadyClient(_))
    ));
    assert!(matches!(
        add_client(TEXT, "not an id!", None, None, None),
        Err(Error::BadId(_))
    ));
}

#[test]
fn an_id_joins_a_named_client() {
    let text = add_client(TEXT, "192.168.1.51", Some("tablet"), None, None).unwrap();
    let config = loads(&text);
    assert_eq!(config.clients.len(), 1);
    assert_eq!(config.clients[0].ids.len(), 3);
}

#[test]
fn a_bare_id_moved_to_default_becomes_a_client_in_no_group() {
    let text = set_client(TEXT, "192.168.1.70", None, Some(&["default".to_owned()])).unwrap();
    let config = loads(&text);
    assert_eq!(config.groups[0].clients, ["tablet"]);
    let id = config
        .client_ids()
        .into_iter()
        .find(|e| e.id.to_string() == "192.168.1.70")
        .unwrap();
    assert_eq!(id.groups, 1);
    assert!(
        set_client(TEXT, "10.0.0.1", Some("x"), None)
            .unwrap_err()
            .is_not_found()
    );
}

#[test]
fn removing_a_clients_last_id_removes_it_from_its_groups() {
    let once = remove_client(TEXT, "192.168.1.50").unwrap();
    assert_eq!(loads(&once).clients[0].ids.len(), 1);
    let twice = remove_client(&once, "AA:BB:CC:DD:EE:FF").unwrap();
    let config = loads(&twice);
    assert!(config.clients.is_empty());
    assert_eq!(config.groups[0].clients, ["192.168.1.70"]);
    let bare = remove_client(&twice, "192.168.1.70").unwrap();
    assert!(loads(&bare).groups[0].clients.is_empty());
    assert!(
        remove_client(&bare, "192.168.1.70")
            .unwrap_err()
            .is_not_found()
    );
}
