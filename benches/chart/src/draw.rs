//! The PNG: one group of bars per (list size, query mix), one bar per server
//! (its CPU time per answer over dnsmasq's), the value written on each bar,
//! and a line at 1.0 where dnsmasq stands. Lower is better.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::table::{Ratios, size_label};

/// The family name the font is registered under.
pub const FONT: &str = "sans-serif";

/// Bar colours, by server order; the fifth server reuses the first colour.
const COLOURS: [RGBColor; 4] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
];

/// Share of a group's width taken by its bars.
const FILL: f64 = 0.8;

/// Draws `ratios` into the PNG at `path`.
pub fn ratios(ratios: &Ratios, path: &Path) -> anyhow::Result<()> {
    let groups = ratios.groups.len();
    let width = (160 + 150 * groups as u32).max(720);
    let root = BitMapBackend::new(path, (width, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let top = ratios.max() * 1.25;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "CPU time per answer, ratio to dnsmasq (lower is better)",
            (FONT, 24),
        )
        .margin(20)
        .x_label_area_size(56)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..groups as f64, 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("ratio to dnsmasq")
        .y_label_formatter(&|y| format!("{y:.1}"))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .draw()?;

    let servers = ratios.servers.len().max(1) as f64;
    let bar = FILL / servers;
    let value_style =
        TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    for (s, server) in ratios.servers.iter().enumerate() {
        let colour = COLOURS[s % COLOURS.len()];
        let left = |g: usize| g as f64 + (1.0 - FILL) / 2.0 + s as f64 * bar;
        let bars = ratios.values.iter().enumerate().filter_map(|(g, row)| {
            let v = row[s]?;
            Some(Rectangle::new(
                [(left(g), 0.0), (left(g) + bar * 0.92, v)],
                colour.filled(),
            ))
        });
        chart
            .draw_series(bars)?
            .label(server.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 12, y + 6)], colour.filled()));
        let labels = ratios.values.iter().enumerate().filter_map(|(g, row)| {
            let v = row[s]?;
            Some(Text::new(
                format!("{v:.2}"),
                (left(g) + bar * 0.46, v),
                value_style.clone(),
            ))
        });
        chart.draw_series(labels)?;
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 1.0), (groups as f64, 1.0)],
            BLACK.stroke_width(2),
        )))?
        .label("dnsmasq = 1")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], BLACK.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;

    // The group names under the axis: the mix, and the list size below it.
    let under = TextStyle::from((FONT, 15).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (g, (n, mix)) in ratios.groups.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(g as f64 + 0.5, 0.0));
        root.draw(&Text::new(mix.clone(), (x, y + 8), under.clone()))?;
        root.draw(&Text::new(
            format!("{} names", size_label(*n)),
            (x, y + 28),
            under.clone(),
        ))?;
    }
    root.present()?;
    Ok(())
}
