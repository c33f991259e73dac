//! The site's `index.html`: every benchmark by machine class and suite, with its latest value,
//! its last change point, a sparkline and a link to its page.

use std::fmt::Write;

use super::{Bench, SiteOptions, change_cell, escape, layout, metric_name};
use crate::chart::{self, sparkline::sparkline_svg};

/// The index page of `benches` (in the order [`super::build`] sorted them).
pub(crate) fn render(benches: &[Bench<'_>], options: &SiteOptions) -> String {
    let mut body = String::new();
    let _ = writeln!(body, "<h1>{}</h1>", escape(&options.title));
    let n_runs: usize = benches.iter().map(|bench| bench.series.points.len()).sum();
    let _ = writeln!(
        body,
        "<p class=\"meta\">{} benchmark series, {n_runs} recorded runs. Each series is one \
         benchmark on one machine class; times of different classes are never compared. \
         &ldquo;Last change&rdquo; is the shift at the most recent change point.</p>",
        benches.len()
    );
    if benches.is_empty() {
        body.push_str("<p class=\"none\">No history yet.</p>\n");
    }
    let mut class: Option<&str> = None;
    let mut suite: Option<&str> = None;
    for bench in benches {
        let bench_suite = chart::suite_of(&bench.series.id);
        if class != Some(bench.class.as_str()) {
            close_table(&mut body, suite.is_some());
            let _ = writeln!(
                body,
                "<h2>Machine class <code>{}</code></h2>",
                escape(&bench.class)
            );
            class = Some(&bench.class);
            suite = None;
        }
        if suite != Some(bench_suite) {
            close_table(&mut body, suite.is_some());
            let _ = writeln!(body, "<h3>{}</h3>", escape(bench_suite));
            body.push_str(
                "<table class=\"index\">\n<colgroup><col class=\"name\"><col class=\"metric\">\
                 <col class=\"latest\"><col class=\"change\"><col class=\"spark\"></colgroup>\n\
                 <thead><tr><th>Benchmark</th><th>Metric</th><th class=\"num\">Latest</th>\
                 <th class=\"num\">Last change</th><th>Trend</th></tr></thead>\n<tbody>\n",
            );
            suite = Some(bench_suite);
        }
        row(&mut body, bench);
    }
    close_table(&mut body, suite.is_some());
    layout(&options.title, &body)
}

fn close_table(body: &mut String, open: bool) {
    if open {
        body.push_str("</tbody>\n</table>\n");
    }
}

fn row(body: &mut String, bench: &Bench<'_>) {
    let series = bench.series;
    let latest = &series.points[series.points.len() - 1];
    let last_change = match bench.change_points.last() {
        Some(point) => format!(
            "{} at <code>{}</code>",
            change_cell(point.relative),
            escape(&chart::short_hash(
                &series.points[point.index.min(series.points.len() - 1)].commit
            ))
        ),
        None => "<span class=\"none\">none</span>".to_string(),
    };
    let _ = writeln!(
        body,
        "<tr><td class=\"name\"><a href=\"{}\">{}</a></td><td>{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{last_change}</td><td class=\"spark\"><a href=\"{}\" aria-label=\"trend of {}\">{}</a></td></tr>",
        escape(&bench.href),
        escape(&series.id),
        metric_name(series.metric),
        escape(&chart::format_value(latest.median, &series.unit)),
        escape(&bench.href),
        escape(&series.id),
        sparkline_svg(&series.values(), 120, 26),
    );
}
