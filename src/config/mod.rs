//! The configuration file, `ralo.toml`, one file per section: each owns its
//! keys, their defaults and its check, and [`Config`] reads the whole file and
//! checks it section by section. The `///` docs on the fields are the manual
//! for `config/ralo.toml`. A config is either accepted or refused with a
//! message that names the key (and the line, where toml knows it); unknown
//! keys are errors, so a typo never silently falls back to a default.

mod access;
mod blocking;
mod cache;
mod clients;
mod error;
mod file;
mod forward;
mod lists;
mod local;
mod metrics;
mod paths;
mod server;
mod telemetry;
mod update;
mod upstream;
mod upstream_spec;
mod web;

pub use access::{Access, RateLimitAction};
pub use blocking::{Blocking, Mode};
pub use cache::Cache;
pub use clients::{Client, ClientEntry, ClientLookup, DEFAULT_GROUP, Group, MAX_CONFIG_GROUPS};
pub use error::Error;
pub use file::{Config, EMBEDDED};
pub use forward::{Forward, MAX_FORWARDS};
pub use lists::{HostsAddresses, ListSource, MAX_SOURCES};
pub use local::Local;
pub use metrics::Metrics;
pub use paths::Paths;
pub use server::Server;
pub use telemetry::Telemetry;
pub use update::Update;
pub use upstream::{CaFileError, Upstream};
pub use upstream_spec::{DOH_PORT, DOT_PORT, HttpsSpec, UpstreamSpec, UpstreamSpecError};
pub use web::Web;
