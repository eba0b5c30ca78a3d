//! `[[clients]]`, `[[groups]]` and `[client_lookup]`: who a household device
//! is ([`Client`]), which devices share a policy ([`Group`]), and how the
//! server finds out who is asking ([`ClientLookup`]). Each has its own
//! check; [`check_across`] checks them against each other and against the
//! `groups` of `[[lists]]` and `[[allowlists]]`. What the updater builds from
//! them (a group's id, a list's groups, every id with its groups) is resolved
//! by [`Config`](super::Config).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

use super::error::BadValue;
use super::lists::ListSource;
use crate::groups::ClientId;

/// The group every client in no `[[groups]]` entry is in: group 0, always
/// present, never configured.
pub const DEFAULT_GROUP: &str = "default";

/// The most `[[groups]]` entries: an image holds
/// [`MAX_GROUPS`](crate::image::MAX_GROUPS) groups, `default` among them.
pub const MAX_CONFIG_GROUPS: usize = crate::image::MAX_GROUPS - 1;

// A group is a bit of a u64 mask: `default` and every configured group fit.
const _: () = assert!(MAX_CONFIG_GROUPS < u64::BITS as usize);

/// The longest client or group name, as for list names.
const MAX_NAME: usize = 64;

/// One `[[clients]]` entry: a household device by name, and the ways to
/// recognise it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// The device's name (1 to 64 characters, unique among `[[clients]]`),
    /// which `[[groups]] clients` and adblock `$client` rules use, and logs
    /// and the web page show.
    pub name: String,
    /// Any of these identifies the device: an address (`192.168.1.50`,
    /// `fd00::50`), a range (`192.168.1.64/28`), a MAC address
    /// (`aa:bb:cc:dd:ee:ff`, found through the neighbour tables) or a host
    /// name (`tablet.lan`, resolved through `[local] records` and the DHCP
    /// leases). At least one.
    pub ids: Vec<ClientId>,
    /// A note for people: whose device it is.
    #[serde(default)]
    pub comment: Option<String>,
}

/// One `[[groups]]` entry: devices that share which lists apply to them.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The group's name (1 to 64 characters, unique, not `default`), which
    /// the `groups` of `[[lists]]` and `[[allowlists]]` use.
    pub name: String,
    /// The group's members: `[[clients]]` names, or bare ids written as in
    /// `[[clients]] ids`. An entry that is a client's name means that
    /// client. A client in several groups gets the lists of each.
    #[serde(default)]
    pub clients: Vec<String>,
    /// A note for people: what the group is for.
    #[serde(default)]
    pub comment: Option<String>,
}

/// `[client_lookup]`: how the server learns which client asks, beyond the
/// query's source address.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientLookup {
    /// A DHCP leases file (dnsmasq's format) to resolve host-name ids, e.g.
    /// `/var/lib/misc/dnsmasq.leases`. Default: none (host names are
    /// resolved through `[local] records` only). A relative path resolves
    /// against the config file's folder.
    pub leases: Option<PathBuf>,
    /// Addresses or ranges (`192.168.1.1`, `192.168.1.0/30`) whose EDNS
    /// Client Subnet or add-mac option names the real client: a router that
    /// forwards every query. Default: none; from anyone else those options
    /// are ignored, so a device cannot pose as another.
    #[serde(deserialize_with = "nets_from_strs")]
    pub trusted_forwarders: Vec<IpNet>,
    /// Seconds between reads of the kernel's neighbour tables and the
    /// leases file (5 to 3600; default 30).
    pub refresh_secs: u64,
}

impl Default for ClientLookup {
    fn default() -> Self {
        ClientLookup {
            leases: None,
            trusted_forwarders: Vec::new(),
            refresh_secs: 30,
        }
    }
}

/// One id the server recognises a client by, resolved from `[[clients]]`
/// and `[[groups]]` by [`Config::client_ids`](super::Config::client_ids).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientEntry {
    /// The address, range, MAC address or host name.
    pub id: ClientId,
    /// The groups of a client with this id: bit `i` for
    /// [`Config::group_names`](super::Config::group_names)`()[i]`; bit 0,
    /// `default`, for the ids of a client that no group names.
    pub groups: u64,
    /// The `[[clients]]` entry the id is one of, or `None` for an id that
    /// only a `[[groups]] clients` list names.
    pub client: Option<String>,
}

/// Reads addresses and ranges; a bare address is a one-address range.
fn nets_from_strs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    let texts = Vec::<String>::deserialize(d)?;
    texts.iter().map(|text| net_from_str(text)).collect()
}

fn net_from_str<E: serde::de::Error>(text: &str) -> Result<IpNet, E> {
    match text.parse::<ClientId>() {
        Ok(ClientId::Net(net)) => Ok(net),
        _ => Err(E::custom(format!(
            "`{text}` is not an address or a range (give e.g. 192.168.1.1, fd00::1 or 192.168.1.0/30)"
        ))),
    }
}

/// Refuses a name that is empty, only spaces or longer than [`MAX_NAME`].
fn check_name(key: &str, what: &str, name: &str) -> Result<(), BadValue> {
    if name.trim().is_empty() || name.len() > MAX_NAME {
        return Err(BadValue::new(
            key,
            format!("{what} name `{name}`: give a name of 1 to {MAX_NAME} characters"),
        ));
    }
    Ok(())
}

impl Client {
    /// Checks the name and that there is an id.
    pub(super) fn check(&self) -> Result<(), BadValue> {
        check_name("clients.name", "client", &self.name)?;
        if self.ids.is_empty() {
            return Err(BadValue::new(
                "clients.ids",
                format!(
                    "client `{}` has no ids: give at least one address, range, MAC address or host name",
                    self.name
                ),
            ));
        }
        Ok(())
    }
}

impl Group {
    /// Checks the name, which cannot be `default`.
    pub(super) fn check(&self) -> Result<(), BadValue> {
        check_name("groups.name", "group", &self.name)?;
        if self.name.eq_ignore_ascii_case(DEFAULT_GROUP) {
            return Err(BadValue::new(
                "groups.name",
                format!(
                    "`{}`: the group `{DEFAULT_GROUP}` is implicit, every client in no other group is in it; give this group another name",
                    self.name
                ),
            ));
        }
        Ok(())
    }
}

impl ClientLookup {
    /// Checks the refresh interval and that a leases path is not empty.
    pub(super) fn check(&self) -> Result<(), BadValue> {
        if self
            .leases
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(BadValue::new(
                "client_lookup.leases",
                "the path is empty: give the leases file, or leave the key out",
            ));
        }
        BadValue::unless_in("client_lookup.refresh_secs", self.refresh_secs, 5..=3600)
    }

    /// Makes a relative leases path absolute against the config file's
    /// folder, as `[paths]` are.
    pub(super) fn resolve_against(&mut self, base: &Path) {
        let relative = |p: &&mut PathBuf| p.is_relative() && !p.as_os_str().is_empty();
        if let Some(path) = self.leases.as_mut().filter(relative) {
            *path = base.join(&*path);
        }
    }
}

/// Checks across sections: each client and group on its own, unique names,
/// at most [`MAX_CONFIG_GROUPS`] groups, each group member a client's name or
/// an id, and each `groups` name of `sections` (`("lists", …)`,
/// `("allowlists", …)`) a group.
pub(super) fn check_across(
    clients: &[Client],
    groups: &[Group],
    sections: &[(&str, &[ListSource])],
) -> Result<(), BadValue> {
    clients.iter().try_for_each(Client::check)?;
    groups.iter().try_for_each(Group::check)?;
    unique(
        "clients.name",
        "client",
        clients.iter().map(|c| c.name.as_str()),
    )?;
    unique(
        "groups.name",
        "group",
        groups.iter().map(|g| g.name.as_str()),
    )?;
    if groups.len() > MAX_CONFIG_GROUPS {
        return Err(BadValue::new(
            "groups",
            format!(
                "{} groups: at most {MAX_CONFIG_GROUPS} besides `{DEFAULT_GROUP}`; merge some",
                groups.len()
            ),
        ));
    }
    let client_names: HashSet<&str> = clients.iter().map(|c| c.name.as_str()).collect();
    for group in groups {
        check_members(group, &client_names)?;
    }
    for (section, sources) in sections {
        for source in *sources {
            check_list_groups(section, source, groups)?;
        }
    }
    Ok(())
}

/// Refuses the first name of `names` that comes twice; `what` names them.
fn unique<'a>(key: &str, what: &str, names: impl Iterator<Item = &'a str>) -> Result<(), BadValue> {
    let mut seen = HashSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(BadValue::new(
                key,
                format!("`{name}` is used twice; {what} names must be unique"),
            ));
        }
    }
    Ok(())
}

/// Each member of `group` is a client's name or parses as an id.
fn check_members(group: &Group, client_names: &HashSet<&str>) -> Result<(), BadValue> {
    for member in &group.clients {
        if client_names.contains(member.as_str()) {
            continue;
        }
        if let Err(bad) = member.parse::<ClientId>() {
            return Err(BadValue::new(
                "groups.clients",
                format!(
                    "group `{}`: `{member}` is not a [[clients]] name, and {bad}",
                    group.name
                ),
            ));
        }
    }
    Ok(())
}

/// Each of a list's `groups` is `default` or a configured group; the
/// household's own list applies to every group and names none.
fn check_list_groups(section: &str, source: &ListSource, groups: &[Group]) -> Result<(), BadValue> {
    let key = format!("{section}.groups");
    if source.household && source.groups != [DEFAULT_GROUP] {
        return Err(BadValue::new(
            key,
            format!(
                "list `{}` is the household's own, which applies to every group; leave `groups` out",
                source.name
            ),
        ));
    }
    if source.groups.is_empty() {
        return Err(BadValue::new(
            key,
            format!(
                "list `{}` applies to no group: name at least one (leave the key out for `{DEFAULT_GROUP}`), or set `enabled = false`",
                source.name
            ),
        ));
    }
    let known = |name: &str| name == DEFAULT_GROUP || groups.iter().any(|g| g.name == name);
    let Some(unknown) = source.groups.iter().find(|name| !known(name)) else {
        return Ok(());
    };
    let names: Vec<String> = std::iter::once(DEFAULT_GROUP)
        .chain(groups.iter().map(|g| g.name.as_str()))
        .map(|name| format!("`{name}`"))
        .collect();
    Err(BadValue::new(
        key,
        format!(
            "list `{}` names the group `{unknown}`, which is not a [[groups]] name; the groups are {}",
            source.name,
            names.join(", ")
        ),
    ))
}

/// The bit of group `id` in a mask of groups; none for an id past the
/// mask, which the cap on groups rules out in a checked config.
pub(super) fn group_bit(id: usize) -> u64 {
    u32::try_from(id)
        .ok()
        .and_then(|id| 1u64.checked_shl(id))
        .unwrap_or(0)
}

/// Every id of `clients` and every bare id among the members of `groups`,
/// each once, with the groups naming it and its client's name (see
/// [`Config::client_ids`](super::Config::client_ids)).
pub(super) fn resolve_ids(clients: &[Client], groups: &[Group]) -> Vec<ClientEntry> {
    let (client_groups, bare) = members(clients, groups);
    let named = clients.iter().flat_map(|client| {
        let groups = client_groups
            .get(client.name.as_str())
            .copied()
            .filter(|&groups| groups != 0)
            .unwrap_or(group_bit(0));
        let name = Some(client.name.as_str());
        client.ids.iter().map(move |id| (id.clone(), groups, name))
    });
    let bare = bare.into_iter().map(|(id, groups)| (id, groups, None));
    merge(named.chain(bare))
}

/// The groups naming each client (by name), and each bare id a group names
/// with that group's bit, in the order written. Members that are neither
/// (which the check refuses) are left out.
fn members<'a>(
    clients: &'a [Client],
    groups: &[Group],
) -> (HashMap<&'a str, u64>, Vec<(ClientId, u64)>) {
    let mut client_groups: HashMap<&str, u64> =
        clients.iter().map(|c| (c.name.as_str(), 0)).collect();
    let mut bare = Vec::new();
    for (i, group) in groups.iter().enumerate() {
        let bit = group_bit(i + 1);
        for member in &group.clients {
            if let Some(mask) = client_groups.get_mut(member.as_str()) {
                *mask |= bit;
            } else if let Ok(id) = member.parse() {
                bare.push((id, bit));
            }
        }
    }
    (client_groups, bare)
}

/// One entry per id: the groups of every occurrence together, the first
/// client's name.
fn merge<'a>(ids: impl Iterator<Item = (ClientId, u64, Option<&'a str>)>) -> Vec<ClientEntry> {
    let mut entries: Vec<ClientEntry> = Vec::new();
    let mut index: HashMap<ClientId, usize> = HashMap::new();
    for (id, groups, client) in ids {
        if let Some(&i) = index.get(&id) {
            let entry = &mut entries[i];
            entry.groups |= groups;
            if entry.client.is_none() {
                entry.client = client.map(str::to_owned);
            }
            continue;
        }
        index.insert(id.clone(), entries.len());
        entries.push(ClientEntry {
            id,
            groups,
            client: client.map(str::to_owned),
        });
    }
    entries
}

#[cfg(test)]
mod tests;
