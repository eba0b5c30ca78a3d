//! Starting a real ralo server in-process on loopback port 0, with list files
//! and a config written to a temporary folder.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use ralo::cli::check::{Description, describe};
use ralo::config::Config;
use ralo::domain::Domain;
use ralo::image::Image;
use ralo::resolve::Resolver;
use ralo::server::{self, Handler, Listeners};
use ralo::telemetry::{Counters, Cursor, Telemetry};
use ralo::vocab::Outcome;
use tokio_util::sync::CancellationToken;

use crate::support::client::{Client, loopback, sinkholed};

/// A running ralo server.
pub struct Ralo {
    /// The address it answers on (UDP and TCP).
    pub addr: SocketAddr,
    /// Its resolver, to look at counters.
    pub resolver: Arc<Resolver>,
    /// Its handler, which records into the telemetry segment if any.
    pub handler: Arc<Handler>,
    /// Its config.
    pub config: Config,
    /// The folder holding its config and lists, removed on drop.
    _dir: tempfile::TempDir,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// Builds a config around an upstream and some list files.
pub struct Setup {
    upstreams: Vec<String>,
    files: Vec<(String, String)>,
    server: String,
    extra: String,
    telemetry: bool,
}

impl Setup {
    /// Forward to `upstream`.
    pub fn new(upstream: SocketAddr) -> Setup {
        Setup {
            upstreams: vec![upstream.to_string()],
            files: Vec::new(),
            server: String::new(),
            extra: String::new(),
            telemetry: false,
        }
    }

    /// Counts into a telemetry segment in the server's folder, as `ralo
    /// serve` does (read it with [`Ralo::counters`]).
    pub fn telemetry(mut self) -> Setup {
        self.telemetry = true;
        self
    }

    /// Forward to these upstreams, in order.
    pub fn upstreams(mut self, upstreams: &[SocketAddr]) -> Setup {
        self.upstreams = upstreams.iter().map(ToString::to_string).collect();
        self
    }

    /// Forward to these `[upstream] servers` entries, as written in the
    /// config (`"tls://…"`, `"https://…"`, plain addresses), in order.
    pub fn servers(mut self, servers: &[&str]) -> Setup {
        self.upstreams = servers.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Writes a file into the server's folder.
    pub fn file(mut self, name: &str, text: &str) -> Setup {
        self.files.push((name.to_owned(), text.to_owned()));
        self
    }

    /// A `[[lists]]` entry backed by a new file with `text`.
    pub fn list(self, name: &str, text: &str, keys: &str) -> Setup {
        let file = format!("{name}.txt");
        let entry = format!("[[lists]]\nname = \"{name}\"\npath = \"{file}\"\n{keys}\n");
        self.file(&file, text).toml(&entry)
    }

    /// An `[[allowlists]]` entry backed by a new file with `text`.
    pub fn allowlist(self, name: &str, text: &str) -> Setup {
        let file = format!("{name}.txt");
        let entry = format!("[[allowlists]]\nname = \"{name}\"\npath = \"{file}\"\n");
        self.file(&file, text).toml(&entry)
    }

    /// More `[server]` keys, as TOML lines.
    pub fn server_keys(mut self, text: &str) -> Setup {
        self.server.push_str(text);
        self.server.push('\n');
        self
    }

    /// More config text, appended as-is (tables after the generated ones).
    pub fn toml(mut self, text: &str) -> Setup {
        self.extra.push_str(text);
        self.extra.push('\n');
        self
    }

    /// The config text.
    pub fn config_text(&self, sections: &str) -> String {
        let servers: Vec<String> = self.upstreams.iter().map(|u| format!("\"{u}\"")).collect();
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n{}\n[upstream]\nservers = [{}]\ntimeout_ms = 400\ndeadline_ms = 1500\n{sections}\n{}",
            self.server,
            servers.join(", "),
            self.extra
        )
    }

    /// Starts the server; `sections` is config text for the tables the
    /// setup does not write (`[blocking]`, `[cache]`, `[access]`, ...).
    pub async fn start_with(self, sections: &str) -> Ralo {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, text) in &self.files {
            std::fs::write(dir.path().join(name), text).expect("write list");
        }
        let text = self.config_text(sections);
        let path = dir.path().join("ralo.toml");
        std::fs::write(&path, &text).expect("write config");
        let config = Config::load(&path).unwrap_or_else(|e| panic!("config refused: {e}\n{text}"));
        start(config, dir, self.telemetry).await
    }

    /// Starts the server with nothing more in its config.
    pub async fn start(self) -> Ralo {
        self.start_with("").await
    }
}

async fn start(config: Config, dir: tempfile::TempDir, telemetry: bool) -> Ralo {
    let compiled = ralo::compile::compile_local(&config, 1);
    let sealed = ralo::exchange::SealedImage::create(&compiled.image, "test-image").expect("memfd");
    let image = Image::open(sealed.map().expect("map")).expect("compiled image opens");
    image.verify().expect("compiled image verifies");
    let listeners = Listeners::bind(&config.server.listen).expect("bind loopback port 0");
    let addr = listeners.udp_addrs()[0];
    let segment = telemetry.then(|| {
        let segment = Telemetry::create(
            &dir.path().join("telemetry"),
            64,
            &ralo::resolve::route::Routes::upstream_addrs(&config),
        )
        .expect("telemetry segment");
        ralo::intake::show_serving(&segment, &image);
        Arc::new(segment)
    });
    let resolver = Arc::new(Resolver::new(&config, image));
    let handler = Arc::new(Handler::new(resolver.clone(), &config, segment));
    let shutdown = CancellationToken::new();
    let task = tokio::spawn({
        let handler = handler.clone();
        let shutdown = shutdown.clone();
        let settings = server::Settings::from_config(&config);
        async move {
            server::run(listeners, handler, settings, shutdown)
                .await
                .expect("server runs");
        }
    });
    Ralo {
        addr,
        resolver,
        handler,
        config,
        _dir: dir,
        shutdown,
        task,
    }
}

/// A test that panics never reaches [`Ralo::stop`]: the server is told to
/// stop all the same, so its blocking UDP workers end and the test fails
/// instead of hanging while the runtime waits for them.
impl Drop for Ralo {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Ralo {
    /// The telemetry counters now; panics unless started with
    /// [`Setup::telemetry`].
    pub fn counters(&self) -> Counters {
        self.handler
            .telemetry()
            .expect("started with Setup::telemetry")
            .view()
            .counters()
    }

    /// Every query recorded in the ring so far, oldest first; panics unless
    /// started with [`Setup::telemetry`].
    pub fn events(&self) -> Vec<ralo::telemetry::Event> {
        let telemetry = self
            .handler
            .telemetry()
            .expect("started with Setup::telemetry");
        let mut events = Vec::new();
        telemetry
            .view()
            .ring()
            .read(&mut Cursor::at(0), usize::MAX, &mut events);
        events
    }

    /// The outcome of the last query recorded; panics unless started with
    /// [`Setup::telemetry`] and asked something.
    pub fn last_outcome(&self) -> Outcome {
        let telemetry = self
            .handler
            .telemetry()
            .expect("started with Setup::telemetry");
        let ring = telemetry.view().ring();
        let mut cursor = Cursor::at(ring.head().checked_sub(1).expect("a query was recorded"));
        let mut events = Vec::new();
        ring.read(&mut cursor, 1, &mut events);
        events.pop().expect("the last event reads back").outcome
    }

    /// What `ralo check` says of `domain` asked by `client`, from this
    /// server's config and resolver.
    pub fn check(&self, domain: &Domain, client: IpAddr) -> Description {
        describe(&self.config, &self.resolver, domain, client, None, None)
    }

    /// Whether `name` is answered with the sinkhole's 0.0.0.0 for an A
    /// query sent from 127.0.0.`from` (it must be answered with an A).
    pub async fn blocked_for(&self, from: u8, name: &str) -> bool {
        let answer = Client::new(self.addr)
            .udp_from(loopback(from), name, RecordType::A)
            .await
            .unwrap_or_else(|| panic!("no answer to {name} from 127.0.0.{from}"));
        sinkholed(&answer, name)
    }

    /// Stops the server and waits for it (bounded).
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
}
