//! `[local]`: the household's own names and their addresses, which
//! `resolve::local` answers without asking upstream.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;

use super::error::BadValue;
use crate::domain::Domain;

/// `[local]`: names the household answers itself.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Local {
    /// Name → addresses, e.g. `"nas.home.arpa" = ["192.168.1.10", "fd00::10"]`.
    /// A and AAAA questions get these; other types get NODATA. Subdomains
    /// are not covered. Each name once: spellings that differ in case or a
    /// trailing dot are one name, and are refused.
    pub records: BTreeMap<String, Vec<IpAddr>>,
}

impl Local {
    /// Checks that every name is a domain name, given once.
    pub(super) fn check(&self) -> Result<(), BadValue> {
        // Two spellings of one name (`NAS.home.arpa`, `nas.home.arpa.`) are
        // two keys to toml but one name to DNS: one would silently win.
        let mut seen = BTreeMap::new();
        for name in self.records.keys() {
            let domain = Domain::parse(name)
                .map_err(|e| BadValue::new("local.records", format!("`{name}`: {e}")))?;
            if let Some(first) = seen.insert(domain, name) {
                return Err(BadValue::new(
                    "local.records",
                    format!("`{first}` and `{name}` are the same name; give its addresses once"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::file::{parse_test as parse, refused_key};

    #[test]
    fn local_names_spelled_twice_are_refused() {
        let text = "[local.records]\n\"NAS.home.arpa\" = [\"192.168.1.10\"]\n\
                    \"nas.home.arpa.\" = [\"192.168.1.11\"]\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains("same name"), "{err}");
        assert!(parse("[local.records]\n\"nas.home.arpa\" = [\"192.168.1.10\"]\n").is_ok());
    }

    #[test]
    fn local_name_that_is_not_a_domain_is_refused() {
        assert_eq!(
            refused_key("[local.records]\n\"nas..home\" = [\"192.168.1.10\"]\n"),
            "local.records"
        );
    }
}
