//! `[upstream]`: the resolvers `resolve::forward` asks, the plain
//! resolvers that find a DoH host's address, the extra CAs encrypted
//! upstreams are checked against, and the bounds on how long and how often
//! it asks them. One entry of `servers` is read by `config::upstream_spec`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::Deserialize;

use super::error::BadValue;
use super::upstream_spec::{UpstreamSpec, plain_addr};

/// `[upstream]`: the resolvers names are forwarded to.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Upstream {
    /// Resolvers. The one answering fastest lately (smoothed round-trip
    /// time) is asked first, another now and then so that a recovered or
    /// faster one is found again; the next is asked when one times out,
    /// fails or refuses, in the order given, whatever kind each is. Each
    /// is written
    /// - `"ip"` or `"ip:port"` (`"[v6]:port"`): plain DNS, port 53 by
    ///   default (UDP; TCP when an answer is truncated);
    /// - `"tls://ip#name"` (`"tls://[v6]:port#name"`): DNS over TLS (RFC
    ///   7858), port 853 by default; the certificate must be for `name`
    ///   (without `#name`, for the IP address itself);
    /// - `"https://host/path"`: DNS over HTTPS (RFC 8484, HTTP/2), port 443
    ///   by default; the certificate must be for `host`. A host that is a
    ///   name needs its address: write it after `#`
    ///   (`"https://dns.quad9.net/dns-query#9.9.9.9"`) or set `bootstrap`.
    ///
    /// An encrypted upstream keeps one connection open and sends many
    /// questions on it at once; a connection unused for 30 seconds is
    /// closed, a broken one is replaced at the next question. Default: plain
    /// Quad9 (`9.9.9.9`, `149.112.112.112`) and Cloudflare (`1.1.1.1`) —
    /// plain so that a first run works on any network and before the clock
    /// is set (a Pi has no clock of its own, and a certificate cannot be
    /// checked without the time); the packaged config asks them over TLS.
    pub servers: Vec<UpstreamSpec>,
    /// Plain resolvers (`"ip"` or `"ip:port"`) asked only for the address
    /// of a DoH host written as a name without `#address`: when ralo first
    /// needs it, again when the address's TTL has run out, and after a
    /// connection to it failed. Never ralo itself: an address ralo listens
    /// on is refused, and so is any other way back to ralo (a router that
    /// asks ralo) — use the router's upstream or a public resolver, e.g.
    /// `["9.9.9.9", "1.1.1.1"]`. Default: none.
    #[serde(deserialize_with = "bootstrap_addrs")]
    pub bootstrap: Vec<SocketAddr>,
    /// A PEM file of CA certificates that DoT and DoH certificates are
    /// also checked against, for a self-hosted resolver. The public CAs
    /// (the Mozilla set, built into ralo, not the system's store, which
    /// may be old on a Pi) are always trusted. A relative path is relative
    /// to this file's folder. Default: none.
    pub tls_ca_file: Option<PathBuf>,
    /// How long one try waits for an answer (milliseconds).
    pub timeout_ms: u64,
    /// The bound on a whole client query: when every try has failed by then
    /// the client gets SERVFAIL (or a stale answer). At most 2500 ms.
    pub deadline_ms: u64,
    /// At most this many upstream tries per client query (1–3).
    pub max_tries: u8,
    /// At most this many client questions wait for upstream answers at once
    /// (identical questions share one and count once). A question beyond
    /// it gets a stale answer from the cache, else SERVFAIL, at once, and
    /// is counted (`ralo stats`: "over the upstream in-flight cap"). This
    /// bounds the sockets and memory a flood of distinct names can take:
    /// each question in flight holds up to `max_tries` sockets. Default
    /// 256, above dnsmasq's 150 (Pi-hole); 1 to 4096.
    pub max_inflight: usize,
}

impl Default for Upstream {
    fn default() -> Self {
        Upstream {
            servers: vec![
                UpstreamSpec::Plain(SocketAddr::from(([9, 9, 9, 9], 53))),
                UpstreamSpec::Plain(SocketAddr::from(([1, 1, 1, 1], 53))),
                UpstreamSpec::Plain(SocketAddr::from(([149, 112, 112, 112], 53))),
            ],
            bootstrap: Vec::new(),
            tls_ca_file: None,
            timeout_ms: 800,
            deadline_ms: 2000,
            max_tries: 3,
            max_inflight: 256,
        }
    }
}

impl Upstream {
    /// One address per resolver, in order, for the per-upstream counters:
    /// see [`UpstreamSpec::addr`].
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.servers.iter().map(UpstreamSpec::addr).collect()
    }

    /// Makes a relative `tls_ca_file` relative to `base`.
    pub(super) fn resolve_against(&mut self, base: &Path) {
        if let Some(path) = &mut self.tls_ca_file
            && path.is_relative()
        {
            *path = base.join(&*path);
        }
    }

    /// The certificates of `tls_ca_file` (none without one).
    pub fn extra_cas(&self) -> Result<Vec<CertificateDer<'static>>, CaFileError> {
        let Some(path) = &self.tls_ca_file else {
            return Ok(Vec::new());
        };
        let cas = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|source| CaFileError::Read {
                path: path.clone(),
                source,
            })?;
        if cas.is_empty() {
            return Err(CaFileError::Empty { path: path.clone() });
        }
        Ok(cas)
    }

    /// Refuses a bootstrap resolver that is ralo itself: an address of
    /// `listen`, or loopback with the port of an unspecified one.
    pub(super) fn check_bootstrap_is_not(&self, listen: &[SocketAddr]) -> Result<(), BadValue> {
        let is_ralo = |b: &SocketAddr| {
            listen.iter().any(|l| {
                l.port() == b.port()
                    && (l.ip() == b.ip()
                        || (l.ip().is_unspecified()
                            && (b.ip().is_loopback() || b.ip().is_unspecified())))
            })
        };
        match self.bootstrap.iter().find(|b| is_ralo(b)) {
            Some(own) => Err(BadValue::new(
                "upstream.bootstrap",
                format!(
                    "{own} is ralo itself ([server] listen): it cannot find an upstream's address by asking itself; write a public resolver, e.g. [\"9.9.9.9\", \"1.1.1.1\"]"
                ),
            )),
            None => Ok(()),
        }
    }

    /// Checks that there is a resolver, and the bounds on timeouts, tries
    /// and questions in flight.
    pub(super) fn check(&self) -> Result<(), BadValue> {
        if self.servers.is_empty() {
            return Err(BadValue::new(
                "upstream.servers",
                "give at least one resolver, e.g. \"9.9.9.9:53\" or \"tls://9.9.9.9#dns.quad9.net\"",
            ));
        }
        if self.bootstrap.is_empty()
            && let Some(by_name) = self.servers.iter().find_map(|s| match s {
                UpstreamSpec::Https(https) if https.needs_bootstrap() => Some(https),
                _ => None,
            })
        {
            return Err(BadValue::new(
                "upstream.servers",
                format!(
                    "`https://{}{}` names its host, whose address ralo must find first: write the address after #, e.g. \"https://{}{}#9.9.9.9\", or set [upstream] bootstrap = [\"9.9.9.9\"] (plain resolvers used only for that)",
                    by_name.host, by_name.path, by_name.host, by_name.path
                ),
            ));
        }
        if self.tls_ca_file.is_some() {
            self.extra_cas()
                .map_err(|e| BadValue::new("upstream.tls_ca_file", e.to_string()))?;
        }
        BadValue::unless_in("upstream.timeout_ms", self.timeout_ms, 50..=2_500)?;
        if !(self.timeout_ms..=2_500).contains(&self.deadline_ms) {
            return Err(BadValue::new(
                "upstream.deadline_ms",
                format!(
                    "{} must be between upstream.timeout_ms ({}) and 2500",
                    self.deadline_ms, self.timeout_ms
                ),
            ));
        }
        BadValue::unless_in("upstream.max_tries", self.max_tries, 1..=3)?;
        BadValue::unless_in("upstream.max_inflight", self.max_inflight, 1..=4096)
    }
}

/// Why the CA certificates of `[upstream] tls_ca_file` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CaFileError {
    /// The file cannot be read or holds a broken PEM block.
    #[error(
        "cannot read CA certificates from {path}: {source}; write the path of a PEM file of CA certificates"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: rustls::pki_types::pem::Error,
    },
    /// The file holds no certificate.
    #[error("{path} holds no certificate; write PEM blocks (-----BEGIN CERTIFICATE-----)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// Reads `bootstrap` entries as `ip` or `ip:port`, port 53 by default.
fn bootstrap_addrs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|text| {
            plain_addr(text, 53).ok_or_else(|| {
                serde::de::Error::custom(format_args!(
                    "key `upstream.bootstrap`: `{text}` is not an address: write a plain resolver's IP with an optional port, e.g. \"9.9.9.9\" or \"[2620:fe::fe]:53\""
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::UpstreamSpec;
    use crate::config::file::{parse_test as parse, refused_key};

    #[test]
    fn upstream_names_are_refused_naming_the_key_and_the_fix() {
        let err = parse("[upstream]\nservers = [\"9.9.9.9\", \"dns.quad9.net\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(
            err.contains("key `upstream.servers`: `dns.quad9.net` is not an address"),
            "{err}"
        );
        assert!(err.contains("\"9.9.9.9:53\""), "{err}");
    }

    #[test]
    fn upstream_without_port_gets_53() {
        let spec = |text: &str| text.parse::<UpstreamSpec>().unwrap().addr();
        assert_eq!(spec("9.9.9.9").port(), 53);
        assert_eq!(spec("2620:fe::fe").port(), 53);
        assert_eq!(spec("[::1]:5300").port(), 5300);
        let c = parse("[upstream]\nservers = [\"192.0.2.1\", \"[2001:db8::1]:5353\"]\n").unwrap();
        assert_eq!(
            c.upstream.addrs(),
            [
                "192.0.2.1:53".parse().unwrap(),
                "[2001:db8::1]:5353".parse().unwrap()
            ]
        );
    }

    #[test]
    fn upstream_spec_displays_as_it_is_written_with_its_port() {
        for text in ["9.9.9.9", "[2620:fe::fe]:5353"] {
            let spec: UpstreamSpec = text.parse().unwrap();
            assert_eq!(spec.to_string().parse::<UpstreamSpec>(), Ok(spec));
        }
        assert_eq!(
            "9.9.9.9".parse::<UpstreamSpec>().unwrap().to_string(),
            "9.9.9.9:53"
        );
    }

    #[test]
    fn defaults_are_quad9_and_cloudflare_on_port_53() {
        let servers: Vec<String> = parse("")
            .unwrap()
            .upstream
            .servers
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(servers, ["9.9.9.9:53", "1.1.1.1:53", "149.112.112.112:53"]);
    }

    #[test]
    fn upstream_values_out_of_range_are_refused_with_their_key() {
        for (text, key) in [
            ("servers = []", "upstream.servers"),
            ("timeout_ms = 49", "upstream.timeout_ms"),
            ("timeout_ms = 2501", "upstream.timeout_ms"),
            (
                "timeout_ms = 900\ndeadline_ms = 800",
                "upstream.deadline_ms",
            ),
            ("max_tries = 0", "upstream.max_tries"),
            ("max_tries = 4", "upstream.max_tries"),
        ] {
            assert_eq!(refused_key(&format!("[upstream]\n{text}\n")), key, "{text}");
        }
    }

    #[test]
    fn upstream_inflight_cap_is_bounded() {
        assert_eq!(parse("").unwrap().upstream.max_inflight, 256);
        for bad_value in [0, 4097] {
            let err = parse(&format!("[upstream]\nmax_inflight = {bad_value}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("upstream.max_inflight"), "{err}");
        }
    }

    #[test]
    fn deadline_above_bound_is_refused() {
        let err = parse("[upstream]\ndeadline_ms = 5000\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("upstream.deadline_ms"), "{err}");
    }

    #[test]
    fn doh_by_name_needs_an_address_or_bootstrap() {
        let text = "[upstream]\nservers = [\"https://dns.quad9.net/dns-query\"]\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains("key `upstream.servers`"), "{err}");
        assert!(
            err.contains("\"https://dns.quad9.net/dns-query#9.9.9.9\""),
            "{err}"
        );
        assert!(err.contains("bootstrap = [\"9.9.9.9\"]"), "{err}");
        let with = parse(&format!(
            "{text}bootstrap = [\"9.9.9.9\", \"[::1]:5300\"]\n"
        ))
        .unwrap();
        assert_eq!(
            with.upstream.bootstrap,
            ["9.9.9.9:53".parse().unwrap(), "[::1]:5300".parse().unwrap()]
        );
        assert_eq!(with.upstream.addrs(), ["0.0.0.0:443".parse().unwrap()]);
        parse("[upstream]\nservers = [\"https://dns.quad9.net/dns-query#9.9.9.9\"]\n").unwrap();
        parse("[upstream]\nservers = [\"https://9.9.9.9/dns-query\"]\n").unwrap();
    }

    #[test]
    fn bootstrap_must_be_an_address_and_not_ralo_itself() {
        let err = parse("[upstream]\nbootstrap = [\"dns.google\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("key `upstream.bootstrap`: `dns.google` is not an address"),
            "{err}"
        );
        for (listen, bootstrap) in [
            ("127.0.0.1:53", "127.0.0.1"),
            ("0.0.0.0:53", "127.0.0.1"),
            ("[::]:5353", "[::1]:5353"),
            ("192.168.1.2:53", "192.168.1.2"),
        ] {
            let text = format!(
                "[server]\nlisten = [\"{listen}\"]\n[upstream]\nbootstrap = [\"{bootstrap}\"]\n"
            );
            assert_eq!(refused_key(&text), "upstream.bootstrap", "{text}");
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains("is ralo itself"), "{err}");
        }
        parse("[server]\nlisten = [\"127.0.0.1:5353\"]\n[upstream]\nbootstrap = [\"127.0.0.1\"]\n")
            .unwrap();
    }

    #[test]
    fn tls_ca_file_must_hold_certificates_and_is_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        let text = format!("[upstream]\ntls_ca_file = \"{}\"\n", path.display());
        assert_eq!(refused_key(&text), "upstream.tls_ca_file");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("holds no certificate"), "{err}");
        let relative = parse("[upstream]\n").unwrap();
        assert!(relative.upstream.extra_cas().unwrap().is_empty());
        let c = super::super::Config::parse(
            "[upstream]\ntls_ca_file = \"ca.pem\"\n",
            "t",
            dir.path().to_owned(),
        );
        assert!(
            c.unwrap_err()
                .to_string()
                .contains(&path.display().to_string())
        );
    }

    #[test]
    fn encrypted_servers_parse_in_the_config() {
        let c = parse(
            "[upstream]\nservers = [\"tls://9.9.9.9#dns.quad9.net\", \"https://1.1.1.1/dns-query\", \"9.9.9.9\"]\n",
        )
        .unwrap();
        assert_eq!(
            c.upstream.addrs(),
            [
                "9.9.9.9:853".parse().unwrap(),
                "1.1.1.1:443".parse().unwrap(),
                "9.9.9.9:53".parse().unwrap()
            ]
        );
        assert!(matches!(c.upstream.servers[0], UpstreamSpec::Tls { .. }));
    }

    #[test]
    fn packaged_config_asks_quad9_and_cloudflare_over_tls() {
        let text = include_str!("../../deploy/ralo.toml");
        let c = super::super::Config::parse(text, "deploy/ralo.toml", "/etc/ralo".into()).unwrap();
        let servers: Vec<String> = c.upstream.servers.iter().map(ToString::to_string).collect();
        assert_eq!(
            servers,
            [
                "tls://9.9.9.9:853#dns.quad9.net",
                "tls://149.112.112.112:853#dns.quad9.net",
                "tls://1.1.1.1:853#cloudflare-dns.com"
            ]
        );
        // The commented fallbacks parse too.
        for line in text.lines().filter(|l| l.starts_with("# servers = ")) {
            let entry = format!("[upstream]\n{}\n", line.trim_start_matches("# "));
            parse(&entry).unwrap_or_else(|e| panic!("{line}: {e}"));
        }
    }
}
