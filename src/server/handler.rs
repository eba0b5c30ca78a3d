//! The one handler: bytes in, bytes out. For each message it reads the
//! query ([`super::query`]), asks the resolver for the decision, writes
//! the answer ([`super::render`]) and records it in the telemetry — once,
//! where the answer is sent. UDP and TCP go through it alike.
//!
//! [`Handler::answer_now`] does all of that without waiting, for every
//! decision but one: a question that needs upstream comes back as
//! [`Now::Later`], carrying what the decision found, and
//! [`Handler::answer_later`] forwards it and answers. Nothing is decided
//! twice.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_proto::rr::{DNSClass, RecordType};
use ipnet::IpNet;

use super::query::{Odd, OddQuery, Query, read_odd};
use super::render::{Sinkhole, render};
use crate::config::Config;
use crate::domain::wire::TextBuffer;
use crate::resolve::block::Allowed;
use crate::resolve::forward::Try;
use crate::resolve::{Decided, Decision, Question, Refetch, Refusal, Resolver};
use crate::telemetry::{self, Telemetry};
use crate::vocab::{Admission, Protocol, unix_ms};

/// What [`Handler::answer_now`] did with a message.
#[derive(Debug)]
pub enum Now {
    /// The answer is in the buffer.
    Answered,
    /// Nothing is to be sent.
    Silent,
    /// The question needs upstream: hand this to [`Handler::answer_later`].
    Later(Later),
}

/// A question decided to need upstream, with what the decision found.
#[derive(Debug)]
pub struct Later {
    allowed: Option<Allowed>,
    /// The query, when hickory had to read it.
    odd: Option<OddQuery>,
}

/// How one message arrived.
#[derive(Clone, Copy, Debug)]
pub struct Arrival {
    /// The client.
    pub src: SocketAddr,
    /// UDP or TCP.
    pub protocol: Protocol,
    /// What the rate limit said ([`Handler::admit`]).
    pub admission: Admission,
    /// When the message was read (for UDP, its batch).
    pub received: Moment,
}

/// One moment on both clocks: the monotonic one for the cache's ages and
/// the answer's latency, the wall clock for the query ring. A UDP worker
/// reads it once per batch, not per message: clock reads were 2.7 % of the
/// CPU of a blocked answer (`perf`, `benches/README.md`).
#[derive(Clone, Copy, Debug)]
pub struct Moment {
    /// The monotonic clock (tokio's, which tests can pause).
    pub at: tokio::time::Instant,
    /// The wall clock, in Unix milliseconds.
    pub unix_ms: u64,
}

impl Moment {
    /// Now.
    pub fn now() -> Moment {
        Moment {
            at: tokio::time::Instant::now(),
            unix_ms: unix_ms(),
        }
    }
}

/// Answers messages.
pub struct Handler {
    resolver: Arc<Resolver>,
    telemetry: Option<Arc<Telemetry>>,
    sinkhole: Sinkhole,
    /// Forwarders whose EDNS Client Subnet and add-mac options name the
    /// client (`[client_lookup] trusted_forwarders`).
    trusted: Vec<IpNet>,
    /// Where background refetches of cache entries run: the runtime the
    /// handler was made in.
    runtime: Option<tokio::runtime::Handle>,
}

impl Handler {
    /// A handler answering with `resolver` as `config` says, recording into
    /// `telemetry` if given.
    pub fn new(
        resolver: Arc<Resolver>,
        config: &Config,
        telemetry: Option<Arc<Telemetry>>,
    ) -> Handler {
        Handler {
            resolver,
            telemetry,
            sinkhole: Sinkhole::new(&config.blocking),
            trusted: config.client_lookup.trusted_forwarders.clone(),
            runtime: tokio::runtime::Handle::try_current().ok(),
        }
    }

    /// The resolver it answers with.
    pub fn resolver(&self) -> &Arc<Resolver> {
        &self.resolver
    }

    /// Where it records, if anywhere.
    pub fn telemetry(&self) -> Option<&Arc<Telemetry>> {
        self.telemetry.as_ref()
    }

    /// Asks the rate limit about a message from `client`, counting the ones
    /// turned away. Called once per message, before it is parsed; a
    /// message it says to drop gets nothing at all.
    pub fn admit(&self, client: IpAddr, now: Moment) -> Admission {
        let admission = self.resolver.admit(client, now.at);
        if let Some(telemetry) = &self.telemetry {
            telemetry.rate_limited(admission);
        }
        admission
    }

    /// Answers `packet` into `out` unless it needs upstream.
    pub fn answer_now(&self, packet: &[u8], arrival: Arrival, out: &mut Vec<u8>) -> Now {
        let mut text = TextBuffer::new();
        if let Some(query) = Query::parse(packet) {
            return match self.decide(&query, arrival, &mut text, out) {
                Some(allowed) => Now::Later(Later { allowed, odd: None }),
                None => Now::Answered,
            };
        }
        match read_odd(packet) {
            Odd::Drop => Now::Silent,
            Odd::Error(bytes) => {
                out.clear();
                out.extend_from_slice(&bytes);
                Now::Answered
            }
            Odd::Query(odd) => match self.decide(&odd.view(), arrival, &mut text, out) {
                Some(allowed) => Now::Later(Later {
                    allowed,
                    odd: Some(odd),
                }),
                None => Now::Answered,
            },
        }
    }

    /// Forwards the question [`Handler::answer_now`] left (`packet` is the
    /// same message) and writes its answer into `out`; `false` when there is
    /// nothing to send.
    pub async fn answer_later(
        &self,
        packet: &[u8],
        arrival: Arrival,
        later: Later,
        out: &mut Vec<u8>,
    ) -> bool {
        let query = match &later.odd {
            Some(odd) => odd.view(),
            None => match Query::parse(packet) {
                Some(query) => query,
                None => return false,
            },
        };
        let mut text = TextBuffer::new();
        let question = self.question(&query, arrival, &mut text);
        let decided = self.resolver.forward(&question, later.allowed).await;
        self.finish(&query, &question, decided, arrival, out);
        true
    }

    /// Answers `packet` whatever it takes; `None` when nothing is sent.
    pub async fn answer(&self, packet: &[u8], arrival: Arrival) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(512);
        match self.answer_now(packet, arrival, &mut out) {
            Now::Answered => Some(out),
            Now::Silent => None,
            Now::Later(later) => self
                .answer_later(packet, arrival, later, &mut out)
                .await
                .then_some(out),
        }
    }

    /// Decides `query` and, unless it needs upstream, answers it into
    /// `out`; `Some` with the allow rule found when it needs upstream.
    fn decide(
        &self,
        query: &Query<'_>,
        arrival: Arrival,
        text: &mut TextBuffer,
        out: &mut Vec<u8>,
    ) -> Option<Option<Allowed>> {
        let question = self.question(query, arrival, text);
        let decided = self.resolver.decide(&question);
        if let Decision::Forward { allowed } = decided.decision {
            return Some(allowed);
        }
        self.finish(query, &question, decided, arrival, out);
        None
    }

    /// Writes the answer, records it, and starts the background refetch
    /// the decision claimed, if it did.
    fn finish(
        &self,
        query: &Query<'_>,
        question: &Question<'_>,
        decided: Decided<'_>,
        arrival: Arrival,
        out: &mut Vec<u8>,
    ) {
        let limit = match arrival.protocol {
            Protocol::Udp => query.udp_limit(),
            Protocol::Tcp => usize::from(u16::MAX),
        };
        render(out, query, &decided, self.sinkhole, limit);
        self.record(question, &decided, arrival);
        if let Decision::Cached {
            refetch: Some(claim),
            ..
        }
        | Decision::Stale {
            refetch: Some(claim),
            ..
        } = decided.decision
            && let Some(refetch) = self.resolver.refetch_of(question, claim)
        {
            self.spawn_refetch(refetch);
        }
    }

    /// Counts the answer and its upstream tries, and puts it in the ring.
    fn record(&self, question: &Question<'_>, decided: &Decided<'_>, arrival: Arrival) {
        let Some(telemetry) = &self.telemetry else {
            return;
        };
        count_tries(telemetry, &decided.tries);
        // Rate-limited messages have counters of their own.
        if matches!(decided.decision, Decision::Refused(Refusal::RateLimited)) {
            return;
        }
        telemetry.record(&telemetry::Query {
            client: question.client,
            name: question.lower,
            qtype: question.qtype,
            outcome: decided.decision.outcome(),
            protocol: arrival.protocol,
            list: decided.list(),
            asked_ms: arrival.received.unix_ms,
            latency: arrival.received.at.elapsed(),
            groups: decided.groups,
        });
    }
}

/// Counts upstream tries in `telemetry`.
fn count_tries(telemetry: &Telemetry, tries: &[Try]) {
    for t in tries {
        match *t {
            Try::Answered {
                index,
                latency,
                srtt_us,
                first,
            } => {
                telemetry.upstream_answered(index, latency);
                telemetry.upstream_rtt(index, srtt_us, first);
            }
            Try::Failed {
                index,
                srtt_us,
                first,
            } => {
                telemetry.upstream_failed(index);
                telemetry.upstream_rtt(index, srtt_us, first);
            }
            Try::TurnedAway => telemetry.upstream_overloaded(),
        }
    }
}

impl Handler {
    /// Runs `refetch` as a task of its own (its tries counted like a
    /// client's); without a runtime it is dropped, which gives its claim
    /// back.
    fn spawn_refetch(&self, refetch: Refetch) {
        let Some(runtime) = &self.runtime else {
            return;
        };
        let telemetry = self.telemetry.clone();
        runtime.spawn(async move {
            let (stored, tries) = Resolver::refetch(refetch).await;
            if let Some(telemetry) = telemetry {
                count_tries(&telemetry, &tries);
                if stored {
                    telemetry.refetched();
                }
            }
        });
    }

    /// The resolver's question for `query`, its text written into `text`;
    /// a trusted forwarder's client subnet and MAC address stand for the
    /// client.
    fn question<'a>(
        &self,
        query: &Query<'a>,
        arrival: Arrival,
        text: &'a mut TextBuffer,
    ) -> Question<'a> {
        let source = arrival.src.ip();
        let trusted = (query.hint.addr.is_some() || query.hint.mac.is_some())
            && self
                .trusted
                .iter()
                .any(|net| net.contains(&crate::groups::canonical(source)));
        let (client, mac) = if trusted {
            (query.hint.addr.unwrap_or(source), query.hint.mac)
        } else {
            (source, None)
        };
        Question {
            name: query.name,
            lower: text.lower(query.name),
            qtype: RecordType::from(query.qtype),
            qclass: DNSClass::from(query.qclass),
            client,
            mac,
            dnssec_ok: query.edns.is_some_and(|e| e.dnssec_ok),
            checking_disabled: query.cd,
            admission: arrival.admission,
            asked: arrival.received.at,
        }
    }
}
