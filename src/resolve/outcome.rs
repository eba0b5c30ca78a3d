//! The one enum that says how a query was answered. The answer, the counters,
//! the query log and the Extended DNS Error text all take it from here.

use std::fmt;

/// How a query was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A blocklist rule matched (the name, or a CNAME in its answer).
    Blocked,
    /// A blocklist rule matched but an allow rule overrode it; forwarded.
    Allowed,
    /// Answered from the cache.
    Cached,
    /// Answered from an expired cache entry because every upstream failed.
    Stale,
    /// Forwarded upstream and answered from there.
    Forwarded,
    /// A local record or a special-use name answered here.
    Local,
    /// The client is not allowed, or the question is one ralo refuses.
    Refused,
    /// Every upstream failed: SERVFAIL.
    Failed,
}

impl Outcome {
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
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
