//! The web page in a real headless browser (Debian's chromium through
//! chromedriver and WebDriver), against real `serve`, `update` and `web`
//! processes: log in, see the totals of the queries sent, allow a blocked
//! name from the query log and see DNS answer it from upstream within 2 s,
//! pause and resume blocking, add a list and see its counts; add a group
//! and a device to it.
//!
//! With `RALO_SCREENSHOTS=<folder>` it also saves the dashboard and the
//! query log at phone and desktop widths (the pictures in `docs/`).

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client as Browser, ClientBuilder, Locator};
use hickory_proto::rr::RecordType;
use serde_json::json;

use crate::support::client::{Client, answers_a};
use crate::support::upstream::Upstream;
use crate::web::{PASSWORD, site_with_web};

/// A chromedriver on a port it chose; killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Driver {
    let mut child = Command::new("chromedriver")
        .arg("--port=0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start chromedriver ({e}): run tests/setup.sh (apt-get install chromium chromium-driver)")
        });
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(port) = line
                .split("started successfully on port ")
                .nth(1)
                .and_then(|rest| rest.trim_end_matches('.').parse::<u16>().ok())
            {
                let _ = tx.send(port);
            }
        }
    });
    let port = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("chromedriver did not say its port");
    Driver { child, port }
}

async fn browser(driver: &Driver) -> Browser {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1366,900"],
        }),
    );
    ClientBuilder::rustls()
        .expect("tls connector")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session")
}

fn blocked(msg: &hickory_proto::op::Message) -> bool {
    answers_a(msg) == vec![Ipv4Addr::UNSPECIFIED]
}

/// Waits (bounded) until the element's text satisfies `want`; its last text.
async fn text_until(
    browser: &Browser,
    css: &str,
    limit: Duration,
    want: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + limit;
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(element) = browser.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
        {
            if want(&text) {
                return text;
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("`{css}` never showed what was expected; last text: {last:?}")
}

async fn screenshot(browser: &Browser, name: &str, width: u32, height: u32) {
    let Some(dir) = std::env::var_os("RALO_SCREENSHOTS") else {
        return;
    };
    browser
        .set_window_size(width, height)
        .await
        .expect("resize");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let png = browser.screenshot().await.expect("screenshot");
    std::fs::write(std::path::Path::new(&dir).join(name), png).expect("save screenshot");
    browser.set_window_size(1366, 900).await.expect("resize");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_logs_in_shows_the_totals_and_allows_a_blocked_name_live() {
    let up = Upstream::standard().await;
    let (site, server, web) = site_with_web(up.addr(), "");
    let dns = Client::new(server.addr);
    for i in 0..4 {
        assert!(blocked(&dns.udp("ads.example.com", RecordType::A).await));
        dns.udp(&format!("www{i}.example.com"), RecordType::A).await;
    }
    dns.udp("tracker.example.com", RecordType::A).await;
    let driver = tokio::task::block_in_place(start_driver);
    let browser = browser(&driver).await;
    browser
        .goto(&web.url("/admin/"))
        .await
        .expect("open the page");

    // Log in: a wrong password first.
    let form = browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#login-form"))
        .await
        .expect("the login form");
    let password = browser
        .find(Locator::Css("#password"))
        .await
        .expect("input");
    password.send_keys("wrong").await.expect("type");
    form.find(Locator::Css("button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("submit");
    text_until(&browser, "#login-error", Duration::from_secs(5), |t| {
        t.contains("incorrect")
    })
    .await;
    password.clear().await.expect("clear");
    password.send_keys(PASSWORD).await.expect("type");
    form.find(Locator::Css("button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("submit");

    // The dashboard counts what was sent.
    text_until(&browser, "#total-queries", Duration::from_secs(10), |t| {
        t.trim() == "9"
    })
    .await;
    text_until(&browser, "#blocked-queries", Duration::from_secs(5), |t| {
        t.trim() == "5"
    })
    .await;
    text_until(&browser, "#domains-blocked", Duration::from_secs(5), |t| {
        t.trim() == "2"
    })
    .await;
    screenshot(&browser, "dashboard-desktop.png", 1366, 900).await;
    screenshot(&browser, "dashboard-phone.png", 390, 844).await;

    // Pause and resume.
    browser
        .find(Locator::Css("#pause-5m"))
        .await
        .expect("pause button")
        .click()
        .await
        .expect("pause");
    text_until(&browser, "#blocking-state", Duration::from_secs(5), |t| {
        t.contains("disabled")
    })
    .await;
    assert!(!blocked(&dns.udp("ads.example.com", RecordType::A).await));
    browser
        .find(Locator::Css("#enable-blocking"))
        .await
        .expect("enable button")
        .click()
        .await
        .expect("enable");
    text_until(&browser, "#blocking-state", Duration::from_secs(5), |t| {
        t.contains("enabled")
    })
    .await;
    assert!(blocked(&dns.udp("ads.example.com", RecordType::A).await));

    // The query log: allow the blocked name with one tap.
    browser
        .find(Locator::Css("#nav-queries"))
        .await
        .expect("nav")
        .click()
        .await
        .expect("open the query log");
    let allow = browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(
            "#query-rows [data-action=\"allow\"][data-name=\"ads.example.com\"]",
        ))
        .await
        .expect("an allow button on the blocked row");
    screenshot(&browser, "querylog-desktop.png", 1366, 900).await;
    screenshot(&browser, "querylog-phone.png", 390, 844).await;
    let tapped = Instant::now();
    allow.click().await.expect("allow");
    let deadline = tapped + Duration::from_secs(2);
    let mut answered = false;
    while Instant::now() < deadline {
        if !blocked(&dns.udp("ads.example.com", RecordType::A).await) {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answered, "still blocked 2 s after the tap\n{}", web.log());
    text_until(&browser, "#query-rows", Duration::from_secs(5), |t| {
        t.contains("live")
    })
    .await;

    // Add a list and see its counts.
    site.write(
        "extra.txt",
        "one.example.net\ntwo.example.net\nthree.example.net\n",
    );
    let path = site.path("extra.txt");
    browser
        .find(Locator::Css("#nav-lists"))
        .await
        .expect("nav")
        .click()
        .await
        .expect("open the lists");
    let address = browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#list-address"))
        .await
        .expect("the add-list form");
    address
        .send_keys(path.to_str().expect("utf-8 path"))
        .await
        .expect("type");
    browser
        .find(Locator::Css(
            "#list-form button[type=\"submit\"], #list-form button",
        ))
        .await
        .expect("add button")
        .click()
        .await
        .expect("add");
    let rows = text_until(&browser, "#list-rows", Duration::from_secs(30), |t| {
        t.contains("extra") && t.contains('3')
    })
    .await;
    assert!(rows.contains("extra"), "{rows}");
    let served = Instant::now() + Duration::from_secs(10);
    while !blocked(&dns.udp("two.example.net", RecordType::A).await) {
        assert!(Instant::now() < served, "the added list never blocked");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_added_on_the_page_is_listed_with_its_device() {
    let up = Upstream::standard().await;
    let (site, _server, web) = site_with_web(up.addr(), "");
    let driver = tokio::task::block_in_place(start_driver);
    let browser = browser(&driver).await;
    browser
        .goto(&web.url("/admin/#groups"))
        .await
        .expect("open the page");
    let password = browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#password"))
        .await
        .expect("the login form");
    password.send_keys(PASSWORD).await.expect("type");
    browser
        .find(Locator::Css("#login-form button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("log in");
    let name = browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#group-name"))
        .await
        .expect("the add-group form");
    text_until(&browser, "#group-cards", Duration::from_secs(10), |t| {
        t.contains("default")
    })
    .await;
    name.send_keys("guests").await.expect("type");
    browser
        .find(Locator::Css("#group-form button[type=\"submit\"]"))
        .await
        .expect("add button")
        .click()
        .await
        .expect("add");
    text_until(&browser, "#group-cards", Duration::from_secs(30), |t| {
        t.contains("guests")
    })
    .await;
    let device = browser
        .find(Locator::Css(
            "[data-group=\"guests\"] input[name=\"client\"]",
        ))
        .await
        .expect("the add-device field");
    device.send_keys("192.168.1.80").await.expect("type");
    browser
        .find(Locator::Css(
            "[data-group=\"guests\"] button[type=\"submit\"]",
        ))
        .await
        .expect("add-device button")
        .click()
        .await
        .expect("add device");
    let card = text_until(
        &browser,
        "[data-group=\"guests\"]",
        Duration::from_secs(30),
        |t| t.contains("192.168.1.80"),
    )
    .await;
    assert!(card.contains("192.168.1.80"), "{card}");
    let text = std::fs::read_to_string(site.config()).expect("config");
    assert!(text.contains("name = \"guests\""), "{text}");
    screenshot(&browser, "groups-desktop.png", 1366, 900).await;
    screenshot(&browser, "groups-phone.png", 390, 844).await;
    let _ = browser.close().await;
}
