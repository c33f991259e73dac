//! A comparison as charts, one per suite: each benchmark's change of head against base, with
//! its confidence interval and threshold, sorted by the change.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    Area, BLUE, GREEN, GREY, LEGEND_LINE, RED, Scale, Swatch, TEXT, font, label, percent, suite_of,
    text_style, text_width,
};
use crate::decide::{Comparison, Row, Verdict};
use crate::model::Metric;

const WIDTH: u32 = 960;
const ROW_HEIGHT: u32 = 26;
const HEADER: u32 = 66;
const X_AREA: u32 = 50;
const MARGIN: u32 = 16;
/// Right of the plot: the change (`+5.2%`, right-aligned in its column), then the medians
/// (`1.23 µs → 1.30 µs`).
const CHANGE_COLUMN: i32 = 64;
const NAME_PX: f64 = 13.0;
const VALUE_PX: f64 = 12.0;
/// Names longer than this are cut (with `…`).
const MAX_NAME_CHARS: usize = 46;
const INCONCLUSIVE: RGBColor = RGBColor(200, 120, 0);

/// The comparison chart of one suite (see [`suite_of`]), or `None` when no benchmark of the
/// suite has a change to show (all new, missing, or another suite).
///
/// One row per benchmark, the largest slowdown at the top: a dot at the estimated change of
/// head against base, whiskers over its confidence interval, a shaded band over \u{b1} the
/// benchmark's threshold, a line at zero; beside it the change and the two medians.
pub fn comparison_svg(cmp: &Comparison, suite: &str) -> anyhow::Result<Option<String>> {
    let mut rows: Vec<&Row> = cmp
        .rows
        .iter()
        .filter(|row| suite_of(&row.id) == suite && row.change.is_some())
        .filter(|row| row.old.is_some() && row.new.is_some())
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    // The largest slowdown first; ties by id so the order is stable.
    rows.sort_by(|a, b| {
        let (a_change, b_change) = (a.change.unwrap_or(0.0), b.change.unwrap_or(0.0));
        b_change.total_cmp(&a_change).then_with(|| a.id.cmp(&b.id))
    });
    let names = row_names(&rows, suite);
    let n_rows = rows.len();

    let mut low: f64 = 0.0;
    let mut high: f64 = 0.0;
    for row in &rows {
        let change = row.change.unwrap_or(0.0);
        let (lo, hi) = row.interval.unwrap_or((change, change));
        low = low.min(lo).min(change).min(-row.threshold);
        high = high.max(hi).max(change).max(row.threshold);
    }
    let (low, high) = (low * 100.0, high * 100.0);
    let span = (high - low).max(1.0);
    let (x_low, x_high) = (low - span * 0.06, high + span * 0.06);

    let widest_name = names
        .iter()
        .map(|name| text_width(name, NAME_PX))
        .fold(0.0, f64::max);
    let name_area = (widest_name + 16.0).max(80.0) as u32;
    let values: Vec<String> = rows.iter().map(|row| values_text(row)).collect();
    let widest_values = values
        .iter()
        .map(|text| text_width(text, VALUE_PX))
        .fold(0.0, f64::max);
    let values_area = (f64::from(CHANGE_COLUMN) + 28.0 + widest_values).min(420.0) as u32;
    // The legend names what this chart shows: the verdicts present, and the rest.
    let mut legend: Vec<(Swatch, &str)> = [
        (Verdict::Regressed, "regressed"),
        (Verdict::Improved, "improved"),
        (Verdict::Inconclusive, "inconclusive"),
        (Verdict::Unchanged, "unchanged"),
    ]
    .into_iter()
    .filter(|(verdict, _)| {
        rows.iter()
            .any(|row| verdict_color(row.verdict) == verdict_color(*verdict))
    })
    .map(|(verdict, words)| (Swatch::Dot(verdict_color(verdict)), words))
    .collect();
    if rows.iter().any(|row| row.advisory.is_some()) {
        legend.push((Swatch::Ring(GREY), "advisory: cannot fail"));
    }
    if rows
        .iter()
        .any(|row| row.interval.is_some_and(|(lo, hi)| hi > lo))
    {
        legend.push((Swatch::Whisker(GREY), "confidence interval"));
    }
    if rows.iter().any(|row| row.threshold > 0.0) {
        legend.push((Swatch::Band(GREEN, 0.12), "within threshold"));
    }
    let legend_width = (WIDTH - 2 * MARGIN) as i32;
    let legend_height = super::legend_lines(&legend, legend_width) * LEGEND_LINE + 10;
    let height = HEADER + n_rows as u32 * ROW_HEIGHT + X_AREA + legend_height;

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        draw_header(&root, suite, n_rows)?;
        let mut chart = ChartBuilder::on(&root)
            .margin_left(MARGIN)
            .margin_right(MARGIN + values_area)
            .margin_top(HEADER)
            .margin_bottom(legend_height)
            .x_label_area_size(X_AREA)
            .y_label_area_size(name_area)
            .build_cartesian_2d(x_low..x_high, -0.5..n_rows as f64 - 0.5)?;
        let step = super::nice_step((x_high - x_low) / 8.0);
        let decimals = super::tick_decimals(step);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(9)
            .x_label_formatter(&|value| {
                let text = format!("{:.*}%", decimals, value.abs());
                if value.abs() < step / 100.0 {
                    format!("{:.*}%", decimals, 0.0)
                } else if *value < 0.0 {
                    format!("\u{2212}{text}")
                } else {
                    format!("+{text}")
                }
            })
            .x_desc("change of head against base, with its confidence interval")
            .axis_desc_style(font(13.0).color(&TEXT))
            .label_style(font(12.0).color(&TEXT))
            .bold_line_style(RGBColor(236, 236, 236))
            .light_line_style(WHITE)
            .axis_style(GREY)
            .draw()?;

        // Row y: the first row at the top.
        let y_of = |index: usize| (n_rows - 1 - index) as f64;
        for (index, row) in rows.iter().enumerate() {
            let y = y_of(index);
            if index % 2 == 1 {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x_low, y - 0.5), (x_high, y + 0.5)],
                    RGBColor(247, 247, 247).filled(),
                )))?;
            }
            let threshold = row.threshold * 100.0;
            if threshold > 0.0 {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(-threshold, y - 0.32), (threshold, y + 0.32)],
                    GREEN.mix(0.12).filled(),
                )))?;
            }
        }
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, -0.5), (0.0, n_rows as f64 - 0.5)],
            TEXT.stroke_width(1),
        )))?;
        for (index, row) in rows.iter().enumerate() {
            let y = y_of(index);
            let change = row.change.unwrap_or(0.0) * 100.0;
            let color = verdict_color(row.verdict);
            if let Some((lo, hi)) = row.interval {
                let (lo, hi) = (lo * 100.0, hi * 100.0);
                let whisker = color.stroke_width(2);
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(lo, y), (hi, y)],
                    whisker,
                )))?;
                for end in [lo, hi] {
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(end, y - 0.2), (end, y + 0.2)],
                        whisker,
                    )))?;
                }
            }
            let dot = if row.advisory.is_some() {
                Circle::new((change, y), 5, WHITE.filled())
            } else {
                Circle::new((change, y), 5, color.filled())
            };
            chart.draw_series(std::iter::once(dot))?;
            if row.advisory.is_some() {
                chart.draw_series(std::iter::once(Circle::new(
                    (change, y),
                    5,
                    color.stroke_width(2),
                )))?;
            }
        }

        let plot_left = chart.backend_coord(&(x_low, 0.0)).0;
        let plot_right = chart.backend_coord(&(x_high, 0.0)).0;
        let name_style = text_style(NAME_PX, TEXT, HPos::Right, VPos::Center);
        let values_style = text_style(VALUE_PX, TEXT, HPos::Left, VPos::Center);
        for (index, (row, name)) in rows.iter().zip(&names).enumerate() {
            let y_pixel = chart.backend_coord(&(x_low, y_of(index))).1;
            root.draw(&Text::new(
                name.clone(),
                (plot_left - 8, y_pixel),
                name_style.clone(),
            ))?;
            let change_x = plot_right + 8 + CHANGE_COLUMN;
            root.draw(&Text::new(
                row.change.map(percent).unwrap_or_default(),
                (change_x, y_pixel),
                font(VALUE_PX)
                    .style(FontStyle::Bold)
                    .color(&verdict_color(row.verdict))
                    .pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
            root.draw(&Text::new(
                values[index].clone(),
                (change_x + 12, y_pixel),
                values_style.clone(),
            ))?;
        }
        let legend_top = (HEADER + n_rows as u32 * ROW_HEIGHT + X_AREA) as i32;
        super::draw_legend(&root, &legend, MARGIN as i32, legend_top, legend_width)?;
        root.present()?;
    }
    Ok(Some(svg))
}

/// Writes one chart per suite of `cmp` into `dir` (created), as `<suite stem>.svg` (see
/// [`super::file_stem`]); returns the files written, in suite order.
pub fn write_comparison_charts(cmp: &Comparison, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let suites: BTreeSet<&str> = cmp.rows.iter().map(|row| suite_of(&row.id)).collect();
    let mut written = Vec::new();
    for suite in suites {
        if let Some(svg) = comparison_svg(cmp, suite)? {
            let path = dir.join(format!("{}.svg", super::file_stem(suite)));
            std::fs::write(&path, svg)
                .with_context(|| format!("cannot write chart {}", path.display()))?;
            written.push(path);
        }
    }
    Ok(written)
}

/// The names shown for `rows`: the id without its suite prefix, cut to fit; the metric is
/// added where one id appears with both metrics.
fn row_names(rows: &[&Row], suite: &str) -> Vec<String> {
    rows.iter()
        .map(|row| {
            let rest = row
                .id
                .strip_prefix(suite)
                .map(|rest| rest.trim_start_matches("::").trim_start_matches('/'))
                .filter(|rest| !rest.is_empty())
                .unwrap_or(&row.id);
            let twice = rows.iter().filter(|other| other.id == row.id).count() > 1;
            let name = if twice {
                let metric = match row.metric {
                    Metric::WallTime => "time",
                    Metric::Instructions => "instructions",
                };
                format!("{rest} ({metric})")
            } else {
                rest.to_string()
            };
            label(&name, MAX_NAME_CHARS)
        })
        .collect()
}

/// `1.23 \u{2192} 1.30 µs` (base median \u{2192} head median, the unit once), `(advisory)` for
/// rows that cannot fail.
fn values_text(row: &Row) -> String {
    let (Some(old), Some(new)) = (&row.old, &row.new) else {
        return String::new();
    };
    let scale = Scale::for_values(&row.unit, old.median.max(new.median));
    let (old_text, new_text) = (scale.format(old.median), scale.format(new.median));
    let suffix = format!(" {}", scale.suffix);
    let old_text = match old_text.strip_suffix(&suffix) {
        Some(number) if new_text.ends_with(&suffix) && !scale.suffix.is_empty() => number,
        _ => &old_text,
    };
    let mut text = format!("{old_text} \u{2192} {new_text}");
    if row.advisory.is_some() {
        text.push_str("  (advisory)");
    }
    text
}

fn verdict_color(verdict: Verdict) -> RGBColor {
    match verdict {
        Verdict::Regressed => RED,
        Verdict::Improved => GREEN,
        Verdict::Inconclusive => INCONCLUSIVE,
        _ => BLUE,
    }
}

fn draw_header(root: &Area<'_>, suite: &str, n_rows: usize) -> anyhow::Result<()> {
    root.draw(&Text::new(
        format!("{}: head against base", label(suite, 60)),
        (MARGIN as i32, 12),
        font(18.0)
            .style(FontStyle::Bold)
            .color(&TEXT)
            .pos(Pos::new(HPos::Left, VPos::Top)),
    ))?;
    root.draw(&Text::new(
        format!(
            "{n_rows} benchmark{}, the largest slowdown first  \u{b7}  right: the change (in a gate, from the rounds' paired ratios), base median \u{2192} head median",
            if n_rows == 1 { "" } else { "s" }
        ),
        (MARGIN as i32, 38),
        text_style(13.0, GREY, HPos::Left, VPos::Top),
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::samples::{HOSTILE, comparison};

    #[test]
    fn rows_are_sorted_by_change() {
        let cmp = comparison(&[
            ("cache/get/a", 0.01),
            ("cache/get/b", 0.20),
            ("cache/get/c", -0.10),
            ("batching/x", 0.5),
        ]);
        let svg = comparison_svg(&cmp, "cache").unwrap().unwrap();
        let position = |name: &str| svg.find(&format!(">\n{name}\n<")).expect(name);
        assert!(position("get/b") < position("get/a"));
        assert!(position("get/a") < position("get/c"));
        assert!(!svg.contains("batching"));
        assert!(svg.contains("+20.0%"));
        crate::chart::assert_well_formed(&svg);
        assert!(comparison_svg(&cmp, "nothing").unwrap().is_none());
    }

    #[test]
    fn one_file_per_suite() {
        let cmp = comparison(&[
            ("cache/get/a", 0.01),
            ("iai_cache::cache::hit/one", 0.02),
            ("iai_cache::cache::miss/one", -0.02),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let written = write_comparison_charts(&cmp, dir.path()).unwrap();
        assert_eq!(written.len(), 2);
        assert!(written.iter().all(|path| path.exists()));
    }

    #[test]
    fn hostile_names_are_escaped() {
        let rows: Vec<(String, f64)> = HOSTILE
            .iter()
            .enumerate()
            .map(|(index, id)| (format!("suite/{id}"), index as f64 / 100.0))
            .collect();
        let rows: Vec<(&str, f64)> = rows
            .iter()
            .map(|(id, change)| (id.as_str(), *change))
            .collect();
        let svg = comparison_svg(&comparison(&rows), "suite")
            .unwrap()
            .unwrap();
        crate::chart::assert_well_formed(&svg);
        assert!(svg.contains("&lt;script&gt;"));
        assert!(!svg.contains("a&b"));
    }
}
