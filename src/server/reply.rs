//! Where the [`Handler`](super::Handler)'s responses go: hickory's
//! `ResponseHandler`, implemented over ralo's own sockets. Encoding follows
//! hickory-server's rules: UDP answers are cut to the size the client
//! allows (512 bytes without EDNS), and a response that cannot be encoded
//! becomes a bare SERVFAIL.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Header, HeaderCounts, MessageType, Metadata, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use hickory_server::net::NetError;
use hickory_server::server::{ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, SockaddrStorage, sendto};
use tokio::sync::mpsc;

/// Encodes `response` as hickory-server does: at most `max_size` bytes,
/// and a bare SERVFAIL header (with the query's ID and opcode) when it
/// cannot be encoded.
pub(crate) fn encode<'a>(
    response: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
    udp: bool,
) -> (ResponseInfo, Vec<u8>) {
    let (id, op_code) = (response.metadata().id, response.metadata().op_code);
    let max_size = match (udp, response.edns()) {
        (true, Some(edns)) => edns.max_payload(),
        (true, None) => 512,
        (false, _) => u16::MAX,
    };
    let mut bytes = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_max_size(max_size);
    if let Ok(info) = response.destructive_emit(&mut encoder) {
        return (info, bytes);
    }
    bytes.clear();
    let mut metadata = Metadata::new(id, MessageType::Response, op_code);
    metadata.response_code = ResponseCode::ServFail;
    let header = Header {
        metadata,
        counts: HeaderCounts::default(),
    };
    let mut encoder = BinEncoder::new(&mut bytes);
    // A bare header always fits.
    let _ = header.emit(&mut encoder);
    (ResponseInfo::from(header), bytes)
}

/// Where a [`Reply`] delivers encoded responses.
pub(crate) trait Sink: Clone + Send + Sync + Unpin + 'static {
    /// Whether responses go over UDP (cut to the size the client takes).
    fn udp(&self) -> bool;

    /// Delivers one encoded response.
    fn deliver(&self, bytes: Vec<u8>) -> impl Future<Output = Result<(), NetError>> + Send;
}

/// hickory's response handler over a [`Sink`]: encodes as hickory-server
/// does ([`encode`]) and hands the bytes over.
#[derive(Clone)]
pub(crate) struct Reply<S>(pub(crate) S);

#[async_trait::async_trait]
impl<S: Sink> ResponseHandler for Reply<S> {
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
        let (info, bytes) = encode(response, self.0.udp());
        self.0.deliver(bytes).await?;
        Ok(info)
    }
}

/// Tries at sending one general-path UDP answer, a millisecond apart.
const SEND_TRIES: usize = 10;

/// One UDP client, answered from the socket its query came in on.
#[derive(Clone)]
pub(crate) struct UdpClient {
    pub(crate) socket: Arc<UdpSocket>,
    pub(crate) dst: SocketAddr,
}

impl Sink for UdpClient {
    fn udp(&self) -> bool {
        true
    }

    async fn deliver(&self, bytes: Vec<u8>) -> Result<(), NetError> {
        // The socket is in blocking mode (its worker waits in `recvmmsg`);
        // a task never blocks on it: without room in the send buffer it
        // waits a moment and tries again, then gives up (the client asks
        // again).
        let dst = SockaddrStorage::from(self.dst);
        for _ in 0..SEND_TRIES {
            match sendto(
                self.socket.as_raw_fd(),
                &bytes,
                &dst,
                MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(_) => return Ok(()),
                Err(Errno::EAGAIN) => tokio::time::sleep(Duration::from_millis(1)).await,
                Err(e) => return Err(std::io::Error::from(e).into()),
            }
        }
        Err(NetError::from("the UDP send buffer stayed full"))
    }
}

/// One TCP connection's writer queue.
#[derive(Clone)]
pub(crate) struct TcpQueue(pub(crate) mpsc::Sender<Vec<u8>>);

impl Sink for TcpQueue {
    fn udp(&self) -> bool {
        false
    }

    async fn deliver(&self, bytes: Vec<u8>) -> Result<(), NetError> {
        self.0
            .send(bytes)
            .await
            .map_err(|_| NetError::from("the TCP connection closed"))
    }
}

/// Keeps the response bytes: the general path without a socket, for
/// comparing it with the fast path and for fuzzing.
#[derive(Clone, Default)]
pub struct Capture {
    bytes: Arc<std::sync::Mutex<Option<Vec<u8>>>>,
    udp: bool,
}

impl Capture {
    /// A capture encoding as for UDP (`udp`) or TCP.
    pub fn new(udp: bool) -> Capture {
        Capture {
            bytes: Arc::default(),
            udp,
        }
    }

    /// A hickory response handler that delivers into this capture.
    pub fn handler(&self) -> impl ResponseHandler {
        Reply(self.clone())
    }

    /// The response sent, if one was.
    pub fn take(&self) -> Option<Vec<u8>> {
        self.bytes.lock().ok()?.take()
    }
}

impl Sink for Capture {
    fn udp(&self) -> bool {
        self.udp
    }

    async fn deliver(&self, bytes: Vec<u8>) -> Result<(), NetError> {
        if let Ok(mut slot) = self.bytes.lock() {
            *slot = Some(bytes);
        }
        Ok(())
    }
}
