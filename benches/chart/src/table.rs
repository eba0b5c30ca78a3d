//! The side-by-side CSV: a header line, then one line per server, list size
//! and query mix; fields never contain commas or quotes (the script writes
//! numbers, `NA` and plain words). Only `server`, `n`, `mix` and
//! `ratio_to_dnsmasq` are read here.

use anyhow::{Context, bail};

/// The query mixes, in the order the chart shows them.
pub const MIXES: [&str; 3] = ["blocked", "allowed", "mix30"];

/// One line of the CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub server: String,
    pub n: u64,
    pub mix: String,
    /// `None` for `NA` (no dnsmasq run to compare with).
    pub ratio: Option<f64>,
}

/// Reads the lines; a missing column or an unreadable number is an error.
pub fn parse(text: &str) -> anyhow::Result<Vec<Row>> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .context("the file is empty")?
        .split(',')
        .collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .with_context(|| format!("no column '{name}' in the header"))
    };
    let (server, n, mix, ratio) = (
        column("server")?,
        column("n")?,
        column("mix")?,
        column("ratio_to_dnsmasq")?,
    );
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != header.len() {
            bail!(
                "line {}: {} fields, the header has {}",
                i + 2,
                fields.len(),
                header.len()
            );
        }
        let ratio = match fields[ratio] {
            "NA" | "" => None,
            text => Some(
                text.parse()
                    .with_context(|| format!("line {}: ratio '{text}'", i + 2))?,
            ),
        };
        rows.push(Row {
            server: fields[server].to_owned(),
            n: fields[n]
                .parse()
                .with_context(|| format!("line {}: n '{}'", i + 2, fields[n]))?,
            mix: fields[mix].to_owned(),
            ratio,
        });
    }
    Ok(rows)
}

/// What the chart shows: groups (list size, mix) along x, one bar per
/// server other than dnsmasq (whose ratio is 1 by definition) in each.
#[derive(Debug, PartialEq)]
pub struct Ratios {
    /// Servers in the order the CSV first names them.
    pub servers: Vec<String>,
    /// (size, mix) pairs, by size, then in [`MIXES`] order.
    pub groups: Vec<(u64, String)>,
    /// `values[group][server]`.
    pub values: Vec<Vec<Option<f64>>>,
}

impl Ratios {
    pub fn from_rows(rows: &[Row]) -> Ratios {
        let mut servers: Vec<String> = Vec::new();
        for row in rows {
            if row.server != "dnsmasq" && !servers.contains(&row.server) {
                servers.push(row.server.clone());
            }
        }
        let mut groups: Vec<(u64, String)> = Vec::new();
        for row in rows {
            let group = (row.n, row.mix.clone());
            if !groups.contains(&group) {
                groups.push(group);
            }
        }
        let rank = |mix: &str| MIXES.iter().position(|m| *m == mix).unwrap_or(MIXES.len());
        groups.sort_by(|a, b| (a.0, rank(&a.1), &a.1).cmp(&(b.0, rank(&b.1), &b.1)));
        let values = groups
            .iter()
            .map(|(n, mix)| {
                servers
                    .iter()
                    .map(|s| {
                        rows.iter()
                            .find(|r| r.n == *n && r.mix == *mix && r.server == *s)
                            .and_then(|r| r.ratio)
                    })
                    .collect()
            })
            .collect();
        Ratios {
            servers,
            groups,
            values,
        }
    }

    /// Whether there is no ratio at all to draw.
    pub fn is_empty(&self) -> bool {
        self.values.iter().flatten().all(Option::is_none)
    }

    /// The largest ratio, at least 1.
    pub fn max(&self) -> f64 {
        self.values
            .iter()
            .flatten()
            .flatten()
            .fold(1.0, |a, &b| a.max(b))
    }
}

/// `100000` as `100k`, `1000000` as `1M`.
pub fn size_label(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "server,n,mix,cpu_us_per_answer,ratio_to_dnsmasq\n\
        ralo,1000000,mix30,8.5,1.11\n\
        dnsmasq,1000000,mix30,7.7,1.00\n\
        unbound,100000,blocked,5.7,0.83\n\
        ralo,100000,blocked,6.4,0.93\n\
        dnsmasq,100000,blocked,6.8,1.00\n\
        ralo,100000,allowed,8.2,NA\n";

    #[test]
    fn rows_keep_their_ratio_or_none_for_na() {
        let rows = parse(CSV).unwrap();
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[0].ratio, Some(1.11));
        assert_eq!(rows[5].ratio, None);
        assert_eq!(rows[2].server, "unbound");
    }

    #[test]
    fn groups_go_by_size_then_mix_and_skip_dnsmasq() {
        let ratios = Ratios::from_rows(&parse(CSV).unwrap());
        assert_eq!(ratios.servers, ["ralo", "unbound"]);
        let groups: Vec<(u64, &str)> = ratios
            .groups
            .iter()
            .map(|(n, m)| (*n, m.as_str()))
            .collect();
        assert_eq!(
            groups,
            [(100000, "blocked"), (100000, "allowed"), (1000000, "mix30")]
        );
        assert_eq!(ratios.values[0], [Some(0.93), Some(0.83)]);
        assert_eq!(ratios.values[2], [Some(1.11), None]);
        assert!((ratios.max() - 1.11).abs() < 1e-9);
    }

    #[test]
    fn missing_column_and_bad_number_are_errors() {
        assert!(parse("server,n,mix\nralo,1,blocked\n").is_err());
        assert!(parse("server,n,mix,ratio_to_dnsmasq\nralo,x,blocked,1.0\n").is_err());
        assert!(parse("server,n,mix,ratio_to_dnsmasq\nralo,1,blocked\n").is_err());
    }

    #[test]
    fn sizes_are_written_short() {
        assert_eq!(size_label(100_000), "100k");
        assert_eq!(size_label(1_000_000), "1M");
        assert_eq!(size_label(12_345), "12345");
    }
}
