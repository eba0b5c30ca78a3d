//! Reading a query. [`Query::parse`] reads the common shape straight from
//! the packet's bytes; everything else goes through hickory's decoder
//! ([`read_odd`]), which gives either the same [`Query`] view — the name
//! written out in full, the case as sent — or an error response, written
//! by the one renderer.
//!
//! The common shape: a header with nothing but RD (and AD, CD) set, one
//! question whose name has no compression pointers, no answer or authority
//! records, and at most an EDNS version 0 OPT record with well-formed
//! options, ending exactly at the end of the packet.
//!
//! Through hickory: fewer than 12 bytes, and responses (QR=1, even
//! malformed ones, so no reflection loops), are dropped; a message whose
//! header reads but whose rest does not, or without exactly one question,
//! gets a bare FORMERR header; opcodes other than QUERY get NOTIMP and EDNS
//! versions above 0 BADVERS, with the question echoed as the client wrote
//! it — written out in full when it used compression pointers (they point
//! into the query and may land elsewhere in the response).

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

use hickory_proto::rr::rdata::opt::EdnsOption;

use super::render::{self, MAX_PAYLOAD};
use crate::domain::wire;
use crate::groups::Mac;

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

/// What a forwarder said about the client it asks for: the EDNS Client
/// Subnet address (RFC 7871) and the MAC address of dnsmasq's `--add-mac`
/// (option 65001). Used only for `[client_lookup] trusted_forwarders`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ClientHint {
    /// The client subnet's address.
    pub(crate) addr: Option<std::net::IpAddr>,
    /// The client's MAC address.
    pub(crate) mac: Option<Mac>,
}

/// One question, as the answer is written from it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Query<'a> {
    /// Message ID.
    pub(crate) id: u16,
    /// Opcode (0, QUERY, but in an error response to another).
    pub(crate) opcode: u8,
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
    /// The client a forwarder named in its EDNS options.
    pub(crate) hint: ClientHint,
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
        let (edns, hint) = match additional {
            0 if end == packet.len() => (None, ClientHint::default()),
            1 => {
                let (edns, hint) = parse_opt(&packet[end..])?;
                (Some(edns), hint)
            }
            _ => return None,
        };
        Some(Query {
            id: u16::from_be_bytes([header[0], header[1]]),
            opcode: 0,
            rd: header[2] & RD != 0,
            ad: header[3] & AD != 0,
            cd: header[3] & CD != 0,
            name,
            qtype: u16::from_be_bytes([fixed[0], fixed[1]]),
            qclass: u16::from_be_bytes([fixed[2], fixed[3]]),
            edns,
            hint,
        })
    }

    /// The largest response the client takes over UDP: its payload size,
    /// 512 to 1232 (DNS flag day 2020), or 512 without EDNS.
    pub(crate) fn udp_limit(&self) -> usize {
        self.edns
            .map_or(512, |e| usize::from(e.payload.clamp(512, MAX_PAYLOAD)))
    }
}

/// EDNS Client Subnet (RFC 7871).
const OPTION_CLIENT_SUBNET: u16 = 8;
/// dnsmasq's `--add-mac`: the client's MAC address, as 6 bytes (or, with
/// `--add-mac=text`, as `aa:bb:cc:dd:ee:ff`).
const OPTION_MAC: u16 = 65001;

/// The MAC address in an `--add-mac` option's body, if it holds one.
fn mac_option(body: &[u8]) -> Option<Mac> {
    let mac = match body.len() {
        6 => Mac(body.try_into().ok()?),
        _ => std::str::from_utf8(body).ok()?.parse().ok()?,
    };
    (!mac.is_zero()).then_some(mac)
}

/// An OPT record that is the whole rest of the packet: version 0,
/// extended RCODE 0, options that are well-formed TLVs.
fn parse_opt(bytes: &[u8]) -> Option<(Edns, ClientHint)> {
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
    let mut hint = ClientHint::default();
    while !options.is_empty() {
        let head = options.get(..4)?;
        let code = u16::from_be_bytes([head[0], head[1]]);
        if code == OPTION_CLIENT_SUBNET {
            // Its body has rules of its own: hickory reads it (FORMERR when
            // it breaks them), as it reads every message this one declines.
            return None;
        }
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        if code == OPTION_MAC {
            hint.mac = mac_option(options.get(4..4 + len)?);
        }
        options = options.get(4 + len..)?;
    }
    Some((Edns { payload, dnssec_ok }, hint))
}

/// A query hickory read, with its name written out in full.
#[derive(Clone, Debug)]
pub(crate) struct OddQuery {
    id: u16,
    opcode: u8,
    rd: bool,
    ad: bool,
    cd: bool,
    name: Vec<u8>,
    qtype: u16,
    qclass: u16,
    edns: Option<Edns>,
    hint: ClientHint,
}

impl OddQuery {
    /// The query view the answer is written from.
    pub(crate) fn view(&self) -> Query<'_> {
        Query {
            id: self.id,
            opcode: self.opcode,
            rd: self.rd,
            ad: self.ad,
            cd: self.cd,
            name: &self.name,
            qtype: self.qtype,
            qclass: self.qclass,
            edns: self.edns,
            hint: self.hint,
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
pub(crate) fn read_odd(packet: &[u8]) -> Odd {
    let Some(&[id0, id1, flags0, flags1]) = packet.first_chunk::<4>() else {
        return Odd::Drop;
    };
    let head = [id0, id1, flags0, flags1];
    if packet.len() < 12 || flags0 & 0x80 != 0 {
        return Odd::Drop;
    }
    let mut out = Vec::new();
    let Ok(message) = Message::from_vec(packet) else {
        render::error(&mut out, None, head, u16::from(ResponseCode::FormErr));
        return Odd::Error(out);
    };
    let meta = &message.metadata;
    let rcode = if meta.op_code != OpCode::Query {
        ResponseCode::NotImp
    } else if message.queries.len() != 1 {
        ResponseCode::FormErr
    } else if message.edns.as_ref().is_some_and(|edns| edns.version() > 0) {
        ResponseCode::BADVERS
    } else {
        ResponseCode::NoError
    };
    let odd = match &message.queries[..] {
        [query] => odd_query(&message, query),
        _ => None,
    };
    match (odd, rcode) {
        (Some(odd), ResponseCode::NoError) => Odd::Query(odd),
        (None, ResponseCode::NoError) => {
            // The name does not fit the wire limits once written out.
            render::error(&mut out, None, head, u16::from(ResponseCode::FormErr));
            Odd::Error(out)
        }
        (odd, rcode) => {
            let view = odd.as_ref().map(OddQuery::view);
            render::error(&mut out, view.as_ref(), head, u16::from(rcode));
            Odd::Error(out)
        }
    }
}

/// The question of `message` with its name written out in full, or `None`
/// when that does not fit the wire limits.
fn odd_query(message: &Message, query: &hickory_proto::op::Query) -> Option<OddQuery> {
    let meta = &message.metadata;
    let mut name = Vec::with_capacity(wire::MAX_WIRE);
    let mut encoder = BinEncoder::new(&mut name);
    encoder.set_name_encoding(NameEncoding::Uncompressed);
    query.name().emit(&mut encoder).ok()?;
    (wire::name_len(&name) == Some(name.len())).then_some(())?;
    Some(OddQuery {
        id: meta.id,
        opcode: u8::from(meta.op_code),
        rd: meta.recursion_desired,
        ad: meta.authentic_data,
        cd: meta.checking_disabled,
        name,
        qtype: u16::from(query.query_type()),
        qclass: u16::from(query.query_class()),
        edns: message.edns.as_ref().map(|edns| Edns {
            payload: edns.max_payload(),
            dnssec_ok: edns.flags().dnssec_ok,
        }),
        hint: message
            .edns
            .as_ref()
            .map_or_else(ClientHint::default, |edns| {
                let mut hint = ClientHint::default();
                for (_, option) in &edns.options().options {
                    match option {
                        EdnsOption::Subnet(subnet) => hint.addr = Some(subnet.addr()),
                        EdnsOption::Unknown(OPTION_MAC, body) => hint.mac = mac_option(body),
                        _ => {}
                    }
                }
                hint
            }),
    })
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
        assert_eq!((q.qtype, q.qclass), (1, 1));
        assert_eq!(q.name, NAME);
        assert_eq!(q.edns, None);
        assert_eq!(q.udp_limit(), 512);
    }

    #[test]
    fn edns_with_options_is_read() {
        // A cookie option.
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
        assert_eq!(q.udp_limit(), 1232);

        // A client subnet option has rules of its own: hickory reads it.
        let ecs = [
            0, 0, 41, 4, 208, 0, 0, 0x80, 0, 0, 8, 0, 8, 0, 4, 0, 1, 0, 0,
        ];
        assert!(Query::parse(&query(NAME, 28, &ecs)).is_none());
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
        match read_odd(&q) {
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
        let Odd::Error(bytes) = read_odd(&opcode) else {
            panic!("NOTIMP expected");
        };
        assert_eq!(bytes[3] & 0x0f, 4);
        let mut qr = ok.clone();
        qr[2] |= 0x80;
        assert!(matches!(read_odd(&qr), Odd::Drop));
        assert!(matches!(read_odd(&ok[..5]), Odd::Drop));
        let Odd::Error(bytes) = read_odd(&ok[..14]) else {
            panic!("FORMERR expected");
        };
        assert_eq!(bytes[3] & 0x0f, 1);
    }
}
