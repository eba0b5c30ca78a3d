//! Step 1: which clients get answers. Others get REFUSED.

use std::net::IpAddr;

use ipnet::IpNet;

/// The allowed client networks.
#[derive(Clone, Debug)]
pub struct Access {
    allow: Vec<IpNet>,
}

impl Access {
    /// Allows clients in `allow`.
    pub fn new(allow: Vec<IpNet>) -> Access {
        Access { allow }
    }

    /// Whether `client` may ask. An IPv4-mapped IPv6 address
    /// (`::ffff:a.b.c.d`) is judged as the IPv4 address it carries.
    pub fn allows(&self, client: IpAddr) -> bool {
        let client = client.to_canonical();
        self.allow.iter().any(|net| net.contains(&client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn default_access() -> Access {
        Access::new(config::Access::default().allow)
    }

    #[test]
    fn private_and_loopback_clients_are_allowed_by_default() {
        let a = default_access();
        for ip in [
            "127.0.0.1",
            "192.168.1.20",
            "10.1.2.3",
            "172.20.0.1",
            "100.64.1.1",
            "::1",
            "fd00::5",
            "fe80::1",
        ] {
            assert!(a.allows(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn public_clients_are_refused_by_default() {
        let a = default_access();
        for ip in ["8.8.8.8", "172.32.0.1", "2001:db8::1", "::ffff:8.8.8.8"] {
            assert!(!a.allows(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn ipv4_mapped_private_client_is_allowed() {
        assert!(default_access().allows("::ffff:192.168.1.9".parse().unwrap()));
    }
}
