//! The frame of the control protocol (`protocol` has the note and the
//! messages): the 16-byte header, the kinds, the fds that came with a frame,
//! what can be wrong with one, and the payload writer and reader.

use std::fmt;
use std::os::fd::OwnedFd;

use crate::exchange;

/// The protocol version this build speaks and sends.
pub const PROTOCOL_VERSION: u16 = 2;

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
        if version == 0 {
            return Err(FrameError::NoSuchVersion);
        }
        if version > PROTOCOL_VERSION {
            return Err(FrameError::NewerVersion { version });
        }
        if version < PROTOCOL_VERSION {
            return Err(FrameError::OlderVersion { version });
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

/// Every kind of frame, by its number on the wire. Numbers 4 and 5 belonged
/// to version 1 and are never used again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub(super) enum Kind {
    Publish = 1,
    Accepted = 2,
    Refused = 3,
    SetBlocking = 6,
    GetState = 7,
    State = 8,
    PauseGroup = 9,
}

impl Kind {
    pub(super) fn from_wire(kind: u16) -> Result<Kind, FrameError> {
        Ok(match kind {
            1 => Kind::Publish,
            2 => Kind::Accepted,
            3 => Kind::Refused,
            6 => Kind::SetBlocking,
            7 => Kind::GetState,
            8 => Kind::State,
            9 => Kind::PauseGroup,
            _ => return Err(FrameError::UnknownKind { kind }),
        })
    }

    /// The name used in the protocol note and in refusal reasons.
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Publish => "PUBLISH",
            Kind::Accepted => "ACCEPTED",
            Kind::Refused => "REFUSED",
            Kind::SetBlocking => "SET_BLOCKING",
            Kind::GetState => "GET_STATE",
            Kind::State => "STATE",
            Kind::PauseGroup => "PAUSE_GROUP",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The fds that came with a frame as `SCM_RIGHTS`.
#[derive(Debug, Default)]
pub(super) struct Fds {
    /// The fds kept, in the order they arrived.
    pub(super) kept: Vec<OwnedFd>,
    /// More arrived than were kept; the rest are closed.
    pub(super) overflow: bool,
}

impl Fds {
    fn count(&self) -> FdCount {
        FdCount {
            kept: self.kept.len(),
            overflow: self.overflow,
        }
    }

    /// The one fd a PUBLISH carries; anything else is refused (and closed).
    pub(super) fn one(mut self, kind: Kind) -> Result<OwnedFd, FrameError> {
        let got = self.count();
        match self.kept.pop() {
            Some(fd) if self.kept.is_empty() && !self.overflow => Ok(fd),
            _ => Err(FrameError::NotOneFd { kind, got }),
        }
    }

    /// Refuses fds on a kind that carries none.
    pub(super) fn none(&self, kind: Kind) -> Result<(), FrameError> {
        if self.kept.is_empty() && !self.overflow {
            Ok(())
        } else {
            Err(FrameError::UnexpectedFds {
                kind,
                got: self.count(),
            })
        }
    }
}

/// How many fds came with a frame, as refusal reasons say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct FdCount {
    kept: usize,
    overflow: bool,
}

impl fmt::Display for FdCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.overflow {
            write!(f, "more than {}", self.kept)
        } else {
            write!(f, "{}", self.kept)
        }
    }
}

/// What is wrong with a frame; its `Display` is the reason sent back in
/// `REFUSED`, so it says what to fix.
#[derive(Debug, thiserror::Error)]
pub(super) enum FrameError {
    #[error(
        "bad magic {found:?}, expected \"RALO\": this socket speaks only the ralo control protocol"
    )]
    BadMagic { found: [u8; 4] },
    #[error(
        "protocol version {version} is newer than this server's {PROTOCOL_VERSION}: upgrade ralo serve"
    )]
    NewerVersion { version: u16 },
    #[error(
        "protocol version {version} is older than this server's {PROTOCOL_VERSION}: run the same ralo version for serve and update"
    )]
    OlderVersion { version: u16 },
    #[error("protocol version 0 does not exist: the peer is not ralo")]
    NoSuchVersion,
    #[error("reserved header field is {value}, must be 0 in protocol {PROTOCOL_VERSION}")]
    Reserved { value: u32 },
    #[error("payload of {len} bytes is over the {MAX_PAYLOAD}-byte limit")]
    TooLong { len: u32 },
    #[error(
        "unknown kind {kind} for protocol {PROTOCOL_VERSION} (this server knows 1, 2, 3, 6, 7 and 8): upgrade ralo serve"
    )]
    UnknownKind { kind: u16 },
    #[error("malformed {kind} payload: {reason}")]
    BadPayload { kind: Kind, reason: PayloadFault },
    #[error("{kind} must carry exactly one fd (SCM_RIGHTS), got {got}")]
    NotOneFd { kind: Kind, got: FdCount },
    #[error("{kind} carries no fd, got {got}")]
    UnexpectedFds { kind: Kind, got: FdCount },
    #[error(transparent)]
    Image(#[from] exchange::Error),
    #[error(
        "PUBLISH says the image is {declared} bytes but the memfd holds {held}: send the fd that goes with the frame"
    )]
    LengthMismatch { declared: u64, held: u64 },
    #[error("{kind} is a reply, not a request")]
    NotARequest { kind: Kind },
    #[error("{kind} is a request, not a reply")]
    NotAReply { kind: Kind },
}

/// What is wrong inside a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum PayloadFault {
    #[error("too short")]
    TooShort,
    #[error("{0} unexpected trailing bytes")]
    Trailing(usize),
    #[error("reason is not UTF-8")]
    NotUtf8,
}

/// Writes a frame: the header, filled in by `finish`, then the payload.
pub(super) struct Writer {
    kind: Kind,
    bytes: Vec<u8>,
}

impl Writer {
    pub(super) fn new(kind: Kind) -> Writer {
        let mut bytes = Vec::with_capacity(HEADER_LEN + 16);
        bytes.extend_from_slice(&[0; HEADER_LEN]);
        Writer { kind, bytes }
    }

    pub(super) fn u64(&mut self, value: u64) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    /// Appends `text`, cut at a character boundary to fit the frame.
    pub(super) fn text(&mut self, text: &str) {
        let room = MAX_PAYLOAD.saturating_sub(self.bytes.len() - HEADER_LEN);
        let mut end = text.len().min(room);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.bytes.extend_from_slice(&text.as_bytes()[..end]);
    }

    pub(super) fn finish(mut self) -> Vec<u8> {
        // Every payload is at most MAX_PAYLOAD (64 KiB) bytes (`text` cuts
        // the only variable part), so the length fits in a u32.
        let len = (self.bytes.len() - HEADER_LEN) as u32;
        self.bytes[..HEADER_LEN].copy_from_slice(&Header::encode(self.kind as u16, len));
        self.bytes
    }
}

/// Reads a payload front to back.
pub(super) struct Reader<'a> {
    pub(super) kind: Kind,
    pub(super) bytes: &'a [u8],
}

impl Reader<'_> {
    pub(super) fn u64(&mut self) -> Result<u64, FrameError> {
        let Some((head, rest)) = self.bytes.split_first_chunk::<8>() else {
            return Err(self.fault(PayloadFault::TooShort));
        };
        self.bytes = rest;
        Ok(u64::from_le_bytes(*head))
    }

    /// The rest of the payload as UTF-8.
    pub(super) fn text(&mut self) -> Result<String, FrameError> {
        let rest = std::mem::take(&mut self.bytes);
        String::from_utf8(rest.to_vec()).map_err(|_| self.fault(PayloadFault::NotUtf8))
    }

    pub(super) fn finish(&self) -> Result<(), FrameError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(self.fault(PayloadFault::Trailing(self.bytes.len())))
        }
    }

    fn fault(&self, reason: PayloadFault) -> FrameError {
        FrameError::BadPayload {
            kind: self.kind,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_with_wrong_magic_is_refused() {
        let mut header = Header::encode(7, 0);
        header[0] = b'X';
        assert!(matches!(
            Header::decode(&header),
            Err(FrameError::BadMagic { .. })
        ));
    }

    #[test]
    fn newer_version_is_refused_telling_to_upgrade_serve() {
        let mut header = Header::encode(7, 0);
        header[4..6].copy_from_slice(&3u16.to_le_bytes());
        let err = Header::decode(&header).unwrap_err();
        assert_eq!(
            err.to_string(),
            "protocol version 3 is newer than this server's 2: upgrade ralo serve"
        );
    }

    #[test]
    fn version_1_is_refused_telling_to_run_one_ralo_version() {
        let mut header = Header::encode(4, 0);
        header[4..6].copy_from_slice(&1u16.to_le_bytes());
        let err = Header::decode(&header).unwrap_err();
        assert_eq!(
            err.to_string(),
            "protocol version 1 is older than this server's 2: run the same ralo version for serve and update"
        );
    }

    #[test]
    fn version_zero_and_nonzero_reserved_are_refused() {
        let mut header = Header::encode(7, 0);
        header[4] = 0;
        assert!(matches!(
            Header::decode(&header),
            Err(FrameError::NoSuchVersion)
        ));
        let mut header = Header::encode(7, 0);
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
}
