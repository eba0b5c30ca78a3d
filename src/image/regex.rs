//! Regex rules in the image: the updater compiles every regex rule of a
//! generation into one multi-pattern DFA ([`compile_set`]), the image
//! carries its serialized bytes (`format.rs`, "Regex DFA"), and the server
//! deserializes it in place ([`deserialize`], zero-copy: the DFA borrows
//! the image's mapping) and runs it over a name ([`for_each_match`]).
//!
//! The DFA is dense and searches unanchored with match kind *all*, so one
//! pass over the name's text says every pattern that matches anywhere in
//! it, as an overlapping search would, and a pattern's index names its
//! rule (list, line, query types) in the pattern table. Dense, not sparse:
//! for the 200 Pi-hole-style regexes of `benches/regex.sh`
//! (`benches/README.md`, "Regex rules") the dense DFA takes 3.2 MB and
//! some 31 ns per name, the sparse one a third of the bytes (1.05 MB) but
//! two orders of magnitude more time per name (3.3 µs; each step searches
//! the state's transitions). Either way the DFA runs only for names the
//! rules on names did not decide.
//!
//! # Caps
//!
//! A regex can need a DFA exponential in its length (`(a|b)*a(a|b){20}`).
//! Each pattern is first compiled alone, and refused when its DFA passes
//! [`MAX_PATTERN_DFA`] bytes; the set of all patterns is refused past
//! [`MAX_SET_DFA`] bytes, and then the patterns that come last (list and
//! line order) are left out until the rest fits. A refused pattern is
//! reported with its list and line and counted; the others still compile.

use regex_automata::dfa::{Automaton, StartKind, dense};
use regex_automata::nfa::thompson;
use regex_automata::util::start;
use regex_automata::{Anchored, MatchKind};

/// The most bytes one pattern's DFA may take alone (256 KiB; a typical
/// Pi-hole regex takes 2 to 40 KiB).
pub const MAX_PATTERN_DFA: usize = 256 << 10;
/// The most bytes the DFA of all patterns may take (16 MiB: 200 typical
/// Pi-hole regexes take 3.2 MB).
pub const MAX_SET_DFA: usize = 16 << 20;

/// The DFA as the server holds it: its transition table borrowed from the
/// image.
pub(crate) type Dfa<'a> = dense::DFA<&'a [u32]>;

/// Why a regex rule is not in the image.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegexError {
    /// The pattern does not parse.
    #[error("not a regular expression ralo takes: {0}")]
    Syntax(String),
    /// The pattern alone needs a DFA past [`MAX_PATTERN_DFA`].
    #[error(
        "the regex needs a state machine over {} KiB; simplify it (fewer nested repetitions or alternatives)",
        MAX_PATTERN_DFA >> 10
    )]
    TooBig,
    /// The patterns together need a DFA past [`MAX_SET_DFA`]: this one
    /// came after the ones that fit.
    #[error(
        "the regexes of all lists together need a state machine over {} MiB; this one and the ones after it are left out: remove regexes that names rules cover",
        MAX_SET_DFA >> 20
    )]
    SetTooBig,
    /// More regex rules than an image holds.
    #[error(
        "more than {} regex rules; this one is left out",
        super::format::MAX_REGEXES
    )]
    TooMany,
}

/// A DFA builder for `limit` bytes.
fn builder(limit: usize) -> dense::Builder {
    let mut builder = dense::Builder::new();
    builder
        .configure(
            dense::Config::new()
                .match_kind(MatchKind::All)
                .start_kind(StartKind::Unanchored)
                .dfa_size_limit(Some(limit))
                .determinize_size_limit(Some(limit)),
        )
        .syntax(crate::lists::regex_syntax())
        .thompson(
            thompson::Config::new()
                .utf8(false)
                .nfa_size_limit(Some(limit)),
        );
    builder
}

/// Checks that `pattern` parses and that its DFA alone stays under
/// [`MAX_PATTERN_DFA`].
pub(crate) fn check_one(pattern: &str) -> Result<(), RegexError> {
    match builder(MAX_PATTERN_DFA).build(pattern) {
        Ok(dfa) if dfa.to_bytes_little_endian().0.len() > MAX_PATTERN_DFA + 8 => {
            Err(RegexError::TooBig)
        }
        Ok(_) => Ok(()),
        Err(error) => Err(classify(&error)),
    }
}

/// What a build error means: a pattern that does not parse, or a size.
fn classify(error: &dense::BuildError) -> RegexError {
    let text = error.to_string();
    if text.contains("exceeds") || text.contains("limit") {
        RegexError::TooBig
    } else {
        let line = text
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error: "))
            .unwrap_or(&text);
        RegexError::Syntax(line.to_owned())
    }
}

/// The serialized DFA (little-endian) of `patterns`, or `None` when it
/// passes `limit` bytes (or a pattern does not build: each was checked by
/// [`check_one`] before).
fn build(patterns: &[&str], limit: usize) -> Option<Vec<u8>> {
    let dfa = builder(limit).build_many(patterns).ok()?;
    let (bytes, pad) = dfa.to_bytes_little_endian();
    // The builder's limit is on its memory; the cap is on the bytes.
    let bytes = bytes.get(pad..)?;
    (bytes.len() <= limit).then(|| bytes.to_vec())
}

/// Compiles `patterns` into one DFA: its bytes and how many patterns it
/// holds — all, or the longest leading run whose DFA stays under
/// [`MAX_SET_DFA`] (the rest are refused with [`RegexError::SetTooBig`]).
pub(crate) fn compile_set(patterns: &[&str]) -> (Vec<u8>, usize) {
    compile_within(patterns, MAX_SET_DFA)
}

/// [`compile_set`] with a cap of `limit` bytes.
fn compile_within(patterns: &[&str], limit: usize) -> (Vec<u8>, usize) {
    if patterns.is_empty() {
        return (Vec::new(), 0);
    }
    if let Some(bytes) = build(patterns, limit) {
        return (bytes, patterns.len());
    }
    // The longest prefix that fits: fits(lo) holds, fits(hi) does not.
    let (mut lo, mut hi, mut best) = (0, patterns.len(), Vec::new());
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match build(&patterns[..mid], limit) {
            Some(bytes) => {
                lo = mid;
                best = bytes;
            }
            None => hi = mid,
        }
    }
    (best, lo)
}

/// The DFA in `bytes` (a DFA section), borrowed from them, or why it is
/// unusable.
pub(crate) fn deserialize(bytes: &[u8]) -> Result<Dfa<'_>, String> {
    let (dfa, read) = dense::DFA::from_bytes(bytes).map_err(|e| e.to_string())?;
    if read != bytes.len() {
        return Err(format!(
            "{} bytes follow the DFA in its section",
            bytes.len() - read
        ));
    }
    Ok(dfa)
}

/// Runs `dfa` over `text` and calls `found` with the index of each pattern
/// that matches somewhere in it (a pattern may be named more than once).
/// No allocation: one table step per byte.
#[inline]
pub(crate) fn for_each_match(
    dfa: &Dfa<'_>,
    text: impl Iterator<Item = u8>,
    mut found: impl FnMut(usize),
) {
    let Ok(mut state) = dfa.start_state(&start::Config::new().anchored(Anchored::No)) else {
        return;
    };
    let mut report = |state| {
        if dfa.is_match_state(state) {
            for i in 0..dfa.match_len(state) {
                found(dfa.match_pattern(state, i).as_usize());
            }
        }
    };
    for byte in text {
        state = dfa.next_state(state, byte);
        if dfa.is_special_state(state) {
            if dfa.is_dead_state(state) || dfa.is_quit_state(state) {
                return;
            }
            report(state);
        }
    }
    report(dfa.next_eoi_state(state));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(patterns: &[&str], text: &str) -> Vec<usize> {
        let (bytes, kept) = compile_set(patterns);
        assert_eq!(kept, patterns.len());
        // An aligned copy, as a mapping is.
        let words: Vec<u32> = bytes
            .chunks(4)
            .map(|c| {
                let mut w = [0u8; 4];
                w[..c.len()].copy_from_slice(c);
                u32::from_ne_bytes(w)
            })
            .collect();
        let aligned: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
        let dfa = deserialize(&aligned[..bytes.len()]).unwrap();
        let mut found = Vec::new();
        for_each_match(&dfa, text.bytes(), |p| found.push(p));
        found.sort_unstable();
        found.dedup();
        found
    }

    #[test]
    fn every_matching_pattern_is_named_once_anchored_or_not() {
        let patterns = [
            r"^ad[sxv]?[0-9]*\.",
            r"(^|\.)tiktokv?\.com$",
            "track",
            r"^x$",
        ];
        assert_eq!(matches(&patterns, "ads1.example.com"), [0]);
        assert_eq!(matches(&patterns, "ads.tracker.tiktokv.com"), [0, 1, 2]);
        assert_eq!(matches(&patterns, "notiktok.com"), Vec::<usize>::new());
        assert_eq!(matches(&patterns, "x"), [3]);
        assert_eq!(matches(&patterns, "xx"), Vec::<usize>::new());
    }

    #[test]
    fn a_pattern_with_an_exploding_dfa_is_refused_alone() {
        assert_eq!(check_one(r"(a|b)*a(a|b){20}"), Err(RegexError::TooBig));
        assert!(matches!(check_one("(a"), Err(RegexError::Syntax(_))));
        assert_eq!(check_one(r"^(.+[_.-])?telemetry[_.-]"), Ok(()));
    }

    #[test]
    fn a_set_past_the_cap_keeps_its_leading_patterns() {
        let patterns: Vec<String> = (0..40)
            .map(|i| format!(r"^(.+[_.-])?word{i}[_.-]"))
            .collect();
        let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
        let whole = build(&refs, MAX_SET_DFA).unwrap().len();
        let limit = whole / 2;
        let (bytes, kept) = compile_within(&refs, limit);
        assert!(kept > 0 && kept < refs.len(), "kept {kept}");
        assert!(bytes.len() <= limit);
        assert!(build(&refs[..kept + 1], limit).is_none());
    }

    #[test]
    fn bytes_that_are_no_dfa_are_refused() {
        assert!(deserialize(&[0u8; 64]).is_err());
        let (mut bytes, _) = compile_set(&["abc"]);
        bytes.truncate(bytes.len() - 4);
        assert!(deserialize(&bytes).is_err());
    }
}
