//! Which certificates an encrypted upstream (DoT, DoH) may show: the
//! Mozilla CA set built into the binary (`webpki-roots`), not the system's
//! store, which on a Pi that is seldom updated may be old, plus the CAs of
//! `[upstream] tls_ca_file`. One rustls client config per kind of
//! connection, with ring as the crypto provider; `resolve::encrypted` uses
//! them.

use std::sync::Arc;

use rustls::ClientConfig;
use rustls::RootCertStore;
use rustls::crypto::ring;

use crate::config;

/// The TLS client configs of `[upstream]`.
#[derive(Clone, Debug)]
pub(super) struct Trust {
    /// For DNS over TLS: no SNI (port 853 is for DNS alone, and a name in
    /// the clear is what an on-path filter would look for), no ALPN.
    pub(super) dot: Arc<ClientConfig>,
    /// For DNS over HTTPS: SNI (an HTTPS server may host many names), and
    /// ALPN `h2`.
    pub(super) doh: Arc<ClientConfig>,
}

impl Trust {
    /// The configs for `upstream`. A `tls_ca_file` that cannot be read now
    /// (it was checked when the config was loaded) is logged and left out:
    /// the public CAs still apply.
    pub(super) fn new(upstream: &config::Upstream) -> Trust {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        match upstream.extra_cas() {
            Ok(cas) => {
                let (added, ignored) = roots.add_parsable_certificates(cas);
                if ignored > 0 {
                    tracing::warn!(
                        added,
                        ignored,
                        "some certificates of [upstream] tls_ca_file are not CA certificates rustls can use"
                    );
                }
            }
            Err(error) => {
                tracing::warn!(%error, "[upstream] tls_ca_file left out; only the built-in CAs are trusted");
            }
        }
        let roots = Arc::new(roots);
        let build = || {
            ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
                .with_safe_default_protocol_versions()
                // ring supports every safe default version: a build without
                // them is a broken rustls, not a configuration mistake.
                .expect("ring supports TLS 1.2 and 1.3")
                .with_root_certificates(roots.clone())
                .with_no_client_auth()
        };
        let mut dot = build();
        dot.enable_sni = false;
        let mut doh = build();
        doh.alpn_protocols = vec![b"h2".to_vec()];
        Trust {
            dot: Arc::new(dot),
            doh: Arc::new(doh),
        }
    }
}
