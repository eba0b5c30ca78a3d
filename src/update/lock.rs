//! One updater at a time per runtime folder: an exclusive `flock` on
//! `<runtime>/ralo-update.lock`, held for the updater's life and released
//! by the kernel however the process ends (SIGKILL included). The server
//! uses the same lock to see whether an updater is running.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, flock};

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub struct UpdaterLock {
    _file: File,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The lock file could not be opened.
    #[error("cannot open the updater lock {path}: {source} (check [paths] runtime)")]
    Open {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Another updater holds it.
    #[error(
        "another ralo updater is running (it holds {path}); it picks up list changes by itself"
    )]
    Busy {
        /// The lock file.
        path: PathBuf,
    },
}

/// The lock file in `runtime`.
pub fn lock_path(runtime: &Path) -> PathBuf {
    runtime.join("ralo-update.lock")
}

fn open(runtime: &Path) -> Result<File, Error> {
    let path = lock_path(runtime);
    let open = || {
        std::fs::create_dir_all(runtime)?;
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
    };
    open().map_err(|source| Error::Open {
        path: path.clone(),
        source,
    })
}

/// Takes the lock, waiting up to `wait` for another holder to finish.
pub fn acquire(runtime: &Path, wait: Duration) -> Result<UpdaterLock, Error> {
    let file = open(runtime)?;
    let deadline = Instant::now() + wait;
    loop {
        if flock(&file, FlockOperation::NonBlockingLockExclusive).is_ok() {
            // The holder's pid, so `ralo update` can nudge a running watcher.
            let pid = std::process::id().to_string();
            let _ = file
                .set_len(0)
                .and_then(|()| (&file).write_all(pid.as_bytes()));
            return Ok(UpdaterLock { _file: file });
        }
        if Instant::now() >= deadline {
            return Err(Error::Busy {
                path: lock_path(runtime),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The pid of the updater holding the lock, if one does.
pub fn holder(runtime: &Path) -> Option<u32> {
    if !is_held(runtime) {
        return None;
    }
    std::fs::read_to_string(lock_path(runtime))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether an updater holds the lock now.
pub fn is_held(runtime: &Path) -> bool {
    let Ok(file) = open(runtime) else {
        return false;
    };
    match flock(&file, FlockOperation::NonBlockingLockShared) {
        Ok(()) => {
            let _ = flock(&file, FlockOperation::Unlock);
            false
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_first_drops() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_held(dir.path()));
        let first = acquire(dir.path(), Duration::ZERO).unwrap();
        assert!(is_held(dir.path()));
        assert_eq!(holder(dir.path()), Some(std::process::id()));
        assert!(matches!(
            acquire(dir.path(), Duration::from_millis(100)),
            Err(Error::Busy { .. })
        ));
        drop(first);
        assert!(!is_held(dir.path()));
        assert!(acquire(dir.path(), Duration::ZERO).is_ok());
    }
}
