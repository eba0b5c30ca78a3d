//! The memory shared between ralo's processes: images in sealed memfds
//! ([`SealedImage`]) and their read-only [`Mapping`]s, the persisted copy
//! the server boots from ([`persist()`]), and the words of the telemetry
//! segment ([`SharedWords`]). The only module of ralo that uses `unsafe`
//! (the `mmap`s); every unsafe block carries a `// SAFETY:` comment.

mod error;
mod mapping;
mod persist;
mod sealed;
mod shm;

pub use error::{Error, file_advice};
pub use mapping::Mapping;
pub use persist::{persist, write_atomic};
pub use sealed::{MAX_IMAGE_BYTES, SealedImage};
pub use shm::{FileId, SharedWords};
