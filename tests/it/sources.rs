//! `ralo::sources::Fetcher` against a real HTTPS server on loopback
//! ([`crate::support::https`]): fresh fetches, conditional GETs, and every
//! way a download is refused in favour of the last good copy.
//!
//! These tests use real sockets and TLS, so the one timing test (the slow
//! drip) runs on the real clock with a one-second timeout.

use std::path::Path;
use std::time::{Duration, Instant};

use ralo::sources::{Error, Fetched, Fetcher, Limits, Location, Origin, SourceSpec};
use tempfile::TempDir;

use crate::support::https::{Drip, HttpsServer, Response};

/// A list with a comment header and `n` entry lines.
fn list(n: usize) -> String {
    let mut text = String::from("# test list\n! adblock-style comment\n\n");
    for i in 0..n {
        text.push_str(&format!("0.0.0.0 host{i}.example\n"));
    }
    text
}

/// A server, a state folder, and a fetcher trusting the server's CA.
struct Setup {
    server: HttpsServer,
    state: TempDir,
    fetcher: Fetcher,
}

impl Setup {
    async fn new() -> Setup {
        Setup::with_limits(Limits::default()).await
    }

    async fn with_limits(limits: Limits) -> Setup {
        let server = HttpsServer::start().await;
        let state = tempfile::tempdir().unwrap();
        let fetcher = Fetcher::new(state.path(), limits)
            .unwrap()
            .with_extra_root(&server.ca_pem())
            .unwrap();
        Setup {
            server,
            state,
            fetcher,
        }
    }

    fn spec(&self, path: &str) -> SourceSpec {
        SourceSpec {
            name: "Test List".into(),
            location: Location::Url(self.server.url(path)),
            allow_http: false,
        }
    }

    async fn fetch(&self, path: &str) -> Result<Fetched, Error> {
        self.fetcher.fetch(&self.spec(path)).await
    }

    /// Serves `text` at `path` and fetches it once, so a last good copy exists.
    async fn prime(&self, path: &str, text: &str) {
        self.server.set(path, Response::text(text));
        let fetched = self.fetch(path).await.unwrap();
        assert_eq!(fetched.origin, Origin::Fresh);
    }

    /// Serves `response` at `path`, fetches, and expects the last good copy
    /// `text` with a reason containing `why`.
    async fn expect_last_good(&self, path: &str, response: Response, text: &str, why: &str) {
        self.server.set(path, response);
        let fetched = self.fetch(path).await.unwrap();
        assert_eq!(fetched.text, text);
        match fetched.origin {
            Origin::LastGood { reason } => assert!(reason.contains(why), "reason: {reason}"),
            other => panic!("expected LastGood, got {other:?}"),
        }
    }
}

/// The file names in `state/sources/`.
fn stored_files(state: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(state.join("sources"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn fresh_fetch_is_returned_and_stored_as_last_good_copy() {
    let s = Setup::new().await;
    let text = list(10);
    s.server.set("/list", Response::text(text.clone()));
    let fetched = s.fetch("/list").await.unwrap();
    assert_eq!(
        fetched,
        Fetched {
            text: text.clone().into(),
            origin: Origin::Fresh
        }
    );

    let files = stored_files(s.state.path());
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files.iter().all(|f| f.starts_with("test_list-")),
        "{files:?}"
    );
    let body = files.iter().find(|f| f.ends_with(".list")).unwrap();
    assert_eq!(
        std::fs::read_to_string(s.state.path().join("sources").join(body)).unwrap(),
        text
    );
}

#[tokio::test]
async fn etag_304_returns_stored_copy_as_not_modified() {
    let s = Setup::new().await;
    let text = list(5);
    s.server.set(
        "/list",
        Response::text(text.clone()).with_header("ETag", "\"v1\""),
    );
    assert_eq!(s.fetch("/list").await.unwrap().origin, Origin::Fresh);
    assert_eq!(s.server.if_none_match_hits("/list"), 0);

    let fetched = s.fetch("/list").await.unwrap();
    assert_eq!(
        fetched,
        Fetched {
            text: text.into(),
            origin: Origin::NotModified
        }
    );
    assert_eq!(s.server.hits("/list"), 2);
    assert_eq!(s.server.if_none_match_hits("/list"), 1);
}

#[tokio::test]
async fn last_modified_304_returns_stored_copy_as_not_modified() {
    let s = Setup::new().await;
    let date = "Wed, 21 Oct 2015 07:28:00 GMT";
    s.server.set(
        "/list",
        Response::text(list(5)).with_header("Last-Modified", date),
    );
    assert_eq!(s.fetch("/list").await.unwrap().origin, Origin::Fresh);
    assert_eq!(s.fetch("/list").await.unwrap().origin, Origin::NotModified);
}

#[tokio::test]
async fn server_error_falls_back_to_last_good_copy() {
    let s = Setup::new().await;
    let text = list(10);
    s.prime("/list", &text).await;
    s.expect_last_good("/list", Response::status(500), &text, "HTTP 500")
        .await;
}

#[tokio::test]
async fn html_page_served_as_200_falls_back_to_last_good_copy() {
    let s = Setup::new().await;
    let text = list(10);
    s.prime("/list", &text).await;
    let page = "<!DOCTYPE html><html><body>Please log in</body></html>";
    let html = Response::status(200)
        .with_header("Content-Type", "text/html; charset=utf-8")
        .with_body(page);
    s.expect_last_good("/list", html, &text, "HTML page").await;
    let disguised = Response::text(format!("\n  <HTML>{}", list(20)));
    s.expect_last_good("/list", disguised, &text, "HTML page")
        .await;
}

#[tokio::test]
async fn empty_body_falls_back_to_last_good_copy() {
    let s = Setup::new().await;
    let text = list(10);
    s.prime("/list", &text).await;
    s.expect_last_good("/list", Response::text(""), &text, "empty")
        .await;
}

#[tokio::test]
async fn whitespace_body_falls_back_to_last_good_copy() {
    let s = Setup::new().await;
    let text = list(10);
    s.prime("/list", &text).await;
    s.expect_last_good("/list", Response::text(" \n\r\n\t \n"), &text, "whitespace")
        .await;
}

#[tokio::test]
async fn binary_body_falls_back_to_last_good_copy() {
    let s = Setup::new().await;
    let text = list(10);
    s.prime("/list", &text).await;
    let gzip_file = Response::text(b"\x1f\x8b\x08\x00\x00\x00\x00\x00".to_vec());
    s.expect_last_good("/list", gzip_file, &text, "NUL byte")
        .await;
}

#[tokio::test]
async fn list_that_lost_60_percent_falls_back_and_one_that_lost_40_percent_is_fresh() {
    let s = Setup::new().await;
    let text = list(100);
    s.prime("/list", &text).await;
    s.expect_last_good(
        "/list",
        Response::text(list(40)),
        &text,
        "shrank from 100 to 40",
    )
    .await;

    s.server.set("/list", Response::text(list(60)));
    let fetched = s.fetch("/list").await.unwrap();
    assert_eq!(
        fetched,
        Fetched {
            text: list(60).into(),
            origin: Origin::Fresh
        }
    );
}

#[tokio::test]
async fn slow_drip_beyond_timeout_falls_back_within_bounded_time() {
    let limits = Limits {
        timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let s = Setup::with_limits(limits).await;
    let text = list(10);
    s.prime("/list", &text).await;
    s.server.set_drip(
        "/list",
        Drip {
            chunk: b"0.0.0.0 slow.example\n".to_vec(),
            chunks: 100,
            every: Duration::from_millis(100),
        },
    );
    let started = Instant::now();
    let fetched = s.fetch("/list").await.unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(4), "took {elapsed:?}");
    assert_eq!(fetched.text, text);
    assert_eq!(
        fetched.origin,
        Origin::LastGood {
            reason: "no complete answer within 1 s (the fetch timeout)".into()
        }
    );
}

#[tokio::test]
async fn body_over_max_bytes_falls_back_with_or_without_content_length() {
    let limits = Limits {
        max_bytes: 2_000,
        ..Limits::default()
    };
    let s = Setup::with_limits(limits).await;
    let text = list(10);
    s.prime("/list", &text).await;
    let big = list(200);
    assert!(big.len() > 2_000);
    s.expect_last_good(
        "/list",
        Response::text(big.clone()),
        &text,
        "2000-byte limit",
    )
    .await;
    s.expect_last_good(
        "/list",
        Response::text(big).without_length(),
        &text,
        "2000-byte limit",
    )
    .await;
}

#[tokio::test]
async fn first_fetch_failing_is_an_error_naming_the_source() {
    let s = Setup::new().await;
    s.server.set("/list", Response::status(503));
    let error = s.fetch("/list").await.unwrap_err();
    assert!(matches!(error, Error::NoLastGood { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("source `Test List`"), "{message}");
    assert!(message.contains("HTTP 503"), "{message}");
    assert!(message.contains("no last good copy"), "{message}");
}

#[tokio::test]
async fn changed_url_does_not_reuse_the_old_copy() {
    let s = Setup::new().await;
    s.prime("/old", &list(10)).await;
    s.server.set("/new", Response::status(500));
    assert!(matches!(
        s.fetch("/new").await,
        Err(Error::NoLastGood { .. })
    ));
}

#[tokio::test]
async fn http_url_without_allow_http_is_an_error() {
    let s = Setup::new().await;
    let spec = SourceSpec {
        name: "plain".into(),
        location: Location::Url(format!("http://{}/list", s.server.addr())),
        allow_http: false,
    };
    let error = s.fetcher.fetch(&spec).await.unwrap_err();
    assert!(matches!(error, Error::HttpNotAllowed { .. }), "{error:?}");
    assert!(error.to_string().contains("allow_http = true"), "{error}");
    assert_eq!(s.server.hits("/list"), 0);
}

#[tokio::test]
async fn https_to_https_redirect_is_followed() {
    let s = Setup::new().await;
    let text = list(10);
    s.server
        .set("/moved", Response::redirect(301, &s.server.url("/list")));
    s.server.set("/list", Response::text(text.clone()));
    assert_eq!(
        s.fetch("/moved").await.unwrap(),
        Fetched {
            text: text.into(),
            origin: Origin::Fresh
        }
    );
}

#[tokio::test]
async fn https_to_http_redirect_is_refused() {
    let s = Setup::new().await;
    let text = list(10);
    s.prime("/list", &text).await;
    let downgrade = format!("http://{}/plain", s.server.addr());
    s.expect_last_good(
        "/list",
        Response::redirect(302, &downgrade),
        &text,
        "redirect to http://",
    )
    .await;
    assert_eq!(s.server.hits("/plain"), 0);

    s.server.set("/first", Response::redirect(302, &downgrade));
    assert!(matches!(
        s.fetch("/first").await,
        Err(Error::NoLastGood { .. })
    ));
}

#[tokio::test]
async fn redirect_loop_stops_after_five_redirects() {
    let s = Setup::new().await;
    s.server
        .set("/loop", Response::redirect(302, &s.server.url("/loop")));
    let error = s.fetch("/loop").await.unwrap_err();
    assert!(
        error.to_string().contains("more than 5 redirects"),
        "{error}"
    );
    assert_eq!(s.server.hits("/loop"), 6);
}

#[tokio::test]
async fn corrupt_metadata_file_is_ignored() {
    let s = Setup::new().await;
    let text = list(10);
    s.server.set(
        "/list",
        Response::text(text.clone()).with_header("ETag", "\"v1\""),
    );
    assert_eq!(s.fetch("/list").await.unwrap().origin, Origin::Fresh);
    let sources = s.state.path().join("sources");
    let meta = stored_files(s.state.path())
        .into_iter()
        .find(|f| f.ends_with(".meta"))
        .unwrap();
    std::fs::write(sources.join(&meta), b"\x00\xffnot=metadata\nentries=lots\n").unwrap();

    // No validators are sent, so the server answers 200 and the copy is renewed.
    let fetched = s.fetch("/list").await.unwrap();
    assert_eq!(
        fetched,
        Fetched {
            text: text.clone().into(),
            origin: Origin::Fresh
        }
    );
    assert_eq!(s.server.if_none_match_hits("/list"), 0);
    assert_eq!(s.fetch("/list").await.unwrap().origin, Origin::NotModified);

    // With corrupt metadata the copy still serves as the last good one.
    std::fs::write(sources.join(&meta), b"garbage").unwrap();
    s.expect_last_good("/list", Response::status(500), &text, "HTTP 500")
        .await;
}

#[tokio::test]
async fn untrusted_certificate_is_a_network_failure() {
    let s = Setup::new().await;
    s.server.set("/list", Response::text(list(3)));
    let state = tempfile::tempdir().unwrap();
    let strict = Fetcher::new(state.path(), Limits::default()).unwrap();
    let error = strict.fetch(&s.spec("/list")).await.unwrap_err();
    assert!(error.to_string().contains("certificate"), "{error}");
}

#[tokio::test]
async fn local_file_is_read_as_local() {
    let s = Setup::new().await;
    let path = s.state.path().join("mine.txt");
    std::fs::write(&path, b"\xEF\xBB\xBFmine.example\nbad\xFFbyte.example\n").unwrap();
    let spec = SourceSpec {
        name: "mine".into(),
        location: Location::File(path),
        allow_http: false,
    };
    let fetched = s.fetcher.fetch(&spec).await.unwrap();
    assert_eq!(
        fetched,
        Fetched {
            text: "mine.example\nbad\u{FFFD}byte.example\n".into(),
            origin: Origin::Local
        }
    );
}
