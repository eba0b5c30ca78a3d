//! The real `ralo` binary as a child process: a config in a temporary
//! folder (listening on loopback port 0, state and sockets inside the
//! folder), the bound port read from the server's `listening` log line, and
//! every child killed when its handle drops.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A folder with a config, lists and ralo's state.
pub struct Site {
    /// The temporary folder.
    pub dir: tempfile::TempDir,
}

impl Site {
    /// A folder whose config forwards to `upstream` and has `extra` appended.
    pub fn new(upstream: SocketAddr, extra: &str) -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n\n[upstream]\nservers = [\"{upstream}\"]\ntimeout_ms = 300\ndeadline_ms = 1000\n\n[paths]\nstate = \"state\"\nruntime = \"run\"\n{extra}\n"
        );
        std::fs::write(dir.path().join("ralo.toml"), config).expect("write config");
        Site { dir }
    }

    /// A path in the folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file in the folder.
    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).expect("write file");
    }

    /// The config file.
    pub fn config(&self) -> PathBuf {
        self.path("ralo.toml")
    }

    /// The server's control socket.
    pub fn socket(&self) -> PathBuf {
        self.path("run/ralo.sock")
    }

    /// Starts `ralo serve` and waits (bounded) for its UDP address.
    pub fn serve(&self) -> Server {
        self.serve_with_env(&[])
    }

    /// `ralo serve` with these environment variables set.
    pub fn serve_with_env(&self, env: &[(&str, &std::ffi::OsStr)]) -> Server {
        let mut command = ralo(&["serve", "--config"], &self.config());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ralo serve");
        let (log, rx) = follow_log(&mut child);
        let started = Instant::now();
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!(
                    "ralo serve did not report a UDP address; log:\n{}",
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                )
            });
        Server {
            child,
            addr,
            started,
            log,
        }
    }

    /// Runs `ralo update --config` to the end (bounded) and returns its output.
    pub fn update(&self, extra: &[&str]) -> std::process::Output {
        self.update_with_env(extra, &[])
    }

    /// Like [`Site::update`], with extra environment variables.
    pub fn update_with_env(&self, extra: &[&str], env: &[(&str, &Path)]) -> std::process::Output {
        let mut command = ralo(&["update", "--config"], &self.config());
        command
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("start ralo update");
        wait_bounded(child, Duration::from_secs(30))
    }

    /// Runs `ralo ARGS… --config <config>` to the end (bounded).
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ralo"));
        command.args(args).arg("--config").arg(self.config());
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        wait_bounded(
            command.spawn().expect("start ralo"),
            Duration::from_secs(30),
        )
    }

    /// Starts `ralo update --config` without waiting.
    pub fn spawn_update(&self) -> Child {
        ralo(&["update", "--config"], &self.config())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ralo update")
    }

    /// The generation the server serves (0 when it does not answer).
    pub fn generation(&self) -> u64 {
        ralo::control::state(&self.socket(), Duration::from_secs(2)).map_or(0, |r| r.generation())
    }

    /// Waits until the server serves at least `generation` (bounded).
    pub fn wait_generation(&self, generation: u64, limit: Duration) -> u64 {
        let deadline = Instant::now() + limit;
        loop {
            let now = self.generation();
            if now >= generation || Instant::now() > deadline {
                return now;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn ralo(args: &[&str], config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ralo"));
    command
        .args(args)
        .arg(config)
        .stdin(Stdio::null())
        .env("RUST_LOG", "info");
    command
}

fn wait_bounded(mut child: Child, limit: Duration) -> std::process::Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("collect output")
}

/// Collects a server's stderr into a log on a thread, and sends the UDP
/// address of its `listening` line on the returned channel.
pub fn follow_log(child: &mut Child) -> (Arc<Mutex<String>>, mpsc::Receiver<SocketAddr>) {
    let stderr = child.stderr.take().expect("stderr is piped");
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = listening_udp(&line) {
                let _ = tx.send(addr);
            }
            if let Ok(mut log) = sink.lock() {
                log.push_str(&line);
                log.push('\n');
            }
        }
    });
    (log, rx)
}

/// The address in a `listening protocol="udp" addr=…` log line.
pub fn listening_udp(line: &str) -> Option<SocketAddr> {
    if !line.contains("listening") || !line.contains("protocol=\"udp\"") {
        return None;
    }
    let rest = &line[line.find("addr=")? + 5..];
    rest.split_whitespace().next()?.parse().ok()
}

/// A running `ralo serve`; killed on drop.
pub struct Server {
    child: Child,
    /// Its UDP (and TCP) address.
    pub addr: SocketAddr,
    /// When it was started.
    pub started: Instant,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Its log so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
