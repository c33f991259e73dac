//! The index's sparklines: a benchmark's medians as one small line, no axes, no text.

use std::fmt::Write;

/// A `width` × `height` sparkline of `values` (in recorded order), the last point marked; the
/// vertical range is the values' own, so small changes show. Written by hand rather than with
/// plotters: it is a single path, and it carries no text to lay out.
pub fn sparkline_svg(values: &[f64], width: u32, height: u32) -> String {
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="trend">"#
    );
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if !finite.is_empty() {
        let pad = 2.0;
        let (w, h) = (f64::from(width) - 2.0 * pad, f64::from(height) - 2.0 * pad);
        let low = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let high = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // At least 8 % of the level from bottom to top, so a run's noise stays a ripple and a
        // change of a few percent still shows.
        let floor = 0.08 * low.abs().max(high.abs());
        let (low, high) = if high - low < floor {
            let middle = (high + low) / 2.0;
            (middle - floor / 2.0, middle + floor / 2.0)
        } else {
            (low, high)
        };
        let span = if high > low { high - low } else { 1.0 };
        let point = |index: usize, value: f64| {
            let x = if finite.len() > 1 {
                pad + w * index as f64 / (finite.len() - 1) as f64
            } else {
                pad + w / 2.0
            };
            let y = if high > low {
                pad + h * (1.0 - (value - low) / span)
            } else {
                pad + h / 2.0
            };
            (x, y)
        };
        let mut path = String::new();
        for (index, &value) in finite.iter().enumerate() {
            let (x, y) = point(index, value);
            let _ = write!(path, "{}{x:.1},{y:.1}", if index == 0 { "M" } else { " L" });
        }
        let _ = write!(
            svg,
            r##"<path d="{path}" fill="none" stroke="#1f77b4" stroke-width="1.5" stroke-linejoin="round"/>"##
        );
        let (x, y) = point(finite.len() - 1, finite[finite.len() - 1]);
        let _ = write!(
            svg,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="2.2" fill="#1f77b4"/>"##
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_spans_the_box() {
        let svg = sparkline_svg(&[1.0, 3.0, 2.0], 100, 20);
        assert!(
            svg.contains(r#"d="M2.0,18.0 L50.0,2.0 L98.0,10.0""#),
            "{svg}"
        );
        crate::chart::assert_well_formed(&svg);
        crate::chart::assert_well_formed(&sparkline_svg(&[], 100, 20));
        crate::chart::assert_well_formed(&sparkline_svg(&[5.0], 100, 20));
    }
}
