//! Charts as SVG strings, drawn with plotters' SVG backend: a benchmark's trend over commits
//! ([`trend`]), a comparison's changes per suite ([`comparison`]) and the index's sparklines
//! ([`sparkline`]); plus the formatting they share with the site (units, hashes, names).
//!
//! Text is laid out by plotters' font-free estimate (no `ttf` or `ab_glyph` feature), so the
//! charts build without system fonts; the viewer renders the `<text>` with its own sans-serif.
//! plotters escapes `<`, `>`, `&` and quotes; names also go through [`label`], which makes
//! control characters visible (they are not allowed in XML) and shortens very long ids.

pub mod comparison;

#[cfg(test)]
pub(crate) mod samples;
pub mod sparkline;
pub mod trend;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use sha2::{Digest, Sha256};

/// The font family of every chart text.
pub(crate) const FONT: &str = "sans-serif";
/// The series colour (a calm blue), its band, and the colours of the verdicts.
pub(crate) const BLUE: RGBColor = RGBColor(31, 119, 180);
pub(crate) const RED: RGBColor = RGBColor(200, 40, 40);
pub(crate) const GREEN: RGBColor = RGBColor(30, 140, 60);
pub(crate) const GREY: RGBColor = RGBColor(110, 110, 110);
pub(crate) const LIGHT_GREY: RGBColor = RGBColor(225, 225, 225);
pub(crate) const TEXT: RGBColor = RGBColor(40, 40, 40);

/// The drawing area of every chart.
pub(crate) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// A font of `px` pixels as rendered: plotters' SVG backend writes `font-size` as the given
/// size divided by 1.24, so the size is scaled up by that much here.
pub(crate) fn font(px: f64) -> FontDesc<'static> {
    (FONT, px * 1.24).into_font()
}

/// Text of `px` pixels anchored at `h` and `v`, in `color`.
pub(crate) fn text_style(px: f64, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    font(px).color(&color).pos(Pos::new(h, v))
}

/// The width of `text` at `px` pixels, estimated generously (0.6 em per character: wide
/// sans-serif fonts such as DejaVu Sans average a little less), so layouts based on it do not
/// overlap in any common font.
pub(crate) fn text_width(text: &str, px: f64) -> f64 {
    text.chars().count() as f64 * px * 0.6
}

/// A legend entry's symbol.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Swatch {
    /// A line with a dot: the series.
    LineDot(RGBColor),
    /// A filled box: a band.
    Band(RGBColor, f64),
    /// A horizontal dashed line.
    Dashed(RGBColor),
    /// A vertical dashed line.
    VerticalDashed(RGBColor),
    /// A filled dot.
    Dot(RGBColor),
    /// An open dot.
    Ring(RGBColor),
    /// A whisker with caps.
    Whisker(RGBColor),
}

const LEGEND_PX: f64 = 12.0;
const SWATCH: i32 = 24;
/// The height of one legend line.
pub(crate) const LEGEND_LINE: u32 = 20;

/// The legend's items laid out in lines no wider than `width`: each line's items with their x.
fn legend_layout<'a>(
    items: &'a [(Swatch, &'a str)],
    left: i32,
    width: i32,
) -> Vec<Vec<(i32, &'a (Swatch, &'a str))>> {
    let mut lines: Vec<Vec<(i32, &(Swatch, &str))>> = vec![Vec::new()];
    let mut x = left;
    for item in items {
        let item_width = SWATCH + 6 + text_width(item.1, LEGEND_PX) as i32;
        if x + item_width > left + width && x > left {
            lines.push(Vec::new());
            x = left;
        }
        lines.last_mut().expect("one line at least").push((x, item));
        x += item_width + 18;
    }
    lines
}

/// How many lines [`draw_legend`] needs for `items` in `width` pixels.
pub(crate) fn legend_lines(items: &[(Swatch, &str)], width: i32) -> u32 {
    legend_layout(items, 0, width).len() as u32
}

/// Draws a legend from `top`, wrapping to stay within `left..left + width`.
pub(crate) fn draw_legend(
    root: &Area<'_>,
    items: &[(Swatch, &str)],
    left: i32,
    top: i32,
    width: i32,
) -> anyhow::Result<()> {
    let style = text_style(LEGEND_PX, TEXT, HPos::Left, VPos::Center);
    for (line, entries) in legend_layout(items, left, width).iter().enumerate() {
        let y = top + line as i32 * LEGEND_LINE as i32 + LEGEND_LINE as i32 / 2;
        for &(x, (swatch, words)) in entries {
            let middle = x + SWATCH / 2;
            match *swatch {
                Swatch::LineDot(color) => {
                    root.draw(&PathElement::new(
                        vec![(x, y), (x + SWATCH, y)],
                        color.stroke_width(2),
                    ))?;
                    root.draw(&Circle::new((middle, y), 3, color.filled()))?;
                }
                Swatch::Band(color, opacity) => {
                    root.draw(&Rectangle::new(
                        [(x, y - 6), (x + SWATCH, y + 6)],
                        color.mix(opacity).filled(),
                    ))?;
                }
                Swatch::Dashed(color) => {
                    root.draw(&DashedPathElement::new(
                        vec![(x, y), (x + SWATCH, y)],
                        6,
                        4,
                        color.stroke_width(1),
                    ))?;
                }
                Swatch::VerticalDashed(color) => {
                    root.draw(&DashedPathElement::new(
                        vec![(middle, y - 8), (middle, y + 8)],
                        5,
                        3,
                        color.stroke_width(1),
                    ))?;
                }
                Swatch::Dot(color) => {
                    root.draw(&Circle::new((middle, y), 5, color.filled()))?;
                }
                Swatch::Ring(color) => {
                    root.draw(&Circle::new((middle, y), 5, color.stroke_width(2)))?;
                }
                Swatch::Whisker(color) => {
                    root.draw(&PathElement::new(
                        vec![(x + 2, y), (x + SWATCH - 2, y)],
                        color.stroke_width(2),
                    ))?;
                    for end in [x + 2, x + SWATCH - 2] {
                        root.draw(&PathElement::new(
                            vec![(end, y - 5), (end, y + 5)],
                            color.stroke_width(2),
                        ))?;
                    }
                }
            }
            root.draw(&Text::new(
                words.to_string(),
                (x + SWATCH + 6, y),
                style.clone(),
            ))?;
        }
    }
    Ok(())
}

/// The suite a benchmark id belongs to: for iai-callgrind ids (`iai_cache::group::bench/case`)
/// the bench target before the first `::`, for criterion ids (`cache/get/zipf-1.0`) the group
/// before the first `/`; an id with neither is its own suite.
pub fn suite_of(id: &str) -> &str {
    let slash = id.find('/');
    match id.find("::") {
        Some(colons) if slash.is_none_or(|slash| colons < slash) => &id[..colons],
        _ => slash.map_or(id, |slash| &id[..slash]),
    }
}

/// The first seven characters of a commit hash.
pub fn short_hash(commit: &str) -> String {
    label(commit, usize::MAX).chars().take(7).collect()
}

/// A name made safe to show: control characters become their visible Unicode pictures
/// (U+2400…, so `\u{7}` shows as `␇`) and a name longer than `max_chars` is cut with `…`.
/// Markup escaping is left to the writer (plotters, or [`crate::site::escape`]).
pub fn label(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count + 1 > max_chars {
            out.pop();
            out.push('…');
            break;
        }
        out.push(match c {
            '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'),
            '\u{7f}' => '\u{2421}',
            '\u{80}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}' => '\u{fffd}',
            other => other,
        });
    }
    out
}

/// A file stem safe on every file system and in a URL for any name: a lowercase ASCII slug
/// (at most 60 characters) and the first 12 hex digits of the name's SHA-256, so two names
/// with the same slug still get different files.
pub fn file_stem(name: &str) -> String {
    file_stem_keyed(name, name)
}

/// [`file_stem`] with the slug from `shown` and the hash from `key` (a page of one
/// benchmark on one machine class: the slug says the id, the hash tells the classes apart).
pub fn file_stem_keyed(shown: &str, key: &str) -> String {
    let mut slug = String::new();
    for c in shown.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 60 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    let digest = Sha256::digest(key.as_bytes());
    let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    if slug.is_empty() {
        hash
    } else {
        format!("{slug}-{hash}")
    }
}

/// A relative change as a signed percentage: `+12.3%`, `−4.0%` (a real minus sign), `0.0%`.
pub fn percent(relative: f64) -> String {
    let pct = relative * 100.0;
    let digits = if pct.abs() >= 100.0 { 0 } else { 1 };
    let text = format!("{:.*}", digits, pct.abs());
    if text.chars().all(|c| c == '0' || c == '.') {
        format!("{text}%")
    } else if pct < 0.0 {
        format!("\u{2212}{text}%")
    } else {
        format!("+{text}%")
    }
}

/// An integer with thousands separators: `12,345,678`.
pub fn thousands(value: f64) -> String {
    let rounded = value.round();
    let digits = format!("{:.0}", rounded.abs());
    let mut out = String::new();
    for (index, c) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if rounded < 0.0 {
        out.insert(0, '\u{2212}');
    }
    out
}

/// How the values of one unit are shown: nanoseconds scaled to ns, µs, ms or s by the size of
/// the values on show (one scale for a whole axis), instruction counts with thousands
/// separators, anything else as it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// Shown value = value / divisor.
    pub divisor: f64,
    /// `ns`, `µs`, `ms`, `s`, `instructions`, or the unit as recorded.
    pub suffix: &'static str,
    kind: ScaleKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ScaleKind {
    Time,
    Count,
    Other,
}

impl Scale {
    /// The scale for values of `unit` up to about `magnitude`.
    pub fn for_values(unit: &str, magnitude: f64) -> Scale {
        let magnitude = magnitude.abs();
        match unit {
            "ns" => {
                let (divisor, suffix) = if magnitude >= 1e9 {
                    (1e9, "s")
                } else if magnitude >= 1e6 {
                    (1e6, "ms")
                } else if magnitude >= 1e3 {
                    (1e3, "µs")
                } else {
                    (1.0, "ns")
                };
                Scale {
                    divisor,
                    suffix,
                    kind: ScaleKind::Time,
                }
            }
            "instructions" => Scale {
                divisor: 1.0,
                suffix: "instructions",
                kind: ScaleKind::Count,
            },
            _ => Scale {
                divisor: 1.0,
                suffix: "",
                kind: ScaleKind::Other,
            },
        }
    }

    /// A value in this scale without its unit, with `digits` significant-looking decimals
    /// for times (counts are whole numbers with separators).
    pub fn number(&self, value: f64, decimals: usize) -> String {
        match self.kind {
            ScaleKind::Count => thousands(value / self.divisor),
            ScaleKind::Time | ScaleKind::Other => {
                format!("{:.*}", decimals, value / self.divisor)
            }
        }
    }

    /// A single value with its unit, three significant digits for times: `1.23 µs`,
    /// `12,345 instructions`.
    pub fn format(&self, value: f64) -> String {
        let shown = value / self.divisor;
        let decimals = match self.kind {
            ScaleKind::Count => 0,
            _ if shown.abs() >= 100.0 => 0,
            _ if shown.abs() >= 10.0 => 1,
            _ => 2,
        };
        let number = self.number(value, decimals);
        if self.suffix.is_empty() {
            number
        } else {
            format!("{number} {}", self.suffix)
        }
    }

    /// Whether the shown values are instruction counts.
    pub fn is_count(&self) -> bool {
        self.kind == ScaleKind::Count
    }
}

/// A value with its unit, scaled by its own size: `1.23 µs`, `12,345 instructions`.
pub fn format_value(value: f64, unit: &str) -> String {
    Scale::for_values(unit, value).format(value)
}

/// The decimals tick labels need for ticks `step` apart (so 0.5-apart ticks show `2.5`).
pub(crate) fn tick_decimals(step: f64) -> usize {
    if !(step.is_finite() && step > 0.0) {
        return 0;
    }
    let decimals = -step.log10().floor();
    decimals.clamp(0.0, 6.0) as usize
}

/// Checks that an SVG's tags are balanced and that no raw markup from a name leaked into it:
/// the test helper for hostile ids (a full XML parser is more than the tests need).
#[cfg(test)]
pub(crate) fn assert_well_formed(svg: &str) {
    assert!(!svg.contains("<script"), "raw <script> in\n{svg}");
    assert!(
        !svg.chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r')),
        "control character in the output"
    );
    let mut stack: Vec<String> = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("unclosed tag") + start;
        let tag = &rest[start + 1..end];
        assert!(!tag.contains('<'), "'<' inside a tag: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "unbalanced </{name}>"
            );
        } else if !(tag.ends_with('/') || tag.starts_with('!') || tag.starts_with('?')) {
            let name = tag.split_whitespace().next().unwrap_or_default();
            if !matches!(name, "meta" | "br" | "link" | "col") {
                stack.push(name.to_string());
            }
        }
        rest = &rest[end + 1..];
    }
    assert!(stack.is_empty(), "unclosed tags: {stack:?}");
}

/// A round tick step near `rough`: 1, 2 or 5 times a power of ten (1 for a step that is not
/// a positive number).
pub(crate) fn nice_step(rough: f64) -> f64 {
    if !(rough.is_finite() && rough > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(rough.log10().floor());
    let mantissa = rough / power;
    let nice = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .find(|&nice| mantissa <= nice)
        .unwrap_or(10.0);
    nice * power
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_of_criterion_and_iai_ids() {
        for (id, suite) in [
            ("cache/get/zipf-1.0", "cache"),
            ("iai_cache::cache::hit/one", "iai_cache"),
            ("query_plan/parse", "query_plan"),
            ("group/a::b", "group"),
            ("lonely", "lonely"),
        ] {
            assert_eq!(suite_of(id), suite, "{id}");
        }
    }

    #[test]
    fn numbers_and_units() {
        assert_eq!(thousands(12_345_678.0), "12,345,678");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(format_value(1234.0, "ns"), "1.23 µs");
        assert_eq!(format_value(12.5, "ns"), "12.5 ns");
        assert_eq!(format_value(2.5e7, "ns"), "25.0 ms");
        assert_eq!(
            format_value(1234567.0, "instructions"),
            "1,234,567 instructions"
        );
        assert_eq!(percent(0.1234), "+12.3%");
        assert_eq!(percent(-0.04), "\u{2212}4.0%");
        assert_eq!(percent(0.0), "0.0%");
        assert_eq!(percent(-0.00001), "0.0%");
        assert_eq!(tick_decimals(0.5), 1);
        assert_eq!(tick_decimals(20.0), 0);
    }

    #[test]
    fn labels_show_control_characters_and_cut_long_names() {
        assert_eq!(label("a\u{7}b", 10), "a\u{2407}b");
        assert_eq!(label("abcdef", 4), "abc…");
        assert_eq!(label("abcd", 4), "abcd");
        assert_eq!(short_hash("0123456789abcdef"), "0123456");
        assert_eq!(short_hash("abc"), "abc");
    }

    #[test]
    fn file_stems_are_safe_and_distinct() {
        let a = file_stem("cache/get/zipf-1.0");
        assert!(a.starts_with("cache-get-zipf-1-0-"), "{a}");
        let b = file_stem("cache/get/zipf 1.0");
        assert_ne!(a, b);
        let hostile = file_stem("<script>alert(1)</script>/../..\u{7}");
        assert!(
            hostile
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{hostile}"
        );
        assert!(file_stem(&"x".repeat(10_000)).len() < 80);
        assert!(!file_stem("…").is_empty());
    }
}
