//! A benchmark's trend: its median over the recorded commits, the run's noise around it, and
//! the change points found in it.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{BLUE, FONT, GREY, LIGHT_GREY, RED, Scale, TEXT, label, percent, short_hash};
use crate::changepoint::ChangePoint;
use crate::history::Series;
use crate::model::Metric;

const WIDTH: u32 = 960;
const PLOT_HEIGHT: u32 = 300;
const MARGIN_LEFT: u32 = 16;
const MARGIN_RIGHT: u32 = 28;
/// Title and subtitle.
const HEADER: u32 = 58;
/// One row of change-point labels above the plot.
const LABEL_ROW: u32 = 17;
const MAX_LABEL_ROWS: usize = 4;
/// The commit labels and the x axis description below the plot.
const X_AREA: u32 = 52;
const LEGEND: u32 = 34;
/// Pixels per character of 12–13 px text, the same estimate plotters makes without a font.
const CHAR_WIDTH: f64 = 7.0;

/// The trend chart of `series` as an SVG document: the median of each recorded run in commit
/// order (x: the runs, labelled with their commits' short hashes, thinned so they never
/// overlap), a band of ± one standard deviation of each run's samples around it, the level
/// between change points, and each change point as a vertical line labelled with the first
/// commit of the new level and the shift. The title is the benchmark id.
pub fn trend_svg(series: &Series, change_points: &[ChangePoint]) -> anyhow::Result<String> {
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
    let tick_step = nice_step((y_high - y_low) / 6.0);
    let decimals = super::tick_decimals(tick_step);
    let tick_text = |value: f64| scale.number(value * scale.divisor, decimals);
    let widest_tick = [y_low, y_high]
        .iter()
        .map(|&value| tick_text(value).chars().count())
        .max()
        .unwrap_or(1);
    let y_area = (widest_tick as f64 * CHAR_WIDTH + 40.0).max(64.0) as u32;

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
            .map(|(point, text)| (x_pixel(point.index as f64 - 0.5), text.chars().count()))
            .collect::<Vec<_>>(),
        plot_left,
        plot_right,
    );
    let label_rows = placed.iter().map(|p| p.row + 1).max().unwrap_or(0) as u32;
    let top = HEADER + label_rows * LABEL_ROW + 8;
    let height = top + PLOT_HEIGHT + X_AREA + LEGEND;

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        draw_header(&root, series, &scale)?;

        let mut chart = ChartBuilder::on(&root)
            .margin_left(MARGIN_LEFT)
            .margin_right(MARGIN_RIGHT)
            .margin_top(top)
            .margin_bottom(LEGEND)
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
            .y_labels(7)
            .y_label_formatter(&|value| tick_text(*value))
            .y_desc(y_desc)
            .x_desc("runs on main, oldest to newest (commit)")
            .axis_desc_style((FONT, 13).into_font().color(&TEXT))
            .label_style((FONT, 12).into_font().color(&TEXT))
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
        draw_commit_ticks(
            &root,
            series,
            &|x| chart.backend_coord(&(x, y_low)).0,
            plot_bottom,
            plot_width,
        )?;
        for ((point, text), place) in change_points.iter().zip(&labels).zip(&placed) {
            let x = chart.backend_coord(&(point.index as f64 - 0.5, y_low)).0;
            let label_y = plot_top - 6 - (place.row as i32) * LABEL_ROW as i32;
            root.draw(&DashedPathElement::new(
                vec![(x, label_y), (x, plot_bottom)],
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
                (x + offset, label_y),
                (FONT, 13)
                    .into_font()
                    .color(&RED)
                    .pos(Pos::new(anchor, VPos::Bottom)),
            ))?;
        }
        draw_legend(&root, height, has_band, !change_points.is_empty())?;
        root.present()?;
    }
    Ok(svg)
}

/// A round tick step near `rough`: 1, 2 or 5 times a power of ten.
fn nice_step(rough: f64) -> f64 {
    if !(rough.is_finite() && rough > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(rough.log10().floor());
    let mantissa = rough / power;
    let nice = if mantissa <= 1.0 {
        1.0
    } else if mantissa <= 2.0 {
        2.0
    } else if mantissa <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// Where one change-point label goes: its row above the plot (0 nearest) and whether it sits
/// to the left of its line (near the right edge).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Placement {
    row: usize,
    left_of_line: bool,
}

/// Places labels (line x in pixels, characters) in rows so that none overlaps another: each
/// goes to the first row where it fits, beside its line, to the right unless that leaves the
/// plot. Past [`MAX_LABEL_ROWS`] rows the last row takes the rest.
fn place_labels(labels: &[(f64, usize)], left: f64, right: f64) -> Vec<Placement> {
    let mut rows_end: Vec<f64> = Vec::new();
    labels
        .iter()
        .map(|&(x, chars)| {
            let width = chars as f64 * CHAR_WIDTH + 8.0;
            let left_of_line = x + width > right && x - width >= left;
            let (start, end) = if left_of_line {
                (x - width, x)
            } else {
                (x, x + width)
            };
            let row = rows_end
                .iter()
                .position(|&row_end| row_end + 4.0 <= start)
                .unwrap_or_else(|| {
                    if rows_end.len() < MAX_LABEL_ROWS {
                        rows_end.push(f64::NEG_INFINITY);
                        rows_end.len() - 1
                    } else {
                        MAX_LABEL_ROWS - 1
                    }
                });
            rows_end[row] = rows_end[row].max(end);
            Placement { row, left_of_line }
        })
        .collect()
}

fn draw_header(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    series: &Series,
    scale: &Scale,
) -> anyhow::Result<()> {
    let title = label(&series.id, 80);
    root.draw(&Text::new(
        title,
        (MARGIN_LEFT as i32, 10),
        (FONT, 20)
            .into_font()
            .style(FontStyle::Bold)
            .color(&TEXT)
            .pos(Pos::new(HPos::Left, VPos::Top)),
    ))?;
    let first = &series.points[0];
    let last = &series.points[series.points.len() - 1];
    let metric = match series.metric {
        Metric::WallTime => "wall time",
        Metric::Instructions => "instruction count",
    };
    let subtitle = format!(
        "{metric}, machine class {}; {} runs, {} to {}; latest {}",
        label(&first.machine.class, 40),
        series.points.len(),
        label(first.time.get(..10).unwrap_or(&first.time), 10),
        label(last.time.get(..10).unwrap_or(&last.time), 10),
        scale.format(last.median),
    );
    root.draw(&Text::new(
        subtitle,
        (MARGIN_LEFT as i32, 36),
        (FONT, 13)
            .into_font()
            .color(&GREY)
            .pos(Pos::new(HPos::Left, VPos::Top)),
    ))?;
    Ok(())
}

/// The commits under the x axis: every `step`-th run's short hash, `step` chosen so that the
/// labels (about 60 px each) never touch; the newest run is always labelled.
fn draw_commit_ticks(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    series: &Series,
    x_of: &dyn Fn(f64) -> i32,
    plot_bottom: i32,
    plot_width: f64,
) -> anyhow::Result<()> {
    let n_points = series.points.len();
    let max_labels = ((plot_width / 64.0).floor() as usize).max(1);
    let step = n_points.div_ceil(max_labels).max(1);
    let mut indices: Vec<usize> = (0..n_points).step_by(step).collect();
    let last = n_points - 1;
    if indices.last() != Some(&last) {
        // The newest run matters most: it replaces the regular tick nearest to it.
        if indices.len() > 1 && last - indices[indices.len() - 1] < step {
            indices.pop();
        }
        indices.push(last);
    }
    let style = (FONT, 12)
        .into_font()
        .color(&TEXT)
        .pos(Pos::new(HPos::Center, VPos::Top));
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

/// The legend, one line under the chart: what the line, the band, the dashed levels and the
/// red lines are.
fn draw_legend(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    height: u32,
    has_band: bool,
    has_change_points: bool,
) -> anyhow::Result<()> {
    let y = height as i32 - LEGEND as i32 / 2 - 2;
    let mut x = MARGIN_LEFT as i32 + 8;
    let style = (FONT, 12)
        .into_font()
        .color(&TEXT)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let text = |root: &DrawingArea<SVGBackend<'_>, Shift>, x: &mut i32, words: &str| {
        let result = root.draw(&Text::new(words.to_string(), (*x, y), style.clone()));
        *x += (words.chars().count() as f64 * 6.4) as i32 + 26;
        result
    };
    root.draw(&PathElement::new(
        vec![(x, y), (x + 22, y)],
        BLUE.stroke_width(2),
    ))?;
    root.draw(&Circle::new((x + 11, y), 3, BLUE.filled()))?;
    x += 28;
    text(root, &mut x, "median of each run")?;
    if has_band {
        root.draw(&Rectangle::new(
            [(x, y - 6), (x + 22, y + 6)],
            BLUE.mix(0.16).filled(),
        ))?;
        x += 28;
        text(root, &mut x, "± 1 standard deviation of the run's samples")?;
    }
    if has_change_points {
        root.draw(&DashedPathElement::new(
            vec![(x, y), (x + 22, y)],
            6,
            4,
            GREY.stroke_width(1),
        ))?;
        x += 28;
        text(root, &mut x, "level between change points")?;
        root.draw(&DashedPathElement::new(
            vec![(x + 11, y - 8), (x + 11, y + 8)],
            5,
            3,
            RED.stroke_width(1),
        ))?;
        x += 28;
        text(
            root,
            &mut x,
            "change point: first commit of the new level, shift",
        )?;
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
        let placed = place_labels(&[(100.0, 14), (120.0, 14), (400.0, 14)], 50.0, 900.0);
        assert_eq!(
            placed.iter().map(|p| p.row).collect::<Vec<_>>(),
            vec![0, 1, 0]
        );
        let edge = place_labels(&[(890.0, 14)], 50.0, 900.0);
        assert!(edge[0].left_of_line);
    }

    #[test]
    fn a_single_flat_point_still_charts() {
        let series = series("flat", Metric::WallTime, "ns", &[0.0], 0.0);
        crate::chart::assert_well_formed(&trend_svg(&series, &[]).unwrap());
    }
}
