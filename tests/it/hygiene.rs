//! The updater's hygiene: where a download may go (no redirect into the
//! local network but within the configured host), that no program is ever
//! run with list data, what `ralo update` says when a cap is reached or when
//! it runs as root.
//!
//! The HTTPS fixture listens on 127.0.0.1: the configured URL (the first
//! hop) may name any host, so the fixture is reachable; redirects off that
//! host into loopback are what the guard refuses.

use std::path::{Path, PathBuf};

use ralo::image::{Image, Verdict};
use ralo::sources::{Error, Fetched, Fetcher, Limits, Location, Origin, SourceSpec};
use reqwest::Url;
use tokio::task::block_in_place;

use crate::process::Site;
use crate::support::https::{HttpsServer, Response};

const LIST: &str = "0.0.0.0 ads.example\n0.0.0.0 tracker.example\n";

/// A fixture server and a fetcher trusting it.
async fn fixture() -> (HttpsServer, tempfile::TempDir, Fetcher) {
    let server = HttpsServer::start().await;
    let state = tempfile::tempdir().expect("state dir");
    let fetcher = Fetcher::new(state.path(), Limits::default())
        .expect("fetcher")
        .with_extra_root(&server.ca_pem())
        .expect("test CA");
    (server, state, fetcher)
}

async fn fetch(fetcher: &Fetcher, url: String) -> Result<Fetched, Error> {
    let spec = SourceSpec {
        name: "remote".into(),
        location: Location::Url(url),
        allow_http: false,
    };
    fetcher.fetch(&spec).await
}

/// The fixture's URL for `path` with `localhost` for its address.
fn localhost_url(server: &HttpsServer, path: &str) -> String {
    format!("https://localhost:{}{path}", server.addr().port())
}

#[tokio::test]
async fn redirect_to_localhost_from_another_host_is_refused_before_any_request() {
    let (server, _state, fetcher) = fixture().await;
    server.set("/list", Response::text(LIST));
    let target = localhost_url(&server, "/list");
    server.set("/moved", Response::redirect(302, &target));
    let error = fetch(&fetcher, server.url("/moved")).await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, Error::NoLastGood { .. }), "{error:?}");
    assert!(text.contains("loopback address"), "{text}");
    assert!(text.contains("refused"), "{text}");
    assert_eq!(server.hits("/list"), 0);
}

#[tokio::test]
async fn redirect_to_other_loopback_addresses_is_refused() {
    let (server, _state, fetcher) = fixture().await;
    server.set("/list", Response::text(LIST));
    let port = server.addr().port();
    for target in [
        format!("https://127.0.0.2:{port}/list"),
        format!("https://[::1]:{port}/list"),
        format!("https://0.0.0.0:{port}/list"),
    ] {
        server.set("/moved", Response::redirect(301, &target));
        let text = fetch(&fetcher, server.url("/moved"))
            .await
            .unwrap_err()
            .to_string();
        assert!(text.contains("redirect to"), "{target}: {text}");
        assert!(
            text.contains("address; a list server may only"),
            "{target}: {text}"
        );
    }
    assert_eq!(server.hits("/list"), 0);
}

#[tokio::test]
async fn configured_localhost_url_is_fetched_and_may_redirect_within_its_host() {
    let (server, _state, fetcher) = fixture().await;
    server.set("/list", Response::text(LIST));
    server.set(
        "/moved",
        Response::redirect(302, &localhost_url(&server, "/list")),
    );
    let fetched = fetch(&fetcher, localhost_url(&server, "/moved"))
        .await
        .expect("a redirect within the configured host is followed");
    assert_eq!(fetched.origin, Origin::Fresh);
    assert_eq!(fetched.text, LIST);
    assert_eq!(server.hits("/list"), 1);

    // Off to the same machine under another host: refused.
    server.set("/away", Response::redirect(302, &server.url("/list")));
    let error = fetch(&fetcher, localhost_url(&server, "/away"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("loopback address"), "{error}");
    assert_eq!(server.hits("/list"), 1);
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_program_is_started_outside_the_supervisor() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "found only {} files", files.len());
    let patterns = [
        "process::Command",
        "Command::new",
        "std::os::unix::process",
        "posix_spawn",
        "execv",
        "/bin/sh",
        "\"sh\"",
        "\"bash\"",
    ];
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read source");
        for pattern in patterns {
            if text.contains(pattern) {
                found.push(format!(
                    "{}: {pattern}",
                    file.strip_prefix(&src).unwrap_or(file).display()
                ));
            }
        }
    }
    // The one program ralo starts is itself, with fixed arguments: `ralo
    // serve` supervising `ralo update --watch` and `ralo web`, and `ralo
    // web` running `ralo update` once.
    assert_eq!(
        found,
        [
            "supervise.rs: process::Command",
            "supervise.rs: Command::new"
        ],
        "a program is started outside src/supervise.rs"
    );
    let supervise = std::fs::read_to_string(src.join("supervise.rs")).expect("supervise.rs");
    assert!(supervise.contains("std::env::current_exe()"));
}

/// A site with no server child and these extra config keys.
fn site(extra: &str) -> Site {
    let upstream = "127.0.0.1:9".parse().expect("address");
    let site = Site::new(upstream, extra);
    let text = std::fs::read_to_string(site.config()).expect("config");
    let text = text.replacen("[server]\n", "[server]\nspawn_updater = false\n", 1);
    std::fs::write(site.config(), text).expect("config");
    site
}

/// The image `ralo update` stored in the site.
fn stored_image(site: &Site) -> Image<Vec<u8>> {
    let bytes = std::fs::read(site.path("state/image.bin")).expect("stored image");
    Image::open(bytes).expect("a valid image")
}

fn blocked(image: &Image<Vec<u8>>, name: &str) -> bool {
    matches!(image.lookup(name), Verdict::Blocked(_))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_syntax_in_lists_names_and_urls_is_never_run() {
    let web = HttpsServer::start().await;
    let dir = tempfile::tempdir().expect("marker dir");
    let marker = |n: u32| dir.path().join(format!("marker{n}"));
    let m = |n: u32| marker(n).display().to_string();
    let crafted = format!(
        "$(touch {})\n`touch {}`\nevil.example; touch {}\nevil.example && touch {}\n\
         0.0.0.0 $(touch {})\n||evil.example^$(touch {})\n| touch {}\nok.example\n",
        m(1),
        m(2),
        m(3),
        m(4),
        m(5),
        m(6),
        m(7)
    );
    let raw_url = format!("{}/list$(touch {})`touch {}`", web.url(""), m(8), m(9));
    let url = Url::parse(&raw_url).expect("the URL parses");
    web.set(url.path(), Response::text(crafted.clone()));
    let lists = format!(
        "[[lists]]\nname = \"$(touch {})\"\npath = \"crafted.txt\"\n\n\
         [[lists]]\nname = \"remote; touch {}\"\nurl = '{raw_url}'\n",
        m(10),
        m(11)
    );
    let site = site(&lists);
    site.write("crafted.txt", &crafted);
    site.write("ca.pem", &String::from_utf8_lossy(&web.ca_pem()));
    let ca = site.path("ca.pem");
    let out = block_in_place(|| site.update_with_env(&[], &[("SSL_CERT_FILE", ca.as_path())]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        web.hits(url.path()),
        1,
        "the crafted URL was fetched as a URL"
    );
    // Both lists: every crafted line is skipped or invalid, none accepted
    // (the hosts line counts its two words).
    let counts = "counts=1 accepted, 0 duplicate, 2 skipped, 6 invalid";
    assert_eq!(stderr.matches(counts).count(), 2, "{stderr}");

    let image = stored_image(&site);
    assert!(blocked(&image, "ok.example"));
    assert!(!blocked(&image, "evil.example"));
    assert_eq!(image.rule_count(), 1);
    for n in 1..=11 {
        assert!(!marker(n).exists(), "marker {n} was created: something ran");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_warns_when_a_list_passes_its_entry_cap() {
    let lists = "[update]\nmax_list_entries = 3\n\n[[lists]]\nname = \"big\"\npath = \"big.txt\"\n";
    let site = site(lists);
    site.write(
        "big.txt",
        "a.example\nb.example\nc.example\nd.example\ne.example\n",
    );
    let out = block_in_place(|| site.update(&[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("more rules than update.max_list_entries allows"),
        "{stderr}"
    );
    assert!(stderr.contains("left_out=2"), "{stderr}");
    let image = stored_image(&site);
    assert_eq!(image.rule_count(), 3);
    assert!(blocked(&image, "c.example") && !blocked(&image, "d.example"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_as_root_warns_and_still_publishes() {
    let site = site("[[lists]]\nname = \"mine\"\npath = \"mine.txt\"\n");
    site.write("mine.txt", "ads.example\n");
    let out = block_in_place(|| site.update(&[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let root = rustix::process::geteuid().is_root();
    assert_eq!(
        stderr.contains("ralo update is running as root"),
        root,
        "root: {root}\n{stderr}"
    );
    if root {
        assert!(stderr.contains("sudo -u ralo ralo update"), "{stderr}");
    }
    assert!(blocked(&stored_image(&site), "ads.example"));
}
