//! Reverse-lookup names: an address's PTR name and the reverse zones of an
//! address range, in `in-addr.arpa` and `ip6.arpa`. Shared by the local
//! step's house zones (`resolve::local`) and conditional forwarding
//! (`config::forward`).

use std::net::IpAddr;

use ipnet::IpNet;

/// The reverse zones covering `net`: one when the prefix ends on an octet
/// (IPv4) or nibble (IPv6) boundary, else one per value of the partly
/// covered digit. Lower-case, without the trailing dot.
pub fn reverse_zones(net: IpNet) -> Vec<String> {
    match net {
        IpNet::V4(v4) => {
            let prefix = usize::from(v4.prefix_len());
            digits_zones(&v4.network().octets(), 8, prefix, "in-addr.arpa")
        }
        IpNet::V6(v6) => {
            let prefix = usize::from(v6.prefix_len());
            let nibbles: Vec<u8> = v6
                .network()
                .octets()
                .iter()
                .flat_map(|b| [b >> 4, b & 0xf])
                .collect();
            digits_zones(&nibbles, 4, prefix, "ip6.arpa")
        }
    }
}

/// The zones of a prefix of `prefix` bits over `digits` of `width` bits
/// each (octets or nibbles), leftmost digit last in the name.
fn digits_zones(digits: &[u8], width: usize, prefix: usize, top: &str) -> Vec<String> {
    let whole = prefix / width;
    let rest = prefix % width;
    let format = |digit: u8| match width {
        4 => format!("{digit:x}"),
        _ => digit.to_string(),
    };
    let tail: Vec<String> = digits[..whole].iter().rev().map(|&d| format(d)).collect();
    let join = |head: Option<String>| {
        let mut labels: Vec<String> = head.into_iter().collect();
        labels.extend(tail.iter().cloned());
        labels.push(top.to_owned());
        labels.join(".")
    };
    if rest == 0 || whole == digits.len() {
        return vec![join(None)];
    }
    let free = width - rest;
    let base = digits[whole] >> free << free;
    // `base | value` stays within one digit of `width` bits.
    (0..(1u16 << free))
        .map(|value| join(Some(format(base | value as u8))))
        .collect()
}

/// The reverse-lookup name of an address, without trailing dot.
pub fn reverse_name(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut out = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                out.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            out.push_str("ip6.arpa");
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zones(net: &str) -> Vec<String> {
        reverse_zones(net.parse().unwrap())
    }

    #[test]
    fn ranges_on_a_boundary_have_one_zone() {
        assert_eq!(zones("192.168.178.0/24"), ["178.168.192.in-addr.arpa"]);
        assert_eq!(zones("10.0.0.0/8"), ["10.in-addr.arpa"]);
        assert_eq!(zones("fd00::/8"), ["d.f.ip6.arpa"]);
        assert_eq!(zones("10.1.2.3/32"), ["3.2.1.10.in-addr.arpa"]);
    }

    #[test]
    fn ranges_off_a_boundary_have_a_zone_per_digit_value() {
        assert_eq!(
            zones("192.168.0.0/23"),
            ["0.168.192.in-addr.arpa", "1.168.192.in-addr.arpa"]
        );
        let v6 = zones("fd12:3456::/30");
        assert_eq!(v6.len(), 4);
        assert_eq!(v6[0], "4.5.4.3.2.1.d.f.ip6.arpa");
        assert_eq!(zones("100.64.0.0/10").len(), 64);
    }

    #[test]
    fn reverse_names_of_both_families() {
        assert_eq!(
            reverse_name("192.0.2.7".parse().unwrap()),
            "7.2.0.192.in-addr.arpa"
        );
        let v6 = reverse_name("fd00::10".parse().unwrap());
        assert!(
            v6.starts_with("0.1.0.0.") && v6.ends_with(".0.0.d.f.ip6.arpa"),
            "{v6}"
        );
    }
}
