//! [`Entry`]: an upstream answer in wire form, encoded once when it arrives
//! and copied into every response that uses it — the first one, and every
//! cache hit after it, over UDP and TCP alike.
//!
//! The body is the answer, authority and additional records exactly as they
//! follow the question in a response. A response's question always starts
//! at byte 12 and, for one cache key, always has the same length (the key
//! is the name's lower-case text, so only the case of its letters can
//! differ). So the body can point into the question: an owner name equal to
//! the question, or to one of its parents, is a compression pointer to it,
//! and comes out in the case the client wrote, whoever asked first. Other
//! names point to names earlier in the body. Where each record's TTL sits is
//! kept, so a hit counts the TTLs down in place; nothing is decoded again.
//!
//! Names inside record data are compressed only where RFC 1035 allows it
//! (CNAME, NS, PTR, MX, SOA); other types are written by hickory, names in
//! full.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};
use tokio::time::Instant;

use crate::config;
use crate::domain::wire::{Labels, TextBuffer};

/// The largest pointer target (14 bits).
const MAX_POINTER: usize = 0x3fff;
/// Hops followed when comparing a name already written.
const MAX_HOPS: usize = 128;

/// An upstream answer in wire form; see the module docs.
#[derive(Debug)]
pub struct Entry {
    body: Box<[u8]>,
    /// Offsets into `body` of each record's 4-byte TTL.
    ttls: Box<[u16]>,
    /// Records in the answer, authority and additional sections.
    counts: [u16; 3],
    /// The response code, at most 15.
    rcode: u8,
    authentic_data: bool,
    /// Length of the question (name, type, class) the body follows.
    question_len: u16,
    /// The answer section's CNAME targets, their lower-case texts with a
    /// space between (a space inside a name is escaped in its text).
    cnames: Box<str>,
    stored: Instant,
    /// Seconds it may be answered from the cache; 0: not to be cached.
    lifetime: u32,
    /// One more than the image generation in which neither the question's
    /// name nor a CNAME target was found listed; 0 until then.
    clear_in: AtomicU64,
    /// Times it was asked, the question that brought it included; counted
    /// up to `MAX_ASKED` only, so a popular entry's count is read, not
    /// written, on every hit.
    asked: AtomicU32,
    /// A background fetch of its question was claimed
    /// ([`Entry::claim_refetch`]).
    refetching: AtomicBool,
}

/// The most [`Entry::asked`] counts to: above any `[cache] prefetch_after`.
const MAX_ASKED: u32 = 255;

impl Entry {
    /// The answer in `message` to the question `name` (wire form, as the
    /// client wrote it) and `qtype`, class IN, with TTLs clamped by
    /// `config`. `None` when it cannot be written (a response code beyond
    /// 4 bits, a name that does not encode, more than 64 KiB).
    pub fn encode(
        name: &[u8],
        qtype: RecordType,
        message: &Message,
        config: &config::Cache,
    ) -> Option<Entry> {
        let rcode = u8::try_from(u16::from(message.metadata.response_code))
            .ok()
            .filter(|&code| code <= 0x0f)?;
        let clamp = |ttl: u32| ttl.clamp(config.min_ttl, config.max_ttl);
        let question_len = u16::try_from(name.len() + 4).ok()?;
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(&[0; 12]);
        out.extend_from_slice(name);
        out.extend_from_slice(&u16::from(qtype).to_be_bytes());
        out.extend_from_slice(&u16::from(DNSClass::IN).to_be_bytes());
        let base = out.len();
        let mut writer = BodyWriter {
            out,
            targets: question_targets(name),
            scratch: Vec::new(),
            ttls: Vec::new(),
            base,
        };
        let sections = [&message.answers, &message.authorities, &message.additionals];
        let mut counts = [0u16; 3];
        for (count, records) in counts.iter_mut().zip(sections) {
            for record in records {
                writer.record(record, clamp(record.ttl))?;
            }
            *count = u16::try_from(records.len()).ok()?;
        }
        if writer.out.len() > usize::from(u16::MAX) {
            return None;
        }
        let cnames = cname_targets(&message.answers);
        let lifetime = lifetime(message, config);
        Some(Entry {
            body: writer.out[base..].into(),
            ttls: writer.ttls.into(),
            counts,
            rcode,
            authentic_data: message.metadata.authentic_data,
            question_len,
            cnames,
            stored: Instant::now(),
            lifetime,
            clear_in: AtomicU64::new(0),
            asked: AtomicU32::new(1),
            refetching: AtomicBool::new(false),
        })
    }

    /// The records, as they follow the question.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Offsets into [`Entry::body`] of each record's TTL.
    pub fn ttl_offsets(&self) -> &[u16] {
        &self.ttls
    }

    /// Records in the answer, authority and additional sections.
    pub fn counts(&self) -> [u16; 3] {
        self.counts
    }

    /// The response code (4 bits).
    pub fn rcode(&self) -> u8 {
        self.rcode
    }

    /// The AD flag the upstream set.
    pub fn authentic_data(&self) -> bool {
        self.authentic_data
    }

    /// The length of the question (name, type, class) the body follows; a
    /// response must have a question of this length for the body's
    /// pointers to land.
    pub fn question_len(&self) -> usize {
        usize::from(self.question_len)
    }

    /// The answer section's CNAME targets, as lower-case texts.
    pub fn cname_targets(&self) -> impl Iterator<Item = &str> {
        self.cnames.split(' ').filter(|t| !t.is_empty())
    }

    /// Whole seconds since it was stored; TTLs count down by this.
    pub fn age(&self) -> u32 {
        self.age_at(Instant::now())
    }

    /// Whole seconds from when it was stored to `now`.
    pub fn age_at(&self, now: Instant) -> u32 {
        let age = now.saturating_duration_since(self.stored);
        u32::try_from(age.as_secs()).unwrap_or(u32::MAX)
    }

    /// Seconds it may be answered from the cache after it was stored; 0
    /// when it is not to be cached.
    pub fn lifetime(&self) -> u32 {
        self.lifetime
    }

    /// Whether the image of `generation` was found to list neither the
    /// question's name nor a CNAME target of this answer
    /// ([`Entry::mark_clear_in`]).
    pub fn is_clear_in(&self, generation: u64) -> bool {
        self.clear_in.load(Ordering::Relaxed) == generation.wrapping_add(1)
    }

    /// Remembers that the image of `generation` lists neither the name nor
    /// a CNAME target: the one thing about a shared entry that changes,
    /// once per image.
    pub fn mark_clear_in(&self, generation: u64) {
        self.clear_in
            .store(generation.wrapping_add(1), Ordering::Relaxed);
    }

    /// When it stopped being fresh.
    pub fn expired_at(&self) -> Instant {
        self.stored + std::time::Duration::from_secs(u64::from(self.lifetime))
    }

    /// Counts one more question answered from it; the count so far (the
    /// question that brought it was the first), at most 255.
    pub fn asked(&self) -> u32 {
        let asked = self.asked.load(Ordering::Relaxed);
        if asked >= MAX_ASKED {
            return asked;
        }
        self.asked.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Whether less than a tenth of its lifetime is left (unbound's
    /// prefetch rule), at `now`.
    pub fn nearly_expired(&self, now: Instant) -> bool {
        let lifetime_ms = u64::from(self.lifetime) * 1000;
        let left = self.expired_at().saturating_duration_since(now);
        left.as_millis() as u64 * 10 <= lifetime_ms
    }

    /// Claims the one background fetch of this entry's question: `true`
    /// for the first caller only.
    pub fn claim_refetch(&self) -> bool {
        !self.refetching.swap(true, Ordering::Relaxed)
    }

    /// Gives a claimed refetch back (done, failed or never started), so a
    /// later question may claim it again.
    pub fn release_refetch(&self) {
        self.refetching.store(false, Ordering::Relaxed);
    }
}

/// How long an answer may be cached (seconds; 0: not at all): the smallest
/// TTL of a positive answer; for NXDOMAIN and NODATA the SOA's negative TTL
/// (RFC 2308: the smaller of its TTL and its minimum), capped by
/// `negative_max_ttl`; never for a negative answer without an SOA, or a
/// truncated one, or any other response code.
fn lifetime(message: &Message, c: &config::Cache) -> u32 {
    if message.metadata.truncation {
        return 0;
    }
    match message.metadata.response_code {
        ResponseCode::NoError if !message.answers.is_empty() => message
            .answers
            .iter()
            .map(|r| r.ttl.clamp(c.min_ttl, c.max_ttl))
            .min()
            .unwrap_or(0),
        ResponseCode::NoError | ResponseCode::NXDomain => message
            .authorities
            .iter()
            .find_map(|r| match &r.data {
                RData::SOA(soa) => Some(r.ttl.min(soa.minimum).min(c.negative_max_ttl)),
                _ => None,
            })
            .unwrap_or(0),
        _ => 0,
    }
}

/// The lower-case texts of the names the answer section's CNAMEs point to.
fn cname_targets(answers: &[Record]) -> Box<str> {
    let mut out = String::new();
    let mut text = TextBuffer::new();
    let mut wire = Vec::new();
    for record in answers {
        if let RData::CNAME(target) = &record.data {
            wire.clear();
            let mut encoder = BinEncoder::new(&mut wire);
            encoder.set_name_encoding(NameEncoding::Uncompressed);
            if target.0.emit(&mut encoder).is_ok() {
                out.push_str(text.lower(&wire));
                out.push(' ');
            }
        }
    }
    out.into()
}

/// Pointer targets in the question: where the name and each of its parents
/// start.
fn question_targets(name: &[u8]) -> Vec<u16> {
    let mut targets = Vec::with_capacity(8);
    let mut at = 0;
    for label in Labels::new(name) {
        // A name is at most 255 bytes, so these offsets fit easily.
        targets.push((12 + at) as u16);
        at += 1 + label.len();
    }
    targets
}

/// Writes records after the question, compressing names.
struct BodyWriter {
    /// Header placeholder, question, then the records so far.
    out: Vec<u8>,
    /// Offsets in `out` where a name that may be pointed to starts.
    targets: Vec<u16>,
    scratch: Vec<u8>,
    /// TTL offsets, relative to `base`.
    ttls: Vec<u16>,
    base: usize,
}

impl BodyWriter {
    fn record(&mut self, record: &Record, ttl: u32) -> Option<()> {
        self.name(&record.name)?;
        self.out
            .extend_from_slice(&u16::from(record.record_type()).to_be_bytes());
        self.out
            .extend_from_slice(&u16::from(record.dns_class).to_be_bytes());
        self.ttls
            .push(u16::try_from(self.out.len() - self.base).ok()?);
        self.out.extend_from_slice(&ttl.to_be_bytes());
        let length_at = self.out.len();
        self.out.extend_from_slice(&[0, 0]);
        match &record.data {
            RData::CNAME(name) => self.name(&name.0)?,
            RData::NS(name) => self.name(&name.0)?,
            RData::PTR(name) => self.name(&name.0)?,
            RData::MX(mx) => {
                self.out.extend_from_slice(&mx.preference.to_be_bytes());
                self.name(&mx.exchange)?;
            }
            RData::SOA(soa) => {
                self.name(&soa.mname)?;
                self.name(&soa.rname)?;
                for value in [
                    soa.serial,
                    soa.refresh as u32,
                    soa.retry as u32,
                    soa.expire as u32,
                    soa.minimum,
                ] {
                    self.out.extend_from_slice(&value.to_be_bytes());
                }
            }
            other => {
                self.scratch.clear();
                let mut encoder = BinEncoder::new(&mut self.scratch);
                encoder.set_name_encoding(NameEncoding::Uncompressed);
                other.emit(&mut encoder).ok()?;
                self.out.extend_from_slice(&self.scratch);
            }
        }
        let length = u16::try_from(self.out.len() - length_at - 2).ok()?;
        self.out[length_at..length_at + 2].copy_from_slice(&length.to_be_bytes());
        Some(())
    }

    /// Writes `name`: its longest suffix already written becomes a pointer.
    fn name(&mut self, name: &Name) -> Option<()> {
        let labels: Vec<&[u8]> = name.iter().collect();
        for skip in 0..labels.len() {
            let suffix = &labels[skip..];
            let found = self
                .targets
                .iter()
                .copied()
                .find(|&at| same_as_written(&self.out, usize::from(at), suffix));
            if let Some(at) = found {
                self.labels(&labels[..skip])?;
                self.out.extend_from_slice(&(0xc000 | at).to_be_bytes());
                return Some(());
            }
        }
        self.labels(&labels)?;
        self.out.push(0);
        Some(())
    }

    /// Writes labels in full, each a new pointer target.
    fn labels(&mut self, labels: &[&[u8]]) -> Option<()> {
        for label in labels {
            if self.out.len() <= MAX_POINTER {
                self.targets.push(self.out.len() as u16);
            }
            self.out.push(u8::try_from(label.len()).ok()?);
            self.out.extend_from_slice(label);
        }
        Some(())
    }
}

/// Whether the name written at `at` in `out` is `labels`, ignoring case.
fn same_as_written(out: &[u8], mut at: usize, labels: &[&[u8]]) -> bool {
    let mut labels = labels.iter();
    for _ in 0..MAX_HOPS {
        let Some(&len) = out.get(at) else {
            return false;
        };
        if len & 0xc0 == 0xc0 {
            let Some(&low) = out.get(at + 1) else {
                return false;
            };
            at = usize::from(u16::from_be_bytes([len & 0x3f, low]));
            continue;
        }
        let len = usize::from(len);
        if len == 0 {
            return labels.next().is_none();
        }
        let Some(written) = out.get(at + 1..at + 1 + len) else {
            return false;
        };
        match labels.next() {
            Some(label) if label.eq_ignore_ascii_case(written) => at += 1 + len,
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{MessageType, OpCode};
    use hickory_proto::rr::rdata::{A, CNAME, SOA};

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn message(answers: Vec<Record>, authorities: Vec<Record>, rcode: ResponseCode) -> Message {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        m.metadata.response_code = rcode;
        m.answers = answers;
        m.authorities = authorities;
        m
    }

    fn soa(owner: &str, ttl: u32, minimum: u32) -> Record {
        let data = SOA::new(
            name("ns.example.net."),
            name("h.example.net."),
            1,
            2,
            3,
            4,
            minimum,
        );
        Record::from_rdata(name(owner), ttl, RData::SOA(data))
    }

    /// A response to `question` with the entry's body, decoded by hickory.
    fn decode(question: &[u8], entry: &Entry) -> Message {
        let mut bytes = vec![0, 1, 0x81, 0x80 | entry.rcode(), 0, 1];
        for count in entry.counts() {
            bytes.extend_from_slice(&count.to_be_bytes());
        }
        bytes.extend_from_slice(question);
        bytes.extend_from_slice(&[0, 1, 0, 1]);
        bytes.extend_from_slice(entry.body());
        Message::from_vec(&bytes).expect("the body decodes after the question")
    }

    const WWW: &[u8] = b"\x03www\x07example\x03com\x00";

    fn chain() -> Message {
        let edge = name("edge.cdn.example.net.");
        message(
            vec![
                Record::from_rdata(
                    name("www.example.com."),
                    300,
                    RData::CNAME(CNAME(edge.clone())),
                ),
                Record::from_rdata(edge, 60, RData::A(A::new(192, 0, 2, 7))),
            ],
            vec![soa("example.net.", 900, 5)],
            ResponseCode::NoError,
        )
    }

    #[test]
    fn records_decode_after_a_question_in_any_case() {
        let entry = Entry::encode(WWW, RecordType::A, &chain(), &config::Cache::default()).unwrap();
        assert_eq!(entry.counts(), [2, 1, 0]);
        assert_eq!(entry.question_len(), WWW.len() + 4);
        for question in [WWW, b"\x03WwW\x07ExAmple\x03COM\x00"] {
            let back = decode(question, &entry);
            let original = chain();
            assert_eq!(back.answers.len(), 2);
            for (got, want) in back.answers.iter().zip(&original.answers) {
                assert_eq!(got.data, want.data);
                assert_eq!(got.ttl, want.ttl);
            }
            // The owner that is the question comes out as the client wrote it.
            let owner = back.answers[0].name.to_ascii();
            let asked = Name::from_labels(Labels::new(question)).unwrap().to_ascii();
            assert_eq!(owner, asked);
            assert_eq!(back.authorities[0].ttl, 900);
        }
        assert_eq!(entry.lifetime(), 60);
    }

    #[test]
    fn the_owner_equal_to_the_question_is_a_pointer_to_it() {
        let entry = Entry::encode(WWW, RecordType::A, &chain(), &config::Cache::default()).unwrap();
        assert_eq!(&entry.body()[..2], &[0xc0, 12]);
        let body = entry.body();
        // The A record's owner points at the CNAME target written before it.
        let ttl_of_a = usize::from(entry.ttl_offsets()[1]);
        assert_eq!(body[ttl_of_a - 6] & 0xc0, 0xc0);
    }

    #[test]
    fn ttl_offsets_point_at_each_ttl() {
        let entry = Entry::encode(WWW, RecordType::A, &chain(), &config::Cache::default()).unwrap();
        let ttls: Vec<u32> = entry
            .ttl_offsets()
            .iter()
            .map(|&at| {
                let at = usize::from(at);
                u32::from_be_bytes(entry.body()[at..at + 4].try_into().unwrap())
            })
            .collect();
        assert_eq!(ttls, [300, 60, 900]);
    }

    #[test]
    fn cname_targets_are_lower_case_texts() {
        let mut m = chain();
        m.answers[0].data = RData::CNAME(CNAME(name("Edge.CDN.example.net.")));
        let odd = Name::from_labels([&b"a b"[..], b"test"]).unwrap();
        m.answers.push(Record::from_rdata(
            name("x.example."),
            5,
            RData::CNAME(CNAME(odd)),
        ));
        let entry = Entry::encode(WWW, RecordType::A, &m, &config::Cache::default()).unwrap();
        let targets: Vec<&str> = entry.cname_targets().collect();
        assert_eq!(targets, ["edge.cdn.example.net", "a\\032b.test"]);
    }

    #[test]
    fn ttls_are_clamped_and_the_lifetime_follows() {
        let cfg = config::Cache {
            min_ttl: 100,
            max_ttl: 200,
            ..config::Cache::default()
        };
        let entry = Entry::encode(WWW, RecordType::A, &chain(), &cfg).unwrap();
        assert_eq!(entry.lifetime(), 100);
        let back = decode(WWW, &entry);
        assert_eq!(back.answers[0].ttl, 200);
        assert_eq!(back.answers[1].ttl, 100);
    }

    #[test]
    fn negative_answers_live_for_the_soa_negative_ttl() {
        let cfg = config::Cache::default();
        let nx = message(
            Vec::new(),
            vec![soa("example.com.", 300, 60)],
            ResponseCode::NXDomain,
        );
        assert_eq!(
            Entry::encode(WWW, RecordType::A, &nx, &cfg)
                .unwrap()
                .lifetime(),
            60
        );
        let bare = message(Vec::new(), Vec::new(), ResponseCode::NXDomain);
        assert_eq!(
            Entry::encode(WWW, RecordType::A, &bare, &cfg)
                .unwrap()
                .lifetime(),
            0
        );
        let fail = message(Vec::new(), Vec::new(), ResponseCode::ServFail);
        assert_eq!(
            Entry::encode(WWW, RecordType::A, &fail, &cfg)
                .unwrap()
                .lifetime(),
            0
        );
        let mut truncated = chain();
        truncated.metadata.truncation = true;
        assert_eq!(
            Entry::encode(WWW, RecordType::A, &truncated, &cfg)
                .unwrap()
                .lifetime(),
            0
        );
    }

    #[test]
    fn the_authority_soa_points_into_the_question() {
        let cfg = config::Cache::default();
        let nx = message(
            Vec::new(),
            vec![soa("example.com.", 300, 60)],
            ResponseCode::NXDomain,
        );
        let entry = Entry::encode(WWW, RecordType::A, &nx, &cfg).unwrap();
        // "example.com" starts 4 bytes into the question's name.
        assert_eq!(&entry.body()[..2], &[0xc0, 16]);
        assert_eq!(
            decode(WWW, &entry).authorities[0].name,
            name("example.com.")
        );
    }
}
