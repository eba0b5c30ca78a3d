//! systemd's watchdog, played by the test: it binds the notify socket that
//! systemd would, starts `ralo serve` as `ralo.service` does (`Type=notify`,
//! `WatchdogSec`), sees `READY=1` and steady `WATCHDOG=1` keep-alives, stops
//! the server with SIGSTOP, sees the keep-alives stop, and then does what
//! systemd does: kills it and starts it again, which answers blocked names
//! from the persisted image at once.

use std::ffi::OsStr;
use std::net::Ipv4Addr;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use rustix::process::{Pid, Signal, kill_process};
use tokio::task::block_in_place;

use crate::process::Site;
use crate::support::client::{Client, answers_a};
use crate::support::upstream::Upstream;

/// `WatchdogSec` for the test: keep-alives every 250 ms.
const PERIOD: Duration = Duration::from_millis(500);

/// The messages that arrive within `limit`.
fn messages(socket: &UnixDatagram, limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        socket
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("timeout");
        match socket.recv(&mut buf) {
            Ok(n) => out.push(String::from_utf8_lossy(&buf[..n]).trim().to_owned()),
            Err(_) => break,
        }
    }
    out
}

fn blocked(msg: &hickory_proto::op::Message) -> bool {
    answers_a(msg) == vec![Ipv4Addr::UNSPECIFIED]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_stops_its_keep_alives_and_a_restart_serves_at_once() {
    let up = Upstream::standard().await;
    let site = Site::new(up.addr(), "[[lists]]\nname = \"ads\"\npath = \"ads.txt\"\n");
    site.write("ads.txt", "0.0.0.0 ads.example.com\n");
    let path = site.path("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("notify socket");
    let usec = PERIOD.as_micros().to_string();
    let env: [(&str, &OsStr); 2] = [
        ("NOTIFY_SOCKET", path.as_os_str()),
        ("WATCHDOG_USEC", OsStr::new(&usec)),
    ];
    let server = block_in_place(|| site.serve_with_env(&env));
    let first = block_in_place(|| messages(&socket, Duration::from_secs(2)));
    assert_eq!(
        first.first().map(String::as_str),
        Some("READY=1"),
        "{first:?}"
    );
    let alive = first.iter().filter(|m| *m == "WATCHDOG=1").count();
    assert!(
        alive >= 4,
        "{alive} keep-alives in 2 s: {first:?}\n{}",
        server.log()
    );
    assert!(block_in_place(|| site.wait_generation(1, Duration::from_secs(10))) >= 1);

    // Wedged: not one keep-alive in three periods.
    let pid = Pid::from_raw(i32::try_from(server.pid()).expect("pid")).expect("pid");
    kill_process(pid, Signal::STOP).expect("SIGSTOP");
    let _in_flight = block_in_place(|| messages(&socket, Duration::from_millis(50)));
    let silent = block_in_place(|| messages(&socket, 3 * PERIOD));
    assert!(
        silent.is_empty(),
        "keep-alives from a stopped server: {silent:?}"
    );

    // What systemd does then: kill it, start it again half a second later.
    drop(server);
    let started = Instant::now();
    let server = block_in_place(|| site.serve_with_env(&env));
    let dns = Client::new(server.addr);
    assert!(blocked(&dns.udp("ads.example.com", RecordType::A).await));
    let first_answer = started.elapsed();
    assert!(
        first_answer < Duration::from_secs(2),
        "first blocked answer {first_answer:?} after the restart"
    );
    assert!(
        server.log().contains("serving the persisted image"),
        "{}",
        server.log()
    );
    let again = block_in_place(|| messages(&socket, Duration::from_secs(1)));
    assert!(again.iter().any(|m| m == "READY=1"), "{again:?}");
    assert!(again.iter().any(|m| m == "WATCHDOG=1"), "{again:?}");
}
