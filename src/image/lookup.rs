//! Lookups in an [`Image`]: a name, as dotted text or as wire labels, for
//! the lists that apply to a client, to a [`Verdict`]. No allocation.
//!
//! # Precedence
//!
//! Every rule has one of four ranks; of the rules that match a name (at
//! any of its suffixes, or by regex), the highest rank decides, and the
//! match reported for it is its most specific one. From the highest:
//!
//! 1. an important allow: an allow rule of an allow list (the household's
//!    allowlists beat every block rule, as AdGuard Home checks its
//!    allowlists first), or an adblock `@@…$important` exception;
//! 2. an important block: an adblock `…$important` rule;
//! 3. an allow: an adblock `@@` exception of a block list;
//! 4. a block.
//!
//! Ranks 2 to 4 are AdGuard urlfilter's order. Within a rank nothing
//! depends on how specific a rule is, so an allow of `example.com` beats a
//! block of `ads.example.com` as an allow of `ads.example.com` beats a
//! block of `example.com` (urlfilter's too); specificity only picks which
//! match of the deciding rank is reported. A verdict that allows names the
//! block it beats: of the important blocks if one matched, else of the
//! plain ones.
//!
//! # Lookup order
//!
//! Rules on names first: the hash probes of the name's suffixes. The regex
//! DFA runs over the name's text only when some regex could outrank what
//! they found — nothing found, or a rank below the highest a regex of the
//! image has (the header's regex flags say whether some regex allows and
//! whether some is important) — and then says every pattern that matches;
//! of those for the question's type and a list that applies, the first of
//! each rank (pattern order: list, then line) counts. At one rank a rule
//! on a name comes before a regex.
//!
//! A `$denyallow` rule (`format.rs`, "`$denyallow` entries") is met like
//! any rule on a name, but held apart (`walk.rs`, `Guards`): each longer
//! suffix is probed once more per label count of the rules held, for
//! their exemptions, and a rule none of whose exemptions the query is, or
//! is below, joins the matches of its rank when the walk ends. Names
//! below no such rule pay nothing for them.

use super::builder::ListId;
use super::format::{
    KEY_MASK, MAX_SETS, PAYLOAD_ALLOW, PAYLOAD_IMPORTANT, PAYLOAD_SET, PAYLOAD_SUBTREE,
    exemption_hash,
};
use super::regex;
use super::view::{Image, ImageBytes, Lookup, Match, Verdict};
use super::walk::{BATCH, Best, Guard, Guards, Rank, Walk};

/// The record type number of A: what [`Image::lookup`] asks for.
const TYPE_A: u16 = 1;

/// Steps walked from an interpolated guess before binary search takes over.
const WALK: usize = 8;

impl<B: ImageBytes> Image<B> {
    /// Looks up a dotted name ("ads.example.com", case-insensitive, a
    /// trailing dot ignored) with every list applying, for an A question.
    /// No allocation.
    pub fn lookup(&self, name: &str) -> Verdict {
        self.lookup_for(name, |_| true)
    }

    /// [`lookup`](Self::lookup) with only the lists for which `applies` is
    /// true: the rules of the others are passed over, so a less specific
    /// rule of a list that applies can match instead.
    pub fn lookup_for(&self, name: &str, applies: impl Fn(ListId) -> bool) -> Verdict {
        self.lookup_with(name, TYPE_A, applies).verdict
    }

    /// [`lookup_for`](Self::lookup_for) for a question of record type
    /// `qtype` (regex rules may be for some types only), also saying
    /// whether a rule of any list matches (see
    /// [`lookup_labels_with`](Self::lookup_labels_with)). The regexes see
    /// the name lower-cased, without its trailing dot.
    pub fn lookup_with(&self, name: &str, qtype: u16, applies: impl Fn(ListId) -> bool) -> Lookup {
        let name = name.strip_suffix('.').unwrap_or(name).as_bytes();
        let found = self.names_with(name, &applies);
        let text = name.iter().map(u8::to_ascii_lowercase);
        self.with_regexes(found, text, qtype, &applies)
    }

    /// The rules on names alone for a dotted name without its trailing dot.
    fn names_with(&self, name: &[u8], applies: &impl Fn(ListId) -> bool) -> (Best, u8) {
        let mut walk = Walk::new();
        if !name.is_empty() {
            let mut end = name.len();
            for (i, &byte) in name.iter().enumerate().rev() {
                if byte == b'.' {
                    self.push_label(&mut walk, &name[i + 1..end], false, applies);
                    end = i;
                }
            }
            self.push_label(&mut walk, &name[..end], true, applies);
        }
        walk.finish()
    }

    /// Same, from DNS wire labels leftmost first (as hickory's `Name::iter()`
    /// gives them), for an A question; an empty rightmost label (the root)
    /// is ignored. No allocation. A label containing a `.` byte is one
    /// label, so it never matches a rule written with that dot as a
    /// separator. The regexes see the labels lower-cased and joined by `.`.
    pub fn lookup_labels<'a, I>(&self, labels: I) -> Verdict
    where
        I: DoubleEndedIterator<Item = &'a [u8]>,
    {
        self.lookup_labels_for(labels, |_| true)
    }

    /// [`lookup_labels`](Self::lookup_labels) with only the lists for which
    /// `applies` is true, as [`lookup_for`](Self::lookup_for).
    pub fn lookup_labels_for<'a, I>(&self, labels: I, applies: impl Fn(ListId) -> bool) -> Verdict
    where
        I: DoubleEndedIterator<Item = &'a [u8]>,
    {
        // The text is gathered only when there are regexes to run over it.
        let mut text = (self.layout.regexes > 0).then(JoinedText::new);
        let labels = labels.inspect(|label| {
            if let Some(text) = &mut text {
                text.prepend(label);
            }
        });
        let found = self.names_labels(labels, &applies);
        match text.as_ref().and_then(JoinedText::get) {
            Some(text) => {
                let text = text.iter().map(u8::to_ascii_lowercase);
                self.with_regexes(found, text, TYPE_A, &applies).verdict
            }
            // No regexes, or a text past any DNS name: rules on names only.
            None => found.0.verdict(),
        }
    }

    /// The verdict on the name with `labels` (as
    /// [`lookup_labels`](Self::lookup_labels) takes them) and lower-case
    /// text `text` (the server's: `domain::wire::lower_text`, which the
    /// regexes match) for a question of record type `qtype` and the lists
    /// for which `applies` is true; also whether a rule of any list
    /// matches, whether it applies or not: a name that no list has is
    /// clear for every client, what the answer cache keeps.
    pub fn lookup_labels_with<'a, I>(
        &self,
        labels: I,
        text: &str,
        qtype: u16,
        applies: impl Fn(ListId) -> bool,
    ) -> Lookup
    where
        I: DoubleEndedIterator<Item = &'a [u8]>,
    {
        let found = self.names_labels(labels, &applies);
        let text = text.bytes().map(|b| b.to_ascii_lowercase());
        self.with_regexes(found, text, qtype, &applies)
    }

    /// The rules on names alone, from wire labels.
    fn names_labels<'a, I>(&self, labels: I, applies: &impl Fn(ListId) -> bool) -> (Best, u8)
    where
        I: DoubleEndedIterator<Item = &'a [u8]>,
    {
        let mut labels = labels.rev().peekable();
        if labels.peek().is_some_and(|l| l.is_empty()) {
            labels.next();
        }
        let mut walk = Walk::new();
        while let Some(label) = labels.next() {
            let whole = labels.peek().is_none();
            self.push_label(&mut walk, label, whole, applies);
        }
        walk.finish()
    }

    /// Completes the lookup of rules on names `found` (and the name's label
    /// count) with the regex rules on the name's `text`, in the order of
    /// the module docs.
    #[inline]
    fn with_regexes(
        &self,
        (found, labels): (Best, u8),
        text: impl Iterator<Item = u8>,
        qtype: u16,
        applies: &impl Fn(ListId) -> bool,
    ) -> Lookup {
        let Some(dfa) = self.dfa() else {
            return found.lookup();
        };
        // The highest rank a regex of the image may have.
        let regex_top = match (self.layout.regexes_important, self.layout.regexes_allow) {
            (true, _) => Rank::ImportantAllow,
            (false, true) => Rank::Allow,
            (false, false) => Rank::Block,
        };
        if found.top().is_some_and(|top| top >= regex_top) {
            return found.lookup();
        }
        let mut by_regex = Best::default();
        let mut first = [usize::MAX; Rank::COUNT];
        regex::for_each_match(dfa, text, |pattern| {
            by_regex.listed = true;
            let Some((list, rank, types)) = self.regex_head(pattern) else {
                return;
            };
            if !types.contains(qtype) || !applies(list) || pattern > first[rank as usize] {
                return;
            }
            first[rank as usize] = pattern;
            by_regex.ranks[rank as usize] = Some(Match {
                list,
                subtree: false,
                labels,
                // At most MAX_REGEXES patterns.
                regex: Some(pattern as u32),
                important: rank.important(),
            });
        });
        let mut best = found;
        for (slot, regex) in best.ranks.iter_mut().zip(by_regex.ranks) {
            *slot = slot.or(regex);
        }
        best.listed |= by_regex.listed;
        best.lookup()
    }

    /// Whether a rule on exactly the name whose [`name_hash`](super::name_hash)
    /// is `hash` is in the image, as an allow rule or a block rule (either form):
    /// what the updater asks of the image serving before, to say what a new
    /// one adds.
    pub fn has_rule(&self, hash: u64, allow: bool) -> bool {
        let bucket = (hash >> (64 - self.layout.bits)) as usize;
        let lo = self.bucket_start(bucket).min(self.layout.rules);
        let hi = self.bucket_start(bucket + 1).min(self.layout.rules);
        let key = (hash << self.layout.bits) & KEY_MASK;
        let flag = if allow { PAYLOAD_ALLOW } else { 0 };
        (self.binary_search(lo, hi.max(lo), key)..hi)
            .map(|at| self.entry(at))
            .take_while(|entry| entry & KEY_MASK == key)
            .any(|entry| entry & PAYLOAD_ALLOW == flag)
    }

    /// Takes the next label to the left; probes once a batch is full or the
    /// name is complete (`whole`).
    #[inline]
    fn push_label(
        &self,
        walk: &mut Walk,
        label: &[u8],
        whole: bool,
        applies: &impl Fn(ListId) -> bool,
    ) {
        walk.hash.push(label);
        walk.labels = walk.labels.saturating_add(1);
        walk.batch[walk.len] = (walk.hash.hash(), walk.labels);
        walk.len += 1;
        if whole || walk.len == BATCH {
            let found = (&mut walk.best, &mut walk.guards);
            self.probe_batch(&walk.batch[..walk.len], whole, found, applies);
            walk.len = 0;
        }
    }

    /// Probes a batch of suffixes (shortest first) and records the entries
    /// that apply: subtree rules always, exact rules only for the last suffix
    /// when it is the whole name.
    ///
    /// The work runs in phases so that the memory reads of different
    /// suffixes overlap instead of waiting for one another: all bucket
    /// bounds, then one read near where each key should sit, then the
    /// searches, which by then mostly hit the cache. Measured with
    /// `benches/lookup.rs`: a plain binary search per suffix took 1.3× as
    /// long for a listed name and 1.5–2.4× for a miss or a deep name at 1M
    /// names.
    #[inline]
    fn probe_batch(
        &self,
        batch: &[(u64, u8)],
        whole: bool,
        (best, guards): (&mut Best, &mut Guards),
        applies: &impl Fn(ListId) -> bool,
    ) {
        let mut range = [(0usize, 0usize); BATCH];
        let mut guess = [0usize; BATCH];
        for (k, &(h, _)) in batch.iter().enumerate() {
            // bits is in 1..=32 (checked at open), so the shift is in range.
            let bucket = (h >> (64 - self.layout.bits)) as usize;
            // Capped at the rule count so that a corrupt index can neither
            // reach past the entries nor overflow an offset.
            range[k] = (
                self.bucket_start(bucket).min(self.layout.rules),
                self.bucket_start(bucket + 1).min(self.layout.rules),
            );
        }
        let mut touched = 0u64;
        for (k, &(h, _)) in batch.iter().enumerate() {
            guess[k] = interpolate(range[k], (h << self.layout.bits) & KEY_MASK);
            touched |= self.entry(guess[k]);
        }
        for (k, &(h, labels)) in batch.iter().enumerate() {
            let exact_applies = whole && k + 1 == batch.len();
            let key = (h << self.layout.bits) & KEY_MASK;
            let (_, hi) = range[k];
            // `touched` is 0 only when every read was; it keeps the reads
            // above from being moved down here by the optimizer.
            let start = if touched == 0 { range[k].0 } else { guess[k] };
            let mut at = self.lower_bound(range[k], start, key);
            let mut here = [None; Rank::COUNT];
            while at < hi {
                let entry = self.entry(at);
                if entry & KEY_MASK != key {
                    break;
                }
                at += 1;
                let subtree = entry & PAYLOAD_SUBTREE != 0;
                let important = entry & PAYLOAD_IMPORTANT != 0;
                let rank = Rank::of(entry & PAYLOAD_ALLOW != 0, important);
                if let Some(list) = guarded_list(entry) {
                    // A `$denyallow` rule: it counts unless a longer suffix
                    // is one of its exemptions (`Guards`). An exemption
                    // filed here by a hash collision is no rule.
                    if subtree {
                        let applies = applies(list);
                        guards.meet(Guard::new(labels, list, rank, applies));
                    }
                    continue;
                }
                let slot = &mut here[rank as usize];
                best.listed |= subtree || exact_applies;
                // Of a name's exact and subtree entries, the first list in
                // config order that applies.
                if (subtree || exact_applies)
                    && let Some(list) = self.first_applying(entry & PAYLOAD_SET, applies)
                    && slot.is_none_or(|m: Match| list < m.list)
                {
                    *slot = Some(Match {
                        list,
                        subtree,
                        labels,
                        regex: None,
                        important,
                    });
                }
            }
            // Later suffixes are longer, hence more specific.
            for (slot, found) in best.ranks.iter_mut().zip(here) {
                if found.is_some() {
                    *slot = found;
                }
            }
            self.probe_exemptions(h, labels, guards);
        }
    }

    /// Cancels the `$denyallow` rules met on shorter suffixes that the
    /// suffix with hash `h` (of `labels` labels) is an exemption of: one
    /// probe per label count of such rules (`format.rs`, "`$denyallow`
    /// entries").
    fn probe_exemptions(&self, h: u64, labels: u8, guards: &mut Guards) {
        for level in guards.levels_below(labels) {
            let x = exemption_hash(h, level);
            let bucket = (x >> (64 - self.layout.bits)) as usize;
            let range = (
                self.bucket_start(bucket).min(self.layout.rules),
                self.bucket_start(bucket + 1).min(self.layout.rules),
            );
            let key = (x << self.layout.bits) & KEY_MASK;
            let mut at = self.lower_bound(range, range.0, key);
            while at < range.1 {
                let entry = self.entry(at);
                if entry & KEY_MASK != key {
                    break;
                }
                if entry & PAYLOAD_SUBTREE == 0
                    && let Some(list) = guarded_list(entry)
                {
                    let important = entry & PAYLOAD_IMPORTANT != 0;
                    let rank = Rank::of(entry & PAYLOAD_ALLOW != 0, important);
                    guards.cancel(level, list, rank);
                }
                at += 1;
            }
        }
    }

    /// First entry index in `lo..hi` whose key is not below `key`, searched
    /// from `start` (an [`interpolate`]d guess inside the range, or `lo`).
    ///
    /// Keys within a bucket are uniform, so the guess is usually within a
    /// few entries of the answer: a short walk of at most [`WALK`] steps,
    /// then (only in a skewed bucket, which only a hostile list produces) a
    /// binary search of the rest.
    #[inline]
    fn lower_bound(&self, (lo, hi): (usize, usize), start: usize, key: u64) -> usize {
        let below = |i: usize| self.entry(i) & KEY_MASK < key;
        // Not `clamp`: on a corrupt index lo may exceed hi.
        let mut at = start.min(hi).max(lo);
        if at < hi && below(at) {
            for _ in 0..WALK {
                at += 1;
                if at == hi || !below(at) {
                    return at;
                }
            }
            self.binary_search(at, hi, key)
        } else {
            for _ in 0..WALK {
                if at <= lo || below(at - 1) {
                    return at;
                }
                at -= 1;
            }
            self.binary_search(lo, at, key)
        }
    }

    /// First entry index in `lo..hi` whose key is not below `key`.
    fn binary_search(&self, mut lo: usize, mut hi: usize, key: u64) -> usize {
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.entry(mid) & KEY_MASK < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// Where `key` should sit in the entry range `lo..hi` if keys are uniform
/// (they are the hash bits below the bucket bits); inside the range when it
/// is not empty.
#[inline]
fn interpolate((lo, hi): (usize, usize), key: u64) -> usize {
    let len = hi.saturating_sub(lo) as u128;
    // key < 2^64, so the offset is < len.
    lo + ((u128::from(key) * len) >> 64) as usize
}

/// The labels of a name joined by `.`, gathered right to left as the hash
/// walk takes them, in a buffer on the stack: the text the regexes see
/// when a lookup is given labels only. Empty labels (the root) are left
/// out; a name past the buffer has no text.
struct JoinedText {
    buf: [u8; 512],
    start: usize,
    overflow: bool,
}

impl JoinedText {
    fn new() -> JoinedText {
        JoinedText {
            buf: [0; 512],
            start: 512,
            overflow: false,
        }
    }

    /// Puts `label` (and a dot, unless it is the first) before the text.
    fn prepend(&mut self, label: &[u8]) {
        if label.is_empty() {
            return;
        }
        let dot = usize::from(self.start < self.buf.len());
        let Some(at) = self.start.checked_sub(label.len() + dot) else {
            self.overflow = true;
            return;
        };
        self.buf[at..at + label.len()].copy_from_slice(label);
        if dot == 1 {
            self.buf[at + label.len()] = b'.';
        }
        self.start = at;
    }

    fn get(&self) -> Option<&[u8]> {
        (!self.overflow).then(|| &self.buf[self.start..])
    }
}

/// The list of a `$denyallow` entry (its set id past the sets), if it is one.
#[inline]
fn guarded_list(entry: u64) -> Option<ListId> {
    // Below 2^14 - MAX_SETS = MAX_LISTS, so it fits a ListId.
    (entry & PAYLOAD_SET)
        .checked_sub(MAX_SETS as u64)
        .map(|list| list as ListId)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::ImageBuilder;

    #[test]
    fn lower_bound_finds_keys_far_from_the_guess() {
        let mut b = ImageBuilder::new();
        let l = b.add_list("l", false);
        for i in 0..2_000 {
            b.add_rule(l, &format!("n{i}"), false, false);
        }
        let image = Image::open(b.build(1)).expect("opens");
        let buckets = 1usize << image.layout.bits;
        let (lo, hi) = (0..buckets)
            .map(|b| (image.bucket_start(b), image.bucket_start(b + 1)))
            .max_by_key(|(lo, hi)| hi - lo)
            .expect("there are buckets");
        assert!(hi - lo > 2 * WALK, "bucket of {} entries", hi - lo);
        for i in lo..hi {
            let key = image.entry(i) & KEY_MASK;
            for start in [lo, hi, (lo + hi) / 2] {
                assert_eq!(image.lower_bound((lo, hi), start, key), i);
            }
        }
        let past = (image.entry(hi - 1) & KEY_MASK) + (1 << 16);
        assert_eq!(image.lower_bound((lo, hi), lo, past), hi);
        assert_eq!(image.lower_bound((hi, lo), lo, past), hi, "corrupt range");
    }
}
