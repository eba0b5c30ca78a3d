//! [`Fetcher`]: one configured source in, its list text out, never worse
//! than the last good copy.
//!
//! A [`Location::File`] is read as it is. A [`Location::Url`] is downloaded
//! by [`super::http`] (conditional on the stored validators), checked by
//! [`super::checks`], and on success replaces the copy in
//! [`super::store`]; on any failure or refusal the stored copy is returned
//! as [`Origin::LastGood`] with the reason. [`Error`] is only for a source
//! that yields no text at all. The updater calls this for every source,
//! then parses the text with [`crate::lists`].

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Certificate, Client, Url};
use tracing::{info, warn};

use super::checks::{self, Refusal};
use super::error::Error;
use super::http::{self, Download, Validators};
use super::local::{LocalError, open_list_file};
use super::store::{Meta, Store, Stored};
use super::text::ListText;

/// Where a source's list is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file on this machine, already resolved against the config's folder.
    File(PathBuf),
    /// An `https://` URL (or `http://` with [`SourceSpec::allow_http`]).
    Url(String),
}

/// One configured list source, as the updater hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// The source's name from the config, used in logs, errors and the
    /// file names of its last good copy.
    pub name: String,
    /// Where its list is.
    pub location: Location,
    /// Whether a plain `http://` URL is accepted for it.
    pub allow_http: bool,
}

/// Bounds on every download.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// The most body bytes (after decompression) read from one source; a
    /// larger body is refused. Also the largest local file read (only
    /// regular files are read).
    pub max_bytes: u64,
    /// The longest a whole download (connect, redirects, body) may take.
    pub timeout: Duration,
    /// The longest a connection may take to open.
    pub connect_timeout: Duration,
    /// The share of entry lines, 0.0..=1.0, a list may lose against its
    /// last good copy; a list that loses more is refused.
    pub max_shrink: f64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bytes: 64 * 1024 * 1024,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_shrink: 0.5,
        }
    }
}

impl Limits {
    /// Refuses limits that would make every fetch fail or every check pass.
    fn validate(&self) -> Result<(), Error> {
        if self.max_bytes == 0 {
            return Err(Error::Limits(
                "max_bytes is 0; use at least a few MiB".into(),
            ));
        }
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::Limits(
                "timeout and connect_timeout must be above zero".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.max_shrink) {
            return Err(Error::Limits(format!(
                "max_shrink is {}; it is a share between 0.0 and 1.0, such as 0.5",
                self.max_shrink
            )));
        }
        Ok(())
    }
}

/// A source's list text and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The list: its file (the local list, or the last good copy of a
    /// download), or the download itself when the disk did not take it.
    pub text: ListText,
    /// Where the text came from.
    pub origin: Origin,
}

/// Where a [`Fetched`] text came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Downloaded now, checked, and stored as the new last good copy.
    Fresh,
    /// The server answered 304: the last good copy is current.
    NotModified,
    /// The download failed or was refused; this is the last good copy.
    LastGood {
        /// Why the download was not used.
        reason: String,
    },
    /// A local file, read as it is.
    Local,
}

/// Fetches sources, keeping the last good copy of each URL source under
/// `state_dir/sources/`.
#[derive(Debug, Clone)]
pub struct Fetcher {
    store: Store,
    limits: Limits,
    extra_roots: Vec<Certificate>,
}

impl Fetcher {
    /// A fetcher keeping its copies in `state_dir/sources/` (created if
    /// missing): each URL source's last good body and a small metadata file
    /// (ETag, Last-Modified, fetched-at, entry-line count).
    pub fn new(state_dir: &Path, limits: Limits) -> Result<Fetcher, Error> {
        limits.validate()?;
        let dir = state_dir.join("sources");
        let store =
            Store::open(dir.clone()).map_err(|source| Error::StateDir { path: dir, source })?;
        // A client is built per download; building one now reports a TLS
        // setup problem at start rather than at the first download.
        build_client(&limits, &[], &probe_url())?;
        Ok(Fetcher {
            store,
            limits,
            extra_roots: Vec::new(),
        })
    }

    /// This fetcher, also trusting the root certificate(s) in `pem`. For
    /// tests with a local certificate authority.
    pub fn with_extra_root(mut self, pem: &[u8]) -> Result<Fetcher, Error> {
        let certs = Certificate::from_pem_bundle(pem).map_err(|e| Error::ExtraRoot {
            reason: http::chain(&e),
        })?;
        if certs.is_empty() {
            return Err(Error::ExtraRoot {
                reason: "no PEM certificate found".into(),
            });
        }
        self.extra_roots.extend(certs);
        build_client(&self.limits, &self.extra_roots, &probe_url())?;
        Ok(self)
    }

    /// The text of `spec`'s list. Never worse than the last good copy: a
    /// failed or refused download returns that copy as [`Origin::LastGood`];
    /// it is an [`Error`] only when there is nothing to give.
    pub async fn fetch(&self, spec: &SourceSpec) -> Result<Fetched, Error> {
        match &spec.location {
            Location::File(path) => self.read_local(spec, path).await,
            Location::Url(url) => {
                let url = parse_url(spec, url)?;
                self.fetch_url(spec, &url).await
            }
        }
    }

    /// Checks a local list (a regular file, at most `max_bytes`); it is read
    /// when compiled.
    async fn read_local(&self, spec: &SourceSpec, path: &Path) -> Result<Fetched, Error> {
        let (owned, max_bytes) = (path.to_owned(), self.limits.max_bytes);
        let opened = tokio::task::spawn_blocking(move || {
            open_list_file(&owned, max_bytes).and_then(|file| Ok(file.metadata()?.len()))
        })
        .await
        .map_err(|e| LocalError::Io(io::Error::other(e)))
        .and_then(|r| r);
        let (name, path) = (spec.name.clone(), path.to_owned());
        let bytes = match opened {
            Ok(bytes) => bytes,
            Err(LocalError::Io(source)) => return Err(Error::LocalRead { name, path, source }),
            Err(LocalError::NotAFile) => return Err(Error::LocalNotAFile { name, path }),
            Err(LocalError::TooLarge { size, limit }) => {
                return Err(Error::LocalTooLarge {
                    name,
                    path,
                    size,
                    limit,
                });
            }
        };
        info!(source = %spec.name, path = %path.display(), bytes, "list source found");
        Ok(Fetched {
            text: ListText::file(path, max_bytes),
            origin: Origin::Local,
        })
    }

    /// Downloads a URL source, falling back on its last good copy.
    async fn fetch_url(&self, spec: &SourceSpec, url: &Url) -> Result<Fetched, Error> {
        let name = spec.name.as_str();
        let (stored, load_error) = match self.load(name, url).await {
            Ok(stored) => (stored, None),
            Err(e) => {
                warn!(source = name, dir = %self.store.dir().display(), error = %e, "cannot read the last good copy");
                (None, Some(e))
            }
        };
        let validators = stored
            .as_ref()
            .map_or_else(Validators::default, |s| Validators {
                etag: s.meta.etag.as_deref(),
                last_modified: s.meta.last_modified.as_deref(),
            });
        let outcome = match build_client(&self.limits, &self.extra_roots, url) {
            Ok(client) => {
                http::download(
                    &client,
                    url,
                    validators,
                    self.limits.max_bytes,
                    self.limits.timeout,
                )
                .await
            }
            Err(e) => Err(Refusal::Network(e.to_string())),
        };
        let refusal = match outcome {
            Ok(Download::NotModified) => match stored {
                Some(stored) => {
                    info!(source = name, %url, entries = stored.meta.entries, "list source not modified");
                    return Ok(Fetched {
                        text: self.stored_text(stored),
                        origin: Origin::NotModified,
                    });
                }
                // Validators are only sent when a copy was loaded.
                None => Refusal::UnexpectedNotModified,
            },
            Ok(Download::Body {
                bytes,
                content_type,
                etag,
                last_modified,
            }) => {
                let old_entries = stored.as_ref().map(|s| s.meta.entries);
                match checks::check_body(
                    content_type.as_deref(),
                    &bytes,
                    old_entries,
                    self.limits.max_shrink,
                ) {
                    Ok(entries) => {
                        let meta = Meta::new(url.as_str(), &bytes, entries, etag, last_modified);
                        info!(source = name, %url, entries, "list source fetched");
                        return Ok(Fetched {
                            text: self.save(name, bytes, meta).await,
                            origin: Origin::Fresh,
                        });
                    }
                    Err(refusal) => refusal,
                }
            }
            Err(refusal) => refusal,
        };
        let reason = refusal.to_string();
        match stored {
            Some(stored) => {
                warn!(
                    source = name,
                    %url,
                    %reason,
                    copy_age_secs = stored.meta.age_secs(),
                    entries = stored.meta.entries,
                    "list source not updated; using its last good copy"
                );
                Ok(Fetched {
                    text: self.stored_text(stored),
                    origin: Origin::LastGood { reason },
                })
            }
            None => {
                let reason = match load_error {
                    Some(e) => {
                        format!("{reason}; the last good copy could not be read either: {e}")
                    }
                    None => reason,
                };
                warn!(source = name, %url, %reason, "list source failed and has no last good copy");
                Err(Error::NoLastGood {
                    name: name.to_owned(),
                    url: url.to_string(),
                    reason,
                })
            }
        }
    }

    /// Loads the last good copy on the blocking pool.
    async fn load(&self, name: &str, url: &Url) -> io::Result<Option<Stored>> {
        let (store, name, url) = (self.store.clone(), name.to_owned(), url.to_string());
        blocking(move || store.load(&name, &url)).await
    }

    /// Stores a new good copy on the blocking pool and gives its file. A
    /// copy that cannot be stored is logged, not returned: the text in hand
    /// is good, only the next fall-back is older, and it is given from
    /// memory.
    async fn save(&self, name: &str, body: Vec<u8>, meta: Meta) -> ListText {
        let (store, owned_name) = (self.store.clone(), name.to_owned());
        let body = Arc::new(body);
        let shared = Arc::clone(&body);
        match blocking(move || store.save(&owned_name, &shared, &meta)).await {
            Ok(path) => ListText::file(path, self.limits.max_bytes),
            Err(e) => {
                warn!(source = name, dir = %self.store.dir().display(), error = %e, "cannot store the new last good copy; check disk space and permissions");
                let body = Arc::try_unwrap(body).unwrap_or_else(|shared| shared.to_vec());
                ListText::Memory(checks::into_text(body))
            }
        }
    }

    /// The text of a last good copy: its file.
    fn stored_text(&self, stored: Stored) -> ListText {
        ListText::file(stored.path, self.limits.max_bytes)
    }
}

/// Builds the HTTP client for downloads of `configured`, mapping its error.
fn build_client(
    limits: &Limits,
    extra_roots: &[Certificate],
    configured: &Url,
) -> Result<Client, Error> {
    http::client(limits, extra_roots, configured).map_err(|e| Error::Client {
        reason: http::chain(&e),
    })
}

/// A URL to build a client for when checking the TLS setup.
fn probe_url() -> Url {
    // A fixed, valid literal.
    Url::parse("https://localhost/").unwrap_or_else(|_| unreachable!("a valid URL"))
}

/// Parses `url` and checks its scheme against `spec`.
fn parse_url(spec: &SourceSpec, url: &str) -> Result<Url, Error> {
    let parsed = Url::parse(url).map_err(|e| Error::BadUrl {
        name: spec.name.clone(),
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if spec.allow_http => Ok(parsed),
        "http" => Err(Error::HttpNotAllowed {
            name: spec.name.clone(),
            url: url.to_owned(),
        }),
        scheme => Err(Error::UnsupportedScheme {
            name: spec.name.clone(),
            url: url.to_owned(),
            scheme: scheme.to_owned(),
        }),
    }
}

/// Runs blocking file I/O on tokio's blocking pool.
async fn blocking<T, F>(f: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str, allow_http: bool) -> SourceSpec {
        SourceSpec {
            name: "ads".into(),
            location: Location::Url(url.into()),
            allow_http,
        }
    }

    #[test]
    fn https_urls_are_accepted() {
        assert!(
            parse_url(
                &spec("https://lists.example/a.txt", false),
                "https://lists.example/a.txt"
            )
            .is_ok()
        );
    }

    #[test]
    fn http_url_needs_allow_http() {
        let url = "http://lists.example/a.txt";
        assert!(matches!(
            parse_url(&spec(url, false), url),
            Err(Error::HttpNotAllowed { .. })
        ));
        assert!(parse_url(&spec(url, true), url).is_ok());
    }

    #[test]
    fn other_schemes_are_refused_even_with_allow_http() {
        let url = "ftp://lists.example/a.txt";
        let error = parse_url(&spec(url, true), url).unwrap_err();
        assert!(matches!(error, Error::UnsupportedScheme { .. }));
        assert!(error.to_string().contains("source `ads`"), "{error}");
    }

    #[test]
    fn unparsable_url_is_a_bad_url() {
        assert!(matches!(
            parse_url(&spec("not a url", false), "not a url"),
            Err(Error::BadUrl { .. })
        ));
    }

    #[test]
    fn default_limits_are_valid_and_out_of_range_ones_are_not() {
        assert!(Limits::default().validate().is_ok());
        for limits in [
            Limits {
                max_bytes: 0,
                ..Limits::default()
            },
            Limits {
                timeout: Duration::ZERO,
                ..Limits::default()
            },
            Limits {
                max_shrink: 1.5,
                ..Limits::default()
            },
            Limits {
                max_shrink: f64::NAN,
                ..Limits::default()
            },
        ] {
            assert!(
                matches!(limits.validate(), Err(Error::Limits(_))),
                "{limits:?}"
            );
        }
    }

    #[tokio::test]
    async fn missing_local_file_is_an_error_naming_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let fetcher = Fetcher::new(dir.path(), Limits::default()).unwrap();
        let spec = SourceSpec {
            name: "mine".into(),
            location: Location::File(dir.path().join("absent.txt")),
            allow_http: false,
        };
        let error = fetcher.fetch(&spec).await.unwrap_err();
        assert!(matches!(error, Error::LocalRead { .. }));
        assert!(error.to_string().starts_with("source `mine`"), "{error}");
    }

    #[tokio::test]
    async fn local_file_over_max_bytes_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.txt");
        std::fs::write(&path, "a.example\n".repeat(10)).unwrap();
        let limits = Limits {
            max_bytes: 50,
            ..Limits::default()
        };
        let fetcher = Fetcher::new(dir.path(), limits).unwrap();
        let spec = SourceSpec {
            name: "big".into(),
            location: Location::File(path),
            allow_http: false,
        };
        assert!(matches!(
            fetcher.fetch(&spec).await,
            Err(Error::LocalTooLarge {
                size: 100,
                limit: 50,
                ..
            })
        ));
    }

    #[tokio::test]
    async fn local_device_is_refused_as_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let fetcher = Fetcher::new(dir.path(), Limits::default()).unwrap();
        let spec = SourceSpec {
            name: "zeros".into(),
            location: Location::File("/dev/zero".into()),
            allow_http: false,
        };
        let error = fetcher.fetch(&spec).await.unwrap_err();
        assert!(matches!(error, Error::LocalNotAFile { .. }), "{error:?}");
        assert!(error.to_string().contains("source `zeros`"), "{error}");
    }

    #[test]
    fn extra_root_without_a_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fetcher = Fetcher::new(dir.path(), Limits::default()).unwrap();
        assert!(matches!(
            fetcher.with_extra_root(b"not pem"),
            Err(Error::ExtraRoot { .. })
        ));
    }
}
