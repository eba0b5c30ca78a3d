//! `$badfilter`: an adblock rule that cancels another. `||x^$badfilter`
//! cancels `||x^` in every list of the compile (AdGuard's meaning), so a
//! list that wants a rule gone for good, or a household list that cancels
//! one of a big list's rules, is obeyed rather than ignored.
//!
//! A rule is compared as written, with its modifiers as a set:
//! `||x^$important,badfilter` cancels `||x^$important` (and
//! `||x^$important` only); `@@||x^$badfilter` cancels the exception
//! `@@||x^`; `/re/$badfilter` cancels `/re/`. The updater reads every list
//! once for its `$badfilter` rules ([`Badfilters::scan`]) before it
//! compiles them, and the parser skips a cancelled line
//! ([`Badfilters::cancels`]), counted with the reason.

use std::collections::HashSet;
use std::io::{self, BufRead};

/// The rules `$badfilter` lines cancel, as canonical rule texts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Badfilters {
    cancelled: HashSet<String>,
}

impl Badfilters {
    /// No rule cancelled.
    pub fn new() -> Badfilters {
        Badfilters::default()
    }

    /// Adds the rules the `$badfilter` lines of the text `reader` gives
    /// cancel. Lines are read one at a time; only those that mention
    /// `badfilter` are looked at.
    ///
    /// # Errors
    ///
    /// A read error of `reader`; what was found before it stays.
    pub fn scan(&mut self, mut reader: impl BufRead) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(256);
        loop {
            bytes.clear();
            if reader.read_until(b'\n', &mut bytes)? == 0 {
                return Ok(());
            }
            if !contains(&bytes, b"badfilter") {
                continue;
            }
            let text = String::from_utf8_lossy(&bytes);
            if let Some(Rule {
                text,
                badfilter: true,
            }) = canonical(text.trim())
            {
                self.cancelled.insert(text);
            }
        }
    }

    /// The rule the `$badfilter` line `line` cancels, as a list would
    /// write it (`||x^` for `||x^$badfilter`); `None` for any other line.
    pub fn cancelled_by(line: &str) -> Option<String> {
        match canonical(line.trim())? {
            Rule {
                text,
                badfilter: true,
            } => Some(text),
            Rule { .. } => None,
        }
    }

    /// Whether no rule is cancelled.
    pub fn is_empty(&self) -> bool {
        self.cancelled.is_empty()
    }

    /// How many rules are cancelled.
    pub fn len(&self) -> usize {
        self.cancelled.len()
    }

    /// Whether the trimmed line `line` is a rule some `$badfilter` cancels.
    pub fn cancels(&self, line: &str) -> bool {
        if self.cancelled.is_empty() {
            return false;
        }
        // A line without modifiers is its own canonical text: no copy.
        if !line.contains('$') {
            return self.cancelled.contains(line);
        }
        canonical(line).is_some_and(|rule| !rule.badfilter && self.cancelled.contains(&rule.text))
    }
}

/// A rule's canonical text, and whether it carried `$badfilter`.
#[derive(Debug, PartialEq, Eq)]
struct Rule {
    /// The rule without `badfilter`, its other modifiers sorted.
    text: String,
    badfilter: bool,
}

/// The canonical form of an adblock rule line; `None` for comments and
/// lines that cannot be adblock rules.
fn canonical(line: &str) -> Option<Rule> {
    if line.is_empty() || line.starts_with('!') || line.starts_with('#') {
        return None;
    }
    let body = line.strip_prefix("@@").unwrap_or(line);
    // A `/regex/`'s modifiers follow its closing `/`; others follow `$`.
    let at = if body.starts_with('/') && body.len() > 1 {
        line.rfind("/$").map(|at| at + 1)
    } else {
        line.find('$')
    };
    let Some(at) = at else {
        return Some(Rule {
            text: line.to_owned(),
            badfilter: false,
        });
    };
    let (rule, modifiers) = (&line[..at], &line[at + 1..]);
    let mut kept: Vec<&str> = Vec::new();
    let mut badfilter = false;
    for modifier in crate::groups::split_unquoted(modifiers, ',').map(str::trim) {
        match modifier {
            "badfilter" => badfilter = true,
            "" => {}
            other => kept.push(other),
        }
    }
    kept.sort_unstable();
    kept.dedup();
    let text = match kept.is_empty() {
        true => rule.to_owned(),
        false => format!("{rule}${}", kept.join(",")),
    };
    Some(Rule { text, badfilter })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanned(text: &str) -> Badfilters {
        let mut b = Badfilters::new();
        b.scan(text.as_bytes()).unwrap();
        b
    }

    #[test]
    fn a_badfilter_cancels_the_identical_rule_only() {
        let b = scanned("! comment\n||ads.example^$badfilter\n||ads.example^\n");
        assert_eq!(b.len(), 1);
        assert!(b.cancels("||ads.example^"));
        assert!(!b.cancels("||ads.example^$badfilter"), "not itself");
        assert!(!b.cancels("||ads.example^$important"));
        assert!(!b.cancels("@@||ads.example^"));
        assert!(!b.cancels("||other.example^"));
        assert!(!b.cancels("ads.example"), "another syntax is another rule");
    }

    #[test]
    fn modifiers_compare_as_a_set() {
        let b = scanned("||x.example^$badfilter,important\n@@/ad[0-9]+/$badfilter\n");
        assert!(b.cancels("||x.example^$important"));
        assert!(!b.cancels("||x.example^"));
        assert!(b.cancels("@@/ad[0-9]+/"));
        assert!(!b.cancels("/ad[0-9]+/"));
        let sorted = scanned("||y.example^$important,dnstype=A,badfilter\n");
        assert!(sorted.cancels("||y.example^$dnstype=A,important"));
    }

    #[test]
    fn a_client_rule_is_cancelled_by_the_same_scope_only() {
        let b = scanned("||x.example^$client='a, b'|10.0.0.1,badfilter\n");
        assert!(b.cancels("||x.example^$client='a, b'|10.0.0.1"));
        assert!(!b.cancels("||x.example^"));
        assert!(!b.cancels("||x.example^$client=10.0.0.1"));
        let b = scanned("||y.example^$badfilter,important,client=~tv\n");
        assert!(b.cancels("||y.example^$client=~tv,important"));
        assert!(!b.cancels("||y.example^$client=~tv"));
    }

    #[test]
    fn a_plain_domain_line_can_be_cancelled_too() {
        let b = scanned("ads.example$badfilter\n");
        assert!(b.cancels("ads.example"));
        assert!(!b.cancels("0.0.0.0 ads.example"));
    }

    #[test]
    fn the_rule_a_badfilter_line_cancels_is_written_as_lists_write_it() {
        let cancelled = Badfilters::cancelled_by;
        assert_eq!(
            cancelled("||x.example^$badfilter").as_deref(),
            Some("||x.example^")
        );
        assert_eq!(
            cancelled(" ||x.example^$badfilter,important ").as_deref(),
            Some("||x.example^$important")
        );
        assert_eq!(cancelled("||x.example^"), None);
        assert_eq!(cancelled("! $badfilter"), None);
    }

    #[test]
    fn lines_without_badfilter_cancel_nothing() {
        let b = scanned("||a.example^\n0.0.0.0 badfilter.example\n# badfilter\n");
        assert!(b.is_empty());
        assert!(!b.cancels("||a.example^"));
    }
}
