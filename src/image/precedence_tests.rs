//! How rules of different ranks decide a name, through whole images (the
//! order is in `view.rs`, "Precedence"): `$important` blocks beat `@@`
//! exceptions, `@@…$important` beats them, and the household's allowlists
//! beat everything; specificity never lets a lower rank win.

use super::{Image, ImageBuilder, ListId, Match, Verdict};
use crate::querytypes::QueryTypes;

/// A match on a name rule.
fn on_name(list: ListId, subtree: bool, labels: u8, important: bool) -> Match {
    Match {
        list,
        subtree,
        labels,
        regex: None,
        important,
    }
}

/// An image of a block list `ads` (0), a second block list `more` (1) and
/// an allowlist `mine` (2), with the rules `add` gives.
fn image(add: impl FnOnce(&mut ImageBuilder, [ListId; 3])) -> Image<Vec<u8>> {
    let mut b = ImageBuilder::new();
    let lists = [
        b.add_list("ads", false),
        b.add_list("more", false),
        b.add_list("mine", true),
    ];
    add(&mut b, lists);
    let image = Image::open(b.build(1)).expect("fresh image opens");
    image.verify().expect("fresh image verifies");
    image
}

#[test]
fn an_important_block_beats_an_exception_of_a_block_list() {
    let image = image(|b, [ads, more, _]| {
        b.add_rule_with(ads, "tracker.example", true, false, true);
        b.add_rule(more, "tracker.example", true, true);
    });
    assert_eq!(
        image.lookup("x.tracker.example"),
        Verdict::Blocked(on_name(0, true, 2, true))
    );
}

#[test]
fn a_plain_exception_still_beats_a_plain_block() {
    let image = image(|b, [ads, more, _]| {
        b.add_rule(ads, "tracker.example", true, false);
        b.add_rule(more, "tracker.example", true, true);
    });
    assert_eq!(
        image.lookup("x.tracker.example"),
        Verdict::Allowed {
            allow: on_name(1, true, 2, false),
            overrides: Some(on_name(0, true, 2, false)),
        }
    );
}

#[test]
fn an_important_block_of_a_parent_beats_a_more_specific_exception() {
    let image = image(|b, [ads, _, _]| {
        b.add_rule_with(ads, "example.com", true, false, true);
        b.add_rule(ads, "cdn.example.com", true, true);
    });
    assert_eq!(
        image.lookup("a.cdn.example.com"),
        Verdict::Blocked(on_name(0, true, 2, true))
    );
}

#[test]
fn an_important_exception_beats_an_important_block_and_names_it() {
    let image = image(|b, [ads, more, _]| {
        b.add_rule(ads, "example.com", true, false);
        b.add_rule_with(ads, "ads.example.com", true, false, true);
        b.add_rule_with(more, "example.com", true, true, true);
    });
    assert_eq!(
        image.lookup("x.ads.example.com"),
        Verdict::Allowed {
            allow: on_name(1, true, 2, true),
            overrides: Some(on_name(0, true, 3, true)),
        }
    );
}

#[test]
fn the_household_allowlist_beats_an_important_block() {
    let image = image(|b, [ads, _, mine]| {
        b.add_rule_with(ads, "tracker.example", true, false, true);
        b.add_rule(mine, "ok.tracker.example", false, true);
    });
    assert_eq!(
        image.lookup("ok.tracker.example"),
        Verdict::Allowed {
            allow: on_name(2, false, 3, true),
            overrides: Some(on_name(0, true, 2, true)),
        }
    );
    // Only where it applies: for a client without the allowlist, the
    // important block decides.
    assert_eq!(
        image.lookup_for("ok.tracker.example", |list| list != 2),
        Verdict::Blocked(on_name(0, true, 2, true))
    );
}

#[test]
fn an_important_block_of_a_list_that_does_not_apply_beats_nothing() {
    let image = image(|b, [ads, more, _]| {
        b.add_rule_with(ads, "tracker.example", true, false, true);
        b.add_rule(more, "tracker.example", false, true);
    });
    assert_eq!(
        image.lookup_for("tracker.example", |list| list != 0),
        Verdict::Allowed {
            allow: on_name(1, false, 2, false),
            overrides: None,
        }
    );
}

#[test]
fn important_and_plain_rules_of_a_name_are_kept_apart() {
    let mut b = ImageBuilder::new();
    let ads = b.add_list("ads", false);
    b.add_rule(ads, "x.example", true, false);
    b.add_rule_with(ads, "x.example", true, false, true);
    b.add_rule_with(ads, "x.example", true, true, true);
    b.add_rule(ads, "x.example", true, true);
    b.add_rule_with(ads, "x.example", true, false, true);
    assert_eq!(b.len(), 4);
}

#[test]
fn an_important_regex_block_beats_an_exception_on_the_name() {
    let image = image(|b, [ads, more, _]| {
        b.add_regex_with(ads, r"^ads?\.", false, true, QueryTypes::ALL, 1)
            .expect("a small pattern");
        b.add_rule(more, "ad.example", true, true);
    });
    assert_eq!(
        image.lookup("ad.example"),
        Verdict::Blocked(Match {
            list: 0,
            subtree: false,
            labels: 2,
            regex: Some(0),
            important: true,
        })
    );
    let rule = image.regex(0).expect("the pattern is recorded");
    assert!(rule.important && !rule.allow);
}

#[test]
fn an_important_exception_regex_beats_an_important_block_on_the_name() {
    let image = image(|b, [ads, more, _]| {
        b.add_rule_with(ads, "ad.example", true, false, true);
        b.add_regex_with(more, r"^ad\.", true, true, QueryTypes::ALL, 4)
            .expect("a small pattern");
    });
    assert_eq!(
        image.lookup("ad.example"),
        Verdict::Allowed {
            allow: Match {
                list: 1,
                subtree: false,
                labels: 2,
                regex: Some(0),
                important: true,
            },
            overrides: Some(on_name(0, true, 2, true)),
        }
    );
}
