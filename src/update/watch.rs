//! `ralo update --watch`: update at start, then again
//!
//! - when a local list file changes (inotify on the files' folders, so an
//!   editor's write-and-rename is seen too), reusing downloaded texts, after
//!   a short settle time — a household edit is live well within 2 s;
//! - on the schedule (`[update] interval_hours`, plus up to a tenth of it
//!   of random jitter), downloading URL sources again;
//! - on SIGHUP, reading the config file again (a list added or switched
//!   off by `ralo web` or by hand) and downloading again.
//!
//! A failed update is logged and the server keeps its image. With
//! `parent` (the pid of the `ralo serve` that started it) the watcher ends
//! when that process is gone: the kernel sends it SIGTERM when its parent
//! dies, and a periodic check covers a parent that died before that was set.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, sleep_until};
use tracing::{info, warn};

use super::once::{Error, Trigger, Updater};

/// Edits arriving within this time are taken as one.
const SETTLE: Duration = Duration::from_millis(100);
/// How often the parent is checked.
const PARENT_CHECK: Duration = Duration::from_millis(500);

/// Watches and updates until SIGINT/SIGTERM (or the parent is gone).
/// `config` is the file the updater's config came from, read again on
/// SIGHUP; `None` for the embedded defaults.
pub async fn watch(
    mut updater: Updater,
    parent: Option<u32>,
    config: Option<PathBuf>,
) -> Result<(), Error> {
    if let Some(pid) = parent {
        let _ =
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM));
        if !parent_alive(pid) {
            info!("the server that started this updater is gone; exiting");
            return Ok(());
        }
    }
    let files = local_files(&updater);
    let (tx, mut changes) = mpsc::unbounded_channel::<()>();
    let mut watcher = start_watcher(&files, tx.clone());
    run_logged(&mut updater, Trigger::Refresh).await;
    let mut next_refresh = next_refresh_from_now(&updater);
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    loop {
        let trigger = tokio::select! {
            Some(()) = changes.recv() => {
                sleep(SETTLE).await;
                while changes.try_recv().is_ok() {}
                Trigger::LocalChange
            }
            () = sleep_until(next_refresh) => Trigger::Refresh,
            Some(()) = async { match hup.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => Trigger::Refresh,
            Some(()) = async { match term.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => return Ok(()),
            _ = tokio::signal::ctrl_c() => return Ok(()),
            () = sleep(PARENT_CHECK), if parent.is_some() => {
                if !parent.is_some_and(parent_alive) {
                    info!("the server that started this updater is gone; exiting");
                    return Ok(());
                }
                continue;
            }
        };
        if trigger == Trigger::Refresh {
            next_refresh = next_refresh_from_now(&updater);
            if let Some(path) = &config
                && reload(&mut updater, path)
            {
                // The lists may be other files now.
                drop(watcher.take());
                watcher = start_watcher(&local_files(&updater), tx.clone());
            }
        }
        run_logged(&mut updater, trigger).await;
    }
}

/// Reads the config file again; whether it changed the updater. A file
/// that does not load is logged and the config in use is kept.
fn reload(updater: &mut Updater, path: &std::path::Path) -> bool {
    match crate::config::Config::load(path) {
        Ok(config) => match updater.reconfigure(config) {
            Ok(()) => true,
            Err(error) => {
                warn!(%error, "cannot use the edited config; keeping the one in use");
                false
            }
        },
        Err(error) => {
            warn!(%error, "the config file does not load; keeping the one in use");
            false
        }
    }
}

/// Whether `pid` is still this process's parent.
fn parent_alive(pid: u32) -> bool {
    rustix::process::getppid().is_some_and(|p| p.as_raw_nonzero().get() as u32 == pid)
}

async fn run_logged(updater: &mut Updater, trigger: Trigger) {
    if let Err(error) = updater.run(trigger, false).await {
        warn!(%error, "update failed; the server keeps its image");
    }
}

/// The local list files of the config.
fn local_files(updater: &Updater) -> HashSet<PathBuf> {
    let config = updater.config();
    crate::compile::sources(config)
        .filter(|(source, _)| source.url.is_none())
        .filter_map(|(source, _)| source.resolved_path(&config.base_dir))
        .map(|path| std::path::absolute(&path).unwrap_or(path))
        .collect()
}

/// Watches the folders of `files`, sending on `tx` when one of them changes.
fn start_watcher(
    files: &HashSet<PathBuf>,
    tx: mpsc::UnboundedSender<()>,
) -> Option<notify::RecommendedWatcher> {
    let watched = files.clone();
    let handler = move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if event.kind.is_access() {
            return;
        }
        if event.paths.iter().any(|p| watched.contains(p)) {
            let _ = tx.send(());
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(watcher) => watcher,
        Err(error) => {
            warn!(%error, "cannot watch list files; edits apply on the schedule or SIGHUP");
            return None;
        }
    };
    let folders: HashSet<PathBuf> = files
        .iter()
        .filter_map(|f| f.parent().map(PathBuf::from))
        .collect();
    for folder in folders {
        if let Err(error) = watcher.watch(&folder, RecursiveMode::NonRecursive) {
            warn!(folder = %folder.display(), %error, "cannot watch a list folder");
        }
    }
    Some(watcher)
}

fn interval(updater: &Updater) -> Option<Duration> {
    let hours = updater.config().update.interval_hours;
    (hours > 0).then(|| Duration::from_secs(u64::from(hours) * 3600))
}

fn next_refresh_from_now(updater: &Updater) -> Instant {
    match interval(updater) {
        Some(every) => {
            let jitter = every.mul_f64(rand::random::<f64>() / 10.0);
            Instant::now() + every + jitter
        }
        // Far enough to never fire, near enough not to overflow.
        None => Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600),
    }
}
