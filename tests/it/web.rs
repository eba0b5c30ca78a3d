//! `ralo web` against real `serve` and `update` processes: the session
//! rules of the API, the numbers of the summary against the queries sent,
//! the history across a restart, batched writes, the access gate, an allow
//! from the API live in DNS, groups and clients edited in the config file,
//! and Home Assistant's Pi-hole client (`hole`).

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use serde_json::{Value, json};
use tokio::task::block_in_place;

use crate::process::Site;
use crate::support::client::{Client, answers_a};
use crate::support::upstream::Upstream;

pub const PASSWORD: &str = "correct horse battery";

const LISTS: &str = "[[lists]]\nname = \"ads\"\npath = \"ads.txt\"\n\n[[lists]]\nname = \"mine\"\npath = \"block.txt\"\nhousehold = true\n\n[[allowlists]]\nname = \"ok\"\npath = \"allow.txt\"\nhousehold = true\n\n[web]\nlisten = \"127.0.0.1:0\"\nflush_secs = 2\n";

/// A running `ralo web`; killed on drop.
pub struct Web {
    child: Child,
    /// Its HTTP address.
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Web {
    /// Its log so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// `http://addr` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Ends it with SIGTERM (it flushes its history) and waits.
    pub fn stop(mut self) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("pid");
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("ralo web did not stop on SIGTERM; log:\n{}", self.log());
    }
}

impl Drop for Web {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ralo() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ralo"))
}

/// Sets the web password of `site` through `ralo web --set-password`.
pub fn set_password(site: &Site, password: &str) {
    let mut child = ralo()
        .args(["web", "--set-password", "--config"])
        .arg(site.config())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ralo web --set-password");
    writeln!(child.stdin.take().expect("stdin"), "{password}").expect("write password");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts `ralo web --config` for `site` and waits for its address.
pub fn start_web(site: &Site) -> Web {
    let mut child = ralo()
        .args(["web", "--config"])
        .arg(site.config())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ralo web");
    let stderr = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("web page at http://").nth(1)
                && let Some(addr) = rest.split('/').next().and_then(|a| a.parse().ok())
            {
                let _ = tx.send(addr);
            }
            if let Ok(mut log) = sink.lock() {
                log.push_str(&line);
                log.push('\n');
            }
        }
    });
    let addr: SocketAddr = rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| {
            let _ = child.kill();
            panic!(
                "ralo web did not report its address; log:\n{}",
                log.lock().map(|l| l.clone()).unwrap_or_default()
            )
        });
    Web { child, addr, log }
}

/// A site with lists, a password, a running server (with its updater) and
/// a running `ralo web`.
pub fn site_with_web(upstream: SocketAddr, extra: &str) -> (Site, crate::process::Server, Web) {
    let site = Site::new(upstream, &format!("{LISTS}{extra}"));
    site.write(
        "ads.txt",
        "0.0.0.0 tracker.example.com\n||ads.example.com^\n",
    );
    site.write("block.txt", "");
    site.write("allow.txt", "");
    set_password(&site, PASSWORD);
    let server = block_in_place(|| site.serve());
    let generation = block_in_place(|| site.wait_generation(1, Duration::from_secs(10)));
    assert!(generation >= 1, "{}", server.log());
    let web = block_in_place(|| start_web(&site));
    (site, server, web)
}

/// A small HTTP client that keeps the session as Pi-hole's page does.
pub struct Api {
    http: reqwest::Client,
    base: String,
    /// The session id, once logged in.
    pub sid: Option<String>,
    /// Its CSRF token.
    pub csrf: Option<String>,
}

/// A response: status and JSON body (`Null` when there is none).
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body as JSON.
    pub body: Value,
    /// The `Set-Cookie` header, if any.
    pub cookie: Option<String>,
}

/// How a request presents the session.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No session.
    None,
    /// The `sid` cookie only.
    CookieOnly,
    /// The `sid` cookie and the CSRF header, as the page sends it.
    Cookie,
    /// The `X-FTL-SID` header, as scripts send it.
    Header,
}

impl Api {
    /// A client for `web`.
    pub fn new(web: &Web) -> Api {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Api {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            base: web.url(""),
            sid: None,
            csrf: None,
        }
    }

    /// Sends one request.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>, auth: Auth) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let sid = self.sid.clone().unwrap_or_default();
        match auth {
            Auth::None => {}
            Auth::CookieOnly => request = request.header("cookie", format!("sid={sid}")),
            Auth::Cookie => {
                request = request
                    .header("cookie", format!("sid={sid}"))
                    .header("x-csrf-token", self.csrf.clone().unwrap_or_default());
            }
            Auth::Header => request = request.header("x-ftl-sid", sid),
        }
        let response = request.send().await.expect("http request");
        let status = response.status().as_u16();
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            body,
            cookie,
        }
    }

    /// Logs in; panics unless it works.
    pub async fn login(&mut self, password: &str) -> Answer {
        let answer = self
            .call(
                "POST",
                "/api/auth",
                Some(json!({"password": password})),
                Auth::None,
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        self.sid = answer.body["session"]["sid"].as_str().map(str::to_owned);
        self.csrf = answer.body["session"]["csrf"].as_str().map(str::to_owned);
        answer
    }

    /// GET with the header session; the JSON body of a 200.
    pub async fn get(&self, path: &str) -> Value {
        let answer = self.call("GET", path, None, Auth::Header).await;
        assert_eq!(answer.status, 200, "GET {path}: {}", answer.body);
        answer.body
    }
}

/// Polls `check` every 100 ms until it holds (at most `limit`).
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn blocked(msg: &hickory_proto::op::Message) -> bool {
    answers_a(msg) == vec![Ipv4Addr::UNSPECIFIED]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_wants_a_session_and_the_cookie_wants_its_csrf_token() {
    let up = Upstream::standard().await;
    let (_site, server, web) = site_with_web(up.addr(), "");
    let mut api = Api::new(&web);
    let denied = api
        .call("GET", "/api/stats/summary", None, Auth::None)
        .await;
    assert_eq!(denied.status, 401, "{}", denied.body);
    assert_eq!(denied.body["error"]["key"], "unauthorized");
    let wrong = api
        .call(
            "POST",
            "/api/auth",
            Some(json!({"password": "nope"})),
            Auth::None,
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.body["session"]["valid"], false);
    let login = api.login(PASSWORD).await;
    let cookie = login.cookie.expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert_eq!(api.sid.as_ref().map(String::len), Some(32));

    // The cookie alone may not change anything.
    let forged = api
        .call(
            "POST",
            "/api/dns/blocking",
            Some(json!({"blocking": false, "timer": null})),
            Auth::CookieOnly,
        )
        .await;
    assert_eq!(forged.status, 401, "{}", forged.body);
    let state = api.get("/api/dns/blocking").await;
    assert_eq!(state["blocking"], "enabled");
    let dns = Client::new(server.addr);
    assert!(blocked(&dns.udp("ads.example.com", RecordType::A).await));

    // With the token it does, and the pause is the server's.
    let paused = api
        .call(
            "POST",
            "/api/dns/blocking",
            Some(json!({"blocking": false, "timer": 300})),
            Auth::Cookie,
        )
        .await;
    assert_eq!(paused.status, 200, "{}", paused.body);
    assert_eq!(paused.body["blocking"], "disabled");
    let timer = paused.body["timer"].as_f64().expect("a timer");
    assert!((290.0..=300.0).contains(&timer), "{timer}");
    assert!(!blocked(&dns.udp("ads.example.com", RecordType::A).await));
    let resumed = api
        .call(
            "POST",
            "/api/dns/blocking",
            Some(json!({"blocking": true})),
            Auth::Header,
        )
        .await;
    assert_eq!(resumed.body["blocking"], "enabled");
    assert!(blocked(&dns.udp("ads.example.com", RecordType::A).await));

    // Logging out ends the session.
    let out = api.call("DELETE", "/api/auth", None, Auth::Header).await;
    assert_eq!(out.status, 204);
    let after = api
        .call("GET", "/api/stats/summary", None, Auth::Header)
        .await;
    assert_eq!(after.status, 401);
    drop(web);
}

/// Pi-hole's own documentation logs in with `curl --data '{"password": …}'`,
/// which sends the JSON as a form: the body is JSON whatever its
/// `Content-Type` says, and a body that is not JSON is a 400 in Pi-hole's
/// shape that changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_body_is_read_whatever_its_content_type_says() {
    let up = Upstream::standard().await;
    let (_site, server, web) = site_with_web(up.addr(), "");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let login = http
        .post(web.url("/api/auth"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(json!({ "password": PASSWORD }).to_string())
        .send()
        .await
        .expect("login");
    assert_eq!(login.status().as_u16(), 200);
    let body: Value = serde_json::from_str(&login.text().await.expect("body")).expect("json");
    let sid = body["session"]["sid"]
        .as_str()
        .expect("a session")
        .to_owned();

    for text in ["{\"blocking\": fals", "blocking=false", "[1, 2]"] {
        let refused = http
            .post(web.url("/api/dns/blocking"))
            .header("x-ftl-sid", &sid)
            .body(text)
            .send()
            .await
            .expect("post");
        assert_eq!(refused.status().as_u16(), 400, "{text}");
        let body: Value =
            serde_json::from_str(&refused.text().await.expect("body")).expect("an error in JSON");
        assert_eq!(body["error"]["key"], "bad_request", "{text}: {body}");
    }
    let dns = Client::new(server.addr);
    assert!(blocked(&dns.udp("ads.example.com", RecordType::A).await));

    let paused = http
        .post(web.url("/api/dns/blocking"))
        .header("x-ftl-sid", &sid)
        .body(json!({"blocking": false, "timer": 60}).to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(paused.status().as_u16(), 200);
    assert!(!blocked(&dns.udp("ads.example.com", RecordType::A).await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_passwords_in_a_row_slow_the_client_down() {
    let up = Upstream::standard().await;
    let (_site, _server, web) = site_with_web(up.addr(), "");
    let mut api = Api::new(&web);
    for _ in 0..5 {
        let wrong = api
            .call(
                "POST",
                "/api/auth",
                Some(json!({"password": "guess"})),
                Auth::None,
            )
            .await;
        assert_eq!(wrong.status, 401);
    }
    let braked = api
        .call(
            "POST",
            "/api/auth",
            Some(json!({"password": PASSWORD})),
            Auth::None,
        )
        .await;
    assert_eq!(braked.status, 429, "{}", braked.body);
    assert!(
        braked.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("try again")),
        "{}",
        braked.body
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    api.login(PASSWORD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_counts_the_queries_sent_and_the_history_survives_a_restart() {
    let up = Upstream::standard().await;
    let (site, server, web) = site_with_web(up.addr(), "");
    let dns = Client::new(server.addr);
    for i in 0..6 {
        dns.udp("ads.example.com", RecordType::A).await;
        dns.udp(&format!("host{i}.example.com"), RecordType::A)
            .await;
    }
    dns.udp("tracker.example.com", RecordType::AAAA).await;
    let mut api = Api::new(&web);
    api.login(PASSWORD).await;
    let counted = eventually(Duration::from_secs(5), || async {
        api.get("/api/stats/summary").await["queries"]["total"] == 13
    })
    .await;
    let summary = api.get("/api/stats/summary").await;
    assert!(counted, "{summary}\n{}", web.log());
    assert_eq!(summary["queries"]["blocked"], 7);
    assert_eq!(summary["queries"]["unique_domains"], 8);
    assert_eq!(summary["clients"]["active"], 1);
    assert_eq!(summary["queries"]["types"]["AAAA"], 1);
    assert_eq!(summary["gravity"]["domains_being_blocked"], 2);
    let top = api
        .get("/api/stats/top_domains?blocked=true&count=10")
        .await;
    assert_eq!(top["domains"][0]["domain"], "ads.example.com");
    assert_eq!(top["domains"][0]["count"], 6);
    let log = api.get("/api/queries?length=5").await;
    assert_eq!(log["recordsTotal"], 13);
    assert_eq!(log["queries"].as_array().map(Vec::len), Some(5));
    assert_eq!(log["queries"][0]["domain"], "tracker.example.com");
    assert_eq!(log["queries"][0]["status"], "GRAVITY");
    assert_eq!(log["queries"][0]["list"], "ads");
    let only_blocked = api.get("/api/queries?outcome=blocked&length=100").await;
    assert_eq!(only_blocked["recordsFiltered"], 7);
    let by_name = api.get("/api/queries?domain=host3.example.com").await;
    assert_eq!(by_name["recordsFiltered"], 1);
    assert_eq!(by_name["queries"][0]["outcome"], "forwarded");

    // A restarted server is followed: its queries join the history.
    drop(server);
    let server = block_in_place(|| site.serve());
    let dns = Client::new(server.addr);
    dns.udp("ads.example.com", RecordType::A).await;
    dns.udp("after.example.com", RecordType::A).await;
    let followed = eventually(Duration::from_secs(10), || async {
        api.get("/api/stats/summary").await["queries"]["total"] == 15
    })
    .await;
    assert!(followed, "{}", web.log());

    // Stop everything, start everything: the history is still there.
    block_in_place(|| web.stop());
    drop(server);
    let server = block_in_place(|| site.serve());
    let web = block_in_place(|| start_web(&site));
    let mut api = Api::new(&web);
    api.login(PASSWORD).await;
    let after = api.get("/api/stats/summary").await;
    assert_eq!(after["queries"]["total"], 15, "{after}\n{}", web.log());
    assert_eq!(after["queries"]["blocked"], 8);
    assert_eq!(after["ralo"]["lost_queries"], 0);
    let log = api.get("/api/queries?length=100").await;
    assert_eq!(log["recordsTotal"], 15);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_is_written_in_batches_not_per_query() {
    let up = Upstream::standard().await;
    let (site, server, web) = site_with_web(up.addr(), "");
    let file = site.path("state/history.sqlite");
    let dns = Client::new(server.addr);
    // Queries go on for 6 s at about 50 a second while another connection
    // watches the file's data version: it moves once per flush (2 s).
    let watcher = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(6);
        while !file.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let db = rusqlite::Connection::open_with_flags(
            &file,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open the history read-only");
        let version = || -> i64 {
            db.query_row("PRAGMA data_version", [], |row| row.get(0))
                .unwrap_or(-1)
        };
        let mut last = version();
        let mut changes = 0;
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(25));
            let now = version();
            if now != last {
                changes += 1;
                last = now;
            }
        }
        changes
    });
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_secs(6) {
        dns.udp(&format!("q{sent}.example.com"), RecordType::A)
            .await;
        sent += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let changes = watcher.await.expect("watcher");
    assert!(sent > 100, "{sent}");
    assert!(
        (1..=4).contains(&changes),
        "{changes} writes for {sent} queries in 6 s\n{}",
        web.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_outside_access_allow_gets_no_page() {
    let up = Upstream::standard().await;
    let (_site, _server, web) = site_with_web(up.addr(), "\n[access]\nallow = [\"10.0.0.0/8\"]\n");
    let mut stream = tokio::net::TcpStream::connect(web.addr)
        .await
        .expect("connect");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = stream
        .write_all(b"GET /admin/ HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "{:?}: {}",
        read,
        String::from_utf8_lossy(&buf)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowing_a_blocked_name_through_the_api_is_live_in_dns_at_once() {
    let up = Upstream::standard().await;
    let (site, server, web) = site_with_web(up.addr(), "");
    let dns = Client::new(server.addr);
    assert!(blocked(&dns.udp("ads.example.com", RecordType::A).await));
    let mut api = Api::new(&web);
    api.login(PASSWORD).await;
    let started = Instant::now();
    let added = api
        .call(
            "POST",
            "/api/domains/allow/exact",
            Some(json!({"domain": "ads.example.com"})),
            Auth::Cookie,
        )
        .await;
    assert_eq!(added.status, 201, "{}\n{}", added.body, web.log());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(!blocked(&dns.udp("ads.example.com", RecordType::A).await));
    assert!(
        std::fs::read_to_string(site.path("allow.txt"))
            .unwrap()
            .contains("ads.example.com")
    );
    let listed = api.get("/api/domains/allow/exact").await;
    assert_eq!(listed["domains"][0]["domain"], "ads.example.com");
    // The counts Pi-hole's clients read come from the image serving.
    let counted = eventually(Duration::from_secs(5), || async {
        let ftl = api.get("/api/info/ftl").await;
        ftl["ftl"]["database"]["domains"]["allowed"]["total"] == 1
    })
    .await;
    let ftl = api.get("/api/info/ftl").await;
    assert!(counted, "{ftl}");
    assert_eq!(ftl["ftl"]["database"]["groups"], 1, "{ftl}");
    assert_eq!(ftl["ftl"]["database"]["regex"]["denied"]["total"], 0);
    let bad = api
        .call(
            "POST",
            "/api/domains/deny/exact",
            Some(json!({"domain": "not a name"})),
            Auth::Header,
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a domain")
    );
    let regex = api
        .call("GET", "/api/domains/deny/regex", None, Auth::Header)
        .await;
    assert_eq!(regex.status, 400);
    let removed = api
        .call(
            "DELETE",
            "/api/domains/allow/exact/ads.example.com",
            None,
            Auth::Header,
        )
        .await;
    assert_eq!(removed.status, 204);
    assert!(blocked(&dns.udp("ads.example.com", RecordType::A).await));
}

/// The Python interpreter that has Home Assistant's Pi-hole client.
/// `RALO_TEST_PYTHON`, else the environment `tests/setup.sh` makes, else
/// `python3`.
fn python_with_hole() -> String {
    let venv = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/target/test-python/bin/python3"
    );
    let candidates = [
        std::env::var("RALO_TEST_PYTHON").ok(),
        Some(venv.into()),
        Some("python3".into()),
    ];
    for python in candidates.into_iter().flatten() {
        let probe = Command::new(&python)
            .args(["-c", "import hole, aiohttp"])
            .output();
        if probe.is_ok_and(|out| out.status.success()) {
            return python;
        }
    }
    panic!(
        "the `hole` test needs Python with `hole` and `aiohttp`: run tests/setup.sh (it makes target/test-python), or set RALO_TEST_PYTHON"
    )
}

const HOLE_SCRIPT: &str = r#"
import asyncio, json, sys
import aiohttp
from hole import Hole
from hole.exceptions import HoleError

async def main(port, password):
    async with aiohttp.ClientSession() as session:
        bad = Hole("127.0.0.1", session, password="wrong", port=port, version=6)
        try:
            await bad.get_data()
            wrong = "accepted"
        except HoleError as e:
            wrong = str(e)
        api = Hole("127.0.0.1", session, password=password, port=port, version=6)
        await api.get_data()
        out = {"wrong": wrong, "data": api.data, "status": api.status,
               "top_blocked": api.top_blocked if hasattr(api, "top_blocked") else None,
               "versions": api.versions}
        await api.disable(30)
        out["disabled"] = api.status
        print(json.dumps(out))
        sys.stdout.flush()
        sys.stdin.readline()
        await api.enable()
        print(json.dumps({"enabled": api.status}))
        await api.logout()

asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_assistants_pihole_client_reads_and_switches_ralo() {
    let python = python_with_hole();
    let up = Upstream::standard().await;
    let (_site, server, web) = site_with_web(up.addr(), "");
    let dns = Client::new(server.addr);
    for _ in 0..3 {
        dns.udp("ads.example.com", RecordType::A).await;
    }
    dns.udp("www.example.com", RecordType::A).await;
    let mut api = Api::new(&web);
    api.login(PASSWORD).await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            api.get("/api/stats/summary").await["queries"]["total"] == 4
        })
        .await
    );
    let mut child = Command::new(python)
        .args(["-c", HOLE_SCRIPT, &web.addr.port().to_string(), PASSWORD])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = block_in_place(|| lines.next()).and_then(Result::ok);
    let Some(first) = first else {
        let out = child.wait_with_output().expect("python");
        panic!("hole failed: {}", String::from_utf8_lossy(&out.stderr));
    };
    let seen: Value = serde_json::from_str(&first).expect("json from the script");
    assert!(
        seen["wrong"]
            .as_str()
            .is_some_and(|w| w.contains("Invalid password")),
        "{seen}"
    );
    assert_eq!(seen["data"]["queries"]["total"], 4, "{seen}");
    assert_eq!(seen["data"]["queries"]["blocked"], 3);
    assert_eq!(seen["status"], "enabled");
    assert_eq!(seen["disabled"], "disabled");
    // Disabled through hole: the server answers the blocked name.
    assert!(!blocked(&dns.udp("ads.example.com", RecordType::A).await));
    writeln!(stdin, "go").expect("continue the script");
    let second = block_in_place(|| lines.next())
        .and_then(Result::ok)
        .unwrap_or_default();
    let enabled: Value = serde_json::from_str(&second).unwrap_or(Value::Null);
    assert_eq!(enabled["enabled"], "enabled", "{second}");
    assert!(blocked(&dns.udp("ads.example.com", RecordType::A).await));
    let _ = child.wait();
}

/// The text of the config file of `site`.
fn config_text(site: &Site) -> String {
    std::fs::read_to_string(site.config()).expect("the config file")
}

/// The `groups` of the list named `name` in `GET /api/lists`.
async fn list_groups(api: &Api, name: &str) -> Value {
    let lists = api.get("/api/lists").await;
    let list = lists["lists"]
        .as_array()
        .expect("lists")
        .iter()
        .find(|l| l["name"] == name)
        .cloned()
        .expect("the list");
    list["groups"].clone()
}

const KIDS: &str = "\n# The kids' devices.\n[[groups]]\nname = \"kids\"\nclients = [\"192.168.1.70\"]\ncomment = \"under 12\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_are_added_renamed_and_removed_in_the_config_file_with_its_comments() {
    let up = Upstream::standard().await;
    let (site, server, web) = site_with_web(up.addr(), KIDS);
    let dns = Client::new(server.addr);
    let blocked_here = || async { blocked(&dns.udp("ads.example.com", RecordType::A).await) };
    assert!(blocked_here().await);
    let mut api = Api::new(&web);
    api.login(PASSWORD).await;
    let groups = api.get("/api/groups").await;
    assert_eq!(groups["groups"][0]["name"], "default");
    assert_eq!(groups["groups"][0]["id"], 0);
    assert_eq!(groups["groups"][1]["name"], "kids");
    assert_eq!(groups["groups"][1]["id"], 1);
    assert_eq!(groups["groups"][1]["comment"], "under 12");
    assert_eq!(groups["groups"][1]["enabled"], true);
    let one = api.get("/api/groups/kids").await;
    assert_eq!(one["groups"].as_array().map(Vec::len), Some(1));
    let unknown = api
        .call("GET", "/api/groups/nobody", None, Auth::Header)
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);

    // Adding: the cookie alone may not; then 201, in the file, comments kept.
    let body = json!({"name": "guests", "comment": "visitors"});
    let forged = api
        .call("POST", "/api/groups", Some(body.clone()), Auth::CookieOnly)
        .await;
    assert_eq!(forged.status, 401);
    let added = api
        .call("POST", "/api/groups", Some(body), Auth::Cookie)
        .await;
    assert_eq!(added.status, 201, "{}\n{}", added.body, web.log());
    assert_eq!(added.body["groups"][2]["name"], "guests");
    let text = config_text(&site);
    assert!(text.contains("name = \"guests\""), "{text}");
    assert!(text.contains("# The kids' devices."), "{text}");
    let twice = api
        .call(
            "POST",
            "/api/groups",
            Some(json!({"name": "kids"})),
            Auth::Header,
        )
        .await;
    assert_eq!(twice.status, 400, "{}", twice.body);
    let message = twice.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("used twice"), "{message}");
    assert_eq!(config_text(&site), text, "a refused edit changed the file");

    // A list's groups, by id.
    let put = api
        .call(
            "PUT",
            "/api/lists/ads.txt?type=block",
            Some(json!({"groups": [1, 2]})),
            Auth::Header,
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(list_groups(&api, "ads").await, json!([1, 2]));
    assert!(config_text(&site).contains("groups = [\"kids\", \"guests\"]"));
    // This client is in no group now that the list has: the server follows.
    let limit = Duration::from_secs(5);
    assert!(eventually(limit, || async { !blocked_here().await }).await);
    let bad = api
        .call(
            "PUT",
            "/api/lists/ads.txt?type=block",
            Some(json!({"groups": [9]})),
            Auth::Header,
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);

    // Renaming renames the list's reference too; default stays.
    let renamed = api
        .call(
            "PUT",
            "/api/groups/guests",
            Some(json!({"name": "visitors", "comment": "friends"})),
            Auth::Header,
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(renamed.body["groups"][0]["comment"], "friends");
    assert!(config_text(&site).contains("groups = [\"kids\", \"visitors\"]"));
    let default = api
        .call(
            "PUT",
            "/api/groups/default",
            Some(json!({"name": "all"})),
            Auth::Header,
        )
        .await;
    assert_eq!(default.status, 400, "{}", default.body);

    // Removing takes the group out of the list; with none left, default.
    let gone = api
        .call("DELETE", "/api/groups/visitors", None, Auth::Header)
        .await;
    assert_eq!(gone.status, 204, "{}", gone.body);
    assert_eq!(list_groups(&api, "ads").await, json!([1]));
    let kids = api
        .call("DELETE", "/api/groups/kids", None, Auth::Header)
        .await;
    assert_eq!(kids.status, 204, "{}", kids.body);
    assert_eq!(list_groups(&api, "ads").await, json!([0]));
    assert!(eventually(limit, blocked_here).await);
    let text = config_text(&site);
    assert!(!text.contains("[[groups]]"), "{text}");
    let missing = api
        .call("DELETE", "/api/groups/kids", None, Auth::Header)
        .await;
    assert_eq!(missing.status, 404, "{}", missing.body);
}

const TABLET: &str = "\n# Ana's tablet.\n[[clients]]\nname = \"tablet\"\nids = [\"192.168.1.50\", \"aa:bb:cc:dd:ee:ff\"]\ncomment = \"Ana's\"\n\n[[groups]]\nname = \"kids\"\nclients = [\"tablet\"]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_is_one_id_and_its_groups_are_edited_in_the_config_file() {
    let up = Upstream::standard().await;
    let (site, _server, web) = site_with_web(up.addr(), TABLET);
    let mut api = Api::new(&web);
    api.login(PASSWORD).await;
    let clients = api.get("/api/clients").await;
    let all = clients["clients"].as_array().expect("clients").clone();
    assert_eq!(all.len(), 2, "{clients}");
    for client in &all {
        assert_eq!(client["name"], "tablet");
        assert_eq!(client["comment"], "Ana's");
        assert_eq!(client["groups"], json!([1]));
    }
    assert_eq!(all[0]["client"], "192.168.1.50");
    let one = api.get("/api/clients/192.168.1.50").await;
    assert_eq!(one["clients"][0]["name"], "tablet");
    let unknown = api
        .call("GET", "/api/clients/10.9.9.9", None, Auth::Header)
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);

    // Adding an id: a client of its own, in the groups given.
    let added = api
        .call(
            "POST",
            "/api/clients",
            Some(json!({"client": "192.168.1.80", "comment": "tv", "groups": [1]})),
            Auth::Cookie,
        )
        .await;
    assert_eq!(added.status, 201, "{}\n{}", added.body, web.log());
    let tv = api.get("/api/clients/192.168.1.80").await;
    assert_eq!(tv["clients"][0]["groups"], json!([1]));
    assert_eq!(tv["clients"][0]["comment"], "tv");
    let text = config_text(&site);
    assert!(text.contains("ids = [\"192.168.1.80\"]"), "{text}");
    assert!(text.contains("# Ana's tablet."), "{text}");
    for refused in [
        json!({"client": "192.168.1.50"}),
        json!({"client": "not an id!"}),
    ] {
        let answer = api
            .call("POST", "/api/clients", Some(refused), Auth::Header)
            .await;
        assert_eq!(answer.status, 400, "{}", answer.body);
    }
    assert_eq!(config_text(&site), text, "a refused edit changed the file");

    // Into no group (default), then gone.
    let moved = api
        .call(
            "PUT",
            "/api/clients/192.168.1.80",
            Some(json!({"groups": [0]})),
            Auth::Header,
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["clients"][0]["groups"], json!([0]));
    let nobody = api
        .call(
            "PUT",
            "/api/clients/10.9.9.9",
            Some(json!({"groups": [0]})),
            Auth::Header,
        )
        .await;
    assert_eq!(nobody.status, 404, "{}", nobody.body);
    let removed = api
        .call("DELETE", "/api/clients/192.168.1.80", None, Auth::Header)
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    assert!(!config_text(&site).contains("192.168.1.80"));
    let again = api
        .call("DELETE", "/api/clients/192.168.1.80", None, Auth::Header)
        .await;
    assert_eq!(again.status, 404, "{}", again.body);
}
