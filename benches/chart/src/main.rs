//! `ralo-bench-chart CSV PNG`: reads the table `benches/sidebyside.sh` wrote
//! (`table.rs`) and draws each server's CPU time per answer as a ratio to
//! dnsmasq's, per list size and query mix, into a PNG (`draw.rs`).
//!
//! The font is DejaVu Sans from Debian's `fonts-dejavu-core` (the script
//! installs it); `CHART_FONT=path.ttf` names another.

mod draw;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

/// Where Debian's fonts-dejavu-core puts the font.
const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [csv, png] = args.as_slice() else {
        bail!("usage: ralo-bench-chart CSV PNG (the CSV benches/sidebyside.sh writes)");
    };
    let text = std::fs::read_to_string(csv).with_context(|| format!("cannot read {csv}"))?;
    let rows =
        table::parse(&text).with_context(|| format!("{csv} is not the side-by-side table"))?;
    let ratios = table::Ratios::from_rows(&rows);
    if ratios.is_empty() {
        bail!("{csv} has no ratio to dnsmasq (was dnsmasq in SERVERS?)");
    }
    let font =
        std::env::var_os("CHART_FONT").map_or_else(|| PathBuf::from(DEFAULT_FONT), PathBuf::from);
    let bytes = std::fs::read(&font).with_context(|| {
        format!(
            "cannot read the font {} (install fonts-dejavu-core or set CHART_FONT)",
            font.display()
        )
    })?;
    // plotters keeps registered fonts for the life of the process.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font(draw::FONT, plotters::style::FontStyle::Normal, bytes)
        .map_err(|_| anyhow::anyhow!("{} is not a TrueType font", font.display()))?;
    draw::ratios(&ratios, std::path::Path::new(png))
        .with_context(|| format!("cannot draw {png}"))?;
    println!("wrote {png}");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ralo-bench-chart: {error:#}");
            ExitCode::FAILURE
        }
    }
}
