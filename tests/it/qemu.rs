//! The Raspberry Pi deployment, proven on this machine: the shipped Pi
//! config (`deploy/ralo.toml`) checks OK, and the aarch64 `ralo` built by
//! `deploy/build.sh` runs under `qemu-aarch64` on loopback: its updater
//! persists an image from a small list, its server loads it, answers a
//! blocked name with the sinkhole and forwards an allowed one to the x86
//! in-process upstream, queried by the x86 test client.
//!
//! The emulated test is `#[ignore]`d (it needs the cross build); run it with
//! `deploy/build.sh --no-deb && cargo test --test it qemu -- --ignored`.
//! `RALO_AARCH64_BIN` names another binary. qemu runs without `-L`: the
//! multiarch `libc6:arm64` is found on its own, while the cross libc of
//! `/usr/aarch64-linux-gnu` makes threaded programs hang.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::process::follow_log;
use crate::support::client::{Client, answers_a};
use crate::support::upstream::Upstream;

const TRIPLE: &str = "aarch64-unknown-linux-gnu";
/// Emulation is slow to start (the first run of each code path is
/// translated), so every wait here is generous but bounded.
const START_LIMIT: Duration = Duration::from_secs(60);
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

#[test]
fn pi_config_in_deploy_checks_ok() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("temp dir");
    let (etc, share) = (dir.path().join("etc"), dir.path().join("share"));
    std::fs::create_dir_all(&etc).expect("mkdir");
    std::fs::create_dir_all(&share).expect("mkdir");
    // The package installs these at /etc/ralo and /usr/share/ralo.
    for (from, to) in [
        ("blocklists/block.txt", etc.join("block.txt")),
        ("blocklists/allow.txt", etc.join("allow.txt")),
        ("blocklists/default.hosts", share.join("default.hosts")),
    ] {
        std::fs::copy(manifest.join(from), to).expect("copy a shipped list");
    }
    let text =
        std::fs::read_to_string(manifest.join("deploy/ralo.toml")).expect("read deploy/ralo.toml");
    let text = text
        .replace("/etc/ralo/", &format!("{}/", etc.display()))
        .replace("/usr/share/ralo/", &format!("{}/", share.display()));
    let config = dir.path().join("ralo.toml");
    std::fs::write(&config, text).expect("write config");

    let out = Command::new(env!("CARGO_BIN_EXE_ralo"))
        .args(["serve", "--check", "--config"])
        .arg(&config)
        .output()
        .expect("run ralo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("config OK"), "{stdout}");
    assert!(
        !stderr.contains("No such file"),
        "a local list of the Pi config is missing:\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the aarch64 build from deploy/build.sh"]
async fn aarch64_binary_under_qemu_blocks_and_forwards() {
    let started = Instant::now();
    let binary = aarch64_binary();
    let upstream = Upstream::standard().await;
    let site = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        site.path().join("block.txt"),
        "# blocked under emulation\nads.pi.example\n",
    )
    .expect("write list");
    let config = site.path().join("ralo.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nspawn_updater = false\n\n\
             [upstream]\nservers = [\"{}\"]\ntimeout_ms = 1500\ndeadline_ms = 2500\n\n\
             [paths]\nstate = \"state\"\nruntime = \"run\"\n\n\
             [[lists]]\nname = \"pi\"\npath = \"block.txt\"\nsubdomains = true\n",
            upstream.addr()
        ),
    )
    .expect("write config");

    // The updater, once: no server runs yet, so it persists the image.
    let update = run_bounded(
        qemu(&binary, &["update", "--config"], &config),
        Duration::from_secs(120),
    )
    .await;
    assert!(
        update.status.success(),
        "qemu-aarch64 ralo update failed:\n{}\n{}",
        String::from_utf8_lossy(&update.stdout),
        String::from_utf8_lossy(&update.stderr)
    );
    assert!(
        site.path().join("state/image.bin").is_file(),
        "the updater persisted no image"
    );

    // The server boots from that image.
    let server = Emulated::serve(&binary, &config).await;
    let socket = site.path().join("run/ralo.sock");
    let generation = tokio::task::spawn_blocking(move || {
        ralo::control::state(&socket, Duration::from_secs(5)).map(|r| r.generation())
    })
    .await
    .expect("status thread");
    assert!(
        matches!(generation, Ok(g) if g >= 1),
        "the emulated server does not serve the persisted image ({generation:?}); log:\n{}",
        server.log()
    );

    let client = Client::new(server.addr).with_timeout(QUERY_TIMEOUT);
    for name in ["ads.pi.example", "banner.ads.pi.example"] {
        let answer = client.udp(name, RecordType::A).await;
        assert_eq!(
            answers_a(&answer),
            vec![Ipv4Addr::UNSPECIFIED],
            "{name} is on the list; log:\n{}",
            server.log()
        );
    }
    assert_eq!(
        upstream.queries_for("ads.pi.example"),
        0,
        "a blocked name left the Pi"
    );

    let answer = client.udp("allowed.example.com", RecordType::A).await;
    assert_eq!(
        answers_a(&answer),
        vec![Ipv4Addr::new(192, 0, 2, 1)],
        "allowed.example.com is forwarded; log:\n{}",
        server.log()
    );
    assert!(upstream.queries_for("allowed.example.com") >= 1);
    eprintln!(
        "qemu-aarch64: update, boot and three queries in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The aarch64 binary: `RALO_AARCH64_BIN`, else `deploy/build.sh`'s output
/// under `CARGO_TARGET_DIR` or the manifest's `target/`.
fn aarch64_binary() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = std::env::var_os("RALO_AARCH64_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(|dir| manifest.join(dir))
                .unwrap_or_else(|| manifest.join("target"));
            target.join(TRIPLE).join("release/ralo")
        });
    assert!(
        path.is_file(),
        "no aarch64 ralo at {}: run `deploy/build.sh --no-deb` first (or set RALO_AARCH64_BIN)",
        path.display()
    );
    path
}

/// `qemu-aarch64 BINARY ARGS CONFIG`, no `-L` (see the module docs).
fn qemu(binary: &Path, args: &[&str], config: &Path) -> Command {
    let mut command = Command::new("qemu-aarch64");
    command
        .arg(binary)
        .args(args)
        .arg(config)
        .stdin(Stdio::null())
        .env("RUST_LOG", "info");
    command
}

fn spawn(mut command: Command) -> Child {
    command.spawn().unwrap_or_else(|e| {
        panic!("cannot start qemu-aarch64 ({e}): apt-get install qemu-user (see deploy/README.md)")
    })
}

/// Runs `command` to the end, killing it after `limit`.
async fn run_bounded(mut command: Command, limit: Duration) -> Output {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = spawn(command);
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + limit;
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().expect("collect output")
    })
    .await
    .expect("wait thread")
}

/// `ralo serve` under qemu; killed on drop.
struct Emulated {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Emulated {
    /// Starts the server and waits (bounded) for its UDP address in the
    /// `listening protocol="udp" addr=…` line.
    async fn serve(binary: &Path, config: &Path) -> Emulated {
        let mut command = qemu(binary, &["serve", "--config"], config);
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = spawn(command);
        let (log, rx) = follow_log(&mut child);
        let addr = tokio::task::spawn_blocking(move || rx.recv_timeout(START_LIMIT))
            .await
            .expect("wait thread");
        let mut server = Emulated {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        match addr {
            Ok(addr) => server.addr = addr,
            Err(_) => panic!(
                "qemu-aarch64 ralo serve reported no UDP address within {START_LIMIT:?}; log:\n{}",
                server.log()
            ),
        }
        server
    }

    fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Emulated {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
