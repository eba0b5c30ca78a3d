//! The first-run convenience: `ralo serve` starts `ralo update --watch` as a
//! separate child process when no updater is running (and `ralo web`, when
//! `[server] spawn_web` says so), and restarts each with backoff if it
//! dies. [`update_once`] is the one-shot updater `ralo web` runs when no
//! watching one is there. Nothing else in ralo starts a program. The child ends with its parent. Where systemd runs
//! the updater as its own unit, `[server] spawn_updater = false` turns this
//! off (and a running updater is detected by its lock, so none is doubled).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::update::lock;

/// First wait before a restart; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait before a restart.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A child that ran this long resets the backoff.
const HEALTHY: Duration = Duration::from_secs(60);

/// Which child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Child {
    /// `ralo update --watch`, unless an updater holds its lock.
    Updater,
    /// `ralo web`.
    Web,
}

impl Child {
    fn name(self) -> &'static str {
        match self {
            Child::Updater => "updater",
            Child::Web => "web page",
        }
    }
}

/// Keeps a child running until `shutdown`.
pub async fn supervise(
    child_kind: Child,
    config: Option<PathBuf>,
    runtime: PathBuf,
    shutdown: CancellationToken,
) {
    let mut backoff = FIRST_BACKOFF;
    let name = child_kind.name();
    loop {
        if child_kind == Child::Updater && lock::is_held(&runtime) {
            // Another updater (systemd's, or one started by hand) is at work.
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(5)) => continue,
            }
        }
        let started = std::time::Instant::now();
        let mut child = match command(child_kind, config.as_deref()).and_then(|mut c| c.spawn()) {
            Ok(child) => child,
            Err(error) => {
                warn!(%error, child = name, "cannot start a child; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        info!(pid = child.id(), child = name, "child started");
        tokio::select! {
            () = shutdown.cancelled() => {
                let _ = child.start_kill();
                let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
                return;
            }
            status = child.wait() => {
                if started.elapsed() > HEALTHY {
                    backoff = FIRST_BACKOFF;
                }
                warn!(status = ?status.ok(), child = name, wait_s = backoff.as_secs(), "child exited; restarting");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

fn command(child: Child, config: Option<&Path>) -> std::io::Result<Command> {
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    match child {
        Child::Updater => command.args(["update", "--watch", "--parent-pid"]),
        Child::Web => command.args(["web", "--parent-pid"]),
    };
    command.arg(std::process::id().to_string());
    // systemd's notifications are the server's to send, not its children's.
    for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
        command.env_remove(key);
    }
    if let Some(config) = config {
        command.arg("--config").arg(std::path::absolute(config)?);
    }
    command
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    Ok(command)
}

/// `ralo update` once, for the same config: what `ralo web` runs to apply
/// an edit when no watching updater is there to notice it.
pub fn update_once(config: Option<&Path>) -> std::io::Result<Command> {
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command.arg("update");
    if let Some(config) = config {
        command.arg("--config").arg(std::path::absolute(config)?);
    }
    Ok(command)
}
