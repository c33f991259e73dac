//! The static site of `cargo xtask bench publish`: an index of every benchmark's history
//! ([`index`]) and one page per benchmark with its trend chart and change points ([`page`]).
//!
//! The site is plain HTML with the charts inline as SVG and the style in each page: no
//! JavaScript, no external assets, relative links only, so it works opened from disk and
//! served from a sub-path (GitHub Pages). Every name is escaped with [`escape`].

pub mod index;
pub mod page;

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::Path;

use anyhow::Context;

use crate::changepoint::{self, ChangePoint};
use crate::chart;
use crate::history::Series;
use crate::model::Metric;

/// What the site shows beyond the data.
#[derive(Debug, Clone)]
pub struct SiteOptions {
    /// The heading of the index and the title of every page.
    pub title: String,
    /// How change points are found in each series.
    pub changepoint: changepoint::Options,
}

impl Default for SiteOptions {
    fn default() -> Self {
        SiteOptions {
            title: "Benchmark history".to_string(),
            changepoint: changepoint::Options::default(),
        }
    }
}

/// One benchmark's page, prepared for both page kinds.
#[derive(Debug)]
pub(crate) struct Bench<'a> {
    pub(crate) series: &'a Series,
    /// The machine class that measured every point of the series.
    pub(crate) class: String,
    pub(crate) change_points: Vec<ChangePoint>,
    /// The page, relative to the site's root: `bench/<stem>.html`.
    pub(crate) href: String,
}

/// Writes the site into `out` (created; files of an earlier build are overwritten, others
/// left alone): `index.html`, and per series `bench/<stem>.html` and its trend chart alone as
/// `bench/<stem>.svg` (with its title, to link or embed elsewhere, such as a README).
///
/// Each series must be of one machine class (the class of its first point names it): a
/// series per (class, id, metric), as `cmd::publish` groups them, so wall times of different
/// machines never share a chart. Change points are found with `options.changepoint`.
pub fn build(out: &Path, series: &[Series], options: &SiteOptions) -> anyhow::Result<()> {
    let bench_dir = out.join("bench");
    std::fs::create_dir_all(&bench_dir)
        .with_context(|| format!("cannot create the site folder {}", bench_dir.display()))?;
    let benches = prepare(series, options);
    for bench in &benches {
        let html = page::render(bench, options)?;
        let path = out.join(&bench.href);
        std::fs::write(&path, html).with_context(|| format!("cannot write {}", path.display()))?;
        let svg = crate::chart::trend::trend_svg(bench.series, &bench.change_points)?;
        let path = path.with_extension("svg");
        std::fs::write(&path, svg).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let path = out.join("index.html");
    std::fs::write(&path, index::render(&benches, options))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Orders the series (class, suite, id, metric), detects their change points and names their
/// pages, distinct even when two ids share a slug and their hashes' prefixes meet.
fn prepare<'a>(series: &'a [Series], options: &SiteOptions) -> Vec<Bench<'a>> {
    let mut benches: Vec<Bench<'a>> = series
        .iter()
        .filter(|series| !series.points.is_empty())
        .map(|series| Bench {
            series,
            class: series.points[0].machine.class.clone(),
            change_points: changepoint::detect(&series.values(), &options.changepoint),
            href: String::new(),
        })
        .collect();
    benches.sort_by(|a, b| {
        (
            &a.class,
            chart::suite_of(&a.series.id),
            &a.series.id,
            a.series.metric,
        )
            .cmp(&(
                &b.class,
                chart::suite_of(&b.series.id),
                &b.series.id,
                b.series.metric,
            ))
    });
    let mut taken = BTreeSet::new();
    for bench in &mut benches {
        let key = format!(
            "{}\n{}\n{}",
            bench.class,
            bench.series.id,
            metric_name(bench.series.metric)
        );
        let shown = format!("{}-{}", bench.series.id, metric_tag(bench.series.metric));
        let stem = chart::file_stem_keyed(&shown, &key);
        let mut name = stem.clone();
        let mut extra = 2;
        while !taken.insert(name.clone()) {
            name = format!("{stem}-{extra}");
            extra += 1;
        }
        bench.href = format!("bench/{name}.html");
    }
    benches
}

/// `wall time` or `instructions`.
pub(crate) fn metric_name(metric: Metric) -> &'static str {
    match metric {
        Metric::WallTime => "wall time",
        Metric::Instructions => "instructions",
    }
}

fn metric_tag(metric: Metric) -> &'static str {
    match metric {
        Metric::WallTime => "time",
        Metric::Instructions => "ir",
    }
}

/// Escapes text for HTML content and attribute values; control characters become visible
/// (see [`chart::label`]).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in chart::label(text, usize::MAX).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// A whole page: `title` (escaped here) and `body` (already HTML), with the site's style.
pub(crate) fn layout(title: &str, body: &str) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    );
    html
}

/// The relative change as a cell: `+12.3%`, red for more time or instructions, green for less.
pub(crate) fn change_cell(relative: f64) -> String {
    let class = if relative > 0.0 { "worse" } else { "better" };
    format!(
        "<span class=\"{class}\">{}</span>",
        escape(&chart::percent(relative))
    )
}

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #282828;
  margin: 0 auto; max-width: 1000px; padding: 1.5rem 1rem 3rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; overflow-wrap: anywhere; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 1.5rem 0 .4rem; }
p.meta { color: #666; margin: 0 0 1rem; }
a { color: #1f5fa0; text-decoration: none; }
a:hover { text-decoration: underline; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #e6e6e6; vertical-align: middle; }
th { font-weight: 600; color: #555; background: #fafafa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.name { overflow-wrap: anywhere; }
td.spark { padding-top: 0; padding-bottom: 0; }
table.index { table-layout: fixed; }
table.index col.metric { width: 7.5rem; }
table.index col.latest { width: 11rem; }
table.index col.change { width: 10rem; }
table.index col.spark { width: 140px; }
td, th { white-space: nowrap; }
td.name { white-space: normal; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .88em; }
.worse { color: #b42323; font-weight: 600; }
.better { color: #1e7a3c; font-weight: 600; }
.none { color: #888; }
figure { margin: 1rem 0; }
figure svg { max-width: 100%; height: auto; display: block; }
nav { margin-bottom: 1rem; font-size: .92rem; }
";

#[cfg(test)]
mod tests;
