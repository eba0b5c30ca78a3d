//! systemd's service protocol for `ralo serve` (`Type=notify` in
//! `ralo.service`): `READY=1` once it listens, `WATCHDOG=1` every half
//! `WatchdogSec` while every UDP worker goes round its loop
//! ([`Pulse`]), `STOPPING=1` on the way out. A wedged worker (or a runtime
//! that no longer runs this task) stops the keep-alives, and systemd
//! restarts the server, which serves the persisted image at once. Without
//! `NOTIFY_SOCKET` (not started by systemd) each call is nothing.
//!
//! The protocol is one datagram of `KEY=value` lines to the socket named by
//! `NOTIFY_SOCKET`: a path, or with a leading `@` a name in the abstract
//! namespace (which containers' service managers use).

use std::ffi::OsString;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::server::Pulse;

/// A worker that has not gone round its loop for this long is wedged (it
/// goes round at least every 50 ms when idle).
const WEDGED: Duration = Duration::from_secs(2);

/// Tells systemd the server is up.
pub fn ready() {
    say("READY=1");
}

/// Tells systemd the server is stopping.
pub fn stopping() {
    say("STOPPING=1");
}

/// Sends keep-alives while every worker is alive, until `shutdown`; returns
/// at once when systemd asked for no watchdog.
pub async fn watchdog(pulse: Arc<Pulse>, shutdown: CancellationToken) {
    let Some(period) = watchdog_period() else {
        return;
    };
    let every = (period / 2).max(Duration::from_millis(100));
    let mut warned = false;
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.cancelled() => return,
        }
        if alive(&pulse, WEDGED) {
            warned = false;
            say("WATCHDOG=1");
        } else if !warned {
            warn!(
                "a UDP worker has stopped going round its loop: no more watchdog keep-alives, so systemd restarts the server"
            );
            warned = true;
        }
    }
}

/// Whether every worker went round its loop within `wedged` (no worker
/// yet: the runtime that runs this is alive, which is all there is to know).
fn alive(pulse: &Pulse, wedged: Duration) -> bool {
    pulse.stalest().is_none_or(|age| age <= wedged)
}

/// `WatchdogSec` as systemd passes it (`WATCHDOG_USEC`, for this process
/// when `WATCHDOG_PID` names one).
fn watchdog_period() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    let for_us = std::env::var("WATCHDOG_PID")
        .ok()
        .is_none_or(|pid| pid.parse() == Ok(std::process::id()));
    (for_us && usec > 0).then(|| Duration::from_micros(usec))
}

/// Sends `message` to systemd; a failure is only logged (DNS goes on).
fn say(message: &str) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(error) = send(&socket, message) {
        debug!(%error, "cannot notify systemd");
    }
}

fn send(socket: &OsString, message: &str) -> std::io::Result<()> {
    let name = socket.as_bytes();
    let addr = match name.strip_prefix(b"@") {
        Some(abstract_name) => SocketAddr::from_abstract_name(abstract_name)?,
        None => SocketAddr::from_pathname(socket)?,
    };
    UnixDatagram::unbound()?.send_to_addr(message.as_bytes(), &addr)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn messages_reach_a_path_socket_and_an_abstract_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let by_path = UnixDatagram::bind(&path).unwrap();
        send(&path.clone().into_os_string(), "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = by_path.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");

        let name = format!("ralo-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let by_name = UnixDatagram::bind_addr(&addr).unwrap();
        send(&OsString::from(format!("@{name}")), "WATCHDOG=1").unwrap();
        let n = by_name.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1");
    }

    #[test]
    fn a_worker_that_stopped_going_round_stops_the_keep_alives() {
        let wedged = Duration::from_millis(20);
        let pulse = Pulse::new();
        assert!(alive(&pulse, wedged));
        let going = pulse.beat();
        let stuck = pulse.beat();
        std::thread::sleep(wedged * 2);
        going.stamp(Instant::now());
        assert!(!alive(&pulse, wedged));
        stuck.stamp(Instant::now());
        assert!(alive(&pulse, wedged));
    }
}
