//! Moving frames and fds over a connected Unix stream socket: one `sendmsg`
//! with `SCM_RIGHTS`, and a deadline-bound receive that collects every fd that
//! arrives (closing any beyond a small cap). Shared by `listener` and
//! `client`; what the bytes mean is `protocol`'s business.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

use tokio_util::sync::CancellationToken;

use super::frame::{Fds, FrameError, HEADER_LEN, Header};

/// How long the server waits for a whole request after accepting, and for
/// its reply to be taken, before giving up on a peer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest single blocking wait, so a stop request is noticed in time.
const SLICE: Duration = Duration::from_millis(200);

/// Fds kept per frame; more are closed as they arrive. A well-formed request
/// carries at most one.
const MAX_FDS: usize = 4;

/// A frame as received, with every fd that came along.
#[derive(Debug)]
pub(super) struct Received {
    pub(super) header: Header,
    pub(super) payload: Vec<u8>,
    pub(super) fds: Fds,
}

/// Why no frame could be received.
#[derive(Debug, thiserror::Error)]
pub(super) enum RecvError {
    #[error("the peer hung up after {got} bytes, in the middle of a frame")]
    Closed { got: usize },
    #[error(
        "no complete frame within {timeout:?} (got {got} bytes): send the whole frame right after connecting"
    )]
    TimedOut { got: usize, timeout: Duration },
    #[error("the server is shutting down")]
    Stopped,
    #[error("socket error: {0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Frame(#[from] FrameError),
}

/// Sends `frame` with `fds` attached to its first byte, by `deadline`.
pub(super) fn send(
    stream: &UnixStream,
    frame: &[u8],
    fds: &[BorrowedFd<'_>],
    deadline: Instant,
) -> io::Result<()> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::other(format!("cannot attach {} fds", fds.len())));
    }
    let mut sent = 0;
    while sent < frame.len() {
        stream.set_write_timeout(Some(slice_until(deadline)?))?;
        // The fds ride with the first `sendmsg` only; later calls send the rest.
        let result = if sent == 0 {
            rustix::net::sendmsg(
                stream,
                &[IoSlice::new(frame)],
                &mut control,
                SendFlags::NOSIGNAL,
            )
        } else {
            rustix::net::send(stream, &frame[sent..], SendFlags::NOSIGNAL)
        };
        match result {
            Ok(n) => sent += n,
            Err(Errno::AGAIN | Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Receives one frame by `deadline`, waking at least every 200 ms to notice
/// that `stop` is cancelled. Header errors are reported as soon as the header is in, before any
/// payload is read.
pub(super) fn recv(
    stream: &UnixStream,
    deadline: Instant,
    timeout: Duration,
    stop: Option<&CancellationToken>,
) -> Result<Received, RecvError> {
    let mut reader = FrameReader {
        stream,
        deadline,
        timeout,
        stop,
        got: 0,
        fds: Fds::default(),
    };
    let mut header = [0; HEADER_LEN];
    reader.fill(&mut header)?;
    let header = Header::decode(&header)?;
    let mut payload = vec![0; header.len as usize];
    reader.fill(&mut payload)?;
    Ok(Received {
        header,
        payload,
        fds: reader.fds,
    })
}

struct FrameReader<'a> {
    stream: &'a UnixStream,
    deadline: Instant,
    timeout: Duration,
    stop: Option<&'a CancellationToken>,
    got: usize,
    fds: Fds,
}

impl FrameReader<'_> {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RecvError> {
        let mut filled = 0;
        while filled < buf.len() {
            if self.stop.is_some_and(CancellationToken::is_cancelled) {
                return Err(RecvError::Stopped);
            }
            let slice = slice_until(self.deadline).map_err(|_| RecvError::TimedOut {
                got: self.got,
                timeout: self.timeout,
            })?;
            self.stream.set_read_timeout(Some(slice))?;
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
            let mut control = RecvAncillaryBuffer::new(&mut space);
            let result = rustix::net::recvmsg(
                self.stream,
                &mut [IoSliceMut::new(&mut buf[filled..])],
                &mut control,
                RecvFlags::CMSG_CLOEXEC,
            );
            for message in control.drain() {
                if let RecvAncillaryMessage::ScmRights(fds) = message {
                    for fd in fds {
                        if self.fds.kept.len() < MAX_FDS {
                            self.fds.kept.push(fd);
                        } else {
                            self.fds.overflow = true; // `fd` is dropped, so closed
                        }
                    }
                }
            }
            match result {
                Ok(msg) if msg.bytes == 0 => return Err(RecvError::Closed { got: self.got }),
                Ok(msg) => {
                    if msg.flags.contains(ReturnFlags::CTRUNC) {
                        // The kernel closed the fds that did not fit.
                        self.fds.overflow = true;
                    }
                    filled += msg.bytes;
                    self.got += msg.bytes;
                }
                // A timeout slice ended or a signal came: check stop, go on.
                Err(Errno::AGAIN | Errno::INTR) => {}
                Err(e) => return Err(RecvError::Io(e.into())),
            }
        }
        Ok(())
    }
}

/// The next wait: up to 200 ms, never past `deadline`, never zero (which
/// would mean "forever" to the socket timeouts).
fn slice_until(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left < Duration::from_millis(1) {
        return Err(io::Error::from(io::ErrorKind::TimedOut));
    }
    Ok(left.min(SLICE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::protocol::{Reply, Request};
    use crate::exchange::SealedImage;
    use std::io::Write;

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(2)
    }

    #[test]
    fn frame_and_fd_arrive_together() {
        let (a, b) = UnixStream::pair().unwrap();
        let image = SealedImage::create(b"ten bytes!", "test").unwrap();
        let request = Request::Publish {
            generation: 3,
            image,
        };
        let (frame, fd) = request.encode();
        send(&a, &frame, fd.as_slice(), soon()).unwrap();
        let got = recv(&b, soon(), REQUEST_TIMEOUT, None).unwrap();
        assert_eq!(got.fds.kept.len(), 1);
        assert!(!got.fds.overflow);
        let Ok(Request::Publish { generation, image }) =
            Request::decode(got.header.kind, &got.payload, got.fds)
        else {
            panic!("not a publish");
        };
        assert_eq!(generation, 3);
        assert_eq!(image.map().unwrap().as_ref(), b"ten bytes!");
    }

    #[test]
    fn frame_split_into_single_bytes_is_reassembled() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let reply = Reply::State {
            generation: 11,
            disabled_until_ms: 12,
        };
        let frame = reply.encode();
        let writer = std::thread::spawn(move || {
            for byte in frame {
                a.write_all(&[byte]).unwrap();
            }
        });
        let got = recv(&b, soon(), REQUEST_TIMEOUT, None).unwrap();
        writer.join().unwrap();
        assert_eq!(Reply::decode(got.header.kind, &got.payload).unwrap(), reply);
    }

    #[test]
    fn silent_peer_times_out_at_deadline() {
        let (_a, b) = UnixStream::pair().unwrap();
        let start = Instant::now();
        let deadline = start + Duration::from_millis(300);
        let err = recv(&b, deadline, Duration::from_millis(300), None).unwrap_err();
        assert!(matches!(err, RecvError::TimedOut { got: 0, .. }), "{err:?}");
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn cancelled_token_ends_a_wait_within_a_slice() {
        let (_a, b) = UnixStream::pair().unwrap();
        let stop = CancellationToken::new();
        stop.cancel();
        let start = Instant::now();
        let err = recv(&b, soon(), REQUEST_TIMEOUT, Some(&stop)).unwrap_err();
        assert!(matches!(err, RecvError::Stopped));
        assert!(start.elapsed() < Duration::from_millis(500));
    }

    #[test]
    fn hang_up_mid_header_is_reported_with_byte_count() {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(b"RALO\x02").unwrap();
        drop(a);
        let err = recv(&b, soon(), REQUEST_TIMEOUT, None).unwrap_err();
        assert!(matches!(err, RecvError::Closed { got: 5 }), "{err:?}");
    }
}
