//! The general path: [`Handler`] turns a hickory request into a
//! [`Question`] for the [`Resolver`] and its [`Answer`] back into a
//! response. [`Handler::handle_raw`] takes the raw bytes as they came in.
//!
//! The caller asks [`Handler::admit`] first, once per message: a client
//! over its rate limit gets [`Handler::refuse_raw`] or nothing.
//!
//! Packets shorter than a header and responses (QR=1, even malformed ones,
//! so no reflection loops) are dropped; a query whose header reads but whose
//! rest does not gets FORMERR. hickory decodes the message; the handler
//! answers NOTIMP to opcodes other than QUERY, FORMERR to a message without
//! exactly one question, and BADVERS to EDNS versions above 0. UDP answers
//! that do not fit the client's size get TC=1 and no records. The question
//! is echoed as the client wrote it, written out in full when it used
//! compression pointers.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::serialize::binary::{
    BinDecodable, BinDecoder, BinEncodable, BinEncoder, NameEncoding,
};
use hickory_server::net::runtime::{Time, TokioTime};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponseBuilder, Queries};
use tracing::warn;

use super::reply::Capture;
use super::wire::{EDE_OPTION, MAX_PAYLOAD};

use crate::resolve::answer::Answer;
use crate::resolve::{Admission, Question, Resolver};
use crate::telemetry;

/// hickory's request handler: one [`Question`] in, one response out.
pub struct Handler {
    resolver: Arc<Resolver>,
}

impl Handler {
    /// A handler answering with `resolver`.
    pub fn new(resolver: Arc<Resolver>) -> Handler {
        Handler { resolver }
    }

    /// The resolver it answers with.
    pub fn resolver(&self) -> &Arc<Resolver> {
        &self.resolver
    }

    /// Answers `raw`, a message as it came from `src`, through `reply`.
    pub async fn handle_raw<R: ResponseHandler>(
        &self,
        raw: Vec<u8>,
        src: SocketAddr,
        protocol: Protocol,
        reply: R,
    ) {
        let Some(header) = raw.get(..12) else { return };
        if header[2] & 0x80 != 0 {
            return;
        }
        let header = match Header::read(&mut BinDecoder::new(header)) {
            Ok(header) => header,
            Err(_) => return,
        };
        match Request::from_bytes(raw, src, protocol) {
            Ok(request) => {
                self.handle_request::<R, TokioTime>(&request, reply).await;
            }
            Err(_) => {
                let Ok(queries) = Queries::read(&mut BinDecoder::new(&[]), 0) else {
                    return;
                };
                let response = MessageResponseBuilder::new(&queries, None)
                    .error_msg(&header.metadata, ResponseCode::FormErr);
                let mut reply = reply;
                if let Err(error) = reply.send_response(response).await {
                    warn!(%error, "could not send FORMERR");
                }
            }
        }
    }

    /// Answers `raw` from a client over its rate limit: REFUSED with the
    /// limiter's Extended DNS Error when it decodes as a query, else nothing.
    pub async fn refuse_raw<R: ResponseHandler>(
        &self,
        raw: Vec<u8>,
        src: SocketAddr,
        protocol: Protocol,
        reply: R,
    ) {
        if raw.get(2).is_none_or(|flags| flags & 0x80 != 0) {
            return;
        }
        if let Ok(request) = Request::from_bytes(raw, src, protocol) {
            let answer = self.resolver.rate_limited_answer();
            respond(&request, reply, &answer).await;
        }
    }

    /// Asks the resolver to admit a message from `client` (its rate limit),
    /// counting the ones turned away. Called once per message, before it is
    /// parsed.
    pub fn admit(&self, client: IpAddr) -> Admission {
        let admission = self.resolver.admit(client);
        if admission != Admission::Serve
            && let Some(telemetry) = self.resolver.telemetry()
        {
            telemetry.rate_limited(admission);
        }
        admission
    }

    /// The response the general path gives to `raw` from `src`, as sent
    /// over UDP (`udp`) or TCP; `None` when it sends none.
    pub async fn answer_bytes(&self, raw: &[u8], src: SocketAddr, udp: bool) -> Option<Vec<u8>> {
        let capture = Capture::new(udp);
        let protocol = if udp { Protocol::Udp } else { Protocol::Tcp };
        self.handle_raw(raw.to_vec(), src, protocol, capture.handler())
            .await;
        capture.take()
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        let received = std::time::Instant::now();
        let meta = &request.metadata;
        if meta.op_code != OpCode::Query {
            return respond(
                request,
                response_handle,
                &Answer::empty(ResponseCode::NotImp),
            )
            .await;
        }
        if request.edns.as_ref().is_some_and(|edns| edns.version() > 0) {
            let answer = Answer::empty(ResponseCode::BADVERS);
            return respond(request, response_handle, &answer).await;
        }
        let [query] = request.queries.queries() else {
            return respond(
                request,
                response_handle,
                &Answer::empty(ResponseCode::FormErr),
            )
            .await;
        };
        let question = Question {
            name: query.original().name(),
            qtype: query.query_type(),
            qclass: query.query_class(),
            client: request.src().ip(),
            dnssec_ok: request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok),
            checking_disabled: meta.checking_disabled,
        };
        let (answer, outcome) = self.resolver.resolve(question).await;
        if let Some(telemetry) = self.resolver.telemetry() {
            // Before the answer leaves: a client that has its answer can
            // count on seeing it in `stats` and `tail`.
            telemetry.record(&telemetry::Query {
                client: question.client,
                name: telemetry::QueryName::Name(question.name),
                qtype: question.qtype,
                outcome,
                protocol: match request.protocol() {
                    Protocol::Udp => telemetry::Protocol::Udp,
                    _ => telemetry::Protocol::Tcp,
                },
                list: crate::resolve::block::blocking_list(&answer),
                latency: received.elapsed(),
            });
        }
        respond(request, response_handle, &answer).await
    }
}

/// Sends `answer` to the client with its ID, question and EDNS.
async fn respond<R: ResponseHandler>(
    request: &Request,
    mut handle: R,
    answer: &Answer,
) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.recursion_available = true;
    metadata.response_code = answer.rcode;
    let client_do = request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
    metadata.authentic_data =
        answer.authentic_data && (client_do || request.metadata.authentic_data);
    let edns = request.edns.as_ref().map(|client| {
        let mut edns = Edns::new();
        edns.set_max_payload(client.max_payload().clamp(512, MAX_PAYLOAD));
        edns.set_dnssec_ok(client_do);
        if let Some((code, text)) = &answer.ede {
            let mut data = Vec::with_capacity(2 + text.len());
            data.extend_from_slice(&code.to_be_bytes());
            data.extend_from_slice(text.as_bytes());
            edns.options_mut()
                .insert(EdnsOption::Unknown(EDE_OPTION, data));
        }
        edns
    });
    let s = &answer.sections;
    let rebuilt = uncompressed_question(&request.queries);
    let queries = rebuilt.as_ref().unwrap_or(&request.queries);
    let builder = || {
        let mut builder = MessageResponseBuilder::new(queries, None);
        if let Some(edns) = &edns {
            builder.edns(edns);
        }
        builder
    };
    if request.protocol() == Protocol::Udp
        && !s.answers.is_empty()
        && !fits_udp(builder(), metadata, s, edns.as_ref())
    {
        // Too big for the client: no partial RRsets, just TC=1 so it asks
        // again over TCP.
        metadata.truncation = true;
        let response = builder().build_no_records(metadata);
        return send(request, handle.send_response(response).await);
    }
    let response = builder().build(
        metadata,
        s.answers.iter(),
        s.authorities.iter(),
        std::iter::empty(),
        s.additionals.iter(),
    );
    send(request, handle.send_response(response).await)
}

/// The question to echo when the client's own bytes, which hickory echoes
/// as they came, hold compression pointers: those point into the query and
/// may land on other bytes in the response (its header differs), making it
/// undecodable. `None` (echo the client's bytes) in the usual case, found
/// without allocating.
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

/// Whether the response fits the client's UDP payload size.
fn fits_udp(
    builder: MessageResponseBuilder<'_>,
    metadata: Metadata,
    s: &crate::resolve::answer::Sections,
    edns: Option<&Edns>,
) -> bool {
    let limit = edns.map_or(512, Edns::max_payload);
    let response = builder.build(
        metadata,
        s.answers.iter(),
        s.authorities.iter(),
        std::iter::empty(),
        s.additionals.iter(),
    );
    let mut bytes = Vec::with_capacity(512);
    let mut encoder = hickory_proto::serialize::binary::BinEncoder::new(&mut bytes);
    encoder.set_max_size(limit);
    match response.destructive_emit(&mut encoder) {
        Ok(_) => !bytes.is_empty() && bytes.len() <= usize::from(limit) && bytes[2] & 0x02 == 0,
        Err(_) => false,
    }
}

/// The info of a sent response, or SERVFAIL info when sending failed.
fn send(
    request: &Request,
    sent: Result<ResponseInfo, hickory_server::net::NetError>,
) -> ResponseInfo {
    match sent {
        Ok(info) => info,
        Err(error) => {
            warn!(%error, "could not send a response");
            let mut failed = Metadata::new(
                request.metadata.id,
                MessageType::Response,
                request.metadata.op_code,
            );
            failed.response_code = ResponseCode::ServFail;
            ResponseInfo::from(Header {
                metadata: failed,
                counts: HeaderCounts::default(),
            })
        }
    }
}
