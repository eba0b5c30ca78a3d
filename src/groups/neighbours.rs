//! The kernel's neighbour tables: which hardware (MAC) address sits behind
//! each IP address on the local network.
//!
//! A DNS filter only sees the source address of a query. To treat a household
//! device as one client without being its DHCP server, we read the kernel's
//! IPv4 ARP table (`/proc/net/arp`) and its neighbour tables over netlink
//! (`RTM_GETNEIGH`, which covers IPv6 NDP as well as ARP). The IPv6 privacy
//! addresses a device rotates through all resolve to the same MAC, so they map
//! to the same device. The tables are read in the background on a timer
//! (about every 30 seconds), never on the query path.
//!
//! The parsers are pure functions over text and bytes, so they can be tested
//! with fixtures; they skip anything malformed and never panic.

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::time::Duration;

use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::sockopt::{Timeout, set_socket_timeout};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

/// A 48-bit hardware (MAC) address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

/// The text could not be read as a MAC address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid MAC address {text:?}: expected six two-digit hex bytes separated by ':' or '-', \
     like aa:bb:cc:dd:ee:ff"
)]
pub struct MacError {
    text: String,
}

impl MacError {
    /// The text that was rejected.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl Mac {
    /// Whether all six bytes are zero (the kernel's "no address yet").
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }

    /// Whether this is a group (multicast or broadcast) address, never a device.
    fn is_group(&self) -> bool {
        self.0[0] & 1 == 1
    }
}

impl FromStr for Mac {
    type Err = MacError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_mac(text).ok_or_else(|| MacError {
            text: text.to_owned(),
        })
    }
}

/// Six two-digit hex bytes, all separated by ':' or all by '-'.
fn parse_mac(text: &str) -> Option<Mac> {
    let sep = if text.contains(':') { ':' } else { '-' };
    let mut parts = text.split(sep);
    let mut mac = [0u8; 6];
    for out in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *out = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(Mac(mac))
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// One neighbour: an address and the MAC it was last seen with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neighbour {
    /// The neighbour's IPv4 or IPv6 address.
    pub addr: IpAddr,
    /// The hardware address the kernel last resolved it to.
    pub mac: Mac,
}

/// `ATF_COM` in `/proc/net/arp`'s flags: the entry is complete.
const ATF_COM: u32 = 0x2;

/// Parses the text of /proc/net/arp (header line, then "IP address HW type
/// Flags HW address Mask Device" columns). Skips the header, incomplete
/// entries (flags 0x0, or an all-zero MAC) and malformed lines; never panics.
pub fn parse_proc_arp(text: &str) -> Vec<Neighbour> {
    text.lines().filter_map(parse_arp_line).collect()
}

fn parse_arp_line(line: &str) -> Option<Neighbour> {
    let cols: Vec<&str> = line.split_whitespace().collect();
    let [ip, _hw_type, flags, hw, _mask, _device, ..] = cols.as_slice() else {
        return None;
    };
    let addr = ip.parse::<Ipv4Addr>().ok()?;
    let flags = u32::from_str_radix(flags.strip_prefix("0x")?, 16).ok()?;
    let mac = hw.parse::<Mac>().ok()?;
    (flags & ATF_COM != 0 && usable(mac)).then_some(Neighbour {
        addr: IpAddr::V4(addr),
        mac,
    })
}

/// A MAC that can stand for a device: set, and not a group address.
fn usable(mac: Mac) -> bool {
    !mac.is_zero() && !mac.is_group()
}

const NLMSG_HDR_LEN: usize = 16;
const NDMSG_LEN: usize = 12;
const RTA_HDR_LEN: usize = 4;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWNEIGH: u16 = 28;
const RTM_GETNEIGH: u16 = 30;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
const NUD_INCOMPLETE: u16 = 0x01;
const NUD_FAILED: u16 = 0x20;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
/// `NLA_F_NESTED | NLA_F_NET_BYTEORDER`, flag bits carried in an attribute type.
const NLA_TYPE_FLAGS: u16 = 0xc000;

/// Where a walk over a dump stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// The bytes ran out (or turned malformed) before the dump ended.
    More,
    /// `NLMSG_DONE`: the dump is complete.
    Done,
    /// `NLMSG_ERROR` with this (negative errno) code; 0 is an acknowledgement.
    Error(i32),
}

/// Parses the bytes of a netlink RTM_GETNEIGH dump reply (nlmsghdr-framed
/// RTM_NEWNEIGH messages, ending with NLMSG_DONE) into IPv4 and IPv6
/// neighbours. Keeps entries with an NDA_DST address and a 6-byte NDA_LLADDR;
/// skips incomplete and failed entries and entries without a usable MAC.
/// Truncated or garbage input gives fewer results, never a panic.
pub fn parse_neigh_dump(bytes: &[u8]) -> Vec<Neighbour> {
    let mut out = Vec::new();
    walk_dump(bytes, &mut out);
    out
}

/// Walks the nlmsghdr-framed messages in `bytes`, appending neighbours to `out`.
fn walk_dump(bytes: &[u8], out: &mut Vec<Neighbour>) -> End {
    let mut at = 0usize;
    while let (Some(len), Some(kind)) = (read_u32(bytes, at), read_u16(bytes, at + 4)) {
        let Ok(len) = usize::try_from(len) else {
            return End::More;
        };
        if len < NLMSG_HDR_LEN {
            return End::More;
        }
        let Some(msg) = at.checked_add(len).and_then(|end| bytes.get(at..end)) else {
            return End::More;
        };
        let payload = &msg[NLMSG_HDR_LEN..];
        match kind {
            NLMSG_DONE => return End::Done,
            NLMSG_ERROR => return End::Error(read_i32(payload, 0).unwrap_or(0)),
            RTM_NEWNEIGH => out.extend(parse_ndmsg(payload)),
            _ => {}
        }
        match align4(len).and_then(|step| at.checked_add(step)) {
            Some(next) => at = next,
            None => return End::More,
        }
    }
    End::More
}

/// One RTM_NEWNEIGH payload: an ndmsg followed by rtattr attributes.
fn parse_ndmsg(payload: &[u8]) -> Option<Neighbour> {
    let family = *payload.first()?;
    let state = read_u16(payload, 8)?;
    if state & (NUD_INCOMPLETE | NUD_FAILED) != 0 {
        return None;
    }
    let (mut dst, mut lladdr) = (None, None);
    for (kind, value) in attributes(payload.get(NDMSG_LEN..)?) {
        match kind {
            NDA_DST => dst = ip_from(family, value),
            NDA_LLADDR => lladdr = <[u8; 6]>::try_from(value).ok().map(Mac),
            _ => {}
        }
    }
    let mac = lladdr.filter(|mac| usable(*mac))?;
    Some(Neighbour { addr: dst?, mac })
}

fn ip_from(family: u8, value: &[u8]) -> Option<IpAddr> {
    match family {
        AF_INET => Some(IpAddr::from(<[u8; 4]>::try_from(value).ok()?)),
        AF_INET6 => Some(IpAddr::from(<[u8; 16]>::try_from(value).ok()?)),
        _ => None,
    }
}

/// `(type, value)` of each rtattr in `bytes`, stopping at the first one that
/// is shorter than its header or runs past the end.
fn attributes(mut bytes: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(read_u16(bytes, 0)?);
        let kind = read_u16(bytes, 2)? & !NLA_TYPE_FLAGS;
        let value = bytes.get(RTA_HDR_LEN..len)?;
        bytes = bytes.get(align4(len)?..).unwrap_or_default();
        Some((kind, value))
    })
}

fn align4(len: usize) -> Option<usize> {
    len.checked_add(3).map(|n| n & !3)
}

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    let raw = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes(raw.try_into().ok()?))
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let raw = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes(raw.try_into().ok()?))
}

fn read_i32(bytes: &[u8], at: usize) -> Option<i32> {
    read_u32(bytes, at).map(|v| i32::from_ne_bytes(v.to_ne_bytes()))
}

/// Builds the request bytes for an RTM_GETNEIGH dump of `family` (AF_INET6 =
/// 10, AF_INET = 2) with NLM_F_REQUEST|NLM_F_DUMP: an nlmsghdr followed by an
/// ndmsg with only the family set.
pub fn neigh_dump_request(family: u8, seq: u32) -> Vec<u8> {
    let len = NLMSG_HDR_LEN + NDMSG_LEN;
    let mut req = Vec::with_capacity(len);
    req.extend_from_slice(&(len as u32).to_ne_bytes());
    req.extend_from_slice(&RTM_GETNEIGH.to_ne_bytes());
    req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req.extend_from_slice(&seq.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    req.push(family);
    req.resize(len, 0);
    req
}

const PROC_NET_ARP: &str = "/proc/net/arp";
const RECV_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_DUMP_BYTES: usize = 4 << 20;
const MAX_RECV_CALLS: usize = 1000;
const RECV_BUF_LEN: usize = 64 << 10;

/// Reads the live tables: /proc/net/arp for IPv4 and netlink dumps
/// (NETLINK_ROUTE) for IPv6 and IPv4, merged and deduplicated. Returns an
/// error only when none of the sources could be read. Each dump is bounded in
/// size and number of reads, with a one-second receive timeout.
pub fn read_table() -> io::Result<Vec<Neighbour>> {
    let sources = [
        netlink_dump(AF_INET6, 1),
        netlink_dump(AF_INET, 2),
        std::fs::read_to_string(PROC_NET_ARP).map(|text| parse_proc_arp(&text)),
    ];
    let mut first_error = None;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut any_ok = false;
    for source in sources {
        match source {
            Ok(found) => {
                any_ok = true;
                let fresh = found.into_iter().filter(|n| seen.insert((n.addr, n.mac)));
                out.extend(fresh);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) if !any_ok => Err(e),
        _ => Ok(out),
    }
}

/// One RTM_GETNEIGH dump over a fresh NETLINK_ROUTE socket.
fn netlink_dump(family: u8, seq: u32) -> io::Result<Vec<Neighbour>> {
    let fd = rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        None,
    )?;
    set_socket_timeout(&fd, Timeout::Recv, Some(RECV_TIMEOUT))?;
    let kernel = SocketAddrNetlink::new(0, 0);
    let request = neigh_dump_request(family, seq);
    rustix::net::sendto(&fd, &request, SendFlags::empty(), &kernel)?;

    let mut buf = vec![0u8; RECV_BUF_LEN];
    let mut out = Vec::new();
    let mut total = 0usize;
    for _ in 0..MAX_RECV_CALLS {
        let (got, _) = rustix::net::recv(&fd, &mut buf[..], RecvFlags::empty())?;
        let chunk = buf.get(..got).unwrap_or_default();
        match walk_dump(chunk, &mut out) {
            End::Done | End::Error(0) => return Ok(out),
            End::Error(code) => return Err(io::Error::from_raw_os_error(-code)),
            End::More => {}
        }
        total += got;
        if got == 0 || total >= MAX_DUMP_BYTES {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(s: &str) -> Mac {
        s.parse().unwrap()
    }

    fn n(addr: &str, m: &str) -> Neighbour {
        Neighbour {
            addr: addr.parse().unwrap(),
            mac: mac(m),
        }
    }

    #[test]
    fn mac_parse_and_display() {
        let m = mac("AA-BB-cc-0d-EE-f0");
        assert_eq!(m, Mac([0xaa, 0xbb, 0xcc, 0x0d, 0xee, 0xf0]));
        assert_eq!(m.to_string(), "aa:bb:cc:0d:ee:f0");
        assert_eq!(mac(&m.to_string()), m);
        assert!(mac("00:00:00:00:00:00").is_zero());
        assert!(!m.is_zero());
        let bad = [
            "",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "aa:bb-cc:dd:ee:ff",
        ];
        let worse = [
            "aa:bb:cc:dd:ee:gg",
            "aa.bb.cc.dd.ee.ff",
            "+a:bb:cc:dd:ee:ff",
            "aa:bb:cc:dd:ee:é",
        ];
        for text in bad.into_iter().chain(worse) {
            assert!(text.parse::<Mac>().is_err(), "{text}");
        }
        let err = "nope".parse::<Mac>().unwrap_err();
        assert_eq!(err.text(), "nope");
        assert!(err.to_string().contains("\"nope\""), "{err}");
    }

    #[test]
    fn proc_arp_fixture() {
        let text = "\
IP address       HW type     Flags       HW address            Mask     Device
192.168.1.1      0x1         0x2         a4:91:b1:0c:22:7e     *        eth0
192.168.1.23     0x1         0x0         00:00:00:00:00:00     *        eth0
192.168.1.40     0x1         0x2         DC:A6:32:01:02:03     *        wlan0
192.168.1.41     0x1         0x6         00:00:00:00:00:00     *        eth0
192.168.1.50     0x1         0x2         3c:22:fb
not an arp line at all
\u{0}\u{1}garbage 0x1 0x2 zz:zz
192.168.1.300    0x1         0x2         a4:91:b1:0c:22:7f     *        eth0
192.168.1.60     0x1         2           a4:91:b1:0c:22:80     *        eth0
192.168.1.61     0x1         0x6         b8:27:eb:aa:bb:cc     *        eth0
";
        assert_eq!(
            parse_proc_arp(text),
            vec![
                n("192.168.1.1", "a4:91:b1:0c:22:7e"),
                n("192.168.1.40", "dc:a6:32:01:02:03"),
                n("192.168.1.61", "b8:27:eb:aa:bb:cc"),
            ]
        );
        assert!(parse_proc_arp("").is_empty());
    }

    /// Appends one rtattr, padded to 4 bytes.
    fn attr(buf: &mut Vec<u8>, kind: u16, value: &[u8]) {
        buf.extend_from_slice(&((RTA_HDR_LEN + value.len()) as u16).to_ne_bytes());
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(value);
        buf.resize(buf.len().next_multiple_of(4), 0);
    }

    /// An ndmsg: family, 3 pad bytes, ifindex, state, flags, type.
    fn ndmsg(family: u8, state: u16) -> Vec<u8> {
        let mut body = vec![family, 0, 0, 0];
        body.extend_from_slice(&2i32.to_ne_bytes());
        body.extend_from_slice(&state.to_ne_bytes());
        body.extend_from_slice(&[0, 1]);
        body
    }

    /// Appends one nlmsghdr-framed message, padded to 4 bytes.
    fn message(buf: &mut Vec<u8>, kind: u16, body: &[u8]) {
        buf.extend_from_slice(&((NLMSG_HDR_LEN + body.len()) as u32).to_ne_bytes());
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&2u16.to_ne_bytes()); // NLM_F_MULTI
        buf.extend_from_slice(&7u32.to_ne_bytes());
        buf.extend_from_slice(&1234u32.to_ne_bytes());
        buf.extend_from_slice(body);
        buf.resize(buf.len().next_multiple_of(4), 0);
    }

    /// Appends one RTM_NEWNEIGH message for `addr` (IPv4 or IPv6).
    fn neigh(buf: &mut Vec<u8>, state: u16, addr: &str, lladdr: [u8; 6]) {
        let (family, dst) = match addr.parse::<IpAddr>().unwrap() {
            IpAddr::V4(a) => (AF_INET, a.octets().to_vec()),
            IpAddr::V6(a) => (AF_INET6, a.octets().to_vec()),
        };
        let mut body = ndmsg(family, state);
        attr(&mut body, NDA_DST, &dst);
        attr(&mut body, NDA_LLADDR, &lladdr);
        attr(&mut body, 3, &[0; 16]); // NDA_CACHEINFO
        message(buf, RTM_NEWNEIGH, &body);
    }

    const PHONE: [u8; 6] = [0x5e, 0x1a, 0x02, 0x33, 0x44, 0x55];
    const PI: [u8; 6] = [0xb8, 0x27, 0xeb, 1, 2, 3];

    fn fixture() -> (Vec<u8>, Vec<Neighbour>) {
        let (phone_a, phone_b) = (
            "2001:db8::1c2d:3e4f:5a6b:7c8d",
            "2001:db8::9f8e:7d6c:5b4a:3928",
        );
        let mut buf = Vec::new();
        neigh(&mut buf, 0x02, phone_a, PHONE); // REACHABLE
        neigh(&mut buf, 0x04, phone_b, PHONE); // STALE privacy address
        neigh(&mut buf, NUD_INCOMPLETE, "2001:db8::dead", PHONE);
        neigh(&mut buf, 0x02, "192.168.1.9", PI);
        neigh(&mut buf, 0x40, "ff02::2", [0x33, 0x33, 0, 0, 0, 2]); // NOARP multicast
        neigh(&mut buf, 0x40, "::1", [0; 6]); // NOARP loopback
        message(&mut buf, 24, &ndmsg(AF_INET, 0x02)); // RTM_NEWROUTE
        neigh(&mut buf, NUD_FAILED, "192.168.1.10", PHONE);
        message(&mut buf, NLMSG_DONE, &0i32.to_ne_bytes());
        neigh(&mut buf, 0x02, "192.168.1.11", PHONE); // after DONE
        let expected =
            [(phone_a, PHONE), (phone_b, PHONE), ("192.168.1.9", PI)].map(|(addr, mac)| {
                Neighbour {
                    addr: addr.parse().unwrap(),
                    mac: Mac(mac),
                }
            });
        (buf, expected.to_vec())
    }

    #[test]
    fn netlink_dump_fixture() {
        let (buf, expected) = fixture();
        assert_eq!(parse_neigh_dump(&buf), expected);
        let mut out = Vec::new();
        assert_eq!(walk_dump(&buf, &mut out), End::Done);
    }

    #[test]
    fn netlink_dump_truncated_at_every_length() {
        let (buf, expected) = fixture();
        for len in 0..=buf.len() {
            let got = parse_neigh_dump(&buf[..len]);
            assert!(expected.starts_with(&got), "prefix {len}: {got:?}");
        }
    }

    #[test]
    fn attribute_running_past_message_is_skipped() {
        let mut buf = Vec::new();
        let mut body = ndmsg(AF_INET, 0x02);
        attr(&mut body, NDA_DST, &[10, 0, 0, 1]);
        body.extend_from_slice(&200u16.to_ne_bytes());
        body.extend_from_slice(&NDA_LLADDR.to_ne_bytes());
        body.extend_from_slice(&PHONE);
        body.resize(body.len().next_multiple_of(4), 0);
        message(&mut buf, RTM_NEWNEIGH, &body);
        let mut body = ndmsg(AF_INET, 0x02);
        attr(&mut body, NDA_DST, &[10, 0, 0, 2]);
        attr(&mut body, NDA_LLADDR, &PHONE);
        body.extend_from_slice(&[0xff, 0xff, 1, 0]);
        message(&mut buf, RTM_NEWNEIGH, &body);
        assert_eq!(
            parse_neigh_dump(&buf),
            vec![n("10.0.0.2", "5e:1a:02:33:44:55")]
        );
    }

    #[test]
    fn short_or_huge_message_length_stops() {
        let (good, expected) = fixture();
        for len in [0u32, 8, 15, u32::MAX, u32::MAX - 2] {
            let mut buf = len.to_ne_bytes().to_vec();
            buf.extend_from_slice(&[RTM_NEWNEIGH as u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            buf.extend_from_slice(&good);
            assert!(parse_neigh_dump(&buf).is_empty(), "len {len}");
            let mut buf = good[..good.len() - 60].to_vec();
            buf.extend_from_slice(&len.to_ne_bytes());
            assert!(expected.starts_with(&parse_neigh_dump(&buf)));
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for size in 0..2000 {
            let bytes: Vec<u8> = (0..size % 300)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8
                })
                .collect();
            let _ = parse_neigh_dump(&bytes);
        }
    }

    #[test]
    fn dump_request_layout() {
        let req = neigh_dump_request(AF_INET6, 0x0102_0304);
        assert_eq!(req.len(), 28);
        assert_eq!(read_u32(&req, 0), Some(28));
        assert_eq!(read_u16(&req, 4), Some(RTM_GETNEIGH));
        assert_eq!(read_u16(&req, 6), Some(0x301));
        assert_eq!(read_u32(&req, 8), Some(0x0102_0304));
        assert_eq!(read_u32(&req, 12), Some(0));
        assert_eq!(req[16], 10);
        assert!(req[17..].iter().all(|&b| b == 0));
    }

    #[test]
    fn error_message_ends_walk() {
        let mut buf = Vec::new();
        message(&mut buf, NLMSG_ERROR, &(-97i32).to_ne_bytes());
        neigh(&mut buf, 0x02, "10.0.0.3", PHONE);
        let mut out = Vec::new();
        assert_eq!(walk_dump(&buf, &mut out), End::Error(-97));
        assert!(out.is_empty());
    }

    #[test]
    fn live_table_reads() {
        let table = read_table().expect("neighbour tables readable");
        assert!(table.iter().all(|n| usable(n.mac)));
    }
}
