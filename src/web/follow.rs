//! The ring's durable consumer: follows the server's query ring through the
//! telemetry segment, stages every event in the [`History`] at once (so the
//! page is live) and has it written to disk once per flush interval, with
//! the place to resume from. It counts what the ring lost before it was
//! read: when `ralo web` was down longer than the ring holds, the history
//! says how many queries are missing instead of pretending.
//!
//! The server never waits for this reader; a restarted server makes a new
//! segment, which the follower notices and follows.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::history::{History, Resume};
use crate::telemetry::{Cursor, Event, Segment};
use crate::vocab::unix_ms;

/// How often the ring is read.
pub const POLL: Duration = Duration::from_millis(500);
/// Events read at most per poll (the rest follow at the next one).
const BATCH: usize = 16_384;

/// The history shared by the follower and the API.
pub type Shared = Arc<Mutex<History>>;

/// Locks the history. A holder that panicked leaves SQLite consistent (a
/// failed statement rolls back), so the lock is taken over.
pub fn lock(history: &Shared) -> std::sync::MutexGuard<'_, History> {
    history.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where the follower is: the segment it reads and its place in the ring.
struct Place {
    segment: Segment,
    cursor: Cursor,
    started_ms: u64,
}

/// Follows the segment at `telemetry` into `history` until `shutdown`,
/// flushing every `flush`, and once more at the end.
pub async fn follow(
    telemetry: PathBuf,
    history: Shared,
    flush: Duration,
    shutdown: CancellationToken,
) {
    let mut place: Option<Place> = None;
    let mut events = Vec::new();
    let mut ticker = tokio::time::interval(POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_flush = tokio::time::Instant::now();
    let mut waiting_said = false;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        if place.as_ref().is_none_or(|p| p.segment.replaced()) {
            // Read what the old segment still holds before leaving it.
            if let Some(old) = place.as_mut() {
                read(old, &history, &mut events);
            }
            place = match open(&telemetry, &history) {
                Ok(found) => {
                    waiting_said = false;
                    Some(found)
                }
                Err(reason) => {
                    if !waiting_said {
                        info!(%reason, "waiting for the DNS server's telemetry");
                        waiting_said = true;
                    }
                    place
                }
            };
        }
        if let Some(current) = place.as_mut() {
            read(current, &history, &mut events);
        }
        if last_flush.elapsed() >= flush {
            last_flush = tokio::time::Instant::now();
            flush_now(&history, place.as_ref()).await;
        }
    }
    if let Some(current) = place.as_mut() {
        read(current, &history, &mut events);
    }
    flush_now(&history, place.as_ref()).await;
}

/// Why the server's queries cannot be followed yet.
#[derive(Debug, thiserror::Error)]
enum Unfollowed {
    /// No telemetry segment to read (the server is not running yet).
    #[error(transparent)]
    Segment(#[from] crate::telemetry::Error),
    /// The history cannot say where it stopped.
    #[error(transparent)]
    History(#[from] super::history::Error),
}

/// Opens the segment and finds the place to continue: the saved one when
/// the same server run is still writing, else the oldest event it holds.
fn open(telemetry: &std::path::Path, history: &Shared) -> Result<Place, Unfollowed> {
    let segment = Segment::open(telemetry)?;
    let started_ms = segment.header().started_unix_ms;
    let resume = lock(history).resume()?;
    let next = match resume {
        Some(Resume {
            server_started_ms,
            next,
        }) if server_started_ms == started_ms => next,
        _ => 0,
    };
    info!(
        server_started_ms = started_ms,
        from_event = next,
        "following the DNS server's queries"
    );
    Ok(Place {
        segment,
        cursor: Cursor::at(next),
        started_ms,
    })
}

/// Reads everything new into the history's staging.
fn read(place: &mut Place, history: &Shared, events: &mut Vec<Event>) {
    loop {
        events.clear();
        let ring = place.segment.view().ring();
        let lost = ring.read(&mut place.cursor, BATCH, events);
        if events.is_empty() && lost == 0 {
            return;
        }
        let mut history = lock(history);
        if lost > 0 {
            history.stage_loss(unix_ms(), lost);
        }
        if let Err(error) = history.stage(events) {
            warn!(%error, "cannot keep queries in the history");
        }
        if events.len() < BATCH {
            return;
        }
    }
}

/// Writes the staged queries to disk, off the reactor.
async fn flush_now(history: &Shared, place: Option<&Place>) {
    let resume = place.map(|p| Resume {
        server_started_ms: p.started_ms,
        next: p.cursor.next(),
    });
    let history = history.clone();
    let flushed =
        tokio::task::spawn_blocking(move || lock(&history).flush(unix_ms(), resume)).await;
    match flushed {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => warn!(%error, "cannot write the history; keeping it in memory"),
        Err(error) => warn!(%error, "the history writer failed"),
    }
}
