//! `[telemetry]`: the size of the query ring in the shared segment and the
//! optional query log on disk.

use std::path::PathBuf;

use serde::Deserialize;

use super::error::BadValue;

/// `[telemetry]`: the segment `ralo serve` keeps in `[paths] runtime` with
/// its counters and the ring of recent queries (see `ralo stats`, `ralo tail`).
/// Queries are never written to disk: put `runtime` on tmpfs.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Telemetry {
    /// How many recent queries the ring keeps, a power of two from 64 to
    /// 1048576. Each takes 192 bytes: 8192 is 1.5 MiB.
    pub ring_slots: usize,
    /// A file to keep the query history in, as JSON lines (relative paths
    /// resolve against the config file's folder). Absent or `""`: none
    /// (the default). Written in batches, never once per query.
    #[serde(deserialize_with = "optional_path")]
    pub query_log: Option<PathBuf>,
    /// The query log is appended to this often (seconds, 1–3600).
    pub query_log_flush_secs: u64,
    /// When the query log would pass this size (MiB) it is renamed to
    /// `<file>.1`, replacing the previous one, and a new one begun.
    pub query_log_max_mib: u64,
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            ring_slots: 8192,
            query_log: None,
            query_log_flush_secs: 60,
            query_log_max_mib: 16,
        }
    }
}

impl Telemetry {
    /// Checks the ring's size and the query log's period and size.
    pub(super) fn check(&self) -> Result<(), BadValue> {
        let slots = self.ring_slots;
        if !slots.is_power_of_two() || !(64..=1 << 20).contains(&slots) {
            return Err(BadValue::new(
                "telemetry.ring_slots",
                format!("{slots} is not a power of two from 64 to 1048576"),
            ));
        }
        BadValue::unless_in(
            "telemetry.query_log_flush_secs",
            self.query_log_flush_secs,
            1..=3_600,
        )?;
        if self.query_log_max_mib == 0 {
            return Err(BadValue::new(
                "telemetry.query_log_max_mib",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// `""` (or only spaces) for none, else the path.
fn optional_path<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    let text = String::deserialize(d)?;
    Ok((!text.trim().is_empty()).then(|| PathBuf::from(text)))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::config::file::{parse_test as parse, refused_key};

    #[test]
    fn ring_slots_must_be_a_power_of_two() {
        assert_eq!(parse("").unwrap().telemetry.ring_slots, 8192);
        let err = parse("[telemetry]\nring_slots = 1000\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("telemetry.ring_slots"), "{err}");
    }

    #[test]
    fn query_log_is_off_when_absent_or_empty() {
        assert_eq!(parse("").unwrap().telemetry.query_log, None);
        let empty = parse("[telemetry]\nquery_log = \" \"\n").unwrap();
        assert_eq!(empty.telemetry.query_log, None);
        let on = parse("[telemetry]\nquery_log = \"queries.jsonl\"\n").unwrap();
        assert_eq!(on.telemetry.query_log, Some(PathBuf::from("queries.jsonl")));
    }

    #[test]
    fn query_log_values_out_of_range_are_refused_with_their_key() {
        for (text, key) in [
            ("ring_slots = 32", "telemetry.ring_slots"),
            ("ring_slots = 2097152", "telemetry.ring_slots"),
            ("query_log_flush_secs = 0", "telemetry.query_log_flush_secs"),
            (
                "query_log_flush_secs = 3601",
                "telemetry.query_log_flush_secs",
            ),
            ("query_log_max_mib = 0", "telemetry.query_log_max_mib"),
        ] {
            assert_eq!(
                refused_key(&format!("[telemetry]\n{text}\n")),
                key,
                "{text}"
            );
        }
    }
}
