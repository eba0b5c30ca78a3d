//! The server's intake: the boot image, and the thread that takes images and
//! switches from the control socket.
//!
//! At boot the server maps the last image the updater persisted (copied into
//! a sealed memfd of its own), so it answers blocked names before any list is
//! fetched and with no updater running; without one it starts with an empty
//! image (generation 0). A published image is mapped, fully verified
//! (header, bounds, checksum), checked to carry the generation the updater
//! claimed and to be newer than the one serving, and only then swapped in —
//! one pointer swap; lookups in flight finish on the old mapping, which is
//! unmapped when the last of them lets go. Anything else is refused with a
//! logged reason and the old image keeps serving. This thread is the only
//! place that talks to the updater and the CLI: no query ever waits on it.

use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::control::{self, Listener, Reply, Request};
use crate::exchange::{self, SealedImage};
use crate::image::{Image, ImageBuilder};
use crate::resolve::{Resolver, ServedImage};
use crate::telemetry::Telemetry;

/// Why the intake could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The control socket could not be bound.
    #[error("cannot open the control socket: {0}")]
    Bind(#[from] control::Error),
    /// The runtime folder could not be made.
    #[error("cannot create the runtime folder {path}: {source}")]
    Runtime {
        /// The folder.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Why an image is not served.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The image could not be read into sealed memory or mapped.
    #[error(transparent)]
    Memory(#[from] exchange::Error),
    /// The bytes are not a valid image.
    #[error("the image is invalid: {0}")]
    Invalid(#[from] crate::image::Error),
    /// The header's generation is not the one the updater claimed.
    #[error("the image header says generation {found}, the updater said {claimed}")]
    Mismatch {
        /// The header's generation.
        found: u64,
        /// The updater's.
        claimed: u64,
    },
    /// An image of this generation or a newer one is already serving.
    #[error("generation {generation} is not newer than the serving {serving}")]
    NotNewer {
        /// The offered generation.
        generation: u64,
        /// The serving one.
        serving: u64,
    },
}

/// The image to serve at boot: the persisted one if it is valid, else empty.
pub fn boot_image(path: &Path) -> ServedImage {
    match load(path) {
        Ok(image) => {
            info!(generation = image.generation(), rules = image.rule_count(), path = %path.display(), "serving the persisted image");
            image
        }
        Err(reason) => {
            warn!(path = %path.display(), %reason, "no usable persisted image; serving an empty one until the updater publishes");
            empty()
        }
    }
}

/// The persisted image at `path`, copied into sealed memory, mapped and
/// fully verified.
pub fn load(path: &Path) -> Result<ServedImage, Refusal> {
    let sealed = SealedImage::from_file(path)?;
    open_sealed(&sealed)
}

fn open_sealed(sealed: &SealedImage) -> Result<ServedImage, Refusal> {
    let image = Image::open(sealed.map()?)?;
    image.verify()?;
    Ok(image)
}

/// An empty image of generation 0.
pub fn empty() -> ServedImage {
    let bytes = ImageBuilder::new().build(0);
    // An empty image is a fixed, valid layout and a memfd of a few hundred
    // bytes; failing here means the process cannot make memfds at all.
    let sealed = SealedImage::create(&bytes, "ralo-empty").expect("memfd for an empty image");
    open_sealed(&sealed).expect("the empty image verifies")
}

/// The running intake thread.
pub struct Intake {
    stop: CancellationToken,
    thread: Option<JoinHandle<()>>,
}

impl Intake {
    /// Binds `socket` and takes publishes and switches for `resolver` on a
    /// thread until `stop` is cancelled, showing the generation and the
    /// blocking switch in `telemetry`. The thread notices `stop` within
    /// 200 ms; [`Intake::stop`] cancels it and waits for the thread.
    pub fn start(
        socket: &Path,
        resolver: Arc<Resolver>,
        telemetry: Option<Arc<Telemetry>>,
        stop: CancellationToken,
    ) -> Result<Intake, Error> {
        if let Some(dir) = socket.parent() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Runtime {
                path: dir.to_owned(),
                source,
            })?;
        }
        let listener = Listener::bind(socket, control::default_allowed_uids())?;
        info!(socket = %socket.display(), "waiting for images from the updater");
        let token = stop.clone();
        let thread = std::thread::Builder::new()
            .name("ralo-intake".into())
            .spawn(move || {
                listener.serve(&token, &mut |request| {
                    handle(&resolver, telemetry.as_deref(), request)
                })
            })
            .map_err(|source| Error::Runtime {
                path: socket.to_owned(),
                source,
            })?;
        Ok(Intake {
            stop,
            thread: Some(thread),
        })
    }

    /// Cancels the token the intake was started with and waits for the
    /// thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Intake {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Answers one request, showing what changed in `telemetry`.
pub fn handle(resolver: &Resolver, telemetry: Option<&Telemetry>, request: Request) -> Reply {
    let current = resolver.image().generation();
    match request {
        Request::State => state(resolver),
        Request::SetBlocking { disabled_until_ms } => {
            resolver.set_blocking_disabled_until(disabled_until_ms);
            if let Some(telemetry) = telemetry {
                telemetry.set_blocking_disabled_until(disabled_until_ms);
            }
            match disabled_until_ms {
                0 => info!("blocking switched on"),
                u64::MAX => info!("blocking switched off until switched on"),
                until => info!(until_unix_ms = until, "blocking switched off for a while"),
            }
            state(resolver)
        }
        Request::PauseGroup {
            group,
            disabled_until_ms,
        } => {
            if !resolver.pause_group(&group, disabled_until_ms) {
                return Reply::Refused {
                    generation: current,
                    reason: format!(
                        "the serving image has no group `{group}`: check the name in [[groups]], and that the updater has published since it was added"
                    ),
                };
            }
            match disabled_until_ms {
                0 => info!(group, "blocking switched on for a group"),
                u64::MAX => info!(group, "blocking switched off for a group until switched on"),
                until => info!(
                    group,
                    until_unix_ms = until,
                    "blocking switched off for a group for a while"
                ),
            }
            state(resolver)
        }
        Request::Publish { image, generation } => {
            match accept(resolver, &image, generation, current) {
                Err(refusal) => {
                    let reason = refusal.to_string();
                    warn!(%reason, generation, "published image refused; the old one keeps serving");
                    Reply::Refused {
                        generation: current,
                        reason,
                    }
                }
                Ok(()) => {
                    if let Some(telemetry) = telemetry {
                        show_serving(telemetry, &resolver.image());
                    }
                    Reply::Accepted { generation }
                }
            }
        }
    }
}

fn state(resolver: &Resolver) -> Reply {
    Reply::State {
        generation: resolver.image().generation(),
        disabled_until_ms: resolver.blocking_disabled_until(),
    }
}

/// Tells telemetry readers which image serves: its generation and the
/// names of its groups.
pub fn show_serving(telemetry: &Telemetry, image: &ServedImage) {
    telemetry.set_generation(image.generation());
    telemetry.set_groups((0..image.group_count()).map(|g| {
        u8::try_from(g)
            .ok()
            .and_then(|g| image.group_name(g))
            .unwrap_or("?")
    }));
}

fn accept(
    resolver: &Resolver,
    sealed: &SealedImage,
    claimed: u64,
    current: u64,
) -> Result<(), Refusal> {
    let image = open_sealed(sealed)?;
    let generation = image.generation();
    if generation != claimed {
        return Err(Refusal::Mismatch {
            found: generation,
            claimed,
        });
    }
    if generation <= current {
        return Err(Refusal::NotNewer {
            generation,
            serving: current,
        });
    }
    let rules = image.rule_count();
    resolver.swap_image(image);
    info!(generation, rules, "image swapped in");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn sealed(generation: u64, name: &str) -> SealedImage {
        let mut builder = ImageBuilder::new();
        let list = builder.add_list("test", false);
        builder.add_rule(list, "ads.example.com", true, false);
        SealedImage::create(&builder.build(generation), name).expect("memfd")
    }

    fn resolver(image: ServedImage) -> Resolver {
        let config = Config::parse("", "test", ".".into()).expect("default config");
        Resolver::new(&config, image)
    }

    /// Whether this process maps a memfd called `name`.
    fn mapped(name: &str) -> bool {
        let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
        maps.lines().any(|l| l.contains(&format!("/memfd:{name} ")))
    }

    /// The `/proc/self/maps` line whose range holds `addr`.
    fn mapping_of(addr: usize) -> Option<String> {
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        maps.lines()
            .find(|line| {
                let range = line.split_whitespace().next().unwrap_or("");
                let (lo, hi) = range.split_once('-').unwrap_or(("0", "0"));
                let lo = usize::from_str_radix(lo, 16).unwrap_or(0);
                let hi = usize::from_str_radix(hi, 16).unwrap_or(0);
                (lo..hi).contains(&addr)
            })
            .map(str::to_owned)
    }

    #[test]
    fn served_bytes_are_the_shared_mapping_itself() {
        let r = resolver(empty());
        let reply = handle(
            &r,
            None,
            Request::Publish {
                image: sealed(1, "ralo-zero-copy"),
                generation: 1,
            },
        );
        assert_eq!(reply, Reply::Accepted { generation: 1 });
        let image = r.image();
        let line =
            mapping_of(image.as_bytes().as_ptr() as usize).expect("a mapping holds the bytes");
        assert!(line.contains("/memfd:ralo-zero-copy"), "{line}");
        assert!(
            line.split_whitespace()
                .nth(1)
                .is_some_and(|perms| perms.starts_with("r--")),
            "read-only: {line}"
        );
    }

    #[test]
    fn old_image_is_unmapped_when_its_last_reader_lets_go() {
        let r = resolver(empty());
        handle(
            &r,
            None,
            Request::Publish {
                image: sealed(1, "ralo-old-gen"),
                generation: 1,
            },
        );
        let in_flight = r.image();
        handle(
            &r,
            None,
            Request::Publish {
                image: sealed(2, "ralo-new-gen"),
                generation: 2,
            },
        );
        assert_eq!(r.image().generation(), 2);
        assert!(
            mapped("ralo-old-gen"),
            "an in-flight lookup keeps the old mapping"
        );
        assert!(matches!(
            in_flight.lookup("ads.example.com"),
            crate::image::Verdict::Blocked(_)
        ));
        drop(in_flight);
        assert!(!mapped("ralo-old-gen"), "released with its last reader");
        assert!(mapped("ralo-new-gen"));
    }

    #[test]
    fn generations_only_go_up() {
        let r = resolver(empty());
        assert_eq!(
            handle(
                &r,
                None,
                Request::Publish {
                    image: sealed(5, "g5"),
                    generation: 5
                }
            ),
            Reply::Accepted { generation: 5 }
        );
        let older = handle(
            &r,
            None,
            Request::Publish {
                image: sealed(4, "g4"),
                generation: 4,
            },
        );
        assert!(
            matches!(older, Reply::Refused { generation: 5, .. }),
            "{older:?}"
        );
        let same = handle(
            &r,
            None,
            Request::Publish {
                image: sealed(5, "g5b"),
                generation: 5,
            },
        );
        assert!(
            matches!(same, Reply::Refused { generation: 5, .. }),
            "{same:?}"
        );
        assert_eq!(
            handle(&r, None, Request::State),
            Reply::State {
                generation: 5,
                disabled_until_ms: 0
            }
        );
    }

    #[test]
    fn claimed_generation_must_match_the_header() {
        let r = resolver(empty());
        let reply = handle(
            &r,
            None,
            Request::Publish {
                image: sealed(3, "g3"),
                generation: 9,
            },
        );
        assert!(
            matches!(reply, Reply::Refused { generation: 0, ref reason } if reason.contains("says generation 3")),
            "{reply:?}"
        );
    }

    #[test]
    fn missing_or_corrupt_boot_image_gives_an_empty_one() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(boot_image(&dir.path().join("none.bin")).generation(), 0);
        std::fs::write(dir.path().join("bad.bin"), b"RALOIMG\0garbage").unwrap();
        assert_eq!(boot_image(&dir.path().join("bad.bin")).rule_count(), 0);
    }
}
