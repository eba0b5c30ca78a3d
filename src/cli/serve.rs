//! `ralo serve`: load the config, map the persisted image, start the
//! intake (and, on a first run, the updater child), bind, answer until
//! SIGINT or SIGTERM.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::compile;
use crate::config::Config;
use crate::image::Image;
use crate::intake::{self, Intake};
use crate::metrics;
use crate::notify;
use crate::resolve::Resolver;
use crate::server::{self, Handler, Listeners};
use crate::supervise;
use crate::telemetry::{QueryLog, Telemetry};

/// Loads `path`, or the embedded defaults when `None`.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        Some(path) => Ok(Config::load(path)?),
        None => Ok(Config::embedded()?),
    }
}

/// Checks a config and its local lists, printing a summary; serves nothing.
pub fn check(path: Option<&Path>) -> anyhow::Result<()> {
    let config = load_config(path)?;
    let compiled = compile::compile_local(&config, 0);
    Image::open(compiled.image)
        .and_then(|image| image.verify())
        .context("the compiled image does not verify")?;
    #[allow(clippy::print_stdout)]
    {
        println!(
            "config OK: {} listen address(es), {} upstream(s), {} list(s), {} rule(s)",
            config.server.listen.len(),
            config.upstream.servers.len(),
            compiled.reports.len(),
            compiled.rules
        );
    }
    Ok(())
}

/// Runs the server until a signal arrives.
pub async fn serve(path: Option<&Path>) -> anyhow::Result<()> {
    let config = load_config(path)?;
    let image = intake::boot_image(&config.paths.image_file());
    let telemetry = Arc::new(Telemetry::create(
        &config.paths.telemetry_file(),
        config.telemetry.ring_slots,
        &crate::resolve::route::Routes::upstream_addrs(&config),
    )?);
    intake::show_serving(&telemetry, &image);
    let resolver = Arc::new(Resolver::new(&config, image));
    let handler = Arc::new(Handler::new(
        resolver.clone(),
        &config,
        Some(telemetry.clone()),
    ));
    let workers = server::worker_count(config.server.udp_workers);
    let listeners = Listeners::bind_workers(&config.server.listen, workers)?;
    let metrics_listener = match config.metrics.listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen for [metrics] on {addr}"))?,
        ),
        None => None,
    };
    let shutdown = CancellationToken::new();
    let intake = Intake::start(
        &config.paths.server_socket(),
        resolver.clone(),
        Some(telemetry.clone()),
        shutdown.child_token(),
    )?;
    // Only now, with every socket held, does the new segment replace the
    // old one for `stats` and `tail`.
    telemetry.install()?;
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(file) = &config.telemetry.query_log {
        let log = QueryLog::new(
            config.base_dir.join(file),
            config.telemetry.query_log_max_mib << 20,
            0,
        );
        tasks.spawn(log.run(
            telemetry.clone(),
            Duration::from_secs(config.telemetry.query_log_flush_secs),
            shutdown.clone(),
        ));
    }
    if let Some(listener) = metrics_listener {
        tasks.spawn(metrics::serve(
            listener,
            telemetry.clone(),
            shutdown.clone(),
        ));
    }
    if config.server.spawn_updater {
        let config_path = path.map(Path::to_owned);
        tasks.spawn(supervise::supervise(
            supervise::Child::Updater,
            config_path,
            config.paths.runtime.clone(),
            shutdown.clone(),
        ));
    }
    if config.server.spawn_web {
        tasks.spawn(supervise::supervise(
            supervise::Child::Web,
            path.map(Path::to_owned),
            config.paths.runtime.clone(),
            shutdown.clone(),
        ));
    }
    let signal = shutdown.clone();
    tasks.spawn(async move {
        tokio::select! {
            () = wait_for_signal() => info!("shutting down"),
            () = signal.cancelled() => {}
        }
        signal.cancel();
    });
    tasks.spawn({
        let (resolver, config, shutdown) = (resolver.clone(), config.clone(), shutdown.clone());
        async move { crate::resolve::refresh::keep_current(resolver, &config, shutdown).await }
    });
    let settings = server::Settings::from_config(&config);
    tasks.spawn(notify::watchdog(settings.pulse.clone(), shutdown.clone()));
    notify::ready();
    let served = server::run(listeners, handler, settings, shutdown.clone()).await;
    notify::stopping();
    shutdown.cancel();
    while tasks.join_next().await.is_some() {}
    intake.stop();
    telemetry.mark_stopped();
    served?;
    Ok(())
}

/// Returns when the process is asked to end: SIGTERM (systemd's stop) or
/// Ctrl-C. `ralo web` ends the same way.
pub(crate) async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
