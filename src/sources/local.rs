//! Reading a local list file, bounded: only a regular file is read (a
//! device such as `/dev/zero` or a named pipe could feed the updater
//! forever or block it), and never more than the byte cap, even when the
//! file grows between the size check and the read.
//!
//! [`super::fetch`] reads `[[lists]] path` sources with it;
//! [`crate::compile::compile_local`] (`ralo serve --check`) too.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Why a local list was not read.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The file could not be opened or read.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The path names a device, a pipe, a socket or a folder.
    #[error(
        "it is not a regular file (a device, a pipe or a folder); give the path of a list file"
    )]
    NotAFile,
    /// The file holds more than the cap.
    #[error("it is {size} bytes or more, past the {limit}-byte limit ([update] max_download_mib)")]
    TooLarge {
        /// Its size, or the bytes read before the cap stopped the read.
        size: u64,
        /// The cap.
        limit: u64,
    },
}

/// The list file at `path`, opened for reading once it is known to be a
/// regular file of at most `max_bytes` (reading it stops at the cap is the
/// caller's part: [`read_list_file`] and [`super::ListText`] do).
pub fn open_list_file(path: &Path, max_bytes: u64) -> Result<File, LocalError> {
    // `metadata` follows symbolic links and opens nothing, so a pipe is
    // refused before an open could block on it.
    if !std::fs::metadata(path)?.is_file() {
        return Err(LocalError::NotAFile);
    }
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(LocalError::NotAFile);
    }
    if meta.len() > max_bytes {
        return Err(LocalError::TooLarge {
            size: meta.len(),
            limit: max_bytes,
        });
    }
    Ok(file)
}

/// The bytes of the list file at `path`, at most `max_bytes` of them.
pub fn read_list_file(path: &Path, max_bytes: u64) -> Result<Vec<u8>, LocalError> {
    let file = open_list_file(path, max_bytes)?;
    // The size may change before the read: reserve what stat said, read at
    // most one byte past the cap.
    let size = file.metadata()?.len();
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)?;
    let read = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if read > max_bytes {
        return Err(LocalError::TooLarge {
            size: read,
            limit: max_bytes,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_within_the_cap_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.txt");
        std::fs::write(&path, "a.example\nb.example\n").unwrap();
        assert_eq!(
            read_list_file(&path, 20).unwrap(),
            b"a.example\nb.example\n"
        );
    }

    #[test]
    fn a_file_past_the_cap_is_refused_with_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.txt");
        std::fs::write(&path, "a.example\n".repeat(3)).unwrap();
        assert!(matches!(
            read_list_file(&path, 29),
            Err(LocalError::TooLarge {
                size: 30,
                limit: 29
            })
        ));
    }

    #[test]
    fn an_endless_device_is_refused_without_reading() {
        // /dev/zero reports size 0 and never ends.
        let error = read_list_file(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(matches!(error, LocalError::NotAFile), "{error:?}");
        assert!(error.to_string().contains("not a regular file"));
    }

    #[test]
    fn a_named_pipe_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipe");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(matches!(
            read_list_file(&path, 1024),
            Err(LocalError::NotAFile)
        ));
    }

    #[test]
    fn a_folder_and_a_missing_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_list_file(dir.path(), 1024),
            Err(LocalError::NotAFile)
        ));
        assert!(matches!(
            read_list_file(&dir.path().join("absent"), 1024),
            Err(LocalError::Io(e)) if e.kind() == io::ErrorKind::NotFound
        ));
    }
}
