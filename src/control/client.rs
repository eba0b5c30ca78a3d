//! The client end of the control socket, used by `ralo update` and the CLI
//! commands: connect, send one request frame (with the image's fd for a
//! publish), read one reply. Blocking, bounded by the caller's timeout.
//! `listener` is the other end.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::sockopt::Timeout as SocketTimeout;
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

use super::Error;
use super::protocol::{Blocking, Empty, FrameError, Message, PROTOCOL_VERSION, Publish};
use super::request::Reply;
use super::socket::{self, RecvError};
use crate::exchange::SealedImage;

/// Hands `image` to the server listening on `path` as `generation`, and
/// returns its verdict: [`Reply::Accepted`] once the server serves it, or
/// [`Reply::Refused`] with the reason (the server keeps its old image).
pub fn publish(
    path: &Path,
    image: &SealedImage,
    generation: u64,
    timeout: Duration,
) -> Result<Reply, Error> {
    let message = Message::Publish(Publish {
        generation,
        len: image.len(),
    });
    round_trip(path, &message, &[image.as_fd()], timeout)
}

/// Asks the server on `path` which generation it serves
/// ([`Reply::Current`]).
pub fn status(path: &Path, timeout: Duration) -> Result<Reply, Error> {
    round_trip(path, &Message::Status(Empty), &[], timeout)
}

/// Switches the server's blocking off until `disabled_until_ms` (Unix ms;
/// `u64::MAX`: until switched on), or on with 0 ([`Reply::State`]).
pub fn set_blocking(
    path: &Path,
    disabled_until_ms: u64,
    timeout: Duration,
) -> Result<Reply, Error> {
    round_trip(
        path,
        &Message::SetBlocking(Blocking(disabled_until_ms)),
        &[],
        timeout,
    )
}

/// Asks the server for its generation and blocking state ([`Reply::State`]).
pub fn state(path: &Path, timeout: Duration) -> Result<Reply, Error> {
    round_trip(path, &Message::GetState(Empty), &[], timeout)
}

fn round_trip(
    path: &Path,
    message: &Message,
    fds: &[BorrowedFd<'_>],
    timeout: Duration,
) -> Result<Reply, Error> {
    let deadline = Instant::now() + timeout;
    let socket_err = |source| Error::Socket {
        path: path.to_path_buf(),
        source,
    };
    let timeout_err = || Error::Timeout {
        path: path.to_path_buf(),
        timeout,
    };
    let bad_reply = |reason| Error::BadReply {
        path: path.to_path_buf(),
        reason,
    };
    let stream = connect(path, timeout)?;
    // A server that refuses early (a disallowed uid) may close before our
    // request is all sent; its reply is still there to read, so a failed
    // send only matters when no reply comes.
    let sent = socket::send(&stream, message, fds, deadline);
    let received = match (socket::recv(&stream, deadline, timeout, None), sent) {
        (Ok(received), _) => received,
        (Err(_), Err(e)) if e.kind() == io::ErrorKind::TimedOut => return Err(timeout_err()),
        (Err(_), Err(e)) => return Err(socket_err(e)),
        (Err(RecvError::TimedOut { .. } | RecvError::Stopped), Ok(())) => {
            return Err(timeout_err());
        }
        (Err(RecvError::Io(e)), Ok(())) => return Err(socket_err(e)),
        (Err(RecvError::Closed { got }), Ok(())) => {
            return Err(socket_err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the server hung up after {got} bytes of its reply"),
            )));
        }
        (Err(RecvError::Frame(FrameError::NewerVersion { version })), Ok(())) => {
            return Err(bad_reply(format!(
                "protocol version {version} is newer than this client's {PROTOCOL_VERSION}"
            )));
        }
        (Err(RecvError::Frame(e)), Ok(())) => return Err(bad_reply(e.to_string())),
    };
    // Fds in a reply mean nothing; dropping `received` closes them.
    let reply = Message::decode(received.header.kind, &received.payload)
        .map_err(|e| bad_reply(e.to_string()))?;
    let kind = reply.kind();
    Reply::from_message(reply).ok_or_else(|| bad_reply(format!("{kind} is a request, not a reply")))
}

/// Connects to `path`. On a Unix socket `connect` waits for a place in a full
/// backlog for up to the send timeout, so `timeout` bounds that too.
fn connect(path: &Path, timeout: Duration) -> Result<UnixStream, Error> {
    let socket_err = |e: Errno| Error::Socket {
        path: path.to_path_buf(),
        source: e.into(),
    };
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(socket_err)?;
    let wait = timeout.max(Duration::from_millis(1));
    rustix::net::sockopt::set_socket_timeout(&fd, SocketTimeout::Send, Some(wait))
        .map_err(socket_err)?;
    let address = SocketAddrUnix::new(path).map_err(socket_err)?;
    match rustix::net::connect(&fd, &address) {
        Ok(()) => Ok(UnixStream::from(fd)),
        // No file, or a file left by a server that is gone.
        Err(Errno::NOENT | Errno::CONNREFUSED) => Err(Error::ServerNotRunning {
            path: path.to_path_buf(),
        }),
        Err(Errno::AGAIN) => Err(Error::Timeout {
            path: path.to_path_buf(),
            timeout,
        }),
        Err(e) => Err(socket_err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::test_server::{REJECT_PREFIX, TestServer};

    const WAIT: Duration = Duration::from_secs(5);

    #[test]
    fn published_image_reaches_handler_and_is_accepted() {
        let server = TestServer::start();
        server.assert_good_publish(41);
        server.assert_good_publish(42);
        assert_eq!(
            status(&server.path, WAIT).unwrap(),
            Reply::Current { generation: 42 }
        );
    }

    #[test]
    fn handler_refusal_reaches_client_with_reason() {
        let server = TestServer::start();
        server.assert_good_publish(3);
        let mut bytes = REJECT_PREFIX.to_vec();
        bytes.extend_from_slice(b" image");
        let image = SealedImage::create(&bytes, "test").unwrap();
        let reply = publish(&server.path, &image, 4, WAIT).unwrap();
        assert_eq!(
            reply,
            Reply::Refused {
                generation: 3,
                reason: "checksum mismatch: rebuild the image".into()
            }
        );
        assert_eq!(status(&server.path, WAIT).unwrap().generation(), 3);
    }

    #[test]
    fn status_of_fresh_server_is_generation_zero() {
        let server = TestServer::start();
        assert_eq!(
            status(&server.path, WAIT).unwrap(),
            Reply::Current { generation: 0 }
        );
    }

    #[test]
    fn blocking_switch_and_state_round_trip() {
        let server = TestServer::start();
        let reply = set_blocking(&server.path, 1234, WAIT).unwrap();
        assert_eq!(
            reply,
            Reply::State {
                generation: 0,
                disabled_until_ms: 1234
            }
        );
        assert!(matches!(
            state(&server.path, WAIT).unwrap(),
            Reply::State { .. }
        ));
    }

    #[test]
    fn missing_socket_means_server_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ralo.sock");
        let err = status(&path, WAIT).unwrap_err();
        assert!(matches!(err, Error::ServerNotRunning { .. }), "{err:?}");
        assert!(err.to_string().contains("start `ralo serve`"));
        let image = SealedImage::create(b"x", "test").unwrap();
        let err = publish(&path, &image, 1, WAIT).unwrap_err();
        assert!(matches!(err, Error::ServerNotRunning { .. }), "{err:?}");
    }

    #[test]
    fn stale_socket_file_means_server_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ralo.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        let err = status(&path, WAIT).unwrap_err();
        assert!(matches!(err, Error::ServerNotRunning { .. }), "{err:?}");
    }

    #[test]
    fn server_that_never_answers_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ralo.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap(); // never accepts
        let start = Instant::now();
        let err = status(&path, Duration::from_millis(300)).unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}
