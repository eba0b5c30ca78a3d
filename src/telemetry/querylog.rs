//! The optional query log (`[telemetry] query_log`, off by default): a
//! history of queries on disk that costs the SD card one write per flush,
//! never one per query.
//!
//! A task of `ralo serve` reads the ring the way `ralo tail` does, with its
//! own [`Cursor`]: the query path never sees it. Every `query_log_flush_secs`
//! it appends the new events as JSON lines ([`Event::to_json`]) to the file
//! in one write. When the file would grow past `query_log_max_mib` it is
//! renamed to `<file>.1` (replacing the one before) and a new file begun, so
//! the log never takes more than twice that. More queries in one interval
//! than the ring holds are noted as a `{"lost":N}` line.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::ring::{Cursor, Event, Ring};
use super::writer::Telemetry;

/// Reads new events from the ring and appends them to a file.
#[derive(Debug)]
pub struct QueryLog {
    path: PathBuf,
    max_bytes: u64,
    cursor: Cursor,
}

impl QueryLog {
    /// A log at `path`, rotated at `max_bytes`, starting with event `next`.
    pub fn new(path: PathBuf, max_bytes: u64, next: u64) -> QueryLog {
        QueryLog {
            path,
            max_bytes,
            cursor: Cursor::at(next),
        }
    }

    /// The events since the last call, as JSON lines (in memory; fast).
    pub fn collect(&mut self, ring: Ring<'_>) -> String {
        let mut events: Vec<Event> = Vec::new();
        let lost = ring.read(&mut self.cursor, usize::MAX, &mut events);
        let mut text = String::new();
        if lost > 0 {
            text += &format!("{{\"lost\":{lost}}}\n");
        }
        for event in &events {
            text += &event.to_json();
            text.push('\n');
        }
        text
    }

    /// Appends `text` to the log file, rotating first if it would grow
    /// past the limit. Blocking file I/O: call it off the reactor.
    pub fn append(path: &Path, max_bytes: u64, text: &str) -> io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        let size = std::fs::metadata(path).map_or(0, |m| m.len());
        if size > 0 && size + text.len() as u64 > max_bytes {
            let mut old = path.as_os_str().to_owned();
            old.push(".1");
            std::fs::rename(path, old)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o640)
            .open(path)?;
        file.write_all(text.as_bytes())
    }

    /// Every `every`, appends what the server answered, until `shutdown`
    /// (then once more).
    pub async fn run(
        mut self,
        telemetry: Arc<Telemetry>,
        every: Duration,
        shutdown: CancellationToken,
    ) {
        info!(path = %self.path.display(), every_secs = every.as_secs(), "writing the query log");
        loop {
            let stop = tokio::select! {
                () = shutdown.cancelled() => true,
                () = tokio::time::sleep(every) => false,
            };
            let text = self.collect(telemetry.view().ring());
            let (path, max) = (self.path.clone(), self.max_bytes);
            let written =
                tokio::task::spawn_blocking(move || QueryLog::append(&path, max, &text)).await;
            if let Ok(Err(error)) = written {
                warn!(%error, path = %self.path.display(), "cannot write the query log; these queries are not in it");
            }
            if stop {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::rr::RecordType;

    use super::*;
    use crate::telemetry::writer::tests::{query, segment};
    use crate::vocab::Outcome;

    #[test]
    fn new_events_are_appended_once_and_the_file_rotates() {
        let (dir, telemetry, _segment) = segment(64);
        let path = dir.path().join("queries.log");
        let mut log = QueryLog::new(path.clone(), 400, 0);
        let name = "ads.example.com";
        for _ in 0..2 {
            telemetry.record(&query(name, Outcome::Blocked, RecordType::A));
        }
        let text = log.collect(telemetry.view().ring());
        assert_eq!(text.lines().count(), 2);
        assert!(text.contains("\"name\":\"ads.example.com\""), "{text}");
        QueryLog::append(&path, 400, &text).unwrap();
        assert_eq!(log.collect(telemetry.view().ring()), "", "nothing new");

        telemetry.record(&query(name, Outcome::Blocked, RecordType::AAAA));
        let text = log.collect(telemetry.view().ring());
        QueryLog::append(&path, 400, &text).unwrap();
        let rotated = dir.path().join("queries.log.1");
        assert_eq!(
            std::fs::read_to_string(&rotated).unwrap().lines().count(),
            2
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn more_queries_than_the_ring_holds_are_noted_as_lost() {
        let (_dir, telemetry, _segment) = segment(64);
        let mut log = QueryLog::new(PathBuf::from("unused"), 1 << 20, 0);
        let name = "x.test";
        for _ in 0..100 {
            telemetry.record(&query(name, Outcome::Cached, RecordType::A));
        }
        let text = log.collect(telemetry.view().ring());
        assert!(text.starts_with("{\"lost\":36}\n"), "{text}");
        assert_eq!(text.lines().count(), 65);
    }
}
