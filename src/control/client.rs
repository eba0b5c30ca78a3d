//! The sending side of the control socket, used by `ralo update` and the
//! CLI: connect, send one [`Request`] (with the image's memfd for a publish),
//! read one [`Reply`]. Blocking, bounded by the caller's timeout. The
//! receiving side, in the server, is `listener`.

use std::io;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::sockopt::Timeout as SocketTimeout;
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

use super::Error;
use super::frame::{FrameError, PROTOCOL_VERSION};
use super::protocol::{Reply, Request};
use super::socket::{self, RecvError};
use crate::exchange::SealedImage;

/// Hands `image` to the server listening on `path` as `generation`, and
/// returns its verdict: [`Reply::Accepted`] once the server serves it, or
/// [`Reply::Refused`] with the reason (the server keeps its old image).
pub fn publish(
    path: &Path,
    image: SealedImage,
    generation: u64,
    timeout: Duration,
) -> Result<Reply, Error> {
    round_trip(path, &Request::Publish { generation, image }, timeout)
}

/// Asks the server on `path` for the generation it serves and its blocking
/// switch ([`Reply::State`]).
pub fn state(path: &Path, timeout: Duration) -> Result<Reply, Error> {
    round_trip(path, &Request::State, timeout)
}

/// Switches the server's blocking off until `disabled_until_ms` (Unix ms;
/// `u64::MAX`: until switched on), or on with 0 ([`Reply::State`]).
pub fn set_blocking(
    path: &Path,
    disabled_until_ms: u64,
    timeout: Duration,
) -> Result<Reply, Error> {
    round_trip(path, &Request::SetBlocking { disabled_until_ms }, timeout)
}

/// Asks the server at `path` to switch blocking off for the clients of
/// `group` until `disabled_until_ms` (Unix ms; 0: on again; `u64::MAX`:
/// until switched on).
pub fn pause_group(
    path: &Path,
    group: &str,
    disabled_until_ms: u64,
    timeout: Duration,
) -> Result<Reply, Error> {
    let request = Request::PauseGroup {
        group: group.to_owned(),
        disabled_until_ms,
    };
    round_trip(path, &request, timeout)
}

fn round_trip(path: &Path, request: &Request, timeout: Duration) -> Result<Reply, Error> {
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
    let (frame, fd) = request.encode();
    // A server that refuses early (a disallowed uid) may close before our
    // request is all sent; its reply is still there to read, so a failed
    // send only matters when no reply comes.
    let sent = socket::send(&stream, &frame, fd.as_slice(), deadline);
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
        (Err(RecvError::Frame(FrameError::OlderVersion { version })), Ok(())) => {
            return Err(bad_reply(format!(
                "protocol version {version} is older than this client's {PROTOCOL_VERSION}"
            )));
        }
        (Err(RecvError::Frame(e)), Ok(())) => return Err(bad_reply(e.to_string())),
    };
    // Fds in a reply mean nothing; dropping `received` closes them.
    Reply::decode(received.header.kind, &received.payload).map_err(|e| bad_reply(e.to_string()))
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
            state(&server.path, WAIT).unwrap(),
            Reply::State {
                generation: 42,
                disabled_until_ms: 0
            }
        );
    }

    #[test]
    fn handler_refusal_reaches_client_with_reason() {
        let server = TestServer::start();
        server.assert_good_publish(3);
        let mut bytes = REJECT_PREFIX.to_vec();
        bytes.extend_from_slice(b" image");
        let image = SealedImage::create(&bytes, "test").unwrap();
        let reply = publish(&server.path, image, 4, WAIT).unwrap();
        assert_eq!(
            reply,
            Reply::Refused {
                generation: 3,
                reason: "checksum mismatch: rebuild the image".into()
            }
        );
        assert_eq!(state(&server.path, WAIT).unwrap().generation(), 3);
    }

    #[test]
    fn state_of_fresh_server_is_generation_zero_with_blocking_on() {
        let server = TestServer::start();
        assert_eq!(
            state(&server.path, WAIT).unwrap(),
            Reply::State {
                generation: 0,
                disabled_until_ms: 0
            }
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
        assert_eq!(state(&server.path, WAIT).unwrap(), reply);
        set_blocking(&server.path, 0, WAIT).unwrap();
        assert_eq!(
            state(&server.path, WAIT).unwrap(),
            Reply::State {
                generation: 0,
                disabled_until_ms: 0
            }
        );
    }

    #[test]
    fn missing_socket_means_server_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ralo.sock");
        let err = state(&path, WAIT).unwrap_err();
        assert!(matches!(err, Error::ServerNotRunning { .. }), "{err:?}");
        assert!(err.to_string().contains("start `ralo serve`"));
        let image = SealedImage::create(b"x", "test").unwrap();
        let err = publish(&path, image, 1, WAIT).unwrap_err();
        assert!(matches!(err, Error::ServerNotRunning { .. }), "{err:?}");
    }

    #[test]
    fn stale_socket_file_means_server_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ralo.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        let err = state(&path, WAIT).unwrap_err();
        assert!(matches!(err, Error::ServerNotRunning { .. }), "{err:?}");
    }

    #[test]
    fn reply_of_another_version_is_refused_telling_to_run_one_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ralo.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let old_server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            // A version 1 CURRENT reply: header, then a u64 generation.
            let mut frame = b"RALO\x01\x00\x05\x00\x08\x00\x00\x00\x00\x00\x00\x00".to_vec();
            frame.extend_from_slice(&9u64.to_le_bytes());
            std::io::Write::write_all(&mut stream, &frame).unwrap();
            // Read the request out before closing: closing with it unread
            // would reset the connection, and the client might see the
            // reset rather than the reply.
            let _ = stream.shutdown(std::net::Shutdown::Write);
            let _ = std::io::Read::read_to_end(&mut stream, &mut Vec::new());
        });
        let err = state(&path, WAIT).unwrap_err();
        old_server.join().unwrap();
        assert!(matches!(err, Error::BadReply { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("protocol version 1 is older than this client's 2"),
            "{text}"
        );
        assert!(
            text.contains("run the same ralo version for serve and update"),
            "{text}"
        );
    }

    #[test]
    fn server_that_never_answers_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ralo.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap(); // never accepts
        let start = Instant::now();
        let err = state(&path, Duration::from_millis(300)).unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}
