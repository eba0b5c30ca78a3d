//! [`ClientId`]: one way to recognise a household device, as written in
//! `[[clients]] ids` and `[[groups]] clients`: an address, a range, a MAC
//! address, or a host name that the local records or the DHCP leases
//! resolve.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

use super::Mac;

/// One way to recognise a device.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClientId {
    /// An address (a one-address range) or a range: `192.168.1.50`,
    /// `192.168.1.64/28`, `fd00::50`.
    Net(IpNet),
    /// A hardware address, found through the kernel's neighbour tables.
    Mac(Mac),
    /// A host name, looked up in the local records and the DHCP leases.
    Name(String),
}

/// Why a text is not a client id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a client id: give an address (192.168.1.50, fd00::50), a range (192.168.1.64/28), a MAC address (aa:bb:cc:dd:ee:ff) or a host name (tablet.lan)"
)]
pub struct BadClientId(pub String);

impl ClientId {
    /// Whether `addr` is this id's address or in its range (never for a MAC
    /// or a name, which are matched through the tables that resolve them).
    pub fn contains(&self, addr: IpAddr) -> bool {
        match self {
            ClientId::Net(net) => net.contains(&canonical(addr)),
            ClientId::Mac(_) | ClientId::Name(_) => false,
        }
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, as a dual-stack socket
/// reports IPv4 clients) as the IPv4 address it is.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

impl FromStr for ClientId {
    type Err = BadClientId;

    fn from_str(text: &str) -> Result<ClientId, BadClientId> {
        let text = text.trim();
        let bad = || BadClientId(text.to_owned());
        if let Ok(addr) = text.parse::<IpAddr>() {
            return Ok(ClientId::Net(IpNet::from(canonical(addr))));
        }
        if let Ok(net) = text.parse::<IpNet>() {
            return Ok(ClientId::Net(net.trunc()));
        }
        if let Ok(mac) = text.parse::<Mac>() {
            return if mac.is_zero() {
                Err(bad())
            } else {
                Ok(ClientId::Mac(mac))
            };
        }
        let name = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
        let label_ok = |label: &str| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if (1..=253).contains(&name.len()) && name.split('.').all(label_ok) {
            // A name of digits and dots only is a mistyped address.
            if name.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                return Err(bad());
            }
            return Ok(ClientId::Name(name));
        }
        Err(bad())
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientId::Net(net) if net.prefix_len() == net.max_prefix_len() => {
                write!(f, "{}", net.addr())
            }
            ClientId::Net(net) => write!(f, "{net}"),
            ClientId::Mac(mac) => write!(f, "{mac}"),
            ClientId::Name(name) => f.write_str(name),
        }
    }
}

impl<'de> serde::Deserialize<'de> for ClientId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ClientId, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> ClientId {
        text.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn each_kind_of_id_is_read_and_written_back() {
        for (text, shown) in [
            ("192.168.1.50", "192.168.1.50"),
            ("192.168.1.70/28", "192.168.1.64/28"),
            ("fd00::50", "fd00::50"),
            ("fd00::/64", "fd00::/64"),
            ("::ffff:192.168.1.9", "192.168.1.9"),
            ("AA-BB-CC-DD-EE-FF", "aa:bb:cc:dd:ee:ff"),
            ("Tablet.LAN.", "tablet.lan"),
            ("kids-tablet", "kids-tablet"),
        ] {
            assert_eq!(id(text).to_string(), shown, "{text}");
        }
    }

    #[test]
    fn addresses_ranges_and_mapped_addresses_match() {
        let range = id("192.168.1.64/28");
        assert!(range.contains("192.168.1.70".parse().unwrap()));
        assert!(range.contains("::ffff:192.168.1.70".parse().unwrap()));
        assert!(!range.contains("192.168.1.80".parse().unwrap()));
        assert!(id("fd00::50").contains("fd00::50".parse().unwrap()));
        assert!(!id("aa:bb:cc:dd:ee:ff").contains("192.168.1.70".parse().unwrap()));
        assert!(!id("tablet.lan").contains("192.168.1.70".parse().unwrap()));
    }

    #[test]
    fn what_is_none_of_them_is_refused_with_the_kinds_named() {
        for text in [
            "",
            "192.168.1.300",
            "10.0.0.1/33",
            "-bad.lan",
            "a b",
            "00:00:00:00:00:00",
        ] {
            let error = text.parse::<ClientId>().unwrap_err().to_string();
            assert!(error.contains("MAC address"), "{text}: {error}");
        }
    }
}
