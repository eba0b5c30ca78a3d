//! The control protocol as bytes: the 16-byte frame header, and the one
//! [`Request`] and one [`Reply`], each with one `encode` and one `decode`.
//! No socket I/O here: `socket` moves frames and fds, `client` sends
//! requests, `listener` answers them.
//!
//! # Protocol note, version 2
//!
//! The server ([`Listener`](super::Listener)) listens on a Unix stream
//! socket, normally `<runtime dir>/ralo.sock`, created with mode 0600. It
//! serves one connection at a time (on its own thread; no DNS query waits on
//! it). Each connection carries exactly one request frame from the client and
//! one reply frame from the server, then closes.
//!
//! On accept the server reads the peer's `SO_PEERCRED`; a uid outside the
//! allowed set (by default its own uid and 0) gets `REFUSED`.
//!
//! A frame is a 16-byte header, then the payload; all integers little-endian:
//!
//! | offset | size | field                                   |
//! |--------|------|-----------------------------------------|
//! | 0      | 4    | magic `b"RALO"`                         |
//! | 4      | 2    | protocol version, `2`                   |
//! | 6      | 2    | kind                                    |
//! | 8      | 4    | payload length, at most 65 536          |
//! | 12     | 4    | reserved, `0`                           |
//!
//! | kind | name         | direction | payload                             |
//! |------|--------------|-----------|-------------------------------------|
//! | 1    | PUBLISH      | request   | u64 generation, u64 image length; exactly one fd (`SCM_RIGHTS`): a memfd with all four seals holding that many bytes. Answered with ACCEPTED or REFUSED |
//! | 2    | ACCEPTED     | reply     | u64 generation now serving          |
//! | 3    | REFUSED      | reply     | u64 generation still serving, UTF-8 reason |
//! | 6    | SET_BLOCKING | request   | u64 blocking off until (Unix ms; 0 on, `u64::MAX` until switched on). Answered with STATE |
//! | 7    | GET_STATE    | request   | none. Answered with STATE           |
//! | 8    | STATE        | reply     | u64 generation now serving, u64 blocking off until (Unix ms; 0: on) |
//! | 9    | PAUSE_GROUP  | request   | u64 blocking off until (Unix ms, as SET_BLOCKING), UTF-8 group name: blocking off for the clients of one group. Answered with STATE, or REFUSED for a group the serving image does not name |
//!
//! Kinds 4 and 5 were version 1's STATUS and CURRENT; version 2 answers that
//! question with GET_STATE and STATE, and the two numbers are never used
//! again.
//!
//! Both ends speak exactly one version. The server refuses a frame of an
//! older version ("run the same ralo version for serve and update") or a
//! newer one ("upgrade ralo serve"), and a client refuses a reply of another
//! version with the same advice, so `ralo serve` and `ralo update` come from
//! the same build. A reply is always sent with the sender's own version.
//!
//! Anything the server cannot take (bad magic, another version, an unknown
//! kind, a reply kind, an oversize or malformed payload, a wrong number of
//! fds, an fd that is not a fully sealed memfd of the declared length, a peer
//! that says nothing for 2 s or hangs up mid-frame) gets a `REFUSED` reply
//! whose reason says what to fix, when the peer can still read it, and is
//! logged; the server keeps serving.
//!
//! Adding a kind is one [`Kind`] variant with a number never used before, and
//! one variant of [`Request`] or [`Reply`] with its arm in `encode` and
//! `decode`; old servers refuse it as an unknown kind. Changing the meaning
//! or layout of a kind, or removing one, bumps the version.

use std::os::fd::{AsFd, BorrowedFd};

use super::frame::{Fds, FrameError, Kind, Reader, Writer};
use crate::exchange::SealedImage;

/// A request that reached the server's handler. Malformed frames, refused
/// peers and bad fds never get this far: `Request::decode` and the
/// listener refuse them.
#[derive(Debug)]
pub enum Request {
    /// PUBLISH: serve this image from now on. Its memfd travels beside the
    /// frame; by the time the handler sees it, its seals and its length are
    /// checked, and the handler maps it, runs `Image::verify`, and swaps it in.
    Publish {
        /// The generation the updater says the image has; the handler
        /// checks it against the image header.
        generation: u64,
        /// The sealed image received from the updater.
        image: SealedImage,
    },
    /// GET_STATE: which generation is being served, and is blocking on?
    /// Answered with [`Reply::State`]. The listener also asks it when it
    /// refuses a request by itself, to put the serving generation in the
    /// refusal, so answering must be cheap.
    State,
    /// SET_BLOCKING: switch blocking off until this Unix time in ms (0: on
    /// again; `u64::MAX`: until switched on). Answered with [`Reply::State`].
    SetBlocking {
        /// Off until (Unix ms), or 0 for on.
        disabled_until_ms: u64,
    },
    /// PAUSE_GROUP: switch blocking off for the clients of one group until
    /// this Unix time in ms (0: on again; `u64::MAX`: until switched on).
    /// Answered with [`Reply::State`], or [`Reply::Refused`] for a group
    /// the serving image does not name.
    PauseGroup {
        /// The group's name.
        group: String,
        /// Off until (Unix ms), or 0 for on.
        disabled_until_ms: u64,
    },
}

impl Request {
    /// The whole frame, and the fd to send beside it (a publish's memfd).
    pub(super) fn encode(&self) -> (Vec<u8>, Option<BorrowedFd<'_>>) {
        match self {
            Request::Publish { generation, image } => {
                let mut frame = Writer::new(Kind::Publish);
                frame.u64(*generation);
                frame.u64(image.len());
                (frame.finish(), Some(image.as_fd()))
            }
            Request::State => (Writer::new(Kind::GetState).finish(), None),
            Request::SetBlocking { disabled_until_ms } => {
                let mut frame = Writer::new(Kind::SetBlocking);
                frame.u64(*disabled_until_ms);
                (frame.finish(), None)
            }
            Request::PauseGroup {
                group,
                disabled_until_ms,
            } => {
                let mut frame = Writer::new(Kind::PauseGroup);
                frame.u64(*disabled_until_ms);
                frame.text(group);
                (frame.finish(), None)
            }
        }
    }

    /// Decodes the payload of a frame whose header passed [`Header::decode`],
    /// with the fds that came along. A publish's one fd becomes a checked
    /// [`SealedImage`]: all four seals, and the length the frame declares.
    /// Every fd not kept in the request is closed.
    pub(super) fn decode(kind: u16, payload: &[u8], fds: Fds) -> Result<Request, FrameError> {
        let kind = Kind::from_wire(kind)?;
        let mut reader = Reader {
            kind,
            bytes: payload,
        };
        match kind {
            Kind::Publish => {
                let generation = reader.u64()?;
                let declared = reader.u64()?;
                reader.finish()?;
                let image = SealedImage::from_fd(fds.one(kind)?)?;
                if image.len() != declared {
                    return Err(FrameError::LengthMismatch {
                        declared,
                        held: image.len(),
                    });
                }
                Ok(Request::Publish { generation, image })
            }
            Kind::GetState => {
                reader.finish()?;
                fds.none(kind)?;
                Ok(Request::State)
            }
            Kind::SetBlocking => {
                let disabled_until_ms = reader.u64()?;
                reader.finish()?;
                fds.none(kind)?;
                Ok(Request::SetBlocking { disabled_until_ms })
            }
            Kind::PauseGroup => {
                let disabled_until_ms = reader.u64()?;
                let group = reader.text()?;
                fds.none(kind)?;
                Ok(Request::PauseGroup {
                    group,
                    disabled_until_ms,
                })
            }
            Kind::Accepted | Kind::Refused | Kind::State => Err(FrameError::NotARequest { kind }),
        }
    }
}

/// The server's answer to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// ACCEPTED: the published image is now being served.
    Accepted {
        /// Generation now serving.
        generation: u64,
    },
    /// REFUSED: the request was refused; the server keeps serving what it had.
    Refused {
        /// Generation still serving (0 when none is).
        generation: u64,
        /// Why, and what to do about it.
        reason: String,
    },
    /// STATE: the answer to a state or blocking request.
    State {
        /// Generation now serving (0 when none is).
        generation: u64,
        /// Blocking is off until this Unix time in ms; 0 when it is on.
        disabled_until_ms: u64,
    },
}

impl Reply {
    /// The generation the server is serving after this reply.
    pub fn generation(&self) -> u64 {
        match self {
            Reply::Accepted { generation }
            | Reply::Refused { generation, .. }
            | Reply::State { generation, .. } => *generation,
        }
    }

    /// The whole frame. A reply carries no fd.
    pub(super) fn encode(&self) -> Vec<u8> {
        match self {
            Reply::Accepted { generation } => {
                let mut frame = Writer::new(Kind::Accepted);
                frame.u64(*generation);
                frame.finish()
            }
            Reply::Refused { generation, reason } => {
                let mut frame = Writer::new(Kind::Refused);
                frame.u64(*generation);
                frame.text(reason);
                frame.finish()
            }
            Reply::State {
                generation,
                disabled_until_ms,
            } => {
                let mut frame = Writer::new(Kind::State);
                frame.u64(*generation);
                frame.u64(*disabled_until_ms);
                frame.finish()
            }
        }
    }

    /// Decodes the payload of a frame whose header passed [`Header::decode`].
    pub(super) fn decode(kind: u16, payload: &[u8]) -> Result<Reply, FrameError> {
        let kind = Kind::from_wire(kind)?;
        let mut reader = Reader {
            kind,
            bytes: payload,
        };
        let reply = match kind {
            Kind::Accepted => Reply::Accepted {
                generation: reader.u64()?,
            },
            Kind::Refused => Reply::Refused {
                generation: reader.u64()?,
                reason: reader.text()?,
            },
            Kind::State => Reply::State {
                generation: reader.u64()?,
                disabled_until_ms: reader.u64()?,
            },
            Kind::Publish | Kind::GetState | Kind::SetBlocking | Kind::PauseGroup => {
                return Err(FrameError::NotAReply { kind });
            }
        };
        reader.finish()?;
        Ok(reply)
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::OwnedFd;

    use super::*;
    use crate::control::frame::{HEADER_LEN, Header, MAX_PAYLOAD, PayloadFault};
    use crate::control::test_server::unsealed_memfd;
    use crate::exchange;

    fn header_of(frame: &[u8]) -> [u8; HEADER_LEN] {
        frame[..HEADER_LEN].try_into().unwrap()
    }

    fn reply_round_trip(reply: Reply) {
        let frame = reply.encode();
        let header = Header::decode(&header_of(&frame)).unwrap();
        assert_eq!(header.len as usize, frame.len() - HEADER_LEN);
        assert_eq!(
            Reply::decode(header.kind, &frame[HEADER_LEN..]).unwrap(),
            reply
        );
    }

    /// Encodes `request`, then decodes it with a copy of its fd, as the
    /// socket would deliver it.
    fn request_round_trip(request: &Request) -> Request {
        let (frame, fd) = request.encode();
        let header = Header::decode(&header_of(&frame)).unwrap();
        assert_eq!(header.len as usize, frame.len() - HEADER_LEN);
        let fds = Fds {
            kept: fd
                .map(|fd| fd.try_clone_to_owned().unwrap())
                .into_iter()
                .collect(),
            overflow: false,
        };
        Request::decode(header.kind, &frame[HEADER_LEN..], fds).unwrap()
    }

    fn one_fd(fd: OwnedFd) -> Fds {
        Fds {
            kept: vec![fd],
            overflow: false,
        }
    }

    fn publish_payload(generation: u64, len: u64) -> Vec<u8> {
        let mut payload = generation.to_le_bytes().to_vec();
        payload.extend_from_slice(&len.to_le_bytes());
        payload
    }

    #[test]
    fn every_reply_round_trips() {
        reply_round_trip(Reply::Accepted { generation: 7 });
        reply_round_trip(Reply::Refused {
            generation: 6,
            reason: "checksum mismatch: rebuild with ralo update".into(),
        });
        reply_round_trip(Reply::State {
            generation: u64::MAX,
            disabled_until_ms: 1_700_000_000_000,
        });
    }

    #[test]
    fn every_request_round_trips_and_a_publish_brings_its_image() {
        let image = SealedImage::create(b"image bytes", "test").unwrap();
        let sent = Request::Publish {
            generation: 7,
            image,
        };
        let Request::Publish { generation, image } = request_round_trip(&sent) else {
            panic!("not a publish");
        };
        assert_eq!(generation, 7);
        assert_eq!(image.map().unwrap().as_ref(), b"image bytes");
        assert!(matches!(
            request_round_trip(&Request::State),
            Request::State
        ));
        assert!(matches!(
            request_round_trip(&Request::SetBlocking {
                disabled_until_ms: u64::MAX
            }),
            Request::SetBlocking {
                disabled_until_ms: u64::MAX
            }
        ));
        let pause = Request::PauseGroup {
            group: "kids é".into(),
            disabled_until_ms: 1234,
        };
        assert!(matches!(
            request_round_trip(&pause),
            Request::PauseGroup { group, disabled_until_ms: 1234 } if group == "kids é"
        ));
    }

    #[test]
    fn state_request_is_kind_7_and_state_reply_kind_8() {
        let (frame, fd) = Request::State.encode();
        assert!(fd.is_none());
        assert_eq!(Header::decode(&header_of(&frame)).unwrap().kind, 7);
        let frame = Reply::State {
            generation: 1,
            disabled_until_ms: 0,
        }
        .encode();
        assert_eq!(Header::decode(&header_of(&frame)).unwrap().kind, 8);
    }

    #[test]
    fn unknown_kind_is_refused_by_number() {
        let err = Request::decode(99, &[], Fds::default()).unwrap_err();
        assert!(matches!(err, FrameError::UnknownKind { kind: 99 }));
        assert!(err.to_string().contains("unknown kind 99"));
        let err = Reply::decode(99, &[]).unwrap_err();
        assert!(matches!(err, FrameError::UnknownKind { kind: 99 }));
    }

    #[test]
    fn version_1_kinds_4_and_5_are_unknown() {
        for kind in [4, 5] {
            assert!(matches!(
                Request::decode(kind, &[], Fds::default()),
                Err(FrameError::UnknownKind { .. })
            ));
            assert!(matches!(
                Reply::decode(kind, &8u64.to_le_bytes()),
                Err(FrameError::UnknownKind { .. })
            ));
        }
    }

    #[test]
    fn short_or_long_payloads_are_refused() {
        let image = || SealedImage::create(b"x", "test").unwrap();
        let fd = || one_fd(image().as_fd().try_clone_to_owned().unwrap());
        assert!(matches!(
            Request::decode(Kind::Publish as u16, &[0; 15], fd()),
            Err(FrameError::BadPayload {
                kind: Kind::Publish,
                reason: PayloadFault::TooShort,
            })
        ));
        assert!(matches!(
            Request::decode(Kind::Publish as u16, &[0; 17], fd()),
            Err(FrameError::BadPayload {
                reason: PayloadFault::Trailing(1),
                ..
            })
        ));
        let err = Request::decode(Kind::GetState as u16, &[0], Fds::default()).unwrap_err();
        assert!(matches!(
            err,
            FrameError::BadPayload {
                kind: Kind::GetState,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "malformed GET_STATE payload: 1 unexpected trailing bytes"
        );
        assert!(matches!(
            Reply::decode(Kind::State as u16, &[0; 12]),
            Err(FrameError::BadPayload {
                kind: Kind::State,
                ..
            })
        ));
    }

    #[test]
    fn publish_without_exactly_one_fd_is_refused() {
        let payload = publish_payload(1, 1);
        let err = Request::decode(Kind::Publish as u16, &payload, Fds::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "PUBLISH must carry exactly one fd (SCM_RIGHTS), got 0"
        );
        let image = SealedImage::create(b"x", "test").unwrap();
        let fds = Fds {
            kept: vec![image.as_fd().try_clone_to_owned().unwrap()],
            overflow: true,
        };
        let err = Request::decode(Kind::Publish as u16, &payload, fds).unwrap_err();
        assert!(err.to_string().ends_with("got more than 1"), "{err}");
    }

    #[test]
    fn publish_fd_must_be_sealed_and_of_the_declared_length() {
        let payload = publish_payload(1, 11);
        let fds = one_fd(unsealed_memfd(b"image bytes"));
        let err = Request::decode(Kind::Publish as u16, &payload, fds).unwrap_err();
        assert!(
            matches!(err, FrameError::Image(exchange::Error::MissingSeals { .. })),
            "{err:?}"
        );
        let image = SealedImage::create(b"image bytes", "test").unwrap();
        let fds = one_fd(image.as_fd().try_clone_to_owned().unwrap());
        let err = Request::decode(Kind::Publish as u16, &publish_payload(1, 999), fds).unwrap_err();
        assert!(
            err.to_string()
                .contains("says the image is 999 bytes but the memfd holds 11"),
            "{err}"
        );
    }

    #[test]
    fn requests_that_carry_no_fd_refuse_one() {
        let image = SealedImage::create(b"x", "test").unwrap();
        let fds = one_fd(image.as_fd().try_clone_to_owned().unwrap());
        let err = Request::decode(Kind::GetState as u16, &[], fds).unwrap_err();
        assert_eq!(err.to_string(), "GET_STATE carries no fd, got 1");
    }

    #[test]
    fn reply_kinds_are_not_requests_and_request_kinds_not_replies() {
        let frame = Reply::Accepted { generation: 5 }.encode();
        let err = Request::decode(Kind::Accepted as u16, &frame[HEADER_LEN..], Fds::default())
            .unwrap_err();
        assert_eq!(err.to_string(), "ACCEPTED is a reply, not a request");
        let err = Reply::decode(Kind::GetState as u16, &[]).unwrap_err();
        assert_eq!(err.to_string(), "GET_STATE is a request, not a reply");
    }

    #[test]
    fn refusal_with_invalid_utf8_is_refused() {
        let mut payload = 3u64.to_le_bytes().to_vec();
        payload.extend_from_slice(&[0xff, 0xfe]);
        assert!(matches!(
            Reply::decode(Kind::Refused as u16, &payload),
            Err(FrameError::BadPayload {
                reason: PayloadFault::NotUtf8,
                ..
            })
        ));
    }

    #[test]
    fn over_long_refusal_reason_is_cut_to_fit_the_frame() {
        let reason = "é".repeat(MAX_PAYLOAD);
        let frame = Reply::Refused {
            generation: 1,
            reason,
        }
        .encode();
        let header = Header::decode(&header_of(&frame)).unwrap();
        let Reply::Refused { reason, .. } =
            Reply::decode(header.kind, &frame[HEADER_LEN..]).unwrap()
        else {
            panic!("not a refusal");
        };
        assert!(reason.len() <= MAX_PAYLOAD - 8);
        assert!(reason.len() >= MAX_PAYLOAD - 9);
    }

    #[test]
    fn generation_reads_every_reply() {
        assert_eq!(Reply::Accepted { generation: 4 }.generation(), 4);
        let refused = Reply::Refused {
            generation: 5,
            reason: String::new(),
        };
        assert_eq!(refused.generation(), 5);
        let state = Reply::State {
            generation: 6,
            disabled_until_ms: 1,
        };
        assert_eq!(state.generation(), 6);
    }

    #[test]
    fn header_layout_is_little_endian_as_documented() {
        let image = SealedImage::create(b"xy", "test").unwrap();
        let request = Request::Publish {
            generation: 1,
            image,
        };
        let (frame, fd) = request.encode();
        assert!(fd.is_some());
        assert_eq!(
            &frame[..HEADER_LEN],
            b"RALO\x02\x00\x01\x00\x10\x00\x00\x00\x00\x00\x00\x00"
        );
        assert_eq!(&frame[HEADER_LEN..], &publish_payload(1, 2)[..]);
    }
}
