//! `[metrics]`: the address of the Prometheus endpoint, if any.

use std::net::SocketAddr;

use serde::Deserialize;

/// `[metrics]`: a Prometheus endpoint, `http://<listen>/metrics`, served by
/// `ralo serve` from the telemetry counters.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// Address to serve on, e.g. `"127.0.0.1:9153"`. Absent or `""`: no
    /// endpoint (the default). It has no authentication: keep it on
    /// loopback or the household network.
    #[serde(deserialize_with = "optional_addr")]
    pub listen: Option<SocketAddr>,
}

/// `""` (or only spaces) for none, else an IP and a port.
fn optional_addr<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.trim().parse().map(Some).map_err(|_| {
        serde::de::Error::custom(format!(
            "`{text}` is not an address: write an IP and a port, e.g. \"127.0.0.1:9153\", or \"\" for no endpoint"
        ))
    })
}

#[cfg(test)]
mod tests {
    use crate::config::file::parse_test as parse;

    #[test]
    fn metrics_listen_is_off_when_absent_or_empty() {
        assert_eq!(parse("").unwrap().metrics.listen, None);
        assert_eq!(
            parse("[metrics]\nlisten = \"\"\n").unwrap().metrics.listen,
            None
        );
        let on = parse("[metrics]\nlisten = \"127.0.0.1:9153\"\n").unwrap();
        assert_eq!(on.metrics.listen, Some("127.0.0.1:9153".parse().unwrap()));
        let err = parse("[metrics]\nlisten = \"localhost\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("localhost"), "{err}");
    }
}
