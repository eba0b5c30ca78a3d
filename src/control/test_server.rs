//! Test support for the tests in `protocol`, `listener` and `client`: a real
//! [`Listener`] on a socket in a temp dir, served on its own thread by a
//! handler that maps each published image, records what it saw and keeps the
//! blocking switch; a raw client that sends arbitrary bytes and fds; and an
//! unsealed memfd.

use std::io::{IoSlice, Write};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use tokio_util::sync::CancellationToken;

use super::socket;
use super::{Listener, Reply, Request, default_allowed_uids, publish};
use crate::exchange::SealedImage;

/// What the handler saw in one accepted publish.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Seen {
    pub(super) generation: u64,
    pub(super) bytes: Vec<u8>,
}

/// Images whose bytes start with this are refused by the test handler.
pub(super) const REJECT_PREFIX: &[u8] = b"BAD";

pub(super) struct TestServer {
    pub(super) path: PathBuf,
    pub(super) seen: mpsc::Receiver<Seen>,
    stop: CancellationToken,
    thread: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub(super) fn start() -> TestServer {
        TestServer::with_uids(default_allowed_uids())
    }

    pub(super) fn with_uids(allowed_uids: Vec<u32>) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ralo.sock");
        let listener = Listener::bind(&path, allowed_uids).unwrap();
        let stop = CancellationToken::new();
        let (tx, seen) = mpsc::channel();
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut current = 0;
                let mut disabled_until = 0;
                let mut handler = |request: Request| match request {
                    Request::Publish { image, generation } => {
                        let mapping = image.map().unwrap();
                        if mapping.as_ref().starts_with(REJECT_PREFIX) {
                            return Reply::Refused {
                                generation: current,
                                reason: "checksum mismatch: rebuild the image".into(),
                            };
                        }
                        current = generation;
                        let bytes = mapping.as_ref().to_vec();
                        let _ = tx.send(Seen { generation, bytes });
                        Reply::Accepted { generation }
                    }
                    Request::State => Reply::State {
                        generation: current,
                        disabled_until_ms: disabled_until,
                    },
                    Request::PauseGroup { .. } => Reply::State {
                        generation: current,
                        disabled_until_ms: disabled_until,
                    },
                    Request::SetBlocking { disabled_until_ms } => {
                        disabled_until = disabled_until_ms;
                        Reply::State {
                            generation: current,
                            disabled_until_ms,
                        }
                    }
                };
                listener.serve(&stop, &mut handler);
            })
        };
        TestServer {
            path,
            seen,
            stop,
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// Publishes a fresh image and checks the handler got exactly it.
    pub(super) fn assert_good_publish(&self, generation: u64) {
        let bytes = format!("good image {generation}").into_bytes();
        let image = SealedImage::create(&bytes, "test").unwrap();
        let reply = publish(&self.path, image, generation, Duration::from_secs(5)).unwrap();
        assert_eq!(reply, Reply::Accepted { generation });
        let seen = self.seen.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(seen, Seen { generation, bytes });
    }

    pub(super) fn stop_and_join(mut self) {
        self.stop.cancel();
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Connects, sends `bytes` with `fds` attached, and reads the reply frame.
pub(super) fn raw_request(path: &Path, bytes: &[u8], fds: &[BorrowedFd<'_>]) -> Option<Reply> {
    let stream = UnixStream::connect(path).unwrap();
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() {
        assert!(control.push(SendAncillaryMessage::ScmRights(fds)));
    }
    let sent = rustix::net::sendmsg(
        &stream,
        &[IoSlice::new(bytes)],
        &mut control,
        SendFlags::NOSIGNAL,
    )
    .unwrap();
    (&stream).write_all(&bytes[sent..]).unwrap();
    read_reply(&stream)
}

/// Reads one reply frame, or `None` when the server closed without one.
pub(super) fn read_reply(stream: &UnixStream) -> Option<Reply> {
    let timeout = Duration::from_secs(10);
    let received = socket::recv(stream, Instant::now() + timeout, timeout, None).ok()?;
    Some(Reply::decode(received.header.kind, &received.payload).unwrap())
}

/// A memfd holding `bytes`, sealable but with no seals.
pub(super) fn unsealed_memfd(bytes: &[u8]) -> OwnedFd {
    let fd = rustix::fs::memfd_create("test", rustix::fs::MemfdFlags::ALLOW_SEALING).unwrap();
    rustix::io::write(&fd, bytes).unwrap();
    fd
}
