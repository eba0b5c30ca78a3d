//! The UDP workers' signs of life, for the systemd watchdog
//! (`crate::notify`): each worker stamps its slot every time round its
//! loop, which is at least every [`super::udp::IDLE_CHECK`] when no query
//! comes, so an old stamp means a wedged worker. One relaxed store per
//! batch, with the clock read the batch takes anyway.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The workers' stamps.
#[derive(Debug)]
pub struct Pulse {
    start: Instant,
    beats: Mutex<Vec<Arc<AtomicU64>>>,
}

/// One worker's stamp.
#[derive(Debug)]
pub(crate) struct Beat {
    start: Instant,
    slot: Arc<AtomicU64>,
}

impl Beat {
    /// The worker went round its loop at `now`.
    pub(crate) fn stamp(&self, now: Instant) {
        let ms = now.saturating_duration_since(self.start).as_millis();
        self.slot
            .store(u64::try_from(ms).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

impl Default for Pulse {
    fn default() -> Pulse {
        Pulse::new()
    }
}

impl Pulse {
    /// No workers yet.
    pub fn new() -> Pulse {
        Pulse {
            start: Instant::now(),
            beats: Mutex::new(Vec::new()),
        }
    }

    /// A stamp for one more worker, stamped now.
    pub(crate) fn beat(&self) -> Beat {
        let beat = Beat {
            start: self.start,
            slot: Arc::new(AtomicU64::new(0)),
        };
        beat.stamp(Instant::now());
        let mut beats = self.beats.lock().unwrap_or_else(PoisonError::into_inner);
        beats.push(beat.slot.clone());
        beat
    }

    /// How long ago the quietest worker went round its loop; `None` while
    /// no worker runs.
    pub fn stalest(&self) -> Option<Duration> {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let beats = self.beats.lock().unwrap_or_else(PoisonError::into_inner);
        let oldest = beats.iter().map(|b| b.load(Ordering::Relaxed)).min()?;
        Some(Duration::from_millis(now.saturating_sub(oldest)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stalest_worker_is_the_one_that_stamped_longest_ago() {
        let pulse = Pulse::new();
        assert_eq!(pulse.stalest(), None);
        let quick = pulse.beat();
        let slow = pulse.beat();
        std::thread::sleep(Duration::from_millis(30));
        let quick_at = Instant::now();
        quick.stamp(quick_at);
        let stalest = pulse.stalest().unwrap();
        assert!(stalest >= Duration::from_millis(30), "{stalest:?}");
        slow.stamp(Instant::now());
        // Now the stalest is the quick one, stamped 30 ms or more after the
        // slow one's beat (no bound on how long this thread waits in
        // between, on a busy machine; stamps are whole milliseconds).
        let now_stalest = pulse.stalest().unwrap();
        let bound = quick_at.elapsed() + Duration::from_millis(1);
        assert!(now_stalest <= bound, "{now_stalest:?} > {bound:?}");
    }
}
