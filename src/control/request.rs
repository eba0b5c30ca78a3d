//! `Request` and `Reply`: what the server's handler sees and answers, and what
//! a client gets back. `listener` turns frames into requests and replies into
//! frames; `client` turns reply frames back into `Reply`.

use super::protocol::{Generation, Message, Refusal, State};
use crate::exchange::SealedImage;

/// A request that reached the server's handler. Malformed frames, refused
/// peers and bad fds never get this far: the listener refuses them itself.
#[derive(Debug)]
pub enum Request {
    /// Serve this image from now on. The memfd's seals and size are already
    /// checked; the handler maps it, runs `Image::verify`, and swaps it in.
    Publish {
        /// The sealed image received from the updater.
        image: SealedImage,
        /// The generation the updater says the image has; the handler should
        /// check it against the image header.
        generation: u64,
    },
    /// Which generation is being served? Also asked by the listener itself
    /// when it refuses a request on its own, to fill in the generation, so
    /// answering must be cheap.
    Status,
    /// Switch blocking off until this Unix time in ms (0: on again;
    /// `u64::MAX`: until switched on). Answered with [`Reply::State`].
    SetBlocking {
        /// Off until (Unix ms), or 0 for on.
        disabled_until_ms: u64,
    },
    /// Report the generation and the blocking state ([`Reply::State`]).
    GetState,
}

/// The server's answer to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The published image is now being served.
    Accepted {
        /// Generation now serving.
        generation: u64,
    },
    /// The request was refused; the server keeps serving what it had.
    Refused {
        /// Generation still serving (0 when none is).
        generation: u64,
        /// Why, and what to do about it.
        reason: String,
    },
    /// Answer to a status request.
    Current {
        /// Generation now serving (0 when none is).
        generation: u64,
    },
    /// Answer to a blocking or state request.
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
            | Reply::Current { generation }
            | Reply::State { generation, .. } => *generation,
        }
    }

    pub(super) fn into_message(self) -> Message {
        match self {
            Reply::Accepted { generation } => Message::Accepted(Generation(generation)),
            Reply::Refused { generation, reason } => {
                Message::Refused(Refusal { generation, reason })
            }
            Reply::Current { generation } => Message::Current(Generation(generation)),
            Reply::State {
                generation,
                disabled_until_ms,
            } => Message::State(State {
                generation,
                disabled_until_ms,
            }),
        }
    }

    /// The reply a message stands for, or `None` for a request kind.
    pub(super) fn from_message(message: Message) -> Option<Reply> {
        match message {
            Message::Accepted(Generation(generation)) => Some(Reply::Accepted { generation }),
            Message::Refused(Refusal { generation, reason }) => {
                Some(Reply::Refused { generation, reason })
            }
            Message::Current(Generation(generation)) => Some(Reply::Current { generation }),
            Message::State(State {
                generation,
                disabled_until_ms,
            }) => Some(Reply::State {
                generation,
                disabled_until_ms,
            }),
            Message::Publish(_)
            | Message::Status(_)
            | Message::SetBlocking(_)
            | Message::GetState(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reply_survives_message_conversion() {
        for reply in [
            Reply::Accepted { generation: 3 },
            Reply::Refused {
                generation: 2,
                reason: "bad checksum".into(),
            },
            Reply::Current { generation: 9 },
            Reply::State {
                generation: 4,
                disabled_until_ms: 1_700_000_000_000,
            },
        ] {
            let back = Reply::from_message(reply.clone().into_message());
            assert_eq!(back, Some(reply));
        }
    }

    #[test]
    fn request_kinds_are_not_replies() {
        assert_eq!(
            Reply::from_message(Message::Status(super::super::protocol::Empty)),
            None
        );
    }

    #[test]
    fn generation_reads_every_reply() {
        assert_eq!(Reply::Current { generation: 4 }.generation(), 4);
        let refused = Reply::Refused {
            generation: 5,
            reason: String::new(),
        };
        assert_eq!(refused.generation(), 5);
    }
}
