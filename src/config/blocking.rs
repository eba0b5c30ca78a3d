//! `[blocking]`: how `resolve::block` answers a blocked name ([`Mode`]) and
//! for how long.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Deserialize;

use super::error::BadValue;

/// How a blocked name is answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `0.0.0.0` for A, `::` for AAAA, NODATA for every other type.
    #[default]
    Null,
    /// NXDOMAIN: the name does not exist.
    Nxdomain,
    /// NOERROR with no records, for every type.
    Nodata,
    /// REFUSED.
    Refused,
    /// The addresses `ipv4` (for A) and `ipv6` (for AAAA), such as a block
    /// page's on the LAN (Pi-hole's `IP` mode); NODATA for every other type
    /// and for a family without an address.
    Ip,
}

/// `[blocking]`: how blocked names are answered.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Blocking {
    /// `"null"` (default), `"nxdomain"`, `"nodata"`, `"refused"` or `"ip"`
    /// (answer with `ipv4` / `ipv6`).
    pub mode: Mode,
    /// The IPv4 address blocked A questions get in mode `"ip"`.
    pub ipv4: Option<Ipv4Addr>,
    /// The IPv6 address blocked AAAA questions get in mode `"ip"`.
    pub ipv6: Option<Ipv6Addr>,
    /// TTL of blocked answers (seconds, at most 3600). Short, so that an
    /// allowlist edit takes effect on clients quickly.
    pub ttl: u32,
    /// Also block an answer whose CNAME chain leads to a blocked name.
    pub check_cnames: bool,
}

impl Default for Blocking {
    fn default() -> Self {
        Blocking {
            mode: Mode::Null,
            ipv4: None,
            ipv6: None,
            ttl: 10,
            check_cnames: true,
        }
    }
}

impl Blocking {
    /// Checks the TTL of blocked answers, and that mode `"ip"` has an
    /// address to answer with (and only it).
    pub(super) fn check(&self) -> Result<(), BadValue> {
        let addressed = self.ipv4.is_some() || self.ipv6.is_some();
        if self.mode == Mode::Ip && !addressed {
            return Err(BadValue::new(
                "blocking.mode",
                "\"ip\" answers with blocking.ipv4 and blocking.ipv6: give at least one, e.g. ipv4 = \"192.168.1.2\"",
            ));
        }
        if self.mode != Mode::Ip && addressed {
            let key = if self.ipv4.is_some() {
                "blocking.ipv4"
            } else {
                "blocking.ipv6"
            };
            return Err(BadValue::new(
                key,
                "is used only with mode = \"ip\"; set the mode or remove the address",
            ));
        }
        if self.ttl > 3_600 {
            return Err(BadValue::new(
                "blocking.ttl",
                format!("{} is more than 3600 seconds", self.ttl),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Mode;
    use crate::config::file::{parse_test as parse, refused_key};

    #[test]
    fn ip_mode_needs_an_address_and_addresses_need_ip_mode() {
        let config = parse("[blocking]\nmode = \"ip\"\nipv4 = \"192.168.1.2\"\n").unwrap();
        assert_eq!(config.blocking.mode, Mode::Ip);
        assert_eq!(config.blocking.ipv4, Some("192.168.1.2".parse().unwrap()));
        assert!(parse("[blocking]\nmode = \"ip\"\nipv6 = \"fd00::2\"\n").is_ok());
        assert_eq!(refused_key("[blocking]\nmode = \"ip\"\n"), "blocking.mode");
        assert_eq!(
            refused_key("[blocking]\nipv6 = \"fd00::2\"\n"),
            "blocking.ipv6"
        );
        assert!(parse("[blocking]\nmode = \"ip\"\nipv4 = \"fd00::2\"\n").is_err());
    }

    #[test]
    fn bad_mode_is_refused() {
        let err = parse("[blocking]\nmode = \"sinkhole\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sinkhole"), "{err}");
    }

    #[test]
    fn modes_are_spelled_in_lowercase() {
        let mode = |text: &str| {
            parse(&format!("[blocking]\nmode = \"{text}\"\n"))
                .unwrap()
                .blocking
                .mode
        };
        assert_eq!(mode("nxdomain"), Mode::Nxdomain);
        assert_eq!(mode("refused"), Mode::Refused);
    }

    #[test]
    fn blocked_ttl_above_an_hour_is_refused() {
        assert_eq!(refused_key("[blocking]\nttl = 3601\n"), "blocking.ttl");
        assert_eq!(
            parse("[blocking]\nttl = 3600\n").unwrap().blocking.ttl,
            3600
        );
    }
}
