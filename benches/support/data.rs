//! The real lists of the shared data folder (`../shared/data` beside the
//! checkout; its `SOURCES.md` says where each file comes from). The folder
//! is not part of the repository, so a bench that wants it prints why it
//! skips those sets when it is absent.

use std::path::{Path, PathBuf};

/// The shared data folder as the benches find it.
pub const SHARED_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data");

/// The hagezi light list, one domain per line (176,041 names).
pub const HAGEZI_DOMAINS: &str = "domains/hagezi-light.domains.txt";
/// The same list in adblock syntax (`||name^`, 106,487 rules).
pub const HAGEZI_ADBLOCK: &str = "adblock/hagezi-light.adblock.txt";
/// AdGuard's DNS filter of 2018: adblock syntax with many odd lines.
pub const ADGUARD: &str = "adblock/adguard-dns-filter.txt";
/// AdAway's hosts file (`127.0.0.1 name`).
pub const ADAWAY: &str = "hosts/adaway.hosts.txt";
/// The first 50,526 names of a Tranco top list, one per line.
pub const POPULAR: &str = "popular/tranco-top50k.domains.txt";

/// The shared data folder, or `None` (with a message saying which sets are
/// skipped) when it is not there.
pub fn folder(skipped: &str) -> Option<PathBuf> {
    let path = Path::new(SHARED_DATA);
    if path.is_dir() {
        Some(path.to_path_buf())
    } else {
        println!("skipping {skipped}: the shared data folder {SHARED_DATA} is absent");
        None
    }
}

/// The text of `relative` in the data folder. The folder is there, so a
/// missing or unreadable file is a broken checkout: the bench stops.
pub fn read(folder: &Path, relative: &str) -> String {
    let path = folder.join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
