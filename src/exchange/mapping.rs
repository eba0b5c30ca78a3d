//! `Mapping`: a read-only, shared `mmap` of a [`SealedImage`], owned and
//! unmapped on drop. It is the `B` of `image::Image<B>` in production; the
//! seals checked by `sealed` are what make handing out `&[u8]` into it sound.

use std::os::fd::AsFd;
use std::ptr::NonNull;

use rustix::mm::{self, MapFlags, ProtFlags};

use super::Error;
use super::sealed::SealedImage;

/// A read-only view of a sealed image's bytes in this process's memory.
///
/// The bytes never change and reading them never faults: the memfd behind
/// them is sealed against writes and size changes. The mapping keeps the
/// memfd alive by itself, so it stays valid after the [`SealedImage`] and
/// every copy of its fd are closed; dropping the `Mapping` unmaps it.
#[derive(Debug)]
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    /// Maps all of `image`.
    pub(super) fn new(image: &SealedImage) -> Result<Mapping, Error> {
        let map_err = |source: std::io::Error| Error::Map {
            len: image.len(),
            source,
        };
        let len = usize::try_from(image.len())
            .map_err(|_| map_err(std::io::Error::other("larger than the address space")))?;
        // SAFETY: with a null hint the kernel places the mapping in a fresh
        // range that aliases no Rust object. `len` is the memfd's exact size
        // (at least 1 byte), which `SealedImage` read after checking that
        // F_SEAL_SHRINK and F_SEAL_GROW are set, so the size can never change
        // and every mapped page stays backed: no access can raise SIGBUS.
        // F_SEAL_WRITE (also checked) means no process can ever change the
        // bytes, which upholds the immutability that `as_ref` promises.
        let ptr = unsafe {
            mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ,
                MapFlags::SHARED,
                image.as_fd(),
                0,
            )
        }
        .map_err(|e| map_err(e.into()))?;
        let ptr = NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| map_err(std::io::Error::other("mmap returned a null address")))?;
        Ok(Mapping { ptr, len })
    }

    /// Size of the mapped image in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always `false`: an empty image is never mapped.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl AsRef<[u8]> for Mapping {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `ptr..ptr+len` is a live PROT_READ mapping owned by `self`
        // and unmapped only in `drop`, which cannot run while this borrow of
        // `self` lives. The memory is initialised (file bytes) and, thanks to
        // the seals, never written by anyone, as a shared reference requires.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` are exactly what `mmap` returned and was
        // given; the range is unmapped only here, once, and no borrow from
        // `as_ref` can outlive `self`.
        let result = unsafe { mm::munmap(self.ptr.as_ptr().cast(), self.len) };
        if let Err(error) = result {
            tracing::warn!(%error, len = self.len, "munmap of an image failed; the mapping leaks");
        }
    }
}

// SAFETY: a `Mapping` is a pointer to memory that nobody ever writes (sealed,
// mapped read-only), owned by no thread in particular; unmapping it from
// another thread is fine.
unsafe impl Send for Mapping {}

// SAFETY: all access through `&Mapping` is reading immutable bytes.
unsafe impl Sync for Mapping {}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_image(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    fn assert_send_sync<T: Send + Sync + AsRef<[u8]>>() {}

    #[test]
    fn mapping_is_send_sync_and_bytes() {
        assert_send_sync::<Mapping>();
    }

    #[test]
    fn map_gives_exactly_the_sealed_bytes() {
        for len in [1, 4095, 4096, 4097, 100_000] {
            let bytes = fake_image(len);
            let image = SealedImage::create(&bytes, "test").unwrap();
            let mapping = image.map().unwrap();
            assert_eq!(mapping.len(), len);
            assert_eq!(mapping.as_ref(), &bytes[..]);
        }
    }

    #[test]
    fn mapping_outlives_sealed_image_and_its_fds() {
        let bytes = fake_image(10_000);
        let image = SealedImage::create(&bytes, "test").unwrap();
        let dup = image.as_fd().try_clone_to_owned().unwrap();
        let mapping = image.map().unwrap();
        drop(image);
        drop(dup);
        assert_eq!(mapping.as_ref(), &bytes[..]);
    }

    #[test]
    fn mapping_is_readable_from_other_threads_and_unmapped_there() {
        let bytes = fake_image(5000);
        let mapping =
            std::sync::Arc::new(SealedImage::create(&bytes, "test").unwrap().map().unwrap());
        let reader = {
            let mapping = mapping.clone();
            std::thread::spawn(move || {
                AsRef::<[u8]>::as_ref(&*mapping)
                    .iter()
                    .map(|&b| u64::from(b))
                    .sum::<u64>()
            })
        };
        let expected: u64 = bytes.iter().map(|&b| u64::from(b)).sum();
        assert_eq!(reader.join().unwrap(), expected);
        drop(mapping);
    }

    #[test]
    fn mapping_unchanged_when_writer_tries_every_write_path() {
        let bytes = fake_image(8192);
        let image = SealedImage::create(&bytes, "test").unwrap();
        let mapping = image.map().unwrap();
        let fd = image.as_fd();
        assert!(rustix::io::pwrite(fd, b"XXXX", 0).is_err());
        assert!(rustix::fs::ftruncate(fd, 0).is_err());
        assert!(
            rustix::fs::fallocate(
                fd,
                rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE,
                0,
                4096
            )
            .is_err()
        );
        assert_eq!(mapping.as_ref(), &bytes[..]);
    }
}
