//! The state of one lookup in `lookup.rs` ([`Walk`]): the suffix hashes not
//! yet probed, the best match of each [`Rank`] so far ([`Best`]) and the
//! `$denyallow` rules met on the way ([`Guards`]), all on the stack.

use super::builder::ListId;
use super::format::{MAX_GUARDS, SuffixHash};
use super::view::{Lookup, Match, Verdict};

/// Suffixes probed together; names rarely have more labels.
pub(super) const BATCH: usize = 16;

/// Where a rule stands in the decision (`lookup.rs`, "Precedence"): a
/// higher rank beats a lower one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Rank {
    Block = 0,
    Allow = 1,
    ImportantBlock = 2,
    ImportantAllow = 3,
}

impl Rank {
    pub(super) const COUNT: usize = 4;
    const ALL: [Rank; Rank::COUNT] = [
        Rank::Block,
        Rank::Allow,
        Rank::ImportantBlock,
        Rank::ImportantAllow,
    ];

    pub(super) fn of(allow: bool, important: bool) -> Rank {
        match (allow, important) {
            (false, false) => Rank::Block,
            (true, false) => Rank::Allow,
            (false, true) => Rank::ImportantBlock,
            (true, true) => Rank::ImportantAllow,
        }
    }

    pub(super) fn allows(self) -> bool {
        matches!(self, Rank::Allow | Rank::ImportantAllow)
    }

    pub(super) fn important(self) -> bool {
        self >= Rank::ImportantBlock
    }
}

/// The most specific match of each rank seen so far (by [`Rank`]), and
/// whether any rule matched, applying or not.
#[derive(Clone, Copy, Default)]
pub(super) struct Best {
    pub(super) ranks: [Option<Match>; Rank::COUNT],
    pub(super) listed: bool,
}

impl Best {
    /// The highest rank that matched.
    pub(super) fn top(&self) -> Option<Rank> {
        Rank::ALL
            .into_iter()
            .rev()
            .find(|&rank| self.ranks[rank as usize].is_some())
    }

    pub(super) fn lookup(self) -> Lookup {
        Lookup {
            verdict: self.verdict(),
            listed: self.listed,
        }
    }

    /// The highest rank decides; an allow names the block it beats, an
    /// important one if any matched.
    pub(super) fn verdict(self) -> Verdict {
        match self.ranks {
            [block, _, important_block, Some(allow)] => Verdict::Allowed {
                allow,
                overrides: important_block.or(block),
            },
            [_, _, Some(block), None] => Verdict::Blocked(block),
            [block, Some(allow), None, None] => Verdict::Allowed {
                allow,
                overrides: block,
            },
            [Some(block), None, None, None] => Verdict::Blocked(block),
            [None, None, None, None] => Verdict::NotListed,
        }
    }
}

/// The state of one lookup: the running suffix hash, the suffixes not yet
/// probed (hash, label count), the best matches so far and the
/// `$denyallow` rules met.
pub(super) struct Walk {
    pub(super) hash: SuffixHash,
    pub(super) labels: u8,
    pub(super) batch: [(u64, u8); BATCH],
    pub(super) len: usize,
    pub(super) best: Best,
    pub(super) guards: Guards,
}

impl Walk {
    pub(super) fn new() -> Self {
        Walk {
            hash: SuffixHash::new(),
            labels: 0,
            batch: [(0, 0); BATCH],
            len: 0,
            best: Best::default(),
            guards: Guards::default(),
        }
    }

    /// The best match of each rank, the `$denyallow` rules that no suffix
    /// left out among them, and the name's label count.
    pub(super) fn finish(self) -> (Best, u8) {
        let mut best = self.best;
        self.guards.fold_into(&mut best);
        (best, self.labels)
    }
}

/// A `$denyallow` rule met at a suffix of the name: the suffix's labels,
/// its list and rank, whether the list applies, and whether a longer
/// suffix is one of its exemptions.
#[derive(Clone, Copy, Debug)]
pub(super) struct Guard {
    labels: u8,
    list: ListId,
    rank: Rank,
    applies: bool,
    cancelled: bool,
}

impl Guard {
    pub(super) fn new(labels: u8, list: ListId, rank: Rank, applies: bool) -> Guard {
        Guard {
            labels,
            list,
            rank,
            applies,
            cancelled: false,
        }
    }
}

/// The `$denyallow` rules met so far, at most [`MAX_GUARDS`] (the builder
/// puts no more on one name and its parents; past that, in an image not
/// of the builder, the rest are not seen).
#[derive(Clone, Copy, Debug)]
pub(super) struct Guards {
    met: [Guard; MAX_GUARDS],
    len: usize,
}

impl Default for Guards {
    fn default() -> Self {
        Guards {
            met: [Guard::new(0, 0, Rank::Block, false); MAX_GUARDS],
            len: 0,
        }
    }
}

impl Guards {
    pub(super) fn meet(&mut self, guard: Guard) {
        if let Some(slot) = self.met.get_mut(self.len) {
            *slot = guard;
            self.len += 1;
        }
    }

    /// The label counts of the rules met on suffixes shorter than
    /// `labels`, each once.
    pub(super) fn levels_below(&self, labels: u8) -> impl Iterator<Item = u8> + use<> {
        let (met, len) = (self.met, self.len);
        (0..len).filter_map(move |i| {
            let level = met[i].labels;
            let first = !met[..i].iter().any(|g| g.labels == level);
            (level < labels && first).then_some(level)
        })
    }

    /// Marks the rule of `list` and `rank` met at `labels` labels as left out.
    pub(super) fn cancel(&mut self, labels: u8, list: ListId, rank: Rank) {
        for guard in &mut self.met[..self.len] {
            if (guard.labels, guard.list, guard.rank) == (labels, list, rank) {
                guard.cancelled = true;
            }
        }
    }

    /// Adds the rules not left out to `best`, as [`Best`] ranks rules on
    /// names: the longest suffix, at it the first list, subtree before exact.
    fn fold_into(&self, best: &mut Best) {
        for guard in self.met[..self.len].iter().filter(|g| !g.cancelled) {
            best.listed = true;
            if !guard.applies {
                continue;
            }
            let found = Match {
                list: guard.list,
                subtree: true,
                labels: guard.labels,
                regex: None,
                important: guard.rank.important(),
            };
            let order = |m: &Match| (m.labels, std::cmp::Reverse(m.list), m.subtree);
            let slot = &mut best.ranks[guard.rank as usize];
            if slot.is_none_or(|m| order(&found) > order(&m)) {
                *slot = Some(found);
            }
        }
    }
}
