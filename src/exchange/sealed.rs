//! `SealedImage`: image bytes in a memfd that carries all four seals, so its
//! contents and size are fixed for good. The updater makes one from bytes
//! ([`SealedImage::create`]); the server checks one received over the socket
//! ([`SealedImage::from_fd`]) or makes one from the persisted file
//! ([`SealedImage::from_file`]), then maps it (`mapping`).
//!
//! # The handoff
//!
//! How a compiled image travels from `ralo update` to `ralo serve` without a
//! copy, and why it can never change under a reader:
//!
//! 1. The updater puts the image bytes in a sealed memfd
//!    ([`SealedImage::create`]): an anonymous in-memory file that then gets
//!    `F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL`. From that moment
//!    nobody (not even the updater that holds the fd) can write, truncate, grow
//!    or unseal it: the kernel refuses `write`, `pwrite`, `ftruncate`,
//!    `fallocate` and writable shared maps with `EPERM`, and no call removes a
//!    seal.
//! 2. The updater passes the fd beside a PUBLISH frame over the server's
//!    control socket ([`crate::control::publish`]).
//! 3. The server accepts only an fd that carries all four seals
//!    ([`SealedImage::from_fd`]) and maps it read-only ([`SealedImage::map`]).
//!    Because the size can never shrink, every page of the [`Mapping`] stays
//!    backed, so reading it can never raise `SIGBUS`; because of `F_SEAL_WRITE`
//!    the bytes the server checked are the bytes it answers from, for as long
//!    as the mapping lives. The mapping outlives the fd and the updater: it is
//!    unmapped when the last `Mapping` (usually the last in-flight lookup's
//!    `Arc`) is dropped.
//!
//! At boot the server reads the last good image that the updater
//! [`persist`](super::persist())ed (write temp, fsync, rename, fsync
//! directory) into a sealed memfd of its own ([`SealedImage::from_file`]), so
//! rewriting the file later changes nothing it serves.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{self as rfs, FileType, MemfdFlags, SealFlags};
use rustix::io::Errno;

use super::Error;
use super::mapping::Mapping;

/// The largest image, in bytes, that is sealed or accepted: 1 GiB. A real
/// blocklist image is a few MiB; the limit keeps a bad peer from making the
/// server map an absurd amount and leaves room on a 32-bit Pi.
pub const MAX_IMAGE_BYTES: u64 = 1 << 30;

/// The seals an image must carry: no writes, no size change, no seal change.
pub(super) const REQUIRED_SEALS: SealFlags = SealFlags::WRITE
    .union(SealFlags::SHRINK)
    .union(SealFlags::GROW)
    .union(SealFlags::SEAL);

/// An image in a memfd sealed against writes, shrinking, growing and further
/// seal changes. Holding one proves the seals were checked; the bytes cannot
/// change for as long as anyone holds the memfd or a mapping of it.
#[derive(Debug)]
pub struct SealedImage {
    fd: OwnedFd,
    len: u64,
}

impl SealedImage {
    /// Copies `bytes` into a new memfd named `name` (visible in
    /// `/proc/<pid>/fd` as `/memfd:<name>`) and seals it. Refuses an empty
    /// image or one above [`MAX_IMAGE_BYTES`].
    pub fn create(bytes: &[u8], name: &str) -> Result<SealedImage, Error> {
        check_len(bytes.len() as u64)?;
        let mut file = new_memfd(name)?;
        file.write_all(bytes)
            .map_err(|source| Error::Fill { source })?;
        seal(file)
    }

    /// Reads a persisted image file into a new sealed memfd, so the server's
    /// boot image is immutable even if someone later rewrites the file.
    pub fn from_file(path: &Path) -> Result<SealedImage, Error> {
        let file_err = |action, source| Error::File {
            action,
            path: path.to_path_buf(),
            source,
        };
        let mut source = File::open(path).map_err(|e| file_err("open", e))?;
        let len = source.metadata().map_err(|e| file_err("stat", e))?.len();
        check_len(len)?;
        let mut memfd = new_memfd("ralo-image-from-disk")?;
        // Read at most one byte past the limit, so a file that grows while we
        // read is caught by `check_len` in `from_fd` instead of filling memory.
        io::copy(&mut (&mut source).take(MAX_IMAGE_BYTES + 1), &mut memfd)
            .map_err(|e| file_err("read", e))?;
        seal(memfd)
    }

    /// Takes an fd received from a peer and checks that it is a memfd with
    /// all four seals and a size between 1 byte and [`MAX_IMAGE_BYTES`].
    /// Anything else (an unsealed or partly sealed memfd, a file on disk, a
    /// pipe) is refused and the fd closed.
    pub fn from_fd(fd: OwnedFd) -> Result<SealedImage, Error> {
        let seals = rfs::fcntl_get_seals(&fd).map_err(|e| Error::NotMemfd { source: e.into() })?;
        let missing = REQUIRED_SEALS.difference(seals);
        if !missing.is_empty() {
            return Err(Error::MissingSeals {
                missing: seal_names(missing),
            });
        }
        // The seals are checked first: from here on the size cannot change.
        let stat = rfs::fstat(&fd).map_err(|e| Error::NotMemfd { source: e.into() })?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(Error::NotMemfd {
                source: io::Error::other("not a regular in-memory file"),
            });
        }
        let len = u64::try_from(stat.st_size).map_err(|_| Error::NotMemfd {
            source: io::Error::other("negative size"),
        })?;
        check_len(len)?;
        Ok(SealedImage { fd, len })
    }

    /// Maps the whole image read-only and shared. The mapping stays valid and
    /// unchanged after this `SealedImage` and every copy of its fd are closed.
    pub fn map(&self) -> Result<Mapping, Error> {
        Mapping::new(self)
    }

    /// Size of the image in bytes (at least 1).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Always `false`: an empty image is refused when sealing or receiving.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl AsFd for SealedImage {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn check_len(len: u64) -> Result<(), Error> {
    if len == 0 {
        return Err(Error::EmptyImage);
    }
    if len > MAX_IMAGE_BYTES {
        return Err(Error::TooLarge {
            len,
            max: MAX_IMAGE_BYTES,
        });
    }
    Ok(())
}

/// A new, empty, sealable, close-on-exec memfd.
fn new_memfd(name: &str) -> Result<File, Error> {
    // memfd names are at most 249 bytes and cannot hold NUL.
    let mut name: String = name.chars().filter(|&c| c != '\0').collect();
    while name.len() > 200 {
        name.pop();
    }
    let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    // Linux 6.3+ may be set (vm.memfd_noexec = 2) to refuse memfds that are
    // not sealed against exec; kernels before 6.3 reject the flag with EINVAL.
    let fd = match rfs::memfd_create(name.as_str(), flags | MemfdFlags::NOEXEC_SEAL) {
        Err(Errno::INVAL) => rfs::memfd_create(name.as_str(), flags),
        other => other,
    }
    .map_err(|e| Error::Memfd { source: e.into() })?;
    Ok(File::from(fd))
}

/// Seals a filled memfd and re-checks it the way a receiver would.
fn seal(file: File) -> Result<SealedImage, Error> {
    rfs::fcntl_add_seals(&file, REQUIRED_SEALS).map_err(|e| Error::Seal { source: e.into() })?;
    SealedImage::from_fd(file.into())
}

fn seal_names(seals: SealFlags) -> String {
    let names = [
        (SealFlags::WRITE, "F_SEAL_WRITE"),
        (SealFlags::SHRINK, "F_SEAL_SHRINK"),
        (SealFlags::GROW, "F_SEAL_GROW"),
        (SealFlags::SEAL, "F_SEAL_SEAL"),
    ];
    names
        .iter()
        .filter(|(flag, _)| seals.contains(*flag))
        .map(|(_, name)| *name)
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    const BYTES: &[u8] = b"RALOIMG\0 a fake image: header, sections, checksum";

    fn sealed_fd() -> (SealedImage, File) {
        let image = SealedImage::create(BYTES, "test").unwrap();
        let file = File::from(image.fd.try_clone().unwrap());
        (image, file)
    }

    /// A memfd holding `BYTES` with exactly `seals` applied.
    fn memfd_with_seals(seals: SealFlags) -> OwnedFd {
        let fd =
            rfs::memfd_create("test", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING).unwrap();
        let mut file = File::from(fd);
        file.write_all(BYTES).unwrap();
        rfs::fcntl_add_seals(&file, seals).unwrap();
        file.into()
    }

    #[test]
    fn create_refuses_empty_image() {
        assert!(matches!(
            SealedImage::create(b"", "empty"),
            Err(Error::EmptyImage)
        ));
    }

    #[test]
    fn created_image_carries_all_four_seals() {
        let (image, _) = sealed_fd();
        let seals = rfs::fcntl_get_seals(&image).unwrap();
        assert!(seals.contains(REQUIRED_SEALS));
        assert_eq!(image.len(), BYTES.len() as u64);
    }

    #[test]
    fn writing_to_sealed_image_fails_with_eperm() {
        let (_image, mut file) = sealed_fd();
        let err = file.write(b"X").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc_eperm()));
        let err = file.write_at(b"X", 0).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc_eperm()));
        assert_eq!(rustix::io::pwrite(&file, b"X", 3).unwrap_err(), Errno::PERM);
    }

    #[test]
    fn truncating_sealed_image_fails_both_ways() {
        let (_image, file) = sealed_fd();
        assert_eq!(rfs::ftruncate(&file, 1).unwrap_err(), Errno::PERM);
        assert_eq!(rfs::ftruncate(&file, 0).unwrap_err(), Errno::PERM);
        assert_eq!(rfs::ftruncate(&file, 1 << 20).unwrap_err(), Errno::PERM);
        assert_eq!(file.metadata().unwrap().len(), BYTES.len() as u64);
    }

    #[test]
    fn seals_of_sealed_image_cannot_change() {
        let (image, file) = sealed_fd();
        // Linux has no call that removes a seal; F_SEAL_SEAL forbids adding.
        assert_eq!(
            rfs::fcntl_add_seals(&file, SealFlags::FUTURE_WRITE).unwrap_err(),
            Errno::PERM
        );
        assert_eq!(
            rfs::fcntl_add_seals(&file, SealFlags::WRITE).unwrap_err(),
            Errno::PERM
        );
        assert!(
            rfs::fcntl_get_seals(&image)
                .unwrap()
                .contains(REQUIRED_SEALS)
        );
    }

    #[test]
    fn sealed_image_cannot_be_mapped_writable() {
        let (image, _) = sealed_fd();
        // SAFETY: a null hint lets the kernel pick a fresh range that aliases
        // no Rust object; the call is expected to fail, and if it ever
        // succeeded the range is unmapped right away without being touched.
        let result = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                BYTES.len(),
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::SHARED,
                &image,
                0,
            )
        };
        if let Ok(ptr) = result {
            // SAFETY: `ptr` and the length come from the mmap just above and
            // nothing refers to the range.
            unsafe { rustix::mm::munmap(ptr, BYTES.len()).unwrap() };
            panic!("a sealed image was mapped writable");
        }
        assert_eq!(result.unwrap_err(), Errno::PERM);
    }

    #[test]
    fn from_fd_refuses_unsealed_memfd() {
        let err = SealedImage::from_fd(memfd_with_seals(SealFlags::empty())).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::MissingSeals { .. }));
        assert!(text.contains("F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL"));
    }

    #[test]
    fn from_fd_refuses_memfd_created_without_sealing() {
        // Such a memfd starts with F_SEAL_SEAL only and can never get the rest.
        let fd = rfs::memfd_create("test", MemfdFlags::CLOEXEC).unwrap();
        rustix::io::write(&fd, BYTES).unwrap();
        let err = SealedImage::from_fd(fd).unwrap_err();
        assert!(
            matches!(err, Error::MissingSeals { ref missing } if missing.contains("F_SEAL_WRITE"))
        );
    }

    #[test]
    fn from_fd_refuses_memfd_missing_any_one_seal() {
        for (seal, name) in [
            (SealFlags::WRITE, "F_SEAL_WRITE"),
            (SealFlags::SHRINK, "F_SEAL_SHRINK"),
            (SealFlags::GROW, "F_SEAL_GROW"),
            (SealFlags::SEAL, "F_SEAL_SEAL"),
        ] {
            let fd = memfd_with_seals(REQUIRED_SEALS.difference(seal));
            match SealedImage::from_fd(fd) {
                Err(Error::MissingSeals { missing }) => assert_eq!(missing, name),
                other => panic!("missing {name}: expected MissingSeals, got {other:?}"),
            }
        }
    }

    #[test]
    fn from_fd_refuses_regular_file() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(BYTES).unwrap();
        // On disk file systems F_GET_SEALS fails; on tmpfs a plain file has
        // only F_SEAL_SEAL. Either way it is refused.
        let err = SealedImage::from_fd(file.into()).unwrap_err();
        assert!(
            matches!(err, Error::NotMemfd { .. } | Error::MissingSeals { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn from_fd_refuses_pipe() {
        let (reader, _writer) = std::io::pipe().unwrap();
        let err = SealedImage::from_fd(reader.into()).unwrap_err();
        assert!(matches!(err, Error::NotMemfd { .. }), "{err:?}");
        assert!(err.to_string().contains("ralo update"));
    }

    #[test]
    fn from_fd_refuses_empty_sealed_memfd() {
        let fd = rfs::memfd_create("test", MemfdFlags::ALLOW_SEALING).unwrap();
        rfs::fcntl_add_seals(&fd, REQUIRED_SEALS).unwrap();
        assert!(matches!(SealedImage::from_fd(fd), Err(Error::EmptyImage)));
    }

    #[test]
    fn from_fd_refuses_oversize_sealed_memfd() {
        let fd = rfs::memfd_create("test", MemfdFlags::ALLOW_SEALING).unwrap();
        // Sparse: costs no memory.
        rfs::ftruncate(&fd, MAX_IMAGE_BYTES + 1).unwrap();
        rfs::fcntl_add_seals(&fd, REQUIRED_SEALS).unwrap();
        assert!(matches!(
            SealedImage::from_fd(fd),
            Err(Error::TooLarge { len, .. }) if len == MAX_IMAGE_BYTES + 1
        ));
    }

    #[test]
    fn from_fd_accepts_dup_of_sealed_memfd() {
        let (image, _) = sealed_fd();
        let dup = SealedImage::from_fd(image.fd.try_clone().unwrap()).unwrap();
        drop(image);
        assert_eq!(dup.map().unwrap().as_ref(), BYTES);
    }

    #[test]
    fn from_file_refuses_missing_file_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.img");
        let err = SealedImage::from_file(&path).unwrap_err();
        assert!(err.to_string().contains("missing.img"), "{err}");
    }

    fn libc_eperm() -> i32 {
        Errno::PERM.raw_os_error()
    }
}
