//! `ralo update`: publish a fresh image once, or keep doing so (`--watch`).
//! When a watching updater is already running, `ralo update` asks it to
//! update now (SIGHUP) instead of racing it. The updater runs at a lower
//! CPU priority (nice 10) than the server.
//!
//! It needs no privileges and never runs another program. Started as root
//! (say with `sudo` by hand) it still runs, since a refusal would only get
//! in the way of a person fixing things, but it warns: the folders and files
//! it creates then belong to root, where the packaged updater (user `ralo`)
//! cannot write. `sudo -u ralo ralo update` is the way to run it by hand.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use tracing::warn;

use super::serve::load_config;
use crate::update::{Delivery, Trigger, Updater, lock, watch};

/// Runs the updater.
pub async fn update(
    path: Option<&Path>,
    watch_mode: bool,
    force: bool,
    parent_pid: Option<u32>,
) -> anyhow::Result<()> {
    let config = load_config(path)?;
    let runtime = config.paths.runtime.clone();
    if !watch_mode && let Some(pid) = lock::holder(&runtime) {
        let pid =
            rustix::process::Pid::from_raw(pid as i32).context("bad pid in the updater lock")?;
        rustix::process::kill_process(pid, rustix::process::Signal::HUP).with_context(|| {
            format!(
                "cannot signal the running updater (pid {})",
                pid.as_raw_nonzero()
            )
        })?;
        #[allow(clippy::print_stdout)]
        {
            println!(
                "asked the running updater (pid {}) to update now",
                pid.as_raw_nonzero()
            );
        }
        return Ok(());
    }
    if rustix::process::geteuid().is_root() {
        warn!(
            state = %config.paths.state.display(),
            runtime = %runtime.display(),
            "ralo update is running as root; it needs no privileges, and folders and files it creates now belong to root, where the packaged updater (user ralo) cannot write: run it as the user that runs ralo serve, e.g. `sudo -u ralo ralo update`, or `systemctl reload ralo-update`"
        );
    }
    // The updater's compile must never take CPU from the DNS server on a
    // small Pi: run below it (the systemd unit lowers it further).
    let _ = rustix::process::nice(10);
    let wait = if watch_mode {
        Duration::ZERO
    } else {
        Duration::from_secs(10)
    };
    let _lock = lock::acquire(&runtime, wait)?;
    let mut updater = Updater::new(config)?;
    if watch_mode {
        watch::watch(updater, parent_pid, path.map(Path::to_owned)).await?;
        return Ok(());
    }
    let report = updater.run(Trigger::Refresh, force).await?;
    #[allow(clippy::print_stdout)]
    {
        let where_ = match (&report.delivery, &report.unsaved) {
            (Delivery::Live, None) => "live".to_owned(),
            (Delivery::Live, Some(why)) => {
                format!("live, served from memory, not saved to disk: {why}")
            }
            (Delivery::NoServer, _) => {
                "stored (no server running; it loads it at start)".to_owned()
            }
        };
        println!(
            "generation {}: {} rules, {} bytes, {} in {} ms",
            report.generation,
            report.rules,
            report.bytes,
            where_,
            report.took.as_millis()
        );
        for (list, rules) in &report.dropped {
            println!("dropped list `{list}` ({rules} rules): no longer in the config");
        }
    }
    Ok(())
}
