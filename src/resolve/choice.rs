//! Which upstream a forwarder asks first: the one with the lowest smoothed
//! round-trip time, like unbound's server selection. Each answer moves its
//! upstream's estimate an eighth of the way to the time it took (TCP's
//! SRTT); a failed try (timeout, error, SERVFAIL, REFUSED) doubles it, at
//! least to the try timeout, at most to eight of them, so a dead upstream
//! sinks to the back; its next answer replaces the penalty with the time
//! it took, as unbound's backed-off timeout resets on an answer. An
//! upstream never asked has no estimate and is asked first, once. One
//! question in [`EXPLORE`] asks another upstream first (in turn), so one
//! that recovered, or got faster, is found again; the rest follow in the
//! configured order.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// One question in this many asks a runner-up first.
pub const EXPLORE: u64 = 32;

/// The smoothed round-trip times of a forwarder's upstreams.
#[derive(Debug)]
pub struct Choice {
    /// Per upstream: smoothed RTT in µs; 0 while unknown.
    srtt_us: Vec<AtomicU32>,
    /// Questions that chose, for exploration's turn.
    questions: AtomicU64,
    /// Floor and cap of a failed upstream's estimate (µs).
    timeout_us: u32,
}

impl Choice {
    /// Estimates for `count` upstreams whose tries wait `timeout`.
    pub fn new(count: usize, timeout: Duration) -> Choice {
        Choice {
            srtt_us: (0..count).map(|_| AtomicU32::new(0)).collect(),
            questions: AtomicU64::new(0),
            timeout_us: u32::try_from(timeout.as_micros()).unwrap_or(u32::MAX),
        }
    }

    /// The upstream to ask first for the next question.
    pub fn first(&self) -> usize {
        let count = self.srtt_us.len();
        if count < 2 {
            return 0;
        }
        let best = (0..count)
            .min_by_key(|&i| self.srtt_us[i].load(Ordering::Relaxed))
            .unwrap_or(0);
        let n = self.questions.fetch_add(1, Ordering::Relaxed);
        if n % EXPLORE != EXPLORE - 1 {
            return best;
        }
        // Exploration: the runners-up in turn.
        let turn = (n / EXPLORE) as usize % (count - 1);
        (0..count).filter(|&i| i != best).nth(turn).unwrap_or(best)
    }

    /// The `k`-th upstream to ask when `first` was asked first: then the
    /// others in the configured order, round again past the last.
    pub fn nth(&self, first: usize, k: usize) -> usize {
        let count = self.srtt_us.len().max(1);
        match k % count {
            0 => first,
            j => (0..count)
                .filter(|&i| i != first)
                .nth(j - 1)
                .unwrap_or(first),
        }
    }

    /// Upstream `index` answered after `rtt`; its new estimate (µs).
    pub fn answered(&self, index: usize, rtt: Duration) -> u32 {
        let sample = u32::try_from(rtt.as_micros()).unwrap_or(u32::MAX).max(1);
        let penalty = self.timeout_us;
        self.update(index, |srtt| match srtt {
            // Unknown, or a failure's penalty: the answer says how it is now.
            0 => sample,
            _ if srtt >= penalty => sample,
            // 7/8 of the old estimate, 1/8 of the new sample.
            _ => ((u64::from(srtt) * 7 + u64::from(sample)) / 8) as u32,
        })
    }

    /// A try of upstream `index` failed; its new estimate (µs).
    pub fn failed(&self, index: usize) -> u32 {
        let floor = self.timeout_us;
        let cap = floor.saturating_mul(8);
        self.update(index, |srtt| srtt.saturating_mul(2).clamp(floor, cap))
    }

    /// The estimate of upstream `index` (µs; 0 while unknown).
    pub fn srtt_us(&self, index: usize) -> u32 {
        self.srtt_us
            .get(index)
            .map_or(0, |s| s.load(Ordering::Relaxed))
    }

    fn update(&self, index: usize, f: impl Fn(u32) -> u32) -> u32 {
        let Some(cell) = self.srtt_us.get(index) else {
            return 0;
        };
        // Racing updates may lose one sample; an estimate needs no more.
        let new = f(cell.load(Ordering::Relaxed));
        cell.store(new, Ordering::Relaxed);
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// The upstreams asked first over `n` questions, counted per upstream.
    fn firsts(choice: &Choice, n: usize) -> Vec<usize> {
        let mut counts = vec![0; choice.srtt_us.len()];
        for _ in 0..n {
            counts[choice.first()] += 1;
        }
        counts
    }

    #[test]
    fn the_fastest_upstream_is_asked_first_and_the_others_sometimes() {
        let choice = Choice::new(3, 800 * MS);
        choice.answered(0, 30 * MS);
        choice.answered(1, 5 * MS);
        choice.answered(2, 60 * MS);
        let counts = firsts(&choice, EXPLORE as usize * 10);
        assert_eq!(counts[1], EXPLORE as usize * 10 - 10);
        // Exploration takes the runners-up in turn.
        assert_eq!((counts[0], counts[2]), (5, 5));
    }

    #[test]
    fn an_upstream_never_asked_is_asked_first() {
        let choice = Choice::new(2, 800 * MS);
        choice.answered(0, 2 * MS);
        assert_eq!(choice.first(), 1);
    }

    #[test]
    fn failures_push_an_upstream_back_until_it_recovers() {
        let choice = Choice::new(2, 800 * MS);
        choice.answered(0, 2 * MS);
        choice.answered(1, 20 * MS);
        assert_eq!(choice.failed(0), 800_000, "at least the timeout");
        assert_eq!(choice.failed(0), 1_600_000);
        for _ in 0..10 {
            choice.failed(0);
        }
        assert_eq!(choice.srtt_us(0), 6_400_000, "at most eight timeouts");
        assert_eq!(firsts(&choice, 31), [0, 31]);
        // Explored, and answering again: the penalty is gone at once.
        assert_eq!(choice.answered(0, 3 * MS), 3_000);
        assert!(firsts(&choice, 32)[0] >= 31);
        // A known estimate moves an eighth of the way.
        assert_eq!(choice.answered(0, 11 * MS), 4_000);
    }

    #[test]
    fn the_rest_follow_in_the_configured_order() {
        let choice = Choice::new(3, 800 * MS);
        let order: Vec<usize> = (0..4).map(|k| choice.nth(1, k)).collect();
        assert_eq!(order, [1, 0, 2, 1]);
        let one = Choice::new(1, 800 * MS);
        assert_eq!((one.first(), one.nth(0, 2)), (0, 0));
    }
}
