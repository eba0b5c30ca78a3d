//! The household commands against a real `ralo serve` and its updater:
//! `check`, `block` / `unblock`, `allow` / `unallow`, `disable` / `enable`.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use tokio::task::block_in_place;

use crate::process::Site;
use crate::support::client::{Client, answers_a};
use crate::support::upstream::Upstream;

const LISTS: &str = "[[lists]]\nname = \"ads\"\npath = \"ads.txt\"\n\n[[lists]]\nname = \"mine\"\npath = \"block.txt\"\nhousehold = true\n\n[[allowlists]]\nname = \"ok\"\npath = \"allow.txt\"\nhousehold = true\n";

fn blocked(msg: &hickory_proto::op::Message) -> bool {
    answers_a(msg) == vec![Ipv4Addr::UNSPECIFIED]
}

/// A site with a running server whose updater child has published.
fn serving(upstream: std::net::SocketAddr) -> (Site, crate::process::Server, Client) {
    let site = site(upstream);
    let server = block_in_place(|| site.serve());
    let generation = block_in_place(|| site.wait_generation(1, Duration::from_secs(10)));
    assert!(generation >= 1, "{}", server.log());
    let client = Client::new(server.addr);
    (site, server, client)
}

fn assert_ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}{}",
        stdout(out),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn site(upstream: std::net::SocketAddr) -> Site {
    let site = Site::new(upstream, LISTS);
    site.write(
        "ads.txt",
        "# ads\n0.0.0.0 tracker.example.com\n||ads.example.com^\n",
    );
    site
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_list_rule_and_line_and_works_with_the_server_down() {
    let up = Upstream::standard().await;
    let site = site(up.addr());
    let published = block_in_place(|| site.update(&[]));
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );

    // No server is running: check answers from the persisted image.
    let out = block_in_place(|| site.run(&["check", "x.ads.example.com"]));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("BLOCKED by list `ads`"), "{text}");
    assert!(text.contains("line 3: ||ads.example.com^"), "{text}");
    assert!(text.contains("generation 1"), "{text}");

    let exact = block_in_place(|| site.run(&["check", "tracker.example.com"]));
    assert_eq!(exact.status.code(), Some(0));
    assert!(
        stdout(&exact).contains("line 2: 0.0.0.0 tracker.example.com"),
        "{}",
        stdout(&exact)
    );

    let not = block_in_place(|| site.run(&["check", "allowed.example.com"]));
    assert_eq!(not.status.code(), Some(1), "{}", stdout(&not));
    assert!(stdout(&not).contains("not blocked"));

    let bad = block_in_place(|| site.run(&["check", "not a name"]));
    assert_eq!(bad.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_is_live_within_two_seconds_and_unblock_lifts_it() {
    let up = Upstream::standard().await;
    let (site, _server, client) = serving(up.addr());
    assert!(!blocked(
        &client.udp("allowed.example.com", RecordType::A).await
    ));

    let started = Instant::now();
    let out = block_in_place(|| site.run(&["block", "allowed.example.com"]));
    assert!(
        out.status.success(),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        blocked(&client.udp("allowed.example.com", RecordType::A).await),
        "blocked once the command returns"
    );
    assert!(
        blocked(&client.udp("sub.allowed.example.com", RecordType::A).await),
        "block covers subdomains"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        std::fs::read_to_string(site.path("block.txt"))
            .unwrap()
            .contains("*.allowed.example.com")
    );
    let check = block_in_place(|| site.run(&["check", "allowed.example.com"]));
    assert!(
        stdout(&check).contains("BLOCKED by list `mine`"),
        "{}",
        stdout(&check)
    );

    let out = block_in_place(|| site.run(&["unblock", "allowed.example.com"]));
    assert_ok(&out);
    assert_eq!(
        answers_a(&client.udp("allowed.example.com", RecordType::A).await),
        vec![Ipv4Addr::new(192, 0, 2, 1)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_beats_a_list_entry() {
    let up = Upstream::standard().await;
    let (site, _server, client) = serving(up.addr());
    assert!(blocked(
        &client.udp("tracker.example.com", RecordType::A).await
    ));
    let out = block_in_place(|| site.run(&["allow", "tracker.example.com"]));
    assert_ok(&out);
    assert!(!blocked(
        &client.udp("tracker.example.com", RecordType::A).await
    ));
    let check = block_in_place(|| site.run(&["check", "tracker.example.com"]));
    assert_eq!(check.status.code(), Some(1));
    let text = stdout(&check);
    assert!(
        text.contains("allowed by list `ok`") && text.contains("overrides a block by list `ads`"),
        "{text}"
    );
    let out = block_in_place(|| site.run(&["unallow", "tracker.example.com"]));
    assert!(out.status.success());
    assert!(blocked(
        &client.udp("tracker.example.com", RecordType::A).await
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_for_two_seconds_then_blocking_returns_by_itself() {
    let up = Upstream::standard().await;
    let (site, _server, client) = serving(up.addr());
    assert!(blocked(
        &client.udp("tracker.example.com", RecordType::A).await
    ));

    let out = block_in_place(|| site.run(&["disable", "2s"]));
    assert_ok(&out);
    assert!(stdout(&out).contains("blocking is off"), "{}", stdout(&out));
    let paused = client.udp("tracker.example.com", RecordType::A).await;
    assert!(!blocked(&paused), "resolves while paused");
    let check = block_in_place(|| site.run(&["check", "tracker.example.com"]));
    assert_eq!(check.status.code(), Some(1));
    assert!(
        stdout(&check).contains("switched off"),
        "{}",
        stdout(&check)
    );

    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert!(
        blocked(&client.udp("tracker.example.com", RecordType::A).await),
        "blocking came back by itself"
    );

    block_in_place(|| site.run(&["disable"]));
    assert!(!blocked(
        &client.udp("tracker.example.com", RecordType::A).await
    ));
    let out = block_in_place(|| site.run(&["enable"]));
    assert!(stdout(&out).contains("blocking is on"));
    assert!(blocked(
        &client.udp("tracker.example.com", RecordType::A).await
    ));
}

/// A config that marks no household list, as a new user writes one: `ralo
/// block` and `ralo allow` edit `block.txt` and `allow.txt` in the state
/// folder, live within two seconds and still there after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_works_without_a_household_list_in_the_config() {
    let up = Upstream::standard().await;
    let site = Site::new(up.addr(), "[[lists]]\nname = \"ads\"\npath = \"ads.txt\"\n");
    site.write("ads.txt", "0.0.0.0 tracker.example.com\n");
    let server = block_in_place(|| site.serve());
    assert!(block_in_place(|| site.wait_generation(1, Duration::from_secs(10))) >= 1);
    let client = Client::new(server.addr);
    assert!(!blocked(&client.udp("x.example.com", RecordType::A).await));

    let started = Instant::now();
    assert_ok(&block_in_place(|| site.run(&["block", "x.example.com"])));
    assert!(blocked(&client.udp("x.example.com", RecordType::A).await));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    let file = site.path("state/block.txt");
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("x.example.com"),
        "{}",
        file.display()
    );
    let check = block_in_place(|| site.run(&["check", "x.example.com"]));
    assert!(
        stdout(&check).contains("BLOCKED by list `household`"),
        "{}",
        stdout(&check)
    );
    // The list's own entry can be let through by the implicit allowlist.
    assert_ok(&block_in_place(|| {
        site.run(&["allow", "tracker.example.com"])
    }));
    assert!(!blocked(
        &client.udp("tracker.example.com", RecordType::A).await
    ));
    assert!(site.path("state/allow.txt").exists());

    drop(server);
    let server = block_in_place(|| site.serve());
    let client = Client::new(server.addr);
    assert!(blocked(&client.udp("x.example.com", RecordType::A).await));
    assert!(!blocked(
        &client.udp("tracker.example.com", RecordType::A).await
    ));
}
