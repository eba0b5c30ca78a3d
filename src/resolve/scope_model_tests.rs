//! `$client` lists against a naive model: random lists, some with a scope
//! (addresses, ranges, device names, a name no device has, included or
//! excluded), random named devices by address range in random groups,
//! random clients and names. The model finds a client's groups and its
//! device names by reading every range (the most specific ones that hold
//! the address win; `default` and no name when none), takes the lists of
//! those groups whose scope names the client (or, excluded, does not), and
//! walks the query's suffixes over a set of each list's rules. The image
//! and the policy must give the same verdict, the way the resolver asks.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;
use proptest::prelude::*;

use super::policy::model::naive_verdict;
use super::policy::{DEFAULT_GROUPS, Policy};
use crate::groups::{ClientId, ClientScope, ScopeClient, Weekday};
use crate::image::{Image, ImageBuilder};

const LABELS: [&str; 3] = ["a", "b", "c"];
/// Device names; the last one no device has.
const DEVICES: [&str; 4] = ["tv", "kid tablet", "Frank's laptop", "nobody"];

#[derive(Clone, Debug)]
struct List {
    allow: bool,
    groups: u64,
    scope: Option<ClientScope>,
    /// (name, subtree)
    rules: Vec<(String, bool)>,
}

#[derive(Clone, Debug)]
struct Device {
    net: IpNet,
    groups: u64,
    /// An index into [`DEVICES`] (never the last).
    name: Option<usize>,
}

fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(&LABELS[..]), 1..=3).prop_map(|l| l.join("."))
}

/// A range of 10.0.0.0/24.
fn net() -> impl Strategy<Value = IpNet> {
    (0u8..=255, 24u8..=32).prop_map(|(host, prefix)| {
        IpNet::new(IpAddr::from([10, 0, 0, host]), prefix)
            .unwrap()
            .trunc()
    })
}

fn scope() -> impl Strategy<Value = ClientScope> {
    let client = prop_oneof![
        net().prop_map(ScopeClient::Net),
        (0..DEVICES.len()).prop_map(|d| ScopeClient::Device(DEVICES[d].to_owned())),
    ];
    (any::<bool>(), prop::collection::vec(client, 1..4)).prop_map(|(exclude, mut clients)| {
        clients.dedup();
        ClientScope { exclude, clients }
    })
}

fn list(groups: usize) -> impl Strategy<Value = List> {
    let rules = prop::collection::vec((name(), any::<bool>()), 0..6);
    (
        any::<bool>(),
        1u64..(1 << groups),
        prop::option::weighted(0.6, scope()),
        rules,
    )
        .prop_map(|(allow, groups, scope, rules)| List {
            allow,
            groups,
            scope,
            rules,
        })
}

fn device(groups: usize) -> impl Strategy<Value = Device> {
    (
        net(),
        1u64..(1 << groups),
        prop::option::of(0..DEVICES.len() - 1),
    )
        .prop_map(|(net, groups, name)| Device { net, groups, name })
}

/// The groups and device names of `client`: those of the most specific
/// ranges that hold it.
fn naive_client(devices: &[Device], client: IpAddr) -> (u64, HashSet<&'static str>) {
    let best = devices
        .iter()
        .filter(|d| d.net.contains(&client))
        .map(|d| d.net.prefix_len())
        .max();
    let mine = devices
        .iter()
        .filter(|d| Some(d.net.prefix_len()) == best && d.net.contains(&client));
    let (mut groups, mut names) = (0, HashSet::new());
    for d in mine {
        groups |= d.groups;
        names.extend(d.name.map(|n| DEVICES[n]));
    }
    let groups = if groups == 0 { DEFAULT_GROUPS } else { groups };
    (groups, names)
}

fn naive_applies(list: &List, groups: u64, names: &HashSet<&str>, client: IpAddr) -> bool {
    let scoped = list.scope.as_ref().is_none_or(|scope| {
        let named = scope.clients.iter().any(|c| match c {
            ScopeClient::Net(net) => net.contains(&client),
            ScopeClient::Device(name) => names.contains(name.as_str()),
        });
        named != scope.exclude
    });
    list.groups & groups != 0 && scoped
}

/// Groups, lists, devices, queries (client host, name).
type Case = (usize, Vec<List>, Vec<Device>, Vec<(u8, String)>);

fn cases() -> impl Strategy<Value = Case> {
    (1usize..4).prop_flat_map(|groups| {
        (
            Just(groups),
            prop::collection::vec(list(groups), 1..6),
            prop::collection::vec(device(groups), 0..5),
            prop::collection::vec((any::<u8>(), name()), 1..20),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn client_lists_agree_with_a_naive_model((groups, lists, devices, queries) in cases()) {
        let mut b = ImageBuilder::new();
        for g in 1..groups {
            b.add_group(&format!("g{g}")).unwrap();
        }
        for (i, list) in lists.iter().enumerate() {
            let id = b.add_list(&format!("l{i}"), list.allow);
            b.set_policy(id, list.groups, &[]);
            if let Some(scope) = &list.scope {
                b.set_scope(id, scope.clone());
            }
            for (name, subtree) in &list.rules {
                b.add_rule(id, name, *subtree, list.allow);
            }
        }
        for d in &devices {
            b.add_client(ClientId::Net(d.net), d.groups, d.name.map(|n| DEVICES[n]));
        }
        let image = Image::open(b.build(1)).unwrap();
        image.verify().unwrap();
        let policy = Policy::new(&image, Weekday::Mon, 0, &HashMap::new());
        let written: Vec<(bool, &[(String, bool)])> =
            lists.iter().map(|l| (l.allow, l.rules.as_slice())).collect();
        for (host, query) in &queries {
            let client = IpAddr::from([10, 0, 0, *host]);
            let (want_groups, names) = naive_client(&devices, client);
            prop_assert_eq!(policy.groups_now(client, None), want_groups);
            let applies = |id: usize| naive_applies(&lists[id], want_groups, &names, client);
            // As the resolver asks: the client's groups, then their lists.
            let lists_now = policy.lists_for(policy.groups_now(client, None), client, None);
            let got = image.lookup_for(query, |list| lists_now.applies(list));
            prop_assert_eq!(got, naive_verdict(&written, &applies, query), "{} from {}", query, client);
        }
    }
}
