//! `ralo tail`: the queries the server answers, one line each as they
//! happen, like `pihole -t`. It polls the telemetry ring (every 100 ms by
//! default) with its own cursor; the server neither waits for it nor knows
//! it is there. When it falls behind by more than the ring holds it says
//! exactly how many queries it missed and goes on with the oldest still
//! held. It follows a restarted server to its new segment.

use std::io::{self, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use super::serve::load_config;
use crate::telemetry::{Cursor, Event, Segment};
use crate::vocab::Outcome;

/// `ralo tail` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config file (see config/ralo.toml).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Only queries from this client address.
    #[arg(long)]
    pub client: Option<IpAddr>,
    /// Only queries with this outcome: blocked, allowed, cached, stale,
    /// forwarded, local, refused or failed.
    #[arg(long, value_parser = outcome_arg)]
    pub outcome: Option<Outcome>,
    /// Start with the queries the ring still holds, not only new ones.
    #[arg(long)]
    pub recent: bool,
    /// Exit after printing this many queries.
    #[arg(long)]
    pub count: Option<u64>,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
    /// How often to look for new queries (ms).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub interval_ms: u64,
}

fn outcome_arg(text: &str) -> Result<Outcome, String> {
    Outcome::parse(text).ok_or_else(|| {
        let names: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

/// Which queries to print.
#[derive(Clone, Copy, Debug, Default)]
pub struct Filter {
    /// Only from this client.
    pub client: Option<IpAddr>,
    /// Only with this outcome.
    pub outcome: Option<Outcome>,
}

impl Filter {
    /// Whether `event` passes.
    pub fn matches(&self, event: &Event) -> bool {
        self.client.is_none_or(|c| c.to_canonical() == event.client)
            && self.outcome.is_none_or(|o| o == event.outcome)
    }
}

/// The line printed for `event`, from the household device `device`
/// (a `[[clients]]` name), when known; with the client's groups when the
/// serving image has groups besides `default` (`group_names`, in order).
pub fn line(event: &Event, device: Option<&str>, group_names: &[String], json: bool) -> String {
    if json {
        return event.to_json_as(device, group_names);
    }
    let mut client = match device {
        Some(device) => format!("{} ({device})", event.client),
        None => event.client.to_string(),
    };
    if group_names.len() > 1 {
        client += &format!(" [{}]", event.group_names(group_names).join(","));
    }
    let list = event
        .list
        .as_deref()
        .map_or(String::new(), |l| format!(" ({l})"));
    let more = if event.name_truncated { "…" } else { "" };
    format!(
        "{}  {:<15}  {:<6} {:<30}  {}{list}  {:.1} ms {}",
        format_utc_ms(event.time_unix_ms),
        client,
        event.qtype.to_string(),
        format!("{}{more}", event.name),
        event.outcome,
        f64::from(event.latency_us) / 1000.0,
        event.protocol.as_str(),
    )
}

fn lost_line(lost: u64, slots: u64, json: bool) -> String {
    if json {
        format!("{{\"lost\":{lost}}}")
    } else {
        format!("-- missed {lost} queries: this reader fell behind the ring of {slots} --")
    }
}

/// Runs `ralo tail` until interrupted (or `--count` lines).
pub fn run(args: &Args) -> anyhow::Result<()> {
    let config = load_config(args.config.as_deref())?;
    let path = config.paths.telemetry_file();
    let filter = Filter {
        client: args.client,
        outcome: args.outcome,
    };
    let interval = Duration::from_millis(args.interval_ms);
    let mut segment = Segment::open(&path)?;
    let mut cursor = Cursor::at(if args.recent {
        0
    } else {
        segment.view().ring().head()
    });
    let mut running = segment.server_running();
    let pid = segment.header().pid;
    if running {
        eprintln!("ralo tail: following the queries of ralo serve (pid {pid}); Ctrl-C stops");
    } else {
        eprintln!(
            "ralo tail: ralo serve is not running (pid {pid} stopped); waiting for it to start"
        );
    }
    let mut printed = 0u64;
    let mut events = Vec::new();
    loop {
        let group_names = segment.view().group_names();
        let ring = segment.view().ring();
        loop {
            events.clear();
            let lost = ring.read(&mut cursor, 1024, &mut events);
            let mut out = String::new();
            if lost > 0 {
                out += &lost_line(lost, ring.slots(), args.json);
                out.push('\n');
            }
            for event in events.iter().filter(|e| filter.matches(e)) {
                let device = config.client_at(event.client).map(|c| c.name.as_str());
                out += &line(event, device, &group_names, args.json);
                out.push('\n');
                printed += 1;
                if args.count.is_some_and(|n| printed >= n) {
                    return write_stdout(out.as_bytes());
                }
            }
            write_stdout(out.as_bytes())?;
            if events.len() < 1024 {
                break;
            }
        }
        if segment.replaced() {
            // A new server made a new segment: follow it from its start.
            match Segment::open(&path) {
                Ok(next) => {
                    segment = next;
                    cursor = Cursor::at(0);
                    running = true;
                    let pid = segment.header().pid;
                    eprintln!("ralo tail: ralo serve restarted (pid {pid}); following it");
                    continue;
                }
                Err(error) => {
                    eprintln!("ralo tail: {error:#}");
                }
            }
        } else if running && !segment.server_running() {
            running = false;
            eprintln!("ralo tail: ralo serve stopped; waiting for it to start again");
        }
        std::thread::sleep(interval);
    }
}

/// Writes to stdout and flushes; a closed pipe (`ralo tail | head`) ends
/// the command quietly.
pub(crate) fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    let mut stdout = io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        result => result.context("cannot write to standard output"),
    }
}

/// `2026-11-26 07:11:17 UTC`.
pub(crate) fn format_utc(unix_ms: u64) -> String {
    let (date, h, m, s) = civil(unix_ms / 1000);
    format!("{date} {h:02}:{m:02}:{s:02} UTC")
}

/// `2026-11-26 07:11:17.123` (UTC).
pub(crate) fn format_utc_ms(unix_ms: u64) -> String {
    let (date, h, m, s) = civil(unix_ms / 1000);
    format!("{date} {h:02}:{m:02}:{s:02}.{:03}", unix_ms % 1000)
}

/// The UTC date and time of day of `secs` since the Unix epoch
/// (the days-to-civil conversion of the proleptic Gregorian calendar).
fn civil(secs: u64) -> (String, u64, u64, u64) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
    )
}

#[cfg(test)]
mod tests {
    use hickory_proto::rr::RecordType;

    use super::*;
    use crate::vocab::Protocol;

    #[test]
    fn utc_dates_are_right_across_leap_years() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_utc_ms(1_709_251_199_999), "2024-02-29 23:59:59.999");
        assert_eq!(format_utc(4_102_444_800_000), "2100-01-01 00:00:00 UTC");
    }

    fn event() -> Event {
        Event {
            number: 3,
            time_unix_ms: 1_709_251_199_999,
            client: "192.168.1.20".parse().unwrap(),
            name: "ads.example.com".into(),
            name_truncated: false,
            qtype: RecordType::AAAA,
            outcome: Outcome::Blocked,
            protocol: Protocol::Udp,
            list: Some("household".into()),
            latency_us: 340,
            groups: 1,
        }
    }

    #[test]
    fn a_line_shows_time_client_type_name_outcome_and_list() {
        let text = line(&event(), None, &[], false);
        assert_eq!(
            text,
            "2024-02-29 23:59:59.999  192.168.1.20     AAAA   ads.example.com                 blocked (household)  0.3 ms udp"
        );
        let json: serde_json::Value =
            serde_json::from_str(&line(&event(), None, &[], true)).unwrap();
        assert!(json.get("device").is_none());
        assert_eq!(json["name"], "ads.example.com");
        assert_eq!(json["outcome"], "blocked");
        assert_eq!(json["type"], "AAAA");
        assert_eq!(json["list"], "household");
    }

    #[test]
    fn a_line_names_the_device_next_to_its_address() {
        let text = line(&event(), Some("tablet"), &[], false);
        assert!(text.contains("  192.168.1.20 (tablet)  AAAA "), "{text}");
        let json: serde_json::Value =
            serde_json::from_str(&line(&event(), Some("tablet"), &[], true)).unwrap();
        assert_eq!(json["device"], "tablet");
        assert_eq!(json["client"], "192.168.1.20");
    }

    #[test]
    fn a_line_names_the_clients_groups_when_there_are_groups() {
        let names = ["default".to_owned(), "kids".to_owned(), "tv".to_owned()];
        let e = Event {
            groups: 0b110,
            ..event()
        };
        let text = line(&e, Some("tablet"), &names, false);
        assert!(
            text.contains("  192.168.1.20 (tablet) [kids,tv]  "),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&line(&e, None, &names, true)).unwrap();
        assert_eq!(json["groups"], serde_json::json!(["kids", "tv"]));
        // Only `default`: nothing to tell apart, the line stays as it was.
        let only = ["default".to_owned()];
        assert!(!line(&event(), None, &only, false).contains('['));
    }

    #[test]
    fn filter_by_client_and_outcome() {
        let e = event();
        assert!(Filter::default().matches(&e));
        let client = Some("192.168.1.20".parse().unwrap());
        assert!(
            Filter {
                client,
                outcome: Some(Outcome::Blocked)
            }
            .matches(&e)
        );
        assert!(
            !Filter {
                client,
                outcome: Some(Outcome::Cached)
            }
            .matches(&e)
        );
        let mapped = Some("::ffff:192.168.1.20".parse().unwrap());
        assert!(
            Filter {
                client: mapped,
                outcome: None
            }
            .matches(&e)
        );
        let other = Some("192.168.1.21".parse().unwrap());
        assert!(
            !Filter {
                client: other,
                outcome: None
            }
            .matches(&e)
        );
    }
}
