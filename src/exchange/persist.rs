//! `persist`: the updater's last-good image on disk, written so that a crash
//! at any point leaves either the old file or the new one, never a mix. The
//! server reads it back at boot with `SealedImage::from_file` (`sealed`).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::Error;

/// Writes `bytes` to `path` atomically and durably: to `<path>.tmp` in the
/// same directory, fsync, rename over `path`, fsync the directory. A crash
/// before the rename leaves the old `path` untouched (and a stale temp file
/// that the next call overwrites); after it, the new image is on disk.
pub fn persist(bytes: &[u8], path: &Path) -> Result<(), Error> {
    if bytes.is_empty() {
        return Err(Error::EmptyImage);
    }
    write_atomic(bytes, path)
}

/// The write of [`persist`] for any file, empty ones included (the
/// household's list edits use it): temp, fsync, rename, fsync directory.
pub fn write_atomic(bytes: &[u8], path: &Path) -> Result<(), Error> {
    let file_err = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::File {
            action,
            path,
            source,
        }
    };
    let temp = temp_path(path);
    let write = || -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&temp);
        return Err(file_err("write", &temp)(e));
    }
    fs::rename(&temp, path).map_err(file_err("rename the new file onto", path))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(file_err("fsync the directory", dir))
}

/// `<path>.tmp`: beside the target, so the rename stays on one file system.
pub(super) fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(OsString::from(".tmp"));
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::SealedImage;

    #[test]
    fn persisted_image_round_trips_through_from_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("last-good.img");
        let bytes: Vec<u8> = (0..70_000u32).map(|i| (i % 253) as u8).collect();
        persist(&bytes, &path).unwrap();
        let image = SealedImage::from_file(&path).unwrap();
        assert_eq!(image.map().unwrap().as_ref(), &bytes[..]);
        assert!(!temp_path(&path).exists());
    }

    #[test]
    fn partially_written_temp_file_never_replaces_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("last-good.img");
        persist(b"generation 1", &path).unwrap();
        // A crash mid-write: the temp file exists, half written, never renamed.
        fs::write(temp_path(&path), b"generat").unwrap();
        let image = SealedImage::from_file(&path).unwrap();
        assert_eq!(image.map().unwrap().as_ref(), b"generation 1");
        // The next persist overwrites the leftover and replaces the target.
        persist(b"generation 2", &path).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"generation 2");
        assert!(!temp_path(&path).exists());
    }

    #[test]
    fn boot_image_is_immune_to_later_rewrites_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("last-good.img");
        persist(b"generation 1", &path).unwrap();
        let mapping = SealedImage::from_file(&path).unwrap().map().unwrap();
        fs::write(&path, b"GENERATION 9 and longer").unwrap();
        fs::remove_file(&path).unwrap();
        assert_eq!(mapping.as_ref(), b"generation 1");
    }

    #[test]
    fn persist_refuses_empty_image_and_leaves_target() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("last-good.img");
        persist(b"old", &path).unwrap();
        assert!(matches!(persist(b"", &path), Err(Error::EmptyImage)));
        assert_eq!(fs::read(&path).unwrap(), b"old");
    }

    #[test]
    fn persist_into_missing_directory_names_the_temp_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-dir").join("last-good.img");
        let err = persist(b"x", &path).unwrap_err();
        assert!(err.to_string().contains("last-good.img.tmp"), "{err}");
    }

    #[test]
    fn from_file_refuses_empty_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.img");
        fs::write(&path, b"").unwrap();
        assert!(matches!(
            SealedImage::from_file(&path),
            Err(Error::EmptyImage)
        ));
    }
}
