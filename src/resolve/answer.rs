//! What the chain hands the server to send: a response code, the record
//! sections and an optional Extended DNS Error. The server adds the client's
//! ID, question and EDNS.

use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Record;

/// Extended DNS Error info-code "Blocked" (RFC 8914).
pub const EDE_BLOCKED: u16 = 15;
/// Extended DNS Error info-code "Stale Answer" (RFC 8914).
pub const EDE_STALE: u16 = 3;
/// Extended DNS Error info-code "Prohibited" (RFC 8914).
pub const EDE_PROHIBITED: u16 = 18;
/// Extended DNS Error info-code "Not Supported" (RFC 8914), used for
/// "No Reachable Authority" style failures we cannot describe better.
pub const EDE_NO_REACHABLE_AUTHORITY: u16 = 22;

/// The sections of a response.
#[derive(Clone, Debug, Default)]
pub struct Sections {
    /// Answer section.
    pub answers: Vec<Record>,
    /// Authority section.
    pub authorities: Vec<Record>,
    /// Additional section, without OPT.
    pub additionals: Vec<Record>,
}

/// A response, before the client's ID, question and EDNS are added.
#[derive(Clone, Debug)]
pub struct Answer {
    /// Response code.
    pub rcode: ResponseCode,
    /// Record sections, shared with the cache where they came from there.
    pub sections: Arc<Sections>,
    /// Extended DNS Error: info-code and text.
    pub ede: Option<(u16, Arc<str>)>,
    /// Authentic-data flag, passed through from a validating upstream.
    pub authentic_data: bool,
}

impl Answer {
    /// An answer with no records.
    pub fn empty(rcode: ResponseCode) -> Answer {
        Answer {
            rcode,
            sections: Arc::default(),
            ede: None,
            authentic_data: false,
        }
    }

    /// An answer with the given sections.
    pub fn with(rcode: ResponseCode, sections: Sections) -> Answer {
        Answer {
            rcode,
            sections: Arc::new(sections),
            ede: None,
            authentic_data: false,
        }
    }

    /// Adds an Extended DNS Error.
    pub fn ede(mut self, code: u16, text: impl Into<Arc<str>>) -> Answer {
        self.ede = Some((code, text.into()));
        self
    }
}
