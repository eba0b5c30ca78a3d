//! The plain query, read straight from its bytes, and the pieces of the
//! answers the fast path writes.
//!
//! [`Query::parse`] accepts only the common shape: a header with nothing
//! but RD (and AD, CD) set, one question in class IN whose name is made of
//! letters, digits, `-` and `_` without compression, and at most an EDNS
//! version 0 OPT record with well-formed options that hickory would not
//! interpret, ending exactly at the end of the packet. Everything else goes
//! the general (hickory) path, which answers it as before.

/// The largest name in wire form (RFC 1035 2.3.4).
const MAX_NAME: usize = 255;
/// The EDNS option code of Extended DNS Errors (RFC 8914).
pub(crate) const EDE_OPTION: u16 = 15;
/// The EDNS payload ralo answers with at most (DNS flag day 2020).
pub(crate) const MAX_PAYLOAD: u16 = 1232;

/// RR type OPT.
const TYPE_OPT: u16 = 41;
/// Header flag bits ralo copies from a query into its response.
const RD: u8 = 0x01;
const AD: u8 = 0x20;
const CD: u8 = 0x10;

/// The client's EDNS record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Edns {
    /// UDP payload size the client accepts.
    pub(crate) payload: u16,
    /// DO bit.
    pub(crate) dnssec_ok: bool,
}

/// A query in the common shape, borrowing the packet.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Query<'a> {
    /// Message ID.
    pub(crate) id: u16,
    /// Recursion desired.
    pub(crate) rd: bool,
    /// Authentic data (a client that understands AD).
    pub(crate) ad: bool,
    /// Checking disabled.
    pub(crate) cd: bool,
    /// The question section as sent: name, type, class.
    pub(crate) question: &'a [u8],
    /// The name in wire form, with its terminating zero.
    pub(crate) name: &'a [u8],
    /// Query type.
    pub(crate) qtype: u16,
    /// EDNS, when the client sent it.
    pub(crate) edns: Option<Edns>,
}

impl<'a> Query<'a> {
    /// `packet` as a common query, or `None` for the general path.
    pub(crate) fn parse(packet: &'a [u8]) -> Option<Query<'a>> {
        let header = packet.get(..12)?;
        // QR=0, opcode QUERY, AA=0, TC=0; RA, Z and RCODE clear.
        if header[2] & !RD != 0 || header[3] & !(AD | CD) != 0 {
            return None;
        }
        let count = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
        let additional = count(10);
        if count(4) != 1 || count(6) != 0 || count(8) != 0 || additional > 1 {
            return None;
        }
        let name_len = name_length(&packet[12..])?;
        let name = &packet[12..12 + name_len];
        let fixed = packet.get(12 + name_len..12 + name_len + 4)?;
        let qtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        if u16::from_be_bytes([fixed[2], fixed[3]]) != 1 {
            return None;
        }
        let end = 12 + name_len + 4;
        let edns = match additional {
            0 if end == packet.len() => None,
            1 => Some(parse_opt(&packet[end..])?),
            _ => return None,
        };
        Some(Query {
            id: u16::from_be_bytes([header[0], header[1]]),
            rd: header[2] & RD != 0,
            ad: header[3] & AD != 0,
            cd: header[3] & CD != 0,
            question: &packet[12..end],
            name,
            qtype,
            edns,
        })
    }

    /// The name's labels, leftmost first, without the root.
    pub(crate) fn labels(&self) -> Labels<'a> {
        Labels {
            rest: &self.name[..self.name.len() - 1],
        }
    }

    /// The name in lower case, dotted, without the trailing dot, written
    /// into `buf`. Parsing allowed only `[A-Za-z0-9_-]` in labels, so this is
    /// the same text the general path files the name under.
    pub(crate) fn lower<'b>(&self, buf: &'b mut [u8; MAX_NAME]) -> &'b str {
        let mut len = 0;
        for (i, label) in self.labels().enumerate() {
            if i > 0 {
                buf[len] = b'.';
                len += 1;
            }
            for (to, from) in buf[len..len + label.len()].iter_mut().zip(label) {
                *to = from.to_ascii_lowercase();
            }
            len += label.len();
        }
        // Only ASCII letters, digits, '-' and '_' were let through: UTF-8.
        std::str::from_utf8(&buf[..len]).unwrap_or("")
    }

    /// Whether the name's bytes are all lower case already.
    pub(crate) fn is_lower(&self) -> bool {
        !self.name.iter().any(u8::is_ascii_uppercase)
    }

    /// The largest response the client takes over UDP.
    pub(crate) fn udp_limit(&self) -> usize {
        self.edns.map_or(512, |e| usize::from(e.payload.max(512)))
    }
}

/// The labels of a validated wire name.
#[derive(Clone, Debug)]
pub(crate) struct Labels<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, tail) = self.rest.split_first()?;
        let (label, rest) = tail.split_at(usize::from(len));
        self.rest = rest;
        Some(label)
    }
}

impl DoubleEndedIterator for Labels<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        // Walk from the front to the last label; names are short.
        let mut at = 0;
        let mut last = None;
        while at < self.rest.len() {
            last = Some(at);
            at += 1 + usize::from(self.rest[at]);
        }
        let start = last?;
        let label = &self.rest[start + 1..];
        self.rest = &self.rest[..start];
        Some(label)
    }
}

/// The length of an uncompressed name of at least one label made of
/// `[A-Za-z0-9_-]`, at most 255 bytes, or `None`.
fn name_length(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let len = usize::from(*bytes.get(at)?);
        if len == 0 {
            // The root alone goes the general path.
            return (at > 0).then_some(at + 1);
        }
        if len > 63 || at + 1 + len + 1 > MAX_NAME {
            return None;
        }
        let label = bytes.get(at + 1..at + 1 + len)?;
        if !label
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        at += 1 + len;
    }
}

/// An OPT record that is the whole rest of the packet.
fn parse_opt(bytes: &[u8]) -> Option<Edns> {
    let fixed = bytes.get(..11)?;
    // Root owner, type OPT, extended RCODE 0, version 0.
    if fixed[0] != 0 || u16::from_be_bytes([fixed[1], fixed[2]]) != TYPE_OPT {
        return None;
    }
    if fixed[5] != 0 || fixed[6] != 0 {
        return None;
    }
    let payload = u16::from_be_bytes([fixed[3], fixed[4]]);
    let dnssec_ok = fixed[7] & 0x80 != 0;
    let rdlen = usize::from(u16::from_be_bytes([fixed[9], fixed[10]]));
    let mut options = &bytes[11..];
    if options.len() != rdlen {
        return None;
    }
    while !options.is_empty() {
        let head = options.get(..4)?;
        let code = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        // hickory reads NSID, DAU/DHU/N3U and Client Subnet into types of
        // their own and may refuse them; the general path decides those.
        if matches!(code, 3 | 5..=8) {
            return None;
        }
        options = options.get(4 + len..)?;
    }
    Some(Edns { payload, dnssec_ok })
}

/// Writes responses into a buffer the caller keeps between packets.
#[derive(Debug)]
pub(crate) struct Writer<'b> {
    out: &'b mut Vec<u8>,
}

/// Response header fields.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Head {
    pub(crate) rcode: u8,
    pub(crate) authentic_data: bool,
    pub(crate) answers: u16,
    pub(crate) authorities: u16,
    pub(crate) additionals: u16,
}

impl<'b> Writer<'b> {
    /// Starts a response to `query` in `out` (cleared): header and the
    /// question as the client sent it. Counts and flags come from `head`;
    /// one more additional record is counted for the OPT when the client
    /// sent EDNS.
    pub(crate) fn start(out: &'b mut Vec<u8>, query: &Query<'_>, head: Head) -> Writer<'b> {
        out.clear();
        let mut flags = [0x80u8, 0x80];
        if query.rd {
            flags[0] |= RD;
        }
        if head.authentic_data {
            flags[1] |= AD;
        }
        if query.cd {
            flags[1] |= CD;
        }
        flags[1] |= head.rcode & 0x0f;
        let opt = u16::from(query.edns.is_some());
        out.extend_from_slice(&query.id.to_be_bytes());
        out.extend_from_slice(&flags);
        for count in [1, head.answers, head.authorities, head.additionals + opt] {
            out.extend_from_slice(&count.to_be_bytes());
        }
        out.extend_from_slice(query.question);
        Writer { out }
    }

    /// Goes on writing a response started earlier in `out`.
    pub(crate) fn resume(out: &'b mut Vec<u8>) -> Writer<'b> {
        Writer { out }
    }

    /// Appends raw bytes.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.out.extend_from_slice(bytes);
        self
    }

    /// Appends a record owned by `owner` (a wire name, written out as
    /// given), with the given type, TTL and data.
    pub(crate) fn record(
        &mut self,
        owner: &[u8],
        rtype: u16,
        ttl: u32,
        data: &[&[u8]],
    ) -> &mut Self {
        let len: usize = data.iter().map(|d| d.len()).sum();
        self.out.extend_from_slice(owner);
        self.out.extend_from_slice(&rtype.to_be_bytes());
        self.out.extend_from_slice(&1u16.to_be_bytes());
        self.out.extend_from_slice(&ttl.to_be_bytes());
        // Record data here is at most a few hundred bytes.
        self.out
            .extend_from_slice(&u16::try_from(len).unwrap_or(0).to_be_bytes());
        for d in data {
            self.out.extend_from_slice(d);
        }
        self
    }

    /// Appends the OPT record ralo answers with, when the client sent EDNS:
    /// payload clamped to 512..=1232, the client's DO bit, and an Extended
    /// DNS Error `code` with text made of `text` parts, if given.
    pub(crate) fn opt(&mut self, query: &Query<'_>, ede: Option<(u16, &[&[u8]])>) -> &mut Self {
        let Some(edns) = query.edns else { return self };
        let payload = edns.payload.clamp(512, MAX_PAYLOAD);
        self.out.push(0);
        self.out.extend_from_slice(&TYPE_OPT.to_be_bytes());
        self.out.extend_from_slice(&payload.to_be_bytes());
        let flags: u8 = if edns.dnssec_ok { 0x80 } else { 0 };
        self.out.extend_from_slice(&[0, 0, flags, 0]);
        match ede {
            None => self.out.extend_from_slice(&[0, 0]),
            Some((code, text)) => {
                let text_len: usize = text.iter().map(|t| t.len()).sum();
                let option_len = u16::try_from(2 + text_len).unwrap_or(0);
                self.out.extend_from_slice(&(option_len + 4).to_be_bytes());
                self.out.extend_from_slice(&EDE_OPTION.to_be_bytes());
                self.out.extend_from_slice(&option_len.to_be_bytes());
                self.out.extend_from_slice(&code.to_be_bytes());
                for t in text {
                    self.out.extend_from_slice(t);
                }
            }
        }
        self
    }

    /// The response's length so far.
    pub(crate) fn len(&self) -> usize {
        self.out.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &[u8], qtype: u16, opt: &[u8]) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0];
        p.push(u8::from(!opt.is_empty()));
        p.extend_from_slice(name);
        p.extend_from_slice(&qtype.to_be_bytes());
        p.extend_from_slice(&[0, 1]);
        p.extend_from_slice(opt);
        p
    }

    const NAME: &[u8] = b"\x03Ads\x07example\x03com\x00";

    #[test]
    fn plain_query_is_read() {
        let p = query(NAME, 1, &[]);
        let q = Query::parse(&p).unwrap();
        assert_eq!(q.id, 0x1234);
        assert!(q.rd && !q.cd && !q.ad);
        assert_eq!(q.qtype, 1);
        assert_eq!(q.name, NAME);
        assert_eq!(q.edns, None);
        let mut buf = [0; MAX_NAME];
        assert_eq!(q.lower(&mut buf), "ads.example.com");
        let labels: Vec<&[u8]> = q.labels().collect();
        assert_eq!(labels, [&b"Ads"[..], b"example", b"com"]);
        let back: Vec<&[u8]> = q.labels().rev().collect();
        assert_eq!(back, [&b"com"[..], b"example", b"Ads"]);
        assert!(!q.is_lower());
    }

    #[test]
    fn edns_with_a_cookie_is_read() {
        let opt = [
            0, 0, 41, 4, 208, 0, 0, 0x80, 0, 0, 12, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8,
        ];
        let p = query(NAME, 28, &opt);
        let q = Query::parse(&p).unwrap();
        assert_eq!(
            q.edns,
            Some(Edns {
                payload: 1232,
                dnssec_ok: true
            })
        );
    }

    #[test]
    fn unusual_queries_take_the_general_path() {
        let ok = query(NAME, 1, &[]);
        let mut cases: Vec<Vec<u8>> = Vec::new();
        let mut qr = ok.clone();
        qr[2] |= 0x80;
        cases.push(qr);
        let mut opcode = ok.clone();
        opcode[2] |= 0x28;
        cases.push(opcode);
        let mut two = ok.clone();
        two[5] = 2;
        cases.push(two);
        let mut trailing = ok.clone();
        trailing.push(0);
        cases.push(trailing);
        cases.push(query(b"\x03a.b\x00", 1, &[]));
        cases.push(query(b"\xc0\x0c", 1, &[]));
        cases.push(query(b"\x00", 2, &[]));
        let mut chaos = ok.clone();
        let len = chaos.len();
        chaos[len - 1] = 3;
        cases.push(chaos);
        // EDNS version 1, and a Client Subnet option.
        cases.push(query(NAME, 1, &[0, 0, 41, 4, 208, 0, 1, 0, 0, 0, 0]));
        cases.push(query(
            NAME,
            1,
            &[0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 4, 0, 8, 0, 0],
        ));
        // Option length past the end.
        cases.push(query(
            NAME,
            1,
            &[0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 4, 0, 10, 0, 9],
        ));
        cases.push(ok[..11].to_vec());
        for (i, case) in cases.iter().enumerate() {
            assert!(Query::parse(case).is_none(), "case {i} was accepted");
        }
    }

    #[test]
    fn long_names_take_the_general_path() {
        let mut name = Vec::new();
        for _ in 0..5 {
            name.push(60);
            name.extend_from_slice(&[b'a'; 60]);
        }
        name.push(0);
        assert!(Query::parse(&query(&name, 1, &[])).is_none());
        let mut label = vec![64];
        label.extend_from_slice(&[b'a'; 64]);
        label.push(0);
        assert!(Query::parse(&query(&label, 1, &[])).is_none());
    }
}
