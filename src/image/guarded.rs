//! Rules with `$denyallow` exemptions, on the builder's side: kept with
//! their names (they are few) until the image is built, then merged and
//! turned into the entries `format.rs` describes ("`$denyallow` entries").
//!
//! A rule `||S^$denyallow=D1|D2` of list `l` covers `S` and its subdomains
//! except the `Di` and theirs; only the rule itself leaves them out, so
//! another rule on a `Di` still counts. In the image the rule is one entry
//! under `S` and each `Di` one entry that names it by list, kind,
//! importance and the label count of `S`. For that naming to be exact, a
//! list keeps one such rule per name, kind and importance: copies are
//! merged into one that leaves out what every copy leaves out (the names
//! below both a `Di` of one and a `Dj` of the other); a merge that leaves
//! out nothing is a plain subtree rule. The lookup holds the rules it meets
//! on the way from a name to the root in a fixed array of
//! [`MAX_GUARDS`]; rules past that many on one way are left out (counted),
//! the deepest first.

use std::collections::{BTreeMap, HashMap};

use super::builder::ListId;
use super::format::{
    MAX_GUARDS, MAX_SETS, PAYLOAD_IMPORTANT, PAYLOAD_SUBTREE, exemption_hash, name_hash,
};
use crate::domain::is_below;

/// A subtree rule with exemptions, as added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Guarded {
    pub(super) list: ListId,
    /// The rule's name, lower case, without a trailing dot.
    pub(super) name: String,
    pub(super) allow: bool,
    /// Important as the image files it (an allowlist's allows are).
    pub(super) important: bool,
    /// The names left out, each strictly below `name`, none twice.
    pub(super) exempt: Vec<String>,
}

impl Guarded {
    /// The rule of `list` on `name` leaving out `exempt`, in the form
    /// [`Guarded`] keeps: `Err(true)` when it covers no name (an exemption
    /// is `name` or above it), `Err(false)` when it leaves out nothing it
    /// covers (a plain subtree rule).
    pub(super) fn new<'e>(
        list: ListId,
        name: &str,
        (allow, important): (bool, bool),
        exempt: impl IntoIterator<Item = &'e str>,
    ) -> Result<Guarded, bool> {
        let name = lower(name);
        let mut kept: Vec<String> = Vec::new();
        for raw in exempt {
            let exempt = lower(raw);
            if exempt == name || is_below(&name, &exempt) {
                return Err(true);
            }
            if is_below(&exempt, &name) && !kept.contains(&exempt) {
                kept.push(exempt);
            }
        }
        if kept.is_empty() {
            return Err(false);
        }
        Ok(Guarded {
            list,
            name,
            allow,
            important,
            exempt: kept,
        })
    }
}

/// A name as the image compares it: lower case, no trailing dot.
fn lower(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// What the guarded rules of an image come to.
#[derive(Debug, Default)]
pub(super) struct Built {
    /// Entries as the builder keeps rules before writing them:
    /// (name or exemption hash, `raw_allow` | payload).
    pub(super) entries: Vec<(u64, u64)>,
    /// Rules whose copies together leave out nothing: (list, name, allow,
    /// important), for plain subtree rules.
    pub(super) plain: Vec<(ListId, String, bool, bool)>,
    /// Rules past [`MAX_GUARDS`] on one way to the root, left out.
    pub(super) left_out: u64,
}

/// Merges `rules` and makes their entries; `raw_allow` is the builder's
/// allow flag.
pub(super) fn build(rules: Vec<Guarded>, raw_allow: u64) -> Built {
    let mut merged: BTreeMap<(usize, String, ListId, bool, bool), Vec<String>> = BTreeMap::new();
    for rule in rules {
        // Shallow names first, for the bound below.
        let depth = rule.name.split('.').count();
        let key = (depth, rule.name, rule.list, rule.allow, rule.important);
        match merged.get_mut(&key) {
            Some(exempt) => *exempt = both(exempt, &rule.exempt),
            None => {
                merged.insert(key, rule.exempt);
            }
        }
    }
    let mut built = Built::default();
    let mut on_name: HashMap<String, usize> = HashMap::new();
    for ((depth, name, list, allow, important), exempt) in merged {
        if exempt.is_empty() {
            built.plain.push((list, name, allow, important));
            continue;
        }
        let above: usize = suffixes(&name)
            .map(|suffix| on_name.get(suffix).copied().unwrap_or(0))
            .sum();
        if above + 1 > MAX_GUARDS {
            built.left_out += 1;
            continue;
        }
        *on_name.entry(name.clone()).or_default() += 1;
        let flags = if allow { raw_allow } else { 0 }
            | if important { PAYLOAD_IMPORTANT } else { 0 }
            | (MAX_SETS as u64 + u64::from(list));
        built
            .entries
            .push((name_hash(&name), flags | PAYLOAD_SUBTREE));
        // A valid name has at most 127 labels.
        let labels = u8::try_from(depth).unwrap_or(u8::MAX);
        for below in &exempt {
            built
                .entries
                .push((exemption_hash(name_hash(below), labels), flags));
        }
    }
    built
}

/// `name` and each of its parents.
fn suffixes(name: &str) -> impl Iterator<Item = &str> {
    std::iter::once(name).chain(name.match_indices('.').map(|(at, _)| &name[at + 1..]))
}

/// What two copies of a rule both leave out: of each pair of exemptions
/// one of which is below (or is) the other, the lower one.
fn both(one: &[String], other: &[String]) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for a in one {
        for b in other {
            let lower = if a == b || is_below(a, b) {
                a
            } else if is_below(b, a) {
                b
            } else {
                continue;
            };
            if !kept.contains(lower) {
                kept.push(lower.clone());
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn an_exemption_of_the_name_or_above_it_leaves_no_rule() {
        let new = |exempt: &[&str]| Guarded::new(0, "x.example", (false, false), exempt.to_vec());
        assert_eq!(new(&["x.example"]), Err(true));
        assert_eq!(new(&["a.x.example", "example"]), Err(true));
        assert_eq!(new(&["other.example", "y.example"]), Err(false));
        let rule = new(&["A.x.example.", "a.x.example", "b.c.x.example", "x.other"]).unwrap();
        assert_eq!(rule.exempt, names(&["a.x.example", "b.c.x.example"]));
    }

    #[test]
    fn copies_of_a_rule_leave_out_what_both_leave_out() {
        let one = names(&["a.x.example", "b.x.example", "c.x.example"]);
        let other = names(&["deep.a.x.example", "b.x.example", "d.x.example"]);
        assert_eq!(
            both(&one, &other),
            names(&["deep.a.x.example", "b.x.example"])
        );
        assert!(both(&one, &names(&["d.x.example"])).is_empty());
    }

    #[test]
    fn copies_that_leave_out_nothing_together_are_a_plain_rule() {
        let rule =
            |exempt: &[&str]| Guarded::new(3, "x.example", (false, true), exempt.to_vec()).unwrap();
        let built = build(
            vec![rule(&["a.x.example"]), rule(&["b.x.example"])],
            1 << 63,
        );
        assert_eq!(built.plain, [(3, "x.example".to_owned(), false, true)]);
        assert!(built.entries.is_empty());
        let built = build(vec![rule(&["a.x.example", "b.x.example"])], 1 << 63);
        assert_eq!(built.entries.len(), 3, "the rule and two exemptions");
    }

    #[test]
    fn rules_past_the_bound_on_one_way_to_the_root_are_left_out() {
        let mut rules = Vec::new();
        let mut name = "example".to_owned();
        for depth in 0..MAX_GUARDS + 3 {
            name = format!("l{depth}.{name}");
            let exempt = format!("z.{name}");
            rules.push(Guarded::new(0, &name, (false, false), [exempt.as_str()]).unwrap());
        }
        // A sibling way shares only the shallow ones.
        rules.push(Guarded::new(1, "other.example", (false, false), ["z.other.example"]).unwrap());
        let built = build(rules, 1 << 63);
        assert_eq!(built.left_out, 3);
        let kept = built.entries.iter().filter(|e| e.1 & PAYLOAD_SUBTREE != 0);
        assert_eq!(kept.count(), MAX_GUARDS + 1);
    }
}
