//! [`Capture`]: a hickory [`ResponseHandler`] that keeps the encoded
//! responses instead of sending them, so the client-query target can check
//! the exact bytes a client would receive.
//!
//! Encoding follows hickory-server's own `ResponseHandle` (its
//! `MessageResponse::encode`): a UDP response is limited to the EDNS payload
//! size of the response, or 512 bytes without EDNS; a TCP one to 65535; when
//! the message cannot be encoded, a bare SERVFAIL header with the same ID is
//! sent instead.

use std::sync::{Arc, Mutex};

use hickory_proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use hickory_server::net::NetError;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;

/// Collects the responses a request handler sends.
#[derive(Clone)]
pub(super) struct Capture {
    protocol: Protocol,
    sent: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Capture {
    /// A handler for a request that came in over `protocol`.
    pub(super) fn new(protocol: Protocol) -> Capture {
        Capture {
            protocol,
            sent: Arc::default(),
        }
    }

    /// The responses sent so far, in order.
    pub(super) fn take(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.sent.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let limit = match self.protocol {
            Protocol::Udp => response.edns().map_or(512, Edns::max_payload),
            _ => u16::MAX,
        };
        let id = response.metadata().id;
        let mut bytes = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(limit);
        let info = match response.destructive_emit(&mut encoder) {
            Ok(info) => info,
            Err(_) => {
                bytes.clear();
                let mut encoder = BinEncoder::new(&mut bytes);
                encoder.set_max_size(512);
                let mut metadata = Metadata::new(id, MessageType::Response, OpCode::Query);
                metadata.response_code = ResponseCode::ServFail;
                let header = Header {
                    metadata,
                    counts: HeaderCounts::default(),
                };
                header.emit(&mut encoder)?;
                ResponseInfo::from(header)
            }
        };
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(bytes);
        Ok(info)
    }
}
