//! The words every part of ralo shares: how a query was answered
//! ([`Outcome`]), which list a rule came from ([`ListId`]), how a message
//! arrived ([`Protocol`]), what the rate limit said ([`Admission`]), and the
//! clock they are stamped with. This module imports nothing of the crate, so
//! every arrow points into it: the resolver decides in these words, and the
//! server, the telemetry and the tools read them.

use std::fmt;

/// Identifies a list within one image: its position in the image's list
/// table, from 0. The name behind it is the image's to tell
/// (`Image::list_name`), so a reason travels as this number, never as text.
pub type ListId = u16;

/// How a query was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A blocklist rule matched (the name, or a CNAME in its answer), or the
    /// name is a canary that tells software the network filters.
    Blocked,
    /// An allow rule beat a block rule (of the name or of a CNAME target);
    /// answered from upstream.
    Allowed,
    /// Answered from the cache.
    Cached,
    /// Answered from an expired cache entry because every upstream failed.
    Stale,
    /// Forwarded upstream and answered from there.
    Forwarded,
    /// A local record or a special-use name answered here.
    Local,
    /// The client is not allowed, over its rate limit, or asked what ralo
    /// does not serve (zone transfers, classes other than IN).
    Refused,
    /// Every upstream failed: SERVFAIL.
    Failed,
}

impl Outcome {
    /// Every outcome, in a fixed order (the telemetry segment's).
    pub const ALL: [Outcome; 8] = [
        Outcome::Blocked,
        Outcome::Allowed,
        Outcome::Cached,
        Outcome::Stale,
        Outcome::Forwarded,
        Outcome::Local,
        Outcome::Refused,
        Outcome::Failed,
    ];

    /// Its index in [`Outcome::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// A short lower-case word for logs and tools.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Blocked => "blocked",
            Outcome::Allowed => "allowed",
            Outcome::Cached => "cached",
            Outcome::Stale => "stale",
            Outcome::Forwarded => "forwarded",
            Outcome::Local => "local",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }

    /// The outcome whose [`Outcome::as_str`] is `text`, in any case.
    pub fn parse(text: &str) -> Option<Outcome> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a message reached the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// A datagram.
    Udp,
    /// A TCP connection.
    Tcp,
}

impl Protocol {
    /// Both, in a fixed order (the telemetry segment's).
    pub const ALL: [Protocol; 2] = [Protocol::Udp, Protocol::Tcp];

    /// Its index in [`Protocol::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// `udp` or `tcp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
        }
    }
}

/// What the rate limit says about one received message, before it is
/// parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Admission {
    /// Parse and answer it.
    Serve,
    /// Answer REFUSED: the client is over its rate limit.
    Refuse,
    /// Send nothing: the client is over its rate limit.
    Drop,
}

/// Now, in ms since the Unix epoch (0 if the clock is before it).
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_indexes_follow_the_fixed_order() {
        for (i, outcome) in Outcome::ALL.into_iter().enumerate() {
            assert_eq!(outcome.index(), i);
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
        }
        assert_eq!(Outcome::parse("BLOCKED"), Some(Outcome::Blocked));
        assert_eq!(Outcome::parse("nope"), None);
    }

    #[test]
    fn protocol_indexes_follow_the_fixed_order() {
        for (i, protocol) in Protocol::ALL.into_iter().enumerate() {
            assert_eq!(protocol.index(), i);
        }
    }
}
