//! The custom answers an image carries (`$dnsrewrite` rules, hosts
//! addresses served; the answer section of `format.rs`): which one a name
//! gets ([`Image::rewrite_labels`]), the records to write for it
//! ([`Image::rewrite_records`]), and their check in
//! [`Image::verify`](super::Image::verify).
//!
//! # Which rewrite a name gets
//!
//! Only rules of lists that apply count. An exception
//! (`@@||x^$dnsrewrite`) on the name or, as a subtree rule, on a parent
//! turns every rewrite of the name off ([`RewriteVerdict::Off`]), as in
//! AdGuard's urlfilter (`dnsrewrite.go`). Otherwise the most specific name
//! with a rewrite decides — the name itself, else its nearest parent with
//! a subtree rewrite — and, as for block rules, the first list in config
//! order that has one there: its rules on that name are the answer. Its
//! first response-code rule, if it has one, is the whole answer; else its
//! A and AAAA rules are the records, each for questions of its own type
//! (a question of another type gets NODATA, as AdGuard answers).
//!
//! The lookup walks the name's suffixes right to left, as the entries'
//! lookup does, and binary-searches each suffix's hash in the section; it
//! allocates nothing and costs nothing when the section is empty.

use super::builder::ListId;
use super::format::{
    ANSWER_OFF, ANSWER_RECORD, ANSWER_SUBTREE, Error, SuffixHash, read_u16, read_u32, read_u64,
};
use super::view::{Image, ImageBytes};
use crate::answer::Rcode;

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;

/// The rewrite a name gets: its list and first rule, and where its
/// records lie in the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rewritten {
    /// The list whose rules answer.
    pub list: ListId,
    /// The line, in that list, of the rule that decides: the response-code
    /// rule, else the first record's.
    pub line: u32,
    /// A response code and no record, when a rule says so.
    pub rcode: Option<Rcode>,
    /// Labels in the rewritten name (the query or the parent whose subtree
    /// rule matched).
    pub labels: u8,
    /// The rule is on a parent of the query, for its subdomains.
    pub subtree: bool,
    /// The list's records for the name: `first..end` in the section.
    first: usize,
    end: usize,
}

/// What the custom answers say about a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RewriteVerdict {
    /// No rewrite of a list that applies covers the name.
    None,
    /// An exception of a list that applies turns the name's rewrites off.
    Off {
        /// The exception's list.
        list: ListId,
        /// Its line.
        line: u32,
    },
    /// Answer as this says.
    To(Rewritten),
}

/// One answer record's fields.
#[derive(Clone, Copy, Debug)]
struct Record {
    hash: u64,
    list: ListId,
    flags: u8,
    rcode: u8,
    rtype: u16,
    line: u32,
}

impl<B: ImageBytes> Image<B> {
    /// Custom answers per list, by list id (one pass over the section).
    pub fn rewrites_per_list(&self) -> Vec<u64> {
        let mut counts = vec![0u64; self.list_count()];
        for record in (0..self.layout().answers).filter_map(|at| self.answer(at)) {
            if let Some(count) = counts.get_mut(usize::from(record.list)) {
                *count += 1;
            }
        }
        counts
    }

    /// The rewrite for the name with `labels` (wire labels, leftmost first,
    /// as [`lookup_labels`](Self::lookup_labels) takes them) for the lists
    /// for which `applies` is true (see the module docs), and whether a
    /// rewrite of any list, applying or not, covers the name.
    pub fn rewrite_labels<'a, I>(
        &self,
        labels: I,
        applies: impl Fn(ListId) -> bool,
    ) -> (RewriteVerdict, bool)
    where
        I: DoubleEndedIterator<Item = &'a [u8]>,
    {
        if self.layout().answers == 0 {
            return (RewriteVerdict::None, false);
        }
        let mut labels = labels.rev().peekable();
        if labels.peek().is_some_and(|l| l.is_empty()) {
            labels.next();
        }
        let mut hash = SuffixHash::new();
        let (mut count, mut listed) = (0u8, false);
        let (mut best, mut off) = (None, None);
        while let Some(label) = labels.next() {
            hash.push(label);
            count = count.saturating_add(1);
            let whole = labels.peek().is_none();
            let mut at = self.answer_lower_bound(hash.hash());
            // Of this suffix's rewrites: the first applying list's run.
            let mut here: Option<(ListId, usize, usize)> = None;
            while let Some(record) = self.answer(at).filter(|r| r.hash == hash.hash()) {
                let subtree = record.flags & ANSWER_SUBTREE != 0;
                if subtree || whole {
                    listed = true;
                    if applies(record.list) {
                        if record.flags & ANSWER_OFF != 0 {
                            off.get_or_insert((record.list, record.line));
                        } else if here.is_none_or(|(list, _, _)| list == record.list) {
                            let start = here.map_or(at, |(_, start, _)| start);
                            here = Some((record.list, start, at + 1));
                        }
                    }
                }
                at += 1;
            }
            if let Some(run) = here {
                best = Some((run, count, !whole));
            }
        }
        let verdict = match (off, best) {
            (Some((list, line)), _) => RewriteVerdict::Off { list, line },
            (None, Some(((list, first, end), labels, subtree))) => {
                RewriteVerdict::To(self.rewritten(list, first, end, labels, subtree))
            }
            (None, None) => RewriteVerdict::None,
        };
        (verdict, listed)
    }

    /// [`rewrite_labels`](Self::rewrite_labels) for a dotted name
    /// (a trailing dot ignored).
    pub fn rewrite_for(
        &self,
        name: &str,
        applies: impl Fn(ListId) -> bool,
    ) -> (RewriteVerdict, bool) {
        let name = name.strip_suffix('.').unwrap_or(name);
        let labels = name.split('.').map(str::as_bytes);
        self.rewrite_labels(labels.filter(|l| !l.is_empty()), applies)
    }

    /// The record data (4 bytes for A, 16 for AAAA) `rewritten` answers a
    /// question of record type `qtype` with, in line order, each address
    /// once (an exact and a subtree rule may give the same); none for a
    /// response-code rewrite or another type.
    pub fn rewrite_records(
        &self,
        rewritten: &Rewritten,
        qtype: u16,
    ) -> impl Iterator<Item = &[u8]> + '_ {
        let len = match (rewritten.rcode, qtype) {
            (None, TYPE_A) => 4,
            (None, TYPE_AAAA) => 16,
            _ => 0,
        };
        let (first, end) = if len == 0 {
            (0, 0)
        } else {
            (rewritten.first, rewritten.end)
        };
        let (list, subtree) = (rewritten.list, rewritten.subtree);
        let data = move |at: usize| {
            let record = self.answer(at)?;
            let form = !subtree || record.flags & ANSWER_SUBTREE != 0;
            let usable = record.list == list && form && record.flags & ANSWER_OFF == 0;
            let rec = self.layout().answers_at + at * ANSWER_RECORD;
            let data = self.as_bytes().get(rec + 24..rec + 24 + len)?;
            (usable && record.rtype == qtype).then_some(data)
        };
        // A name has a few records: looking back costs less than a set.
        (first..end).filter_map(move |at| {
            let this = data(at)?;
            let again = (first..at).any(|before| data(before) == Some(this));
            (!again).then_some(this)
        })
    }

    /// The rewrite of `list`'s records `first..end` (one name's, in line
    /// order) for a name of `labels` labels, `subtree` when the rules are
    /// on a parent.
    fn rewritten(
        &self,
        list: ListId,
        first: usize,
        end: usize,
        labels: u8,
        subtree: bool,
    ) -> Rewritten {
        let records = (first..end).filter_map(|at| self.answer(at));
        let mut usable = records
            .filter(|r| r.flags & ANSWER_OFF == 0 && (!subtree || r.flags & ANSWER_SUBTREE != 0));
        let (mut line, mut rcode) = (None, None);
        for record in &mut usable {
            line.get_or_insert(record.line);
            if record.rtype == 0 {
                rcode = Rcode::from_number(record.rcode);
                line = Some(record.line);
                break;
            }
        }
        Rewritten {
            list,
            line: line.unwrap_or_default(),
            rcode,
            labels,
            subtree,
            first,
            end,
        }
    }

    /// Answer record `at`, if there is one.
    fn answer(&self, at: usize) -> Option<Record> {
        if at >= self.layout().answers {
            return None;
        }
        let b = self.as_bytes();
        let rec = self.layout().answers_at + at * ANSWER_RECORD;
        Some(Record {
            hash: read_u64(b, rec),
            list: read_u16(b, rec + 8),
            flags: *b.get(rec + 10)?,
            rcode: *b.get(rec + 11)?,
            rtype: read_u16(b, rec + 12),
            line: read_u32(b, rec + 16),
        })
    }

    /// The first answer record whose hash is not below `hash`.
    fn answer_lower_bound(&self, hash: u64) -> usize {
        let (mut lo, mut hi) = (0, self.layout().answers);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.answer(mid).is_some_and(|r| r.hash < hash) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Checks every answer record: a known list, known flags, a code and
    /// type this version writes with data that fits them, zero reserved
    /// bytes, and the order (hash, list, line).
    pub(super) fn verify_answers(&self) -> Result<(), Error> {
        let b = self.as_bytes();
        let mut previous = None;
        for at in 0..self.layout().answers {
            let bad = || Error::BadAnswer { answer: at as u64 };
            let record = self.answer(at).ok_or_else(bad)?;
            let rec = self.layout().answers_at + at * ANSWER_RECORD;
            let data = b.get(rec + 24..rec + 40).ok_or_else(bad)?;
            let zero = |from: usize| data[from..].iter().all(|&d| d == 0);
            let reserved = read_u16(b, rec + 14) != 0 || read_u32(b, rec + 20) != 0;
            let fits = match (record.flags & ANSWER_OFF != 0, record.rtype) {
                (true, _) => record.rcode == 0 && record.rtype == 0 && zero(0),
                (false, 0) => Rcode::from_number(record.rcode).is_some() && zero(0),
                (false, TYPE_A) => record.rcode == 0 && zero(4),
                (false, TYPE_AAAA) => record.rcode == 0,
                (false, _) => false,
            };
            let key = (record.hash, record.list, record.line);
            if reserved
                || !fits
                || usize::from(record.list) >= self.list_count()
                || record.flags & !(ANSWER_SUBTREE | ANSWER_OFF) != 0
                || previous.is_some_and(|p| p > key)
            {
                return Err(bad());
            }
            previous = Some(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::answer::{Answer, Rewrite};
    use crate::image::ImageBuilder;
    use crate::image::format::{Section, checksum, field};

    fn a(last: u8) -> Rewrite {
        Rewrite::To(Answer::A(Ipv4Addr::new(10, 0, 0, last)))
    }

    /// `ads` rewrites and `mine` (an allowlist) turns one off.
    fn sample() -> Image<Vec<u8>> {
        let mut b = ImageBuilder::new();
        let ads = b.add_list("ads", false);
        let mine = b.add_list("mine", true);
        b.add_rule(ads, "nas.example", true, false);
        b.add_rewrite(ads, "nas.example", false, a(1), 3);
        b.add_rewrite(ads, "nas.example", false, a(2), 4);
        b.add_rewrite(ads, "nas.example", false, a(1), 9);
        let v6 = Rewrite::To(Answer::Aaaa(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x10)));
        b.add_rewrite(ads, "nas.example", false, v6, 5);
        let refused = Rewrite::To(Answer::Rcode(Rcode::Refused));
        b.add_rewrite(ads, "tracker.example", true, refused, 7);
        b.add_rewrite(mine, "ok.tracker.example", true, Rewrite::Off, 1);
        let image = Image::open(b.build(1)).unwrap();
        image.verify().unwrap();
        image
    }

    fn to(image: &Image<Vec<u8>>, name: &str) -> Rewritten {
        match image.rewrite_for(name, |_| true) {
            (RewriteVerdict::To(r), true) => r,
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn several_rules_give_several_records_of_their_own_type() {
        let image = sample();
        let nas = to(&image, "NAS.example.");
        assert_eq!(
            (nas.list, nas.line, nas.rcode, nas.subtree),
            (0, 3, None, false)
        );
        let a: Vec<&[u8]> = image.rewrite_records(&nas, 1).collect();
        assert_eq!(a, [&[10, 0, 0, 1][..], &[10, 0, 0, 2][..]]);
        assert_eq!(image.rewrite_records(&nas, 28).count(), 1);
        assert_eq!(image.rewrite_records(&nas, 16).count(), 0);
        // Four records of `ads` (the copy on line 9 merged), one of `mine`.
        assert_eq!(image.rewrites_per_list(), [4, 1]);
        assert_eq!(
            image.rewrite_for("www.nas.example", |_| true),
            (RewriteVerdict::None, false),
            "an exact rewrite is for the name alone"
        );
    }

    #[test]
    fn a_subtree_code_answers_subdomains_unless_an_exception_turns_it_off() {
        let image = sample();
        let deep = to(&image, "a.b.tracker.example");
        assert_eq!(
            (deep.rcode, deep.subtree, deep.labels),
            (Some(Rcode::Refused), true, 2)
        );
        assert_eq!(image.rewrite_records(&deep, 1).count(), 0);
        assert_eq!(
            image.rewrite_for("x.ok.tracker.example", |_| true),
            (RewriteVerdict::Off { list: 1, line: 1 }, true)
        );
        // The exception's list does not apply: the rewrite stands.
        assert!(matches!(
            image.rewrite_for("x.ok.tracker.example", |l| l == 0).0,
            RewriteVerdict::To(_)
        ));
        // Neither applies: nothing, but listed.
        assert_eq!(
            image.rewrite_for("tracker.example", |_| false),
            (RewriteVerdict::None, true)
        );
    }

    #[test]
    fn a_malformed_or_misordered_answer_record_fails_verify() {
        let good = sample();
        let at = good.layout().answers_at;
        let patches: [(usize, &[u8]); 6] = [
            (8, &[9, 0]),    // an unknown list
            (10, &[4]),      // an unknown flag
            (11, &[1]),      // an rcode with a record type
            (12, &[16, 0]),  // TXT
            (14, &[1, 0]),   // reserved bytes
            (0, &[0xff; 8]), // the first hash past the second's
        ];
        for (offset, bytes) in patches {
            let mut image = good.as_bytes().to_vec();
            image[at + offset..at + offset + bytes.len()].copy_from_slice(bytes);
            let sum = checksum(&image);
            image[field::CHECKSUM..field::CHECKSUM + 8].copy_from_slice(&sum.to_le_bytes());
            let image = Image::open(image).unwrap();
            assert!(
                matches!(image.verify(), Err(Error::BadAnswer { .. })),
                "offset {offset}: {:?}",
                image.verify()
            );
        }
    }

    #[test]
    fn an_answer_section_of_part_records_is_refused_at_open() {
        let mut image = sample().as_bytes().to_vec();
        let len = Section::Answers.field() + 8;
        let have = read_u64(&image, len);
        image[len..len + 8].copy_from_slice(&(have - 1).to_le_bytes());
        assert!(matches!(Image::open(image), Err(Error::SectionSize { .. })));
    }

    #[test]
    fn a_list_keeps_its_first_answers_for_a_name_up_to_the_cap() {
        let mut b = ImageBuilder::new();
        let ads = b.add_list("ads", false);
        for i in 0..40u8 {
            b.add_rewrite(ads, "many.example", false, a(i), u32::from(i) + 1);
        }
        b.add_rewrite(ads, "many.example", true, a(200), 50);
        let image = Image::open(b.build(1)).unwrap();
        image.verify().unwrap();
        let many = to(&image, "many.example");
        let got: Vec<u8> = image.rewrite_records(&many, 1).map(|d| d[3]).collect();
        let mut want: Vec<u8> = (0..32).collect();
        want.push(200);
        assert_eq!(got, want, "the first 32 lines, and the subtree form's own");
    }
}
