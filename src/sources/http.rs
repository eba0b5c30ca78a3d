//! One HTTP(S) download with the guards a list source needs: rustls with the
//! system's roots (plus any test root), a redirect policy that never
//! downgrades the scheme nor leads into the local network (see `guard`),
//! a resolver that keeps names met in redirects off local addresses, the
//! byte cap enforced while streaming, and a conditional GET from the stored
//! validators.
//!
//! Every way a download can fail comes back as a [`Refusal`], which
//! [`super::fetch`] turns into a fall-back on the last good copy.

use std::error::Error as StdError;
use std::time::Duration;

use reqwest::header::{
    CONTENT_TYPE, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use reqwest::{Certificate, Client, StatusCode, Url, redirect};

use super::checks::Refusal;
use super::fetch::Limits;
use super::guard::{GuardedResolver, check_redirect};

/// Redirects followed before a download fails.
pub(crate) const MAX_REDIRECTS: usize = 5;

/// What a successful download yielded.
#[derive(Debug)]
pub(crate) enum Download {
    /// A 2xx body, not yet checked.
    Body {
        /// The body, decompressed, at most `Limits::max_bytes` long.
        bytes: Vec<u8>,
        /// The `Content-Type` header.
        content_type: Option<String>,
        /// The `ETag` header.
        etag: Option<String>,
        /// The `Last-Modified` header.
        last_modified: Option<String>,
    },
    /// 304 to a conditional request: the stored copy is current.
    NotModified,
}

/// The validators of the stored copy, sent as `If-None-Match` and
/// `If-Modified-Since`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Validators<'a> {
    /// The stored `ETag`.
    pub(crate) etag: Option<&'a str>,
    /// The stored `Last-Modified`.
    pub(crate) last_modified: Option<&'a str>,
}

/// Builds the client for downloads of `configured` (one client per
/// download, so the resolver knows which host the config named): rustls on
/// the `ring` provider, the platform's roots plus `extra_roots`, the connect
/// timeout of `limits`, gzip, [`redirect_policy`] and a [`GuardedResolver`].
/// The whole-request timeout is [`download`]'s.
pub(crate) fn client(
    limits: &Limits,
    extra_roots: &[Certificate],
    configured: &Url,
) -> reqwest::Result<Client> {
    client_with(limits, extra_roots, GuardedResolver::new(configured))
}

/// [`client`] with a given resolver.
pub(crate) fn client_with(
    limits: &Limits,
    extra_roots: &[Certificate],
    resolver: GuardedResolver,
) -> reqwest::Result<Client> {
    // reqwest is built without a crypto provider of its own (that would pull
    // in aws-lc, a heavy C build for a Raspberry Pi) and uses the process
    // default. An error means a default is already installed, which reqwest
    // then uses: nothing to do.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .user_agent(concat!("ralo/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(limits.connect_timeout)
        .redirect(redirect_policy())
        .dns_resolver(std::sync::Arc::new(resolver))
        .gzip(true)
        .tls_certs_merge(extra_roots.iter().cloned())
        .build()
}

/// Follows at most [`MAX_REDIRECTS`] redirects, each to `https`, or from
/// `http` to `http` (the source was already allowed plain HTTP); a
/// redirect from `https` to anything else, or to another scheme, fails, and
/// so does one into the local network on another host than the configured
/// URL's ([`check_redirect`]).
pub(crate) fn redirect_policy() -> redirect::Policy {
    redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        let from = attempt.previous().last().map_or("", Url::scheme);
        let to = attempt.url().scheme();
        match (from, to) {
            ("https" | "http", "https") | ("http", "http") => {}
            _ => {
                let message = format!(
                    "redirect to {} refused: a source may not move from {from} to {to}",
                    attempt.url()
                );
                return attempt.error(message);
            }
        }
        let checked = match attempt.previous().first() {
            Some(configured) => check_redirect(configured, attempt.url()),
            None => Ok(()),
        };
        match checked {
            Ok(()) => attempt.follow(),
            Err(message) => attempt.error(message),
        }
    })
}

/// Downloads `url`, conditional on `validators`, reading at most
/// `max_bytes` of body and giving up after `timeout` overall.
pub(crate) async fn download(
    client: &Client,
    url: &Url,
    validators: Validators<'_>,
    max_bytes: u64,
    timeout: Duration,
) -> Result<Download, Refusal> {
    match tokio::time::timeout(timeout, download_inner(client, url, validators, max_bytes)).await {
        Ok(result) => result,
        Err(_elapsed) => Err(Refusal::TimedOut(timeout)),
    }
}

/// [`download`] without the outer deadline.
async fn download_inner(
    client: &Client,
    url: &Url,
    validators: Validators<'_>,
    max_bytes: u64,
) -> Result<Download, Refusal> {
    let mut request = client.get(url.clone());
    let mut conditional = false;
    for (name, value) in [
        (IF_NONE_MATCH, validators.etag),
        (IF_MODIFIED_SINCE, validators.last_modified),
    ] {
        if let Some(value) = value {
            request = request.header(name, value);
            conditional = true;
        }
    }
    let mut response = request.send().await.map_err(refusal)?;
    let status = response.status();
    if status == StatusCode::NOT_MODIFIED {
        return if conditional {
            Ok(Download::NotModified)
        } else {
            Err(Refusal::UnexpectedNotModified)
        };
    }
    if !status.is_success() {
        return Err(Refusal::Status(status.to_string()));
    }
    if response.content_length().is_some_and(|len| len > max_bytes) {
        return Err(Refusal::TooLarge(max_bytes));
    }
    let headers = response.headers();
    let (content_type, etag, last_modified) = (
        header(headers, CONTENT_TYPE),
        header(headers, ETAG),
        header(headers, LAST_MODIFIED),
    );
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(refusal)? {
        let len = u64::try_from(bytes.len() + chunk.len()).unwrap_or(u64::MAX);
        if len > max_bytes {
            return Err(Refusal::TooLarge(max_bytes));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Download::Body {
        bytes,
        content_type,
        etag,
        last_modified,
    })
}

/// A header's value, if present and visible ASCII.
fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}

/// The refusal for a reqwest error, with the whole chain of causes (the
/// top-level text alone rarely says what went wrong).
fn refusal(error: reqwest::Error) -> Refusal {
    if error.is_timeout() {
        // Only the connect timeout is reqwest's; the whole-request one is
        // the deadline in `download`.
        return Refusal::Network(format!("timed out: {}", chain(&error)));
    }
    Refusal::Network(chain(&error))
}

/// `error` and its sources joined with `: `, skipping repeats.
pub(crate) fn chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl StdError for Layer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn error_chain_joins_causes_and_skips_repeats() {
        let error = Layer(
            "error sending request",
            Some(Box::new(Layer(
                "tls: invalid peer certificate",
                Some(Box::new(Layer("invalid peer certificate", None))),
            ))),
        );
        assert_eq!(
            chain(&error),
            "error sending request: tls: invalid peer certificate"
        );
    }
}
