//! Writes an [`ImageBuilder`]'s merged rules, lists, sets, groups,
//! clients, regexes and custom answers out as one image, section by
//! section in the layout of `format.rs`, with its checksums
//! ([`ImageBuilder::build`]). `builder.rs` collects and merges; this file
//! only lays out.

use std::time::{SystemTime, UNIX_EPOCH};

use super::builder::{
    AnswerRule, ImageBuilder, ListId, MAX_ANSWERS_PER_NAME, RAW_ALLOW, RAW_SET, cut,
};
use super::format::{
    self, ANSWER_OFF, ANSWER_RECORD, ANSWER_SUBTREE, BUILD_BUCKET_BITS, CLIENT_RECORD, ENTRY,
    FORMAT_VERSION, GROUP_RECORD, HEADER_LEN, KEY_MASK, LIST_FLAG_ALLOW, LIST_FLAG_EXCLUDE,
    LIST_FLAG_SCOPED, LIST_RECORD, MAGIC, MAX_SETS, PAYLOAD_ALLOW, PAYLOAD_IMPORTANT,
    PAYLOAD_SUBTREE, REGEX_FLAG_ALLOW, REGEX_FLAG_IMPORTANT, REGEX_RECORD, REGEXES_ALLOW,
    REGEXES_IMPORTANT, Section, WINDOW, field, regex_checksum, write_u16, write_u32, write_u64,
};
use super::guarded;
use crate::groups::{ClientId, ScopeClient};

/// Where a string lies in the string table: offset and length.
type Span = (u32, u32);

impl ImageBuilder {
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
        let guarded = guarded::build(std::mem::take(&mut self.guarded), RAW_ALLOW);
        for (list, name, allow, important) in guarded.plain {
            self.add_rule_with(list, &name, true, allow, important);
        }
        self.merge();
        self.rules.extend(guarded.entries);
        // Refusals are the caller's to report, by compiling first.
        let _ = self.compile_regexes();
        let dfa = self.regex_dfa.take().unwrap_or_default();
        let n = self.rules.len();
        assert!(
            u32::try_from(n).is_ok(),
            "an image holds at most 2^32-1 rules"
        );
        let bits = bucket_bits(n);
        let buckets = 1usize << bits;

        // (bucket, entry) sorted: the on-disk order, made in place.
        let mut items = std::mem::take(&mut self.rules);
        let mut per_set = vec![0u64; self.lists.len() + self.sets.len()];
        let mut per_list = vec![0u64; self.lists.len()];
        for item in &mut items {
            let (h, raw) = *item;
            let key = (h << bits) & KEY_MASK;
            let allow = if raw & RAW_ALLOW != 0 {
                PAYLOAD_ALLOW
            } else {
                0
            };
            let set = (raw & RAW_SET) as usize;
            // A `$denyallow` entry names its list past the sets.
            let count = match set.checked_sub(MAX_SETS) {
                Some(list) => per_list.get_mut(list),
                None => per_set.get_mut(set),
            };
            if let Some(count) = count {
                *count += 1;
            }
            *item = (
                h >> (64 - bits),
                key | (raw & (RAW_SET | PAYLOAD_SUBTREE | PAYLOAD_IMPORTANT)) | allow,
            );
        }
        items.sort_unstable();

        // The sets: each list alone, then the combinations.
        let singles = (0..self.lists.len()).map(|id| vec![id as ListId]);
        let all_sets: Vec<Vec<ListId>> = singles.chain(self.sets.iter().cloned()).collect();
        for (members, count) in all_sets.iter().zip(&per_set) {
            for &list in members {
                per_list[usize::from(list)] += count;
            }
        }

        let mut names = Vec::new();
        let mut span = |name: &str| {
            // At most MAX_LISTS + MAX_GROUPS names of at most MAX_LIST_NAME
            // bytes, and MAX_REGEXES patterns of at most a list line
            // (4096 bytes): < 2^29.
            let at = (names.len() as u32, name.len() as u32);
            names.extend_from_slice(name.as_bytes());
            at
        };
        let list_spans: Vec<Span> = self.lists.iter().map(|l| span(&l.name)).collect();
        let group_spans: Vec<Span> = self.groups.iter().map(|g| span(g)).collect();
        let client_spans: Vec<(Span, Option<Span>)> = self
            .clients
            .iter()
            .map(|(id, _, name)| {
                let host = match id {
                    ClientId::Name(host) => Some(span(host)),
                    _ => None,
                };
                (name.as_deref().map_or((0, 0), &mut span), host)
            })
            .collect();
        // The scope records: list, client, device name (kind 5).
        let scope_records: Vec<(ListId, &ScopeClient, Span)> = self
            .lists
            .iter()
            .enumerate()
            .flat_map(|(id, list)| {
                let clients = list.scope.iter().flat_map(|scope| &scope.clients);
                clients.map(move |client| (id as ListId, client))
            })
            .map(|(id, client)| match client {
                ScopeClient::Device(name) => (id, client, span(&cut(name))),
                ScopeClient::Net(_) => (id, client, (0, 0)),
            })
            .collect();
        let regex_spans: Vec<Span> = self.regexes.iter().map(|r| span(&r.pattern)).collect();
        // Copies of a rule within a list: the first line stays.
        let mut answers = std::mem::take(&mut self.answers);
        answers.sort_unstable_by_key(|a| (a.what(), a.line));
        answers.dedup_by_key(|a| a.what());
        answers.sort_unstable_by_key(|a| (a.hash, a.list, a.line, a.what()));
        let mut kept = 0usize;
        let mut run = 0usize;
        for i in 0..answers.len() {
            let form = |a: &AnswerRule| (a.hash, a.list, a.flags & ANSWER_SUBTREE);
            run = match kept.checked_sub(1) {
                Some(last) if form(&answers[last]) == form(&answers[i]) => run + 1,
                _ => 1,
            };
            // Past the cap, later lines of the same name, list and form go.
            if run <= MAX_ANSWERS_PER_NAME || answers[i].flags & ANSWER_OFF != 0 {
                answers[kept] = answers[i];
                kept += 1;
            }
        }
        answers.truncate(kept);
        let windows: usize = self.lists.iter().map(|l| l.windows.len()).sum();
        let members: usize = all_sets.iter().map(Vec::len).sum();

        let sizes = [
            (buckets + 1) * 4,
            n * ENTRY,
            self.lists.len() * LIST_RECORD,
            names.len(),
            (all_sets.len() + 1) * 4,
            members * 2,
            windows * WINDOW,
            self.groups.len() * GROUP_RECORD,
            (self.clients.len() + scope_records.len()) * CLIENT_RECORD,
            self.regexes.len() * REGEX_RECORD,
            dfa.len(),
            answers.len() * ANSWER_RECORD,
        ];
        let mut offsets = [0usize; Section::ALL.len()];
        let mut at = HEADER_LEN;
        for (offset, size) in offsets.iter_mut().zip(sizes) {
            *offset = at;
            at = (at + size).next_multiple_of(8);
        }
        let last = Section::ALL.len() - 1;
        let total = offsets[last] + sizes[last];
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
        // At most MAX_REGEXES, which fits a u32.
        write_u32(&mut out, field::REGEX_COUNT, self.regexes.len() as u32);
        let any_allow = self.regexes.iter().any(|r| r.allow);
        let any_important = self.regexes.iter().any(|r| r.important);
        write_u32(
            &mut out,
            field::REGEX_FLAGS,
            if any_allow { REGEXES_ALLOW } else { 0 }
                | if any_important { REGEXES_IMPORTANT } else { 0 },
        );
        write_u64(&mut out, field::REGEX_SUM, regex_checksum(&dfa));
        for (section, (offset, size)) in Section::ALL.into_iter().zip(offsets.iter().zip(sizes)) {
            write_u64(&mut out, section.field(), *offset as u64);
            write_u64(&mut out, section.field() + 8, size as u64);
        }

        // Bucket index: index[b] = entries in buckets before b.
        let mut next_bucket = 0usize;
        for (i, &(bucket, entry)) in items.iter().enumerate() {
            // bucket < 2^bits, so it fits a usize; i < n fits a u32 (asserted).
            while next_bucket <= bucket as usize {
                write_u32(&mut out, offsets[0] + next_bucket * 4, i as u32);
                next_bucket += 1;
            }
            write_u64(&mut out, offsets[1] + i * ENTRY, entry);
        }
        while next_bucket <= buckets {
            write_u32(&mut out, offsets[0] + next_bucket * 4, n as u32);
            next_bucket += 1;
        }

        let mut window_at = 0usize;
        for (id, (list, (name_at, name_len))) in self.lists.iter().zip(list_spans).enumerate() {
            let rec = offsets[2] + id * LIST_RECORD;
            write_u64(&mut out, rec, per_list[id]);
            write_u32(&mut out, rec + 8, name_at);
            write_u32(&mut out, rec + 12, name_len);
            let scope = match &list.scope {
                None => 0,
                Some(scope) if scope.exclude => LIST_FLAG_SCOPED | LIST_FLAG_EXCLUDE,
                Some(_) => LIST_FLAG_SCOPED,
            };
            let allow = if list.allow { LIST_FLAG_ALLOW } else { 0 };
            write_u32(&mut out, rec + 16, allow | scope);
            write_u32(&mut out, rec + 20, list.windows.len() as u32);
            write_u64(&mut out, rec + 24, list.groups);
            write_u32(&mut out, rec + 32, window_at as u32);
            for window in &list.windows {
                let w = offsets[6] + window_at * WINDOW;
                out[w] = window.days;
                write_u16(&mut out, w + 2, window.start);
                write_u16(&mut out, w + 4, window.end);
                window_at += 1;
            }
        }
        out[offsets[3]..offsets[3] + names.len()].copy_from_slice(&names);

        let mut member_at = 0usize;
        for (set, members) in all_sets.iter().enumerate() {
            write_u32(&mut out, offsets[4] + set * 4, member_at as u32);
            for &list in members {
                write_u16(&mut out, offsets[5] + member_at * 2, list);
                member_at += 1;
            }
        }
        write_u32(&mut out, offsets[4] + all_sets.len() * 4, member_at as u32);

        for (id, (name_at, name_len)) in group_spans.into_iter().enumerate() {
            let rec = offsets[7] + id * GROUP_RECORD;
            write_u32(&mut out, rec, name_at);
            write_u32(&mut out, rec + 4, name_len);
        }

        for (i, ((id, groups, _), (name, host))) in
            self.clients.iter().zip(client_spans).enumerate()
        {
            let rec = offsets[8] + i * CLIENT_RECORD;
            write_u32(&mut out, rec + 4, name.0);
            write_u32(&mut out, rec + 8, name.1);
            write_u64(&mut out, rec + 16, *groups);
            let value = rec + 24;
            match id {
                ClientId::Net(net) => {
                    out[rec] = format::CLIENT_NET;
                    write_net(&mut out, rec, net);
                }
                ClientId::Mac(mac) => {
                    out[rec] = format::CLIENT_MAC;
                    out[value..value + 6].copy_from_slice(&mac.0);
                }
                ClientId::Name(_) => {
                    out[rec] = format::CLIENT_NAME;
                    let (at, len) = host.unwrap_or_default();
                    write_u32(&mut out, value, at);
                    write_u32(&mut out, value + 4, len);
                }
            }
        }
        for (i, (list, client, (name_at, name_len))) in scope_records.into_iter().enumerate() {
            let rec = offsets[8] + (self.clients.len() + i) * CLIENT_RECORD;
            write_u32(&mut out, rec + 12, u32::from(list));
            match client {
                ScopeClient::Net(net) => {
                    out[rec] = format::SCOPE_NET;
                    write_net(&mut out, rec, net);
                }
                ScopeClient::Device(_) => {
                    out[rec] = format::SCOPE_DEVICE;
                    write_u32(&mut out, rec + 4, name_at);
                    write_u32(&mut out, rec + 8, name_len);
                }
            }
        }

        let patterns = offsets[Section::RegexPatterns as usize];
        for (i, (rule, (text_at, text_len))) in self.regexes.iter().zip(regex_spans).enumerate() {
            let rec = patterns + i * REGEX_RECORD;
            write_u16(&mut out, rec, rule.list);
            let flags = if rule.allow { REGEX_FLAG_ALLOW } else { 0 }
                | if rule.important {
                    REGEX_FLAG_IMPORTANT
                } else {
                    0
                };
            write_u16(&mut out, rec + 2, flags);
            write_u32(&mut out, rec + 4, u32::from(rule.types.bits()));
            write_u32(&mut out, rec + 8, rule.line);
            write_u32(&mut out, rec + 12, text_at);
            write_u32(&mut out, rec + 16, text_len);
        }
        let dfa_at = offsets[Section::RegexDfa as usize];
        out[dfa_at..dfa_at + dfa.len()].copy_from_slice(&dfa);

        let answers_at = offsets[Section::Answers as usize];
        for (i, answer) in answers.iter().enumerate() {
            let rec = answers_at + i * ANSWER_RECORD;
            write_u64(&mut out, rec, answer.hash);
            write_u16(&mut out, rec + 8, answer.list);
            out[rec + 10] = answer.flags;
            out[rec + 11] = answer.rcode;
            write_u16(&mut out, rec + 12, answer.rtype);
            write_u32(&mut out, rec + 16, answer.line);
            out[rec + 24..rec + 40].copy_from_slice(&answer.data);
        }

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

/// Writes the prefix length, family and address of `net` into the client
/// record at `rec`.
fn write_net(out: &mut [u8], rec: usize, net: &ipnet::IpNet) {
    out[rec + 1] = net.prefix_len();
    let value = rec + 24;
    match net.addr() {
        std::net::IpAddr::V4(v4) => {
            out[rec + 2] = 4;
            out[value..value + 4].copy_from_slice(&v4.octets());
        }
        std::net::IpAddr::V6(v6) => {
            out[rec + 2] = 6;
            out[value..value + 16].copy_from_slice(&v6.octets());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_bits_grow_with_rule_count() {
        assert_eq!(bucket_bits(0), 4);
        assert_eq!(bucket_bits(100), 4);
        assert_eq!(bucket_bits(1 << 10), 7);
        assert_eq!(bucket_bits(1_000_000), 16);
        assert_eq!(bucket_bits(usize::MAX), 28);
    }
}
