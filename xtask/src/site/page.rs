//! A benchmark's page: its trend chart, its change points and its latest runs.

use std::fmt::Write;

use super::{Bench, SiteOptions, change_cell, escape, layout, metric_name};
use crate::chart::{self, trend::trend_svg_untitled};

/// How many of the latest runs the page lists.
const RECENT_RUNS: usize = 15;

/// The page of `bench`, for `bench/<stem>.html` (links climb one folder to the index).
pub(crate) fn render(bench: &Bench<'_>, options: &SiteOptions) -> anyhow::Result<String> {
    let series = bench.series;
    let points = &series.points;
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<nav><a href=\"../index.html\">&larr; {}</a></nav>",
        escape(&options.title)
    );
    let _ = writeln!(body, "<h1>{}</h1>", escape(&series.id));
    let _ = writeln!(
        body,
        "<p class=\"meta\">{}, machine class <code>{}</code>, {} runs; latest {} at <code>{}</code>.</p>",
        metric_name(series.metric),
        escape(&bench.class),
        points.len(),
        escape(&chart::format_value(
            points[points.len() - 1].median,
            &series.unit
        )),
        escape(&chart::short_hash(&points[points.len() - 1].commit)),
    );
    // The page's own file name with `.svg`: the same chart, titled, written beside the page.
    let svg_name = bench
        .href
        .rsplit('/')
        .next()
        .unwrap_or(&bench.href)
        .replace(".html", ".svg");
    let _ = writeln!(
        body,
        "<figure>{}<figcaption><a href=\"{}\">the chart as SVG</a></figcaption></figure>",
        trend_svg_untitled(series, &bench.change_points)?,
        escape(&svg_name)
    );

    body.push_str("<h2>Change points</h2>\n");
    if bench.change_points.is_empty() {
        let _ = writeln!(
            body,
            "<p class=\"none\">No change point detected in {} runs.</p>",
            points.len()
        );
    } else {
        body.push_str(
            "<table>\n<thead><tr><th>Commit</th><th>Subject</th><th class=\"num\">Before \u{2192} after</th>\
             <th class=\"num\">Change</th><th class=\"num\">p-value</th></tr></thead>\n<tbody>\n",
        );
        for point in bench.change_points.iter().rev() {
            let Some(entry) = points.get(point.index) else {
                continue;
            };
            let scale = chart::Scale::for_values(&series.unit, point.before.max(point.after));
            let _ = writeln!(
                body,
                "<tr><td><code title=\"{}\">{}</code></td><td class=\"name\">{}</td>\
                 <td class=\"num\">{} \u{2192} {}</td><td class=\"num\">{}</td><td class=\"num\">{:.3}</td></tr>",
                escape(&entry.commit),
                escape(&chart::short_hash(&entry.commit)),
                escape(&entry.subject),
                escape(&scale.format(point.before)),
                escape(&scale.format(point.after)),
                change_cell(point.relative),
                point.p_value,
            );
        }
        body.push_str("</tbody>\n</table>\n");
    }

    let _ = writeln!(
        body,
        "<h2>Latest runs</h2>\n<table>\n<thead><tr><th>Commit</th><th>Subject</th><th>Time</th>\
         <th class=\"num\">Median</th><th class=\"num\">Std. dev.</th><th class=\"num\">Samples</th></tr></thead>\n<tbody>"
    );
    for entry in points.iter().rev().take(RECENT_RUNS) {
        let scale = chart::Scale::for_values(&series.unit, entry.median);
        let _ = writeln!(
            body,
            "<tr><td><code title=\"{}\">{}</code></td><td class=\"name\">{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&entry.commit),
            escape(&chart::short_hash(&entry.commit)),
            escape(&entry.subject),
            escape(&display_time(&entry.time)),
            escape(&scale.format(entry.median)),
            escape(&scale.format(entry.std_dev)),
            entry.n,
        );
    }
    body.push_str("</tbody>\n</table>\n");
    Ok(layout(
        &format!("{} \u{2013} {}", series.id, options.title),
        &body,
    ))
}

/// An RFC 3339 time as `2026-02-02 12:00 UTC` (as recorded when it is not one).
fn display_time(time: &str) -> String {
    match (time.get(..10), time.get(11..16)) {
        (Some(date), Some(clock))
            if time.ends_with('Z') && time.as_bytes().get(10) == Some(&b'T') =>
        {
            format!("{date} {clock} UTC")
        }
        _ => time.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_shown_short() {
        assert_eq!(
            super::display_time("2026-02-02T12:00:00Z"),
            "2026-02-02 12:00 UTC"
        );
        assert_eq!(super::display_time("yesterday"), "yesterday");
        assert_eq!(super::display_time(""), "");
    }
}
