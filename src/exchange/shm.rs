//! `SharedWords`: a file mapped shared into memory and seen only as a slice
//! of `AtomicU64`, the storage of the telemetry segment (`crate::telemetry`).
//!
//! The server creates the file and maps it read-write
//! ([`SharedWords::create`]); readers (`ralo stats`, `ralo tail`) map it
//! read-only ([`SharedWords::open_read_only`]). Every access by either side
//! goes through atomics, so a reader copying words while the server writes
//! them is not a data race; whether the words it copied belong together is
//! the telemetry layout's business (sequence words), not this file's.
//!
//! No reader can raise `SIGBUS`: the file's size is set once, before it is
//! mapped and before it gets its final name, and the server never truncates
//! or resizes it. A restarted server makes a new file; readers still holding
//! the old mapping keep valid (if frozen) memory until they let go.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

use rustix::mm::{self, MapFlags, ProtFlags};

/// Where a mapped file came from: device and inode, to notice when the path
/// now names another file (a restarted server made a new segment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
}

impl FileId {
    /// The id of the file `path` names now.
    pub fn of(path: &Path) -> io::Result<FileId> {
        let meta = std::fs::metadata(path)?;
        Ok(FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }
}

/// A shared file mapping seen as `&[AtomicU64]`; unmapped on drop.
#[derive(Debug)]
pub struct SharedWords {
    ptr: NonNull<AtomicU64>,
    words: usize,
    id: FileId,
    on_tmpfs: bool,
}

impl SharedWords {
    /// Creates a new file at `path` (which must not exist) with `mode`,
    /// sets its size to `words` zeroed words once, and maps it read-write.
    pub fn create(path: &Path, words: usize, mode: u32) -> io::Result<SharedWords> {
        let bytes = bytes_of(words)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)?;
        file.set_len(bytes as u64)?;
        SharedWords::map(&file, words, ProtFlags::READ | ProtFlags::WRITE)
    }

    /// Maps all of the file at `path` read-only. Its size must be a
    /// non-zero multiple of 8 bytes.
    pub fn open_read_only(path: &Path) -> io::Result<SharedWords> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        if len == 0 || len % 8 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{len} bytes is not a whole number of 8-byte words"),
            ));
        }
        let words = usize::try_from(len / 8)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "larger than memory"))?;
        SharedWords::map(&file, words, ProtFlags::READ)
    }

    fn map(file: &File, words: usize, prot: ProtFlags) -> io::Result<SharedWords> {
        let bytes = bytes_of(words)?;
        let meta = file.metadata()?;
        if meta.len() != bytes as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the file changed size while it was being mapped",
            ));
        }
        let id = FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        };
        let on_tmpfs = rustix::fs::fstatfs(file.as_fd())
            .map(|s| {
                // TMPFS_MAGIC and RAMFS_MAGIC: memory-backed, no disk writes.
                // `f_type` is signed on some targets: compare the low 32 bits.
                let kind = s.f_type as u64 & 0xffff_ffff;
                kind == 0x0102_1994 || kind == 0x8584_58f6
            })
            .unwrap_or(false);
        // SAFETY: with a null hint the kernel places the mapping in a fresh
        // range that aliases no Rust object. `bytes` is exactly the file's
        // size, checked just above, and the file belongs to ralo's server,
        // which never shrinks it (see the module docs), so every mapped page
        // stays backed. The mapping outlives `file` by itself.
        let ptr = unsafe {
            mm::mmap(
                std::ptr::null_mut(),
                bytes,
                prot,
                MapFlags::SHARED,
                file.as_fd(),
                0,
            )
        }?;
        let ptr = NonNull::new(ptr.cast::<AtomicU64>())
            .ok_or_else(|| io::Error::other("mmap returned a null address"))?;
        Ok(SharedWords {
            ptr,
            words,
            id,
            on_tmpfs,
        })
    }

    /// The mapped words. On a read-only mapping only loads are allowed:
    /// a store would fault, and the telemetry readers never store.
    pub fn words(&self) -> &[AtomicU64] {
        // SAFETY: `ptr..ptr + words` is a live shared mapping owned by
        // `self`, unmapped only in `drop`, which cannot run while this borrow
        // lives. mmap returns page-aligned memory, so every word is aligned
        // for `AtomicU64`; the file's bytes are initialised (zero-filled by
        // the kernel, then written only through atomics), and `AtomicU64`
        // allows other threads and processes to change them concurrently.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.words) }
    }

    /// The file this mapping came from.
    pub fn id(&self) -> FileId {
        self.id
    }

    /// Whether the file lives in memory (tmpfs or ramfs), so writing the
    /// mapping never writes to a disk or an SD card.
    pub fn on_tmpfs(&self) -> bool {
        self.on_tmpfs
    }
}

fn bytes_of(words: usize) -> io::Result<usize> {
    words
        .checked_mul(8)
        .filter(|&b| b > 0)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad mapping size"))
}

impl Drop for SharedWords {
    fn drop(&mut self) {
        // SAFETY: `ptr` and the size are exactly what `mmap` returned and was
        // given; the range is unmapped only here, once, and no borrow from
        // `words` can outlive `self`.
        let result = unsafe { mm::munmap(self.ptr.as_ptr().cast(), self.words * 8) };
        if let Err(error) = result {
            tracing::warn!(%error, "munmap of the telemetry segment failed; the mapping leaks");
        }
    }
}

// SAFETY: the mapping is plain memory owned by no thread in particular, and
// every access to it goes through `&[AtomicU64]`, which is itself Send.
unsafe impl Send for SharedWords {}

// SAFETY: shared access is only ever atomic loads and stores.
unsafe impl Sync for SharedWords {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn writer_stores_are_seen_by_a_read_only_mapping() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg");
        let writer = SharedWords::create(&path, 1000, 0o640).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 8000);
        let reader = SharedWords::open_read_only(&path).unwrap();
        assert_eq!(reader.words().len(), 1000);
        assert_eq!(reader.words()[999].load(Ordering::Relaxed), 0);
        writer.words()[999].store(42, Ordering::Release);
        assert_eq!(reader.words()[999].load(Ordering::Acquire), 42);
        assert_eq!(reader.id(), FileId::of(&path).unwrap());
    }

    #[test]
    fn create_refuses_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg");
        std::fs::write(&path, b"12345678").unwrap();
        assert!(SharedWords::create(&path, 8, 0o640).is_err());
    }

    #[test]
    fn odd_sized_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg");
        std::fs::write(&path, b"12345").unwrap();
        assert!(SharedWords::open_read_only(&path).is_err());
        std::fs::write(&path, b"").unwrap();
        assert!(SharedWords::open_read_only(&path).is_err());
    }

    #[test]
    fn mapping_survives_unlink_and_replacement() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg");
        let writer = SharedWords::create(&path, 16, 0o640).unwrap();
        writer.words()[3].store(7, Ordering::Relaxed);
        let reader = SharedWords::open_read_only(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let next = SharedWords::create(&path, 32, 0o640).unwrap();
        assert_ne!(next.id(), reader.id());
        assert_eq!(reader.words()[3].load(Ordering::Relaxed), 7);
    }
}
