//! The words for who a client is to the server — its groups and the ids
//! that recognised it — and for whom and when a list applies, shared by
//! `ralo check` ([`super::check`]) and `ralo clients` ([`super::clients`]).
//! Everything is read from the image and the policy the server decides
//! with ([`crate::resolve::policy`]); nothing here decides again.

use std::net::IpAddr;

use crate::config::Config;
use crate::groups::ClientId;
use crate::image::{GroupId, Image, ImageBytes, ListId};
use crate::resolve::Resolver;
use crate::resolve::devices::Devices;
use crate::resolve::policy::{Lists, Policy};

/// Reads the neighbour tables and the DHCP leases once, as the server does
/// every `[client_lookup] refresh_secs`, when the image names devices by
/// MAC address or host name.
pub fn read_devices(config: &Config, resolver: &Resolver) {
    if !resolver.needs_devices() {
        return;
    }
    let leases = config
        .client_lookup
        .leases
        .as_ref()
        .map(|path| config.base_dir.join(path));
    let records = config
        .local
        .records
        .iter()
        .map(|(name, addrs)| (name.as_str(), addrs.as_slice()));
    resolver.set_devices(Devices::read(leases.as_deref(), records));
}

/// The names of the groups in `groups` (bit `g` for group `g`).
pub fn group_list<B: ImageBytes>(image: &Image<B>, groups: u64) -> Vec<&str> {
    (0..u64::BITS)
        .filter(|g| groups & (1 << g) != 0)
        .filter_map(|g| GroupId::try_from(g).ok())
        .map(|g| image.group_name(g).unwrap_or("?"))
        .collect()
}

/// The names of the groups in `groups`, e.g. `kids, tv`; `none` for no
/// group.
pub fn group_names<B: ImageBytes>(image: &Image<B>, groups: u64) -> String {
    let names = group_list(image, groups);
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// `group kids`, `groups kids, tv`, `every group`, `no group`.
pub fn groups_phrase<B: ImageBytes>(image: &Image<B>, groups: u64) -> String {
    let every = u64::MAX >> (64 - image.group_count().clamp(1, 64));
    match groups & every {
        0 => "no group".to_owned(),
        g if g == every && image.group_count() > 1 => "every group".to_owned(),
        g if g.count_ones() == 1 => format!("group {}", group_names(image, g)),
        g => format!("groups {}", group_names(image, g)),
    }
}

/// The kind of id and the id: `address 192.168.1.50`, `range
/// 192.168.1.64/28`, `MAC address aa:bb:…`, `host name tablet.lan`.
pub fn id_text(id: &ClientId) -> String {
    let kind = match id {
        ClientId::Net(net) if net.prefix_len() == net.max_prefix_len() => "address",
        ClientId::Net(_) => "range",
        ClientId::Mac(_) => "MAC address",
        ClientId::Name(_) => "host name",
    };
    format!("{kind} {id}")
}

/// The `[[clients]]` name the image records for `id`, if any.
pub fn id_owner<'i, B: ImageBytes>(image: &'i Image<B>, id: &ClientId) -> Option<&'i str> {
    image.clients().find(|c| c.id == *id).and_then(|c| c.name)
}

/// The device name of the first of `ids` that belongs to a `[[clients]]`
/// entry.
pub fn device_of<'i, B: ImageBytes>(
    image: &'i Image<B>,
    ids: &[(ClientId, u64)],
) -> Option<&'i str> {
    ids.iter().find_map(|(id, _)| id_owner(image, id))
}

/// Who `client` is: its groups and the ids that recognised it, e.g.
///
/// ```text
/// client 192.168.1.65: group kids
///   recognised by range 192.168.1.64/28 (client `kids-room`): group kids
/// ```
pub fn client_text<B: ImageBytes>(
    image: &Image<B>,
    client: IpAddr,
    groups: u64,
    ids: &[(ClientId, u64)],
) -> String {
    let mut text = format!("client {client}: {}", groups_phrase(image, groups));
    if ids.is_empty() {
        text.push_str(" (no client id recognises it)\n");
        return text;
    }
    text.push('\n');
    for (id, groups) in ids {
        let owner = id_owner(image, id).map_or(String::new(), |n| format!(" (client `{n}`)"));
        text.push_str(&format!(
            "  recognised by {}{owner}: {}\n",
            id_text(id),
            groups_phrase(image, *groups)
        ));
    }
    text
}

/// The schedule of `list` as text (`mon-fri 21:00-07:00, sat 10:00-12:00`),
/// or `None` when it applies at all times.
pub fn schedule_text<B: ImageBytes>(image: &Image<B>, list: ListId) -> Option<String> {
    let windows: Vec<String> = image.list_windows(list).map(|w| w.to_string()).collect();
    (!windows.is_empty()).then(|| windows.join(", "))
}

/// For whom and when `list` applies, as a line under the rule, e.g.
/// `  list `social`: for group kids; schedule mon-fri 21:00-07:00, active now`;
/// `None` for a list with neither groups nor a schedule to speak of.
pub fn list_reach<B: ImageBytes>(
    image: &Image<B>,
    policy: &Policy,
    list: ListId,
) -> Option<String> {
    let schedule = schedule_text(image, list);
    let scope = image.list_scope(list);
    if image.group_count() <= 1 && schedule.is_none() && scope.is_none() {
        return None;
    }
    let name = image.list_name(list).unwrap_or("?");
    let mut text = format!("  list `{name}`");
    if let Some(scope) = scope {
        text.push_str(&format!(" {scope} (`$client`)"));
    }
    if image.group_count() > 1 || schedule.is_some() {
        let groups = image.list_groups(list).unwrap_or(0);
        text.push_str(&format!(": for {}", groups_phrase(image, groups)));
    }
    if let Some(schedule) = schedule {
        let now = if policy.active_groups(list) != 0 {
            "active now"
        } else {
            "not active now"
        };
        text.push_str(&format!("; schedule {schedule}, {now}"));
    }
    text.push('\n');
    Some(text)
}

/// The lists that have a rule for `name` but do not apply to a client in
/// `groups` now, one line each saying why: another group's list, one whose
/// schedule is off, or a `$client` list whose scope leaves the client out.
pub fn passed_over<B: ImageBytes>(
    image: &Image<B>,
    policy: &Policy,
    groups: u64,
    lists: Lists<'_>,
    name: &str,
) -> String {
    let mut text = String::new();
    for list in (0..image.list_count()).filter_map(|l| ListId::try_from(l).ok()) {
        if lists.applies(list) {
            continue;
        }
        let rewrite = image.rewrite_for(name, |l| l == list).0;
        let verb = match (rewrite, image.lookup_for(name, |l| l == list)) {
            (crate::image::RewriteVerdict::To(_), _) => "answers it",
            (_, crate::image::Verdict::Blocked(_)) => "lists it",
            (_, crate::image::Verdict::Allowed { .. }) => "allows it",
            (_, crate::image::Verdict::NotListed) => continue,
        };
        let list_groups = image.list_groups(list).unwrap_or(0);
        let scope = image.list_scope(list);
        let why = if list_groups & groups == 0 {
            format!(
                "for {}, not this client's groups",
                groups_phrase(image, list_groups)
            )
        } else if let Some(scope) = scope.filter(|_| policy.active_groups(list) & groups != 0) {
            let but = if scope.exclude { "" } else { " only" };
            format!("a `$client` rule {scope}{but}, not this client")
        } else {
            let schedule = schedule_text(image, list).unwrap_or_default();
            format!("for this client's groups, but its schedule ({schedule}) is not active now")
        };
        let list_name = image.list_name(list).unwrap_or("?");
        text.push_str(&format!("  `{list_name}` {verb}, {why}\n"));
    }
    text
}
