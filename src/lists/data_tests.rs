//! Parses every real list under `../shared/data` (provenance and quirks in its
//! `SOURCES.md`) and pins exactly what each yields, so a parser change that
//! moves a single line shows up here. Where a count differs from `SOURCES.md`
//! the assertion says why. Without the data folder the tests print a notice
//! and pass.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use super::{Format, IssueKind, ParseOptions, Stats, parse};

/// The shared data folder, next to the crate.
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data");

/// Every file under [`DATA`] that a test below pins; `every_data_file_is_pinned`
/// fails when a file is added without a test.
const PINNED: [&str; 13] = [
    "adblock/adguard-dns-filter.txt",
    "adblock/hagezi-light.adblock.txt",
    "allow/anudeep-optional-list.txt",
    "allow/anudeep-referral-sites.txt",
    "allow/anudeep-whitelist.txt",
    "allow/hagezi-whitelist-referral.adblock.txt",
    "allow/hagezi-whitelist.txt",
    "domains/hagezi-light.domains.txt",
    "hosts/adaway.hosts.txt",
    "hosts/stevenblack-own.hosts",
    "hosts/urlhaus.hosts",
    "popular/tranco-top-1m-truncated.csv",
    "popular/tranco-top50k.domains.txt",
];

/// What a file yielded: its counts and every rule, keyed by name, with
/// (subtree, allow, line) for each rule of that name.
struct Parsed {
    stats: Stats,
    rules: HashMap<String, Vec<(bool, bool, u32)>>,
}

impl Parsed {
    /// Asserts `[lines, accepted, duplicate, skipped, invalid, comments]`.
    fn assert_counts(&self, expected: [u64; 6]) {
        let s = &self.stats;
        let found = [
            s.lines,
            s.accepted,
            s.duplicate,
            s.skipped,
            s.invalid,
            s.comments,
        ];
        assert_eq!(
            found, expected,
            "[lines, accepted, duplicate, skipped, invalid, comments]; examples: {:#?}",
            s.examples
        );
    }

    fn has(&self, name: &str) -> bool {
        self.rules.contains_key(name)
    }

    fn count(&self, keep: impl Fn(bool, bool) -> bool) -> usize {
        let all = self.rules.values().flatten();
        all.filter(|(subtree, allow, _)| keep(*subtree, *allow))
            .count()
    }
}

/// Parses `relative` under [`DATA`] with `options` the way the updater will:
/// bytes read whole, invalid UTF-8 replaced. `None` when the folder is absent.
fn load(relative: &str, options: ParseOptions) -> Option<Parsed> {
    if !Path::new(DATA).is_dir() {
        eprintln!("skipping: ../shared/data not found (looked in {DATA})");
        return None;
    }
    let path = Path::new(DATA).join(relative);
    let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = String::from_utf8_lossy(&bytes);
    let mut rules: HashMap<String, Vec<(bool, bool, u32)>> = HashMap::new();
    let stats = parse(&text, options, |rule| {
        let entry = rules.entry(rule.name.to_owned()).or_default();
        entry.push((rule.subtree, rule.allow, rule.line));
    });
    Some(Parsed { stats, rules })
}

fn block() -> ParseOptions {
    ParseOptions::default()
}

fn allow() -> ParseOptions {
    ParseOptions {
        allow: true,
        ..ParseOptions::default()
    }
}

#[test]
fn every_data_file_is_pinned() {
    let Ok(folders) = fs::read_dir(DATA) else {
        eprintln!("skipping: ../shared/data not found (looked in {DATA})");
        return;
    };
    let mut found = Vec::new();
    for folder in folders.flatten().filter(|entry| entry.path().is_dir()) {
        for file in fs::read_dir(folder.path()).into_iter().flatten().flatten() {
            let folder_name = folder.file_name().to_string_lossy().into_owned();
            found.push(format!(
                "{folder_name}/{}",
                file.file_name().to_string_lossy()
            ));
        }
    }
    found.sort();
    assert_eq!(found, PINNED);
}

#[test]
fn stevenblack_own_hosts_yields_its_entries_and_bare_hostnames() {
    let Some(parsed) = load("hosts/stevenblack-own.hosts", block()) else {
        return;
    };
    // SOURCES.md: 2,389 `0.0.0.0` entries (one duplicate) plus 2 bare-hostname
    // lines, which Auto reads as plain domains: 2,391 names, 1 duplicate.
    // Comments: 102 comment + 100 blank lines.
    parsed.assert_counts([2593, 2390, 1, 0, 0, 202]);
    assert!(parsed.has("analytics.shein.com"));
    assert!(parsed.has("analytics.shein.co.uk"));
    assert_eq!(parsed.rules["analytics.shein.com"], [(false, false, 2429)]);
    assert!(!parsed.has("localhost"));
}

#[test]
fn stevenblack_own_hosts_declared_as_hosts_rejects_the_bare_hostnames() {
    let options = ParseOptions {
        format: Format::Hosts,
        ..block()
    };
    let Some(parsed) = load("hosts/stevenblack-own.hosts", options) else {
        return;
    };
    parsed.assert_counts([2593, 2388, 1, 0, 2, 202]);
    assert!(!parsed.has("analytics.shein.com"));
}

#[test]
fn adaway_hosts_never_yields_localhost() {
    let Some(parsed) = load("hosts/adaway.hosts.txt", block()) else {
        return;
    };
    // SOURCES.md: 6,542 entries including `localhost` twice (IPv4 and ::1),
    // which it counts as 1 duplicate. Both are skipped here as housekeeping
    // names, so 6,540 rules and no duplicate. Comments: 2,042 + 2,023 blank.
    parsed.assert_counts([10607, 6540, 0, 2, 0, 4065]);
    assert!(!parsed.has("localhost"));
    let reasons: Vec<_> = parsed
        .stats
        .examples
        .iter()
        .map(|e| (e.line, e.kind))
        .collect();
    assert_eq!(
        reasons,
        [(22, IssueKind::Skipped), (23, IssueKind::Skipped)]
    );
}

#[test]
fn urlhaus_hosts_with_tabs_and_no_final_newline_yields_every_entry() {
    let Some(parsed) = load("hosts/urlhaus.hosts", block()) else {
        return;
    };
    // SOURCES.md: 476 tab-separated entries, 485 lines (`wc -l` says 484:
    // the last line, a comment, has no newline). 9 header comment lines.
    parsed.assert_counts([485, 476, 0, 0, 0, 9]);
    assert!(
        parsed.has("www.tradeinsights.net"),
        "uppercase name is lowercased"
    );
    assert!(parsed.has("xn----7sbhgfcdscaa3cdd6dq3e3dvf.xn--p1ai"));
    assert!(parsed.has("zzz.fhauiehgha.com"));
}

#[test]
fn adguard_dns_filter_yields_blocks_allows_and_skips_browser_rules() {
    let Some(parsed) = load("adblock/adguard-dns-filter.txt", block()) else {
        return;
    };
    // Comments: 133 `!` lines + 3 blank. Invalid: the 429 HTML lines
    // SOURCES.md counts (425 start with `<`; 2 are `href=` continuations and
    // 2 page text such as `14.1 KB`). Duplicates: SOURCES.md's 17, plus
    // `||adsjudo.com.^`, which normalizes to the `||adsjudo.com^` below it.
    // Skipped (316): 99 wildcard (SOURCES.md counts 57 among `||` rules; the
    // rest are `://*.name^` and `||name.*` forms), 89 path (SOURCES.md's 86
    // plus `http://w7.ru/`, `http://wq3.ru/`, `/bidmatching.js`), 58 IPv4
    // literals, 29 `||name.` any-TLD patterns (SOURCES.md's 28 single labels
    // and trailing-dot names, minus `||adsjudo.com.^`, which is a full name,
    // minus `||bondzgi*.` counted as wildcard, plus `||an.yandex.` and
    // `||button.blogs.yandex.`), 22 `.name^` subdomain-only patterns, 14 text
    // after `^` (including `^popup,third-party`), 3 cosmetic, 1 port, 1
    // `ws*://` scheme. SOURCES.md's "5 regex rules" are four `//name^` rules
    // (accepted as exact) and `/bidmatching.js` (a path): no real regex.
    parsed.assert_counts([17578, 16679, 18, 316, 429, 136]);
    // The 12 `@@||name^|` exceptions are subtree allows.
    assert_eq!(parsed.count(|subtree, allow| subtree && allow), 12);
    assert_eq!(parsed.rules["href.li"], [(true, true, 17559)]);
    // The 4 Cyrillic IDN rules come out as punycode.
    for name in [
        "xn--80abnuns.xn--p1acf",                     // банрек.рус
        "xn-----7kcnh2ac3afebiffxijf2d6a5e.xn--p1ai", // укроп-петрушка-огурцы.рф
        "xn--80affy2c3b.xn--p1ai",                    // хельга.рф
        "xn--u1aaw.xn--p1ai",                         // эхх.рф
    ] {
        assert!(parsed.has(name), "{name}");
    }
    assert!(!parsed.rules.keys().any(|name| !name.is_ascii()));
    // A bare name is a plain (exact) rule; `//name^` and `://name^` are exact.
    assert_eq!(parsed.rules["octopusads.net"], [(false, false, 179)]);
    assert_eq!(parsed.rules["oyy.ru"], [(false, false, 521)]);
    assert_eq!(parsed.rules["gj7.ru"][0], (false, false, 524));
    // `name^` without an anchor is a subtree block.
    assert!(parsed.rules["polezno-2012.info"][0].0);
    // The trailing-dot name, IP literals, and path rules give no rule.
    assert_eq!(parsed.rules["adsjudo.com"], [(true, false, 5754)]);
    assert!(!parsed.has("88.85.75.147"));
    assert!(!parsed.has("zoda.ru"));
    assert!(!parsed.has("admulti"));
    assert_eq!(parsed.stats.examples[0].line, 113);
}

#[test]
fn hagezi_light_adblock_yields_every_rule_as_a_subtree_block() {
    let Some(parsed) = load("adblock/hagezi-light.adblock.txt", block()) else {
        return;
    };
    // SOURCES.md: 106,487 `||name^` entries, 11 header lines.
    parsed.assert_counts([106498, 106487, 0, 0, 0, 11]);
    assert_eq!(parsed.count(|subtree, allow| subtree && !allow), 106_487);
    assert!(parsed.has("0.0.0.0.beeglivesex.com"));
}

#[test]
fn hagezi_light_domains_yields_every_entry_as_an_exact_block() {
    let Some(parsed) = load("domains/hagezi-light.domains.txt", block()) else {
        return;
    };
    // SOURCES.md: 176,041 entries, 11 `#` header lines.
    parsed.assert_counts([176052, 176041, 0, 0, 0, 11]);
    assert_eq!(parsed.count(|subtree, allow| !subtree && !allow), 176_041);
}

#[test]
fn anudeep_whitelist_yields_every_entry_as_an_allow() {
    let Some(parsed) = load("allow/anudeep-whitelist.txt", allow()) else {
        return;
    };
    parsed.assert_counts([191, 191, 0, 0, 0, 0]);
    assert_eq!(parsed.count(|subtree, allow| !subtree && allow), 191);
}

#[test]
fn anudeep_referral_sites_counts_its_duplicate() {
    let Some(parsed) = load("allow/anudeep-referral-sites.txt", allow()) else {
        return;
    };
    // SOURCES.md: 77 entries, 1 duplicate (`www.kqzyfj.com`, lines 52 and 74).
    parsed.assert_counts([77, 76, 1, 0, 0, 0]);
    assert_eq!(parsed.rules["www.kqzyfj.com"], [(false, true, 52)]);
}

#[test]
fn anudeep_optional_list_skips_comments_and_counts_its_duplicate() {
    let Some(parsed) = load("allow/anudeep-optional-list.txt", allow()) else {
        return;
    };
    // SOURCES.md: 144 entries, 1 duplicate; 44 comment + 38 blank lines.
    parsed.assert_counts([226, 143, 1, 0, 0, 82]);
}

#[test]
fn hagezi_whitelist_turns_star_dot_into_subtree_allows_and_skips_inner_wildcards() {
    let Some(parsed) = load("allow/hagezi-whitelist.txt", allow()) else {
        return;
    };
    // SOURCES.md: 1,171 entries, 7 duplicates, 258 wildcard entries: 184 are
    // a leading `*.` only (subtree allows), 74 have another `*` (skipped).
    // Comments: 632 comment (including commented-out names) + 532 blank.
    parsed.assert_counts([2335, 1090, 7, 74, 0, 1164]);
    assert_eq!(parsed.count(|subtree, allow| subtree && allow), 184);
    assert!(
        !parsed.has("device-metrics-us-2.amazon.com"),
        "commented out"
    );
}

#[test]
fn hagezi_whitelist_referral_yields_subtree_allows_and_skips_wildcards() {
    let Some(parsed) = load("allow/hagezi-whitelist-referral.adblock.txt", allow()) else {
        return;
    };
    // SOURCES.md: 482 `@@||name^` entries, 2 with wildcards (skipped).
    parsed.assert_counts([482, 480, 0, 2, 0, 0]);
    assert_eq!(parsed.count(|subtree, allow| subtree && allow), 480);
}

#[test]
fn tranco_csv_is_not_a_supported_syntax_so_every_row_is_invalid() {
    let Some(parsed) = load("popular/tranco-top-1m-truncated.csv", block()) else {
        return;
    };
    // `rank,domain` rows: the comma makes each an invalid name. No CSV support.
    parsed.assert_counts([50526, 0, 0, 0, 50526, 0]);
    let first = &parsed.stats.examples[0];
    assert_eq!(
        (first.line, first.kind, first.text.as_str()),
        (1, IssueKind::Invalid, "1,google.com")
    );
    assert!(first.reason.contains("contains `,`"), "{}", first.reason);
}

#[test]
fn tranco_domains_yields_every_popular_name() {
    let Some(parsed) = load("popular/tranco-top50k.domains.txt", block()) else {
        return;
    };
    // 50,526 names, none single-label, none duplicate.
    parsed.assert_counts([50526, 50526, 0, 0, 0, 0]);
    for name in [
        "google.com",
        "doubleclick.net",
        "ipv4only.arpa",
        "_wildcard_.ph",
    ] {
        assert!(parsed.has(name), "{name}");
    }
}
