//! [`ImageBuilder`]: collects the rules of every list and merges
//! duplicates; `write.rs` writes them out as one image in the layout of
//! `format.rs`, ready for [`Image`](super::Image) (`view.rs`) to read in
//! place.
//!
//! The builder keeps only a 64-bit hash per rule name, never the names: 16
//! bytes per rule in one vector, sorted and merged in place when the image
//! is built, so building an image of a million rules needs some 16 MB, not a
//! heap of strings. Merging keeps, per name, kind (block or allow),
//! importance (plain or important) and form (exact or subtree), one entry
//! naming the set of lists that gave it; an
//! exact entry names only the lists that do not also give the subtree form,
//! which covers the name itself too. Each list keeps its groups and
//! schedule, so the server can tell for every client which lists apply.
//!
//! Regex rules are kept apart, each with its list, line and query types
//! (at most [`MAX_REGEXES`](super::MAX_REGEXES)), checked one by one as
//! they come ([`ImageBuilder::add_regex`]) and compiled together into one
//! DFA before the image is written ([`ImageBuilder::compile_regexes`],
//! `regex.rs`).
//!
//! Custom answers (`$dnsrewrite` rules, hosts addresses served) are kept
//! apart too, one record per rule with its list and line
//! ([`ImageBuilder::add_rewrite`]); copies within a list are dropped when
//! the image is built.
//!
//! A list's own duplicates are dropped the same way, by sorting, when the
//! list is [settled](ImageBuilder::settle): the rules a list added are the
//! tail of the vector, so no per-list hash set is needed (for a million
//! names that set took more memory than the rules themselves).

use std::collections::{HashMap, HashSet};

use super::format::{
    ANSWER_OFF, ANSWER_SUBTREE, MAX_GROUPS, MAX_LIST_NAME, MAX_LISTS, MAX_REGEXES, MAX_SETS,
    PAYLOAD_IMPORTANT, PAYLOAD_SET, PAYLOAD_SUBTREE, name_hash,
};
use super::guarded::{self, Guarded};
use super::regex::{self, RegexError};
use super::view::{Image, ImageBytes};
use crate::answer::{Answer, Rewrite};
use crate::groups::{ClientId, ClientScope, Window};
use crate::querytypes::QueryTypes;

/// Identifies a list within one image: its position in
/// [`ImageBuilder::add_list`] order, from 0.
pub type ListId = u16;

/// Identifies a group within one image: 0 is `default`, the others follow
/// [`ImageBuilder::add_group`] order.
pub type GroupId = u8;

/// In a rule's second word: set for allow rules (sorts them after block
/// rules of the same name).
pub(super) const RAW_ALLOW: u64 = 1 << 63;
/// In a rule's second word: where the insertion number starts (above the
/// payload bits, which it shares with the entry).
const RAW_SEQ_SHIFT: u32 = 17;
/// In a rule's second word: the list id (before merging) or set id (after).
pub(super) const RAW_SET: u64 = PAYLOAD_SET;
/// In a rule's second word: what makes two rules of a name different
/// rules — kind, importance and form.
const RAW_FORM: u64 = RAW_ALLOW | PAYLOAD_IMPORTANT | PAYLOAD_SUBTREE;

/// One registered list.
#[derive(Debug)]
pub(super) struct ListInfo {
    pub(super) name: String,
    pub(super) allow: bool,
    pub(super) groups: u64,
    pub(super) windows: Vec<Window>,
    /// A `$client` list's scope.
    pub(super) scope: Option<ClientScope>,
}

/// One regex rule.
#[derive(Clone, Debug)]
pub(super) struct RegexRule {
    pub(super) list: ListId,
    pub(super) allow: bool,
    pub(super) important: bool,
    pub(super) types: QueryTypes,
    pub(super) line: u32,
    pub(super) pattern: String,
}

/// Most custom answers one image holds; rules past it are refused
/// ([`ImageBuilder::add_rewrite`]).
pub const MAX_ANSWERS: usize = 1 << 20;

/// Most custom answers one list keeps for one name and form (the first
/// lines): more A records than fit a UDP answer anyway, and a bound on
/// what one question reads, whatever a list says.
pub const MAX_ANSWERS_PER_NAME: usize = 32;

/// One custom answer, as its record's fields (`format.rs`, "Answers").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct AnswerRule {
    pub(super) hash: u64,
    pub(super) list: ListId,
    pub(super) flags: u8,
    pub(super) rcode: u8,
    pub(super) rtype: u16,
    pub(super) data: [u8; 16],
    pub(super) line: u32,
}

impl AnswerRule {
    fn new(hash: u64, list: ListId, subtree: bool, rewrite: Rewrite, line: u32) -> AnswerRule {
        let mut rule = AnswerRule {
            hash,
            list,
            flags: if subtree { ANSWER_SUBTREE } else { 0 },
            rcode: 0,
            rtype: 0,
            data: [0; 16],
            line,
        };
        match rewrite {
            Rewrite::Off => rule.flags |= ANSWER_OFF,
            Rewrite::To(Answer::Rcode(rcode)) => rule.rcode = rcode.number(),
            Rewrite::To(Answer::A(v4)) => {
                rule.rtype = 1;
                rule.data[..4].copy_from_slice(&v4.octets());
            }
            Rewrite::To(Answer::Aaaa(v6)) => {
                rule.rtype = 28;
                rule.data = v6.octets();
            }
        }
        rule
    }

    /// Everything but the line: equal for copies of one rule.
    pub(super) fn what(&self) -> (u64, ListId, u8, u8, u16, [u8; 16]) {
        (
            self.hash, self.list, self.flags, self.rcode, self.rtype, self.data,
        )
    }
}

/// A regex rule the DFA of all patterns had no room for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedRegex {
    /// Its list.
    pub list: ListId,
    /// Its line in the list.
    pub line: u32,
    /// The pattern.
    pub pattern: String,
    /// Why.
    pub error: RegexError,
}

/// Collects lists and rules and compiles them into an image.
///
/// ```
/// use ralo::image::{Image, ImageBuilder, Verdict};
///
/// let mut b = ImageBuilder::new();
/// let ads = b.add_list("ads", false);
/// b.add_rule(ads, "tracker.example", true, false);
/// let image = Image::open(b.build(1)).expect("a fresh image opens");
/// assert!(matches!(image.lookup("x.tracker.example"), Verdict::Blocked(_)));
/// ```
pub struct ImageBuilder {
    pub(super) lists: Vec<ListInfo>,
    /// Group names; 0 is `default`.
    pub(super) groups: Vec<String>,
    /// The ways to recognise devices: id, groups, the device's name.
    pub(super) clients: Vec<(ClientId, u64, Option<String>)>,
    /// (name hash, allow flag | insertion number | subtree flag | list id),
    /// in insertion order until [`ImageBuilder::merge`] sorts and merges
    /// them into (name hash, allow flag | subtree flag | set id).
    pub(super) rules: Vec<(u64, u64)>,
    /// The sets of two or more lists, by set id minus the list count.
    pub(super) sets: Vec<Vec<ListId>>,
    /// Rules whose combination of lists found no set id left, attributed to
    /// their first list instead.
    pub(super) crowded: u64,
    /// The next insertion number: rules keep theirs when a list is settled.
    pub(super) next_seq: u64,
    /// Whether `rules` is sorted and merged.
    pub(super) merged: bool,
    /// Regex rules, in list and line order.
    pub(super) regexes: Vec<RegexRule>,
    /// (list, allow, important, types, pattern) of each regex rule, to
    /// drop copies.
    pub(super) regex_seen: HashSet<(ListId, bool, bool, u16, String)>,
    /// The serialized DFA of `regexes`, once compiled.
    pub(super) regex_dfa: Option<Vec<u8>>,
    /// Custom answers, in insertion order.
    pub(super) answers: Vec<AnswerRule>,
    /// Subtree rules with `$denyallow` exemptions (`guarded.rs`).
    pub(super) guarded: Vec<Guarded>,
}

impl Default for ImageBuilder {
    fn default() -> Self {
        ImageBuilder {
            lists: Vec::new(),
            groups: vec!["default".to_owned()],
            clients: Vec::new(),
            rules: Vec::new(),
            sets: Vec::new(),
            crowded: 0,
            next_seq: 0,
            merged: false,
            regexes: Vec::new(),
            regex_seen: HashSet::new(),
            regex_dfa: None,
            answers: Vec::new(),
            guarded: Vec::new(),
        }
    }
}

/// What [`ImageBuilder::settle`] did to the rules a list added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    /// Rules kept.
    pub kept: u64,
    /// Later copies of an earlier rule of the list (same name, subtree and
    /// allow), dropped.
    pub duplicates: u64,
    /// Distinct rules past `keep`, dropped (the latest added go first).
    pub left_out: u64,
}

impl std::fmt::Debug for ImageBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageBuilder")
            .field("lists", &self.lists.len())
            .field("groups", &self.groups.len())
            .field("rules", &self.rules.len())
            .finish()
    }
}

/// `name` cut to at most `MAX_LIST_NAME` bytes on a character boundary.
pub(super) fn cut(name: &str) -> String {
    let mut end = name.len().min(MAX_LIST_NAME);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_owned()
}

impl ImageBuilder {
    /// An empty builder with the `default` group.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a list (block or allow) by its config name; ids are given in
    /// call order from 0. Names longer than
    /// [`MAX_LIST_NAME`](super::MAX_LIST_NAME) bytes are cut. The list
    /// applies to the `default` group at all times until
    /// [`set_policy`](Self::set_policy) says otherwise.
    ///
    /// # Panics
    ///
    /// If more than [`MAX_LISTS`](super::MAX_LISTS) lists are registered; the
    /// config loader refuses that many lists long before.
    pub fn add_list(&mut self, name: &str, allow: bool) -> ListId {
        assert!(
            self.lists.len() < MAX_LISTS,
            "an image holds at most {MAX_LISTS} lists"
        );
        let id = self.lists.len() as ListId; // < MAX_LISTS = 4096, fits a u16
        self.lists.push(ListInfo {
            name: cut(name),
            allow,
            groups: 1,
            windows: Vec::new(),
            scope: None,
        });
        id
    }

    /// Lists registered so far.
    pub fn list_count(&self) -> usize {
        self.lists.len()
    }

    /// Registers a group after `default` (0) and gives its id, or `None`
    /// when the image holds [`MAX_GROUPS`](super::MAX_GROUPS) already.
    pub fn add_group(&mut self, name: &str) -> Option<GroupId> {
        if self.groups.len() >= MAX_GROUPS {
            return None;
        }
        self.groups.push(cut(name));
        GroupId::try_from(self.groups.len() - 1).ok()
    }

    /// Records a way to recognise a device: its `id`, the groups it is in
    /// (bit `g` for group `g`) and the device's name (`None` for a bare id
    /// in a group).
    pub fn add_client(&mut self, id: ClientId, groups: u64, name: Option<&str>) {
        self.clients.push((id, groups, name.map(cut)));
    }

    /// Which groups a list applies to (bit `g` for group `g`) and when (no
    /// window: always).
    ///
    /// # Panics
    ///
    /// If `list` was not returned by [`add_list`](Self::add_list) on this
    /// builder.
    pub fn set_policy(&mut self, list: ListId, groups: u64, windows: &[Window]) {
        let info = &mut self.lists[usize::from(list)];
        info.groups = groups;
        info.windows = windows.to_vec();
    }

    /// Makes `list` a `$client` list: it applies only to the clients of
    /// `scope` (with [`ClientScope::exclude`], to all but those), besides
    /// its groups and schedule.
    ///
    /// # Panics
    ///
    /// If `list` was not returned by [`add_list`](Self::add_list) on this
    /// builder.
    pub fn set_scope(&mut self, list: ListId, scope: ClientScope) {
        self.lists[usize::from(list)].scope = Some(scope);
    }

    /// Adds one plain (not important) rule: [`add_rule_with`](Self::add_rule_with)
    /// with `important` false.
    ///
    /// # Panics
    ///
    /// If `list` was not returned by [`add_list`](Self::add_list) on this
    /// builder.
    pub fn add_rule(&mut self, list: ListId, name: &str, subtree: bool, allow: bool) {
        self.add_rule_with(list, name, subtree, allow, false);
    }

    /// Adds one rule. `name` is already normalized (lowercase ASCII, no
    /// trailing dot; a trailing dot is dropped anyway and an empty name is
    /// ignored). `subtree`: the rule also covers every subdomain. `allow`: an
    /// allow rule. `important`: an adblock `$important` rule. An allow rule
    /// of an allow list is always important: the household's allowlists beat
    /// every block rule (`lookup.rs`, "Precedence").
    ///
    /// # Panics
    ///
    /// If `list` was not returned by [`add_list`](Self::add_list) on this
    /// builder.
    pub fn add_rule_with(
        &mut self,
        list: ListId,
        name: &str,
        subtree: bool,
        allow: bool,
        important: bool,
    ) {
        let important = self.is_important(list, allow, important);
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() {
            return;
        }
        let payload = u64::from(list)
            | if subtree { PAYLOAD_SUBTREE } else { 0 }
            | if important { PAYLOAD_IMPORTANT } else { 0 };
        let seq = self.next_seq << RAW_SEQ_SHIFT;
        self.next_seq += 1;
        let allow = if allow { RAW_ALLOW } else { 0 };
        self.rules.push((name_hash(name), allow | seq | payload));
        self.merged = false;
    }

    /// Whether a rule of `list` is important: an adblock `$important` rule
    /// (`important`), or an allow rule of an allow list.
    ///
    /// # Panics
    ///
    /// If `list` was not returned by [`add_list`](Self::add_list) on this
    /// builder.
    fn is_important(&self, list: ListId, allow: bool, important: bool) -> bool {
        let Some(info) = self.lists.get(usize::from(list)) else {
            panic!("list id {list} was not registered with add_list");
        };
        important || (allow && info.allow)
    }

    /// Adds a plain regex rule: [`add_regex_with`](Self::add_regex_with)
    /// with `important` false.
    ///
    /// # Panics
    ///
    /// If `list` was not returned by [`add_list`](Self::add_list) on this
    /// builder.
    pub fn add_regex(
        &mut self,
        list: ListId,
        pattern: &str,
        allow: bool,
        types: QueryTypes,
        line: u32,
    ) -> Result<bool, RegexError> {
        self.add_regex_with(list, pattern, allow, false, types, line)
    }

    /// Adds a regex rule of `list`, written on `line`, for queries of
    /// `types`, important as [`add_rule_with`](Self::add_rule_with) says;
    /// `Ok(false)` when the list has it already (same pattern, types, allow
    /// and importance). The pattern is checked alone here: that it parses
    /// and that its DFA fits [`MAX_PATTERN_DFA`](super::MAX_PATTERN_DFA).
    ///
    /// # Panics
    ///
    /// If `list` was not returned by [`add_list`](Self::add_list) on this
    /// builder.
    pub fn add_regex_with(
        &mut self,
        list: ListId,
        pattern: &str,
        allow: bool,
        important: bool,
        types: QueryTypes,
        line: u32,
    ) -> Result<bool, RegexError> {
        let important = self.is_important(list, allow, important);
        if self.regexes.len() >= MAX_REGEXES {
            return Err(RegexError::TooMany);
        }
        let key = (list, allow, important, types.bits(), pattern.to_owned());
        if self.regex_seen.contains(&key) {
            return Ok(false);
        }
        regex::check_one(pattern)?;
        self.regex_seen.insert(key);
        self.regexes.push(RegexRule {
            list,
            allow,
            important,
            types,
            line,
            pattern: pattern.to_owned(),
        });
        self.regex_dfa = None;
        Ok(true)
    }

    /// Adds a subtree rule that leaves out the names `exempt` and their
    /// subdomains (adblock `$denyallow`), as [`add_rule_with`](Self::add_rule_with)
    /// says otherwise. Exemptions not below `name` leave out nothing the
    /// rule covers and are dropped; one that is `name` or a parent of it
    /// leaves out everything, and the rule is dropped; a rule left with no
    /// exemption is a plain subtree rule. Copies of a list's rule (same
    /// name, kind and importance) are merged when the image is built
    /// (`guarded.rs`), and are not counted by [`len`](Self::len).
    ///
    /// # Panics
    ///
    /// If `list` was not returned by [`add_list`](Self::add_list) on this
    /// builder.
    pub fn add_denyallow_rule<'e>(
        &mut self,
        list: ListId,
        name: &str,
        (allow, important): (bool, bool),
        exempt: impl IntoIterator<Item = &'e str>,
    ) {
        let important = self.is_important(list, allow, important);
        match Guarded::new(list, name, (allow, important), exempt) {
            Ok(rule) => self.guarded.push(rule),
            Err(false) => self.add_rule_with(list, name, true, allow, important),
            Err(true) => {}
        }
    }

    /// `$denyallow` rules the image will leave out: past
    /// [`MAX_GUARDS`](super::MAX_GUARDS) on one way from a name to the root.
    pub fn denyallow_left_out(&self) -> u64 {
        guarded::build(self.guarded.clone(), RAW_ALLOW).left_out
    }

    /// Drops the `$denyallow` rules of `list` (a list whose text failed
    /// part way).
    pub fn discard_denyallow(&mut self, list: ListId) {
        self.guarded.retain(|rule| rule.list != list);
    }

    /// Adds a custom answer of `list`, written on `line`: `rewrite` for
    /// `name` (normalized, as for [`add_rule`](Self::add_rule)) and, with
    /// `subtree`, its subdomains. `false` when the image holds
    /// [`MAX_ANSWERS`] already (or the name is empty): the rule is left
    /// out. Of one list's answers for one name and form, the image keeps
    /// the first [`MAX_ANSWERS_PER_NAME`] lines.
    ///
    /// # Panics
    ///
    /// If `list` was not returned by [`add_list`](Self::add_list) on this
    /// builder.
    pub fn add_rewrite(
        &mut self,
        list: ListId,
        name: &str,
        subtree: bool,
        rewrite: Rewrite,
        line: u32,
    ) -> bool {
        assert!(
            usize::from(list) < self.lists.len(),
            "list id {list} was not registered with add_list"
        );
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() || self.answers.len() >= MAX_ANSWERS {
            return false;
        }
        let hash = name_hash(name);
        self.answers
            .push(AnswerRule::new(hash, list, subtree, rewrite, line));
        true
    }

    /// Drops the custom answers of `list` (a list whose text failed part
    /// way).
    pub fn discard_rewrites(&mut self, list: ListId) {
        self.answers.retain(|a| a.list != list);
    }

    /// Drops the regex rules of `list` (a list whose text failed part way).
    pub fn discard_regexes(&mut self, list: ListId) {
        self.regexes.retain(|r| r.list != list);
        self.regex_seen.retain(|(l, ..)| *l != list);
        self.regex_dfa = None;
    }

    /// Regex rules held (after [`compile_regexes`](Self::compile_regexes),
    /// those that fit).
    pub fn regex_count(&self) -> usize {
        self.regexes.len()
    }

    /// Compiles the regex rules into one DFA (once; adding one compiles
    /// again). Rules past [`MAX_SET_DFA`](super::MAX_SET_DFA) together are
    /// dropped, the last in list and line order first, and returned.
    pub fn compile_regexes(&mut self) -> Vec<RefusedRegex> {
        if self.regex_dfa.is_some() {
            return Vec::new();
        }
        self.regexes.sort_by_key(|r| (r.list, r.line));
        let patterns: Vec<&str> = self.regexes.iter().map(|r| r.pattern.as_str()).collect();
        let (bytes, kept) = regex::compile_set(&patterns);
        let refused = self
            .regexes
            .split_off(kept)
            .into_iter()
            .map(|r| RefusedRegex {
                list: r.list,
                line: r.line,
                pattern: r.pattern,
                error: RegexError::SetTooBig,
            })
            .collect();
        self.regex_dfa = Some(bytes);
        refused
    }

    /// [`compile_regexes`](Self::compile_regexes), taking the DFA of
    /// `previous` (the image serving before) when it holds the same
    /// patterns in the same order: an update that changes no regex builds
    /// no DFA (some seconds for 200 regexes, `benches/README.md`).
    pub fn compile_regexes_after<B: ImageBytes>(
        &mut self,
        previous: Option<&Image<B>>,
    ) -> Vec<RefusedRegex> {
        if self.regex_dfa.is_none() && !self.regexes.is_empty() {
            self.regexes.sort_by_key(|r| (r.list, r.line));
            let patterns = self.regexes.iter().map(|r| r.pattern.as_str());
            if let Some(dfa) = previous.and_then(|image| image.regex_dfa_for(patterns)) {
                self.regex_dfa = Some(dfa.to_vec());
            }
        }
        self.compile_regexes()
    }

    /// Where the next rule goes: pass it to [`settle`](Self::settle) or
    /// [`discard`](Self::discard) once a list's rules are added.
    pub fn mark(&self) -> usize {
        self.rules.len()
    }

    /// Settles the rules added since `mark`: drops later copies of an
    /// earlier rule (same name, subtree and allow) and keeps at most `keep`
    /// of the rest, the first added.
    ///
    /// # Panics
    ///
    /// If `mark` is past the rules held, or rules were merged since it was
    /// taken (by [`len`](Self::len)).
    pub fn settle(&mut self, mark: usize, keep: u64) -> Settled {
        let tail = self.tail(mark);
        let before = tail.len() as u64;
        // Equal rules side by side, the first added first.
        // A list's `$client` lists add to the same tail: a rule is a copy
        // only of one of its own list.
        let form = RAW_FORM | RAW_SET;
        tail.sort_unstable_by_key(|&(hash, raw)| (hash, raw & form, raw));
        let mut kept = 0;
        for i in 0..tail.len() {
            let same = |(h, r): (u64, u64), (g, q): (u64, u64)| h == g && (r ^ q) & form == 0;
            if kept == 0 || !same(tail[kept - 1], tail[i]) {
                tail[kept] = tail[i];
                kept += 1;
            }
        }
        let distinct = kept as u64;
        let keep = usize::try_from(keep.min(distinct)).unwrap_or(kept);
        if keep < kept {
            tail[..kept].select_nth_unstable_by_key(keep, |&(_, raw)| raw & !RAW_ALLOW);
        }
        self.rules.truncate(mark + keep);
        Settled {
            kept: keep as u64,
            duplicates: before - distinct,
            left_out: distinct - keep as u64,
        }
    }

    /// The (name hash, allow) of each rule added since `mark`.
    pub fn rules_since(&self, mark: usize) -> impl Iterator<Item = (u64, bool)> + '_ {
        self.rules[mark.min(self.rules.len())..]
            .iter()
            .map(|&(hash, raw)| (hash, raw & RAW_ALLOW != 0))
    }

    /// Drops every rule added since `mark` (a list whose text failed part
    /// way through).
    pub fn discard(&mut self, mark: usize) {
        self.rules.truncate(mark);
    }

    /// The rules added since `mark`, checked to be unmerged.
    fn tail(&mut self, mark: usize) -> &mut [(u64, u64)] {
        assert!(
            mark <= self.rules.len() && (mark == self.rules.len() || !self.merged),
            "the mark {mark} is not one of this builder's unmerged rules"
        );
        &mut self.rules[mark..]
    }

    /// Sorts the rules by name hash and keeps one entry per name, kind and
    /// form, naming the set of lists that gave it (see the module docs).
    pub(super) fn merge(&mut self) {
        if self.merged {
            return;
        }
        let lists = self.lists.len();
        let mut interned: HashMap<Vec<ListId>, u64> = HashMap::new();
        let (sets, crowded) = (&mut self.sets, &mut self.crowded);
        sets.clear();
        *crowded = 0;
        let mut set_of = |members: &[ListId]| -> u64 {
            if let [one] = members {
                return u64::from(*one);
            }
            if let Some(&id) = interned.get(members) {
                return id;
            }
            let id = (lists + sets.len()) as u64;
            if id as usize >= MAX_SETS {
                *crowded += 1;
                return u64::from(members[0]);
            }
            sets.push(members.to_vec());
            interned.insert(members.to_vec(), id);
            id
        };
        let rules = &mut self.rules;
        rules.sort_unstable_by_key(|&(hash, raw)| (hash, raw & RAW_FORM, raw & RAW_SET));
        let (mut exact, mut subtree) = (Vec::new(), Vec::new());
        let mut kept = 0;
        let mut i = 0;
        while i < rules.len() {
            let (hash, first) = rules[i];
            // Kind and importance: what the run of rules shares.
            let kind = first & (RAW_ALLOW | PAYLOAD_IMPORTANT);
            exact.clear();
            subtree.clear();
            let mut j = i;
            while j < rules.len()
                && rules[j].0 == hash
                && rules[j].1 & (RAW_ALLOW | PAYLOAD_IMPORTANT) == kind
            {
                let raw = rules[j].1;
                let list = (raw & RAW_SET) as ListId;
                let into = if raw & PAYLOAD_SUBTREE != 0 {
                    &mut subtree
                } else {
                    &mut exact
                };
                if into.last() != Some(&list) {
                    into.push(list);
                }
                j += 1;
            }
            // The subtree entry covers the name too.
            exact.retain(|list| subtree.binary_search(list).is_err());
            // At most two entries from a run of j - i ≥ 2 rules (one from
            // one), so `kept` never passes `j`.
            if !subtree.is_empty() {
                rules[kept] = (hash, kind | PAYLOAD_SUBTREE | set_of(&subtree));
                kept += 1;
            }
            if !exact.is_empty() {
                rules[kept] = (hash, kind | set_of(&exact));
                kept += 1;
            }
            i = j;
        }
        rules.truncate(kept);
        self.merged = true;
    }

    /// Rules added so far, after merging duplicates (merging them now): one
    /// per name, kind, importance and form; `$denyallow` rules
    /// ([`add_denyallow_rule`](Self::add_denyallow_rule)) are not counted.
    pub fn len(&mut self) -> usize {
        self.merge();
        self.rules.len()
    }

    /// Whether no rule has been added.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Rules whose combination of lists was one too many for the image
    /// ([`MAX_SETS`](super::MAX_SETS) sets): they are attributed to their
    /// first list alone (merging them now).
    pub fn crowded(&mut self) -> u64 {
        self.merge();
        self.crowded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Verdict;

    #[test]
    fn len_counts_rules_after_merging() {
        let mut b = ImageBuilder::new();
        let a = b.add_list("a", false);
        let c = b.add_list("c", false);
        assert!(b.is_empty());
        b.add_rule(a, "x.com", false, false);
        b.add_rule(c, "x.com", true, false);
        b.add_rule(c, "x.com.", false, false);
        // c's subtree entry, and a's exact one: c's exact copy is covered.
        assert_eq!(b.len(), 2);
        b.add_rule(a, "x.com", false, true);
        assert_eq!(b.len(), 3);
        b.add_rule(a, "", true, false);
        assert_eq!(b.len(), 3);
    }

    #[test]
    fn settle_drops_a_lists_duplicates_and_keeps_its_first_rules() {
        let mut b = ImageBuilder::new();
        let a = b.add_list("a", false);
        b.add_rule(a, "x.com", false, false);
        let mark = b.mark();
        for name in ["d.com", "c.com", "d.com", "b.com", "c.com", "a.com"] {
            b.add_rule(a, name, false, false);
        }
        // Not a duplicate: the subtree form, and the allow form.
        b.add_rule(a, "d.com", true, false);
        b.add_rule(a, "d.com", false, true);
        let settled = b.settle(mark, 3);
        assert_eq!(
            settled,
            Settled {
                kept: 3,
                duplicates: 2,
                left_out: 3
            }
        );
        let kept: Vec<u64> = b.rules_since(mark).map(|(hash, _)| hash).collect();
        let mut want = vec![name_hash("d.com"), name_hash("c.com"), name_hash("b.com")];
        let mut got = kept.clone();
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want);
        assert_eq!(b.len(), 4);
    }

    #[test]
    fn settled_rules_merge_across_lists_as_unsettled_ones_do() {
        let make = |settle: bool| {
            let mut b = ImageBuilder::new();
            for (list, names) in [
                ("a", ["x.com", "y.com", "x.com"]),
                ("b", ["y.com", "z.com", "y.com"]),
            ] {
                let id = b.add_list(list, false);
                let mark = b.mark();
                for (i, name) in names.into_iter().enumerate() {
                    b.add_rule(id, name, i == 1, false);
                }
                if settle {
                    b.settle(mark, u64::MAX);
                }
            }
            b.build_at(1, 1)
        };
        assert_eq!(make(true), make(false));
    }

    #[test]
    fn discard_forgets_a_lists_rules() {
        let mut b = ImageBuilder::new();
        let a = b.add_list("a", false);
        let mark = b.mark();
        b.add_rule(a, "x.com", false, false);
        b.discard(mark);
        assert!(b.is_empty());
    }

    #[test]
    fn the_dfa_of_an_image_with_the_same_patterns_is_taken_over() {
        let make = |patterns: &[&str]| {
            let mut b = ImageBuilder::new();
            let l = b.add_list("l", false);
            for (line, p) in patterns.iter().enumerate() {
                b.add_regex(l, p, false, QueryTypes::ALL, line as u32 + 1)
                    .unwrap();
            }
            b
        };
        let before = Image::open(make(&["^a", "b$"]).build_at(1, 1)).unwrap();
        let mut same = make(&["^a", "b$"]);
        assert!(same.compile_regexes_after(Some(&before)).is_empty());
        let taken = Image::open(same.build_at(1, 1)).unwrap();
        assert_eq!(taken.as_bytes(), before.as_bytes());
        // Other patterns, or the same in another order: built anew.
        for patterns in [["^a", "c$"], ["b$", "^a"]] {
            let mut other = make(&patterns);
            other.compile_regexes_after(Some(&before));
            let image = Image::open(other.build_at(1, 1)).unwrap();
            let rule = |p| image.regex(p).unwrap().pattern;
            assert_eq!((rule(0), rule(1)), (patterns[0], patterns[1]));
            assert!(matches!(image.lookup("xa"), Verdict::NotListed));
            assert!(matches!(
                image.lookup(patterns[0].trim_matches(['^', '$'])),
                Verdict::Blocked(_)
            ));
        }
    }

    #[test]
    fn list_ids_follow_call_order() {
        let mut b = ImageBuilder::new();
        assert_eq!(b.add_list("first", false), 0);
        assert_eq!(b.add_list("second", true), 1);
    }

    #[test]
    fn same_input_builds_same_bytes() {
        let make = || {
            let mut b = ImageBuilder::new();
            let l = b.add_list("l", false);
            for i in 0..500 {
                b.add_rule(l, &format!("n{i}.example"), i % 2 == 0, i % 7 == 0);
            }
            b.build_at(3, 1_700_000_000)
        };
        assert_eq!(make(), make());
    }

    #[test]
    fn long_list_names_are_cut_on_a_char_boundary() {
        let mut b = ImageBuilder::new();
        let long = "é".repeat(MAX_LIST_NAME);
        b.add_list(&long, false);
        let kept = &b.lists[0].name;
        assert!(kept.len() <= MAX_LIST_NAME && kept.len() >= MAX_LIST_NAME - 1);
    }

    #[test]
    #[should_panic(expected = "not registered")]
    fn rule_for_unknown_list_panics() {
        ImageBuilder::new().add_rule(0, "x.com", false, false);
    }
}
