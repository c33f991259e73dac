use std::path::Path;

use super::*;
use crate::chart::samples::{self, HOSTILE, noisy, series, series_on};

/// Every `href="…"` of an HTML text, unescaped.
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').expect("closing quote")].replace("&amp;", "&"))
        .collect()
}

/// Builds the site of `series` into a temporary folder and checks what every site must hold:
/// the index, one page per series, relative links that all resolve, well-formed markup.
fn check_site(series: &[Series]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), series, &SiteOptions::default()).unwrap();
    let index = dir.path().join("index.html");
    assert!(index.exists());
    let files: Vec<_> = std::fs::read_dir(dir.path().join("bench"))
        .unwrap()
        .map(|item| item.unwrap().path())
        .collect();
    let (pages, charts): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|file| file.extension().is_some_and(|ext| ext == "html"));
    assert_eq!(pages.len(), series.len(), "one page per series");
    assert_eq!(charts.len(), series.len(), "one chart file per series");
    for chart in &charts {
        assert_eq!(chart.extension().unwrap(), "svg");
        crate::chart::assert_well_formed(&std::fs::read_to_string(chart).unwrap());
    }
    for file in pages.iter().chain([&index]) {
        let html = std::fs::read_to_string(file).unwrap();
        crate::chart::assert_well_formed(&html);
        for href in hrefs(&html) {
            assert!(
                !href.starts_with('/') && !href.contains("://"),
                "{href} is not relative"
            );
            let target = file.parent().unwrap().join(&href);
            assert!(
                target.exists(),
                "{} links to missing {href}",
                file.display()
            );
        }
    }
    dir
}

fn site_sample() -> Vec<Series> {
    vec![
        series(
            "cache/get/zipf-1.0",
            Metric::WallTime,
            "ns",
            &noisy(1520.0, 30, 18, 1.12),
            25.0,
        ),
        series(
            "cache/insert/uniform",
            Metric::WallTime,
            "ns",
            &noisy(48_000.0, 30, 40, 1.0),
            900.0,
        ),
        series(
            "iai_cache::cache::hit/one",
            Metric::Instructions,
            "instructions",
            &noisy(1_234_567.0, 30, 10, 0.9),
            0.0,
        ),
        series_on(
            "gha-amd-epyc-2-cores",
            "cache/get/zipf-1.0",
            Metric::WallTime,
            "ns",
            &noisy(2100.0, 30, 40, 1.0),
            60.0,
        ),
    ]
}

#[test]
fn site_has_an_index_and_a_page_per_series_with_working_links() {
    let series = site_sample();
    let dir = check_site(&series);
    let index = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    assert!(index.contains("Machine class <code>ci-x86_64-4-cores</code>"));
    assert!(index.contains("Machine class <code>gha-amd-epyc-2-cores</code>"));
    assert!(index.contains("<h3>iai_cache</h3>"));
    assert!(index.contains("1,"), "instruction counts with separators");
    assert_eq!(
        index.matches("<svg").count(),
        series.len(),
        "a sparkline per row"
    );
    // The step in the first series is found and shown with its commit.
    let step_commit = crate::chart::short_hash(&samples::commit(18));
    assert!(index.contains(&step_commit), "{index}");
}

#[test]
fn ids_with_one_slug_get_distinct_pages() {
    let series = vec![
        series("cache/get a", Metric::WallTime, "ns", &[1.0, 2.0], 0.0),
        series("cache/get-a", Metric::WallTime, "ns", &[1.0, 2.0], 0.0),
        series("cache/get.a", Metric::WallTime, "ns", &[1.0, 2.0], 0.0),
    ];
    check_site(&series);
    assert_eq!(
        chart::file_stem("cache/get a")
            .split('-')
            .take(3)
            .collect::<Vec<_>>(),
        chart::file_stem("cache/get-a")
            .split('-')
            .take(3)
            .collect::<Vec<_>>()
    );
}

#[test]
fn hostile_names_are_escaped_in_html() {
    let series: Vec<Series> = HOSTILE
        .iter()
        .map(|id| {
            let mut series = series(id, Metric::WallTime, "ns", &noisy(100.0, 12, 6, 1.5), 1.0);
            for entry in &mut series.points {
                entry.subject = format!("subject {id}");
            }
            series
        })
        .collect();
    let dir = check_site(&series);
    let index = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    assert!(index.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(index.contains("a&amp;b"));
    assert!(index.contains("&quot;q&#39;"));
    assert!(index.contains("bell\u{2407}/x"));
    assert!(!index.contains("a&b"));
    assert_eq!(
        escape("<a href='x'>&\u{7}"),
        "&lt;a href=&#39;x&#39;&gt;&amp;\u{2407}"
    );
}

/// `XTASK_WRITE_SAMPLES=DIR cargo test -p xtask --lib write_samples` writes sample charts
/// and a sample site into DIR, for looking at them (`.ci/render-charts`); without the
/// variable it does nothing.
#[test]
fn write_samples() {
    let Some(dir) = std::env::var_os("XTASK_WRITE_SAMPLES") else {
        return;
    };
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).unwrap();
    let options = SiteOptions::default();
    let mut all = site_sample();
    all.push(series(
        "query_plan/plannable/parse_plan/a-rather-long-benchmark-name-with-many-parts/tpch-q18",
        Metric::WallTime,
        "ns",
        &noisy(8_400_000.0, 140, 70, 0.85),
        150_000.0,
    ));
    let mut three_steps = noisy(310.0, 60, 20, 1.08);
    for value in &mut three_steps[24..] {
        *value *= 1.1;
    }
    for value in &mut three_steps[45..] {
        *value *= 0.8;
    }
    all.push(series(
        "batching/flush/size-64",
        Metric::WallTime,
        "ns",
        &three_steps,
        4.0,
    ));
    all.push(series(
        "<script>alert(1)</script>/a&b/\"q'",
        Metric::WallTime,
        "ns",
        &noisy(100.0, 12, 6, 1.5),
        2.0,
    ));
    for series in &all {
        let change_points = changepoint::detect(&series.values(), &options.changepoint);
        let svg = chart::trend::trend_svg(series, &change_points).unwrap();
        let name = format!(
            "trend-{}.svg",
            chart::file_stem(&format!("{} {}", series.points[0].machine.class, series.id))
        );
        std::fs::write(dir.join(name), svg).unwrap();
    }
    let mut cmp = samples::comparison(&[
        ("cache/get/zipf-1.0", 0.081),
        ("cache/get/uniform", 0.012),
        ("cache/insert/uniform", -0.064),
        ("cache/get_or_insert/single-flight/8-threads", 0.031),
        ("cache/remove", -0.004),
        ("cache/moka/get/zipf-1.0", 0.0),
        ("iai_cache::cache::hit/one", 0.0),
        ("iai_cache::cache::miss/one", 0.071),
        ("iai_cache::cache::insert/evict", -0.12),
    ]);
    for row in &mut cmp.rows {
        if row.id.contains("moka") {
            row.advisory = Some(crate::decide::Advisory::Configured);
        }
    }
    chart::comparison::write_comparison_charts(&cmp, &dir.join("comparison")).unwrap();
    build(&dir.join("site"), &all, &options).unwrap();
}
