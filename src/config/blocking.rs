//! `[blocking]`: how `resolve::block` answers a blocked name ([`Mode`]) and
//! for how long.

use serde::Deserialize;

use super::error::BadValue;

/// How a blocked name is answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `0.0.0.0` for A, `::` for AAAA, NODATA for every other type.
    #[default]
    Null,
    /// NXDOMAIN: the name does not exist.
    Nxdomain,
    /// NOERROR with no records, for every type.
    Nodata,
    /// REFUSED.
    Refused,
}

/// `[blocking]`: how blocked names are answered.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Blocking {
    /// `"null"` (default), `"nxdomain"`, `"nodata"` or `"refused"`.
    pub mode: Mode,
    /// TTL of blocked answers (seconds, at most 3600). Short, so that an
    /// allowlist edit takes effect on clients quickly.
    pub ttl: u32,
    /// Also block an answer whose CNAME chain leads to a blocked name.
    pub check_cnames: bool,
}

impl Default for Blocking {
    fn default() -> Self {
        Blocking {
            mode: Mode::Null,
            ttl: 10,
            check_cnames: true,
        }
    }
}

impl Blocking {
    /// Checks the TTL of blocked answers.
    pub(super) fn check(&self) -> Result<(), BadValue> {
        if self.ttl > 3_600 {
            return Err(BadValue::new(
                "blocking.ttl",
                format!("{} is more than 3600 seconds", self.ttl),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Mode;
    use crate::config::file::{parse_test as parse, refused_key};

    #[test]
    fn bad_mode_is_refused() {
        let err = parse("[blocking]\nmode = \"sinkhole\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sinkhole"), "{err}");
    }

    #[test]
    fn modes_are_spelled_in_lowercase() {
        let mode = |text: &str| {
            parse(&format!("[blocking]\nmode = \"{text}\"\n"))
                .unwrap()
                .blocking
                .mode
        };
        assert_eq!(mode("nxdomain"), Mode::Nxdomain);
        assert_eq!(mode("refused"), Mode::Refused);
    }

    #[test]
    fn blocked_ttl_above_an_hour_is_refused() {
        assert_eq!(refused_key("[blocking]\nttl = 3601\n"), "blocking.ttl");
        assert_eq!(
            parse("[blocking]\nttl = 3600\n").unwrap().blocking.ttl,
            3600
        );
    }
}
