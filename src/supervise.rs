//! The first-run convenience: `ralo serve` starts `ralo update --watch` as a
//! separate child process when no updater is running, and restarts it with
//! backoff if it dies. The child ends with its parent. Where systemd runs
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

/// Keeps an updater child running until `shutdown`.
pub async fn supervise(config: Option<PathBuf>, runtime: PathBuf, shutdown: CancellationToken) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        if lock::is_held(&runtime) {
            // Another updater (systemd's, or one started by hand) is at work.
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(5)) => continue,
            }
        }
        let started = std::time::Instant::now();
        let mut child = match command(config.as_deref()).and_then(|mut c| c.spawn()) {
            Ok(child) => child,
            Err(error) => {
                warn!(%error, "cannot start the updater; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        info!(pid = child.id(), "updater started");
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
                warn!(status = ?status.ok(), wait_s = backoff.as_secs(), "updater exited; restarting");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

fn command(config: Option<&Path>) -> std::io::Result<Command> {
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command.args(["update", "--watch", "--parent-pid"]);
    command.arg(std::process::id().to_string());
    if let Some(config) = config {
        command.arg("--config").arg(std::path::absolute(config)?);
    }
    command
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    Ok(command)
}
