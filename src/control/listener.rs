//! `Listener`: the receiving side of the control socket, in the server. It
//! binds `<runtime dir>/ralo.sock` (mode 0600), checks each peer's uid,
//! reads one request frame, hands the decoded [`Request`] to the server's
//! handler, and writes the [`Reply`]. Everything malformed is refused or
//! dropped here, so the handler only ever sees a ready request (a publish
//! with a checked `SealedImage`). Runs on its own thread; the sending side
//! is `client`.

use std::fs::{self, Permissions};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
use tokio_util::sync::CancellationToken;

use super::Error;
use super::frame::FrameError;
use super::protocol::{Reply, Request};
use super::socket::{self, REQUEST_TIMEOUT, Received, RecvError};

/// How often `serve` looks at its cancellation token while idle.
const POLL_INTERVAL: Timespec = Timespec {
    tv_sec: 0,
    tv_nsec: 200_000_000,
};

/// Connections waiting to be accepted before new ones are turned away.
const BACKLOG: i32 = 16;

/// The uids a server lets talk to it by default: its own and root's.
pub fn default_allowed_uids() -> Vec<u32> {
    let own = rustix::process::getuid().as_raw();
    if own == 0 { vec![0] } else { vec![own, 0] }
}

/// The server's listening control socket. Dropping it removes the socket
/// file, if it is still the one this listener created.
#[derive(Debug)]
pub struct Listener {
    socket: UnixListener,
    path: PathBuf,
    allowed_uids: Vec<u32>,
    /// (device, inode) of the socket file, to recognise it on drop.
    file_id: (u64, u64),
}

/// Why a connection gets no call to the handler. Its `Display` is the
/// reason of the `REFUSED` reply, or of the log line when there is none.
#[derive(Debug, thiserror::Error)]
enum Rejection {
    #[error("cannot configure the connection: {0}")]
    Setup(io::Error),
    #[error("cannot read peer credentials: {0}")]
    Credentials(io::Error),
    #[error(
        "peer uid {uid} (pid {pid}) may not publish to this server (allowed uids: {allowed:?}): run ralo update as the user that runs ralo serve"
    )]
    Uid {
        uid: u32,
        pid: i32,
        allowed: Vec<u32>,
    },
    #[error("peer hung up without a request")]
    Silent,
    #[error(transparent)]
    Recv(RecvError),
    #[error(transparent)]
    Frame(FrameError),
}

impl Rejection {
    /// Whether the peer gets a `REFUSED` reply; otherwise the connection is
    /// closed without one (the peer is gone, or the server is stopping).
    fn answered(&self) -> bool {
        match self {
            Rejection::Uid { .. } | Rejection::Frame(_) => true,
            Rejection::Recv(
                RecvError::Closed { .. } | RecvError::TimedOut { .. } | RecvError::Frame(_),
            ) => true,
            Rejection::Setup(_)
            | Rejection::Credentials(_)
            | Rejection::Silent
            | Rejection::Recv(RecvError::Stopped | RecvError::Io(_)) => false,
        }
    }
}

impl Listener {
    /// Listens on `path`, replacing a stale socket file left by a server that
    /// died, and creating the new one with mode 0600. Only peers whose uid is
    /// in `allowed_uids` get their requests handled (see
    /// [`default_allowed_uids`]).
    pub fn bind(path: &Path, allowed_uids: Vec<u32>) -> Result<Listener, Error> {
        let bind_err = |source: io::Error| Error::Bind {
            path: path.to_path_buf(),
            source,
        };
        remove_stale_socket(path)?;
        let fd = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| bind_err(e.into()))?;
        let address = SocketAddrUnix::new(path).map_err(|e| bind_err(e.into()))?;
        match rustix::net::bind(&fd, &address) {
            Ok(()) => {}
            Err(Errno::ADDRINUSE) => {
                return Err(Error::AlreadyRunning {
                    path: path.to_path_buf(),
                });
            }
            Err(e) => return Err(bind_err(e.into())),
        }
        let listener = finish_bind(path, fd).inspect_err(|_| {
            let _ = fs::remove_file(path);
        });
        let (socket, file_id) = listener.map_err(bind_err)?;
        tracing::info!(path = %path.display(), "control socket listening");
        Ok(Listener {
            socket,
            path: path.to_path_buf(),
            allowed_uids,
            file_id,
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serves connections, one at a time, until `stop` is cancelled, calling
    /// `handler` for each well-formed request from an allowed peer. `stop` is
    /// checked at least every 200 ms, also while waiting on a slow peer.
    /// Nothing a peer sends can make this panic or return early.
    ///
    /// The handler is also called with [`Request::State`] when the listener
    /// refuses a request by itself, to put the serving generation in the
    /// refusal; it should be cheap and must not block.
    pub fn serve(&self, stop: &CancellationToken, handler: &mut dyn FnMut(Request) -> Reply) {
        while !stop.is_cancelled() {
            let mut fds = [PollFd::new(&self.socket, PollFlags::IN)];
            match rustix::event::poll(&mut fds, Some(&POLL_INTERVAL)) {
                Ok(0) | Err(Errno::INTR) => continue,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "poll on the control socket failed");
                    std::thread::sleep(Duration::from_millis(200));
                    continue;
                }
            }
            match self.socket.accept() {
                Ok((stream, _)) => self.handle(&stream, stop, handler),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => {
                    // E.g. out of fds: back off instead of spinning.
                    tracing::warn!(%error, "accept on the control socket failed");
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }

    fn handle(
        &self,
        stream: &UnixStream,
        stop: &CancellationToken,
        handler: &mut dyn FnMut(Request) -> Reply,
    ) {
        let reply = match self.read_request(stream, stop) {
            Ok(request) => handler(request),
            Err(why) if !why.answered() => {
                tracing::debug!(%why, "control connection dropped");
                return;
            }
            Err(why) => {
                let reason = why.to_string();
                tracing::warn!(%reason, "control request refused");
                let generation = handler(Request::State).generation();
                Reply::Refused { generation, reason }
            }
        };
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        if let Err(error) = socket::send(stream, &reply.encode(), &[], deadline) {
            tracing::info!(%error, "control peer left before reading its reply");
        }
    }

    fn read_request(
        &self,
        stream: &UnixStream,
        stop: &CancellationToken,
    ) -> Result<Request, Rejection> {
        stream.set_nonblocking(false).map_err(Rejection::Setup)?;
        let peer = rustix::net::sockopt::socket_peercred(stream)
            .map_err(|e| Rejection::Credentials(e.into()))?;
        let uid = peer.uid.as_raw();
        if !self.allowed_uids.contains(&uid) {
            return Err(Rejection::Uid {
                uid,
                pid: peer.pid.as_raw_nonzero().get(),
                allowed: self.allowed_uids.clone(),
            });
        }
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        let Received {
            header,
            payload,
            fds,
        } = socket::recv(stream, deadline, REQUEST_TIMEOUT, Some(stop)).map_err(|e| match e {
            RecvError::Closed { got: 0 } => Rejection::Silent,
            e => Rejection::Recv(e),
        })?;
        Request::decode(header.kind, &payload, fds).map_err(Rejection::Frame)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let ours =
            fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.file_id);
        if ours && let Err(error) = fs::remove_file(&self.path) {
            tracing::warn!(%error, path = %self.path.display(), "could not remove the control socket");
        }
    }
}

/// Makes a bound socket listen, with mode 0600 set first: nobody can connect
/// before `listen`, so no peer ever sees a looser mode.
fn finish_bind(path: &Path, fd: OwnedFd) -> io::Result<(UnixListener, (u64, u64))> {
    fs::set_permissions(path, Permissions::from_mode(0o600))?;
    rustix::net::listen(&fd, BACKLOG)?;
    let socket = UnixListener::from(fd);
    socket.set_nonblocking(true)?;
    let meta = fs::symlink_metadata(path)?;
    Ok((socket, (meta.dev(), meta.ino())))
}

/// Removes a socket file nobody listens on; refuses to touch anything else.
fn remove_stale_socket(path: &Path) -> Result<(), Error> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::Bind {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if !meta.file_type().is_socket() {
        return Err(Error::NotASocket {
            path: path.to_path_buf(),
        });
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(Error::AlreadyRunning {
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            fs::remove_file(path).map_err(|source| Error::File {
                action: "remove the stale socket",
                path: path.to_path_buf(),
                source,
            })?;
            tracing::info!(path = %path.display(), "removed a stale control socket");
            Ok(())
        }
        Err(source) => Err(Error::Bind {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::frame::{HEADER_LEN, Header, Kind, MAX_PAYLOAD};
    use crate::control::test_server::{TestServer, raw_request, read_reply, unsealed_memfd};
    use crate::control::{publish, state};
    use crate::exchange::SealedImage;
    use std::io::Write;
    use std::net::Shutdown;
    use std::os::fd::AsFd;

    /// A PUBLISH frame that declares `len` bytes, whatever fd goes with it.
    fn publish_frame(generation: u64, len: u64) -> Vec<u8> {
        let mut frame = Header::encode(Kind::Publish as u16, 16).to_vec();
        frame.extend_from_slice(&generation.to_le_bytes());
        frame.extend_from_slice(&len.to_le_bytes());
        frame
    }

    fn state_frame() -> Vec<u8> {
        Request::State.encode().0
    }

    fn assert_refused(reply: Reply, needle: &str) {
        match reply {
            Reply::Refused { reason, .. } => {
                assert!(reason.contains(needle), "{reason:?} lacks {needle:?}")
            }
            other => panic!("expected a refusal containing {needle:?}, got {other:?}"),
        }
    }

    #[test]
    fn garbage_bytes_are_refused_and_server_keeps_serving() {
        let server = TestServer::start();
        let reply = raw_request(&server.path, b"GET / HTTP/1.1\r\n\r\n", &[]).unwrap();
        assert_refused(reply, "bad magic");
        server.assert_good_publish(1);
    }

    #[test]
    fn wrong_magic_is_refused() {
        let server = TestServer::start();
        let mut frame = state_frame();
        frame[..4].copy_from_slice(b"DNS!");
        assert_refused(
            raw_request(&server.path, &frame, &[]).unwrap(),
            "expected \"RALO\"",
        );
        server.assert_good_publish(1);
    }

    #[test]
    fn newer_protocol_version_is_refused_telling_to_upgrade_serve() {
        let server = TestServer::start();
        let mut frame = state_frame();
        frame[4..6].copy_from_slice(&3u16.to_le_bytes());
        let reply = raw_request(&server.path, &frame, &[]).unwrap();
        assert_refused(
            reply,
            "protocol version 3 is newer than this server's 2: upgrade ralo serve",
        );
        server.assert_good_publish(1);
    }

    #[test]
    fn version_1_peer_is_refused_telling_to_run_one_ralo_version() {
        let server = TestServer::start();
        // Version 1's STATUS request: kind 4, no payload.
        let frame = b"RALO\x01\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00";
        let reply = raw_request(&server.path, frame, &[]).unwrap();
        assert_refused(
            reply,
            "protocol version 1 is older than this server's 2: run the same ralo version for serve and update",
        );
        server.assert_good_publish(1);
    }

    #[test]
    fn unknown_kind_is_refused() {
        let server = TestServer::start();
        let reply = raw_request(&server.path, &Header::encode(99, 0), &[]).unwrap();
        assert_refused(reply, "unknown kind 99");
        server.assert_good_publish(1);
    }

    #[test]
    fn version_1_kinds_are_unknown_in_version_2() {
        let server = TestServer::start();
        for kind in [4, 5] {
            let reply = raw_request(&server.path, &Header::encode(kind, 0), &[]).unwrap();
            assert_refused(reply, &format!("unknown kind {kind}"));
        }
        server.assert_good_publish(1);
    }

    #[test]
    fn state_request_with_an_fd_is_refused() {
        let server = TestServer::start();
        let image = SealedImage::create(b"image bytes", "test").unwrap();
        let reply = raw_request(&server.path, &state_frame(), &[image.as_fd()]).unwrap();
        assert_refused(reply, "GET_STATE carries no fd, got 1");
        server.assert_good_publish(1);
    }

    #[test]
    fn oversize_payload_length_is_refused_without_reading_it() {
        let server = TestServer::start();
        let header = Header::encode(Kind::Publish as u16, MAX_PAYLOAD as u32 + 1);
        assert_refused(
            raw_request(&server.path, &header, &[]).unwrap(),
            "over the 65536-byte limit",
        );
        server.assert_good_publish(1);
    }

    #[test]
    fn reply_kind_sent_as_request_is_refused() {
        let server = TestServer::start();
        let frame = Reply::Accepted { generation: 5 }.encode();
        assert_refused(
            raw_request(&server.path, &frame, &[]).unwrap(),
            "ACCEPTED is a reply",
        );
        server.assert_good_publish(1);
    }

    #[test]
    fn truncated_header_then_half_close_is_refused() {
        let server = TestServer::start();
        let mut stream = UnixStream::connect(&server.path).unwrap();
        stream.write_all(&state_frame()[..8]).unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        let reply = read_reply(&stream).unwrap();
        assert_refused(reply, "hung up after 8 bytes");
        server.assert_good_publish(1);
    }

    #[test]
    fn disconnect_mid_payload_is_dropped_and_server_keeps_serving() {
        let server = TestServer::start();
        let mut stream = UnixStream::connect(&server.path).unwrap();
        stream
            .write_all(&publish_frame(1, 10)[..HEADER_LEN + 3])
            .unwrap();
        drop(stream);
        server.assert_good_publish(1);
    }

    #[test]
    fn silent_peer_is_refused_after_request_timeout() {
        let server = TestServer::start();
        let stream = UnixStream::connect(&server.path).unwrap();
        let start = Instant::now();
        let reply = read_reply(&stream).unwrap();
        assert_refused(reply, "no complete frame within 2s");
        assert!(start.elapsed() >= REQUEST_TIMEOUT - Duration::from_millis(100));
        server.assert_good_publish(1);
    }

    #[test]
    fn publish_without_fd_is_refused() {
        let server = TestServer::start();
        let reply = raw_request(&server.path, &publish_frame(1, 10), &[]).unwrap();
        assert_refused(reply, "exactly one fd (SCM_RIGHTS), got 0");
        server.assert_good_publish(1);
    }

    #[test]
    fn publish_with_two_fds_is_refused_and_closes_both() {
        let server = TestServer::start();
        let image = SealedImage::create(b"image bytes", "test").unwrap();
        let (pipe_r, pipe_w) = std::io::pipe().unwrap();
        let pipe_id = fs::read_link(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&pipe_r)
        ))
        .unwrap();
        let open_ends = || {
            fs::read_dir("/proc/self/fd")
                .unwrap()
                .filter_map(|e| fs::read_link(e.ok()?.path()).ok())
                .filter(|target| *target == pipe_id)
                .count()
        };
        assert_eq!(open_ends(), 2);
        let frame = publish_frame(1, image.len());
        let reply = raw_request(&server.path, &frame, &[image.as_fd(), pipe_w.as_fd()]).unwrap();
        assert_refused(reply, "exactly one fd (SCM_RIGHTS), got 2");
        drop(pipe_w);
        // Only our read end is left: the server closed its copy of the write end…
        assert_eq!(open_ends(), 1);
        // …which the kernel confirms: with no writer left, reading sees EOF.
        let mut buf = [0; 1];
        assert_eq!(rustix::io::read(&pipe_r, &mut buf), Ok(0));
        server.assert_good_publish(1);
    }

    #[test]
    fn publish_of_unsealed_memfd_is_refused() {
        let server = TestServer::start();
        let fd = unsealed_memfd(b"image bytes");
        let reply = raw_request(&server.path, &publish_frame(1, 11), &[fd.as_fd()]).unwrap();
        assert_refused(reply, "lacks the seal(s) F_SEAL_WRITE");
        server.assert_good_publish(1);
    }

    #[test]
    fn publish_with_wrong_declared_length_is_refused() {
        let server = TestServer::start();
        let image = SealedImage::create(b"image bytes", "test").unwrap();
        let reply = raw_request(&server.path, &publish_frame(1, 999), &[image.as_fd()]).unwrap();
        assert_refused(reply, "says the image is 999 bytes but the memfd holds 11");
        server.assert_good_publish(1);
    }

    #[test]
    fn peer_with_disallowed_uid_is_refused_by_uid() {
        let own = rustix::process::getuid().as_raw();
        let other = own.wrapping_add(4242);
        let server = TestServer::with_uids(vec![other]);
        let image = SealedImage::create(b"image bytes", "test").unwrap();
        let reply = publish(&server.path, image, 1, Duration::from_secs(5)).unwrap();
        assert_refused(reply, &format!("peer uid {own} "));
        assert!(
            server.seen.try_recv().is_err(),
            "the handler saw a refused peer"
        );
        let reply = state(&server.path, Duration::from_secs(5)).unwrap();
        assert_refused(reply, &format!("allowed uids: [{other}]"));
    }

    #[test]
    fn serve_returns_soon_after_stop_even_with_a_silent_peer() {
        let server = TestServer::start();
        let _silent = UnixStream::connect(&server.path).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let start = Instant::now();
        server.stop_and_join();
        assert!(
            start.elapsed() < Duration::from_millis(600),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn bind_replaces_a_stale_socket_and_sets_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ralo.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap()); // leaves the file
        assert!(path.exists());
        let listener = Listener::bind(&path, default_allowed_uids()).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        drop(listener);
        assert!(!path.exists(), "drop leaves the socket file behind");
    }

    #[test]
    fn bind_refuses_when_a_server_is_listening() {
        let server = TestServer::start();
        let err = Listener::bind(&server.path, default_allowed_uids()).unwrap_err();
        assert!(matches!(err, Error::AlreadyRunning { .. }), "{err:?}");
        server.assert_good_publish(1);
    }

    #[test]
    fn bind_refuses_to_replace_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ralo.sock");
        fs::write(&path, b"not a socket").unwrap();
        let err = Listener::bind(&path, default_allowed_uids()).unwrap_err();
        assert!(matches!(err, Error::NotASocket { .. }), "{err:?}");
        assert_eq!(fs::read(&path).unwrap(), b"not a socket");
    }
}
