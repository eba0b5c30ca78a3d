//! Step 3: blocking, as a verdict on a name — [`screen`] — and on the CNAME
//! targets of its answer — [`blocked_target`]. The server and `ralo check`
//! both ask these, so they cannot disagree.
//!
//! The order: the household's allowlists beat everything; then a custom
//! answer (`$dnsrewrite`, a hosts address served) beats the rest, unless
//! an `@@$dnsrewrite` exception turns the name's rewrites off; then an
//! allow rule beats the rest (a block rule of the name, a canary, a block
//! rule of a CNAME target); then the canary names; then the most specific
//! block rule. The answer a blocked name gets is
//! the renderer's business (`server`), by `[blocking] mode`.
//!
//! This is AdGuard Home's order: it asks its allowlists first (`matchHost`,
//! `filteringEngineAllow`), then checks `$dnsrewrite` rules before any
//! other, and only an exception with `$dnsrewrite` itself turns one off
//! (urlfilter's `DNSResult::DNSRewrites`). So a plain exception in a list
//! (`@@||x^`) lets a blocked name through but does not undo a list's
//! rewrite of it: a rewrite is an answer, not a block.
//! Rewrites are rules of their lists: they apply to the lists' groups at
//! their times, and not while blocking is switched off; a name that must
//! always resolve belongs in `[local] records`.

use super::policy::Lists;
use crate::domain::wire::Labels;
use crate::image::{Image, ImageBytes, Match, RewriteVerdict, Rewritten, Verdict};
use crate::vocab::ListId;

/// Names that tell software whether the network filters DNS. Answered
/// NXDOMAIN while blocking is on: Firefox then keeps its DNS-over-HTTPS off
/// (`use-application-dns.net`), and iCloud Private Relay stays off
/// (`mask.icloud.com`), so the household's blocking applies to them. An
/// allow rule for one lets it through to upstream, as Pi-hole does.
pub const CANARY_NAMES: &[&str] = &[
    "use-application-dns.net",
    "mask.icloud.com",
    "mask-h2.icloud.com",
];

/// Why a name is blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    /// A block rule matched the name.
    Rule(Match),
    /// A block rule matched a CNAME target in the name's answer.
    Cname(Match),
    /// The name is a canary ([`CANARY_NAMES`]).
    Canary,
}

impl Block {
    /// The list whose rule blocked, if a rule did.
    pub fn list(self) -> Option<ListId> {
        match self {
            Block::Rule(m) | Block::Cname(m) => Some(m.list),
            Block::Canary => None,
        }
    }
}

/// An allow rule that matched a name, and the block rule of the name it
/// beat, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allowed {
    /// The most specific allow rule.
    pub allow: Match,
    /// The most specific block rule of the name, beaten.
    pub overrides: Option<Match>,
}

/// What blocking says about a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    /// No rule matches and it is no canary.
    Clear,
    /// Blocked.
    Blocked(Block),
    /// Let through by an allow rule.
    Allowed(Allowed),
    /// Answered as a list's custom answer says.
    Rewritten(Rewritten),
}

/// The verdict on the name with `labels` (wire form) and lower-case text
/// `lower` (which regex rules match), asked with record type `qtype`, with
/// every list applying.
pub fn screen<B: ImageBytes>(
    image: &Image<B>,
    labels: Labels<'_>,
    lower: &str,
    qtype: u16,
) -> Screen {
    screen_for(image, labels, lower, qtype, Lists::All).0
}

/// The verdict on the name for a client to whom `lists` apply, and whether
/// any list, applying or not, has a rule for it (a name no list has is
/// clear for every client).
pub fn screen_for<B: ImageBytes>(
    image: &Image<B>,
    labels: Labels<'_>,
    lower: &str,
    qtype: u16,
    lists: Lists<'_>,
) -> (Screen, bool) {
    let (rewrite, rewrite_listed) =
        image.rewrite_labels(labels.clone(), |list| lists.applies(list));
    if let RewriteVerdict::To(rewritten) = rewrite
        && !in_allowlist(image, labels.clone(), lower, qtype, lists)
    {
        return (Screen::Rewritten(rewritten), true);
    }
    let found = image.lookup_labels_with(labels, lower, qtype, |list| lists.applies(list));
    let screen = match found.verdict {
        Verdict::Allowed { allow, overrides } => Screen::Allowed(Allowed { allow, overrides }),
        _ if CANARY_NAMES.contains(&lower) => Screen::Blocked(Block::Canary),
        Verdict::Blocked(m) => Screen::Blocked(Block::Rule(m)),
        Verdict::NotListed => Screen::Clear,
    };
    (screen, found.listed || rewrite_listed)
}

/// Whether an allow rule of one of the household's allowlists (an allow
/// list, not an `@@` exception in a block list) that applies covers the
/// name: asked only when a rewrite matched.
fn in_allowlist<B: ImageBytes>(
    image: &Image<B>,
    labels: Labels<'_>,
    lower: &str,
    qtype: u16,
    lists: Lists<'_>,
) -> bool {
    let allowlist = |list| lists.applies(list) && image.list_is_allow(list) == Some(true);
    let found = image.lookup_labels_with(labels, lower, qtype, allowlist);
    matches!(found.verdict, Verdict::Allowed { .. })
}

/// The block rule of the first of `targets` (lower-case texts) that one
/// of `lists` blocks for a question of record type `qtype` (a target an
/// allow rule covers is not blocked), and whether any list, applying or
/// not, has a rule for one of them.
pub fn blocked_target<'t, B: ImageBytes>(
    image: &Image<B>,
    targets: impl IntoIterator<Item = &'t str>,
    qtype: u16,
    lists: Lists<'_>,
) -> (Option<Match>, bool) {
    let mut listed = false;
    for target in targets {
        let found = image.lookup_with(target, qtype, |list| lists.applies(list));
        listed |= found.listed;
        if let Verdict::Blocked(m) = found.verdict {
            return (Some(m), true);
        }
    }
    (None, listed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::ImageBuilder;

    fn image() -> Image<Vec<u8>> {
        let mut b = ImageBuilder::new();
        let ads = b.add_list("ads", false);
        let allow = b.add_list("allow", true);
        b.add_rule(ads, "tracker.example", true, false);
        b.add_rule(ads, "use-application-dns.net", false, false);
        b.add_rule(allow, "good.tracker.example", false, true);
        b.add_rule(allow, "mask.icloud.com", false, true);
        Image::open(b.build(1)).unwrap()
    }

    fn ask(image: &Image<Vec<u8>>, wire: &[u8]) -> Screen {
        let mut text = crate::domain::wire::TextBuffer::new();
        let lower = text.lower(wire);
        screen(image, Labels::new(wire), lower, 1)
    }

    #[test]
    fn subtree_rules_block_children_and_allow_beats_block() {
        let image = image();
        assert!(matches!(
            ask(&image, b"\x01x\x07tracker\x07example\x00"),
            Screen::Blocked(Block::Rule(_))
        ));
        let Screen::Allowed(allowed) = ask(&image, b"\x04good\x07Tracker\x07example\x00") else {
            panic!("the allow rule beats the subtree block");
        };
        assert!(allowed.overrides.is_some());
        assert_eq!(ask(&image, b"\x07example\x00"), Screen::Clear);
    }

    #[test]
    fn a_canary_beats_a_block_rule_and_an_allow_rule_beats_a_canary() {
        let image = image();
        assert_eq!(
            ask(&image, b"\x13use-application-dns\x03net\x00"),
            Screen::Blocked(Block::Canary)
        );
        assert_eq!(
            ask(&image, b"\x07Mask-H2\x06icloud\x03com\x00"),
            Screen::Blocked(Block::Canary)
        );
        assert_eq!(
            ask(&image, b"\x01x\x04mask\x06icloud\x03com\x00"),
            Screen::Clear
        );
        assert!(matches!(
            ask(&image, b"\x04mask\x06icloud\x03com\x00"),
            Screen::Allowed(_)
        ));
    }

    #[test]
    fn the_first_blocked_cname_target_is_found() {
        let image = image();
        let targets = ["cdn.example", "good.tracker.example", "t.tracker.example"];
        let m = blocked_target(&image, targets, 1, Lists::All).0.unwrap();
        assert_eq!(image.list_name(m.list), Some("ads"));
        assert_eq!(
            blocked_target(&image, targets[..2].iter().copied(), 1, Lists::All),
            (None, true)
        );
    }
}
