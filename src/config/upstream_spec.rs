//! One `[upstream] servers` entry, [`UpstreamSpec`]: how a resolver is
//! written in the config (plain, DNS over TLS, DNS over HTTPS), read back
//! and shown, and why an entry is refused ([`UpstreamSpecError`]).
//! `config::upstream` holds the list and checks it against the other keys
//! (`bootstrap`); `resolve::forward` asks what is written here.
//!
//! | written | meaning |
//! |---|---|
//! | `9.9.9.9`, `9.9.9.9:53`, `[2620:fe::fe]:53` | plain DNS (UDP, TCP when truncated), port 53 by default |
//! | `tls://9.9.9.9#dns.quad9.net` | DNS over TLS (RFC 7858), port 853 by default; the certificate must be for the name after `#` |
//! | `tls://[2620:fe::fe]:853#dns.quad9.net` | the same over IPv6, port written |
//! | `tls://9.9.9.9` | the certificate must be for the IP address itself |
//! | `https://dns.quad9.net/dns-query` | DNS over HTTPS (RFC 8484), port 443 by default; the host's address is asked of `[upstream] bootstrap` |
//! | `https://dns.quad9.net/dns-query#9.9.9.9` | the same, connecting to the address after `#` (no bootstrap needed) |
//! | `https://1.1.1.1/dns-query` | an IP host needs no address; the certificate must be for that IP |
//!
//! After `#` comes what the part before it lacks: for `tls://` the name the
//! certificate is checked against, for `https://` the address to connect to.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use rustls::pki_types::ServerName;
use serde::Deserialize;

/// The DoT port (RFC 7858).
pub const DOT_PORT: u16 = 853;
/// The HTTPS port.
pub const DOH_PORT: u16 = 443;

/// One `[upstream] servers` entry: a resolver and how it is asked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UpstreamSpec {
    /// Plain DNS to this address: UDP, and TCP for a truncated answer.
    Plain(SocketAddr),
    /// DNS over TLS to `addr`, whose certificate must be for `name`.
    Tls {
        /// Where to connect.
        addr: SocketAddr,
        /// The name (or IP address, as text) the certificate is checked
        /// against.
        name: String,
    },
    /// DNS over HTTPS (HTTP/2).
    Https(HttpsSpec),
}

/// A DoH URL and, when written after `#`, the address to connect to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HttpsSpec {
    /// The URL's host, lowercase: a name, or an IP address as text (without
    /// brackets). The certificate is checked against it.
    pub host: String,
    /// The URL's port, 443 by default.
    pub port: u16,
    /// The URL's path (and query), starting with `/`.
    pub path: String,
    /// The address to connect to: the host itself when it is an IP, the
    /// address after `#`, or `None` when `bootstrap` must find it.
    pub addr: Option<IpAddr>,
}

impl HttpsSpec {
    /// Whether the host's address is found through `[upstream] bootstrap`.
    pub fn needs_bootstrap(&self) -> bool {
        self.addr.is_none()
    }
}

impl UpstreamSpec {
    /// The resolver's address as far as it is known from the config: for a
    /// DoH URL whose host is a name with no address after `#`,
    /// `0.0.0.0:port` (the bootstrap resolvers find it when ralo runs).
    pub fn addr(&self) -> SocketAddr {
        match self {
            UpstreamSpec::Plain(addr) | UpstreamSpec::Tls { addr, .. } => *addr,
            UpstreamSpec::Https(https) => SocketAddr::new(
                https
                    .addr
                    .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
                https.port,
            ),
        }
    }

    /// Whether answers come over an encrypted connection (DoT or DoH).
    pub fn is_encrypted(&self) -> bool {
        !matches!(self, UpstreamSpec::Plain(_))
    }
}

impl FromStr for UpstreamSpec {
    type Err = UpstreamSpecError;

    fn from_str(text: &str) -> Result<UpstreamSpec, UpstreamSpecError> {
        if let Some(rest) = text.strip_prefix("tls://") {
            return parse_tls(text, rest);
        }
        if let Some(rest) = text.strip_prefix("https://") {
            return parse_https(text, rest).map(UpstreamSpec::Https);
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(UpstreamSpecError::UnknownScheme {
                text: text.to_owned(),
                scheme: scheme.to_owned(),
            });
        }
        plain_addr(text, 53)
            .map(UpstreamSpec::Plain)
            .ok_or_else(|| UpstreamSpecError::NotAnAddress(text.to_owned()))
    }
}

/// `ip` or `ip:port` (`[v6]:port`, `[v6]`), with `port` when none is written.
pub(super) fn plain_addr(text: &str, port: u16) -> Option<SocketAddr> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr);
    }
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    bare.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, port))
}

fn parse_tls(text: &str, rest: &str) -> Result<UpstreamSpec, UpstreamSpecError> {
    let (place, name) = match rest.split_once('#') {
        Some((place, name)) => (place, Some(name)),
        None => (rest, None),
    };
    let addr = plain_addr(place, DOT_PORT)
        .ok_or_else(|| UpstreamSpecError::TlsAddress(text.to_owned()))?;
    let name = match name {
        Some(name) => checked_name(text, name)?,
        None => addr.ip().to_string(),
    };
    Ok(UpstreamSpec::Tls { addr, name })
}

fn parse_https(text: &str, rest: &str) -> Result<HttpsSpec, UpstreamSpecError> {
    let bad = |why: &'static str| UpstreamSpecError::HttpsUrl {
        text: text.to_owned(),
        why,
    };
    let (url, given) = match rest.split_once('#') {
        Some((url, given)) => (url, Some(given)),
        None => (rest, None),
    };
    let (authority, path) = match url.find('/') {
        Some(at) => url.split_at(at),
        None => return Err(bad("write the path too")),
    };
    if path == "/" {
        return Err(bad("write the path too"));
    }
    if path.contains('{') {
        return Err(bad("write the path without the template `{?dns}`"));
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("the path holds a space or a control character"));
    }
    if authority.contains('@') {
        return Err(bad("a user name or password is not used"));
    }
    let (host, port) =
        split_authority(authority).ok_or_else(|| bad("the host or port is not valid"))?;
    let ip = host.parse::<IpAddr>().ok();
    let host = match ip {
        Some(ip) => ip.to_string(),
        None => checked_name(text, host)?,
    };
    let addr = match (ip, given) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "the host is already an address: leave out the part after #",
            ));
        }
        (Some(ip), None) => Some(ip),
        (None, Some(given)) => {
            let bare = given
                .strip_prefix('[')
                .and_then(|g| g.strip_suffix(']'))
                .unwrap_or(given);
            Some(
                bare.parse::<IpAddr>()
                    .map_err(|_| UpstreamSpecError::HttpsAddress {
                        text: text.to_owned(),
                        given: given.to_owned(),
                    })?,
            )
        }
        (None, None) => None,
    };
    Ok(HttpsSpec {
        host,
        port,
        path: path.to_owned(),
        addr,
    })
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`: the host (brackets removed)
/// and the port (443 when none is written).
fn split_authority(authority: &str) -> Option<(&str, u16)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => DOH_PORT,
            _ => after.strip_prefix(':')?.parse().ok()?,
        };
        return Some((host, port));
    }
    match authority.split_once(':') {
        Some((host, port)) => Some((host, port.parse().ok()?)).filter(|(h, _)| !h.is_empty()),
        None => Some((authority, DOH_PORT)).filter(|(h, _)| !h.is_empty()),
    }
}

/// `name` lowercased when it is a name a certificate can be for.
fn checked_name(text: &str, name: &str) -> Result<String, UpstreamSpecError> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let refused = || UpstreamSpecError::BadName {
        text: text.to_owned(),
        name: name.clone(),
    };
    match ServerName::try_from(name.as_str()) {
        Ok(_) => Ok(name),
        Err(_) => Err(refused()),
    }
}

/// The form [`UpstreamSpec::from_str`] reads, with the port always written.
impl fmt::Display for UpstreamSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamSpec::Plain(addr) => write!(f, "{addr}"),
            UpstreamSpec::Tls { addr, name } => write!(f, "tls://{addr}#{name}"),
            UpstreamSpec::Https(https) => {
                let host = match https.host.parse::<IpAddr>() {
                    Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
                    _ => https.host.clone(),
                };
                write!(f, "https://{host}:{}{}", https.port, https.path)?;
                match (https.addr, https.host.parse::<IpAddr>()) {
                    (Some(addr), Err(_)) => write!(f, "#{addr}"),
                    _ => Ok(()),
                }
            }
        }
    }
}

/// From the text [`UpstreamSpec::from_str`] reads. toml's message shows the
/// line but not the key, so the refusal names `upstream.servers` itself.
impl<'de> Deserialize<'de> for UpstreamSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<UpstreamSpec, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|e| serde::de::Error::custom(format_args!("key `upstream.servers`: {e}")))
    }
}

/// Why an `[upstream] servers` entry was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamSpecError {
    /// Neither an IP address nor an IP address and a port, nor a URL.
    #[error(
        "`{0}` is not an address: write an IP with an optional port, e.g. \"9.9.9.9:53\" or \"[2620:fe::fe]:53\", or an encrypted resolver, e.g. \"tls://9.9.9.9#dns.quad9.net\" or \"https://dns.quad9.net/dns-query\" (plain names cannot be used: ralo is the resolver)"
    )]
    NotAnAddress(String),
    /// A scheme other than `tls://` and `https://`.
    #[error(
        "`{text}`: `{scheme}://` is not supported; write \"tls://IP#name\" (DNS over TLS), \"https://host/path\" (DNS over HTTPS) or a plain IP"
    )]
    UnknownScheme {
        /// The entry.
        text: String,
        /// What came before `://`.
        scheme: String,
    },
    /// `tls://` not followed by an IP address (and optional port).
    #[error(
        "`{0}`: after tls:// write an IP address (optional port, 853 by default) and the certificate's name after #, e.g. \"tls://9.9.9.9#dns.quad9.net\" or \"tls://[2620:fe::fe]:853#dns.quad9.net\""
    )]
    TlsAddress(String),
    /// A name that no certificate can carry.
    #[error(
        "`{text}`: `{name}` is not a host name a certificate can be for; write one like dns.quad9.net"
    )]
    BadName {
        /// The entry.
        text: String,
        /// The name.
        name: String,
    },
    /// An `https://` entry that is not a DoH URL.
    #[error(
        "`{text}` is not a DNS-over-HTTPS URL: {why}; e.g. \"https://dns.quad9.net/dns-query\", or with the address to connect to \"https://dns.quad9.net/dns-query#9.9.9.9\""
    )]
    HttpsUrl {
        /// The entry.
        text: String,
        /// What is wrong.
        why: &'static str,
    },
    /// Not an IP address after the `#` of a DoH URL.
    #[error(
        "`{text}`: `{given}` after # is not an IP address; write the address to connect to, e.g. \"https://dns.quad9.net/dns-query#9.9.9.9\", or leave it out and set [upstream] bootstrap"
    )]
    HttpsAddress {
        /// The entry.
        text: String,
        /// What came after `#`.
        given: String,
    },
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::{HttpsSpec, UpstreamSpec, UpstreamSpecError};

    fn spec(text: &str) -> UpstreamSpec {
        text.parse()
            .unwrap_or_else(|e| panic!("{text} refused: {e}"))
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn plain_forms_get_port_53() {
        assert_eq!(spec("9.9.9.9"), UpstreamSpec::Plain(addr("9.9.9.9:53")));
        assert_eq!(
            spec("2620:fe::fe"),
            UpstreamSpec::Plain(addr("[2620:fe::fe]:53"))
        );
        assert_eq!(
            spec("[2620:fe::fe]"),
            UpstreamSpec::Plain(addr("[2620:fe::fe]:53"))
        );
        assert_eq!(spec("[::1]:5300"), UpstreamSpec::Plain(addr("[::1]:5300")));
    }

    #[test]
    fn tls_forms_default_to_853_and_name_the_certificate() {
        let tls = |a: &str, n: &str| UpstreamSpec::Tls {
            addr: addr(a),
            name: n.into(),
        };
        assert_eq!(
            spec("tls://9.9.9.9#dns.quad9.net"),
            tls("9.9.9.9:853", "dns.quad9.net")
        );
        assert_eq!(
            spec("tls://9.9.9.9:8853#DNS.Quad9.net."),
            tls("9.9.9.9:8853", "dns.quad9.net")
        );
        assert_eq!(
            spec("tls://[2620:fe::fe]:853#dns.quad9.net"),
            tls("[2620:fe::fe]:853", "dns.quad9.net")
        );
        assert_eq!(
            spec("tls://[2620:fe::fe]#dns.quad9.net"),
            tls("[2620:fe::fe]:853", "dns.quad9.net")
        );
        assert_eq!(spec("tls://1.1.1.1"), tls("1.1.1.1:853", "1.1.1.1"));
        assert_eq!(
            spec("tls://127.0.0.1#127.0.0.1"),
            tls("127.0.0.1:853", "127.0.0.1")
        );
    }

    #[test]
    fn https_forms_take_an_address_from_the_host_or_after_the_hash() {
        let https = |host: &str, port, path: &str, ip: Option<&str>| {
            UpstreamSpec::Https(HttpsSpec {
                host: host.into(),
                port,
                path: path.into(),
                addr: ip.map(|ip| ip.parse().unwrap()),
            })
        };
        assert_eq!(
            spec("https://dns.quad9.net/dns-query"),
            https("dns.quad9.net", 443, "/dns-query", None)
        );
        assert_eq!(
            spec("https://Dns.Quad9.net:8443/dns-query#9.9.9.9"),
            https("dns.quad9.net", 8443, "/dns-query", Some("9.9.9.9"))
        );
        assert_eq!(
            spec("https://dns.quad9.net/dns-query#[2620:fe::fe]"),
            https("dns.quad9.net", 443, "/dns-query", Some("2620:fe::fe"))
        );
        assert_eq!(
            spec("https://1.1.1.1/dns-query"),
            https("1.1.1.1", 443, "/dns-query", Some("1.1.1.1"))
        );
        assert_eq!(
            spec("https://[2606:4700::1111]:443/dns-query?x=1"),
            https(
                "2606:4700::1111",
                443,
                "/dns-query?x=1",
                Some("2606:4700::1111")
            )
        );
        let by_name = spec("https://dns.quad9.net/dns-query");
        assert_eq!(by_name.addr(), addr("0.0.0.0:443"));
        assert!(by_name.is_encrypted());
        assert!(!spec("9.9.9.9").is_encrypted());
    }

    #[test]
    fn every_form_displays_as_it_reads_back() {
        for text in [
            "9.9.9.9",
            "[2620:fe::fe]:5353",
            "tls://9.9.9.9#dns.quad9.net",
            "tls://[2620:fe::fe]:853#dns.quad9.net",
            "tls://1.1.1.1",
            "https://dns.quad9.net/dns-query",
            "https://dns.quad9.net:8443/dns-query#9.9.9.9",
            "https://dns.quad9.net/q#2620:fe::fe",
            "https://[2606:4700::1111]/dns-query",
        ] {
            let parsed = spec(text);
            assert_eq!(spec(&parsed.to_string()), parsed, "{text}");
        }
        assert_eq!(
            spec("tls://9.9.9.9#dns.quad9.net").to_string(),
            "tls://9.9.9.9:853#dns.quad9.net"
        );
        assert_eq!(
            spec("https://dns.quad9.net/dns-query#9.9.9.9").to_string(),
            "https://dns.quad9.net:443/dns-query#9.9.9.9"
        );
    }

    #[test]
    fn every_mistake_is_refused_saying_what_to_write() {
        for (text, says) in [
            ("dns.quad9.net", "\"tls://9.9.9.9#dns.quad9.net\""),
            ("9.9.9.9:99999", "\"9.9.9.9:53\""),
            ("", "is not an address"),
            ("quic://9.9.9.9", "`quic://` is not supported"),
            (
                "http://dns.quad9.net/dns-query",
                "`http://` is not supported",
            ),
            ("tls://dns.quad9.net", "after tls:// write an IP address"),
            (
                "tls://9.9.9.9:x#dns.quad9.net",
                "after tls:// write an IP address",
            ),
            ("tls://#dns.quad9.net", "after tls:// write an IP address"),
            ("tls://9.9.9.9#", "is not a host name"),
            ("tls://9.9.9.9#bad name", "is not a host name"),
            ("https://dns.quad9.net", "write the path too"),
            ("https://dns.quad9.net/", "write the path too"),
            (
                "https://dns.quad9.net/dns-query{?dns}",
                "without the template",
            ),
            ("https://user@dns.quad9.net/dns-query", "user name"),
            ("https://dns.quad9.net:x/dns-query", "host or port"),
            ("https://:443/dns-query", "host or port"),
            ("https://[::1/dns-query", "host or port"),
            ("https://bad_name!/dns-query", "is not a host name"),
            ("https://1.1.1.1/dns-query#1.1.1.1", "already an address"),
            (
                "https://dns.quad9.net/dns-query#quad9",
                "after # is not an IP",
            ),
            ("https://dns.quad9.net/dns query", "space"),
        ] {
            let err = text.parse::<UpstreamSpec>().expect_err(text).to_string();
            assert!(err.contains(says), "{text}: {err}");
        }
        assert_eq!(
            "dns.quad9.net".parse::<UpstreamSpec>(),
            Err(UpstreamSpecError::NotAnAddress("dns.quad9.net".into()))
        );
    }
}
