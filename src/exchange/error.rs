//! `exchange::Error`: everything that can go wrong while sealing, mapping or
//! persisting an image, each message saying how to fix it. The control
//! socket's own errors are `control::Error`.

use std::io;
use std::path::PathBuf;

use rustix::io::Errno;

/// An error of the shared memory: sealing, mapping, persisting an image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The image has no bytes.
    #[error(
        "refusing an empty image: a valid image has at least a header; rebuild it with `ralo update`"
    )]
    EmptyImage,

    /// The image is larger than [`MAX_IMAGE_BYTES`](super::MAX_IMAGE_BYTES).
    #[error(
        "the image is {len} bytes, above the {max}-byte limit: use fewer or smaller blocklists"
    )]
    TooLarge {
        /// Size of the image in bytes.
        len: u64,
        /// The limit in bytes.
        max: u64,
    },

    /// `memfd_create` failed.
    #[error(
        "could not create an in-memory file for the image ({source}): ralo needs Linux 3.17 or newer with memfd_create allowed (check seccomp or container settings)"
    )]
    Memfd {
        /// The OS error.
        source: io::Error,
    },

    /// Filling the memfd with the image bytes failed.
    #[error("could not copy the image into memory ({source}): check free memory and `ulimit -f`")]
    Fill {
        /// The OS error.
        source: io::Error,
    },

    /// Adding the seals failed.
    #[error("could not seal the image memfd ({source}): the kernel must support F_ADD_SEALS")]
    Seal {
        /// The OS error.
        source: io::Error,
    },

    /// The fd does not support seals: a regular file on disk, a pipe, a socket…
    #[error(
        "the image fd is not a sealed memfd (F_GET_SEALS: {source}): only images published by `ralo update` are accepted"
    )]
    NotMemfd {
        /// The OS error from `F_GET_SEALS` or `fstat`.
        source: io::Error,
    },

    /// The memfd lacks one or more of the four required seals, so it could
    /// still change under a reader.
    #[error(
        "the image memfd lacks the seal(s) {missing}, so it could still change: publish it with `ralo update`, which seals write, shrink, grow and seal"
    )]
    MissingSeals {
        /// Names of the missing seals, e.g. `F_SEAL_WRITE | F_SEAL_SEAL`.
        missing: String,
    },

    /// `mmap` of the sealed image failed.
    #[error(
        "could not map the {len}-byte image read-only ({source}): check free address space and `ulimit -v`"
    )]
    Map {
        /// Bytes that were to be mapped.
        len: u64,
        /// The OS error.
        source: io::Error,
    },

    /// A file-system operation on an image or list file failed.
    #[error("could not {action} {path} ({source}): {advice}", advice = file_advice(source))]
    File {
        /// What was being done, e.g. `"open"`, `"rename onto"`.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

/// What to do about a failed file operation, by its cause: a full disk, a
/// missing permission, a read-only file system and a missing folder each
/// have their own remedy.
pub fn file_advice(error: &io::Error) -> &'static str {
    match Errno::from_io_error(error) {
        Some(Errno::NOSPC | Errno::DQUOT) => {
            "the disk holding it is full: free space there (old logs are the usual cause)"
        }
        Some(Errno::ACCESS | Errno::PERM) => {
            "ralo may not write there: give the user that runs it write access to the folder (the package runs it as `ralo`)"
        }
        Some(Errno::ROFS) => {
            "the file system is mounted read-only: remount it read-write, or point [paths] state at a writable folder"
        }
        Some(Errno::NOENT | Errno::NOTDIR) => {
            "its folder does not exist: create it, or point [paths] state at one that does"
        }
        _ => "check that the path exists and its permissions",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(errno: i32) -> String {
        Error::File {
            action: "write",
            path: PathBuf::from("/var/lib/ralo/image.bin.tmp"),
            source: io::Error::from_raw_os_error(errno),
        }
        .to_string()
    }

    #[test]
    fn each_file_error_kind_says_its_own_remedy() {
        let full = message(Errno::NOSPC.raw_os_error());
        assert!(full.contains("disk holding it is full"), "{full}");
        let denied = message(Errno::ACCESS.raw_os_error());
        assert!(denied.contains("may not write there"), "{denied}");
        let read_only = message(Errno::ROFS.raw_os_error());
        assert!(read_only.contains("read-only"), "{read_only}");
        let missing = message(Errno::NOENT.raw_os_error());
        assert!(missing.contains("folder does not exist"), "{missing}");
        let texts = [&full, &denied, &read_only, &missing];
        for (i, a) in texts.iter().enumerate() {
            for b in &texts[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert!(message(Errno::IO.raw_os_error()).contains("check that the path exists"));
    }
}
