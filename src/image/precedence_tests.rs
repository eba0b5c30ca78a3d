//! How rules of different ranks decide a name, through whole images (the
//! order is in `lookup.rs`, "Precedence"): `$important` blocks beat `@@`
//! exceptions, `@@…$important` beats them, and the household's allowlists
//! beat everything; specificity never lets a lower rank win. `$denyallow`
//! rules leave out their names for themselves alone, at any rank.

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

#[test]
fn a_denyallow_rule_leaves_out_its_names_and_their_subdomains() {
    let image = image(|b, [ads, _, _]| {
        let exempt = ["a.example.org", "b.example.org"];
        b.add_denyallow_rule(ads, "example.org", (false, false), exempt);
    });
    let blocked = Verdict::Blocked(on_name(0, true, 2, false));
    assert_eq!(image.lookup("example.org"), blocked);
    assert_eq!(image.lookup("c.example.org"), blocked);
    assert_eq!(image.lookup("xa.example.org"), blocked);
    for clear in ["a.example.org", "x.a.example.org", "y.x.B.example.org"] {
        assert_eq!(image.lookup(clear), Verdict::NotListed, "{clear}");
    }
    let labels = ["x", "a", "example", "org"].map(str::as_bytes);
    assert_eq!(image.lookup_labels(labels.into_iter()), Verdict::NotListed);
}

#[test]
fn a_name_left_out_stays_blocked_by_another_rule() {
    let image = image(|b, [ads, more, _]| {
        b.add_denyallow_rule(ads, "example.org", (false, false), ["a.example.org"]);
        b.add_rule(ads, "org", true, false);
        b.add_rule(more, "a.example.org", false, false);
    });
    // The parent rule of the same list, and another list's exact rule.
    assert_eq!(
        image.lookup("x.a.example.org"),
        Verdict::Blocked(on_name(0, true, 1, false))
    );
    assert_eq!(
        image.lookup_for("a.example.org", |list| list == 1),
        Verdict::Blocked(on_name(1, false, 3, false))
    );
    assert_eq!(
        image.lookup_for("x.a.example.org", |list| list == 1),
        Verdict::NotListed
    );
}

#[test]
fn a_denyallow_rule_of_one_list_leaves_out_nothing_of_anothers() {
    let image = image(|b, [ads, more, _]| {
        b.add_denyallow_rule(ads, "example.org", (false, false), ["a.example.org"]);
        b.add_denyallow_rule(more, "example.org", (false, false), ["b.example.org"]);
    });
    assert_eq!(
        image.lookup("a.example.org"),
        Verdict::Blocked(on_name(1, true, 2, false))
    );
    assert_eq!(
        image.lookup("b.example.org"),
        Verdict::Blocked(on_name(0, true, 2, false))
    );
    assert_eq!(
        image.lookup("c.example.org"),
        Verdict::Blocked(on_name(0, true, 2, false))
    );
}

#[test]
fn copies_of_a_denyallow_rule_leave_out_only_what_all_of_them_do() {
    let image = image(|b, [ads, _, _]| {
        let rule = (false, false);
        b.add_denyallow_rule(ads, "example.org", rule, ["a.example.org", "b.example.org"]);
        b.add_denyallow_rule(
            ads,
            "example.org",
            rule,
            ["x.a.example.org", "b.example.org"],
        );
    });
    let blocked = Verdict::Blocked(on_name(0, true, 2, false));
    assert_eq!(image.lookup("a.example.org"), blocked);
    assert_eq!(image.lookup("y.a.example.org"), blocked);
    assert_eq!(image.lookup("x.a.example.org"), Verdict::NotListed);
    assert_eq!(image.lookup("b.example.org"), Verdict::NotListed);
}

#[test]
fn a_denyallow_exception_allows_all_but_its_names() {
    let image = image(|b, [ads, more, _]| {
        b.add_rule(ads, "example.org", true, false);
        b.add_denyallow_rule(more, "example.org", (true, false), ["ads.example.org"]);
    });
    assert_eq!(
        image.lookup("www.example.org"),
        Verdict::Allowed {
            allow: on_name(1, true, 2, false),
            overrides: Some(on_name(0, true, 2, false)),
        }
    );
    assert_eq!(
        image.lookup("x.ads.example.org"),
        Verdict::Blocked(on_name(0, true, 2, false))
    );
}

#[test]
fn an_important_denyallow_block_beats_an_exception_except_on_its_names() {
    let image = image(|b, [ads, more, _]| {
        b.add_denyallow_rule(ads, "example.org", (false, true), ["cdn.example.org"]);
        b.add_rule(more, "example.org", true, true);
    });
    assert_eq!(
        image.lookup("www.example.org"),
        Verdict::Blocked(on_name(0, true, 2, true))
    );
    assert_eq!(
        image.lookup("cdn.example.org"),
        Verdict::Allowed {
            allow: on_name(1, true, 2, false),
            overrides: None,
        }
    );
}

#[test]
fn a_denyallow_rule_that_leaves_out_its_own_name_or_nothing_below_is_no_guard() {
    let image = image(|b, [ads, more, _]| {
        b.add_denyallow_rule(ads, "example.org", (false, false), ["org"]);
        b.add_denyallow_rule(more, "example.org", (false, false), ["other.net"]);
    });
    assert_eq!(
        image.lookup("a.example.org"),
        Verdict::Blocked(on_name(1, true, 2, false))
    );
    assert_eq!(image.list_rule_count(0), Some(0));
    assert_eq!(image.list_rule_count(1), Some(1));
}
