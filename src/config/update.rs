//! `[update]`: how often the updater refreshes the lists, when it distrusts
//! a list or an image, and the caps on what one list and all lists may take.

use serde::Deserialize;

use super::error::BadValue;

/// `[update]`: how and when the updater refreshes the lists.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Update {
    /// Refresh downloaded lists this often (hours; 0: only on request or
    /// when a local file changes). A random jitter of up to a tenth of it is
    /// added so that many installs do not hit a list server at once.
    pub interval_hours: u32,
    /// A downloaded list that lost more than this share of its entries
    /// since its last good copy is not trusted: the last good copy is used.
    pub max_shrink: f64,
    /// A list that lost more than this share of its rules compared with the
    /// image serving (a download that collapsed) keeps the new image from
    /// being published (`ralo update --force` overrides). A list the config
    /// no longer names, or switched off, is simply dropped.
    pub max_drop: f64,
    /// Size cap per list (MiB, 1 to 1024), downloaded (after
    /// decompression) or local; a larger list is not used (a download falls
    /// back on its last good copy).
    pub max_download_mib: u64,
    /// Download time cap per list (seconds).
    pub download_timeout_secs: u64,
    /// Rules one list may add: past it the rest of that list is left out,
    /// and the updater says so. Default 2000000, well above the largest
    /// common blocklists; 1 to 50000000.
    pub max_list_entries: u64,
    /// Rules all lists together may add: past it the rest is left out, and
    /// the updater says so. Default 2500000: the image takes about 8 bytes a
    /// rule, but the updater peaks near 80 bytes a rule while it compiles a
    /// hosts file (the text and the rules; benches/README.md), and the
    /// packaged updater unit may use 256 MiB.
    /// Raise both together on a Pi with memory to spare; 1 to 50000000.
    pub max_entries: u64,
}

impl Default for Update {
    fn default() -> Self {
        Update {
            interval_hours: 24,
            max_shrink: 0.5,
            max_drop: 0.5,
            max_download_mib: 64,
            download_timeout_secs: 60,
            max_list_entries: 2_000_000,
            max_entries: 2_500_000,
        }
    }
}

impl Update {
    /// The size cap per list in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_download_mib.saturating_mul(1024 * 1024)
    }

    /// Checks the shares and the caps.
    pub(super) fn check(&self) -> Result<(), BadValue> {
        for (key, share) in [
            ("update.max_shrink", self.max_shrink),
            ("update.max_drop", self.max_drop),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(BadValue::new(
                    key,
                    format!("{share} is not a share between 0.0 and 1.0"),
                ));
            }
        }
        BadValue::unless_in("update.max_download_mib", self.max_download_mib, 1..=1024)?;
        if self.download_timeout_secs == 0 {
            return Err(BadValue::new(
                "update.download_timeout_secs",
                "must be at least 1",
            ));
        }
        for (key, value) in [
            ("update.max_list_entries", self.max_list_entries),
            ("update.max_entries", self.max_entries),
        ] {
            BadValue::unless_in(key, value, 1..=50_000_000)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::file::{parse_test as parse, refused_key};

    #[test]
    fn update_caps_out_of_range_are_refused_with_their_key() {
        let defaults = parse("").unwrap().update;
        assert_eq!(defaults.max_bytes(), 64 << 20);
        assert_eq!(
            (defaults.max_list_entries, defaults.max_entries),
            (2_000_000, 2_500_000)
        );
        for (text, key) in [
            ("max_download_mib = 0", "update.max_download_mib"),
            ("max_download_mib = 1025", "update.max_download_mib"),
            ("download_timeout_secs = 0", "update.download_timeout_secs"),
            ("max_list_entries = 0", "update.max_list_entries"),
            ("max_entries = 50000001", "update.max_entries"),
        ] {
            let err = parse(&format!("[update]\n{text}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn shares_outside_zero_to_one_are_refused_with_their_key() {
        for (text, key) in [
            ("max_shrink = 1.5", "update.max_shrink"),
            ("max_drop = -0.1", "update.max_drop"),
            ("max_drop = nan", "update.max_drop"),
        ] {
            assert_eq!(refused_key(&format!("[update]\n{text}\n")), key, "{text}");
        }
    }
}
