//! Which `$client` lists apply to the client asking: the scopes the image
//! records (`image::scope`), read once per image into a [`Scoped`] that the
//! policy keeps, and asked per question through a [`Reach`].
//!
//! A `$client` rule lives in a list of its own, derived from the list it is
//! written in (same name, groups and schedule); the policy already says per
//! client which lists apply, and a `$client` list applies when that says so
//! *and* its scope names the client (or, for a `~` scope, does not):
//!
//! - an address or range names the client's address (IPv4-mapped IPv6
//!   read as IPv4), whether a device is configured there or not;
//! - a device name names the client that the device table recognises as
//!   that device, the way it finds a client's groups: the most specific
//!   range that holds the address, its MAC address, its host names. A
//!   name that no device has names nobody (AdGuard's reading; the updater
//!   warns of it). At most 64 distinct device names count, one bit each;
//!   past them a name names nobody (`MAX_SCOPE_DEVICES`).
//!
//! Cost: the scope is asked only when a rule of a `$client` list matched
//! the question — a walk over that scope's few ranges, and at most once
//! per such list the device lookup of the client, which is what
//! [`Policy::groups_now`](super::policy::Policy::groups_now) does. An image
//! without `$client` lists has no [`Scoped`], and the question pays one
//! `None` test per matching rule.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::policy::Devices;
use crate::groups::{ClientId, ClientScope, Mac, ScopeClient, canonical};
use crate::image::{Image, ImageBytes, ListId};

/// Most distinct device names the scopes of one image can tell apart.
pub const MAX_SCOPE_DEVICES: usize = 64;

/// One `$client` list's scope, its device names as bits.
#[derive(Clone, Debug)]
struct Resolved {
    exclude: bool,
    nets: Vec<IpNet>,
    /// The devices named (bit `d` for device name `d`).
    devices: u64,
}

/// The scopes of an image's `$client` lists, and how to tell which of the
/// devices they name a client is.
#[derive(Clone, Debug)]
pub struct Scoped {
    /// Per list id: the scope of a `$client` list, `None` for others.
    scopes: Vec<Option<Resolved>>,
    /// Every device range with the named devices it is, most specific
    /// first.
    nets: Vec<(IpNet, u64)>,
    macs: HashMap<Mac, u64>,
    names: HashMap<String, u64>,
    /// Per address the [`Devices`] know: the named devices of its MAC
    /// address and of its host names.
    by_addr: HashMap<IpAddr, (u64, u64)>,
}

impl Scoped {
    /// The scopes of `image`; `None` when it has no `$client` list.
    pub fn of<B: ImageBytes>(image: &Image<B>) -> Option<Scoped> {
        let scopes = image.scopes();
        if scopes.is_empty() {
            return None;
        }
        let mut bits: HashMap<&str, u64> = HashMap::new();
        for name in scopes.iter().flat_map(|(_, scope)| scope.devices()) {
            let next = bits.len();
            if next < MAX_SCOPE_DEVICES && !bits.contains_key(name) {
                bits.insert(name, 1 << next);
            }
        }
        let mut resolved = vec![None; image.list_count()];
        for (list, scope) in &scopes {
            let (nets, devices) = resolve(scope, &bits);
            if let Some(slot) = resolved.get_mut(usize::from(*list)) {
                *slot = Some(Resolved {
                    exclude: scope.exclude,
                    nets,
                    devices,
                });
            }
        }
        let (mut ranges, mut macs, mut names) = (HashMap::new(), HashMap::new(), HashMap::new());
        for client in image.clients() {
            let device = client.name.and_then(|n| bits.get(n)).copied().unwrap_or(0);
            match client.id {
                ClientId::Net(net) => *ranges.entry(net).or_insert(0) |= device,
                ClientId::Mac(mac) if device != 0 => *macs.entry(mac).or_insert(0) |= device,
                ClientId::Name(name) if device != 0 => *names.entry(name).or_insert(0) |= device,
                ClientId::Mac(_) | ClientId::Name(_) => {}
            }
        }
        let mut nets: Vec<(IpNet, u64)> = ranges.into_iter().collect();
        nets.sort_by_key(|&(net, _)| (std::cmp::Reverse(net.prefix_len()), net));
        Some(Scoped {
            scopes: resolved,
            nets,
            macs,
            names,
            by_addr: HashMap::new(),
        })
    }

    /// Folds what `devices` know per address, as
    /// [`Policy::with_devices`](super::policy::Policy::with_devices) does
    /// for groups.
    pub fn with_devices(&mut self, devices: &Devices) {
        self.by_addr.clear();
        for (addr, mac) in devices.macs() {
            if let Some(&named) = self.macs.get(mac) {
                self.by_addr.entry(*addr).or_default().0 = named;
            }
        }
        for (addr, names) in devices.names() {
            let named = names
                .iter()
                .filter_map(|name| self.names.get(name))
                .fold(0, |all, named| all | named);
            if named != 0 {
                self.by_addr.entry(*addr).or_default().1 = named;
            }
        }
    }

    /// The named devices `client` is (with the MAC address a forwarder
    /// gave): those of the most specific range that holds it, of its MAC
    /// address and of its host names.
    fn devices_of(&self, client: IpAddr, mac: Option<Mac>) -> u64 {
        let mut named = self
            .nets
            .iter()
            .find(|(net, _)| net.contains(&client))
            .map_or(0, |&(_, named)| named);
        if !self.by_addr.is_empty() || mac.is_some() {
            let (by_mac, by_name) = self.by_addr.get(&client).copied().unwrap_or_default();
            named |= match mac {
                Some(mac) => self.macs.get(&mac).copied().unwrap_or(0),
                None => by_mac,
            };
            named |= by_name;
        }
        named
    }
}

/// A scope's ranges and the bits of the device names it holds (none for a
/// name past [`MAX_SCOPE_DEVICES`]).
fn resolve(scope: &ClientScope, bits: &HashMap<&str, u64>) -> (Vec<IpNet>, u64) {
    let mut nets = Vec::new();
    let mut devices = 0;
    for client in &scope.clients {
        match client {
            ScopeClient::Net(net) => nets.push(*net),
            ScopeClient::Device(name) => devices |= bits.get(name.as_str()).copied().unwrap_or(0),
        }
    }
    (nets, devices)
}

/// One question's client, for the `$client` lists of the policy.
#[derive(Clone, Copy, Debug)]
pub struct Reach<'p> {
    scoped: &'p Scoped,
    client: IpAddr,
    mac: Option<Mac>,
}

impl<'p> Reach<'p> {
    /// `client` (with the MAC address `mac` a forwarder gave) under `scoped`.
    pub fn new(scoped: &'p Scoped, client: IpAddr, mac: Option<Mac>) -> Reach<'p> {
        Reach {
            scoped,
            client: canonical(client),
            mac,
        }
    }

    /// Whether `list` reaches the client: any list but a `$client` one,
    /// and a `$client` list whose scope names it (a `~` scope: does not).
    #[inline]
    pub fn holds(&self, list: ListId) -> bool {
        let Some(Some(scope)) = self.scoped.scopes.get(usize::from(list)) else {
            return true;
        };
        let named = scope.nets.iter().any(|net| net.contains(&self.client))
            || (scope.devices != 0
                && self.scoped.devices_of(self.client, self.mac) & scope.devices != 0);
        named != scope.exclude
    }
}
