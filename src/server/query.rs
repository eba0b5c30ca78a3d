//! Reading a query. [`Query::parse`] reads the common shape straight from
//! the packet's bytes; everything else goes through hickory ([`read_odd`]),
//! which either gives the same [`Query`] view — the name written out in
//! full, the case as sent — or the error response itself.
//!
//! The common shape: a header with nothing but RD (and AD, CD) set, one
//! question whose name has no compression pointers, no answer or authority
//! records, and at most an EDNS version 0 OPT record with well-formed
//! options, ending exactly at the end of the packet.
//!
//! Through hickory: fewer than 12 bytes, and responses (QR=1, even
//! malformed ones, so no reflection loops), are dropped; a message whose
//! header reads but whose rest does not gets FORMERR; opcodes other than
//! QUERY get NOTIMP, a message without exactly one question FORMERR, EDNS
//! versions above 0 BADVERS — each with the question echoed as the client
//! wrote it, written out in full when it used compression pointers (they
//! point into the query and may land elsewhere in the response).

use std::net::SocketAddr;

use hickory_proto::op::{Edns as HickoryEdns, Header, HeaderCounts, MessageType, Metadata};
use hickory_proto::op::{OpCode, ResponseCode};
use hickory_proto::serialize::binary::{
    BinDecodable, BinDecoder, BinEncodable, BinEncoder, NameEncoding,
};
use hickory_server::net::xfer::Protocol as HickoryProtocol;
use hickory_server::server::Request;
use hickory_server::zone_handler::{MessageResponseBuilder, Queries};

use super::render::MAX_PAYLOAD;
use crate::domain::wire;

/// RR type OPT.
const TYPE_OPT: u16 = 41;
/// Header flag bits ralo reads from a query.
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

/// One question, as the answer is written from it.
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
    /// The name as sent, in wire form, with its terminating zero.
    pub(crate) name: &'a [u8],
    /// Query type.
    pub(crate) qtype: u16,
    /// Query class.
    pub(crate) qclass: u16,
    /// EDNS, when the client sent it.
    pub(crate) edns: Option<Edns>,
}

impl<'a> Query<'a> {
    /// `packet` as a query of the common shape, or `None` for hickory.
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
        let name_len = wire::name_len(&packet[12..])?;
        let name = &packet[12..12 + name_len];
        let fixed = packet.get(12 + name_len..12 + name_len + 4)?;
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
            name,
            qtype: u16::from_be_bytes([fixed[0], fixed[1]]),
            qclass: u16::from_be_bytes([fixed[2], fixed[3]]),
            edns,
        })
    }

    /// The largest response the client takes over UDP: its payload size,
    /// 512 to 1232 (DNS flag day 2020), or 512 without EDNS.
    pub(crate) fn udp_limit(&self) -> usize {
        self.edns
            .map_or(512, |e| usize::from(e.payload.clamp(512, MAX_PAYLOAD)))
    }
}

/// An OPT record that is the whole rest of the packet: version 0,
/// extended RCODE 0, options that are well-formed TLVs.
fn parse_opt(bytes: &[u8]) -> Option<Edns> {
    let fixed = bytes.get(..11)?;
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
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        options = options.get(4 + len..)?;
    }
    Some(Edns { payload, dnssec_ok })
}

/// A query hickory read, with its name written out in full.
#[derive(Clone, Debug)]
pub(crate) struct OddQuery {
    id: u16,
    rd: bool,
    ad: bool,
    cd: bool,
    name: Vec<u8>,
    qtype: u16,
    qclass: u16,
    edns: Option<Edns>,
}

impl OddQuery {
    /// The query view the answer is written from.
    pub(crate) fn view(&self) -> Query<'_> {
        Query {
            id: self.id,
            rd: self.rd,
            ad: self.ad,
            cd: self.cd,
            name: &self.name,
            qtype: self.qtype,
            qclass: self.qclass,
            edns: self.edns,
        }
    }
}

/// What reading a message through hickory gave.
#[derive(Debug)]
pub(crate) enum Odd {
    /// Nothing is sent.
    Drop,
    /// This error response is sent.
    Error(Vec<u8>),
    /// A question to decide.
    Query(OddQuery),
}

/// Reads `packet`, which [`Query::parse`] did not take, with hickory.
pub(crate) fn read_odd(packet: &[u8], src: SocketAddr, udp: bool) -> Odd {
    let Some(head) = packet.get(..12) else {
        return Odd::Drop;
    };
    if head[2] & 0x80 != 0 {
        return Odd::Drop;
    }
    let Ok(header) = Header::read(&mut BinDecoder::new(head)) else {
        return Odd::Drop;
    };
    let protocol = if udp {
        HickoryProtocol::Udp
    } else {
        HickoryProtocol::Tcp
    };
    let request = match Request::from_bytes(packet.to_vec(), src, protocol) {
        Ok(request) => request,
        Err(_) => {
            let Ok(queries) = Queries::read(&mut BinDecoder::new(&[]), 0) else {
                return Odd::Drop;
            };
            let response = MessageResponseBuilder::new(&queries, None)
                .error_msg(&header.metadata, ResponseCode::FormErr);
            return Odd::Error(encode(response, udp));
        }
    };
    let meta = &request.metadata;
    if meta.op_code != OpCode::Query {
        return Odd::Error(error(&request, ResponseCode::NotImp, udp));
    }
    if request.edns.as_ref().is_some_and(|edns| edns.version() > 0) {
        return Odd::Error(error(&request, ResponseCode::BADVERS, udp));
    }
    let [query] = request.queries.queries() else {
        return Odd::Error(error(&request, ResponseCode::FormErr, udp));
    };
    let query = query.original();
    let mut name = Vec::with_capacity(wire::MAX_WIRE);
    let mut encoder = BinEncoder::new(&mut name);
    encoder.set_name_encoding(NameEncoding::Uncompressed);
    if query.name().emit(&mut encoder).is_err() || wire::name_len(&name) != Some(name.len()) {
        return Odd::Error(error(&request, ResponseCode::FormErr, udp));
    }
    Odd::Query(OddQuery {
        id: meta.id,
        rd: meta.recursion_desired,
        ad: meta.authentic_data,
        cd: meta.checking_disabled,
        name,
        qtype: u16::from(query.query_type()),
        qclass: u16::from(query.query_class()),
        edns: request.edns.as_ref().map(|edns| Edns {
            payload: edns.max_payload(),
            dnssec_ok: edns.flags().dnssec_ok,
        }),
    })
}

/// The error response `rcode` to `request`: no records, the questions
/// echoed, EDNS when the client sent it.
fn error(request: &Request, rcode: ResponseCode, udp: bool) -> Vec<u8> {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.recursion_available = true;
    metadata.response_code = rcode;
    let edns = request.edns.as_ref().map(|client| {
        let mut edns = HickoryEdns::new();
        edns.set_max_payload(client.max_payload().clamp(512, MAX_PAYLOAD));
        edns.set_dnssec_ok(client.flags().dnssec_ok);
        edns
    });
    let rebuilt = uncompressed_question(&request.queries);
    let queries = rebuilt.as_ref().unwrap_or(&request.queries);
    let mut builder = MessageResponseBuilder::new(queries, None);
    if let Some(edns) = &edns {
        builder.edns(edns);
    }
    encode(builder.build_no_records(metadata), udp)
}

/// Encodes `response` as hickory-server does: at most the client's UDP
/// size, and a bare SERVFAIL header (with the query's ID and opcode) when
/// it cannot be encoded.
fn encode<'a>(
    response: hickory_server::zone_handler::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a hickory_proto::rr::Record> + Send + 'a,
        impl Iterator<Item = &'a hickory_proto::rr::Record> + Send + 'a,
        impl Iterator<Item = &'a hickory_proto::rr::Record> + Send + 'a,
        impl Iterator<Item = &'a hickory_proto::rr::Record> + Send + 'a,
    >,
    udp: bool,
) -> Vec<u8> {
    let (id, op_code) = (response.metadata().id, response.metadata().op_code);
    let max_size = match (udp, response.edns()) {
        (true, Some(edns)) => edns.max_payload(),
        (true, None) => 512,
        (false, _) => u16::MAX,
    };
    let mut bytes = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_max_size(max_size);
    if response.destructive_emit(&mut encoder).is_ok() {
        return bytes;
    }
    bytes.clear();
    let mut metadata = Metadata::new(id, MessageType::Response, op_code);
    metadata.response_code = ResponseCode::ServFail;
    let header = Header {
        metadata,
        counts: HeaderCounts::default(),
    };
    // A bare header always fits.
    let _ = header.emit(&mut BinEncoder::new(&mut bytes));
    bytes
}

/// The questions to echo when the client's own bytes, which hickory echoes
/// as they came, hold compression pointers. `None` (echo the client's
/// bytes) in the usual case.
fn uncompressed_question(queries: &Queries) -> Option<Queries> {
    if !has_pointer(queries.as_bytes(), queries.len()) {
        return None;
    }
    let mut bytes = Vec::with_capacity(queries.as_bytes().len() + 256);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_name_encoding(NameEncoding::Uncompressed);
    for query in queries.queries() {
        query.original().emit(&mut encoder).ok()?;
    }
    Queries::read(&mut BinDecoder::new(&bytes), queries.len()).ok()
}

/// Whether a question section of `count` questions uses a compression
/// pointer (or does not read as one, to be safe).
fn has_pointer(section: &[u8], count: usize) -> bool {
    let mut at = 0;
    for _ in 0..count {
        loop {
            match section.get(at) {
                Some(0) => break,
                Some(&len) if len < 0x40 => at += 1 + usize::from(len),
                _ => return true,
            }
        }
        // The root label, type and class.
        at += 5;
    }
    false
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
    const SRC: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5);

    #[test]
    fn plain_query_is_read() {
        let p = query(NAME, 1, &[]);
        let q = Query::parse(&p).unwrap();
        assert_eq!(q.id, 0x1234);
        assert!(q.rd && !q.cd && !q.ad);
        assert_eq!((q.qtype, q.qclass), (1, 1));
        assert_eq!(q.name, NAME);
        assert_eq!(q.edns, None);
        assert_eq!(q.udp_limit(), 512);
    }

    #[test]
    fn edns_with_options_is_read() {
        // A cookie, then a client subnet option.
        let opt = [
            0, 0, 41, 4, 208, 0, 0, 0x80, 0, 0, 20, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 8, 0,
            4, 0, 1, 0, 0,
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
        assert_eq!(q.udp_limit(), 1232);
    }

    #[test]
    fn odd_bytes_in_labels_and_other_classes_are_the_common_shape() {
        let p = query(b"\x03a b\x03com\x00", 1, &[]);
        assert_eq!(Query::parse(&p).unwrap().name, b"\x03a b\x03com\x00");
        let mut chaos = query(NAME, 16, &[]);
        let len = chaos.len();
        chaos[len - 1] = 3;
        assert_eq!(Query::parse(&chaos).unwrap().qclass, 3);
        assert!(Query::parse(&query(b"\x00", 2, &[])).is_some());
    }

    #[test]
    fn unusual_messages_go_to_hickory() {
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
        cases.push(query(b"\xc0\x0c", 1, &[]));
        // EDNS version 1.
        cases.push(query(NAME, 1, &[0, 0, 41, 4, 208, 0, 1, 0, 0, 0, 0]));
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
    fn hickory_writes_a_compressed_name_out_in_full() {
        // "x" then a pointer to byte 7, the low byte of ANCOUNT: a zero,
        // the root.
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(b"\x01x\xc0\x07");
        q.extend_from_slice(&[0, 1, 0, 1]);
        assert!(Query::parse(&q).is_none());
        match read_odd(&q, SRC, true) {
            Odd::Query(odd) => assert_eq!(odd.view().name, b"\x01x\x00"),
            Odd::Error(bytes) => panic!("an error: {bytes:02x?}"),
            Odd::Drop => panic!("dropped"),
        }
    }

    #[test]
    fn hickory_answers_errors_and_drops_responses() {
        let ok = query(NAME, 1, &[]);
        let mut opcode = ok.clone();
        opcode[2] |= 0x10; // opcode STATUS
        let Odd::Error(bytes) = read_odd(&opcode, SRC, true) else {
            panic!("NOTIMP expected");
        };
        assert_eq!(bytes[3] & 0x0f, 4);
        let mut qr = ok.clone();
        qr[2] |= 0x80;
        assert!(matches!(read_odd(&qr, SRC, true), Odd::Drop));
        assert!(matches!(read_odd(&ok[..5], SRC, true), Odd::Drop));
        let Odd::Error(bytes) = read_odd(&ok[..14], SRC, true) else {
            panic!("FORMERR expected");
        };
        assert_eq!(bytes[3] & 0x0f, 1);
    }
}
