//! The configuration file, `ralo.toml`: every key, its default and its check.
//!
//! The `///` docs on the fields below are the manual for `config/ralo.toml`.
//! A config is read once, checked whole, and either accepted or refused with a
//! message that names the key (and the line, where toml knows it). Unknown keys
//! are errors, not warnings: a typo must never silently fall back to a default.
//! With no config file at all, [`Config::embedded`] gives the first-run defaults.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::lists::Format;

/// Why a config was refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// toml or serde refused the text: syntax, an unknown key, a wrong type.
    #[error("{origin}: {message}")]
    Syntax {
        /// The file, or "embedded defaults".
        origin: String,
        /// toml's message; it names the key and shows the line.
        message: String,
    },
    /// A value that parsed but makes no sense.
    #[error("{origin}: key `{key}`: {message}")]
    Value {
        /// The file, or "embedded defaults".
        origin: String,
        /// The dotted key, e.g. `upstream.servers`.
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listening sockets.
    #[serde(default)]
    pub server: Server,
    /// Which clients get answers.
    #[serde(default)]
    pub access: Access,
    /// Where names that are not blocked are forwarded.
    #[serde(default)]
    pub upstream: Upstream,
    /// The answer cache.
    #[serde(default)]
    pub cache: Cache,
    /// How blocked names are answered.
    #[serde(default)]
    pub blocking: Blocking,
    /// The household's own names, answered locally.
    #[serde(default)]
    pub local: Local,
    /// Where state and sockets live.
    #[serde(default)]
    pub paths: Paths,
    /// How and when the updater refreshes the lists.
    #[serde(default)]
    pub update: Update,
    /// The shared segment with counters and recent queries.
    #[serde(default)]
    pub telemetry: Telemetry,
    /// The Prometheus endpoint.
    #[serde(default)]
    pub metrics: Metrics,
    /// Blocklists, in order. The first list that has a name is the one
    /// answers and logs name.
    #[serde(default)]
    pub lists: Vec<ListSource>,
    /// Allowlists: a name on one of these is never blocked.
    #[serde(default)]
    pub allowlists: Vec<ListSource>,
    /// The folder relative list paths resolve against: the config file's
    /// folder, or the working directory for the embedded defaults.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

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
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: vec![
                SocketAddr::from(([127, 0, 0, 1], 5353)),
                SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 5353)),
            ],
            tcp_idle_secs: 10,
            tcp_max_connections: 256,
            tcp_max_per_client: 32,
            udp_workers: 0,
            spawn_updater: true,
        }
    }
}

/// `[access]`: which clients get answers, and how many. Others get REFUSED.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Access {
    /// Client networks that are answered. Default: loopback, RFC 1918
    /// private ranges, CGNAT `100.64.0.0/10`, link-local and IPv6 ULA.
    /// IPv4-mapped IPv6 clients (`::ffff:192.168.1.5`) are matched as IPv4.
    pub allow: Vec<IpNet>,
    /// Queries per second one client may keep up (the refill rate of its
    /// token bucket); 0 turns rate limiting off. Default 50 (at most
    /// 100000). Pi-hole allows a client 1000 queries per 60 s (about 17 per
    /// second) and AdGuard Home 20 per second; ralo allows more so that a
    /// busy household device, or a router that forwards the whole
    /// household's queries as one client, never meets the limit, while a
    /// device stuck in a loop or a flood is held to 50 per second.
    pub rate_limit_qps: u32,
    /// Queries one client may send at once before the rate applies (the
    /// size of its bucket), e.g. a browser opening a page full of
    /// third-party names. Default 1000, Pi-hole's allowance per minute;
    /// 1 to 1000000.
    pub rate_limit_burst: u32,
    /// What a client over its limit gets: `"refuse"` (default: REFUSED with
    /// Extended DNS Error 18 saying it is rate limited, so a device fails
    /// fast instead of retrying) or `"drop"` (no answer at all; better on
    /// a server reachable from the internet, where answers could be aimed
    /// at a forged source).
    pub rate_limit_action: RateLimitAction,
    /// Client networks never rate limited. Default: loopback
    /// (`127.0.0.0/8`, `::1/128`). Give `[]` to limit every client.
    pub rate_limit_exempt: Vec<IpNet>,
    /// IPv6 clients share one bucket per network of this many leading
    /// bits (32 to 128; default 56, as AdGuard Home): one device may hold a
    /// whole /64 of addresses. A home network is usually one /64, so every
    /// IPv6 device at home shares a bucket, which is why the default rate
    /// is generous. IPv4 clients are limited per address. ralo tracks up
    /// to 8192 clients; beyond that an idle one is forgotten.
    pub rate_limit_ipv6_prefix: u8,
}

/// What a client over its rate limit gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitAction {
    /// REFUSED, with Extended DNS Error 18 "Prohibited".
    #[default]
    Refuse,
    /// No answer.
    Drop,
}

impl Default for Access {
    fn default() -> Self {
        let nets = [
            "127.0.0.0/8",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "100.64.0.0/10",
            "169.254.0.0/16",
            "::1/128",
            "fc00::/7",
            "fe80::/10",
        ];
        let parse = |nets: &[&str]| nets.iter().filter_map(|n| n.parse().ok()).collect();
        Access {
            // Fixed lists of valid literals: parsing cannot fail.
            allow: parse(&nets),
            rate_limit_qps: 50,
            rate_limit_burst: 1000,
            rate_limit_action: RateLimitAction::Refuse,
            rate_limit_exempt: parse(&["127.0.0.0/8", "::1/128"]),
            rate_limit_ipv6_prefix: 56,
        }
    }
}

/// `[upstream]`: the resolvers names are forwarded to.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Upstream {
    /// Resolvers as `ip` or `ip:port` (`[v6]:port`), tried in order: the
    /// next one is asked when one times out, fails or refuses. Default:
    /// Quad9 (`9.9.9.9`, `149.112.112.112`) and Cloudflare (`1.1.1.1`).
    pub servers: Vec<String>,
    /// How long one try waits for an answer (milliseconds).
    pub timeout_ms: u64,
    /// The bound on a whole client query: when every try has failed by then
    /// the client gets SERVFAIL (or a stale answer). At most 2500 ms.
    pub deadline_ms: u64,
    /// At most this many upstream tries per client query (1–3).
    pub max_tries: u8,
    /// At most this many client questions wait for upstream answers at once
    /// (identical questions share one and count once). A question beyond
    /// it gets a stale answer from the cache, else SERVFAIL, at once, and
    /// is counted (`ralo stats`: "over the upstream in-flight cap"). This
    /// bounds the sockets and memory a flood of distinct names can take:
    /// each question in flight holds up to `max_tries` sockets. Default
    /// 256, above dnsmasq's 150 (Pi-hole); 1 to 4096.
    pub max_inflight: usize,
}

impl Default for Upstream {
    fn default() -> Self {
        Upstream {
            servers: vec![
                "9.9.9.9:53".into(),
                "1.1.1.1:53".into(),
                "149.112.112.112:53".into(),
            ],
            timeout_ms: 800,
            deadline_ms: 2000,
            max_tries: 3,
            max_inflight: 256,
        }
    }
}

impl Upstream {
    /// The resolvers as socket addresses (validated by [`Config::check`]).
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.servers
            .iter()
            .filter_map(|s| parse_upstream(s).ok())
            .collect()
    }
}

/// `[cache]`: answers from upstream, kept for their TTL.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cache {
    /// How many answers are kept; the least recently used go first. 0 turns
    /// the cache off.
    pub entries: usize,
    /// TTLs below this are raised to it (seconds).
    pub min_ttl: u32,
    /// TTLs above this are lowered to it (seconds).
    pub max_ttl: u32,
    /// NXDOMAIN and NODATA answers are kept at most this long (seconds;
    /// RFC 2308 takes the SOA minimum, capped here).
    pub negative_max_ttl: u32,
    /// When every upstream fails, answer from an expired entry (RFC 8767).
    pub serve_stale: bool,
    /// How long after expiry an entry may still be served stale (seconds).
    pub stale_max_age: u32,
}

impl Default for Cache {
    fn default() -> Self {
        Cache {
            entries: 10_000,
            min_ttl: 0,
            max_ttl: 86_400,
            negative_max_ttl: 3_600,
            serve_stale: true,
            stale_max_age: 86_400,
        }
    }
}

/// How a blocked name is answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `0.0.0.0` for A, `::` for AAAA, NODATA for every other type.
    #[default]
    Null,
    /// NXDOMAIN: the name does not exist.
    Nxdomain,
    /// NOERROR with no records, for every type.
    Nodata,
    /// REFUSED.
    Refused,
}

/// `[blocking]`: how blocked names are answered.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Blocking {
    /// `"null"` (default), `"nxdomain"`, `"nodata"` or `"refused"`.
    pub mode: Mode,
    /// TTL of blocked answers (seconds, at most 3600). Short, so that an
    /// allowlist edit takes effect on clients quickly.
    pub ttl: u32,
    /// Also block an answer whose CNAME chain leads to a blocked name.
    pub check_cnames: bool,
}

impl Default for Blocking {
    fn default() -> Self {
        Blocking {
            mode: Mode::Null,
            ttl: 10,
            check_cnames: true,
        }
    }
}

/// `[local]`: names the household answers itself.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Local {
    /// Name → addresses, e.g. `"nas.home.arpa" = ["192.168.1.10", "fd00::10"]`.
    /// A and AAAA questions get these; other types get NODATA. Subdomains
    /// are not covered. Each name once: spellings that differ in case or a
    /// trailing dot are one name, and are refused.
    pub records: BTreeMap<String, Vec<IpAddr>>,
}

/// `[paths]`: where ralo keeps state and sockets. Relative paths resolve
/// against the config file's folder. Two instances with different paths can
/// run side by side.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Paths {
    /// The last published image and the last good copy of each downloaded
    /// list. Default: `$XDG_STATE_HOME/ralo`, else `~/.local/state/ralo`
    /// (the Pi package uses `/var/lib/ralo`).
    pub state: PathBuf,
    /// The control sockets. Default: `$XDG_RUNTIME_DIR/ralo`, else
    /// `/tmp/ralo-<uid>` (the Pi package uses `/run/ralo`).
    pub runtime: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        let env = |key: &str| {
            std::env::var_os(key)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let state = env("XDG_STATE_HOME")
            .or_else(|| env("HOME").map(|home| home.join(".local/state")))
            .unwrap_or_else(std::env::temp_dir)
            .join("ralo");
        let runtime = env("XDG_RUNTIME_DIR")
            .map(|dir| dir.join("ralo"))
            .unwrap_or_else(|| {
                std::env::temp_dir().join(format!("ralo-{}", rustix::process::getuid().as_raw()))
            });
        Paths { state, runtime }
    }
}

impl Paths {
    /// The persisted last published image.
    pub fn image_file(&self) -> PathBuf {
        self.state.join("image.bin")
    }

    /// The server's socket (publish, status, control).
    pub fn server_socket(&self) -> PathBuf {
        self.runtime.join("ralo.sock")
    }

    /// The telemetry segment the server writes and `stats` / `tail` read.
    pub fn telemetry_file(&self) -> PathBuf {
        self.runtime.join("telemetry")
    }
}

/// `[telemetry]`: the segment `ralo serve` keeps in `[paths] runtime` with
/// its counters and the ring of recent queries (see `ralo stats`, `ralo tail`).
/// Queries are never written to disk: put `runtime` on tmpfs.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Telemetry {
    /// How many recent queries the ring keeps, a power of two from 64 to
    /// 1048576. Each takes 192 bytes: 8192 is 1.5 MiB.
    pub ring_slots: usize,
    /// A file to keep the query history in, as JSON lines (relative paths
    /// resolve against the config file's folder). Absent or `""`: none
    /// (the default). Written in batches, never once per query.
    #[serde(deserialize_with = "optional_path")]
    pub query_log: Option<PathBuf>,
    /// The query log is appended to this often (seconds, 1–3600).
    pub query_log_flush_secs: u64,
    /// When the query log would pass this size (MiB) it is renamed to
    /// `<file>.1`, replacing the previous one, and a new one begun.
    pub query_log_max_mib: u64,
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            ring_slots: 8192,
            query_log: None,
            query_log_flush_secs: 60,
            query_log_max_mib: 16,
        }
    }
}

fn optional_path<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    let text = String::deserialize(d)?;
    Ok((!text.trim().is_empty()).then(|| PathBuf::from(text)))
}

/// `[metrics]`: a Prometheus endpoint, `http://<listen>/metrics`, served by
/// `ralo serve` from the telemetry counters.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// Address to serve on, e.g. `"127.0.0.1:9153"`. Absent or `""`: no
    /// endpoint (the default). It has no authentication: keep it on
    /// loopback or the household network.
    #[serde(deserialize_with = "optional_addr")]
    pub listen: Option<SocketAddr>,
}

fn optional_addr<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.trim().parse().map(Some).map_err(|_| {
        serde::de::Error::custom(format!(
            "`{text}` is not an address: write an IP and a port, e.g. \"127.0.0.1:9153\", or \"\" for no endpoint"
        ))
    })
}

/// `[update]`: how and when the updater refreshes the lists.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Update {
    /// Refresh downloaded lists this often (hours; 0: only on request or
    /// when a local file changes). A random jitter of up to a tenth of it is
    /// added so that many installs do not hit a list server at once.
    pub interval_hours: u32,
    /// A downloaded list that lost more than this share of its entries
    /// since its last good copy is not trusted: the last good copy is used.
    pub max_shrink: f64,
    /// An image whose rule count fell by more than this share compared with
    /// the one serving is not published (`ralo update --force` overrides).
    pub max_drop: f64,
    /// Size cap per list (MiB, 1 to 1024), downloaded (after
    /// decompression) or local; a larger list is not used (a download falls
    /// back on its last good copy).
    pub max_download_mib: u64,
    /// Download time cap per list (seconds).
    pub download_timeout_secs: u64,
    /// Rules one list may add: past it the rest of that list is left out,
    /// and the updater says so. Default 2000000, well above the largest
    /// common blocklists; 1 to 50000000.
    pub max_list_entries: u64,
    /// Rules all lists together may add: past it the rest is left out, and
    /// the updater says so. Default 2500000: the image takes about 8 bytes a
    /// rule, but the updater peaks near 80 bytes a rule while it compiles a
    /// hosts file (the text and the rules; benches/README.md), and the
    /// packaged updater unit may use 256 MiB.
    /// Raise both together on a Pi with memory to spare; 1 to 50000000.
    pub max_entries: u64,
}

/// The most `[[lists]]` and `[[allowlists]]` entries together.
pub const MAX_SOURCES: usize = 512;

// An image holds at most MAX_LISTS lists: a config the check accepts always
// compiles.
const _: () = assert!(MAX_SOURCES <= crate::image::MAX_LISTS);

impl Default for Update {
    fn default() -> Self {
        Update {
            interval_hours: 24,
            max_shrink: 0.5,
            max_drop: 0.5,
            max_download_mib: 64,
            download_timeout_secs: 60,
            max_list_entries: 2_000_000,
            max_entries: 2_500_000,
        }
    }
}

impl Update {
    /// The size cap per list in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_download_mib.saturating_mul(1024 * 1024)
    }
}

/// One `[[lists]]` or `[[allowlists]]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSource {
    /// Short name shown in answers (EDE text), logs and `ralo check`.
    pub name: String,
    /// A local file; relative paths resolve against the config file's folder.
    pub path: Option<PathBuf>,
    /// Or a URL, `https://…` (the updater downloads it and keeps the last good
    /// copy in the state folder). Give `path` or `url`, not both.
    pub url: Option<String>,
    /// Allow a plain `http://` URL (off: lists should not be open to tampering
    /// on the way).
    #[serde(default)]
    pub allow_http: bool,
    /// The household's own list: `ralo block` / `ralo unblock` (for
    /// `[[lists]]`) and `ralo allow` / `ralo unallow` (for `[[allowlists]]`)
    /// edit this file. At most one per section; it needs a `path`.
    #[serde(default)]
    pub household: bool,
    /// `"auto"` (default: decided per line), `"hosts"`, `"domains"` or `"adblock"`.
    #[serde(default = "default_format", deserialize_with = "format_from_str")]
    pub format: Format,
    /// Hosts and plain entries also cover their subdomains (adblock `||x^`
    /// and `*.x` always do).
    #[serde(default)]
    pub subdomains: bool,
}

fn default_format() -> Format {
    Format::Auto
}

fn format_from_str<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Format, D::Error> {
    let text = String::deserialize(d)?;
    match text.as_str() {
        "auto" => Ok(Format::Auto),
        "hosts" => Ok(Format::Hosts),
        "domains" => Ok(Format::Domains),
        "adblock" => Ok(Format::Adblock),
        other => Err(serde::de::Error::custom(format!(
            "unknown format `{other}`, expected one of `auto`, `hosts`, `domains`, `adblock`"
        ))),
    }
}

impl Config {
    /// The household's own blocklist (`allow` false) or allowlist file.
    pub fn household_file(&self, allow: bool) -> Option<PathBuf> {
        let sources = if allow { &self.allowlists } else { &self.lists };
        sources
            .iter()
            .find(|s| s.household)
            .and_then(|s| s.resolved_path(&self.base_dir))
    }
}

impl ListSource {
    /// The list file, resolved against `base`.
    pub fn resolved_path(&self, base: &Path) -> Option<PathBuf> {
        self.path.as_ref().map(|p| base.join(p))
    }
}

/// The config the first run uses when no file is given.
pub const EMBEDDED: &str = include_str!("../config/ralo.toml");

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let base = absolute
            .parent()
            .map(Path::to_owned)
            .unwrap_or_else(|| PathBuf::from("."));
        Config::parse(&text, &path.display().to_string(), base)
    }

    /// The first-run defaults: `config/ralo.toml` as compiled into the
    /// binary, with list paths relative to the working directory.
    pub fn embedded() -> Result<Config, Error> {
        Config::parse(EMBEDDED, "embedded defaults", PathBuf::from("."))
    }

    /// Parses and checks config text. `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, base_dir: PathBuf) -> Result<Config, Error> {
        let mut config: Config = toml::from_str(text).map_err(|e| Error::Syntax {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        if config.paths.state.is_relative() {
            config.paths.state = base_dir.join(&config.paths.state);
        }
        if config.paths.runtime.is_relative() {
            config.paths.runtime = base_dir.join(&config.paths.runtime);
        }
        config.base_dir = base_dir;
        config.check().map_err(|(key, message)| Error::Value {
            origin: origin.to_owned(),
            key,
            message,
        })?;
        Ok(config)
    }

    /// Checks values that toml cannot: ranges, duplicates, addresses.
    fn check(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, msg: String| Err((key.to_owned(), msg));
        if self.server.listen.is_empty() {
            return bad(
                "server.listen",
                "give at least one address, e.g. \"127.0.0.1:5353\"".into(),
            );
        }
        if !(1..=10).contains(&self.server.tcp_idle_secs) {
            return bad("server.tcp_idle_secs", "must be 1 to 10 (seconds)".into());
        }
        if self.server.tcp_max_connections == 0 || self.server.tcp_max_connections > 65_536 {
            return bad("server.tcp_max_connections", "must be 1 to 65536".into());
        }
        let per_client = self.server.tcp_max_per_client;
        if per_client == 0 || per_client > self.server.tcp_max_connections {
            return bad(
                "server.tcp_max_per_client",
                "must be at least 1 and at most tcp_max_connections".into(),
            );
        }
        if self.server.udp_workers > 64 {
            return bad(
                "server.udp_workers",
                "must be 0 (one per core) to 64".into(),
            );
        }
        if self.upstream.servers.is_empty() {
            return bad(
                "upstream.servers",
                "give at least one resolver, e.g. \"9.9.9.9:53\"".into(),
            );
        }
        for s in &self.upstream.servers {
            if let Err(msg) = parse_upstream(s) {
                return bad("upstream.servers", msg);
            }
        }
        let a = &self.access;
        if a.rate_limit_qps > 100_000 {
            return bad(
                "access.rate_limit_qps",
                format!(
                    "{} is out of range 0..=100000 (0 turns the limit off)",
                    a.rate_limit_qps
                ),
            );
        }
        if !(1..=1_000_000).contains(&a.rate_limit_burst) {
            return bad(
                "access.rate_limit_burst",
                format!("{} is out of range 1..=1000000", a.rate_limit_burst),
            );
        }
        if !(32..=128).contains(&a.rate_limit_ipv6_prefix) {
            return bad(
                "access.rate_limit_ipv6_prefix",
                format!(
                    "{} is out of range 32..=128 (56 or 64 are usual)",
                    a.rate_limit_ipv6_prefix
                ),
            );
        }
        let u = &self.upstream;
        if u.timeout_ms < 50 || u.timeout_ms > 2_500 {
            return bad(
                "upstream.timeout_ms",
                format!("{} is out of range 50..=2500", u.timeout_ms),
            );
        }
        if u.deadline_ms < u.timeout_ms || u.deadline_ms > 2_500 {
            return bad(
                "upstream.deadline_ms",
                format!(
                    "{} must be between upstream.timeout_ms ({}) and 2500",
                    u.deadline_ms, u.timeout_ms
                ),
            );
        }
        if !(1..=3).contains(&u.max_tries) {
            return bad(
                "upstream.max_tries",
                format!("{} is out of range 1..=3", u.max_tries),
            );
        }
        if !(1..=4096).contains(&u.max_inflight) {
            return bad(
                "upstream.max_inflight",
                format!("{} is out of range 1..=4096", u.max_inflight),
            );
        }
        if self.cache.min_ttl > self.cache.max_ttl {
            return bad(
                "cache.min_ttl",
                "must not be larger than cache.max_ttl".into(),
            );
        }
        for (key, share) in [
            ("update.max_shrink", self.update.max_shrink),
            ("update.max_drop", self.update.max_drop),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return bad(key, format!("{share} is not a share between 0.0 and 1.0"));
            }
        }
        let up = &self.update;
        if !(1..=1024).contains(&up.max_download_mib) {
            return bad(
                "update.max_download_mib",
                format!("{} is out of range 1..=1024", up.max_download_mib),
            );
        }
        if up.download_timeout_secs == 0 {
            return bad("update.download_timeout_secs", "must be at least 1".into());
        }
        for (key, value) in [
            ("update.max_list_entries", up.max_list_entries),
            ("update.max_entries", up.max_entries),
        ] {
            if !(1..=50_000_000).contains(&value) {
                return bad(key, format!("{value} is out of range 1..=50000000"));
            }
        }
        let sources = self.lists.len() + self.allowlists.len();
        if sources > MAX_SOURCES {
            return bad(
                "lists",
                format!(
                    "{sources} lists and allowlists: at most {MAX_SOURCES}; merge some into one file"
                ),
            );
        }
        let slots = self.telemetry.ring_slots;
        if !slots.is_power_of_two() || !(64..=1 << 20).contains(&slots) {
            return bad(
                "telemetry.ring_slots",
                format!("{slots} is not a power of two from 64 to 1048576"),
            );
        }
        if !(1..=3_600).contains(&self.telemetry.query_log_flush_secs) {
            return bad(
                "telemetry.query_log_flush_secs",
                format!(
                    "{} is out of range 1..=3600",
                    self.telemetry.query_log_flush_secs
                ),
            );
        }
        if self.telemetry.query_log_max_mib == 0 {
            return bad("telemetry.query_log_max_mib", "must be at least 1".into());
        }
        if self.blocking.ttl > 3_600 {
            return bad(
                "blocking.ttl",
                format!("{} is more than 3600 seconds", self.blocking.ttl),
            );
        }
        // Two spellings of one name (`NAS.home.arpa`, `nas.home.arpa.`) are
        // two keys to toml but one name to DNS: one would silently win.
        let mut local = BTreeMap::new();
        for name in self.local.records.keys() {
            match crate::domain::Domain::parse(name) {
                Err(e) => return bad("local.records", format!("`{name}`: {e}")),
                Ok(domain) => {
                    if let Some(first) = local.insert(domain, name) {
                        return bad(
                            "local.records",
                            format!(
                                "`{first}` and `{name}` are the same name; give its addresses once"
                            ),
                        );
                    }
                }
            }
        }
        let mut names = HashSet::new();
        for (section, sources) in [("lists", &self.lists), ("allowlists", &self.allowlists)] {
            let households: Vec<&ListSource> = sources.iter().filter(|s| s.household).collect();
            if households.len() > 1 {
                return bad(
                    &format!("{section}.household"),
                    "only one list per section can be the household's own".into(),
                );
            }
            if households.iter().any(|s| s.path.is_none()) {
                return bad(
                    &format!("{section}.household"),
                    "the household's own list must be a local file (`path`)".into(),
                );
            }
            for source in sources {
                if source.name.trim().is_empty() || source.name.len() > 64 {
                    return bad(
                        &format!("{section}.name"),
                        "give a name of 1 to 64 characters".into(),
                    );
                }
                if !names.insert(source.name.as_str()) {
                    return bad(
                        &format!("{section}.name"),
                        format!("`{}` is used twice; list names must be unique", source.name),
                    );
                }
                match (&source.path, &source.url) {
                    (None, None) => {
                        return bad(
                            &format!("{section}.path"),
                            format!("list `{}` needs a `path` or a `url`", source.name),
                        );
                    }
                    (Some(_), Some(_)) => {
                        return bad(
                            &format!("{section}.url"),
                            format!("list `{}` has both `path` and `url`; keep one", source.name),
                        );
                    }
                    (None, Some(url)) => {
                        let https = url.starts_with("https://");
                        let http = url.starts_with("http://");
                        if !(https || http && source.allow_http) {
                            let fix = if http {
                                "use https://, or set `allow_http = true` for this list"
                            } else {
                                "give an https:// URL"
                            };
                            return bad(&format!("{section}.url"), format!("`{url}`: {fix}"));
                        }
                    }
                    (Some(_), None) => {}
                }
            }
        }
        Ok(())
    }

    /// The TCP idle timeout.
    pub fn tcp_idle(&self) -> Duration {
        Duration::from_secs(self.server.tcp_idle_secs)
    }
}

/// Parses `ip` or `ip:port` (`[v6]:port`); port 53 when none is given.
pub fn parse_upstream(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    Err(format!(
        "`{text}` is not an address: write an IP with an optional port, e.g. \"9.9.9.9:53\" or \"[2620:fe::fe]:53\" (names cannot be used: ralo is the resolver)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Error> {
        Config::parse(text, "test.toml", PathBuf::from("/etc/ralo"))
    }

    #[test]
    fn embedded_defaults_parse() {
        let c = Config::embedded().expect("embedded config is valid");
        assert!(c.server.listen.iter().any(|a| a.port() == 5353));
        assert!(!c.lists.is_empty());
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.blocking.mode, Mode::Null);
        assert_eq!(c.upstream.addrs().len(), 3);
    }

    #[test]
    fn unknown_key_is_refused_with_its_name_and_line() {
        let err = parse("[server]\nlisten = [\"127.0.0.1:53\"]\nlistn = 1\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("listn"), "{text}");
        assert!(text.contains('3'), "line number missing: {text}");
    }

    #[test]
    fn wrong_type_is_refused_with_the_key() {
        let err = parse("[cache]\nentries = \"many\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("entries"), "{err}");
    }

    #[test]
    fn bad_mode_is_refused() {
        let err = parse("[blocking]\nmode = \"sinkhole\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sinkhole"), "{err}");
    }

    #[test]
    fn local_names_spelled_twice_are_refused() {
        let text = "[local.records]\n\"NAS.home.arpa\" = [\"192.168.1.10\"]\n\
                    \"nas.home.arpa.\" = [\"192.168.1.11\"]\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains("same name"), "{err}");
        assert!(parse("[local.records]\n\"nas.home.arpa\" = [\"192.168.1.10\"]\n").is_ok());
    }

    #[test]
    fn upstream_names_are_refused() {
        let err = parse("[upstream]\nservers = [\"dns.quad9.net\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("upstream.servers"), "{err}");
    }

    #[test]
    fn upstream_without_port_gets_53() {
        assert_eq!(parse_upstream("9.9.9.9").unwrap().port(), 53);
        assert_eq!(parse_upstream("[::1]:5300").unwrap().port(), 5300);
    }

    #[test]
    fn duplicate_list_names_are_refused() {
        let text =
            "[[lists]]\nname = \"a\"\npath = \"x\"\n[[allowlists]]\nname = \"a\"\npath = \"y\"\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains("used twice"), "{err}");
    }

    #[test]
    fn relative_list_paths_resolve_against_config_folder() {
        let c = parse("[[lists]]\nname = \"a\"\npath = \"lists/a.txt\"\n").unwrap();
        assert_eq!(
            c.lists[0].resolved_path(&c.base_dir).unwrap(),
            PathBuf::from("/etc/ralo/lists/a.txt")
        );
    }

    #[test]
    fn metrics_listen_is_off_when_absent_or_empty() {
        assert_eq!(parse("").unwrap().metrics.listen, None);
        assert_eq!(
            parse("[metrics]\nlisten = \"\"\n").unwrap().metrics.listen,
            None
        );
        let on = parse("[metrics]\nlisten = \"127.0.0.1:9153\"\n").unwrap();
        assert_eq!(on.metrics.listen, Some("127.0.0.1:9153".parse().unwrap()));
        let err = parse("[metrics]\nlisten = \"localhost\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("localhost"), "{err}");
    }

    #[test]
    fn ring_slots_must_be_a_power_of_two() {
        assert_eq!(parse("").unwrap().telemetry.ring_slots, 8192);
        let err = parse("[telemetry]\nring_slots = 1000\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("telemetry.ring_slots"), "{err}");
    }

    #[test]
    fn rate_limit_defaults_are_generous_and_exempt_loopback() {
        let access = parse("").unwrap().access;
        assert_eq!((access.rate_limit_qps, access.rate_limit_burst), (50, 1000));
        assert_eq!(access.rate_limit_action, RateLimitAction::Refuse);
        assert_eq!(access.rate_limit_ipv6_prefix, 56);
        let exempt: Vec<String> = access
            .rate_limit_exempt
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(exempt, ["127.0.0.0/8", "::1/128"]);
        let set = parse(
            "[access]\nrate_limit_action = \"drop\"\nrate_limit_exempt = []\nrate_limit_qps = 0\n",
        )
        .unwrap()
        .access;
        assert_eq!(set.rate_limit_action, RateLimitAction::Drop);
        assert!(set.rate_limit_exempt.is_empty());
        assert_eq!(set.rate_limit_qps, 0);
    }

    #[test]
    fn rate_limit_values_out_of_range_are_refused_with_their_key() {
        for (text, key) in [
            ("rate_limit_qps = 100001", "access.rate_limit_qps"),
            ("rate_limit_burst = 0", "access.rate_limit_burst"),
            (
                "rate_limit_ipv6_prefix = 16",
                "access.rate_limit_ipv6_prefix",
            ),
            (
                "rate_limit_ipv6_prefix = 129",
                "access.rate_limit_ipv6_prefix",
            ),
            ("rate_limit_action = \"slow\"", "rate_limit_action"),
        ] {
            let err = parse(&format!("[access]\n{text}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn upstream_inflight_cap_is_bounded() {
        assert_eq!(parse("").unwrap().upstream.max_inflight, 256);
        for bad_value in [0, 4097] {
            let err = parse(&format!("[upstream]\nmax_inflight = {bad_value}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("upstream.max_inflight"), "{err}");
        }
    }

    #[test]
    fn update_caps_out_of_range_are_refused_with_their_key() {
        let defaults = parse("").unwrap().update;
        assert_eq!(defaults.max_bytes(), 64 << 20);
        assert_eq!(
            (defaults.max_list_entries, defaults.max_entries),
            (2_000_000, 2_500_000)
        );
        for (text, key) in [
            ("max_download_mib = 0", "update.max_download_mib"),
            ("max_download_mib = 1025", "update.max_download_mib"),
            ("download_timeout_secs = 0", "update.download_timeout_secs"),
            ("max_list_entries = 0", "update.max_list_entries"),
            ("max_entries = 50000001", "update.max_entries"),
        ] {
            let err = parse(&format!("[update]\n{text}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn more_sources_than_the_cap_are_refused_before_compiling() {
        let mut text = String::new();
        for i in 0..=MAX_SOURCES {
            text.push_str(&format!(
                "[[lists]]\nname = \"l{i}\"\npath = \"l{i}.txt\"\n"
            ));
        }
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("at most 512"), "{err}");
    }

    #[test]
    fn list_urls_must_be_https_unless_allow_http() {
        let list = |url: &str, extra: &str| {
            parse(&format!(
                "[[lists]]\nname = \"a\"\nurl = \"{url}\"\n{extra}\n"
            ))
        };
        assert!(list("https://lists.example/a.txt", "").is_ok());
        let err = list("http://lists.example/a.txt", "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("allow_http = true"), "{err}");
        assert!(list("http://lists.example/a.txt", "allow_http = true").is_ok());
        for url in [
            "file:///etc/passwd",
            "ftp://lists.example/a",
            "lists.example/a",
        ] {
            let err = list(url, "allow_http = true").unwrap_err().to_string();
            assert!(err.contains("https://"), "{url}: {err}");
        }
    }

    #[test]
    fn deadline_above_bound_is_refused() {
        let err = parse("[upstream]\ndeadline_ms = 5000\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("upstream.deadline_ms"), "{err}");
    }
}
