//! `[server]`: the sockets `ralo serve` answers on and the caps on its TCP
//! connections.

use std::net::{Ipv6Addr, SocketAddr};

use serde::Deserialize;

use super::error::BadValue;

/// `[server]`: listening sockets.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    /// Addresses to answer on, UDP and TCP each, e.g. `"0.0.0.0:53"`,
    /// `"[::]:53"`, `"192.168.1.2:53"`. Default: `127.0.0.1:5353` and
    /// `[::1]:5353` (no privileges needed). On the Pi: `["0.0.0.0:53", "[::]:53"]`.
    pub listen: Vec<SocketAddr>,
    /// A TCP client that sends nothing for this long is disconnected, and
    /// each whole message must arrive within it (seconds, 1–10; RFC 7766).
    pub tcp_idle_secs: u64,
    /// TCP connections open at once, from all clients together. A
    /// connection over the cap is closed at once.
    pub tcp_max_connections: usize,
    /// TCP connections open at once from one client address.
    pub tcp_max_per_client: usize,
    /// UDP sockets (and workers) per listening address, sharing the port
    /// with `SO_REUSEPORT`. 0: one per CPU core ralo may run on.
    pub udp_workers: usize,
    /// Start `ralo update --watch` as a supervised child process when no
    /// updater is running (the one-command first run). Turn off where
    /// systemd runs the updater as its own unit.
    pub spawn_updater: bool,
    /// Start `ralo web` (the admin page, `[web] listen`) as a supervised
    /// child process too. Off by default; the first-run config turns it on.
    /// Where systemd runs `ralo-web.service`, leave it off.
    pub spawn_web: bool,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: vec![
                SocketAddr::from(([127, 0, 0, 1], 5353)),
                SocketAddr::from((Ipv6Addr::LOCALHOST, 5353)),
            ],
            tcp_idle_secs: 10,
            tcp_max_connections: 256,
            tcp_max_per_client: 32,
            udp_workers: 0,
            spawn_updater: true,
            spawn_web: false,
        }
    }
}

impl Server {
    /// Checks what serde cannot: an address to listen on, the ranges.
    pub(super) fn check(&self) -> Result<(), BadValue> {
        if self.listen.is_empty() {
            return Err(BadValue::new(
                "server.listen",
                "give at least one address, e.g. \"127.0.0.1:5353\"",
            ));
        }
        if !(1..=10).contains(&self.tcp_idle_secs) {
            return Err(BadValue::new(
                "server.tcp_idle_secs",
                "must be 1 to 10 (seconds)",
            ));
        }
        if !(1..=65_536).contains(&self.tcp_max_connections) {
            return Err(BadValue::new(
                "server.tcp_max_connections",
                "must be 1 to 65536",
            ));
        }
        if !(1..=self.tcp_max_connections).contains(&self.tcp_max_per_client) {
            return Err(BadValue::new(
                "server.tcp_max_per_client",
                "must be at least 1 and at most tcp_max_connections",
            ));
        }
        if self.udp_workers > 64 {
            return Err(BadValue::new(
                "server.udp_workers",
                "must be 0 (one per core) to 64",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::file::{parse_test as parse, refused_key};

    #[test]
    fn defaults_listen_on_loopback_port_5353() {
        let server = parse("").unwrap().server;
        assert_eq!(server.listen.len(), 2);
        assert!(
            server
                .listen
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 5353)
        );
    }

    #[test]
    fn server_values_out_of_range_are_refused_with_their_key() {
        for (text, key) in [
            ("listen = []", "server.listen"),
            ("tcp_idle_secs = 0", "server.tcp_idle_secs"),
            ("tcp_idle_secs = 11", "server.tcp_idle_secs"),
            ("tcp_max_connections = 0", "server.tcp_max_connections"),
            ("tcp_max_connections = 65537", "server.tcp_max_connections"),
            ("tcp_max_per_client = 0", "server.tcp_max_per_client"),
            (
                "tcp_max_connections = 8\ntcp_max_per_client = 9",
                "server.tcp_max_per_client",
            ),
            ("udp_workers = 65", "server.udp_workers"),
        ] {
            assert_eq!(refused_key(&format!("[server]\n{text}\n")), key, "{text}");
        }
    }
}
