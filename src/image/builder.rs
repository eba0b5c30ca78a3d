//! [`ImageBuilder`]: collects the rules of every list, merges duplicates and
//! writes them out as one image in the layout of `format.rs`, ready for
//! [`Image`](super::Image) (`view.rs`) to read in place.
//!
//! The builder keeps only a 64-bit hash per rule name, never the names: 16
//! bytes per rule in one vector, sorted and merged in place when the image
//! is built, so building an image of a million rules needs some 16 MB, not a
//! heap of strings. Merging follows the matching rule: per (name, allow) one
//! entry is kept; it covers the subtree if any list gave the subtree form,
//! and it is attributed to the first list that added it with that flag.
//!
//! A list's own duplicates are dropped the same way, by sorting, when the
//! list is [settled](ImageBuilder::settle): the rules a list added are the
//! tail of the vector, so no per-list hash set is needed (for a million
//! names that set took more memory than the rules themselves).

use std::time::{SystemTime, UNIX_EPOCH};

use super::format::{
    self, BUILD_BUCKET_BITS, ENTRY, FORMAT_VERSION, HEADER_LEN, KEY_MASK, LIST_FLAG_ALLOW,
    LIST_RECORD, MAGIC, MAX_LIST_NAME, MAX_LISTS, PAYLOAD_ALLOW, PAYLOAD_LIST, PAYLOAD_SUBTREE,
    Section, field, name_hash, write_u32, write_u64,
};

/// Identifies a list within one image: its position in
/// [`ImageBuilder::add_list`] order, from 0.
pub type ListId = u16;

/// In a rule's second word: set for allow rules (sorts them after block
/// rules of the same name).
const RAW_ALLOW: u64 = 1 << 63;
/// In a rule's second word: where the insertion number starts.
const RAW_SEQ_SHIFT: u32 = 16;
/// In a rule's second word: the payload (list id and subtree flag).
const RAW_PAYLOAD: u64 = 0xffff;

/// Collects lists and rules and compiles them into an image.
///
/// ```
/// use ralo::image::{Image, ImageBuilder, Verdict};
///
/// let mut b = ImageBuilder::new();
/// let ads = b.add_list("ads", false);
/// b.add_rule(ads, "tracker.example", true, false);
/// let image = Image::open(b.build(1)).expect("a fresh image opens");
/// assert!(matches!(image.lookup("x.tracker.example"), Verdict::Blocked(_)));
/// ```
#[derive(Default)]
pub struct ImageBuilder {
    lists: Vec<(String, bool)>,
    /// (name hash, allow flag | insertion number | payload), in insertion
    /// order until [`ImageBuilder::merge`] sorts and merges them.
    rules: Vec<(u64, u64)>,
    /// The next insertion number: rules keep theirs when a list is settled.
    next_seq: u64,
    /// Whether `rules` is sorted and merged.
    merged: bool,
}

/// What [`ImageBuilder::settle`] did to the rules a list added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    /// Rules kept.
    pub kept: u64,
    /// Later copies of an earlier rule of the list (same name, subtree and
    /// allow), dropped.
    pub duplicates: u64,
    /// Distinct rules past `keep`, dropped (the latest added go first).
    pub left_out: u64,
}

impl std::fmt::Debug for ImageBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageBuilder")
            .field("lists", &self.lists.len())
            .field("rules", &self.rules.len())
            .finish()
    }
}

impl ImageBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a list (block or allow) by its config name; ids are given in
    /// call order from 0. Names longer than
    /// [`MAX_LIST_NAME`](super::MAX_LIST_NAME) bytes are cut.
    ///
    /// # Panics
    ///
    /// If more than [`MAX_LISTS`](super::MAX_LISTS) lists are registered; the
    /// config loader refuses that many lists long before.
    pub fn add_list(&mut self, name: &str, allow: bool) -> ListId {
        assert!(
            self.lists.len() < MAX_LISTS,
            "an image holds at most {MAX_LISTS} lists"
        );
        let mut end = name.len().min(MAX_LIST_NAME);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let id = self.lists.len() as ListId; // < MAX_LISTS = 4096, fits a u16
        self.lists.push((name[..end].to_owned(), allow));
        id
    }

    /// Adds one rule. `name` is already normalized (lowercase ASCII, no
    /// trailing dot; a trailing dot is dropped anyway and an empty name is
    /// ignored). `subtree`: the rule also covers every subdomain. `allow`: an
    /// allow rule.
    ///
    /// # Panics
    ///
    /// If `list` was not returned by [`add_list`](Self::add_list) on this
    /// builder.
    pub fn add_rule(&mut self, list: ListId, name: &str, subtree: bool, allow: bool) {
        assert!(
            usize::from(list) < self.lists.len(),
            "list id {list} was not registered with add_list"
        );
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() {
            return;
        }
        let payload = u64::from(list) | if subtree { PAYLOAD_SUBTREE } else { 0 };
        let seq = self.next_seq << RAW_SEQ_SHIFT;
        self.next_seq += 1;
        let allow = if allow { RAW_ALLOW } else { 0 };
        self.rules.push((name_hash(name), allow | seq | payload));
        self.merged = false;
    }

    /// Where the next rule goes: pass it to [`settle`](Self::settle) or
    /// [`discard`](Self::discard) once a list's rules are added.
    pub fn mark(&self) -> usize {
        self.rules.len()
    }

    /// Settles the rules added since `mark`: drops later copies of an
    /// earlier rule (same name, subtree and allow) and keeps at most `keep`
    /// of the rest, the first added.
    ///
    /// # Panics
    ///
    /// If `mark` is past the rules held, or rules were merged since it was
    /// taken (by [`len`](Self::len)).
    pub fn settle(&mut self, mark: usize, keep: u64) -> Settled {
        let tail = self.tail(mark);
        let before = tail.len() as u64;
        // Equal rules side by side, the first added first.
        tail.sort_unstable_by_key(|&(hash, raw)| {
            (hash, raw & RAW_ALLOW, raw & PAYLOAD_SUBTREE, raw)
        });
        let mut kept = 0;
        for i in 0..tail.len() {
            let same = |(h, r): (u64, u64), (g, q): (u64, u64)| {
                h == g && (r ^ q) & (RAW_ALLOW | PAYLOAD_SUBTREE) == 0
            };
            if kept == 0 || !same(tail[kept - 1], tail[i]) {
                tail[kept] = tail[i];
                kept += 1;
            }
        }
        let distinct = kept as u64;
        let keep = usize::try_from(keep.min(distinct)).unwrap_or(kept);
        if keep < kept {
            tail[..kept].select_nth_unstable_by_key(keep, |&(_, raw)| raw & !RAW_ALLOW);
        }
        self.rules.truncate(mark + keep);
        Settled {
            kept: keep as u64,
            duplicates: before - distinct,
            left_out: distinct - keep as u64,
        }
    }

    /// The (name hash, allow) of each rule added since `mark`.
    pub fn rules_since(&self, mark: usize) -> impl Iterator<Item = (u64, bool)> + '_ {
        self.rules[mark.min(self.rules.len())..]
            .iter()
            .map(|&(hash, raw)| (hash, raw & RAW_ALLOW != 0))
    }

    /// Drops every rule added since `mark` (a list whose text failed part
    /// way through).
    pub fn discard(&mut self, mark: usize) {
        self.rules.truncate(mark);
    }

    /// The rules added since `mark`, checked to be unmerged.
    fn tail(&mut self, mark: usize) -> &mut [(u64, u64)] {
        assert!(
            mark <= self.rules.len() && (mark == self.rules.len() || !self.merged),
            "the mark {mark} is not one of this builder's unmerged rules"
        );
        &mut self.rules[mark..]
    }

    /// Sorts the rules by name hash and keeps one per (name, allow): the
    /// first added, turned into the first subtree rule if a later one is.
    fn merge(&mut self) {
        if self.merged {
            return;
        }
        self.rules.sort_unstable();
        let rules = &mut self.rules;
        let mut kept = 0;
        let mut i = 0;
        while i < rules.len() {
            let (hash, first) = rules[i];
            let mut entry = first;
            let mut j = i + 1;
            while j < rules.len()
                && rules[j].0 == hash
                && rules[j].1 & RAW_ALLOW == first & RAW_ALLOW
            {
                let later = rules[j].1;
                if later & PAYLOAD_SUBTREE != 0 && entry & PAYLOAD_SUBTREE == 0 {
                    entry = later;
                }
                j += 1;
            }
            rules[kept] = (hash, entry);
            kept += 1;
            i = j;
        }
        rules.truncate(kept);
        self.merged = true;
    }

    /// Makes room for about `additional` more rules at once, so that a
    /// large list does not grow the table step by step (each step holds the
    /// old table and the new one).
    pub fn reserve(&mut self, additional: usize) {
        self.rules.reserve(additional);
    }

    /// Rules added so far, after merging duplicates (merging them now).
    pub fn len(&mut self) -> usize {
        self.merge();
        self.rules.len()
    }

    /// Whether no rule has been added.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Compiles the image. `generation` goes into the header (monotonic, given
    /// by the updater); the creation time is now.
    ///
    /// # Panics
    ///
    /// With more than `u32::MAX` rules (the bucket index holds `u32`s).
    pub fn build(self, generation: u64) -> Vec<u8> {
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.build_at(generation, created)
    }

    /// [`build`](Self::build) with a given creation time, so that equal
    /// inputs give equal bytes.
    pub(crate) fn build_at(mut self, generation: u64, created: u64) -> Vec<u8> {
        self.merge();
        let n = self.rules.len();
        assert!(
            u32::try_from(n).is_ok(),
            "an image holds at most 2^32-1 rules"
        );
        let bits = bucket_bits(n);
        let buckets = 1usize << bits;

        // (bucket, entry) sorted: the on-disk order, made in place.
        let mut items = std::mem::take(&mut self.rules);
        for item in &mut items {
            let (h, raw) = *item;
            let key = (h << bits) & KEY_MASK;
            let allow = if raw & RAW_ALLOW != 0 {
                PAYLOAD_ALLOW
            } else {
                0
            };
            *item = (h >> (64 - bits), key | (raw & RAW_PAYLOAD) | allow);
        }
        items.sort_unstable();

        let mut names = Vec::new();
        let mut name_spans = Vec::with_capacity(self.lists.len());
        for (name, _) in &self.lists {
            // At most MAX_LISTS names of at most MAX_LIST_NAME bytes: < 2^24.
            name_spans.push((names.len() as u32, name.len() as u32));
            names.extend_from_slice(name.as_bytes());
        }

        let sizes = [
            (buckets + 1) * 4,
            n * ENTRY,
            self.lists.len() * LIST_RECORD,
            names.len(),
        ];
        let mut offsets = [0usize; 4];
        let mut at = HEADER_LEN;
        for (offset, size) in offsets.iter_mut().zip(sizes) {
            *offset = at;
            at = (at + size).next_multiple_of(8);
        }
        let total = offsets[3] + sizes[3];
        let mut out = vec![0u8; total];

        out[..8].copy_from_slice(&MAGIC);
        write_u32(&mut out, field::VERSION, FORMAT_VERSION);
        write_u32(&mut out, field::HEADER_LEN, HEADER_LEN as u32);
        write_u64(&mut out, field::IMAGE_LEN, total as u64);
        write_u64(&mut out, field::GENERATION, generation);
        write_u64(&mut out, field::CREATED, created);
        write_u64(&mut out, field::RULE_COUNT, n as u64);
        write_u32(&mut out, field::LIST_COUNT, self.lists.len() as u32);
        write_u32(&mut out, field::BUCKET_BITS, bits);
        for (section, (offset, size)) in Section::ALL.into_iter().zip(offsets.iter().zip(sizes)) {
            write_u64(&mut out, section.field(), *offset as u64);
            write_u64(&mut out, section.field() + 8, size as u64);
        }

        // Bucket index: index[b] = entries in buckets before b.
        let mut per_list = vec![0u64; self.lists.len()];
        let mut next_bucket = 0usize;
        for (i, &(bucket, entry)) in items.iter().enumerate() {
            // bucket < 2^bits, so it fits a usize; i < n fits a u32 (asserted).
            while next_bucket <= bucket as usize {
                write_u32(&mut out, offsets[0] + next_bucket * 4, i as u32);
                next_bucket += 1;
            }
            write_u64(&mut out, offsets[1] + i * ENTRY, entry);
            if let Some(count) = per_list.get_mut((entry & PAYLOAD_LIST) as usize) {
                *count += 1;
            }
        }
        while next_bucket <= buckets {
            write_u32(&mut out, offsets[0] + next_bucket * 4, n as u32);
            next_bucket += 1;
        }

        for (id, ((_, allow), (name_at, name_len))) in self.lists.iter().zip(name_spans).enumerate()
        {
            let rec = offsets[2] + id * LIST_RECORD;
            write_u64(&mut out, rec, per_list[id]);
            write_u32(&mut out, rec + 8, name_at);
            write_u32(&mut out, rec + 12, name_len);
            write_u32(&mut out, rec + 16, if *allow { LIST_FLAG_ALLOW } else { 0 });
        }
        out[offsets[3]..total].copy_from_slice(&names);

        let sum = format::checksum(&out);
        write_u64(&mut out, field::CHECKSUM, sum);
        out
    }
}

/// Bucket bits for `n` rules: about 8 to 16 entries per bucket.
fn bucket_bits(n: usize) -> u32 {
    let log2 = n.checked_ilog2().unwrap_or(0);
    log2.saturating_sub(3)
        .clamp(*BUILD_BUCKET_BITS.start(), *BUILD_BUCKET_BITS.end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn len_counts_rules_after_merging() {
        let mut b = ImageBuilder::new();
        let a = b.add_list("a", false);
        let c = b.add_list("c", false);
        assert!(b.is_empty());
        b.add_rule(a, "x.com", false, false);
        b.add_rule(c, "x.com", true, false);
        b.add_rule(c, "x.com.", false, false);
        assert_eq!(b.len(), 1);
        b.add_rule(a, "x.com", false, true);
        assert_eq!(b.len(), 2);
        b.add_rule(a, "", true, false);
        assert_eq!(b.len(), 2);
    }

    #[test]
    fn settle_drops_a_lists_duplicates_and_keeps_its_first_rules() {
        let mut b = ImageBuilder::new();
        let a = b.add_list("a", false);
        b.add_rule(a, "x.com", false, false);
        let mark = b.mark();
        for name in ["d.com", "c.com", "d.com", "b.com", "c.com", "a.com"] {
            b.add_rule(a, name, false, false);
        }
        // Not a duplicate: the subtree form, and the allow form.
        b.add_rule(a, "d.com", true, false);
        b.add_rule(a, "d.com", false, true);
        let settled = b.settle(mark, 3);
        assert_eq!(
            settled,
            Settled {
                kept: 3,
                duplicates: 2,
                left_out: 3
            }
        );
        let kept: Vec<u64> = b.rules_since(mark).map(|(hash, _)| hash).collect();
        let mut want = vec![name_hash("d.com"), name_hash("c.com"), name_hash("b.com")];
        let mut got = kept.clone();
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want);
        assert_eq!(b.len(), 4);
    }

    #[test]
    fn settled_rules_merge_across_lists_as_unsettled_ones_do() {
        let make = |settle: bool| {
            let mut b = ImageBuilder::new();
            for (list, names) in [
                ("a", ["x.com", "y.com", "x.com"]),
                ("b", ["y.com", "z.com", "y.com"]),
            ] {
                let id = b.add_list(list, false);
                let mark = b.mark();
                for (i, name) in names.into_iter().enumerate() {
                    b.add_rule(id, name, i == 1, false);
                }
                if settle {
                    b.settle(mark, u64::MAX);
                }
            }
            b.build_at(1, 1)
        };
        assert_eq!(make(true), make(false));
    }

    #[test]
    fn discard_forgets_a_lists_rules() {
        let mut b = ImageBuilder::new();
        let a = b.add_list("a", false);
        let mark = b.mark();
        b.add_rule(a, "x.com", false, false);
        b.discard(mark);
        assert!(b.is_empty());
    }

    #[test]
    fn list_ids_follow_call_order() {
        let mut b = ImageBuilder::new();
        assert_eq!(b.add_list("first", false), 0);
        assert_eq!(b.add_list("second", true), 1);
    }

    #[test]
    fn same_input_builds_same_bytes() {
        let make = || {
            let mut b = ImageBuilder::new();
            let l = b.add_list("l", false);
            for i in 0..500 {
                b.add_rule(l, &format!("n{i}.example"), i % 2 == 0, i % 7 == 0);
            }
            b.build_at(3, 1_700_000_000)
        };
        assert_eq!(make(), make());
    }

    #[test]
    fn bucket_bits_grow_with_rule_count() {
        assert_eq!(bucket_bits(0), 4);
        assert_eq!(bucket_bits(100), 4);
        assert_eq!(bucket_bits(1 << 10), 7);
        assert_eq!(bucket_bits(1_000_000), 16);
        assert_eq!(bucket_bits(usize::MAX), 28);
    }

    #[test]
    fn long_list_names_are_cut_on_a_char_boundary() {
        let mut b = ImageBuilder::new();
        let long = "é".repeat(MAX_LIST_NAME);
        b.add_list(&long, false);
        let kept = &b.lists[0].0;
        assert!(kept.len() <= MAX_LIST_NAME && kept.len() >= MAX_LIST_NAME - 1);
    }

    #[test]
    #[should_panic(expected = "not registered")]
    fn rule_for_unknown_list_panics() {
        ImageBuilder::new().add_rule(0, "x.com", false, false);
    }
}
