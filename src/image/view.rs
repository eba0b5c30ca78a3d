//! [`Image`]: a rule image read in place from any byte buffer (a `Vec<u8>` in
//! tests, a read-only mapping in the server), and the [`Verdict`] of a lookup.
//!
//! [`Image::open`] checks the header and that every section lies inside the
//! buffer; [`Image::verify`] checks everything else (checksum, order, ids,
//! names). Lookups read only through bounds-checked accessors, so even an
//! image that passed `open` alone cannot make them panic or read outside the
//! buffer; it can only make them give wrong answers, which `verify` rules out.
//! The byte layout is documented in `format.rs`.
//!
//! The image's bytes are held together with what borrows them, the regex
//! DFA deserialized in place (`regex.rs`), in one self-referential cell
//! (`self_cell`); the owner is the buffer behind a `Box<dyn ImageBytes>`,
//! so the cell is one type for every `B`.
//!
//! Lookups (`lookup.rs`) read the image through the accessors here;
//! how rules decide a name is there, under "Precedence".

use std::any::Any;

use super::builder::{GroupId, ListId};
use super::format::{
    self, CLIENT_MAC, CLIENT_NAME, CLIENT_NET, CLIENT_RECORD, ENTRY, Error, GROUP_RECORD,
    LIST_FLAG_ALLOW, LIST_RECORD, Layout, MAX_SETS, PAYLOAD_SET, REGEX_FLAG_ALLOW,
    REGEX_FLAG_IMPORTANT, REGEX_RECORD, WINDOW, field, read_u16, read_u32, read_u64,
    regex_checksum,
};
use super::regex::{self, Dfa};
use super::walk::Rank;
use crate::groups::{ClientId, Mac, Window};
use crate::querytypes::QueryTypes;

/// The rule that matched a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match {
    /// The list the rule is attributed to: of the lists that give it, the
    /// first (in config order) that applies.
    pub list: ListId,
    /// Whether the rule covers subdomains.
    pub subtree: bool,
    /// Labels in the matched rule name (its suffix of the query), at most
    /// 255; a regex covers the whole query.
    pub labels: u8,
    /// For a regex rule, its pattern's index ([`Image::regex`]).
    pub regex: Option<u32>,
    /// An important rule: adblock `$important`, or an allow rule of an
    /// allow list (`lookup.rs`, "Precedence").
    pub important: bool,
}

/// A regex rule, as the image records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegexRule<'a> {
    /// Its list.
    pub list: ListId,
    /// Which regex of its list it is, from 1.
    pub nth: u32,
    /// Its line in the list.
    pub line: u32,
    /// An allow rule.
    pub allow: bool,
    /// An important rule ([`Match::important`]).
    pub important: bool,
    /// The query types it applies to.
    pub types: QueryTypes,
    /// The pattern.
    pub pattern: &'a str,
}

/// What an image may be read from: any owned byte buffer that can cross
/// threads (`Vec<u8>`, a mapping).
pub trait ImageBytes: AsRef<[u8]> + Send + Sync + Any {
    /// The buffer, to give back from [`Image::into_inner`].
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: AsRef<[u8]> + Send + Sync + Any> ImageBytes for T {
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// What borrows the image's bytes: the bytes, and the regex DFA in them.
struct Parts<'a> {
    bytes: &'a [u8],
    dfa: Option<Dfa<'a>>,
}

self_cell::self_cell!(
    /// An image's buffer with the parts that borrow it.
    struct Held {
        owner: Box<dyn ImageBytes>,
        #[covariant]
        dependent: Parts,
    }
);

/// One way to recognise a device, as the image records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRecord<'a> {
    /// The id.
    pub id: ClientId,
    /// The groups it is in (bit `g` for group `g`).
    pub groups: u64,
    /// The device's name; `None` for a bare id in a group.
    pub name: Option<&'a str>,
}

/// The outcome of looking a name up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No rule matches.
    NotListed,
    /// A block rule decides (`lookup.rs`, "Precedence"): the most specific
    /// one of the highest rank that matched.
    Blocked(Match),
    /// An allow rule decides (the most specific one of the highest rank that
    /// matched); `overrides` is the most specific block rule that it beats,
    /// if any.
    Allowed {
        /// The allow rule.
        allow: Match,
        /// The block rule that would otherwise apply.
        overrides: Option<Match>,
    },
}

/// A lookup for some lists: the verdict, and whether any list has a
/// matching rule (see [`Image::lookup_labels_with`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// The verdict for the lists that apply.
    pub verdict: Verdict,
    /// Whether a rule of any list matches.
    pub listed: bool,
}

/// A rule image read in place from `B`.
pub struct Image<B: ImageBytes> {
    held: Held,
    pub(super) layout: Layout,
    bytes: std::marker::PhantomData<fn() -> B>,
}

impl<B: ImageBytes> std::fmt::Debug for Image<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image")
            .field("generation", &self.generation())
            .field("created_unix", &self.created_unix())
            .field("rules", &self.layout.rules)
            .field("lists", &self.layout.lists)
            .field("regexes", &self.layout.regexes)
            .field("bytes", &self.as_bytes().len())
            .finish()
    }
}

impl<B: ImageBytes> Image<B> {
    /// Cheap structural check: magic, version (a newer format version gets an
    /// error that says so), header fields, every section inside the buffer,
    /// section sizes consistent with the counts; then, when the image has
    /// regex rules, the regex DFA's own checksum and its deserialization in
    /// place (`DFA::from_bytes`, which validates it). Constant time, plus
    /// time linear in the DFA's bytes; the image's checksum is
    /// [`verify`](Self::verify)'s.
    pub fn open(bytes: B) -> Result<Self, Error> {
        let layout = Layout::read(bytes.as_ref())?;
        let owner: Box<dyn ImageBytes> = Box::new(bytes);
        let held = Held::try_new(owner, |owner| {
            let bytes = AsRef::<[u8]>::as_ref(&**owner);
            let dfa = match layout.regexes {
                0 => None,
                patterns => Some(open_dfa(bytes, &layout, patterns)?),
            };
            Ok::<_, Error>(Parts { bytes, dfa })
        })?;
        Ok(Image {
            held,
            layout,
            bytes: std::marker::PhantomData,
        })
    }

    /// Full check: checksum over the whole image, bucket index monotonic and
    /// consistent, entries sorted within each bucket, list sets in range and
    /// well formed, reserved bits clear, list and group names valid UTF-8,
    /// schedule windows valid, per-list counts right, answer records well
    /// formed and in order.
    /// `open` followed by `verify` means safe to serve. Linear time.
    pub fn verify(&self) -> Result<(), Error> {
        let b = self.as_bytes();
        let stored = read_u64(b, field::CHECKSUM);
        let computed = format::checksum(b);
        if stored != computed {
            return Err(Error::ChecksumMismatch { stored, computed });
        }

        let buckets = 1usize << self.layout.bits;
        if self.bucket_start(0) != 0 {
            return Err(Error::BadBucketIndex { bucket: 0 });
        }
        if self.bucket_start(buckets) != self.layout.rules {
            return Err(Error::BadBucketIndex {
                bucket: buckets as u64,
            });
        }
        let mut per_set = vec![0u64; self.layout.sets];
        let mut counted = vec![0u64; self.layout.lists];
        for bucket in 0..buckets {
            let (start, end) = (self.bucket_start(bucket), self.bucket_start(bucket + 1));
            if end < start || end > self.layout.rules {
                return Err(Error::BadBucketIndex {
                    bucket: bucket as u64 + 1,
                });
            }
            let mut previous = 0u64;
            for i in start..end {
                let entry = self.entry(i);
                if entry < previous {
                    return Err(Error::Unsorted { entry: i as u64 });
                }
                previous = entry;
                let set = entry & PAYLOAD_SET;
                // A `$denyallow` entry names its list past the sets.
                let count = match (set as usize).checked_sub(MAX_SETS) {
                    Some(list) => counted.get_mut(list),
                    None => per_set.get_mut(set as usize),
                };
                match count {
                    Some(count) => *count += 1,
                    None => {
                        return Err(Error::SetOutOfRange {
                            entry: i as u64,
                            set,
                            sets: self.layout.sets as u64,
                        });
                    }
                }
            }
        }

        let mut end = 0usize;
        for (set, count) in per_set.iter().enumerate() {
            let (start, stop) = self.set_range(set);
            let bad = || Error::BadSet { set: set as u64 };
            if start != end || stop <= start || stop > self.layout.members {
                return Err(bad());
            }
            end = stop;
            let mut last = None;
            for at in start..stop {
                let list = self.member(at);
                if usize::from(list) >= self.layout.lists || last.is_some_and(|l| l >= list) {
                    return Err(bad());
                }
                last = Some(list);
                counted[usize::from(list)] += count;
            }
            if set < self.layout.lists && (stop - start != 1 || self.member(start) as usize != set)
            {
                return Err(bad());
            }
        }
        if end != self.layout.members {
            return Err(Error::BadSet {
                set: self.layout.sets as u64,
            });
        }

        for window in 0..self.layout.windows {
            let w = self.layout.windows_at + window * WINDOW;
            let reserved = b[w + 1] != 0 || read_u16(b, w + 6) != 0;
            let valid = Window::new(b[w], read_u16(b, w + 2), read_u16(b, w + 4)).is_ok();
            if reserved || !valid {
                return Err(Error::ReservedBits {
                    what: "window",
                    index: window as u64,
                });
            }
        }
        for group in 0..self.layout.groups {
            if self.group_name_at(group).is_none() {
                return Err(Error::BadGroupName {
                    group: group as u64,
                });
            }
        }
        let known_groups = u64::MAX >> (64 - self.layout.groups);
        for client in 0..self.layout.clients {
            match self.client_at(client) {
                Some(record) if record.groups & !known_groups == 0 => {}
                None if self.scope_record(client).is_some() => {}
                _ => {
                    return Err(Error::BadClient {
                        client: client as u64,
                    });
                }
            }
        }
        let (mut any_allow, mut any_important) = (false, false);
        for i in 0..self.layout.regexes {
            let rec = self.layout.regexes_at + i * REGEX_RECORD;
            let (list, flags, types) =
                (read_u16(b, rec), read_u16(b, rec + 2), read_u32(b, rec + 4));
            let text = self.string(
                read_u32(b, rec + 12) as usize,
                read_u32(b, rec + 16) as usize,
            );
            any_allow |= flags & REGEX_FLAG_ALLOW != 0;
            any_important |= flags & REGEX_FLAG_IMPORTANT != 0;
            if usize::from(list) >= self.layout.lists
                || flags & !(REGEX_FLAG_ALLOW | REGEX_FLAG_IMPORTANT) != 0
                || types == 0
                || types > u32::from(u16::MAX)
                || read_u32(b, rec + 20) != 0
                || text.is_none_or(str::is_empty)
            {
                return Err(Error::BadRegexPattern { pattern: i as u64 });
            }
        }
        if any_allow != self.layout.regexes_allow || any_important != self.layout.regexes_important
        {
            return Err(Error::BadHeader {
                field: "regex flags",
                value: u64::from(read_u32(b, field::REGEX_FLAGS)),
            });
        }
        self.verify_answers()?;
        for (id, &counted) in counted.iter().enumerate() {
            let rec = self.layout.lists_at + id * LIST_RECORD;
            let flags_valid = u16::try_from(id).is_ok_and(|id| self.list_flags_valid(id));
            if !flags_valid || read_u32(b, rec + 36) != 0 {
                return Err(Error::ReservedBits {
                    what: "list",
                    index: id as u64,
                });
            }
            if self.list_name_at(id).is_none() {
                return Err(Error::BadListName { list: id as u64 });
            }
            let (first, count) = (
                read_u32(b, rec + 32) as usize,
                read_u32(b, rec + 20) as usize,
            );
            let groups = read_u64(b, rec + 24);
            if first.saturating_add(count) > self.layout.windows || groups & !known_groups != 0 {
                return Err(Error::BadPolicy { list: id as u64 });
            }
            let stored = read_u64(b, rec);
            if stored != counted {
                return Err(Error::ListCountMismatch {
                    list: id as u64,
                    stored,
                    counted,
                });
            }
        }
        Ok(())
    }

    /// Where the sections lie (for the answer section's reader,
    /// `answers.rs`).
    pub(super) fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The generation the updater gave this image.
    pub fn generation(&self) -> u64 {
        read_u64(self.as_bytes(), field::GENERATION)
    }

    /// When the image was built, in Unix seconds.
    pub fn created_unix(&self) -> u64 {
        read_u64(self.as_bytes(), field::CREATED)
    }

    /// Rules in the image (after merging duplicates).
    pub fn rule_count(&self) -> usize {
        self.layout.rules
    }

    /// Lists the image names.
    pub fn list_count(&self) -> usize {
        self.layout.lists
    }

    /// The config name of a list, or `None` for an unknown id.
    pub fn list_name(&self, id: ListId) -> Option<&str> {
        self.list_name_at(usize::from(id))
    }

    /// Whether a list was registered as an allow list, or `None` for an
    /// unknown id.
    pub fn list_is_allow(&self, id: ListId) -> Option<bool> {
        let rec = self.list_record(id)?;
        Some(read_u32(self.as_bytes(), rec + 16) & LIST_FLAG_ALLOW != 0)
    }

    /// Rules the list gives (after merging a name's copies: a rule that
    /// several lists give counts for each), or `None` for an unknown id.
    pub fn list_rule_count(&self, id: ListId) -> Option<u64> {
        let rec = self.list_record(id)?;
        Some(read_u64(self.as_bytes(), rec))
    }

    /// The groups a list applies to (bit `g` for group `g`), or `None` for
    /// an unknown id.
    pub fn list_groups(&self, id: ListId) -> Option<u64> {
        let rec = self.list_record(id)?;
        Some(read_u64(self.as_bytes(), rec + 24))
    }

    /// When a list applies (no window: at all times); windows that do not
    /// validate are left out (`verify` refuses them).
    pub fn list_windows(&self, id: ListId) -> impl Iterator<Item = Window> + '_ {
        let (first, count) = self.list_record(id).map_or((0, 0), |rec| {
            let b = self.as_bytes();
            (
                read_u32(b, rec + 32) as usize,
                read_u32(b, rec + 20) as usize,
            )
        });
        let end = first.saturating_add(count).min(self.layout.windows);
        (first.min(end)..end).filter_map(move |window| {
            let b = self.as_bytes();
            let w = self.layout.windows_at + window * WINDOW;
            Window::new(*b.get(w)?, read_u16(b, w + 2), read_u16(b, w + 4)).ok()
        })
    }

    /// The ways to recognise devices; records that do not decode are left
    /// out (`verify` refuses them).
    pub fn clients(&self) -> impl Iterator<Item = ClientRecord<'_>> + '_ {
        (0..self.layout.clients).filter_map(|i| self.client_at(i))
    }

    /// Groups the image names (at least `default`, group 0).
    pub fn group_count(&self) -> usize {
        self.layout.groups
    }

    /// The name of a group, or `None` for an unknown id.
    pub fn group_name(&self, id: GroupId) -> Option<&str> {
        self.group_name_at(usize::from(id))
    }

    /// The whole image.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.held.borrow_dependent().bytes
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> B {
        match self.held.into_owner().into_any().downcast::<B>() {
            Ok(bytes) => *bytes,
            // `open` boxed a `B`, and nothing else makes an `Image<B>`.
            Err(_) => unreachable!("an Image<B> holds a B"),
        }
    }

    /// The regex DFA, when the image has regex rules.
    pub(super) fn dfa(&self) -> Option<&Dfa<'_>> {
        self.held.borrow_dependent().dfa.as_ref()
    }

    /// Regex rules in the image.
    pub fn regex_count(&self) -> usize {
        self.layout.regexes
    }

    /// Regex rule `index`, or `None` past the last one or when its record
    /// does not decode (`verify` refuses that).
    pub fn regex(&self, index: u32) -> Option<RegexRule<'_>> {
        let i = usize::try_from(index).ok()?;
        let (list, rank, types) = self.regex_head(i)?;
        let b = self.as_bytes();
        let rec = self.layout.regexes_at + i * REGEX_RECORD;
        let pattern = self.string(
            read_u32(b, rec + 12) as usize,
            read_u32(b, rec + 16) as usize,
        )?;
        let first = (0..i)
            .rev()
            .take_while(|&j| self.regex_head(j).is_some_and(|(l, ..)| l == list))
            .count();
        Some(RegexRule {
            list,
            nth: first as u32 + 1,
            line: read_u32(b, rec + 8),
            allow: rank.allows(),
            important: rank.important(),
            types,
            pattern,
        })
    }

    /// The regex DFA's bytes when the image's patterns are `patterns`, in
    /// that order (for the builder of the next image to take over).
    pub(crate) fn regex_dfa_for<'p>(
        &self,
        mut patterns: impl ExactSizeIterator<Item = &'p str>,
    ) -> Option<&[u8]> {
        if patterns.len() != self.layout.regexes || self.layout.regexes == 0 {
            return None;
        }
        let same = (0..self.layout.regexes).all(|i| {
            let b = self.as_bytes();
            let rec = self.layout.regexes_at + i * REGEX_RECORD;
            let text = self.string(
                read_u32(b, rec + 12) as usize,
                read_u32(b, rec + 16) as usize,
            );
            text.is_some() && text == patterns.next()
        });
        let dfa = self.layout.dfa_at..self.layout.dfa_at + self.layout.dfa_len;
        same.then(|| self.as_bytes().get(dfa)).flatten()
    }

    /// List, rank and query types of regex rule `i`, if it is one.
    #[inline]
    pub(super) fn regex_head(&self, i: usize) -> Option<(ListId, Rank, QueryTypes)> {
        if i >= self.layout.regexes {
            return None;
        }
        let b = self.as_bytes();
        let rec = self.layout.regexes_at + i * REGEX_RECORD;
        let flags = read_u16(b, rec + 2);
        let rank = Rank::of(
            flags & REGEX_FLAG_ALLOW != 0,
            flags & REGEX_FLAG_IMPORTANT != 0,
        );
        let types = QueryTypes::from_bits(read_u32(b, rec + 4) as u16);
        Some((read_u16(b, rec), rank, types))
    }

    /// Entry index where a bucket starts; `bucket` ≤ 2^bits is inside the
    /// index section (its size is checked at open).
    #[inline]
    pub(super) fn bucket_start(&self, bucket: usize) -> usize {
        read_u32(self.as_bytes(), self.layout.buckets_at + bucket * 4) as usize
    }

    /// Entry `i`; `i < rules` is inside the entries section.
    #[inline]
    pub(super) fn entry(&self, i: usize) -> u64 {
        read_u64(self.as_bytes(), self.layout.entries_at + i * ENTRY)
    }

    /// The first list of `set` for which `applies` is true. A set below
    /// the list count is its own list alone (`verify` checks it), so the
    /// common case reads no set section.
    #[inline]
    pub(super) fn first_applying(
        &self,
        set: u64,
        applies: &impl Fn(ListId) -> bool,
    ) -> Option<ListId> {
        let set = set as usize;
        if set < self.layout.lists {
            let list = set as ListId; // < MAX_LISTS, fits a u16
            return applies(list).then_some(list);
        }
        let (start, stop) = self.set_range(set);
        (start..stop.min(self.layout.members))
            .map(|at| self.member(at))
            .find(|&list| applies(list))
    }

    /// Where set `set`'s members lie in the members section.
    fn set_range(&self, set: usize) -> (usize, usize) {
        let b = self.as_bytes();
        let at = self.layout.set_index_at + set * 4;
        (read_u32(b, at) as usize, read_u32(b, at + 4) as usize)
    }

    /// Member `at` of the members section.
    fn member(&self, at: usize) -> ListId {
        read_u16(self.as_bytes(), self.layout.members_at + at * 2)
    }

    /// Client record `i`, if it decodes: a known kind, zero reserved and
    /// unused bytes, a valid id, and a name in the string table.
    fn client_at(&self, i: usize) -> Option<ClientRecord<'_>> {
        if i >= self.layout.clients {
            return None;
        }
        let b = self.as_bytes();
        let rec = self.layout.clients_at + i * CLIENT_RECORD;
        let record = b.get(rec..rec + CLIENT_RECORD)?;
        let value = &record[24..40];
        let zero_from = |from: usize| value[from..].iter().all(|&v| v == 0);
        if record[3] != 0 || read_u32(record, 12) != 0 {
            return None;
        }
        let (kind, prefix, family) = (record[0], record[1], record[2]);
        let id = match (kind, family) {
            (CLIENT_NET, 4) if zero_from(4) => {
                let octets: [u8; 4] = value[..4].try_into().ok()?;
                let net = ipnet::Ipv4Net::new(octets.into(), prefix).ok()?;
                ClientId::Net(net.into())
            }
            (CLIENT_NET, 6) => {
                let octets: [u8; 16] = value.try_into().ok()?;
                let net = ipnet::Ipv6Net::new(octets.into(), prefix).ok()?;
                ClientId::Net(net.into())
            }
            (CLIENT_MAC, 0) if prefix == 0 && zero_from(6) => {
                let mac = Mac(value[..6].try_into().ok()?);
                (!mac.is_zero()).then_some(ClientId::Mac(mac))?
            }
            (CLIENT_NAME, 0) if prefix == 0 && zero_from(8) => {
                let host = self.string(read_u32(value, 0) as usize, read_u32(value, 4) as usize)?;
                match host.parse().ok()? {
                    ClientId::Name(name) if name == host => ClientId::Name(name),
                    _ => return None,
                }
            }
            _ => return None,
        };
        let name = self.string(read_u32(record, 4) as usize, read_u32(record, 8) as usize)?;
        Some(ClientRecord {
            id,
            groups: read_u64(record, 16),
            name: (!name.is_empty()).then_some(name),
        })
    }

    fn group_name_at(&self, id: usize) -> Option<&str> {
        if id >= self.layout.groups {
            return None;
        }
        let b = self.as_bytes();
        let rec = self.layout.groups_at + id * GROUP_RECORD;
        self.string(read_u32(b, rec) as usize, read_u32(b, rec + 4) as usize)
    }

    fn list_record(&self, id: ListId) -> Option<usize> {
        let id = usize::from(id);
        (id < self.layout.lists).then(|| self.layout.lists_at + id * LIST_RECORD)
    }

    fn list_name_at(&self, id: usize) -> Option<&str> {
        if id >= self.layout.lists {
            return None;
        }
        let b = self.as_bytes();
        let rec = self.layout.lists_at + id * LIST_RECORD;
        self.string(
            read_u32(b, rec + 8) as usize,
            read_u32(b, rec + 12) as usize,
        )
    }

    /// The string at `at` of `len` bytes in the string table, if it lies
    /// inside it and is UTF-8.
    pub(super) fn string(&self, at: usize, len: usize) -> Option<&str> {
        if at.checked_add(len)? > self.layout.strings_len {
            return None;
        }
        let start = self.layout.strings_at + at;
        std::str::from_utf8(self.as_bytes().get(start..start + len)?).ok()
    }
}

/// The regex DFA of an image whose layout `layout` read: its section's
/// checksum checked, then deserialized in place and its pattern count
/// compared with the table's.
fn open_dfa<'a>(bytes: &'a [u8], layout: &Layout, patterns: usize) -> Result<Dfa<'a>, Error> {
    let section = bytes
        .get(layout.dfa_at..layout.dfa_at + layout.dfa_len)
        .unwrap_or(&[]);
    let stored = read_u64(bytes, field::REGEX_SUM);
    let computed = regex_checksum(section);
    if stored != computed {
        return Err(Error::RegexChecksumMismatch { stored, computed });
    }
    let dfa = regex::deserialize(section).map_err(|reason| Error::BadRegexDfa { reason })?;
    let held = regex_automata::dfa::Automaton::pattern_len(&dfa);
    if held != patterns {
        return Err(Error::BadRegexDfa {
            reason: format!("it holds {held} patterns, the pattern table {patterns}"),
        });
    }
    Ok(dfa)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::ImageBuilder;
    use crate::image::format::Section;

    /// An image with one block list and one allow list.
    fn sample() -> Image<Vec<u8>> {
        let mut b = ImageBuilder::new();
        let ads = b.add_list("ads", false);
        let mine = b.add_list("mine", true);
        b.add_rule(ads, "tracker.example", true, false);
        b.add_rule(ads, "exact.example", false, false);
        b.add_rule(ads, "example.net", true, false);
        b.add_rule(mine, "ok.example.net", false, true);
        b.add_rule(mine, "good.example.net", true, true);
        b.add_rule(ads, "deep.good.example.net", true, false);
        let image = Image::open(b.build(7)).expect("fresh image opens");
        image.verify().expect("fresh image verifies");
        image
    }

    fn blocked(list: ListId, subtree: bool, labels: u8) -> Verdict {
        Verdict::Blocked(Match {
            list,
            subtree,
            labels,
            regex: None,
            important: false,
        })
    }

    /// Recomputes the checksum after a test edits the bytes.
    fn reseal(bytes: &mut [u8]) {
        let sum = format::checksum(bytes);
        bytes[field::CHECKSUM..field::CHECKSUM + 8].copy_from_slice(&sum.to_le_bytes());
    }

    fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
        bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn put_u64(bytes: &mut [u8], at: usize, v: u64) {
        bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }

    fn verify_error(bytes: Vec<u8>) -> Error {
        let image = Image::open(bytes).expect("structure still fine");
        image.verify().expect_err("verify must fail")
    }

    #[test]
    fn has_rule_finds_exact_entries_of_either_kind_and_form() {
        let mut b = ImageBuilder::new();
        let block = b.add_list("block", false);
        let allow = b.add_list("allow", true);
        b.add_rule(block, "ads.example", false, false);
        b.add_rule(block, "tracker.example", true, false);
        b.add_rule(allow, "ok.example", false, true);
        let image = Image::open(b.build(1)).unwrap();
        let has = |name, allow| image.has_rule(super::super::name_hash(name), allow);
        assert!(has("ads.example", false) && !has("ads.example", true));
        assert!(has("tracker.example", false));
        assert!(!has("x.tracker.example", false));
        assert!(has("ok.example", true) && !has("ok.example", false));
        assert!(!has("example", false));
    }

    #[test]
    fn exact_rule_matches_only_the_name() {
        let image = sample();
        assert_eq!(image.lookup("exact.example"), blocked(0, false, 2));
        assert_eq!(image.lookup("www.exact.example"), Verdict::NotListed);
    }

    #[test]
    fn subtree_rule_matches_the_name_and_its_subdomains() {
        let image = sample();
        assert_eq!(image.lookup("tracker.example"), blocked(0, true, 2));
        assert_eq!(image.lookup("a.tracker.example"), blocked(0, true, 2));
        assert_eq!(image.lookup("xtracker.example"), Verdict::NotListed);
    }

    #[test]
    fn parent_of_blocked_name_is_not_blocked() {
        let image = sample();
        assert_eq!(image.lookup("example"), Verdict::NotListed);
        assert_eq!(image.lookup("net"), Verdict::NotListed);
    }

    #[test]
    fn deep_subdomain_is_blocked_by_its_ancestor() {
        let image = sample();
        assert_eq!(
            image.lookup("a.b.c.d.e.f.g.tracker.example"),
            blocked(0, true, 2)
        );
    }

    #[test]
    fn allow_beats_block_and_reports_what_it_overrides() {
        let image = sample();
        let allow = Match {
            list: 1,
            subtree: false,
            labels: 3,
            regex: None,
            important: true,
        };
        let block = Match {
            list: 0,
            subtree: true,
            labels: 2,
            regex: None,
            important: false,
        };
        assert_eq!(
            image.lookup("ok.example.net"),
            Verdict::Allowed {
                allow,
                overrides: Some(block)
            }
        );
        // The exact allow does not cover subdomains.
        assert_eq!(image.lookup("x.ok.example.net"), blocked(0, true, 2));
    }

    #[test]
    fn allow_beats_a_more_specific_block_and_reports_it() {
        let image = sample();
        let allow = Match {
            list: 1,
            subtree: true,
            labels: 3,
            regex: None,
            important: true,
        };
        let block = Match {
            list: 0,
            subtree: true,
            labels: 4,
            regex: None,
            important: false,
        };
        assert_eq!(
            image.lookup("x.deep.good.example.net"),
            Verdict::Allowed {
                allow,
                overrides: Some(block)
            }
        );
    }

    #[test]
    fn lookup_ignores_case_and_one_trailing_dot() {
        let image = sample();
        assert_eq!(image.lookup("A.Tracker.EXAMPLE."), blocked(0, true, 2));
        assert_eq!(image.lookup("exact.example."), blocked(0, false, 2));
    }

    #[test]
    fn root_and_empty_queries_are_not_listed() {
        let image = sample();
        assert_eq!(image.lookup(""), Verdict::NotListed);
        assert_eq!(image.lookup("."), Verdict::NotListed);
        assert_eq!(image.lookup_labels(std::iter::empty()), Verdict::NotListed);
    }

    #[test]
    fn lookup_labels_agrees_with_lookup() {
        let image = sample();
        for name in [
            "exact.example",
            "a.tracker.example",
            "ok.example.net",
            "x.deep.good.example.net",
            "Other.Name",
            "net",
        ] {
            let labels: Vec<&[u8]> = name.split('.').map(str::as_bytes).collect();
            assert_eq!(
                image.lookup_labels(labels.iter().copied()),
                image.lookup(name)
            );
            let rooted = labels.iter().copied().chain([&b""[..]]);
            assert_eq!(image.lookup_labels(rooted), image.lookup(name), "{name}");
        }
    }

    #[test]
    fn wire_label_with_a_dot_is_a_single_label() {
        let image = sample();
        let labels: [&[u8]; 2] = [b"exact", b"example"];
        assert_eq!(
            image.lookup_labels(labels.into_iter()),
            blocked(0, false, 2)
        );
        let labels: [&[u8]; 1] = [b"exact.example"];
        assert_eq!(image.lookup_labels(labels.into_iter()), Verdict::NotListed);
    }

    #[test]
    fn empty_image_lists_nothing() {
        let image = Image::open(ImageBuilder::new().build(1)).expect("opens");
        image.verify().expect("verifies");
        assert_eq!(image.rule_count(), 0);
        assert_eq!(image.list_count(), 0);
        assert_eq!(image.lookup("example.com"), Verdict::NotListed);
        assert_eq!(image.list_name(0), None);
    }

    #[test]
    fn lists_and_counts_round_trip() {
        let image = sample();
        assert_eq!(image.list_count(), 2);
        assert_eq!(image.rule_count(), 6);
        assert_eq!(image.list_name(0), Some("ads"));
        assert_eq!(image.list_name(1), Some("mine"));
        assert_eq!(image.list_name(2), None);
        assert_eq!(image.list_is_allow(0), Some(false));
        assert_eq!(image.list_is_allow(1), Some(true));
        assert_eq!(image.list_is_allow(2), None);
        assert_eq!(image.list_rule_count(0), Some(4));
        assert_eq!(image.list_rule_count(1), Some(2));
        assert_eq!(image.list_rule_count(9), None);
    }

    #[test]
    fn generation_and_creation_time_round_trip() {
        let image = sample();
        assert_eq!(image.generation(), 7);
        let now = SystemTimeSecs::now();
        assert!(image.created_unix() <= now && image.created_unix() + 60 > now);
        let bytes = image.into_inner();
        assert_eq!(Image::open(bytes).expect("reopens").generation(), 7);
    }

    struct SystemTimeSecs;
    impl SystemTimeSecs {
        fn now() -> u64 {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock after 1970")
                .as_secs()
        }
    }

    #[test]
    fn a_rule_given_by_several_lists_names_each_of_them() {
        let mut b = ImageBuilder::new();
        let one = b.add_list("one", false);
        let two = b.add_list("two", false);
        let three = b.add_list("three", false);
        b.add_rule(one, "x.com", false, false);
        b.add_rule(two, "x.com", true, false);
        b.add_rule(three, "x.com", true, false);
        let image = Image::open(b.build(1)).expect("opens");
        image.verify().expect("verifies");
        // The name itself: the first list; its subdomains: the first list
        // that gave the subtree form.
        assert_eq!(image.lookup("x.com"), blocked(one, false, 2));
        assert_eq!(image.lookup("a.x.com"), blocked(two, true, 2));
        for list in [one, two, three] {
            assert_eq!(image.list_rule_count(list), Some(1));
        }
        // Only the lists that apply count.
        let not_two = |list| list != two;
        assert_eq!(
            image.lookup_for("a.x.com", not_two),
            blocked(three, true, 2)
        );
        assert_eq!(
            image.lookup_for("a.x.com", |list| list == one),
            Verdict::NotListed
        );
        assert_eq!(
            image.lookup_for("x.com", |list| list == three),
            blocked(three, true, 2)
        );
    }

    #[test]
    fn an_allow_rule_of_a_list_that_does_not_apply_beats_nothing() {
        let mut b = ImageBuilder::new();
        let ads = b.add_list("ads", false);
        let kids = b.add_list("kids-allow", true);
        b.add_rule(ads, "x.com", true, false);
        b.add_rule(kids, "ok.x.com", false, true);
        let image = Image::open(b.build(1)).expect("opens");
        assert_eq!(
            image.lookup_for("ok.x.com", |list| list == ads),
            blocked(ads, true, 2)
        );
        assert!(matches!(image.lookup("ok.x.com"), Verdict::Allowed { .. }));
    }

    #[test]
    fn groups_and_schedules_round_trip() {
        let mut b = ImageBuilder::new();
        let ads = b.add_list("ads", false);
        let social = b.add_list("social", false);
        let kids = b.add_group("kids").expect("room for a group");
        let night: Window = "mon-fri 21:00-07:00".parse().unwrap();
        b.set_policy(social, 1 << kids, &[night]);
        let image = Image::open(b.build(1)).expect("opens");
        image.verify().expect("verifies");
        assert_eq!(image.group_count(), 2);
        assert_eq!(image.group_name(0), Some("default"));
        assert_eq!(image.group_name(kids), Some("kids"));
        assert_eq!(image.list_groups(ads), Some(1));
        assert_eq!(image.list_groups(social), Some(1 << kids));
        assert_eq!(image.list_windows(ads).count(), 0);
        assert_eq!(image.list_windows(social).collect::<Vec<_>>(), [night]);
    }

    #[test]
    fn clients_round_trip() {
        let mut b = ImageBuilder::new();
        b.add_group("kids").expect("room for a group");
        let ids = [
            ("192.168.1.64/28", 2, Some("kids-tablet")),
            ("fd00::50", 2, Some("kids-tablet")),
            ("aa:bb:cc:dd:ee:ff", 1, Some("tv")),
            ("tablet.lan", 3, None),
        ];
        for (id, groups, name) in ids {
            b.add_client(id.parse().unwrap(), groups, name);
        }
        let image = Image::open(b.build(1)).expect("opens");
        image.verify().expect("verifies");
        let got: Vec<_> = image
            .clients()
            .map(|c| (c.id.to_string(), c.groups, c.name.map(str::to_owned)))
            .collect();
        let want: Vec<_> = ids
            .iter()
            .map(|(id, groups, name)| (id.to_string(), *groups, name.map(str::to_owned)))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_client_in_a_group_the_image_lacks_is_refused() {
        let mut b = ImageBuilder::new();
        b.add_client("10.0.0.1".parse().unwrap(), 1 << 5, None);
        let bytes = b.build(1);
        let image = Image::open(bytes).expect("opens");
        assert!(matches!(
            image.verify(),
            Err(Error::BadClient { client: 0 })
        ));
    }

    #[test]
    fn changed_byte_fails_the_checksum() {
        let mut bytes = sample().into_inner();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(matches!(
            verify_error(bytes),
            Error::ChecksumMismatch { .. }
        ));
    }

    /// Byte offset of entry `i` and of the bucket index in `bytes`.
    fn entries_at(bytes: &[u8]) -> usize {
        read_u64(bytes, Section::Entries.field()) as usize
    }

    #[test]
    fn inconsistent_bucket_index_is_refused() {
        let good = sample().into_inner();
        let index = read_u64(&good, Section::Buckets.field()) as usize;
        let buckets = 1usize << read_u32(&good, field::BUCKET_BITS);
        for (bucket, value) in [(0, 1), (buckets, 5), (buckets / 2, 7)] {
            let mut bytes = good.clone();
            put_u32(&mut bytes, index + bucket * 4, value);
            reseal(&mut bytes);
            assert!(matches!(verify_error(bytes), Error::BadBucketIndex { .. }));
        }
    }

    #[test]
    fn unsorted_entries_are_refused() {
        let mut b = ImageBuilder::new();
        let l = b.add_list("l", false);
        for i in 0..64 {
            b.add_rule(l, &format!("n{i}.example"), false, false);
        }
        let mut bytes = b.build(1);
        let image = Image::open(bytes.clone()).expect("opens");
        let bucket = (0..16)
            .find(|&b| image.bucket_start(b + 1) - image.bucket_start(b) >= 2)
            .expect("64 rules in 16 buckets: some bucket has two");
        let first = image.bucket_start(bucket);
        let at = entries_at(&bytes) + first * ENTRY;
        let (x, y) = (read_u64(&bytes, at), read_u64(&bytes, at + 8));
        put_u64(&mut bytes, at, y);
        put_u64(&mut bytes, at + 8, x);
        reseal(&mut bytes);
        assert!(matches!(verify_error(bytes), Error::Unsorted { .. }));
    }

    #[test]
    fn entry_naming_a_missing_list_is_refused() {
        let mut bytes = sample().into_inner();
        let at = entries_at(&bytes);
        let entry = read_u64(&bytes, at);
        put_u64(&mut bytes, at, (entry & !PAYLOAD_SET) | 0x3FFF);
        reseal(&mut bytes);
        assert!(matches!(verify_error(bytes), Error::SetOutOfRange { .. }));
    }

    #[test]
    fn reserved_bits_are_refused() {
        let good = sample().into_inner();
        let rec = read_u64(&good, Section::Lists.field()) as usize;
        for (at, value) in [(rec + 16, 8), (rec + 16, 4), (rec + 36, 1)] {
            let mut bytes = good.clone();
            put_u32(&mut bytes, at, value);
            reseal(&mut bytes);
            assert!(matches!(verify_error(bytes), Error::ReservedBits { .. }));
        }
    }

    #[test]
    fn bad_list_names_are_refused() {
        let good = sample().into_inner();
        let rec = read_u64(&good, Section::Lists.field()) as usize;
        let strings = read_u64(&good, Section::Strings.field()) as usize;

        let mut bytes = good.clone();
        put_u32(&mut bytes, rec + 12, 1000);
        reseal(&mut bytes);
        assert!(matches!(
            verify_error(bytes),
            Error::BadListName { list: 0 }
        ));

        let mut bytes = good;
        bytes[strings] = 0xFF;
        reseal(&mut bytes);
        let image = Image::open(bytes).expect("opens");
        assert_eq!(image.list_name(0), None);
        assert!(matches!(
            image.verify(),
            Err(Error::BadListName { list: 0 })
        ));
    }

    #[test]
    fn wrong_list_rule_count_is_refused() {
        let mut bytes = sample().into_inner();
        let rec = read_u64(&bytes, Section::Lists.field()) as usize;
        put_u64(&mut bytes, rec, 99);
        reseal(&mut bytes);
        assert!(matches!(
            verify_error(bytes),
            Error::ListCountMismatch { .. }
        ));
    }

    #[test]
    fn every_rule_of_a_large_image_is_found() {
        let mut b = ImageBuilder::new();
        let l = b.add_list("l", false);
        for i in 0..20_000 {
            b.add_rule(l, &format!("n{i}.example"), i % 3 == 0, false);
        }
        let image = Image::open(b.build(1)).expect("opens");
        image.verify().expect("verifies");
        for i in 0..20_000 {
            let name = format!("n{i}.example");
            assert_eq!(image.lookup(&name), blocked(l, i % 3 == 0, 2), "{name}");
            assert_eq!(image.lookup(&format!("m{i}.example")), Verdict::NotListed);
        }
    }
}
