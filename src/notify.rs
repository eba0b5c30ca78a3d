//! systemd's service protocol for `ralo serve` (`Type=notify` in
//! `ralo.service`): `READY=1` once it listens, `WATCHDOG=1` every half
//! `WatchdogSec` while every UDP worker goes round its loop
//! ([`Pulse`]), `STOPPING=1` on the way out. A wedged worker (or a runtime
//! that no longer runs this task) stops the keep-alives, and systemd
//! restarts the server, which serves the persisted image at once. Without
//! `NOTIFY_SOCKET` (not started by systemd) each call is nothing.

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::server::Pulse;

/// A worker that has not gone round its loop for this long is wedged (it
/// goes round at least every 50 ms when idle).
const WEDGED: Duration = Duration::from_secs(2);

/// Tells systemd the server is up.
pub fn ready() {
    say(NotifyState::Ready);
}

/// Tells systemd the server is stopping.
pub fn stopping() {
    say(NotifyState::Stopping);
}

/// Sends keep-alives while every worker is alive, until `shutdown`; returns
/// at once when systemd asked for no watchdog.
pub async fn watchdog(pulse: Arc<Pulse>, shutdown: CancellationToken) {
    let Some(period) = sd_notify::watchdog_enabled() else {
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
            say(NotifyState::Watchdog);
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

fn say(state: NotifyState<'_>) {
    if let Err(error) = sd_notify::notify(&[state]) {
        debug!(%error, "cannot notify systemd");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

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
