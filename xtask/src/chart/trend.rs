//! A benchmark's trend: its median over the recorded commits, the run's noise around it, and
//! the change points found in it.

use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{
    Area, BLUE, GREY, LEGEND_LINE, LIGHT_GREY, RED, Scale, Swatch, TEXT, font, label, percent,
    short_hash, text_style, text_width,
};
use crate::changepoint::ChangePoint;
use crate::history::Series;
use crate::model::Metric;

const WIDTH: u32 = 960;
const PLOT_HEIGHT: u32 = 300;
const MARGIN_LEFT: u32 = 16;
const MARGIN_RIGHT: u32 = 28;
/// Title and subtitle.
const HEADER: u32 = 62;
/// One row of change-point labels above the plot.
const LABEL_ROW: u32 = 18;
const MAX_LABEL_ROWS: usize = 4;
/// The commit labels and the x axis description below the plot.
const X_AREA: u32 = 50;
const TICK_PX: f64 = 12.0;
const LABEL_PX: f64 = 12.0;

/// The trend chart of `series` as an SVG document: the median of each recorded run in commit
/// order (x: the runs, labelled with their commits' short hashes, thinned so they never
/// overlap), a band of ± one standard deviation of each run's samples around it, the level
/// between change points, and each change point as a vertical line labelled with the first
/// commit of the new level and the shift. The title is the benchmark id.
pub fn trend_svg(series: &Series, change_points: &[ChangePoint]) -> anyhow::Result<String> {
    draw_trend(series, change_points, true)
}

/// [`trend_svg`] without the title and subtitle, for a page that says them itself.
pub(crate) fn trend_svg_untitled(
    series: &Series,
    change_points: &[ChangePoint],
) -> anyhow::Result<String> {
    draw_trend(series, change_points, false)
}

fn draw_trend(
    series: &Series,
    change_points: &[ChangePoint],
    with_header: bool,
) -> anyhow::Result<String> {
    let header = if with_header { HEADER } else { 8 };
    let n_points = series.points.len();
    anyhow::ensure!(
        n_points > 0,
        "benchmark {} has no history to chart",
        label(&series.id, 200)
    );
    let medians = series.values();
    let lows: Vec<f64> = series
        .points
        .iter()
        .map(|entry| (entry.median - entry.std_dev).max(0.0))
        .collect();
    let highs: Vec<f64> = series
        .points
        .iter()
        .map(|entry| entry.median + entry.std_dev)
        .collect();
    let has_band = series.points.iter().any(|entry| entry.std_dev > 0.0);
    let change_points: Vec<&ChangePoint> = change_points
        .iter()
        .filter(|point| point.index > 0 && point.index < n_points)
        .collect();

    let raw_low = lows.iter().copied().fold(f64::INFINITY, f64::min);
    let raw_high = highs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let scale = Scale::for_values(&series.unit, raw_high);
    let (low, high) = (raw_low / scale.divisor, raw_high / scale.divisor);
    let span = (high - low).max(high.abs() * 0.02).max(1e-9);
    let y_low = if low >= 0.0 {
        (low - span * 0.1).max(0.0)
    } else {
        low - span * 0.1
    };
    let y_high = high + span * 0.1;
    let decimals = super::tick_decimals(super::nice_step((y_high - y_low) / 7.0));
    let tick_text = |value: f64| scale.number(value * scale.divisor, decimals);
    let widest_tick = [y_low, y_high]
        .iter()
        .map(|&value| text_width(&tick_text(value), TICK_PX))
        .fold(0.0, f64::max);
    // Ticks, a gap, and the rotated axis description.
    let y_area = (widest_tick + 44.0).max(64.0) as u32;

    // Where things land in pixels, known before drawing, so the label rows above the plot can
    // be reserved: the plot spans x from `plot_left` to `plot_right`.
    let plot_left = f64::from(MARGIN_LEFT + y_area);
    let plot_right = f64::from(WIDTH - MARGIN_RIGHT);
    let plot_width = plot_right - plot_left;
    let x_pixel = |x: f64| plot_left + (x + 0.5) / n_points as f64 * plot_width;
    let labels: Vec<String> = change_points
        .iter()
        .map(|point| {
            format!(
                "{} {}",
                short_hash(&series.points[point.index].commit),
                percent(point.relative)
            )
        })
        .collect();
    let placed = place_labels(
        &change_points
            .iter()
            .zip(&labels)
            .map(|(point, text)| {
                (
                    x_pixel(point.index as f64 - 0.5),
                    text_width(text, LABEL_PX),
                )
            })
            .collect::<Vec<_>>(),
        plot_left,
        plot_right,
    );
    let label_rows = placed.iter().map(|p| p.row + 1).max().unwrap_or(0) as u32;
    let top = header + label_rows * LABEL_ROW + 10;
    let mut legend = vec![(Swatch::LineDot(BLUE), "median of each run")];
    if has_band {
        legend.push((
            Swatch::Band(BLUE, 0.16),
            "\u{b1} 1 standard deviation of the run's samples",
        ));
    }
    if !change_points.is_empty() {
        legend.push((Swatch::Dashed(GREY), "level between change points"));
        legend.push((
            Swatch::VerticalDashed(RED),
            "change point: first commit of the new level, shift",
        ));
    }
    let legend_width = (WIDTH - 2 * MARGIN_LEFT) as i32;
    let legend_height = super::legend_lines(&legend, legend_width) * LEGEND_LINE + 10;
    let height = top + PLOT_HEIGHT + X_AREA + legend_height;

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        if with_header {
            draw_header(&root, series, &scale)?;
        }

        let mut chart = ChartBuilder::on(&root)
            .margin_left(MARGIN_LEFT)
            .margin_right(MARGIN_RIGHT)
            .margin_top(top)
            .margin_bottom(legend_height)
            .x_label_area_size(X_AREA)
            .y_label_area_size(y_area)
            .build_cartesian_2d(-0.5..n_points as f64 - 0.5, y_low..y_high)?;
        let y_desc = match (series.metric, scale.is_count()) {
            (_, true) => "instructions (median)".to_string(),
            (Metric::WallTime, false) => format!("time per iteration ({})", scale.suffix),
            (Metric::Instructions, false) => format!("median ({})", label(&series.unit, 20)),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(8)
            .y_label_formatter(&|value| tick_text(*value))
            .y_desc(y_desc)
            .x_desc("runs on main, oldest to newest (commit)")
            .axis_desc_style(font(13.0).color(&TEXT))
            .label_style(font(TICK_PX).color(&TEXT))
            .bold_line_style(LIGHT_GREY)
            .light_line_style(WHITE)
            .axis_style(GREY)
            .draw()?;

        let scaled = |value: f64| value / scale.divisor;
        if has_band {
            let band: Vec<(f64, f64)> = (0..n_points)
                .map(|index| (index as f64, scaled(highs[index])))
                .chain(
                    (0..n_points)
                        .rev()
                        .map(|index| (index as f64, scaled(lows[index]))),
                )
                .collect();
            chart.draw_series(std::iter::once(Polygon::new(band, BLUE.mix(0.16).filled())))?;
        }
        if !change_points.is_empty() {
            // The level of each stretch between change points, as the detector measured it.
            let mut starts: Vec<usize> = vec![0];
            starts.extend(change_points.iter().map(|point| point.index));
            let mut levels: Vec<f64> = change_points.iter().map(|point| point.before).collect();
            levels.push(change_points.last().map_or(0.0, |point| point.after));
            for (segment, level) in levels.iter().enumerate() {
                let start = starts[segment] as f64 - 0.5;
                let end = starts.get(segment + 1).map_or(n_points, |&end| end) as f64 - 0.5;
                chart.draw_series(std::iter::once(DashedPathElement::new(
                    vec![(start, scaled(*level)), (end, scaled(*level))],
                    6,
                    4,
                    GREY.stroke_width(1),
                )))?;
            }
        }
        chart.draw_series(LineSeries::new(
            medians
                .iter()
                .enumerate()
                .map(|(index, &value)| (index as f64, scaled(value))),
            BLUE.stroke_width(2),
        ))?;
        if n_points <= 80 {
            chart.draw_series(medians.iter().enumerate().map(|(index, &value)| {
                Circle::new((index as f64, scaled(value)), 3, BLUE.filled())
            }))?;
        }

        let plot_top = chart.backend_coord(&(-0.5, y_high)).1;
        let plot_bottom = chart.backend_coord(&(-0.5, y_low)).1;
        let x_of = |x: f64| chart.backend_coord(&(x, y_low)).0;
        draw_commit_ticks(&root, series, &x_of, plot_bottom, plot_width)?;
        // The labels' rows count down from the top of the band above the plot, so a label's
        // line runs down through the rows below it (see `place_labels`).
        let band_top = plot_top - 8 - (label_rows as i32) * LABEL_ROW as i32;
        for ((point, text), place) in change_points.iter().zip(&labels).zip(&placed) {
            let x = x_of(point.index as f64 - 0.5);
            let label_y = band_top + (place.row as i32 + 1) * LABEL_ROW as i32;
            root.draw(&DashedPathElement::new(
                vec![(x, label_y - LABEL_ROW as i32 + 4), (x, plot_bottom)],
                5,
                3,
                RED.stroke_width(1),
            ))?;
            let (anchor, offset) = if place.left_of_line {
                (HPos::Right, -4)
            } else {
                (HPos::Left, 4)
            };
            root.draw(&Text::new(
                text.clone(),
                (x + offset, label_y - 3),
                text_style(LABEL_PX, RED, anchor, VPos::Bottom),
            ))?;
        }
        let legend_top = (top + PLOT_HEIGHT + X_AREA) as i32 + 4;
        super::draw_legend(&root, &legend, MARGIN_LEFT as i32, legend_top, legend_width)?;
        root.present()?;
    }
    Ok(svg)
}

/// Where one change-point label goes: its row above the plot (0 at the top) and whether it
/// sits to the left of its line.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Placement {
    row: usize,
    left_of_line: bool,
}

/// Places change-point labels (line x and label width, in pixels, left to right) in rows
/// above the plot. A label's line runs from its row down to the plot, so a label may not
/// overlap another label of its row, contain the line of a label above it, or sit above a
/// label its own line would cross. Each label takes the first row (from the top) where it
/// fits, right of its line or else left of it; when none of [`MAX_LABEL_ROWS`] rows fits,
/// the last row takes it.
fn place_labels(labels: &[(f64, f64)], left: f64, right: f64) -> Vec<Placement> {
    // (row, start, end, line x) of the labels placed so far.
    let mut placed: Vec<(usize, f64, f64, f64)> = Vec::new();
    let gap = 6.0;
    let mut out = Vec::new();
    for &(x, text_width) in labels {
        let width = text_width + 8.0;
        let sides = [(false, x, x + width), (true, x - width, x)];
        let fits = |row: usize, start: f64, end: f64| {
            start >= left - 4.0
                && end <= right + 4.0
                && placed
                    .iter()
                    .all(|&(other_row, other_start, other_end, other_x)| {
                        let overlaps = start < other_end + gap && other_start < end + gap;
                        match other_row.cmp(&row) {
                            std::cmp::Ordering::Equal => !overlaps,
                            // Its line passes through this row.
                            std::cmp::Ordering::Less => {
                                !(start - gap..=end + gap).contains(&other_x)
                            }
                            // This line passes through its row.
                            std::cmp::Ordering::Greater => {
                                !(other_start - gap..=other_end + gap).contains(&x)
                            }
                        }
                    })
        };
        let choice = (0..MAX_LABEL_ROWS).find_map(|row| {
            sides
                .iter()
                .find(|&&(_, start, end)| fits(row, start, end))
                .map(|&(left_of_line, start, end)| (row, left_of_line, start, end))
        });
        let (row, left_of_line, start, end) = choice.unwrap_or_else(|| {
            let left_of_line = x + width > right;
            let (start, end) = if left_of_line {
                (x - width, x)
            } else {
                (x, x + width)
            };
            (MAX_LABEL_ROWS - 1, left_of_line, start, end)
        });
        placed.push((row, start, end, x));
        out.push(Placement { row, left_of_line });
    }
    out
}

fn draw_header(root: &Area<'_>, series: &Series, scale: &Scale) -> anyhow::Result<()> {
    let title_px = 18.0;
    let max_chars = ((f64::from(WIDTH - 2 * MARGIN_LEFT)) / (title_px * 0.62)) as usize;
    root.draw(&Text::new(
        label(&series.id, max_chars),
        (MARGIN_LEFT as i32, 12),
        font(title_px).style(FontStyle::Bold).color(&TEXT).pos(
            plotters::style::text_anchor::Pos::new(HPos::Left, VPos::Top),
        ),
    ))?;
    let first = &series.points[0];
    let last = &series.points[series.points.len() - 1];
    let metric = match series.metric {
        Metric::WallTime => "wall time",
        Metric::Instructions => "instruction count",
    };
    let subtitle = format!(
        "{metric} on machine class {}  \u{b7}  {} runs, {} to {}  \u{b7}  latest {}",
        label(&first.machine.class, 40),
        series.points.len(),
        label(first.time.get(..10).unwrap_or(&first.time), 10),
        label(last.time.get(..10).unwrap_or(&last.time), 10),
        scale.format(last.median),
    );
    root.draw(&Text::new(
        subtitle,
        (MARGIN_LEFT as i32, 38),
        text_style(13.0, GREY, HPos::Left, VPos::Top),
    ))?;
    Ok(())
}

/// The commits under the x axis: every `step`-th run's short hash, `step` chosen so that the
/// labels never touch; the newest run is always labelled.
fn draw_commit_ticks(
    root: &Area<'_>,
    series: &Series,
    x_of: &dyn Fn(f64) -> i32,
    plot_bottom: i32,
    plot_width: f64,
) -> anyhow::Result<()> {
    let n_points = series.points.len();
    let slot = text_width("0000000", TICK_PX) + 16.0;
    let max_labels = ((plot_width / slot).floor() as usize).max(1);
    let step = n_points.div_ceil(max_labels).max(1);
    let mut indices: Vec<usize> = (0..n_points).step_by(step).collect();
    let last = n_points - 1;
    if indices.last() != Some(&last) {
        // The newest run matters most: it replaces the regular tick before it, which could
        // be too close to it.
        if indices.len() > 1 && last - indices[indices.len() - 1] < step {
            indices.pop();
        }
        indices.push(last);
    }
    let style = text_style(TICK_PX, TEXT, HPos::Center, VPos::Top);
    for index in indices {
        let x = x_of(index as f64);
        root.draw(&PathElement::new(
            vec![(x, plot_bottom), (x, plot_bottom + 5)],
            GREY,
        ))?;
        root.draw(&Text::new(
            short_hash(&series.points[index].commit),
            (x, plot_bottom + 8),
            style.clone(),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::samples::{change_point, series};

    #[test]
    fn one_change_point_is_labelled_with_its_commit_and_shift() {
        let mut medians = vec![1000.0; 12];
        medians.extend(vec![1100.0; 12]);
        let series = series("cache/get/zipf-1.0", Metric::WallTime, "ns", &medians, 20.0);
        let svg = trend_svg(&series, &[change_point(12, 1000.0, 1100.0)]).unwrap();
        let commit = short_hash(&series.points[12].commit);
        assert!(svg.contains(&format!("{commit} +10.0%")), "{svg}");
        assert!(svg.contains("time per iteration (µs)"));
        assert!(svg.contains("cache/get/zipf-1.0"));
        crate::chart::assert_well_formed(&svg);
    }

    #[test]
    fn instruction_ticks_have_thousands_separators() {
        let series = series(
            "iai_cache::cache::hit/one",
            Metric::Instructions,
            "instructions",
            &[1_234_000.0, 1_250_000.0, 1_240_000.0],
            0.0,
        );
        let svg = trend_svg(&series, &[]).unwrap();
        assert!(svg.contains("1,2"), "{svg}");
        assert!(svg.contains("instructions (median)"));
        crate::chart::assert_well_formed(&svg);
    }

    #[test]
    fn commit_labels_are_thinned() {
        let medians: Vec<f64> = (0..200).map(|i| 1000.0 + (i % 7) as f64).collect();
        let series = series("many", Metric::WallTime, "ns", &medians, 1.0);
        let svg = trend_svg(&series, &[]).unwrap();
        let shown = series
            .points
            .iter()
            .filter(|entry| svg.contains(&format!(">\n{}\n<", short_hash(&entry.commit))))
            .count();
        assert!((2..=14).contains(&shown), "{shown} commit labels");
        assert!(svg.contains(&short_hash(&series.points[199].commit)));
    }

    #[test]
    fn hostile_ids_are_escaped() {
        for id in crate::chart::samples::HOSTILE {
            let series = series(id, Metric::WallTime, "ns", &[1.0, 2.0, 3.0], 0.1);
            let svg = trend_svg(&series, &[change_point(1, 1.0, 2.0)]).unwrap();
            crate::chart::assert_well_formed(&svg);
            assert!(!svg.contains("a&b"));
        }
    }

    #[test]
    fn close_labels_take_separate_rows() {
        // The second label overlaps the first and its line would cross the first's label:
        // it goes to the row below the first, whose line stays clear of it; the third is
        // far away and takes the top row.
        let placed = place_labels(&[(100.0, 90.0), (120.0, 90.0), (400.0, 90.0)], 50.0, 900.0);
        assert_eq!(
            placed.iter().map(|p| p.row).collect::<Vec<_>>(),
            vec![0, 1, 0]
        );
        // Near the right edge the label goes left of its line.
        let edge = place_labels(&[(890.0, 90.0)], 50.0, 900.0);
        assert!(edge[0].left_of_line);
        // The third label would fit the top row beside the first, but its line would cross
        // the second label below it: it goes under the second.
        let crossing = place_labels(&[(100.0, 52.0), (150.0, 92.0), (200.0, 22.0)], 50.0, 900.0);
        assert_eq!(
            crossing.iter().map(|p| p.row).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
    }

    #[test]
    fn a_single_flat_point_still_charts() {
        let series = series("flat", Metric::WallTime, "ns", &[0.0], 0.0);
        crate::chart::assert_well_formed(&trend_svg(&series, &[]).unwrap());
    }
}
