//! Per-source counts ([`Stats`]) and the first few problem lines
//! ([`LineIssue`]), which the updater reports with the source name.
//!
//! Counting rule: every line lands in exactly one of `comments`, `accepted`,
//! `duplicate`, `skipped` or `invalid`, except a hosts line with several
//! names (in a source whose format admits hosts lines), where each name lands
//! in one of the four rule counts. So the five counts add up to `lines` plus,
//! for each such hosts line, its names beyond the first.

use super::reason::Reason;

/// How many problem lines [`Stats::examples`] keeps.
const MAX_EXAMPLES: usize = 5;
/// How many characters of a problem line [`LineIssue::text`] keeps.
const MAX_TEXT_CHARS: usize = 80;

/// Counts for one source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Lines in the text (a final newline does not start another line).
    pub lines: u64,
    /// Rules passed to the sink.
    pub accepted: u64,
    /// Rules equal to an earlier one of the same source (same name, subtree
    /// and allow), not passed to the sink.
    pub duplicate: u64,
    /// Well-formed entries ralo deliberately does not use: modifiers,
    /// cosmetic, regex, path and port rules, IP literals, housekeeping names
    /// such as `localhost`, single labels, inner wildcards.
    pub skipped: u64,
    /// Lines (or hosts names) that are not a rule in any supported syntax.
    pub invalid: u64,
    /// Comment lines, blank lines and `[Adblock Plus 2.0]`-style headers.
    pub comments: u64,
    /// The first five skipped or invalid entries, in line order.
    pub examples: Vec<LineIssue>,
}

/// One skipped or invalid entry, for reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineIssue {
    /// 1-based line number.
    pub line: u32,
    /// Skipped or invalid.
    pub kind: IssueKind,
    /// What is wrong, e.g. ``modifier `$third-party` is not supported``.
    pub reason: String,
    /// The trimmed line, cut to 80 characters.
    pub text: String,
}

/// Whether an entry was deliberately skipped or is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssueKind {
    /// Well-formed syntax that ralo deliberately does not use.
    Skipped,
    /// Not a valid rule in any supported syntax.
    Invalid,
}

impl Stats {
    /// A one-line summary: `12 accepted, 1 duplicate, 3 skipped, 0 invalid`.
    pub fn summary(&self) -> String {
        format!(
            "{} accepted, {} duplicate, {} skipped, {} invalid",
            self.accepted, self.duplicate, self.skipped, self.invalid
        )
    }

    /// Moves `n` rules from `accepted` to `duplicate`: the caller found
    /// them to repeat earlier ones (see [`parse_reader`](super::parse_reader)).
    pub fn found_duplicates(&mut self, n: u64) {
        let n = n.min(self.accepted);
        self.accepted -= n;
        self.duplicate += n;
    }

    /// Counts a skipped or invalid entry and keeps it as an example while
    /// fewer than five are kept; only then is the reason formatted.
    pub(super) fn note(&mut self, line: u32, text: &str, reason: &Reason<'_>) {
        self.count(reason.kind(), line, text, reason);
    }

    /// Counts a rule that the parser accepted and the image then refused
    /// (a regex whose state machine is too big): it moves from `accepted`
    /// to `skipped`, and is kept as an example with `reason`.
    pub fn refused(&mut self, line: u32, text: &str, reason: &dyn std::fmt::Display) {
        self.accepted = self.accepted.saturating_sub(1);
        self.count(IssueKind::Skipped, line, text, reason);
    }

    fn count(&mut self, kind: IssueKind, line: u32, text: &str, reason: &dyn std::fmt::Display) {
        match kind {
            IssueKind::Skipped => self.skipped += 1,
            IssueKind::Invalid => self.invalid += 1,
        }
        if self.examples.len() < MAX_EXAMPLES {
            let text = match text.char_indices().nth(MAX_TEXT_CHARS) {
                Some((end, _)) => &text[..end],
                None => text,
            };
            self.examples.push(LineIssue {
                line,
                kind,
                reason: reason.to_string(),
                text: text.to_owned(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lists_the_four_rule_counts() {
        let stats = Stats {
            accepted: 12,
            duplicate: 1,
            skipped: 3,
            ..Stats::default()
        };
        assert_eq!(
            stats.summary(),
            "12 accepted, 1 duplicate, 3 skipped, 0 invalid"
        );
    }

    #[test]
    fn note_counts_by_kind_and_keeps_five_examples() {
        let mut stats = Stats::default();
        for line in 1..=7 {
            stats.note(line, "x.com^$popup", &Reason::Modifier("popup"));
        }
        stats.note(8, "<html>", &Reason::Html);
        assert_eq!(stats.skipped, 7);
        assert_eq!(stats.invalid, 1);
        assert_eq!(stats.examples.len(), 5);
        assert_eq!(stats.examples[4].line, 5);
        assert_eq!(stats.examples[0].kind, IssueKind::Skipped);
        assert_eq!(stats.examples[0].text, "x.com^$popup");
    }

    #[test]
    fn example_text_is_cut_to_80_characters() {
        let mut stats = Stats::default();
        let line = "é".repeat(200);
        stats.note(1, &line, &Reason::Html);
        assert_eq!(stats.examples[0].text.chars().count(), 80);
    }
}
