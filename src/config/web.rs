//! `[web]`: where `ralo web` serves the admin page and the API, and how
//! long it keeps the query history.

use std::net::SocketAddr;

use serde::Deserialize;

use super::error::BadValue;

/// `[web]`: the admin page, its API and the query history (`ralo web`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Web {
    /// Address of the page and the API. Default `127.0.0.1:8080`; the Pi
    /// package serves `0.0.0.0:80`, as Pi-hole does. Only clients in
    /// `[access] allow` get an answer.
    pub listen: SocketAddr,
    /// Days single queries are kept in the history (1–365). Per-hour counts
    /// are kept for 365 days.
    pub history_days: u32,
    /// Seconds between writes of the history to disk (1–3600): the queries
    /// of this span go to the file in one transaction, so an SD card sees one
    /// write a minute at the default, not one per query. The page shows the
    /// newest queries at once all the same.
    pub flush_secs: u64,
    /// Minutes a login stays valid without use (5–1440).
    pub session_minutes: u64,
}

impl Default for Web {
    fn default() -> Self {
        Web {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            history_days: 7,
            flush_secs: 60,
            session_minutes: 30,
        }
    }
}

impl Web {
    /// Checks the ranges.
    pub(super) fn check(&self) -> Result<(), BadValue> {
        BadValue::unless_in("web.history_days", self.history_days, 1..=365)?;
        BadValue::unless_in("web.flush_secs", self.flush_secs, 1..=3600)?;
        BadValue::unless_in("web.session_minutes", self.session_minutes, 5..=1440)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::file::{parse_test as parse, refused_key};

    #[test]
    fn web_defaults_serve_loopback_and_keep_a_week() {
        let web = parse("").unwrap().web;
        assert_eq!(web.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!((web.history_days, web.flush_secs), (7, 60));
        let set = parse("[web]\nlisten = \"0.0.0.0:80\"\nhistory_days = 30\n").unwrap();
        assert_eq!(set.web.listen.port(), 80);
        assert_eq!(set.web.history_days, 30);
    }

    #[test]
    fn web_ranges_are_checked() {
        assert_eq!(refused_key("[web]\nhistory_days = 0\n"), "web.history_days");
        assert_eq!(refused_key("[web]\nflush_secs = 0\n"), "web.flush_secs");
        assert_eq!(
            refused_key("[web]\nsession_minutes = 1\n"),
            "web.session_minutes"
        );
    }
}
