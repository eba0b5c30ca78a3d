//! `ralo serve`: load the config, compile the lists, bind, answer until
//! SIGINT or SIGTERM.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::compile;
use crate::config::Config;
use crate::image::Image;
use crate::resolve::Resolver;
use crate::server::{self, Listeners};

/// Loads `path`, or the embedded defaults when `None`.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        Some(path) => Ok(Config::load(path)?),
        None => Ok(Config::embedded()?),
    }
}

/// Checks a config and its lists, printing a summary; serves nothing.
pub fn check(path: Option<&Path>) -> anyhow::Result<()> {
    let config = load_config(path)?;
    let compiled = compile::compile(&config, 0);
    Image::open(compiled.image.as_slice())
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
    let started = std::time::Instant::now();
    let compiled = compile::compile(&config, 1);
    let image = Image::open(compiled.image).context("the compiled image is invalid")?;
    info!(
        rules = compiled.rules,
        bytes = image.as_bytes().len(),
        ms = started.elapsed().as_millis() as u64,
        "blocklist image ready"
    );
    let listeners = Listeners::bind(&config.server.listen)?;
    let resolver = Arc::new(Resolver::new(&config, image));
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        info!("shutting down");
        signal.cancel();
    });
    server::run(listeners, resolver, config.tcp_idle(), shutdown).await?;
    Ok(())
}

async fn wait_for_signal() {
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
