//! The state folder's disk full, as on a Pi whose SD card filled with logs:
//! a household edit still goes live (the image is published from memory),
//! `ralo stats` says why it is not saved, nothing half-written is left or
//! read back, and the image is saved by the first update once there is
//! room. The state folder is a small tmpfs the test mounts (root only).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use tokio::task::block_in_place;

use crate::process::Site;
use crate::support::client::{Client, answers_a};
use crate::support::upstream::Upstream;

/// A size-limited tmpfs, unmounted on drop.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts one of `size` at `path`; `None` when this user may not mount
    /// (only root may), after saying so.
    fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).expect("mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .expect("run mount");
        if out.status.success() {
            return Some(Tmpfs {
                path: path.to_owned(),
            });
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        });
        assert!(!root, "root could not mount a tmpfs: {stderr}");
        eprintln!("SKIPPED: the full-disk test mounts a tmpfs, which needs root ({stderr})");
        None
    }

    /// Fills it up to the last byte.
    fn fill(&self) {
        use std::io::Write;
        let mut file = std::fs::File::create(self.path.join("filler")).expect("filler");
        let chunk = vec![0u8; 4096];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.write_all(&[0]);
        drop(file);
        let probe = std::fs::write(self.path.join("probe"), [0u8; 4096]);
        assert!(probe.is_err(), "the tmpfs still takes writes");
    }

    /// Frees what `fill` took.
    fn free(&self) {
        std::fs::remove_file(self.path.join("filler")).expect("remove filler");
        let _ = std::fs::remove_file(self.path.join("probe"));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

const LISTS: &str = "[[lists]]\nname = \"ads\"\npath = \"ads.txt\"\n\n[[lists]]\nname = \"mine\"\npath = \"block.txt\"\nhousehold = true\n\n[[allowlists]]\nname = \"ok\"\npath = \"allow.txt\"\nhousehold = true\n";

fn blocked(msg: &hickory_proto::op::Message) -> bool {
    answers_a(msg) == vec![Ipv4Addr::UNSPECIFIED]
}

fn persisted_generation(state: &Path) -> u64 {
    let bytes = std::fs::read(state.join("image.bin")).expect("the persisted image");
    let image = ralo::image::Image::open(bytes).expect("a valid image");
    image.verify().expect("a whole image");
    image.generation()
}

async fn blocked_within(dns: &Client, name: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if blocked(&dns.udp(name, RecordType::A).await) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_state_disk_does_not_stop_an_edit_from_going_live() {
    let up = Upstream::standard().await;
    let mounts = tempfile::tempdir().expect("temp dir");
    let Some(disk) = Tmpfs::mount(&mounts.path().join("state"), "256k") else {
        return;
    };
    let state = disk.path.clone();
    let site = Site::new(up.addr(), LISTS);
    let config = std::fs::read_to_string(site.config())
        .expect("config")
        .replace(
            "state = \"state\"",
            &format!("state = {:?}", state.display().to_string()),
        );
    site.write("ralo.toml", &config);
    site.write("ads.txt", "0.0.0.0 ads.example.com\n");
    site.write("block.txt", "");
    site.write("allow.txt", "");
    let server = block_in_place(|| site.serve());
    assert!(block_in_place(|| site.wait_generation(1, Duration::from_secs(10))) >= 1);
    let dns = Client::new(server.addr);
    assert!(blocked(&dns.udp("ads.example.com", RecordType::A).await));
    let saved = persisted_generation(&state);

    // The disk fills; the household blocks a name.
    disk.fill();
    let edited = Instant::now();
    let out = block_in_place(|| site.run(&["block", "new.example.com"]));
    assert!(
        out.status.success(),
        "{}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    assert!(
        blocked_within(&dns, "new.example.com", Duration::from_secs(2)).await,
        "not live within 2 s of the edit ({:?})\n{}",
        edited.elapsed(),
        server.log()
    );
    // The old image on disk is whole and untouched; no temp file is left.
    assert_eq!(persisted_generation(&state), saved);
    let leftovers: Vec<String> = std::fs::read_dir(&state)
        .expect("state")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Both the log and `ralo stats` say why, in words.
    let live = site.generation();
    assert!(live > saved);
    let stats = block_in_place(|| site.run(&["stats"]));
    let text = String::from_utf8_lossy(&stats.stdout);
    assert!(
        text.contains(&format!("published generation {live}"))
            && text.contains("not saved to disk")
            && text.contains("the disk holding it is full"),
        "{text}"
    );
    assert!(
        server
            .log()
            .contains("the new image is live, but not saved"),
        "{}",
        server.log()
    );
    // `ralo check` reads the saved image, and says it is not the live one.
    let check = block_in_place(|| site.run(&["check", "new.example.com"]));
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(
        text.contains(&format!(
            "the server serves generation {live}, which is not saved"
        )) && text.contains(&format!("the saved generation {saved}")),
        "{text}"
    );

    // Room again: the next update saves the image serving.
    disk.free();
    let out = block_in_place(|| site.run(&["block", "later.example.com"]));
    assert!(out.status.success(), "{}", server.log());
    assert!(blocked_within(&dns, "later.example.com", Duration::from_secs(2)).await);
    assert_eq!(persisted_generation(&state), site.generation());

    // And a restart serves both names from the disk at once.
    drop(server);
    let server = block_in_place(|| site.serve());
    let dns = Client::new(server.addr);
    assert!(blocked(&dns.udp("new.example.com", RecordType::A).await));
    assert!(blocked(&dns.udp("later.example.com", RecordType::A).await));
    drop(server);
}
