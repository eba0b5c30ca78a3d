//! What keeps the [policy](super::policy) current outside the query path:
//! the schedules are evaluated again at the start of every local minute,
//! and, while the serving image names devices by MAC address or host name,
//! the neighbour tables and the DHCP leases are read every
//! `[client_lookup] refresh_secs`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Resolver;
use super::devices::Devices;
use crate::config::Config;

/// Runs until `shutdown`: the minute tick and the device reads.
pub async fn keep_current(resolver: Arc<Resolver>, config: &Config, shutdown: CancellationToken) {
    let leases = config
        .client_lookup
        .leases
        .as_ref()
        .map(|path| config.base_dir.join(path));
    let records: Vec<(String, Vec<IpAddr>)> = config
        .local
        .records
        .iter()
        .map(|(name, addrs)| (name.clone(), addrs.clone()))
        .collect();
    let every = Duration::from_secs(config.client_lookup.refresh_secs);
    let minutes = {
        let resolver = resolver.clone();
        let shutdown = shutdown.clone();
        async move {
            loop {
                let wait = resolver.refresh_policy(jiff::Timestamp::now());
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(wait)) => {}
                    () = shutdown.cancelled() => return,
                }
            }
        }
    };
    let devices = async move {
        loop {
            if resolver.needs_devices() {
                let (leases, records) = (leases.clone(), records.clone());
                let read = tokio::task::spawn_blocking(move || {
                    let records = records.iter().map(|(n, a)| (n.as_str(), a.as_slice()));
                    Devices::read(leases.as_deref(), records)
                })
                .await;
                if let Ok(devices) = read {
                    resolver.set_devices(devices);
                }
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = shutdown.cancelled() => return,
            }
        }
    };
    tokio::join!(minutes, devices);
}
