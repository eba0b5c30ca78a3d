//! Where a list download may go.
//!
//! The URL in the config is the household's own choice and may name any
//! host: a list server on the LAN, or this machine. A redirect is another
//! matter: it comes from whoever answers that URL. So a redirect may lead to
//! a loopback, private, link-local or other local address, or to
//! `localhost`, only when it stays on the configured URL's host
//! ([`check_redirect`]); and a name first met in a redirect is resolved by
//! [`GuardedResolver`], which keeps only public addresses for it. A list
//! server, taken over or hostile, thus cannot point the updater at the
//! router, the metrics endpoint or a cloud metadata service.
//!
//! Behind a proxy (`HTTPS_PROXY`) names are resolved by the proxy; the
//! checks on addresses written in redirect URLs still apply.

use std::net::{IpAddr, SocketAddr};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// What kind of local address `ip` is, or `None` for a public one.
/// IPv4-mapped IPv6 addresses are judged as IPv4.
pub(crate) fn local_kind(ip: IpAddr) -> Option<&'static str> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_private() {
                Some("private")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if a == 0 {
                Some("unspecified")
            } else if a == 100 && (64..128).contains(&b) {
                Some("shared (CGNAT)")
            } else if v4.is_multicast() || v4.is_broadcast() {
                Some("multicast")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if first & 0xfe00 == 0xfc00 {
                Some("unique local")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if v6.is_multicast() {
                Some("multicast")
            } else {
                None
            }
        }
    }
}

/// `name` lower-cased without a trailing dot.
fn normalized(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `name` is `localhost` or a name under it (RFC 6761).
fn is_localhost(name: &str) -> bool {
    let name = normalized(name);
    name == "localhost" || name.ends_with(".localhost")
}

/// A URL's host: an address, or a name lower-cased without a trailing dot.
#[derive(Debug, PartialEq, Eq)]
enum Host {
    Address(IpAddr),
    Name(String),
}

impl Host {
    /// The host of `url` (the URL parser has already turned numeric forms
    /// such as `2130706433` into dotted IPv4).
    fn of(url: &Url) -> Option<Host> {
        let host = url.host_str()?;
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        Some(match bare.parse::<IpAddr>() {
            Ok(ip) => Host::Address(ip),
            Err(_) => Host::Name(normalized(bare)),
        })
    }
}

/// A redirect the updater does not follow, and why.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RedirectRefused {
    /// The target names no host.
    #[error("redirect to {target} refused: it names no host")]
    NoHost {
        /// Where the redirect led.
        target: Url,
    },
    /// The target is a local address on another host.
    #[error(
        "redirect to {target} refused: a {kind} address; a list server may only redirect into the local network on its own host"
    )]
    Local {
        /// Where the redirect led.
        target: Url,
        /// What kind of local address.
        kind: &'static str,
    },
}

/// Whether a redirect from a download of `configured` may go to `target`:
/// an error saying why not when it leads to a local address or `localhost`
/// on another host. Names are left to [`GuardedResolver`].
pub(crate) fn check_redirect(configured: &Url, target: &Url) -> Result<(), RedirectRefused> {
    let Some(host) = Host::of(target) else {
        return Err(RedirectRefused::NoHost {
            target: target.clone(),
        });
    };
    if Host::of(configured).as_ref() == Some(&host) {
        return Ok(());
    }
    let kind = match &host {
        Host::Name(name) if is_localhost(name) => Some("loopback"),
        Host::Name(_) => None,
        Host::Address(ip) => local_kind(*ip),
    };
    match kind {
        None => Ok(()),
        Some(kind) => Err(RedirectRefused::Local {
            target: target.clone(),
            kind,
        }),
    }
}

/// How names are looked up.
#[derive(Clone, Debug)]
enum Lookup {
    /// The system's resolver (`getaddrinfo`, on tokio's blocking pool).
    System,
    /// A fixed table, for tests.
    #[cfg(test)]
    Table(Vec<(String, IpAddr)>),
}

impl Lookup {
    async fn run(&self, name: &str) -> std::io::Result<Vec<SocketAddr>> {
        match self {
            Lookup::System => Ok(tokio::net::lookup_host((name, 0)).await?.collect()),
            #[cfg(test)]
            Lookup::Table(table) => Ok(table
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, ip)| SocketAddr::new(*ip, 0))
                .collect()),
        }
    }
}

/// Resolves names for one download: the configured URL's host to whatever
/// it resolves to, every other name (reached by a redirect) to its public
/// addresses only.
#[derive(Clone, Debug)]
pub(crate) struct GuardedResolver {
    /// The configured URL's host name, normalized; `None` for an address.
    configured: Option<String>,
    lookup: Lookup,
}

impl GuardedResolver {
    /// The resolver for a download of `configured`.
    pub(crate) fn new(configured: &Url) -> GuardedResolver {
        GuardedResolver {
            configured: configured.domain().map(normalized),
            lookup: Lookup::System,
        }
    }

    /// The same, looking names up in `table` instead of the system.
    #[cfg(test)]
    fn with_table(configured: &Url, table: &[(&str, IpAddr)]) -> GuardedResolver {
        let table = table.iter().map(|(n, ip)| ((*n).to_owned(), *ip)).collect();
        GuardedResolver {
            lookup: Lookup::Table(table),
            ..GuardedResolver::new(configured)
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let name = normalized(name.as_str());
        let trusted = self.configured.as_deref() == Some(name.as_str());
        let lookup = self.lookup.clone();
        Box::pin(async move {
            let found = lookup.run(&name).await?;
            if trusted {
                return Ok(Box::new(found.into_iter()) as Addrs);
            }
            let first_local = found
                .iter()
                .find_map(|a| local_kind(a.ip()).map(|k| (k, *a)));
            let public: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| local_kind(a.ip()).is_none())
                .collect();
            if public.is_empty() {
                let why = match first_local {
                    Some((kind, addr)) => format!(
                        "{name} resolves to a {kind} address ({}); a list server may only redirect into the local network on its own host",
                        addr.ip()
                    ),
                    None => format!("{name} has no address"),
                };
                return Err(why.into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn local_kinds_are_named_and_public_addresses_pass() {
        for (ip, kind) in [
            ("127.0.0.2", "loopback"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("fe80::1", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("fd00::1", "unique local"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "multicast"),
        ] {
            assert_eq!(local_kind(ip.parse().unwrap()), Some(kind), "{ip}");
        }
        for ip in ["9.9.9.9", "172.32.0.1", "100.128.0.1", "2620:fe::fe"] {
            assert_eq!(local_kind(ip.parse().unwrap()), None, "{ip}");
        }
    }

    #[test]
    fn redirects_to_local_literals_on_another_host_are_refused() {
        let configured = url("https://lists.example/a.txt");
        for target in [
            "https://127.0.0.1/x",
            "https://2130706433/x", // 127.0.0.1 written as a number
            "https://[::1]:8443/x",
            "https://10.0.0.1/x",
            "https://192.168.1.1/admin",
            "https://169.254.169.254/latest/meta-data/",
            "https://[fe80::1]/x",
            "https://[fd12::1]/x",
            "https://0.0.0.0/x",
            "https://localhost/x",
            "https://LOCALHOST./x",
            "https://metrics.localhost:9153/metrics",
        ] {
            let error = check_redirect(&configured, &url(target)).unwrap_err();
            assert!(error.to_string().contains("refused"), "{target}: {error}");
        }
    }

    #[test]
    fn redirects_to_public_hosts_and_within_the_configured_host_are_followed() {
        let configured = url("https://lists.example/a.txt");
        for target in [
            "https://cdn.example/a.txt",
            "https://9.9.9.9/a.txt",
            "https://LISTS.example./b.txt",
        ] {
            assert_eq!(
                check_redirect(&configured, &url(target)),
                Ok(()),
                "{target}"
            );
        }
        let lan = url("https://192.168.1.5:8443/list");
        assert_eq!(
            check_redirect(&lan, &url("https://192.168.1.5/other")),
            Ok(())
        );
        assert!(check_redirect(&lan, &url("https://192.168.1.6/other")).is_err());
        let own = url("https://localhost:8443/list");
        assert_eq!(check_redirect(&own, &url("https://localhost/x")), Ok(()));
        assert!(check_redirect(&own, &url("https://127.0.0.1/x")).is_err());
    }

    fn resolve(resolver: &GuardedResolver, name: &str) -> Result<Vec<IpAddr>, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime
            .block_on(resolver.resolve(name.parse().unwrap()))
            .map(|addrs| addrs.map(|a| a.ip()).collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn other_names_keep_public_addresses_only() {
        let table = [
            ("lists.example", "127.0.0.1".parse().unwrap()),
            ("mixed.example", "10.0.0.7".parse().unwrap()),
            ("mixed.example", "198.51.100.7".parse().unwrap()),
            ("inside.example", "192.168.1.1".parse().unwrap()),
        ];
        let resolver = GuardedResolver::with_table(&url("https://lists.example/a"), &table);
        assert_eq!(
            resolve(&resolver, "lists.example"),
            Ok(vec!["127.0.0.1".parse().unwrap()])
        );
        assert_eq!(
            resolve(&resolver, "Lists.Example."),
            Ok(vec!["127.0.0.1".parse().unwrap()])
        );
        assert_eq!(
            resolve(&resolver, "mixed.example"),
            Ok(vec!["198.51.100.7".parse().unwrap()])
        );
        let error = resolve(&resolver, "inside.example").unwrap_err();
        assert!(error.contains("private address (192.168.1.1)"), "{error}");
        let by_address = GuardedResolver::with_table(&url("https://127.0.0.1/a"), &table);
        assert!(resolve(&by_address, "lists.example").is_err());
    }

    /// Connections a listener accepts within a short wait.
    async fn accepted(listener: &tokio::net::TcpListener) -> usize {
        let mut count = 0;
        while let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(200), listener.accept()).await
        {
            count += 1;
        }
        count
    }

    #[tokio::test]
    async fn reqwest_never_connects_to_a_name_the_guard_refuses() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let table = [("lists.test", "127.0.0.1".parse().unwrap())];
        let get = |configured: &str| {
            let resolver = GuardedResolver::with_table(&url(configured), &table);
            let limits = crate::sources::Limits::default();
            let client = crate::sources::http::client_with(&limits, &[], resolver).unwrap();
            let target = format!("http://lists.test:{port}/");
            async move {
                tokio::time::timeout(Duration::from_millis(500), client.get(target).send()).await
            }
        };
        // Reached by a redirect from elsewhere: refused before connecting.
        let refused = get("https://elsewhere.test/").await.unwrap().unwrap_err();
        let text = crate::sources::http::chain(&refused);
        assert!(text.contains("loopback address (127.0.0.1)"), "{text}");
        assert_eq!(accepted(&listener).await, 0);
        // The configured host itself: connected (the listener never answers).
        let _ = get("https://lists.test/").await;
        assert_eq!(accepted(&listener).await, 1);
    }
}
