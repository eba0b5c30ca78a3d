//! The server's side of the exchange: the image it boots with, and the
//! thread that takes newly published images from the updater.
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
//! place that talks to the updater: no query ever waits on it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use tracing::{info, warn};

use crate::exchange::{self, Listener, Reply, Request, SealedImage};
use crate::image::{Image, ImageBuilder};
use crate::resolve::Resolver;
use crate::resolve::chain::ServedImage;

/// Why the exchange could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The socket could not be bound.
    #[error("cannot open the updater socket: {0}")]
    Bind(#[from] exchange::Error),
    /// The runtime folder could not be made.
    #[error("cannot create the runtime folder {path}: {source}")]
    Runtime {
        /// The folder.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
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

fn load(path: &Path) -> Result<ServedImage, String> {
    let sealed = SealedImage::from_file(path).map_err(|e| e.to_string())?;
    open_sealed(&sealed)
}

fn open_sealed(sealed: &SealedImage) -> Result<ServedImage, String> {
    let mapping = sealed.map().map_err(|e| e.to_string())?;
    let image = Image::open(mapping).map_err(|e| e.to_string())?;
    image.verify().map_err(|e| e.to_string())?;
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

/// The running exchange thread.
pub struct Exchange {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Exchange {
    /// Binds `socket` and takes publishes for `resolver` on a thread.
    pub fn start(socket: &Path, resolver: Arc<Resolver>) -> Result<Exchange, Error> {
        if let Some(dir) = socket.parent() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Runtime {
                path: dir.to_owned(),
                source,
            })?;
        }
        let listener = Listener::bind(socket, exchange::default_allowed_uids())?;
        info!(socket = %socket.display(), "waiting for images from the updater");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("ralo-exchange".into())
            .spawn(move || listener.serve(&flag, &mut |request| handle(&resolver, request)))
            .map_err(|source| Error::Runtime {
                path: socket.to_owned(),
                source,
            })?;
        Ok(Exchange {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Answers one request from the updater.
pub fn handle(resolver: &Resolver, request: Request) -> Reply {
    let current = resolver.image().generation();
    match request {
        Request::Status => Reply::Current {
            generation: current,
        },
        Request::Publish { image, generation } => {
            match accept(resolver, &image, generation, current) {
                Ok(()) => Reply::Accepted { generation },
                Err(reason) => {
                    warn!(%reason, generation, "published image refused; the old one keeps serving");
                    Reply::Refused {
                        generation: current,
                        reason,
                    }
                }
            }
        }
    }
}

fn accept(
    resolver: &Resolver,
    sealed: &SealedImage,
    claimed: u64,
    current: u64,
) -> Result<(), String> {
    let image = open_sealed(sealed)?;
    let generation = image.generation();
    if generation != claimed {
        return Err(format!(
            "the image header says generation {generation}, the updater said {claimed}"
        ));
    }
    if generation <= current {
        return Err(format!(
            "generation {generation} is not newer than the serving {current}"
        ));
    }
    let rules = image.rule_count();
    resolver.swap_image(image);
    info!(generation, rules, "image swapped in");
    Ok(())
}
