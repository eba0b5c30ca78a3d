//! Target (d): arbitrary bytes as a rule image → [`Image::open`],
//! [`Image::verify`] and lookups, of rules and of custom answers (the
//! answer section).
//!
//! Each input is tried as given and again with its checksum fixed up (the
//! documented xxh3-64 of bytes 24..), so the checks behind the checksum are
//! reached too. Names looked up: a fixed few, the image's own list names,
//! and names cut from the input's last bytes.

use crate::image::{Image, MAX_LISTS, Match, RewriteVerdict, Verdict, checksum};

/// Where the checksum sits in the header.
const CHECKSUM_AT: usize = 16;
/// Bytes before the first one the checksum covers.
const CHECKED_FROM: usize = 24;
/// Names always looked up.
const NAMES: [&str; 7] = [
    "a.tracker.example",
    "ads1.telemetry-x.example",
    "ok.example.net",
    "x",
    "",
    "exact.example.",
    "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t",
];

/// Opens, verifies and queries `data` as an image. Panics when the oracle
/// is broken:
///
/// - `open`, `verify`, lookups and the list accessors never panic, whether
///   `verify` accepts or not (lookups are promised safe after `open`);
/// - once `verify` accepts: every list and group has a name, the per-list
///   rule counts add up to at least the rule count (a rule of several lists
///   counts for each), every list's and device's groups are groups of the
///   image, and
///   every match names a list of the image (one that applies, when only
///   some do) and covers no more labels than the query has (exactly as many
///   for an exact rule); a regex match names a pattern of that list; a
///   rewrite names a list of the image (one that applies) and covers no
///   more labels than the query has (exactly as many unless it is for
///   subdomains), and its records are 4 bytes for A, 16 for AAAA, none
///   for a response code or another type.
pub fn image_bytes(data: &[u8]) {
    exercise(data);
    if data.len() > CHECKED_FROM {
        let mut resealed = data.to_vec();
        let sum = checksum(&resealed);
        resealed[CHECKSUM_AT..CHECKED_FROM].copy_from_slice(&sum.to_le_bytes());
        exercise(&resealed);
    }
}

fn exercise(bytes: &[u8]) {
    let Ok(image) = Image::open(bytes.to_vec()) else {
        return;
    };
    let verified = image.verify().is_ok();
    let lists = image.list_count();
    let mut rules = 0u64;
    let mut list_names = Vec::new();
    for id in 0..=lists.min(MAX_LISTS) {
        let Ok(id) = u16::try_from(id) else { break };
        let name = image.list_name(id);
        let count = image.list_rule_count(id);
        let allow = image.list_is_allow(id);
        if usize::from(id) < lists && verified {
            assert!(name.is_some(), "list {id} of a verified image has no name");
        }
        if usize::from(id) >= lists {
            assert!(name.is_none() && count.is_none() && allow.is_none());
        }
        // Unverified counts may be anything.
        rules = rules.saturating_add(count.unwrap_or(0));
        list_names.extend(name.map(str::to_owned));
    }
    if verified {
        assert!(rules >= image.rule_count() as u64, "list counts add up");
        for group in 0..image.group_count() {
            let name = u8::try_from(group).ok().and_then(|g| image.group_name(g));
            assert!(
                name.is_some(),
                "group {group} of a verified image has no name"
            );
        }
    }
    let known = u64::MAX >> (64 - image.group_count().clamp(1, 64));
    for id in 0..lists.min(MAX_LISTS) {
        let Ok(id) = u16::try_from(id) else { break };
        let groups = image.list_groups(id).unwrap_or(0);
        let windows = image.list_windows(id).count();
        if verified {
            assert_eq!(
                groups & !known,
                0,
                "list {id} names a group the image lacks"
            );
            assert!(windows <= u32::MAX as usize);
        }
    }
    for client in image.clients() {
        if verified {
            assert_eq!(
                client.groups & !known,
                0,
                "a client in a group the image lacks"
            );
        }
    }
    // `$client` scopes decode or are left out, each of a list the image has;
    // the server reads them into a policy.
    for (list, scope) in image.scopes() {
        assert!(
            usize::from(list) < lists,
            "a scope of list {list} of {lists}"
        );
        assert_eq!(image.list_scope(list), Some(scope));
    }
    let policy = crate::resolve::policy::Policy::new(
        &image,
        crate::groups::Weekday::Mon,
        0,
        &std::collections::HashMap::new(),
    );
    let asker = std::net::IpAddr::from([10, 0, 0, 1]);
    let for_asker = policy.lists_for(policy.groups_now(asker, None), asker, None);
    for id in 0..lists.min(MAX_LISTS) {
        let _ = u16::try_from(id).map(|id| for_asker.applies(id));
    }
    // The lists of one client: those whose bit is set in the last byte.
    let mask = bytes.last().copied().unwrap_or(0);
    let applies = |list: u16| list < 8 && mask >> list & 1 == 1;

    let tail = &bytes[bytes.len().saturating_sub(48)..];
    let carved = String::from_utf8_lossy(tail).replace('\0', ".");
    let names = NAMES
        .iter()
        .copied()
        .chain(list_names.iter().map(String::as_str))
        .chain([carved.as_str()]);
    for name in names {
        let labels = name.strip_suffix('.').unwrap_or(name);
        let count = if labels.is_empty() {
            0
        } else {
            labels.split('.').count()
        };
        let verdict = image.lookup(name);
        if verified {
            check_verdict(&image, verdict, count);
        }
        let wire = image.lookup_labels(labels.split('.').map(str::as_bytes));
        if verified {
            check_verdict(&image, wire, count);
        }
        let (rewrite, _) = image.rewrite_for(name, applies);
        if verified {
            check_rewrite(&image, rewrite, count, &applies);
        }
        let some = image.lookup_for(name, applies);
        if verified {
            check_verdict(&image, some, count);
            for m in matched(some) {
                assert!(
                    applies(m.list),
                    "a match names list {} that does not apply",
                    m.list
                );
            }
        }
    }
    let raw: Vec<&[u8]> = tail.split(|&b| b == 0).collect();
    let verdict = image.lookup_labels(raw.iter().copied());
    if verified {
        let count = raw.len() - usize::from(raw.last().is_some_and(|l| l.is_empty()));
        check_verdict(&image, verdict, count);
    }
}

/// A verified image's rewrite for a query of `labels` labels, for the
/// lists `applies` accepts.
fn check_rewrite(
    image: &Image<Vec<u8>>,
    verdict: RewriteVerdict,
    labels: usize,
    applies: &impl Fn(u16) -> bool,
) {
    let (list, rewritten) = match verdict {
        RewriteVerdict::None => return,
        RewriteVerdict::Off { list, .. } => (list, None),
        RewriteVerdict::To(r) => (r.list, Some(r)),
    };
    assert!(
        usize::from(list) < image.list_count() && applies(list),
        "a rewrite names list {list}, which the image lacks or does not apply"
    );
    let Some(r) = rewritten else { return };
    let covered = usize::from(r.labels);
    assert!(
        covered >= 1 && covered <= labels && (r.subtree || covered == labels),
        "a rewrite of {covered} labels in a {labels}-label query"
    );
    for (qtype, len) in [(1, 4), (28, 16), (16, 0), (255, 0)] {
        for data in image.rewrite_records(&r, qtype) {
            assert_eq!(data.len(), len, "a record of type {qtype}");
            assert!(r.rcode.is_none(), "records beside a response code");
        }
    }
}

/// The matches in a verdict.
fn matched(verdict: Verdict) -> impl Iterator<Item = Match> {
    let matches = match verdict {
        Verdict::NotListed => [None, None],
        Verdict::Blocked(m) => [Some(m), None],
        Verdict::Allowed { allow, overrides } => [Some(allow), overrides],
    };
    matches.into_iter().flatten()
}

/// A verified image's verdict for a query of `labels` labels.
fn check_verdict(image: &Image<Vec<u8>>, verdict: Verdict, labels: usize) {
    for m in matched(verdict) {
        assert!(
            usize::from(m.list) < image.list_count(),
            "match names list {} of {}",
            m.list,
            image.list_count()
        );
        let covered = usize::from(m.labels);
        assert!(
            covered >= 1 && covered <= labels,
            "a match of {covered} labels in a {labels}-label query"
        );
        assert!(
            m.subtree || covered == labels,
            "an exact rule matched a suffix"
        );
        if let Some(pattern) = m.regex {
            let rule = image.regex(pattern);
            assert!(
                rule.is_some_and(|r| r.list == m.list),
                "a regex match names pattern {pattern}, which is not the list's"
            );
        }
    }
}
