//! `ralo clients`: the household's devices as the config names them
//! (`[[clients]]` and the bare ids of `[[groups]]`, with their groups), and
//! the clients seen among the recent queries the telemetry ring holds: per
//! address its queries, blocked share, groups and device name. The groups
//! of a seen client are the server's: asked of a [`Resolver`] over the
//! persisted image ([`Resolver::groups_of`]), as `ralo check` does. `--json`
//! prints the same as one JSON object, as `ralo stats` does.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::Serialize;

use super::serve::load_config;
use super::tail::write_stdout;
use super::who;
use crate::config::Config;
use crate::resolve::Resolver;
use crate::telemetry::{Cursor, Event, Segment, share};
use crate::vocab::Outcome;

/// `ralo clients` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config file (see config/ralo.toml).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Everything `ralo clients` shows (the `--json` output).
#[derive(Debug, Serialize)]
pub struct Report {
    /// The devices and bare group members the config names.
    pub configured: Vec<Configured>,
    /// The clients among the recent queries, most queries first.
    pub seen: Vec<Seen>,
    /// The recent queries the ring holds, the basis of `seen`.
    pub recent: u64,
}

/// One `[[clients]]` entry, or one bare id of `[[groups]] clients`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Configured {
    /// The device's name; `None` for a bare id.
    pub name: Option<String>,
    /// The ways to recognise it.
    pub ids: Vec<String>,
    /// Its groups (`default` when no group names it).
    pub groups: Vec<String>,
}

/// One client address among the recent queries.
#[derive(Debug, Serialize)]
pub struct Seen {
    /// The address.
    pub address: IpAddr,
    /// The `[[clients]]` name of an id that recognises it.
    pub device: Option<String>,
    /// Its recent queries.
    pub queries: u64,
    /// Of them blocked.
    pub blocked: u64,
    /// `blocked / queries`.
    pub blocked_share: f64,
    /// Its groups now, as the server sees them; empty when no image is
    /// published.
    pub groups: Vec<String>,
}

impl Configured {
    /// The config's devices, then its bare group members.
    pub fn from_config(config: &Config) -> Vec<Configured> {
        let names = config.group_names();
        let group_list = |mask: u64| -> Vec<String> {
            (0..names.len())
                .filter(|&g| g < 64 && mask & (1 << g) != 0)
                .map(|g| names[g].to_owned())
                .collect()
        };
        let entries = config.client_ids();
        let mut out: Vec<Configured> = config
            .clients
            .iter()
            .map(|client| {
                let mask = entries
                    .iter()
                    .filter(|e| e.client.as_deref() == Some(&client.name))
                    .fold(0, |mask, e| mask | e.groups);
                Configured {
                    name: Some(client.name.clone()),
                    ids: client.ids.iter().map(ToString::to_string).collect(),
                    groups: group_list(mask),
                }
            })
            .collect();
        out.extend(
            entries
                .iter()
                .filter(|e| e.client.is_none())
                .map(|e| Configured {
                    name: None,
                    ids: vec![e.id.to_string()],
                    groups: group_list(e.groups),
                }),
        );
        out
    }
}

impl Seen {
    /// Per client address in `events`: queries and blocked, most queries
    /// first (then by address); groups and device from `resolver` (the
    /// persisted image's policy) when there is one, else the device from
    /// the config's addresses and ranges.
    pub fn from_events(
        events: &[Event],
        config: &Config,
        resolver: Option<&Resolver>,
    ) -> Vec<Seen> {
        let mut counts: HashMap<IpAddr, (u64, u64)> = HashMap::new();
        for event in events {
            let count = counts.entry(event.client).or_default();
            count.0 += 1;
            count.1 += u64::from(event.outcome == Outcome::Blocked);
        }
        let mut seen: Vec<Seen> = counts
            .into_iter()
            .map(|(address, (queries, blocked))| {
                let (groups, device) = match resolver {
                    Some(resolver) => {
                        let image = resolver.image();
                        let mask = resolver.groups_of(address, None);
                        let ids = resolver.recognised(address, None);
                        let groups = who::group_list(&*image, mask);
                        let device = who::device_of(&*image, &ids).map(str::to_owned);
                        (groups.into_iter().map(str::to_owned).collect(), device)
                    }
                    None => (Vec::new(), None),
                };
                let device = device.or_else(|| config.client_at(address).map(|c| c.name.clone()));
                Seen {
                    address,
                    device,
                    queries,
                    blocked,
                    blocked_share: share(blocked, queries),
                    groups,
                }
            })
            .collect();
        seen.sort_by(|a, b| b.queries.cmp(&a.queries).then(a.address.cmp(&b.address)));
        seen
    }
}

impl Report {
    /// The report as aligned text for a person.
    pub fn text(&self) -> String {
        let mut out = String::from("configured devices:\n");
        if self.configured.is_empty() {
            out += "  none (add [[clients]] and [[groups]] to the config)\n";
        } else {
            let mut rows = vec![row(["name", "ids", "groups"])];
            rows.extend(self.configured.iter().map(|c| {
                row([
                    c.name.as_deref().unwrap_or("-"),
                    &c.ids.join(", "),
                    &c.groups.join(", "),
                ])
            }));
            out += &table(&rows, &[false, false, false]);
        }
        out += &format!("\nclients seen (in the last {} queries):\n", self.recent);
        if self.seen.is_empty() {
            out += "  none\n";
            return out;
        }
        let mut rows = vec![row(["address", "device", "queries", "blocked", "groups"])];
        rows.extend(self.seen.iter().map(|s| {
            row([
                &s.address.to_string(),
                s.device.as_deref().unwrap_or("-"),
                &s.queries.to_string(),
                &format!("{:.1}%", s.blocked_share * 100.0),
                &if s.groups.is_empty() {
                    "?".to_owned()
                } else {
                    s.groups.join(", ")
                },
            ])
        }));
        out += &table(&rows, &[false, false, true, true, false]);
        out
    }
}

fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

/// `rows` as columns two spaces apart, indented by two; `right[i]` aligns
/// column `i` right. The last column is not padded.
fn table(rows: &[Vec<String>], right: &[bool]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::from(" ");
        for (i, cell) in r.iter().enumerate() {
            let width = widths[i];
            line.push(' ');
            if right.get(i).copied().unwrap_or(false) {
                line += &format!("{cell:>width$}");
            } else if i + 1 == r.len() {
                line += cell;
            } else {
                line += &format!("{cell:<width$}");
            }
            if i + 1 < r.len() {
                line.push(' ');
            }
        }
        out += line.trim_end();
        out.push('\n');
    }
    out
}

/// Runs `ralo clients`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let config = load_config(args.config.as_deref())?;
    let path = config.paths.image_file();
    let resolver = match crate::intake::load(&path) {
        Ok(image) => {
            let resolver = Resolver::new(&config, image);
            who::read_devices(&config, &resolver);
            Some(resolver)
        }
        Err(error) => {
            eprintln!(
                "ralo clients: no usable image at {} ({error:#}): groups are not shown; run `ralo update`",
                path.display()
            );
            None
        }
    };
    let mut events = Vec::new();
    match Segment::open(&config.paths.telemetry_file()) {
        Ok(segment) => {
            segment
                .view()
                .ring()
                .read(&mut Cursor::at(0), usize::MAX, &mut events);
        }
        Err(error) => {
            eprintln!("ralo clients: no recent queries to show ({error:#})");
        }
    }
    let report = Report {
        configured: Configured::from_config(&config),
        seen: Seen::from_events(&events, &config, resolver.as_ref()),
        recent: events.len() as u64,
    };
    let text = if args.json {
        serde_json::to_string_pretty(&report)?
    } else {
        report.text()
    };
    write_stdout(format!("{}\n", text.trim_end()).as_bytes())
}

#[cfg(test)]
mod tests {
    use hickory_proto::rr::RecordType;

    use super::*;
    use crate::vocab::Protocol;

    const CONFIG: &str = "[[clients]]\nname = \"kids-tablet\"\nids = [\"192.168.1.50\", \"aa:bb:cc:dd:ee:ff\"]\n\
         [[clients]]\nname = \"laptop\"\nids = [\"192.168.1.10\"]\n\
         [[groups]]\nname = \"kids\"\nclients = [\"kids-tablet\", \"192.168.1.64/28\"]\n";

    fn config() -> Config {
        Config::parse(CONFIG, "test", ".".into()).unwrap()
    }

    fn event(client: &str, outcome: Outcome) -> Event {
        Event {
            number: 0,
            time_unix_ms: 0,
            client: client.parse().unwrap(),
            name: "example.com".into(),
            name_truncated: false,
            qtype: RecordType::A,
            outcome,
            protocol: Protocol::Udp,
            list: None,
            latency_us: 0,
            groups: 1,
        }
    }

    #[test]
    fn configured_devices_carry_their_ids_and_groups() {
        let configured = Configured::from_config(&config());
        let entry = |name: Option<&str>, ids: &[&str], groups: &[&str]| Configured {
            name: name.map(str::to_owned),
            ids: ids.iter().map(|s| (*s).to_owned()).collect(),
            groups: groups.iter().map(|s| (*s).to_owned()).collect(),
        };
        assert_eq!(
            configured,
            [
                entry(
                    Some("kids-tablet"),
                    &["192.168.1.50", "aa:bb:cc:dd:ee:ff"],
                    &["kids"]
                ),
                entry(Some("laptop"), &["192.168.1.10"], &["default"]),
                entry(None, &["192.168.1.64/28"], &["kids"]),
            ]
        );
    }

    #[test]
    fn seen_clients_are_counted_named_and_aligned() {
        let config = config();
        let events = [
            event("192.168.1.50", Outcome::Blocked),
            event("192.168.1.50", Outcome::Forwarded),
            event("192.168.1.50", Outcome::Cached),
            event("192.168.1.50", Outcome::Blocked),
            event("10.0.0.7", Outcome::Forwarded),
        ];
        let report = Report {
            configured: Configured::from_config(&config),
            seen: Seen::from_events(&events, &config, None),
            recent: events.len() as u64,
        };
        let text = report.text();
        assert!(
            text.contains(
                "  address       device       queries  blocked  groups\n  \
                 192.168.1.50  kids-tablet        4    50.0%  ?\n  \
                 10.0.0.7      -                  1     0.0%  ?\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  kids-tablet  192.168.1.50, aa:bb:cc:dd:ee:ff  kids\n"),
            "{text}"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["seen"][0]["device"], "kids-tablet");
        assert_eq!(json["seen"][0]["blocked"], 2);
        assert_eq!(json["configured"][2]["name"], serde_json::Value::Null);
    }
}
