//! How a client is recognised as a device: [`Devices`], what the
//! household's network knows (the kernel's neighbour tables, the DHCP
//! leases, the local records), read by a task outside the query path; and
//! [`Recognition`], the ways an image names devices (address ranges, MAC
//! addresses, host names), each with its bits: the policy keeps one with
//! each device's groups, the `$client` scopes one with the device names
//! each device is.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use crate::groups::{ClientId, Mac, canonical};

/// What the household's network knows about its devices: the MAC address
/// behind an address (ARP and NDP), and the host names of an address (DHCP
/// leases and the local records).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Devices {
    mac_of: HashMap<IpAddr, Mac>,
    names_of: HashMap<IpAddr, Vec<String>>,
}

impl Devices {
    /// Devices from the neighbour table entries, a DHCP leases file's text
    /// (dnsmasq's format: `expiry mac address name client-id`, one lease a
    /// line) and the local records (name → addresses).
    pub fn new<'a>(
        neighbours: impl IntoIterator<Item = crate::groups::Neighbour>,
        leases: &str,
        records: impl IntoIterator<Item = (&'a str, &'a [IpAddr])>,
    ) -> Devices {
        let mut devices = Devices::default();
        for n in neighbours {
            devices.mac_of.insert(canonical(n.addr), n.mac);
        }
        let mut name = |addr: IpAddr, name: &str| {
            let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
            let names = devices.names_of.entry(canonical(addr)).or_default();
            if !names.contains(&name) {
                names.push(name);
            }
        };
        for line in leases.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let [_, _, addr, host, ..] = words[..]
                && host != "*"
                && let Ok(addr) = addr.parse()
            {
                name(addr, host);
            }
        }
        for (host, addrs) in records {
            for &addr in addrs {
                name(addr, host);
            }
        }
        devices
    }

    /// Reads the neighbour tables and the leases file (if given); a source
    /// that cannot be read adds nothing and is logged.
    pub fn read<'a>(
        leases: Option<&Path>,
        records: impl IntoIterator<Item = (&'a str, &'a [IpAddr])>,
    ) -> Devices {
        let neighbours = crate::groups::read_table().unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot read the neighbour tables: devices named by MAC address are not recognised");
            Vec::new()
        });
        let leases = leases.map_or_else(String::new, |path| {
            std::fs::read_to_string(path).unwrap_or_else(|error| {
                tracing::warn!(%error, path = %path.display(), "cannot read the DHCP leases: devices named by host name are recognised from the local records only");
                String::new()
            })
        });
        Devices::new(neighbours, &leases, records)
    }
}

/// The bits of one address's MAC address and host names.
#[derive(Clone, Copy, Debug, Default)]
struct Known {
    mac: u64,
    names: u64,
}

/// One id that recognised a client, borrowed from the [`Recognition`].
pub enum Recognised<'a> {
    /// The most specific range that holds the address.
    Net(&'a IpNet),
    /// Its MAC address.
    Mac(&'a Mac),
    /// One of its host names.
    Name(&'a str),
}

/// Ways of recognising a device, each with its bits: address ranges (the
/// most specific one that holds the address wins), MAC addresses and host
/// names. [`Recognition::with_devices`] folds in per address the bits of
/// the MAC address and host names the network knows for it, so a question
/// costs one range walk and at most two map reads ([`Recognition::bits`]).
#[derive(Clone, Debug, Default)]
pub struct Recognition {
    /// Address ranges, most specific first.
    nets: Vec<(IpNet, u64)>,
    macs: HashMap<Mac, u64>,
    names: HashMap<String, u64>,
    /// Per address the [`Devices`] know: the bits of its MAC address and
    /// of its host names.
    by_addr: HashMap<IpAddr, Known>,
}

impl Recognition {
    /// The ids with their bits; an id given twice has the bits of both.
    pub fn new(ids: impl IntoIterator<Item = (ClientId, u64)>) -> Recognition {
        let (mut ranges, mut macs, mut names) = (HashMap::new(), HashMap::new(), HashMap::new());
        for (id, bits) in ids {
            match id {
                ClientId::Net(net) => *ranges.entry(net).or_insert(0) |= bits,
                ClientId::Mac(mac) => *macs.entry(mac).or_insert(0) |= bits,
                ClientId::Name(name) => *names.entry(name).or_insert(0) |= bits,
            }
        }
        let mut nets: Vec<(IpNet, u64)> = ranges.into_iter().collect();
        // Most specific first; among equals, the order is any (two ranges
        // of one length that hold the same address are the same range).
        nets.sort_by_key(|&(net, _)| (std::cmp::Reverse(net.prefix_len()), net));
        Recognition {
            nets,
            macs,
            names,
            by_addr: HashMap::new(),
        }
    }

    /// Whether some device is recognised by MAC address or host name, so
    /// that [`Devices`] need reading.
    pub fn needs_devices(&self) -> bool {
        !self.macs.is_empty() || !self.names.is_empty()
    }

    /// Folds in per address the bits of what `devices` know of it, for
    /// [`bits`](Self::bits); the devices folded before are forgotten.
    pub fn with_devices(&mut self, devices: &Devices) {
        self.by_addr.clear();
        if !self.needs_devices() {
            return;
        }
        for (addr, mac) in &devices.mac_of {
            if let Some(&bits) = self.macs.get(mac) {
                self.by_addr.entry(*addr).or_default().mac = bits;
            }
        }
        for (addr, names) in &devices.names_of {
            let bits = names
                .iter()
                .filter_map(|name| self.names.get(name))
                .fold(0, |all, bits| all | bits);
            if bits != 0 {
                self.by_addr.entry(*addr).or_default().names = bits;
            }
        }
    }

    /// The bits of `client` (with the MAC address `mac` a forwarder gave),
    /// with the devices folded in: those of the most specific range that
    /// holds it, of its MAC address and of its host names; 0 when nothing
    /// recognises it. The query path's way.
    #[inline]
    pub fn bits(&self, client: IpAddr, mac: Option<Mac>) -> u64 {
        let client = canonical(client);
        let mut bits = self
            .nets
            .iter()
            .find(|(net, _)| net.contains(&client))
            .map_or(0, |&(_, bits)| bits);
        if !self.by_addr.is_empty() || mac.is_some() {
            let known = self.by_addr.get(&client).copied().unwrap_or_default();
            bits |= match mac {
                Some(mac) => self.macs.get(&mac).copied().unwrap_or(0),
                None => known.mac,
            };
            bits |= known.names;
        }
        bits
    }

    /// Calls `found` with each id that recognises `client` and its bits:
    /// the most specific range that holds it, its MAC address (`mac` when
    /// a forwarder gave it, else what `devices` know) and its host names.
    /// The slow way, for `ralo check` and the web page: it reads `devices`
    /// itself and says which id matched.
    pub fn recognise(
        &self,
        client: IpAddr,
        mac: Option<Mac>,
        devices: &Devices,
        mut found: impl FnMut(Recognised<'_>, u64),
    ) {
        let client = canonical(client);
        if let Some((net, bits)) = self.nets.iter().find(|(net, _)| net.contains(&client)) {
            found(Recognised::Net(net), *bits);
        }
        if !self.macs.is_empty()
            && let Some(mac) = mac.as_ref().or_else(|| devices.mac_of.get(&client))
            && let Some(&bits) = self.macs.get(mac)
        {
            found(Recognised::Mac(mac), bits);
        }
        if !self.names.is_empty() {
            for name in devices.names_of.get(&client).into_iter().flatten() {
                if let Some(&bits) = self.names.get(name) {
                    found(Recognised::Name(name), bits);
                }
            }
        }
    }
}
