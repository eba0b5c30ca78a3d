//! The on-disk and in-memory layout of a rule image: header fields, section
//! table, entry and list-record encodings, the name hash, and the errors that
//! [`Image::open`](super::Image::open) and [`Image::verify`](super::Image::verify)
//! report.
//!
//! [`ImageBuilder`](super::ImageBuilder) (in `builder.rs`) writes this layout and
//! [`Image`](super::Image) (in `view.rs`) reads it in place. The intake and
//! the CLI rely on the header table below; any change to it, to the entry
//! encoding or to the hash is a new [`FORMAT_VERSION`].
//!
//! # Layout (format version 4, all integers little-endian)
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0   | 8  | magic `b"RALOIMG\0"` |
//! | 8   | 4  | format version, `u32` (= 4) |
//! | 12  | 4  | header length in bytes, `u32` (= 272) |
//! | 16  | 8  | checksum: xxh3-64 (seed 0) of bytes `24..image_len` |
//! | 24  | 8  | image length in bytes, `u64` (the whole buffer) |
//! | 32  | 8  | generation, `u64` (given by the updater, monotonic) |
//! | 40  | 8  | created, `u64` Unix seconds |
//! | 48  | 8  | rule count `n`, `u64` |
//! | 56  | 4  | list count `L`, `u32` (≤ [`MAX_LISTS`]) |
//! | 60  | 4  | bucket bits `B`, `u32` (1..=32; the builder uses 4..=28) |
//! | 64  | 16 | bucket index section: offset `u64`, length `u64` |
//! | 80  | 16 | entries section |
//! | 96  | 16 | list table section |
//! | 112 | 16 | string table section |
//! | 128 | 16 | set index section |
//! | 144 | 16 | set members section |
//! | 160 | 16 | schedule windows section |
//! | 176 | 16 | group table section |
//! | 192 | 16 | client table section |
//! | 208 | 16 | regex pattern table section |
//! | 224 | 16 | regex DFA section |
//! | 240 | 8  | regex DFA checksum: xxh3-64 (seed 0) of the DFA section |
//! | 248 | 4  | regex pattern count `P`, `u32` (≤ [`MAX_REGEXES`]) |
//! | 252 | 4  | regex flags `u32`: bit 0, some pattern allows; bit 1, some pattern is `$important` |
//! | 256 | 16 | answer section (since version 4) |
//!
//! Sections follow the header in that order, each starting on an 8-byte
//! boundary (zero padding between them); readers use the section table, not
//! the order.
//!
//! - **Bucket index**: `2^B + 1` `u32` entry indices. Bucket `b` holds the
//!   entries `index[b]..index[b + 1]`; `index[0] = 0`, `index[2^B] = n`, never
//!   decreasing. `B = clamp(floor(log2(n)) - 3, 4, 28)`, so about 8–16 entries
//!   per bucket and 0.25–0.5 bytes per rule.
//! - **Entries**: `n` `u64`, one per rule. With `h` the 64-bit hash of the
//!   rule name, the entry is in bucket `h >> (64 - B)` and reads
//!   `((h << B) & !0x1FFFF) | payload`: the 47 hash bits below the bucket
//!   bits, then 17 payload bits — bits 0–13 the list set, bit 14 subtree,
//!   bit 15 allow, bit 16 important (an adblock `$important` rule, or any
//!   allow rule of an allow list: see "Precedence" in `lookup.rs`). Entries
//!   ascend (as `u64`) within each bucket. One name has at most eight
//!   entries: block and allow, plain and important, each exact and subtree
//!   — besides those of `$denyallow` rules:
//! - **`$denyallow` entries**: a list set id of [`MAX_SETS`] + `l` (never a
//!   set) marks an entry of list `l` alone that belongs to a subtree rule
//!   with exemptions. With the subtree bit, it is the rule, filed under its
//!   name `S` like any entry. Without it, it is one exemption `D` (a name
//!   below `S`) of that list's rule of the same kind and importance on the
//!   name `labels(D) - labels(S)` labels shorter, filed under
//!   [`exemption_hash`]`(h(D), labels(S))`. A list has at most one such rule
//!   per name, kind and importance (the builder merges copies), so the
//!   exemption names its rule exactly; a lookup that meets the rule probes
//!   for its exemptions at the longer suffixes of the query. The builder
//!   keeps at most [`MAX_GUARDS`] such rules on the way from any name to the
//!   root, so a lookup holds them in a fixed array.
//! - **List table**: 40 bytes per list, in list-id order: rule count `u64`
//!   (entries whose set holds this list), name offset `u32` and name length
//!   `u32` into the string table, flags `u32` (bit 0 allow list, bit 1 a
//!   `$client` list, bit 2 its scope excludes, others zero), schedule
//!   window count `u32`, group mask `u64` (bit `g`: the list applies to
//!   group `g`), first schedule window `u32`, reserved `u32` (zero). A list
//!   with no window applies at all times. A `$client` list holds the rules
//!   of one list that share one `$client` value, under that list's name,
//!   groups and schedule; it applies only to the clients its scope records
//!   name (bit 2: to every client but those).
//! - **String table**: list and group names, UTF-8, concatenated.
//! - **Set index**: `S + 1` `u32` offsets into the set members (`S ≥ L`):
//!   set `s` is `members[index[s]..index[s + 1]]`, never empty, list ids
//!   strictly ascending. Set `s < L` is the list `s` alone, so an entry
//!   whose set is below `L` names its one list without reading the set
//!   sections; sets from `L` on are the combinations of lists that give
//!   the same rule.
//! - **Set members**: `u16` list ids.
//! - **Schedule windows**: 8 bytes each: days `u8` (bit 0 Monday … bit 6
//!   Sunday), zero `u8`, start `u16` and end `u16` in minutes of the local
//!   day (`start < 1440`, `1 ≤ end ≤ 1440`, `start ≠ end`; `end < start`
//!   crosses midnight), zero `u16`.
//! - **Group table**: 8 bytes per group (at most 64): name offset `u32` and
//!   name length `u32` into the string table. Group 0 is `default`, the
//!   group of every client that no other group names.
//! - **Client table**: 40 bytes per way to recognise a device: kind `u8`
//!   (1 an address range, 2 a MAC address, 3 a host name), prefix length
//!   `u8` (ranges), address family `u8` (4 or 6 for ranges, else 0), zero
//!   `u8`, the device's name offset `u32` and length `u32` in the string
//!   table (length 0: a bare id), zero `u32`, group mask `u64`, then 16
//!   value bytes: the range's address (IPv4 in the first 4), the MAC in the
//!   first 6, or a host name's offset `u32` and length `u32` in the string
//!   table; unused value bytes are zero. After the devices' records come
//!   the **scope records** of the `$client` lists, each list's in the order
//!   its value names them: kind 4 (an address range) or 5 (a device name),
//!   read as kinds 1 and 3 read theirs but for two fields: the zero `u32`
//!   at byte 12 holds the list id (a `$client` list's), and the group mask
//!   is zero; kind 4 has no device name, kind 5 names the device in the
//!   device name fields and has zero value bytes.
//! - **Regex pattern table**: 24 bytes per regex rule, in pattern order
//!   (list id, then line): list id `u16`, flags `u16` (bit 0 allow, bit 1
//!   important), query
//!   types `u32` (the `QueryTypes` mask in the low 16 bits, not zero),
//!   line `u32` in the list, the pattern's offset `u32` and length `u32`
//!   in the string table, zero `u32`. The texts are there for `ralo check`
//!   to quote; the server matches with the DFA only.
//! - **Regex DFA**: empty when `P = 0`; else one dense DFA of all `P`
//!   patterns (`regex-automata` 0.4, serialized little-endian, match kind
//!   *all*, unanchored), whose pattern `i` is the table's pattern `i`. It
//!   starts on an 8-byte boundary of the image, which keeps the `u32`
//!   alignment `DFA::from_bytes` needs when the image itself lies at an
//!   aligned address (a mapping, an allocation). `open` checks the regex
//!   checksum, then deserializes the DFA in place (validating it); a DFA
//!   that does not validate, or has another pattern count, is refused.
//! - **Answers**: 40 bytes per custom answer (`$dnsrewrite`, a hosts
//!   address served), ascending by (name hash, list id, line): the name's
//!   full 64-bit hash `u64` (as for entries), list id `u16`, flags `u8`
//!   (bit 0 subtree: the name's subdomains too; bit 1 off: an
//!   `@@$dnsrewrite` exception, which turns the name's rewrites off), rcode
//!   `u8` (0, 2, 3 or 5), record type `u16` (0: the rcode alone, 1 A, 28
//!   AAAA; A and AAAA only with rcode 0), zero `u16`, line `u32` in the
//!   list, zero `u32`, then 16 data bytes: the A address in the first 4 or
//!   the AAAA address; unused data bytes are zero, and an exception's
//!   rcode, type and data are all zero. The builder keeps at most
//!   `MAX_ANSWERS_PER_NAME` records of one list for one name and form.
//!   A lookup walks the name's suffixes
//!   as for entries and binary-searches each hash here, only when the
//!   section is not empty.
//!
//! # Why this layout
//!
//! A lookup hashes every suffix of the query in one right-to-left pass and
//! probes each: the bucket index gives the entry range; since keys are
//! uniform within a bucket, `lo + key·len / 2^64` is where the key should
//! sit, usually within an entry or two (a walk of at most 8 steps, then a
//! binary search, bounds the cost of a skewed bucket). The bucket and entry
//! reads of all suffixes are issued before any search, so that their cache
//! misses overlap. Nothing is pointer-based, so the bytes can be mapped
//! anywhere, and every offset is a section-relative index whose bounds `open`
//! has already checked. A rule costs 8 bytes of entry plus 0.25–0.5 bytes of
//! index; names themselves are not stored. Multi-byte reads go through
//! `from_le_bytes`, so the buffer needs no alignment.
//!
//! Names are compared by hash only. With `n` rules the chance that one probe
//! of a name that is not listed falsely matches is about `n / 2^(B + 47)`
//! (`B + 47` capped at 64): at 1M rules (`B = 16`) about 2^-43 per probe,
//! i.e. one false match in some 10^13 probes (format 3 kept 48 hash bits,
//! half these odds; the important bit took one).
//!
//! # The name hash
//!
//! Hashing works label by label from the rightmost label, so the hash of
//! every suffix falls out of one pass and wire-format labels (which may
//! contain a `.` byte) never collide with dotted text. With
//! `mum(a, b) = lo64(a·b) ^ hi64(a·b)` (128-bit product), `K0 =
//! 0xa0761d6478bd642f`, `K1 = 0xe7037ed1a0b428db`, `K2 = 0x8ebc6af09c88c6e3`
//! and `K3 = 0x589965cc75374cc3`:
//!
//! - a label `l` (ASCII-lowercased, read as little-endian `u64` words, the last
//!   one zero-padded) hashes to `fold(w => mum(h ^ w, K1))` starting from
//!   `h = mum(len(l) ^ K3, K0)`;
//! - the suffix state starts at `s = K2` and takes each label, right to left,
//!   as `s = mum(s ^ label_hash, K2)`; the state after a label is the hash of
//!   the name made of that label and the ones to its right.
//!
//! Per label this is one multiply per 8 bytes plus one to chain, and the
//! label hashes are independent of each other, so a CPU overlaps them; a
//! byte-at-a-time FNV-1a over the reversed name (the other candidate) has a
//! multiply per byte on one dependency chain and measured about a quarter
//! slower for all suffixes of a 4-label name.

use xxhash_rust::xxh3::xxh3_64;

/// The eight bytes every image starts with.
pub const MAGIC: [u8; 8] = *b"RALOIMG\0";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 4;
/// Length of the version-4 header in bytes.
pub const HEADER_LEN: usize = 272;
/// Most regex rules one image holds.
pub const MAX_REGEXES: usize = 1 << 16;
/// Most groups one image can name (a list's groups are a `u64` mask).
pub const MAX_GROUPS: usize = 64;
/// Most list sets one image can hold (set ids are 14 bits in an entry; the
/// last [`MAX_LISTS`] ids mark `$denyallow` entries).
pub const MAX_SETS: usize = (1 << 14) - MAX_LISTS;
/// Most `$denyallow` rules one name and its parents may have, together.
pub const MAX_GUARDS: usize = 16;
/// Most lists one image can name (list ids are 12 bits in an entry).
pub const MAX_LISTS: usize = 1 << 12;
/// List names longer than this many bytes are cut (on a character boundary).
pub const MAX_LIST_NAME: usize = 4096;

/// Field offsets in the header.
pub(crate) mod field {
    pub(crate) const VERSION: usize = 8;
    pub(crate) const HEADER_LEN: usize = 12;
    pub(crate) const CHECKSUM: usize = 16;
    /// First byte covered by the checksum.
    pub(crate) const CHECKED_FROM: usize = 24;
    pub(crate) const IMAGE_LEN: usize = 24;
    pub(crate) const GENERATION: usize = 32;
    pub(crate) const CREATED: usize = 40;
    pub(crate) const RULE_COUNT: usize = 48;
    pub(crate) const LIST_COUNT: usize = 56;
    pub(crate) const BUCKET_BITS: usize = 60;
    pub(crate) const SECTIONS: usize = 64;
    pub(crate) const REGEX_SUM: usize = 240;
    pub(crate) const REGEX_COUNT: usize = 248;
    pub(crate) const REGEX_FLAGS: usize = 252;
    /// The answer section's (offset, length), after the regex fields.
    pub(crate) const ANSWERS: usize = 256;
}

/// The sections, in section-table order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Section {
    Buckets = 0,
    Entries = 1,
    Lists = 2,
    Strings = 3,
    SetIndex = 4,
    SetMembers = 5,
    Windows = 6,
    Groups = 7,
    Clients = 8,
    RegexPatterns = 9,
    RegexDfa = 10,
    Answers = 11,
}

impl Section {
    pub(crate) const ALL: [Section; 12] = [
        Section::Buckets,
        Section::Entries,
        Section::Lists,
        Section::Strings,
        Section::SetIndex,
        Section::SetMembers,
        Section::Windows,
        Section::Groups,
        Section::Clients,
        Section::RegexPatterns,
        Section::RegexDfa,
        Section::Answers,
    ];

    /// Header offset of this section's (offset, length) pair.
    pub(crate) fn field(self) -> usize {
        match self {
            Section::Answers => field::ANSWERS,
            _ => field::SECTIONS + 16 * self as usize,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Section::Buckets => "bucket index",
            Section::Entries => "entries",
            Section::Lists => "list table",
            Section::Strings => "string table",
            Section::SetIndex => "set index",
            Section::SetMembers => "set members",
            Section::Windows => "schedule windows",
            Section::Groups => "group table",
            Section::Clients => "client table",
            Section::RegexPatterns => "regex pattern table",
            Section::RegexDfa => "regex DFA",
            Section::Answers => "answer section",
        }
    }
}

/// Bytes per list record.
pub(crate) const LIST_RECORD: usize = 40;
/// Bytes per schedule window.
pub(crate) const WINDOW: usize = 8;
/// Bytes per group record.
pub(crate) const GROUP_RECORD: usize = 8;
/// Bytes per client record.
pub(crate) const CLIENT_RECORD: usize = 40;
/// Client record kind: an address range.
pub(crate) const CLIENT_NET: u8 = 1;
/// Client record kind: a MAC address.
pub(crate) const CLIENT_MAC: u8 = 2;
/// Client record kind: a host name.
pub(crate) const CLIENT_NAME: u8 = 3;
/// Client record kind: an address range of a `$client` list's scope.
pub(crate) const SCOPE_NET: u8 = 4;
/// Client record kind: a device name of a `$client` list's scope.
pub(crate) const SCOPE_DEVICE: u8 = 5;
/// Bytes per regex pattern record.
pub(crate) const REGEX_RECORD: usize = 24;
/// Regex pattern record flags: an allow rule.
pub(crate) const REGEX_FLAG_ALLOW: u16 = 1;
/// Regex pattern record flags: an important rule.
pub(crate) const REGEX_FLAG_IMPORTANT: u16 = 2;
/// Regex header flags: some pattern allows.
pub(crate) const REGEXES_ALLOW: u32 = 1;
/// Regex header flags: some pattern is important.
pub(crate) const REGEXES_IMPORTANT: u32 = 2;
/// Bytes per answer record.
pub(crate) const ANSWER_RECORD: usize = 40;
/// Answer record flags: the name's subdomains too.
pub(crate) const ANSWER_SUBTREE: u8 = 1;
/// Answer record flags: an exception, no rewrite for the name.
pub(crate) const ANSWER_OFF: u8 = 2;
/// Bytes per entry.
pub(crate) const ENTRY: usize = 8;
/// Fewest and most bucket bits a reader accepts.
pub(crate) const BUCKET_BITS_RANGE: std::ops::RangeInclusive<u32> = 1..=32;
/// Bucket bits the builder chooses between.
pub(crate) const BUILD_BUCKET_BITS: std::ops::RangeInclusive<u32> = 4..=28;

/// Entry payload: list set bits.
pub(crate) const PAYLOAD_SET: u64 = 0x3FFF;
/// Entry payload: the rule also covers subdomains.
pub(crate) const PAYLOAD_SUBTREE: u64 = 1 << 14;
/// Entry payload: an allow rule.
pub(crate) const PAYLOAD_ALLOW: u64 = 1 << 15;
/// Entry payload: an important rule (`$important`, or an allow list's
/// allow), which outranks the plain rules of the other kind.
pub(crate) const PAYLOAD_IMPORTANT: u64 = 1 << 16;
/// Entry bits holding the hash.
pub(crate) const KEY_MASK: u64 = !0x1FFFF;
/// List record flags: an allow list.
pub(crate) const LIST_FLAG_ALLOW: u32 = 1;
/// List record flags: a `$client` list, for the clients of its scope.
pub(crate) const LIST_FLAG_SCOPED: u32 = 2;
/// List record flags: a `$client` list for every client but its scope's.
pub(crate) const LIST_FLAG_EXCLUDE: u32 = 4;

const K0: u64 = 0xa076_1d64_78bd_642f;
const K1: u64 = 0xe703_7ed1_a0b4_28db;
const K2: u64 = 0x8ebc_6af0_9c88_c6e3;
const K3: u64 = 0x5899_65cc_7537_4cc3;

/// Errors found while opening or verifying an image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The buffer does not start with [`MAGIC`].
    #[error(
        "not a ralo rule image (bad magic {found:02x?}): point the server at the file written by `ralo update`, or delete it and run the updater again"
    )]
    BadMagic {
        /// The first bytes found (zero-padded when shorter).
        found: [u8; 8],
    },
    /// The image has a format version this build cannot read.
    #[error("{}", version_advice(.found, .supported))]
    UnsupportedVersion {
        /// Version in the image.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// The buffer is shorter than the header says.
    #[error(
        "image truncated: it needs {needed} bytes but has {found}; the copy was cut short (full disk or interrupted write): run the updater again"
    )]
    Truncated {
        /// Bytes the image needs.
        needed: u64,
        /// Bytes present.
        found: u64,
    },
    /// The buffer is longer than the header says.
    #[error(
        "image has {found} bytes but its header says {expected}: something appended to it; run the updater again to rewrite it"
    )]
    TrailingBytes {
        /// Length recorded in the header.
        expected: u64,
        /// Length of the buffer.
        found: u64,
    },
    /// A header field holds a value this version never writes.
    #[error(
        "image header field `{field}` has the invalid value {value}: the image is corrupt; run the updater again to rebuild it"
    )]
    BadHeader {
        /// Name of the field.
        field: &'static str,
        /// The value found.
        value: u64,
    },
    /// A section does not lie inside the image after the header.
    #[error(
        "image section `{section}` (offset {offset}, {len} bytes) lies outside the {image_len}-byte image: the image is corrupt; run the updater again to rebuild it"
    )]
    SectionOutOfBounds {
        /// Name of the section.
        section: &'static str,
        /// Offset from the section table.
        offset: u64,
        /// Length from the section table.
        len: u64,
        /// Length of the whole image.
        image_len: u64,
    },
    /// A section's length disagrees with the counts in the header.
    #[error(
        "image section `{section}` is {found} bytes but the header counts need {expected}: the image is corrupt; run the updater again to rebuild it"
    )]
    SectionSize {
        /// Name of the section.
        section: &'static str,
        /// Length the counts imply.
        expected: u64,
        /// Length in the section table.
        found: u64,
    },
    /// The checksum does not match the bytes.
    #[error(
        "image checksum mismatch (header {stored:#018x}, computed {computed:#018x}): the bytes changed after the updater wrote them (disk or memory corruption, or a partial copy); run the updater again"
    )]
    ChecksumMismatch {
        /// Checksum in the header.
        stored: u64,
        /// Checksum of the bytes.
        computed: u64,
    },
    /// The bucket index is not a non-decreasing run from 0 to the rule count.
    #[error(
        "image bucket index is inconsistent at bucket {bucket}: the image is corrupt; run the updater again to rebuild it"
    )]
    BadBucketIndex {
        /// First bucket found wrong.
        bucket: u64,
    },
    /// Entries within a bucket are not in ascending order.
    #[error(
        "image entries are not sorted at entry {entry}: the image was not written by a correct builder; run the updater again to rebuild it"
    )]
    Unsorted {
        /// Index of the first entry out of order.
        entry: u64,
    },
    /// An entry names a list set the set index does not have.
    #[error(
        "image entry {entry} names list set {set} but the image has {sets} sets: the image is corrupt; run the updater again to rebuild it"
    )]
    SetOutOfRange {
        /// Index of the entry.
        entry: u64,
        /// Set id in the entry.
        set: u64,
        /// Sets in the image.
        sets: u64,
    },
    /// A list set is empty, out of order, names an unknown list, or (below
    /// the list count) is not its own list alone.
    #[error(
        "image list set {set} is malformed: the image is corrupt; run the updater again to rebuild it"
    )]
    BadSet {
        /// The set id.
        set: u64,
    },
    /// A list's schedule or groups are out of range.
    #[error(
        "image list {list} has a schedule window or group outside the image's tables: the image is corrupt; run the updater again to rebuild it"
    )]
    BadPolicy {
        /// The list id.
        list: u64,
    },
    /// A client record is malformed.
    #[error(
        "image client {client} is malformed: the image is corrupt; run the updater again to rebuild it"
    )]
    BadClient {
        /// The client record's index.
        client: u64,
    },
    /// A group name lies outside the string table or is not UTF-8.
    #[error(
        "image group {group} has a name outside the string table or not in UTF-8: the image is corrupt; run the updater again to rebuild it"
    )]
    BadGroupName {
        /// The group id.
        group: u64,
    },
    /// Bits that this version keeps zero are set.
    #[error(
        "image {what} {index} sets bits reserved in format version {FORMAT_VERSION}: the image is corrupt or from an incompatible writer; run the updater again"
    )]
    ReservedBits {
        /// `list` or `window`.
        what: &'static str,
        /// Index of the list or window.
        index: u64,
    },
    /// A list name lies outside the string table or is not UTF-8.
    #[error(
        "image list {list} has a name outside the string table or not in UTF-8: the image is corrupt; run the updater again to rebuild it"
    )]
    BadListName {
        /// The list id.
        list: u64,
    },
    /// The regex DFA's own checksum does not match its bytes.
    #[error(
        "image regex DFA checksum mismatch (header {stored:#018x}, computed {computed:#018x}): the bytes changed after the updater wrote them; run the updater again"
    )]
    RegexChecksumMismatch {
        /// Checksum in the header.
        stored: u64,
        /// Checksum of the bytes.
        computed: u64,
    },
    /// The regex DFA does not deserialize, or disagrees with the pattern
    /// table.
    #[error(
        "image regex DFA is unusable ({reason}): the image was not written by a correct builder or for another machine; run the updater again to rebuild it"
    )]
    BadRegexDfa {
        /// What is wrong.
        reason: String,
    },
    /// A regex pattern record is malformed.
    #[error(
        "image regex pattern {pattern} is malformed (its list, flags, query types or text): the image is corrupt; run the updater again to rebuild it"
    )]
    BadRegexPattern {
        /// The pattern's index.
        pattern: u64,
    },
    /// An answer record is malformed or out of order.
    #[error(
        "image answer {answer} is malformed or out of order (its list, flags, code, type or data): the image is corrupt; run the updater again to rebuild it"
    )]
    BadAnswer {
        /// The record's index.
        answer: u64,
    },
    /// A list's rule count disagrees with its entries.
    #[error(
        "image list {list} claims {stored} rules but {counted} entries name it: the image is corrupt; run the updater again to rebuild it"
    )]
    ListCountMismatch {
        /// The list id.
        list: u64,
        /// Count in the list table.
        stored: u64,
        /// Entries naming the list.
        counted: u64,
    },
}

fn version_advice(found: &u32, supported: &u32) -> String {
    if found > supported {
        format!(
            "image format version {found} is newer than this ralo understands (version {supported}): upgrade ralo so the server matches the updater, or rebuild the image with this version's `ralo update`"
        )
    } else {
        format!(
            "image format version {found} is older than this ralo understands (version {supported}): rebuild the image with this version's `ralo update`"
        )
    }
}

/// Where the sections of a structurally sound image lie: what
/// [`Image::open`](super::Image::open) learns from the header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    /// Bucket bits, in [`BUCKET_BITS_RANGE`].
    pub(crate) bits: u32,
    pub(crate) rules: usize,
    pub(crate) lists: usize,
    pub(crate) buckets_at: usize,
    pub(crate) entries_at: usize,
    pub(crate) lists_at: usize,
    pub(crate) strings_at: usize,
    pub(crate) strings_len: usize,
    /// List sets (at least `lists`).
    pub(crate) sets: usize,
    pub(crate) set_index_at: usize,
    pub(crate) members: usize,
    pub(crate) members_at: usize,
    pub(crate) windows: usize,
    pub(crate) windows_at: usize,
    pub(crate) groups: usize,
    pub(crate) groups_at: usize,
    pub(crate) clients: usize,
    pub(crate) clients_at: usize,
    /// Regex patterns.
    pub(crate) regexes: usize,
    pub(crate) regexes_at: usize,
    pub(crate) dfa_at: usize,
    pub(crate) dfa_len: usize,
    /// Some regex pattern allows.
    pub(crate) regexes_allow: bool,
    /// Answer records.
    pub(crate) answers: usize,
    pub(crate) answers_at: usize,
    /// Some regex pattern is important.
    pub(crate) regexes_important: bool,
}

impl Layout {
    /// Checks magic, version, header fields, that every section lies inside
    /// `b` after the header and that the section sizes match the counts.
    /// Constant time.
    pub(crate) fn read(b: &[u8]) -> Result<Layout, Error> {
        let found = b.len() as u64;

        let mut magic = [0u8; 8];
        let head = b.len().min(8);
        magic[..head].copy_from_slice(&b[..head]);
        if magic[..head] != MAGIC[..head] {
            return Err(Error::BadMagic { found: magic });
        }
        if b.len() < field::VERSION + 4 {
            return Err(Error::Truncated {
                needed: HEADER_LEN as u64,
                found,
            });
        }
        let version = read_u32(b, field::VERSION);
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated {
                needed: HEADER_LEN as u64,
                found,
            });
        }
        let header_len = read_u32(b, field::HEADER_LEN);
        if header_len as usize != HEADER_LEN {
            return Err(bad_header("header length", header_len.into()));
        }
        let image_len = read_u64(b, field::IMAGE_LEN);
        if image_len < HEADER_LEN as u64 {
            return Err(bad_header("image length", image_len));
        }
        if found < image_len {
            return Err(Error::Truncated {
                needed: image_len,
                found,
            });
        }
        if found > image_len {
            return Err(Error::TrailingBytes {
                expected: image_len,
                found,
            });
        }
        let bits = read_u32(b, field::BUCKET_BITS);
        if !BUCKET_BITS_RANGE.contains(&bits) {
            return Err(bad_header("bucket bits", bits.into()));
        }
        let rules = read_u64(b, field::RULE_COUNT);
        if rules > u64::from(u32::MAX) {
            return Err(bad_header("rule count", rules));
        }
        let lists = u64::from(read_u32(b, field::LIST_COUNT));
        if lists > MAX_LISTS as u64 {
            return Err(bad_header("list count", lists));
        }

        let mut at = [0usize; Section::ALL.len()];
        let mut len = [0usize; Section::ALL.len()];
        for section in Section::ALL {
            let offset = read_u64(b, section.field());
            let size = read_u64(b, section.field() + 8);
            let inside = offset >= HEADER_LEN as u64
                && offset.checked_add(size).is_some_and(|end| end <= image_len);
            if !inside {
                return Err(Error::SectionOutOfBounds {
                    section: section.name(),
                    offset,
                    len: size,
                    image_len,
                });
            }
            // Both are at most image_len, which is the length of a slice.
            at[section as usize] = offset as usize;
            len[section as usize] = size as usize;
        }
        let expected = [
            ((1u64 << bits) + 1) * 4,
            rules * ENTRY as u64,
            lists * LIST_RECORD as u64,
        ];
        for (section, want) in Section::ALL.into_iter().zip(expected) {
            let have = len[section as usize] as u64;
            if have != want {
                return Err(Error::SectionSize {
                    section: section.name(),
                    expected: want,
                    found: have,
                });
            }
        }
        // Sections sized by their own length: whole records, and at least
        // one set per list and one group.
        let records = |section: Section, size: usize, least: usize| {
            let have = len[section as usize];
            if have % size != 0 || have / size < least {
                let expected = (have / size).max(least) * size;
                return Err(Error::SectionSize {
                    section: section.name(),
                    expected: expected as u64,
                    found: have as u64,
                });
            }
            Ok(have / size)
        };
        let sets = records(Section::SetIndex, 4, lists as usize + 1)? - 1;
        if sets > MAX_SETS {
            return Err(bad_header("set count", sets as u64));
        }
        let members = records(Section::SetMembers, 2, lists as usize)?;
        let windows = records(Section::Windows, WINDOW, 0)?;
        let groups = records(Section::Groups, GROUP_RECORD, 1)?;
        if groups > MAX_GROUPS {
            return Err(bad_header("group count", groups as u64));
        }
        let clients = records(Section::Clients, CLIENT_RECORD, 0)?;
        let answers = records(Section::Answers, ANSWER_RECORD, 0)?;
        let regexes = read_u32(b, field::REGEX_COUNT) as usize;
        if regexes > MAX_REGEXES {
            return Err(bad_header("regex pattern count", regexes as u64));
        }
        let flags = read_u32(b, field::REGEX_FLAGS);
        if flags & !(REGEXES_ALLOW | REGEXES_IMPORTANT) != 0 {
            return Err(bad_header("regex flags", flags.into()));
        }
        if records(Section::RegexPatterns, REGEX_RECORD, 0)? != regexes {
            return Err(Error::SectionSize {
                section: Section::RegexPatterns.name(),
                expected: (regexes * REGEX_RECORD) as u64,
                found: len[Section::RegexPatterns as usize] as u64,
            });
        }
        let (dfa_at, dfa_len) = (
            at[Section::RegexDfa as usize],
            len[Section::RegexDfa as usize],
        );
        if (regexes == 0) != (dfa_len == 0) || dfa_at % 8 != 0 {
            return Err(Error::SectionSize {
                section: Section::RegexDfa.name(),
                expected: if regexes == 0 {
                    0
                } else {
                    dfa_len.max(1) as u64
                },
                found: dfa_len as u64,
            });
        }

        Ok(Layout {
            bits,
            // Both bounded by the section sizes just checked against the slice.
            rules: rules as usize,
            lists: lists as usize,
            buckets_at: at[Section::Buckets as usize],
            entries_at: at[Section::Entries as usize],
            lists_at: at[Section::Lists as usize],
            strings_at: at[Section::Strings as usize],
            strings_len: len[Section::Strings as usize],
            sets,
            set_index_at: at[Section::SetIndex as usize],
            members,
            members_at: at[Section::SetMembers as usize],
            windows,
            windows_at: at[Section::Windows as usize],
            groups,
            groups_at: at[Section::Groups as usize],
            clients,
            clients_at: at[Section::Clients as usize],
            regexes,
            regexes_at: at[Section::RegexPatterns as usize],
            dfa_at,
            dfa_len,
            regexes_allow: flags & REGEXES_ALLOW != 0,
            answers,
            answers_at: at[Section::Answers as usize],
            regexes_important: flags & REGEXES_IMPORTANT != 0,
        })
    }
}

fn bad_header(field: &'static str, value: u64) -> Error {
    Error::BadHeader { field, value }
}

/// Reads a little-endian `u64` at `at`, or 0 when it is out of range.
#[inline]
pub(crate) fn read_u64(bytes: &[u8], at: usize) -> u64 {
    match bytes.get(at..at.wrapping_add(8)) {
        Some(s) => s.try_into().map(u64::from_le_bytes).unwrap_or(0),
        None => 0,
    }
}

/// Reads a little-endian `u16` at `at`, or 0 when it is out of range.
#[inline]
pub(crate) fn read_u16(bytes: &[u8], at: usize) -> u16 {
    match bytes.get(at..at.wrapping_add(2)) {
        Some(s) => s.try_into().map(u16::from_le_bytes).unwrap_or(0),
        None => 0,
    }
}

/// Reads a little-endian `u32` at `at`, or 0 when it is out of range.
#[inline]
pub(crate) fn read_u32(bytes: &[u8], at: usize) -> u32 {
    match bytes.get(at..at.wrapping_add(4)) {
        Some(s) => s.try_into().map(u32::from_le_bytes).unwrap_or(0),
        None => 0,
    }
}

/// Writes a little-endian `u64` at `at` (the builder sizes `out` first).
pub(crate) fn write_u64(out: &mut [u8], at: usize, value: u64) {
    if let Some(s) = out.get_mut(at..at + 8) {
        s.copy_from_slice(&value.to_le_bytes());
    }
}

/// Writes a little-endian `u16` at `at` (the builder sizes `out` first).
pub(crate) fn write_u16(out: &mut [u8], at: usize, value: u16) {
    if let Some(s) = out.get_mut(at..at + 2) {
        s.copy_from_slice(&value.to_le_bytes());
    }
}

/// Writes a little-endian `u32` at `at` (the builder sizes `out` first).
pub(crate) fn write_u32(out: &mut [u8], at: usize, value: u32) {
    if let Some(s) = out.get_mut(at..at + 4) {
        s.copy_from_slice(&value.to_le_bytes());
    }
}

/// The checksum of a regex DFA section's bytes.
pub(crate) fn regex_checksum(dfa: &[u8]) -> u64 {
    xxh3_64(dfa)
}

/// The checksum of an image: xxh3-64 of everything after the checksum field.
pub(crate) fn checksum(image: &[u8]) -> u64 {
    xxh3_64(image.get(field::CHECKED_FROM..).unwrap_or(&[]))
}

#[inline]
fn mum(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// Lowercases the ASCII capitals in each byte of `w`, leaving other bytes.
#[inline]
fn lower_word(w: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low = w & LOW7;
    let at_least_a = low + 0x3f3f_3f3f_3f3f_3f3f; // high bit set where byte >= 'A'
    let past_z = low + 0x2525_2525_2525_2525; // high bit set where byte > 'Z'
    let upper = at_least_a & !past_z & !w & HIGH;
    w | (upper >> 2)
}

/// The hash of one label, case-insensitive for ASCII.
#[inline]
pub(crate) fn label_hash(label: &[u8]) -> u64 {
    let mut h = mum(label.len() as u64 ^ K3, K0);
    let mut words = label.chunks_exact(8);
    for w in &mut words {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(w);
        h = mum(h ^ lower_word(u64::from_le_bytes(buf)), K1);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        h = mum(h ^ lower_word(load_short(rest)), K1);
    }
    h
}

/// Reads 1 to 7 bytes as a little-endian `u64`, zero-padded, without a
/// `memcpy` call: two overlapping reads (or three single bytes) put every
/// byte at its place; overlapping bytes are equal, so OR is exact.
#[inline]
fn load_short(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    if len >= 4 {
        let head = bytes
            .first_chunk::<4>()
            .map_or(0, |b| u32::from_le_bytes(*b));
        let tail = bytes
            .last_chunk::<4>()
            .map_or(0, |b| u32::from_le_bytes(*b));
        u64::from(head) | u64::from(tail) << (8 * (len - 4))
    } else if let (Some(&a), Some(&b), Some(&c)) = (bytes.first(), bytes.get(len / 2), bytes.last())
    {
        u64::from(a) | u64::from(b) << (8 * (len / 2)) | u64::from(c) << (8 * (len - 1))
    } else {
        0
    }
}

/// Hashes a name one label at a time from the right; [`SuffixHash::hash`]
/// after each label is the hash of that suffix.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SuffixHash(u64);

impl SuffixHash {
    pub(crate) fn new() -> Self {
        SuffixHash(K2)
    }

    /// Takes the next label to the left.
    #[inline]
    pub(crate) fn push(&mut self, label: &[u8]) {
        self.0 = mum(self.0 ^ label_hash(label), K2);
    }

    /// The hash of the labels pushed so far.
    #[inline]
    pub(crate) fn hash(self) -> u64 {
        self.0
    }
}

/// Where an exemption of a `$denyallow` rule is filed: `name_hash` the hash
/// of the exempt name, `rule_labels` the labels of the rule's name.
#[inline]
pub(crate) fn exemption_hash(name_hash: u64, rule_labels: u8) -> u64 {
    mum(name_hash ^ K1, K3.wrapping_add(u64::from(rule_labels)))
}

/// The hash of a whole dotted name (labels split on `.`), as the image
/// files it (ASCII case ignored).
pub fn name_hash(name: &str) -> u64 {
    let mut h = SuffixHash::new();
    for label in name.rsplit('.') {
        h.push(label.as_bytes());
    }
    h.hash()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::ImageBuilder;

    /// The bytes of a small image with two lists.
    fn sample() -> Vec<u8> {
        let mut b = ImageBuilder::new();
        let ads = b.add_list("ads", false);
        let mine = b.add_list("mine", true);
        b.add_rule(ads, "tracker.example", true, false);
        b.add_rule(mine, "ok.tracker.example", false, true);
        b.build(7)
    }

    fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
        bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn put_u64(bytes: &mut [u8], at: usize, v: u64) {
        bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }

    #[test]
    fn fresh_image_layout_reads() {
        let bytes = sample();
        let layout = Layout::read(&bytes).expect("fresh image");
        assert_eq!((layout.rules, layout.lists, layout.bits), (2, 2, 4));
    }

    #[test]
    fn bad_magic_is_refused() {
        let mut bytes = sample();
        bytes[0] = b'X';
        assert!(matches!(Layout::read(&bytes), Err(Error::BadMagic { .. })));
        assert!(matches!(
            Layout::read(b"not an image at all"),
            Err(Error::BadMagic { .. })
        ));
    }

    #[test]
    fn newer_version_is_refused_with_a_message_saying_so() {
        let mut bytes = sample();
        put_u32(&mut bytes, field::VERSION, FORMAT_VERSION + 1);
        let err = Layout::read(&bytes).expect_err("newer version");
        assert!(matches!(
            err,
            Error::UnsupportedVersion {
                found: 5,
                supported: 4
            }
        ));
        assert!(err.to_string().contains("newer"), "{err}");
    }

    #[test]
    fn truncated_image_is_refused() {
        let bytes = sample();
        for len in [0, 5, 8, 20, HEADER_LEN - 1, HEADER_LEN, bytes.len() - 1] {
            let err = Layout::read(&bytes[..len]).expect_err("truncated");
            assert!(matches!(err, Error::Truncated { .. }), "len {len}: {err}");
        }
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = sample();
        bytes.push(0);
        assert!(matches!(
            Layout::read(&bytes),
            Err(Error::TrailingBytes { .. })
        ));
    }

    #[test]
    fn bad_header_fields_are_refused() {
        let good = sample();
        let cases: [(usize, u64, bool); 5] = [
            (field::HEADER_LEN, 64, false),
            (field::BUCKET_BITS, 0, false),
            (field::BUCKET_BITS, 40, false),
            (field::LIST_COUNT, MAX_LISTS as u64 + 1, false),
            (field::RULE_COUNT, 1 << 33, true),
        ];
        for (at, value, wide) in cases {
            let mut bytes = good.clone();
            if wide {
                put_u64(&mut bytes, at, value);
            } else {
                put_u32(&mut bytes, at, value as u32);
            }
            let err = Layout::read(&bytes).expect_err("bad header");
            assert!(matches!(err, Error::BadHeader { .. }), "{err}");
        }
        let mut bytes = good;
        put_u64(&mut bytes, field::IMAGE_LEN, 3);
        assert!(matches!(Layout::read(&bytes), Err(Error::BadHeader { .. })));
    }

    #[test]
    fn section_outside_the_image_is_refused() {
        let good = sample();
        for section in Section::ALL {
            let mut bytes = good.clone();
            put_u64(&mut bytes, section.field(), good.len() as u64);
            put_u64(&mut bytes, section.field() + 8, 8);
            let err = Layout::read(&bytes).expect_err("out of bounds");
            assert!(matches!(err, Error::SectionOutOfBounds { .. }), "{err}");
        }
        let mut bytes = good.clone();
        put_u64(&mut bytes, Section::Entries.field(), 8);
        assert!(matches!(
            Layout::read(&bytes),
            Err(Error::SectionOutOfBounds { .. })
        ));
        let mut bytes = good;
        put_u64(&mut bytes, Section::Strings.field() + 8, u64::MAX);
        assert!(matches!(
            Layout::read(&bytes),
            Err(Error::SectionOutOfBounds { .. })
        ));
    }

    #[test]
    fn section_size_disagreeing_with_counts_is_refused() {
        let mut bytes = sample();
        put_u64(&mut bytes, field::RULE_COUNT, 5);
        assert!(matches!(
            Layout::read(&bytes),
            Err(Error::SectionSize { .. })
        ));
    }

    #[test]
    fn lower_word_lowercases_only_ascii_capitals() {
        let all: Vec<u8> = (0..=255u8).collect();
        for chunk in all.chunks(8) {
            let mut buf = [0u8; 8];
            buf.copy_from_slice(chunk);
            let got = lower_word(u64::from_le_bytes(buf)).to_le_bytes();
            let want = buf.map(|b| b.to_ascii_lowercase());
            assert_eq!(got, want, "bytes {buf:?}");
        }
    }

    #[test]
    fn load_short_reads_bytes_in_little_endian_order() {
        let bytes = [1u8, 2, 3, 4, 5, 6, 7];
        for len in 0..=7 {
            let mut buf = [0u8; 8];
            buf[..len].copy_from_slice(&bytes[..len]);
            assert_eq!(
                load_short(&bytes[..len]),
                u64::from_le_bytes(buf),
                "len {len}"
            );
        }
    }

    #[test]
    fn name_hash_ignores_ascii_case() {
        assert_eq!(name_hash("Ads.EXAMPLE.com"), name_hash("ads.example.com"));
        assert_ne!(name_hash("ads.example.com"), name_hash("ads.example.org"));
    }

    #[test]
    fn label_hash_depends_on_length_not_just_padded_bytes() {
        assert_ne!(label_hash(b"a"), label_hash(b"a\0"));
        assert_ne!(label_hash(b""), label_hash(b"\0"));
        assert_ne!(label_hash(b"abcdefgh"), label_hash(b"abcdefgh\0"));
    }

    #[test]
    fn label_split_matters_for_the_hash() {
        let mut joined = SuffixHash::new();
        joined.push(b"a.b");
        assert_ne!(joined.hash(), name_hash("a.b"));
        assert_ne!(name_hash("ab.c"), name_hash("a.bc"));
    }

    #[test]
    fn suffix_hash_after_each_label_is_that_suffix_hash() {
        let mut h = SuffixHash::new();
        h.push(b"com");
        assert_eq!(h.hash(), name_hash("com"));
        h.push(b"example");
        assert_eq!(h.hash(), name_hash("example.com"));
        h.push(b"a-very-long-label-over-sixteen-bytes");
        assert_eq!(
            h.hash(),
            name_hash("a-very-long-label-over-sixteen-bytes.example.com")
        );
    }

    #[test]
    fn version_error_says_newer_or_older() {
        let newer = Error::UnsupportedVersion {
            found: 3,
            supported: 2,
        };
        assert!(newer.to_string().contains("newer"));
        let older = Error::UnsupportedVersion {
            found: 1,
            supported: 2,
        };
        assert!(older.to_string().contains("older"));
    }

    #[test]
    fn the_layout_doc_states_this_version_and_the_entry_bits() {
        let doc: String = include_str!("format.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(doc.contains(&format!("(format version {FORMAT_VERSION},")));
        assert!(doc.contains(&format!("format version, `u32` (= {FORMAT_VERSION})")));
        assert!(doc.contains(&format!("& !{:#X})", !KEY_MASK)));
        let hash_bits = KEY_MASK.count_ones();
        assert!(doc.contains(&format!("the {hash_bits} hash bits")));
        assert!(doc.contains(&format!("then {} payload bits", 64 - hash_bits)));
        for (bit, what) in [
            (PAYLOAD_SUBTREE, "subtree"),
            (PAYLOAD_ALLOW, "allow"),
            (PAYLOAD_IMPORTANT, "important"),
        ] {
            let text = format!("bit {} {what}", bit.trailing_zeros());
            assert!(doc.contains(&text), "{text}");
        }
        assert_eq!(
            PAYLOAD_SET | PAYLOAD_SUBTREE | PAYLOAD_ALLOW | PAYLOAD_IMPORTANT,
            !KEY_MASK
        );
        for (at, name) in [
            (field::VERSION, "format version"),
            (field::REGEX_FLAGS, "regex flags"),
        ] {
            let row = doc
                .lines()
                .find(|l| l.trim_start().starts_with('|') && l.contains(name))
                .expect("a row");
            assert!(row.trim_start().starts_with(&format!("| {at} ")), "{row}");
        }
    }

    #[test]
    fn the_layout_doc_states_the_client_list_flags_and_scope_kinds() {
        let doc: String = include_str!("format.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//!"))
            .collect::<Vec<_>>()
            .join(" ");
        let doc = doc.split_whitespace().collect::<Vec<_>>().join(" ");
        for (flag, what) in [
            (LIST_FLAG_ALLOW, "allow list"),
            (LIST_FLAG_SCOPED, "a `$client` list"),
            (LIST_FLAG_EXCLUDE, "its scope excludes"),
        ] {
            let text = format!("bit {} {what}", flag.trailing_zeros());
            assert!(doc.contains(&text), "{text}");
        }
        let kinds =
            format!("kind {SCOPE_NET} (an address range) or {SCOPE_DEVICE} (a device name)");
        assert!(doc.contains(&kinds), "{kinds}");
        assert!(doc.contains("the zero `u32` at byte 12 holds the list id"));
    }

    #[test]
    fn readers_return_zero_out_of_range() {
        let b = [1u8, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(read_u64(&b, 0), 1);
        assert_eq!(read_u64(&b, 1), 0);
        assert_eq!(read_u32(&b, 6), 0);
        assert_eq!(read_u64(&b, usize::MAX), 0);
    }

    #[test]
    fn the_layout_doc_agrees_with_the_constants() {
        let doc = include_str!("format.rs");
        let row = |offset: usize| {
            let start = format!("//! | {offset:<3} | ");
            doc.lines()
                .find(|line| line.starts_with(&start))
                .unwrap_or_else(|| panic!("no row for header offset {offset}"))
        };
        assert!(doc.contains(&format!("# Layout (format version {FORMAT_VERSION},")));
        assert!(row(field::VERSION).contains(&format!("(= {FORMAT_VERSION})")));
        assert!(row(field::HEADER_LEN).contains(&format!("(= {HEADER_LEN})")));
        for section in Section::ALL {
            let text = row(section.field());
            assert!(text.contains("| 16 |"), "{text}");
            let word = section.name().split(' ').next().unwrap_or_default();
            assert!(text.contains(word), "{:?}: {text}", section);
        }
        let last = Section::ALL.iter().map(|s| s.field() + 16).max();
        assert_eq!(last, Some(HEADER_LEN), "the section table ends the header");
    }
}
