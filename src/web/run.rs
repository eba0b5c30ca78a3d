//! The `ralo web` process: the password on first start, the history file,
//! the follower of the ring, the HTTP server, and the end on SIGINT or
//! SIGTERM (with the history flushed). It needs no privileges beyond its
//! port and the state folder; DNS never depends on it.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::app::{self, App, Gate};
use super::auth::Password;
use super::follow;
use super::history::History;
use crate::cli::serve::wait_for_signal;
use crate::config::Config;

/// The history file in the state folder.
pub fn history_file(config: &Config) -> std::path::PathBuf {
    config.paths.state.join("history.sqlite")
}

/// Makes sure a password is set: on a first start one is generated, its
/// hash stored, and the password itself printed once to the log.
pub fn ensure_password(config: &Config) -> anyhow::Result<()> {
    let file = Password::file(&config.paths.state);
    if Password::load(&file)?.is_some() {
        return Ok(());
    }
    let password = Password::generate();
    Password::new(&password)?.store(&file)?;
    warn!(
        password = %password,
        file = %file.display(),
        "no web password was set: generated this one (shown only now); change it with `ralo web --set-password`"
    );
    Ok(())
}

/// Runs `ralo web` for `config` (loaded from `config_path`, if any) until a
/// signal or `shutdown`.
pub async fn run(
    config: Config,
    config_path: Option<&Path>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.paths.state).with_context(|| {
        format!(
            "cannot create the state folder {}",
            config.paths.state.display()
        )
    })?;
    ensure_password(&config)?;
    let listener = tokio::net::TcpListener::bind(config.web.listen)
        .await
        .with_context(|| format!("cannot listen for [web] on {}", config.web.listen))?;
    let path = history_file(&config);
    let history = History::open(&path, config.web.history_days)
        .with_context(|| format!("cannot open the history {}", path.display()))?;
    let history = Arc::new(Mutex::new(history));
    let gate = Gate::new(listener, &config);
    let flush = Duration::from_secs(config.web.flush_secs);
    let telemetry = config.paths.telemetry_file();
    let app = Arc::new(App::new(
        config,
        config_path.map(Path::to_owned),
        history.clone(),
    ));
    let follower = tokio::spawn(follow::follow(
        telemetry,
        history,
        flush,
        shutdown.child_token(),
    ));
    let signal = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = wait_for_signal() => info!("shutting down"),
            () = signal.cancelled() => {}
        }
        signal.cancel();
    });
    let served = app::serve(gate, app, shutdown.clone()).await;
    shutdown.cancel();
    // The follower writes what it staged before it ends.
    let _ = follower.await;
    served.context("the web server failed")
}
