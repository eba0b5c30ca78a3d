//! The control protocol's frames as bytes: the 16-byte header, the kinds, and
//! one payload struct per kind. Pure encoding and decoding, no I/O: `socket`
//! moves frames and fds over the socket, `listener` and `client` decide what
//! to send.
//!
//! # Protocol note, version 1
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
//! | 4      | 2    | protocol version, `1`                   |
//! | 6      | 2    | kind                                    |
//! | 8      | 4    | payload length, at most 65 536          |
//! | 12     | 4    | reserved, `0`                           |
//!
//! | kind | name     | direction | payload                                    |
//! |------|----------|-----------|--------------------------------------------|
//! | 1    | PUBLISH  | request   | u64 generation, u64 image length; exactly one fd (`SCM_RIGHTS`) |
//! | 2    | ACCEPTED | reply     | u64 generation now serving                 |
//! | 3    | REFUSED  | reply     | u64 generation still serving, UTF-8 reason |
//! | 4    | STATUS   | request   | none                                       |
//! | 5    | CURRENT  | reply     | u64 generation now serving                 |
//! | 6    | SET_BLOCKING | request | u64 blocking off until (Unix ms; 0 on, `u64::MAX` until switched on) |
//! | 7    | GET_STATE | request  | none                                       |
//! | 8    | STATE    | reply     | u64 generation now serving, u64 blocking off until (0: on) |
//!
//! Anything the server cannot take (bad magic, a version newer than its own,
//! an unknown kind, an oversize or malformed payload, a wrong number of fds, an
//! fd that is not a fully sealed memfd, a peer that says nothing for 2 s or
//! hangs up mid-frame) gets a `REFUSED` reply whose reason says what to fix,
//! when the peer can still read it, and is logged; the server keeps serving.
//! A reply is always sent with the server's own version.
//!
//! Adding a kind (say "disable blocking for 5 minutes") is one `Kind` variant
//! with its number, one payload struct implementing `Payload`, and one
//! `Message` variant; old servers refuse it as an unknown kind. Changing the
//! meaning or layout of an existing kind bumps the version.

use std::fmt;

/// The protocol version this build speaks and sends.
pub const PROTOCOL_VERSION: u16 = 1;

/// Largest payload a frame may declare, in bytes.
pub const MAX_PAYLOAD: usize = 64 * 1024;

/// First four bytes of every frame.
pub(super) const MAGIC: [u8; 4] = *b"RALO";

/// Size of the fixed frame header.
pub(super) const HEADER_LEN: usize = 16;

/// A frame header as read from the wire, already checked for magic, version,
/// reserved field and payload length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Header {
    pub(super) kind: u16,
    pub(super) len: u32,
}

impl Header {
    /// The header for `kind` with a `len`-byte payload, at our version.
    pub(super) fn encode(kind: u16, len: u32) -> [u8; HEADER_LEN] {
        let mut out = [0; HEADER_LEN];
        out[0..4].copy_from_slice(&MAGIC);
        out[4..6].copy_from_slice(&PROTOCOL_VERSION.to_le_bytes());
        out[6..8].copy_from_slice(&kind.to_le_bytes());
        out[8..12].copy_from_slice(&len.to_le_bytes());
        // 12..16: reserved, zero.
        out
    }

    /// Checks everything that can be judged before reading the payload.
    pub(super) fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Header, FrameError> {
        let [
            m0,
            m1,
            m2,
            m3,
            v0,
            v1,
            k0,
            k1,
            l0,
            l1,
            l2,
            l3,
            r0,
            r1,
            r2,
            r3,
        ] = *bytes;
        let magic = [m0, m1, m2, m3];
        if magic != MAGIC {
            return Err(FrameError::BadMagic { found: magic });
        }
        let version = u16::from_le_bytes([v0, v1]);
        if version > PROTOCOL_VERSION {
            return Err(FrameError::NewerVersion { version });
        }
        if version == 0 {
            return Err(FrameError::NoSuchVersion);
        }
        let reserved = u32::from_le_bytes([r0, r1, r2, r3]);
        if reserved != 0 {
            return Err(FrameError::Reserved { value: reserved });
        }
        let len = u32::from_le_bytes([l0, l1, l2, l3]);
        if len as usize > MAX_PAYLOAD {
            return Err(FrameError::TooLong { len });
        }
        Ok(Header {
            kind: u16::from_le_bytes([k0, k1]),
            len,
        })
    }
}

/// Every kind of frame. Adding one: a variant here with its number (never
/// reuse a number), a payload struct implementing [`Payload`], and a variant
/// of [`Message`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub(super) enum Kind {
    Publish = 1,
    Accepted = 2,
    Refused = 3,
    Status = 4,
    Current = 5,
    SetBlocking = 6,
    GetState = 7,
    State = 8,
}

impl Kind {
    fn from_wire(kind: u16) -> Option<Kind> {
        Some(match kind {
            1 => Kind::Publish,
            2 => Kind::Accepted,
            3 => Kind::Refused,
            4 => Kind::Status,
            5 => Kind::Current,
            6 => Kind::SetBlocking,
            7 => Kind::GetState,
            8 => Kind::State,
            _ => return None,
        })
    }

    /// The name used in the protocol note and in refusal reasons.
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Publish => "PUBLISH",
            Kind::Accepted => "ACCEPTED",
            Kind::Refused => "REFUSED",
            Kind::Status => "STATUS",
            Kind::Current => "CURRENT",
            Kind::SetBlocking => "SET_BLOCKING",
            Kind::GetState => "GET_STATE",
            Kind::State => "STATE",
        }
    }
}

/// What is wrong with a frame; its `Display` is the reason sent back in
/// `REFUSED`, so it says what to fix.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum FrameError {
    #[error(
        "bad magic {found:?}, expected \"RALO\": this socket speaks only the ralo control protocol"
    )]
    BadMagic { found: [u8; 4] },
    #[error(
        "protocol version {version} is newer than this server's {PROTOCOL_VERSION}: upgrade ralo serve"
    )]
    NewerVersion { version: u16 },
    #[error("protocol version 0 does not exist: the peer is not ralo")]
    NoSuchVersion,
    #[error("reserved header field is {value}, must be 0 in protocol {PROTOCOL_VERSION}")]
    Reserved { value: u32 },
    #[error("payload of {len} bytes is over the {MAX_PAYLOAD}-byte limit")]
    TooLong { len: u32 },
    #[error(
        "unknown kind {kind} for protocol {PROTOCOL_VERSION} (this server knows 1 to 8): upgrade ralo serve"
    )]
    UnknownKind { kind: u16 },
    #[error("malformed {kind} payload: {reason}")]
    BadPayload { kind: &'static str, reason: String },
}

/// The body of one kind of frame.
pub(super) trait Payload: Sized {
    /// Appends the payload bytes.
    fn encode(&self, out: &mut Vec<u8>);
    /// Reads the payload; `Reader::finish` then refuses leftover bytes.
    fn decode(reader: &mut Reader<'_>) -> Result<Self, FrameError>;
}

/// PUBLISH: "serve this image"; the memfd travels beside it as `SCM_RIGHTS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Publish {
    pub(super) generation: u64,
    /// Size of the memfd, so the server can tell a mixed-up fd.
    pub(super) len: u64,
}

impl Payload for Publish {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.generation.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
    }
    fn decode(reader: &mut Reader<'_>) -> Result<Self, FrameError> {
        Ok(Publish {
            generation: reader.u64()?,
            len: reader.u64()?,
        })
    }
}

/// ACCEPTED and CURRENT: the generation being served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Generation(pub(super) u64);

impl Payload for Generation {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_le_bytes());
    }
    fn decode(reader: &mut Reader<'_>) -> Result<Self, FrameError> {
        Ok(Generation(reader.u64()?))
    }
}

/// REFUSED: the generation still serving and why the request was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(super) generation: u64,
    pub(super) reason: String,
}

impl Payload for Refusal {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.generation.to_le_bytes());
        // Cut an over-long reason at a character boundary to fit the frame.
        let mut end = self.reason.len().min(MAX_PAYLOAD - 8);
        while !self.reason.is_char_boundary(end) {
            end -= 1;
        }
        out.extend_from_slice(&self.reason.as_bytes()[..end]);
    }
    fn decode(reader: &mut Reader<'_>) -> Result<Self, FrameError> {
        let generation = reader.u64()?;
        let reason = String::from_utf8(reader.rest().to_vec())
            .map_err(|_| reader.error("reason is not UTF-8"))?;
        Ok(Refusal { generation, reason })
    }
}

/// SET_BLOCKING: blocking is off until this Unix time in milliseconds
/// (0: on again; `u64::MAX`: off until switched on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Blocking(pub(super) u64);

impl Payload for Blocking {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_le_bytes());
    }
    fn decode(reader: &mut Reader<'_>) -> Result<Self, FrameError> {
        Ok(Blocking(reader.u64()?))
    }
}

/// STATE: the generation serving and blocking's disabled-until time
/// (Unix ms; 0 when blocking is on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct State {
    pub(super) generation: u64,
    pub(super) disabled_until_ms: u64,
}

impl Payload for State {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.generation.to_le_bytes());
        out.extend_from_slice(&self.disabled_until_ms.to_le_bytes());
    }
    fn decode(reader: &mut Reader<'_>) -> Result<Self, FrameError> {
        Ok(State {
            generation: reader.u64()?,
            disabled_until_ms: reader.u64()?,
        })
    }
}

/// STATUS and GET_STATE: no payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Empty;

impl Payload for Empty {
    fn encode(&self, _out: &mut Vec<u8>) {}
    fn decode(_reader: &mut Reader<'_>) -> Result<Self, FrameError> {
        Ok(Empty)
    }
}

/// One decoded frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Message {
    Publish(Publish),
    Accepted(Generation),
    Refused(Refusal),
    Status(Empty),
    Current(Generation),
    SetBlocking(Blocking),
    GetState(Empty),
    State(State),
}

impl Message {
    pub(super) fn kind(&self) -> Kind {
        match self {
            Message::Publish(_) => Kind::Publish,
            Message::Accepted(_) => Kind::Accepted,
            Message::Refused(_) => Kind::Refused,
            Message::Status(_) => Kind::Status,
            Message::Current(_) => Kind::Current,
            Message::SetBlocking(_) => Kind::SetBlocking,
            Message::GetState(_) => Kind::GetState,
            Message::State(_) => Kind::State,
        }
    }

    /// The whole frame: header and payload.
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + 32);
        out.extend_from_slice(&[0; HEADER_LEN]);
        match self {
            Message::Publish(p) => p.encode(&mut out),
            Message::Accepted(p) | Message::Current(p) => p.encode(&mut out),
            Message::Refused(p) => p.encode(&mut out),
            Message::Status(p) | Message::GetState(p) => p.encode(&mut out),
            Message::SetBlocking(p) => p.encode(&mut out),
            Message::State(p) => p.encode(&mut out),
        }
        // Every payload above is at most MAX_PAYLOAD (64 KiB) bytes, so the
        // length fits in a u32.
        let len = (out.len() - HEADER_LEN) as u32;
        out[..HEADER_LEN].copy_from_slice(&Header::encode(self.kind() as u16, len));
        out
    }

    /// Decodes the payload of a frame whose header passed [`Header::decode`].
    pub(super) fn decode(kind: u16, payload: &[u8]) -> Result<Message, FrameError> {
        let kind = Kind::from_wire(kind).ok_or(FrameError::UnknownKind { kind })?;
        let mut reader = Reader {
            kind,
            bytes: payload,
        };
        let message = match kind {
            Kind::Publish => Message::Publish(Payload::decode(&mut reader)?),
            Kind::Accepted => Message::Accepted(Payload::decode(&mut reader)?),
            Kind::Refused => Message::Refused(Payload::decode(&mut reader)?),
            Kind::Status => Message::Status(Payload::decode(&mut reader)?),
            Kind::Current => Message::Current(Payload::decode(&mut reader)?),
            Kind::SetBlocking => Message::SetBlocking(Payload::decode(&mut reader)?),
            Kind::GetState => Message::GetState(Payload::decode(&mut reader)?),
            Kind::State => Message::State(Payload::decode(&mut reader)?),
        };
        reader.finish()?;
        Ok(message)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Reads a payload front to back.
pub(super) struct Reader<'a> {
    kind: Kind,
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn u64(&mut self) -> Result<u64, FrameError> {
        let Some((head, rest)) = self.bytes.split_first_chunk::<8>() else {
            return Err(self.error("too short"));
        };
        self.bytes = rest;
        Ok(u64::from_le_bytes(*head))
    }

    fn rest(&mut self) -> &[u8] {
        std::mem::take(&mut self.bytes)
    }

    fn finish(&self) -> Result<(), FrameError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(self.error(&format!("{} unexpected trailing bytes", self.bytes.len())))
        }
    }

    fn error(&self, reason: &str) -> FrameError {
        FrameError::BadPayload {
            kind: self.kind.name(),
            reason: reason.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_of(frame: &[u8]) -> [u8; HEADER_LEN] {
        frame[..HEADER_LEN].try_into().unwrap()
    }

    fn round_trip(message: Message) {
        let frame = message.encode();
        let header = Header::decode(&header_of(&frame)).unwrap();
        assert_eq!(header.len as usize, frame.len() - HEADER_LEN);
        assert_eq!(
            Message::decode(header.kind, &frame[HEADER_LEN..]).unwrap(),
            message
        );
    }

    #[test]
    fn every_kind_round_trips() {
        round_trip(Message::Publish(Publish {
            generation: 7,
            len: 4096,
        }));
        round_trip(Message::Accepted(Generation(7)));
        round_trip(Message::Refused(Refusal {
            generation: 6,
            reason: "checksum mismatch: rebuild with ralo update".into(),
        }));
        round_trip(Message::Status(Empty));
        round_trip(Message::Current(Generation(u64::MAX)));
    }

    #[test]
    fn header_layout_is_little_endian_as_documented() {
        let frame = Message::Publish(Publish {
            generation: 1,
            len: 2,
        })
        .encode();
        assert_eq!(
            &frame[..HEADER_LEN],
            b"RALO\x01\x00\x01\x00\x10\x00\x00\x00\x00\x00\x00\x00"
        );
        assert_eq!(&frame[HEADER_LEN..HEADER_LEN + 8], &1u64.to_le_bytes());
    }

    #[test]
    fn header_with_wrong_magic_is_refused() {
        let mut header = Header::encode(4, 0);
        header[0] = b'X';
        assert!(matches!(
            Header::decode(&header),
            Err(FrameError::BadMagic { .. })
        ));
    }

    #[test]
    fn newer_version_is_refused_telling_to_upgrade_serve() {
        let mut header = Header::encode(4, 0);
        header[4..6].copy_from_slice(&2u16.to_le_bytes());
        let err = Header::decode(&header).unwrap_err();
        assert_eq!(
            err.to_string(),
            "protocol version 2 is newer than this server's 1: upgrade ralo serve"
        );
    }

    #[test]
    fn version_zero_and_nonzero_reserved_are_refused() {
        let mut header = Header::encode(4, 0);
        header[4] = 0;
        assert_eq!(Header::decode(&header), Err(FrameError::NoSuchVersion));
        let mut header = Header::encode(4, 0);
        header[15] = 1;
        assert!(matches!(
            Header::decode(&header),
            Err(FrameError::Reserved { .. })
        ));
    }

    #[test]
    fn payload_length_over_limit_is_refused_before_reading_it() {
        let header = Header::encode(1, MAX_PAYLOAD as u32 + 1);
        assert!(matches!(
            Header::decode(&header),
            Err(FrameError::TooLong { .. })
        ));
        let header = Header::encode(1, MAX_PAYLOAD as u32);
        assert!(Header::decode(&header).is_ok());
    }

    #[test]
    fn unknown_kind_is_refused_by_number() {
        let err = Message::decode(99, &[]).unwrap_err();
        assert_eq!(err, FrameError::UnknownKind { kind: 99 });
        assert!(err.to_string().contains("unknown kind 99"));
    }

    #[test]
    fn short_or_long_payloads_are_refused() {
        assert!(matches!(
            Message::decode(Kind::Publish as u16, &[0; 15]),
            Err(FrameError::BadPayload {
                kind: "PUBLISH",
                ..
            })
        ));
        assert!(matches!(
            Message::decode(Kind::Publish as u16, &[0; 17]),
            Err(FrameError::BadPayload { .. })
        ));
        assert!(matches!(
            Message::decode(Kind::Status as u16, &[0]),
            Err(FrameError::BadPayload { kind: "STATUS", .. })
        ));
    }

    #[test]
    fn refusal_with_invalid_utf8_is_refused() {
        let mut payload = 3u64.to_le_bytes().to_vec();
        payload.extend_from_slice(&[0xff, 0xfe]);
        assert!(Message::decode(Kind::Refused as u16, &payload).is_err());
    }

    #[test]
    fn over_long_refusal_reason_is_cut_to_fit_the_frame() {
        let reason = "é".repeat(MAX_PAYLOAD);
        let frame = Message::Refused(Refusal {
            generation: 1,
            reason,
        })
        .encode();
        let header = Header::decode(&header_of(&frame)).unwrap();
        let Message::Refused(refusal) = Message::decode(header.kind, &frame[HEADER_LEN..]).unwrap()
        else {
            panic!("not a refusal");
        };
        assert!(refusal.reason.len() <= MAX_PAYLOAD - 8);
    }
}
