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
//! per such list the device lookup of the client, the same
//! [`Recognition`] the groups are found with. An image
//! without `$client` lists has no [`Scoped`], and the question pays one
//! `None` test per matching rule.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::devices::{Devices, Recognition};
use crate::groups::{ClientScope, Mac, ScopeClient, canonical};
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
    /// The named devices each device of the image is.
    recognition: Recognition,
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
        // A range of a device no scope names still hides the wider ranges
        // that hold it: the most specific range is the device.
        let devices = image.clients().map(|client| {
            let named = client.name.and_then(|n| bits.get(n)).copied();
            (client.id, named.unwrap_or(0))
        });
        Some(Scoped {
            scopes: resolved,
            recognition: Recognition::new(devices),
        })
    }

    /// Folds what `devices` know per address, as
    /// [`Policy::with_devices`](super::policy::Policy::with_devices) does
    /// for groups.
    pub fn with_devices(&mut self, devices: &Devices) {
        self.recognition.with_devices(devices);
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
                && self.scoped.recognition.bits(self.client, self.mac) & scope.devices != 0);
        named != scope.exclude
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::IpAddr;

    use super::super::devices::Devices;
    use super::super::policy::Policy;
    use crate::groups::{ClientScope, Neighbour, Weekday};
    use crate::image::{Image, ImageBuilder};

    /// `tv` by MAC address, `laptop` by host name; list 0 for both, list 1
    /// for every client but the TV.
    fn policy() -> Policy {
        let mut b = ImageBuilder::new();
        let both = b.add_list("ads", false);
        let not_tv = b.add_list("ads", false);
        b.set_scope(both, ClientScope::parse("tv|laptop").unwrap());
        b.set_scope(not_tv, ClientScope::parse("~tv").unwrap());
        b.add_client("aa:bb:cc:dd:ee:ff".parse().unwrap(), 1, Some("tv"));
        b.add_client("laptop".parse().unwrap(), 1, Some("laptop"));
        let image = Image::open(b.build(1)).unwrap();
        let tv = Neighbour {
            addr: "192.168.1.20".parse().unwrap(),
            mac: "aa:bb:cc:dd:ee:ff".parse().unwrap(),
        };
        let leases = "1700000000 11:22:33:44:55:66 192.168.1.30 laptop *\n";
        let devices = Devices::new([tv], leases, []);
        Policy::new(&image, Weekday::Mon, 0, &HashMap::new()).with_devices(&devices)
    }

    /// Whether lists 0 and 1 apply to `addr` (with a forwarder's `mac`).
    fn reach(policy: &Policy, addr: &str, mac: Option<&str>) -> (bool, bool) {
        let addr: IpAddr = addr.parse().unwrap();
        let mac = mac.map(|m| m.parse().unwrap());
        let lists = policy.lists_for(policy.groups_now(addr, mac), addr, mac);
        (lists.applies(0), lists.applies(1))
    }

    #[test]
    fn a_device_name_names_the_client_recognised_by_mac_or_host_name() {
        let policy = policy();
        assert!(!policy.is_trivial());
        assert_eq!(reach(&policy, "192.168.1.20", None), (true, false));
        assert_eq!(reach(&policy, "192.168.1.30", None), (true, true));
        assert_eq!(reach(&policy, "192.168.1.40", None), (false, true));
        // A MAC address a forwarder gave is the device's.
        let tv = Some("aa:bb:cc:dd:ee:ff");
        assert_eq!(reach(&policy, "192.168.1.1", tv), (true, false));
    }

    #[test]
    fn device_names_past_the_limit_name_nobody() {
        let mut b = ImageBuilder::new();
        let names: Vec<String> = (0..=super::MAX_SCOPE_DEVICES)
            .map(|d| format!("d{d}"))
            .collect();
        for (i, name) in names.iter().enumerate() {
            let list = b.add_list("ads", false);
            b.set_scope(list, ClientScope::parse(name).unwrap());
            let addr = format!("10.0.{}.{}", i / 200, i % 200 + 1);
            b.add_client(addr.parse().unwrap(), 1, Some(name));
        }
        let image = Image::open(b.build(1)).unwrap();
        let policy = Policy::new(&image, Weekday::Mon, 0, &HashMap::new());
        let applies = |i: usize| {
            let addr: IpAddr = format!("10.0.{}.{}", i / 200, i % 200 + 1).parse().unwrap();
            let lists = policy.lists_for(policy.groups_now(addr, None), addr, None);
            (0..names.len())
                .filter(|&l| lists.applies(l as u16))
                .collect::<Vec<_>>()
        };
        assert_eq!(applies(0), [0]);
        assert_eq!(
            applies(super::MAX_SCOPE_DEVICES - 1),
            [super::MAX_SCOPE_DEVICES - 1]
        );
        assert_eq!(applies(super::MAX_SCOPE_DEVICES), Vec::<usize>::new());
    }

    #[test]
    fn an_image_without_client_lists_has_no_scopes() {
        let mut b = ImageBuilder::new();
        b.add_list("ads", false);
        let image = Image::open(b.build(1)).unwrap();
        assert!(super::Scoped::of(&image).is_none());
        let policy = Policy::new(&image, Weekday::Mon, 0, &HashMap::new());
        assert!(policy.is_trivial());
    }
}
