//! [`Segment`]: a reader's side of the telemetry segment, mapped read-only.
//! Used by `ralo stats` and `ralo tail`; it never writes, never locks, and
//! the server never knows it is there.

use std::path::{Path, PathBuf};

use super::layout::{Layout, View};
use super::{Error, Header};
use crate::exchange::{FileId, SharedWords};

/// A telemetry segment opened for reading.
#[derive(Debug)]
pub struct Segment {
    shm: SharedWords,
    layout: Layout,
    path: PathBuf,
}

impl Segment {
    /// Maps the segment at `path` read-only and checks its layout: a missing
    /// file, a bad magic, another layout version or inconsistent sizes are
    /// refused with a message saying what to do.
    pub fn open(path: &Path) -> Result<Segment, Error> {
        let shm = SharedWords::open_read_only(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                Error::Missing {
                    path: path.to_owned(),
                }
            } else {
                Error::Open {
                    path: path.to_owned(),
                    source,
                }
            }
        })?;
        let layout = Layout::check(shm.words(), path)?;
        Ok(Segment {
            shm,
            layout,
            path: path.to_owned(),
        })
    }

    /// Header, counters and ring.
    pub fn view(&self) -> View<'_> {
        View::new(self.shm.words(), self.layout)
    }

    /// The header now.
    pub fn header(&self) -> Header {
        self.view().header()
    }

    /// Where it was opened.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the path now names another segment (a restarted server made
    /// a new one): reopen to follow it. This mapping stays valid regardless.
    pub fn replaced(&self) -> bool {
        FileId::of(&self.path).is_ok_and(|id| id != self.shm.id())
    }

    /// Whether the server that writes this segment is still running: it
    /// has not marked it stopped, and its process exists.
    pub fn server_running(&self) -> bool {
        let header = self.header();
        header.stopped_unix_ms == 0 && process_exists(header.pid)
    }
}

fn process_exists(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        // It exists but belongs to another user (readers may be any user
        // of the segment's group).
        Err(errno) => errno == rustix::io::Errno::PERM,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::telemetry::Telemetry;
    use crate::telemetry::layout::{VERSION, header};
    use crate::telemetry::writer::tests::segment;

    #[test]
    fn newer_layout_version_is_refused_with_a_clear_message() {
        let (dir, telemetry, _segment) = segment(64);
        telemetry.words()[header::VERSION].store(VERSION + 1, Ordering::Relaxed);
        let err = Segment::open(telemetry.path()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Version {
                    found: 4,
                    supported: 3,
                    ..
                }
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("version 4"), "{text}");
        assert!(text.contains("newer than this ralo"), "{text}");
        drop(dir);
    }

    #[test]
    fn missing_segment_says_no_server_runs() {
        let dir = tempfile::tempdir().unwrap();
        let err = Segment::open(&dir.path().join("telemetry")).unwrap_err();
        assert!(matches!(err, Error::Missing { .. }), "{err:?}");
        assert!(err.to_string().contains("not running"), "{err}");
    }

    #[test]
    fn foreign_file_and_bad_sizes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("telemetry");
        std::fs::write(&path, vec![7u8; 4096]).unwrap();
        assert!(matches!(
            Segment::open(&path).unwrap_err(),
            Error::NotSegment { .. }
        ));
        let (_dir, telemetry, _segment) = segment(64);
        telemetry.words()[header::RING_SLOTS].store(128, Ordering::Relaxed);
        let err = Segment::open(telemetry.path()).unwrap_err();
        assert!(matches!(err, Error::Layout { .. }), "{err:?}");
    }

    #[test]
    fn a_restarted_server_replaces_the_segment() {
        let (_dir, telemetry, segment) = segment(64);
        assert!(!segment.replaced());
        let path = telemetry.path().to_owned();
        drop(telemetry);
        let next = Telemetry::create(&path, 128, &[]).unwrap();
        assert!(!segment.replaced());
        next.install().unwrap();
        assert!(segment.replaced());
        // The old mapping is still readable.
        assert_eq!(segment.view().layout().slots(), 64);
        let reopened = Segment::open(&path).unwrap();
        assert_eq!(reopened.view().layout().slots(), 128);
        assert!(!reopened.replaced());
        drop(next);
    }
}
