//! `ralo disable [DURATION] [--group NAME]` and `ralo enable [--group
//! NAME]`: switch blocking off for everyone, or for the clients of one
//! group (until enabled, or for `30s`, `5m`, `1h30m`…) and on again.
//! The server holds the switch in memory, so a restart switches blocking on;
//! a timed pause ends by itself.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};

use super::check::until_text;
use super::serve::load_config;
use crate::control::{self, Reply};
use crate::vocab::unix_ms;

/// Switches blocking off for `duration` (`None`: until enabled), for
/// everyone or for the clients of `group`.
pub fn disable(
    config: Option<&Path>,
    duration: Option<&str>,
    group: Option<&str>,
) -> anyhow::Result<()> {
    let until = match duration {
        None => u64::MAX,
        Some(text) => {
            let span = parse_duration(text)?;
            unix_ms().saturating_add(span.as_millis() as u64)
        }
    };
    match group {
        None => set(config, until),
        Some(group) => set_group(config, group, until),
    }
}

/// Switches blocking on, for everyone or for the clients of `group`.
pub fn enable(config: Option<&Path>, group: Option<&str>) -> anyhow::Result<()> {
    match group {
        None => set(config, 0),
        Some(group) => set_group(config, group, 0),
    }
}

fn set_group(config: Option<&Path>, group: &str, until: u64) -> anyhow::Result<()> {
    let config = load_config(config)?;
    let socket = config.paths.server_socket();
    let reply = control::pause_group(&socket, group, until, Duration::from_secs(3))
        .context("cannot reach ralo serve (blocking is a switch of the running server)")?;
    match reply {
        Reply::State { .. } => {}
        Reply::Refused { reason, .. } => bail!("{reason}"),
        other => bail!("the server did not confirm: {other:?}"),
    }
    #[allow(clippy::print_stdout)]
    {
        if until == 0 {
            println!("blocking is on for group {group}");
        } else {
            println!("blocking is off for group {group} {}", until_text(until));
        }
    }
    Ok(())
}

/// `5m`, `1h30m`, `90s`, or plain seconds.
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let span = match text.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(text)
            .with_context(|| format!("`{text}` is not a duration: write e.g. 30s, 5m, 1h30m"))?,
    };
    if span.is_zero() {
        bail!("a pause of zero does nothing; use `ralo enable` to switch blocking on");
    }
    Ok(span)
}

fn set(config: Option<&Path>, until: u64) -> anyhow::Result<()> {
    let config = load_config(config)?;
    let socket = config.paths.server_socket();
    let reply = control::set_blocking(&socket, until, Duration::from_secs(3))
        .context("cannot reach ralo serve (blocking is a switch of the running server)")?;
    let Reply::State {
        disabled_until_ms, ..
    } = reply
    else {
        bail!("the server did not confirm: {reply:?}");
    };
    #[allow(clippy::print_stdout)]
    {
        if disabled_until_ms == 0 {
            println!("blocking is on");
        } else {
            println!("blocking is off {}", until_text(disabled_until_ms));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_common_forms() {
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("0s").is_err());
    }
}
