//! Reports of a [`Comparison`]: the terminal table, Markdown (PR comment and
//! `$GITHUB_STEP_SUMMARY`), JSON for machines, and exports of a [`Run`] for other tools
//! (Bencher Metric Format, github-action-benchmark's custom JSON, JUnit XML).
//!
//! Every report is a pure function returning a `String`, so tests compare text. Benchmark ids
//! are untrusted input (a pull request chooses them): each format escapes them for itself, and
//! control and bidirectional-override characters are shown as visible escapes (`\n`,
//! `\u{1b}`) everywhere, so an id can neither break a table nor drive the terminal.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

use crate::decide::{Advisory, Comparison, Mode, Row, RowNote, Verdict};
use crate::machine::HostDifference;
use crate::model::{Metric, Run, Summary};

/// The order rows are listed in: what needs attention first.
const VERDICT_ORDER: [Verdict; 6] = [
    Verdict::Regressed,
    Verdict::Inconclusive,
    Verdict::Improved,
    Verdict::New,
    Verdict::Missing,
    Verdict::Unchanged,
];

const DASH: &str = "—";

// ---------------------------------------------------------------------------------------------
// Terminal

/// Whether the terminal report should use colours: not when `NO_COLOR` is set to a non-empty
/// value (<https://no-color.org>), and not when stdout is not a terminal.
pub fn color_enabled() -> bool {
    color_enabled_from(
        std::env::var_os("NO_COLOR").as_deref(),
        std::io::stdout().is_terminal(),
    )
}

/// [`color_enabled`] with its inputs passed in.
pub fn color_enabled_from(no_color: Option<&OsStr>, stdout_is_terminal: bool) -> bool {
    let no_color = no_color.is_some_and(|value| !value.is_empty());
    !no_color && stdout_is_terminal
}

/// The terminal report: a table (most urgent rows first), a summary line ending in `PASS` or
/// `FAIL`, then the notes. Wall-time rows that were not judged are left out of the table and
/// said once, in the first note. ANSI colours only when `color`.
pub fn terminal(cmp: &Comparison, color: bool) -> String {
    const HEADER: [&str; 6] = ["benchmark", "metric", "old", "new", "change", "verdict"];
    // Right-aligned columns: the numbers.
    const RIGHT: [bool; 6] = [false, false, true, true, false, false];

    let rows: Vec<&Row> = ordered(cmp)
        .into_iter()
        .filter(|row| !not_judged(row))
        .collect();
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|row| {
            [
                visible(&row.id),
                metric_short(row.metric).to_owned(),
                value_cell(row.metric, row.old.as_ref()),
                value_cell(row.metric, row.new.as_ref()),
                change_cell(row),
                verdict_cell(row),
            ]
        })
        .collect();

    let mut widths = HEADER.map(|h| h.chars().count());
    for line in &cells {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let render = |line: &[String; 6]| {
        let mut out = String::new();
        for (i, cell) in line.iter().enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            let pad = " ".repeat(widths[i] - cell.chars().count());
            if RIGHT[i] {
                out.push_str(&pad);
                out.push_str(cell);
            } else {
                out.push_str(cell);
                if i + 1 < line.len() {
                    out.push_str(&pad);
                }
            }
        }
        out
    };

    let mut out = String::new();
    if !rows.is_empty() {
        let header = render(&HEADER.map(str::to_owned));
        if color {
            let _ = writeln!(out, "\x1b[1m{header}\x1b[0m");
        } else {
            let _ = writeln!(out, "{header}");
        }
        for (row, line) in rows.iter().zip(&cells) {
            let text = render(line);
            match style(row).filter(|_| color) {
                Some(sgr) => {
                    let _ = writeln!(out, "\x1b[{sgr}m{text}\x1b[0m");
                }
                None => {
                    let _ = writeln!(out, "{text}");
                }
            }
        }
        out.push('\n');
    }

    let status = if cmp.failed() { "FAIL" } else { "PASS" };
    let status = match (color, cmp.failed()) {
        (false, _) => status.to_owned(),
        (true, true) => format!("\x1b[1;31m{status}\x1b[0m"),
        (true, false) => format!("\x1b[1;32m{status}\x1b[0m"),
    };
    let _ = writeln!(out, "{status}: {}", counts_text(cmp));
    gate_terminal(cmp, &mut out);
    for note in run_notes(cmp) {
        let _ = writeln!(out, "note: {}", visible(&note));
    }
    for row in sorted(cmp) {
        if let Some(note) = row_note_text(row) {
            let _ = writeln!(
                out,
                "note: {} ({}): {}",
                visible(&row.id),
                metric_short(row.metric),
                visible(&note)
            );
        }
    }
    out
}

/// The SGR parameters of a row's colour, if it has one.
fn style(row: &Row) -> Option<String> {
    let colour = match row.verdict {
        Verdict::Regressed => Some("31"),
        Verdict::Improved => Some("32"),
        Verdict::Inconclusive => Some("33"),
        _ => None,
    };
    match (row.advisory.is_some(), colour) {
        (true, Some(c)) => Some(format!("2;{c}")),
        (true, None) => Some("2".to_owned()),
        (false, Some(c)) => Some(c.to_owned()),
        (false, None) => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Markdown

/// The Markdown report for a pull-request comment or `$GITHUB_STEP_SUMMARY`: a heading with
/// the outcome, the counts, a table of the rows that need a look, the unchanged rows folded
/// away, and the notes. Everything taken from the input is escaped (see [`escape_markdown`]).
pub fn markdown(cmp: &Comparison) -> String {
    let mut out = String::new();
    if cmp.failed() {
        out.push_str("## ❌ Benchmarks: fail\n\n");
    } else {
        out.push_str("## ✅ Benchmarks: pass\n\n");
    }
    let _ = writeln!(out, "{}.\n", upper_first(&counts_text(cmp)));
    gate_markdown_header(cmp, &mut out);
    if let Some(line) = not_judged_line(cmp) {
        let _ = writeln!(out, "{}.\n", upper_first(&escape_markdown(&line)));
    }

    let rows = ordered(cmp);
    let (set_aside, rows): (Vec<&Row>, Vec<&Row>) =
        rows.into_iter().partition(|row| not_judged(row));
    let (unchanged, changed): (Vec<&Row>, Vec<&Row>) = rows
        .iter()
        .partition(|row| row.verdict == Verdict::Unchanged);
    if !changed.is_empty() {
        markdown_table(&mut out, &changed);
        out.push('\n');
    }
    if !unchanged.is_empty() {
        let _ = writeln!(
            out,
            "<details>\n<summary>{} unchanged</summary>\n",
            unchanged.len()
        );
        markdown_table(&mut out, &unchanged);
        out.push_str("\n</details>\n\n");
    }
    if !set_aside.is_empty() {
        let _ = writeln!(
            out,
            "<details>\n<summary>{} wall-time rows not judged</summary>\n",
            set_aside.len()
        );
        markdown_table(&mut out, &set_aside);
        out.push_str("\n</details>\n\n");
    }

    gate_markdown(cmp, &mut out);
    let row_notes: Vec<(&Row, String)> = sorted(cmp)
        .filter_map(|row| row_note_text(row).map(|note| (row, note)))
        .collect();
    if !cmp.notes.is_empty() || !row_notes.is_empty() {
        out.push_str("### Notes\n\n");
        for note in &cmp.notes {
            let _ = writeln!(out, "- {}", escape_markdown(note));
        }
        for (row, note) in row_notes {
            let _ = writeln!(
                out,
                "- {} ({}): {}",
                escape_markdown(&row.id),
                metric_short(row.metric),
                escape_markdown(&note)
            );
        }
        out.push('\n');
    }
    // One trailing newline.
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn markdown_table(out: &mut String, rows: &[&Row]) {
    out.push_str("| benchmark | metric | old | new | change [interval] | threshold | verdict |\n");
    out.push_str("| :-- | :-- | --: | --: | --: | --: | :-- |\n");
    for row in rows {
        let threshold = match row.verdict {
            Verdict::New | Verdict::Missing => DASH.to_owned(),
            _ => format!("{:.1}%", row.threshold * 100.0),
        };
        let cells = [
            row.id.clone(),
            metric_short(row.metric).to_owned(),
            value_cell(row.metric, row.old.as_ref()),
            value_cell(row.metric, row.new.as_ref()),
            change_cell(row),
            threshold,
            verdict_cell(row),
        ];
        out.push('|');
        for cell in &cells {
            let _ = write!(out, " {} |", escape_markdown(cell));
        }
        out.push('\n');
    }
}

/// Escapes untrusted text for use inline in GitHub-flavoured Markdown, including inside a
/// table cell: HTML-significant characters become entities, Markdown punctuation is
/// backslash-escaped (`\|` also keeps a table cell intact), control characters become visible
/// escapes, and a zero-width space after `@` keeps an id from mentioning someone.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in visible(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '@' => out.push_str("@&#8203;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' | '!' | '$' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// JSON

#[derive(Serialize)]
struct JsonReport<'a> {
    verdict: &'static str,
    mode: Mode,
    counts: Counts,
    notes: Vec<String>,
    benchmarks: Vec<JsonRow<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base: Option<&'a crate::worktree::Revision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    head: Option<&'a crate::worktree::Revision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gate: Option<&'a crate::decide::GateSummary>,
}

#[derive(Serialize, Default)]
struct Counts {
    regressed: usize,
    inconclusive: usize,
    improved: usize,
    new: usize,
    missing: usize,
    unchanged: usize,
    advisory: usize,
    /// Wall-time rows not judged (another host or boot); also counted as advisory.
    not_judged: usize,
}

#[derive(Serialize)]
struct JsonRow<'a> {
    id: &'a str,
    metric: Metric,
    unit: &'a str,
    verdict: Verdict,
    change: Option<f64>,
    interval: Option<[f64; 2]>,
    threshold: f64,
    old: Option<Summary>,
    new: Option<Summary>,
    advisory: bool,
    /// Why the row is advisory, as a snake_case tag ([`Advisory::tag`]).
    advisory_reason: Option<&'static str>,
    /// The advisory reason and the row's notes in words, for people.
    note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rounds: Option<usize>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    rerun: bool,
    /// The minimum detectable effect (relative).
    #[serde(skip_serializing_if = "Option::is_none")]
    minimum_detectable_effect: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    functions: Option<&'a crate::callgrind::FunctionDiff>,
}

/// The JSON report: pretty, deterministic (rows sorted by id, then metric), with `verdict`
/// `"pass"` or `"fail"`, the mode, counts per verdict, the notes and one object per row;
/// `change` and `interval` are relative (0.05 = 5 % more time or instructions).
pub fn json(cmp: &Comparison) -> String {
    let mut counts = Counts::default();
    for row in &cmp.rows {
        *match row.verdict {
            Verdict::Regressed => &mut counts.regressed,
            Verdict::Inconclusive => &mut counts.inconclusive,
            Verdict::Improved => &mut counts.improved,
            Verdict::New => &mut counts.new,
            Verdict::Missing => &mut counts.missing,
            Verdict::Unchanged => &mut counts.unchanged,
        } += 1;
        counts.advisory += usize::from(row.advisory.is_some());
        counts.not_judged += usize::from(not_judged(row));
    }
    let report = JsonReport {
        verdict: if cmp.failed() { "fail" } else { "pass" },
        mode: cmp.mode,
        counts,
        notes: run_notes(cmp),
        benchmarks: sorted(cmp)
            .map(|row| JsonRow {
                id: &row.id,
                metric: row.metric,
                unit: &row.unit,
                verdict: row.verdict,
                change: row.change,
                interval: row.interval.map(|(lo, hi)| [lo, hi]),
                threshold: row.threshold,
                old: row.old,
                new: row.new,
                advisory: row.advisory.is_some(),
                advisory_reason: row.advisory.as_ref().map(Advisory::tag),
                note: full_note_text(row),
                rounds: row.rounds,
                rerun: row.rerun,
                minimum_detectable_effect: row.mde,
                functions: row.functions.as_ref(),
            })
            .collect(),
        base: cmp.gate.as_ref().map(|g| &g.base),
        head: cmp.gate.as_ref().map(|g| &g.head),
        gate: cmp.gate.as_ref(),
    };
    let mut text = serde_json::to_string_pretty(&report).expect("report serialises");
    text.push('\n');
    text
}

// ---------------------------------------------------------------------------------------------
// GitHub step summary

/// Appends `markdown` to the file named by `$GITHUB_STEP_SUMMARY`, if that is set (and not
/// empty); otherwise does nothing.
pub fn write_step_summary(markdown: &str) -> anyhow::Result<()> {
    let path = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty());
    write_step_summary_to(path.as_deref().map(Path::new), markdown)
}

/// Appends `markdown` (newline-terminated) to `path`, creating the file if missing; does
/// nothing for `None`.
pub fn write_step_summary_to(path: Option<&Path>, markdown: &str) -> anyhow::Result<()> {
    let Some(path) = path else { return Ok(()) };
    let mut text = markdown.to_owned();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open the step summary {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write the step summary {}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// Exports

#[derive(Serialize)]
struct BencherMetric {
    value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    lower_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upper_value: Option<f64>,
}

/// The run in Bencher Metric Format: per id, `latency` (median ns per iteration, with min and
/// max as bounds) for wall time and `instructions` for counts. Keys sorted.
pub fn bencher_metric_format(run: &Run) -> String {
    let mut out: BTreeMap<&str, BTreeMap<&str, BencherMetric>> = BTreeMap::new();
    for bench in &run.benchmarks {
        let s = &bench.summary;
        let (measure, metric) = match bench.metric {
            Metric::WallTime => (
                "latency",
                BencherMetric {
                    value: s.median,
                    lower_value: Some(s.min),
                    upper_value: Some(s.max),
                },
            ),
            Metric::Instructions => (
                "instructions",
                BencherMetric {
                    value: s.median,
                    lower_value: None,
                    upper_value: None,
                },
            ),
        };
        out.entry(&bench.id).or_default().insert(measure, metric);
    }
    let mut text = serde_json::to_string_pretty(&out).expect("export serialises");
    text.push('\n');
    text
}

#[derive(Serialize)]
struct ActionBenchmarkEntry<'a> {
    name: &'a str,
    unit: &'static str,
    value: f64,
}

/// The run as github-action-benchmark's `customSmallerIsBetter` JSON: one entry per benchmark
/// with its median (`ns` per iteration, or `instructions`), sorted by id, then metric.
pub fn github_action_benchmark(run: &Run) -> String {
    let mut benches: Vec<_> = run.benchmarks.iter().collect();
    benches.sort_by(|a, b| (&a.id, a.metric).cmp(&(&b.id, b.metric)));
    let entries: Vec<_> = benches
        .into_iter()
        .map(|bench| ActionBenchmarkEntry {
            name: &bench.id,
            unit: match bench.metric {
                Metric::WallTime => "ns",
                Metric::Instructions => "instructions",
            },
            value: bench.summary.median,
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&entries).expect("export serialises");
    text.push('\n');
    text
}

/// The comparison as JUnit XML: one testsuite, one testcase per row (classname the metric), a
/// `<failure>` for each non-advisory regression, `<skipped>` for missing benchmarks, and the
/// row's numbers in `<system-out>`.
pub fn junit(cmp: &Comparison) -> String {
    let rows: Vec<&Row> = sorted(cmp).collect();
    let failures = rows.iter().filter(|row| fails(row)).count();
    let skipped = rows
        .iter()
        .filter(|row| row.verdict == Verdict::Missing)
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"benchmarks\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">",
        rows.len()
    );
    for row in rows {
        let _ = writeln!(
            out,
            "  <testcase classname=\"{}\" name=\"{}\" time=\"0\">",
            metric_long(row.metric),
            escape_xml(&row.id)
        );
        let summary = format!(
            "{}: change {}, threshold {:.1}%, old {}, new {}",
            verdict_cell(row),
            change_cell(row),
            row.threshold * 100.0,
            value_cell(row.metric, row.old.as_ref()),
            value_cell(row.metric, row.new.as_ref()),
        );
        if fails(row) {
            let _ = writeln!(
                out,
                "    <failure type=\"regressed\" message=\"{}\"/>",
                escape_xml(&summary)
            );
        } else if row.verdict == Verdict::Missing {
            let _ = writeln!(out, "    <skipped message=\"missing from the new run\"/>");
        }
        let mut system_out = summary;
        if let Some(note) = full_note_text(row) {
            system_out.push_str("\nnote: ");
            system_out.push_str(&note);
        }
        let _ = writeln!(
            out,
            "    <system-out>{}</system-out>",
            escape_xml(&system_out)
        );
        out.push_str("  </testcase>\n");
    }
    out.push_str("</testsuite>\n");
    out
}

/// Escapes text for XML content and attribute values. Characters XML 1.0 cannot carry at all
/// (most C0 controls) become visible escapes; tab and line breaks become character references
/// so attribute values keep them.
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if hostile(c) || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.extend(c.escape_unicode());
            }
            c => out.push(c),
        }
    }
    out
}

fn fails(row: &Row) -> bool {
    row.verdict == Verdict::Regressed && row.advisory.is_none()
}

// ---------------------------------------------------------------------------------------------
// Shared formatting

/// Rows sorted by id, then metric.
fn sorted(cmp: &Comparison) -> impl Iterator<Item = &Row> {
    let mut rows: Vec<&Row> = cmp.rows.iter().collect();
    rows.sort_by(|a, b| (&a.id, a.metric).cmp(&(&b.id, b.metric)));
    rows.into_iter()
}

/// Rows in report order: by verdict ([`VERDICT_ORDER`]), then id, then metric.
fn ordered(cmp: &Comparison) -> Vec<&Row> {
    let rank = |v: Verdict| VERDICT_ORDER.iter().position(|&o| o == v).unwrap_or(0);
    let mut rows: Vec<&Row> = cmp.rows.iter().collect();
    rows.sort_by(|a, b| {
        (rank(a.verdict), &a.id, a.metric).cmp(&(rank(b.verdict), &b.id, b.metric))
    });
    rows
}

/// `"2 regressed (1 advisory), 1 improved, 3 unchanged"`: the non-zero counts in report order,
/// then the wall-time rows not judged (`"…, 87 not judged"`), which count under no verdict.
fn counts_text(cmp: &Comparison) -> String {
    let mut parts: Vec<String> = VERDICT_ORDER
        .iter()
        .filter_map(|&verdict| {
            let of: Vec<&Row> = cmp
                .rows
                .iter()
                .filter(|r| r.verdict == verdict && !not_judged(r))
                .collect();
            if of.is_empty() {
                return None;
            }
            let advisory = of.iter().filter(|r| r.advisory.is_some()).count();
            let mut part = format!("{} {}", of.len(), verdict_name(verdict));
            if advisory > 0 {
                let _ = write!(part, " ({advisory} advisory)");
            }
            Some(part)
        })
        .collect();
    let n_not_judged = cmp.rows.iter().filter(|r| not_judged(r)).count();
    if n_not_judged > 0 {
        parts.push(format!("{n_not_judged} not judged"));
    }
    if parts.is_empty() {
        "no benchmarks compared".to_owned()
    } else {
        parts.join(", ")
    }
}

fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn verdict_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Regressed => "regressed",
        Verdict::Improved => "improved",
        Verdict::Unchanged => "unchanged",
        Verdict::Inconclusive => "inconclusive",
        Verdict::New => "new",
        Verdict::Missing => "missing",
    }
}

fn verdict_cell(row: &Row) -> String {
    let name = verdict_name(row.verdict);
    if not_judged(row) {
        "not judged".to_owned()
    } else if row.advisory.is_some() {
        format!("{name} (advisory)")
    } else {
        name.to_owned()
    }
}

/// Whether a row is a wall time that was not judged (another host or boot): reports fold
/// these away and say why once.
fn not_judged(row: &Row) -> bool {
    matches!(row.advisory, Some(Advisory::WallTimeNotJudged(_)))
}

/// The one line that says wall time was not judged and why, when it was not:
/// `wall time not judged (87 rows): the baseline was measured on another host; instruction
/// counts gated`.
fn not_judged_line(cmp: &Comparison) -> Option<String> {
    let mut of = cmp.rows.iter().filter_map(|row| match row.advisory {
        Some(Advisory::WallTimeNotJudged(difference)) => Some(difference),
        _ => None,
    });
    let difference = of.next()?;
    let n_rows = 1 + of.count();
    let counts = cmp
        .rows
        .iter()
        .filter(|row| row.metric == Metric::Instructions && row.old.is_some() && row.new.is_some());
    let (mut n_counts, mut n_gated) = (0, 0);
    for row in counts {
        n_counts += 1;
        n_gated += usize::from(row.advisory.is_none());
    }
    let counts = match (n_counts, n_gated) {
        (0, _) => "no instruction counts to gate",
        (_, 0) => "instruction counts not gated either",
        _ => "instruction counts gated",
    };
    Some(format!(
        "wall time not judged ({n_rows} {}): {}; {counts}",
        if n_rows == 1 { "row" } else { "rows" },
        host_difference_text(difference)
    ))
}

fn host_difference_text(difference: HostDifference) -> &'static str {
    match difference {
        HostDifference::OtherHost => "the baseline was measured on another host",
        HostDifference::OtherBoot => "the baseline was measured before the last reboot",
        HostDifference::Unknown => "the runs do not both record their host and boot",
    }
}

/// The run-level lines of a report: why wall time was not judged (if so), then the
/// comparison's notes.
fn run_notes(cmp: &Comparison) -> Vec<String> {
    not_judged_line(cmp)
        .into_iter()
        .chain(cmp.notes.iter().cloned())
        .collect()
}

fn advisory_text(advisory: &Advisory) -> String {
    match advisory {
        Advisory::Configured => "advisory by bench.toml: reported, not gated".to_owned(),
        Advisory::WallTimeNotJudged(difference) => {
            format!(
                "wall time not judged: {}",
                host_difference_text(*difference)
            )
        }
        Advisory::Toolchain { old, new } => format!(
            "instructions counted with another toolchain (old {old}, new {new}): advisory, not gated"
        ),
        Advisory::Unstable => "advisory: the machine was not stable during the runs".to_owned(),
        Advisory::Quick => "advisory: measured in quick mode".to_owned(),
    }
}

fn row_note_item_text(note: &RowNote) -> String {
    match *note {
        RowNote::RelativeToControls { drift } => format!(
            "relative to the controls (machine drift {})",
            format_percent(drift)
        ),
        RowNote::TooFewSamples { old, new } => format!(
            "too few samples for a confidence interval at this suite's level ({old} old, {new} \
             new): decided on the estimate alone, never regressed"
        ),
        RowNote::TooFewRounds { rounds } => format!(
            "only {rounds} rounds: at least {} are needed to judge it",
            crate::paired::MIN_ROUNDS
        ),
    }
}

/// What the terminal and Markdown say about one row: what is particular to it. Advisory
/// reasons that hold for the whole run (another host, toolchain, an unstable machine, quick
/// mode) are said once among the run's notes, not on every row.
fn row_note_text(row: &Row) -> Option<String> {
    let own = matches!(row.advisory, Some(Advisory::Configured))
        .then(|| advisory_text(&Advisory::Configured));
    join_notes(own, row)
}

/// Everything about one row in words (the JSON report's `note`, JUnit): the advisory reason
/// and the notes, joined by `; `.
fn full_note_text(row: &Row) -> Option<String> {
    join_notes(row.advisory.as_ref().map(advisory_text), row)
}

fn join_notes(first: Option<String>, row: &Row) -> Option<String> {
    let parts: Vec<String> = first
        .into_iter()
        .chain(row.notes.iter().map(row_note_item_text))
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn metric_short(metric: Metric) -> &'static str {
    match metric {
        Metric::WallTime => "time",
        Metric::Instructions => "instr",
    }
}

fn metric_long(metric: Metric) -> &'static str {
    match metric {
        Metric::WallTime => "wall_time",
        Metric::Instructions => "instructions",
    }
}

fn value_cell(metric: Metric, summary: Option<&Summary>) -> String {
    match summary {
        None => DASH.to_owned(),
        Some(s) => match metric {
            Metric::WallTime => format_ns(s.median),
            Metric::Instructions => format_count(s.median),
        },
    }
}

/// `+12.3% [+10.1%, +14.6%]`, `+12.3%` without an interval, `—` without a change.
fn change_cell(row: &Row) -> String {
    match (row.change, row.interval) {
        (None, _) => DASH.to_owned(),
        (Some(change), None) => format_percent(change),
        (Some(change), Some((lo, hi))) => format!(
            "{} [{}, {}]",
            format_percent(change),
            format_percent(lo),
            format_percent(hi)
        ),
    }
}

/// A relative change as a signed percentage with one decimal: `0.123` → `+12.3%`.
pub fn format_percent(relative: f64) -> String {
    if !relative.is_finite() {
        return "n/a".to_owned();
    }
    let text = format!("{:+.1}%", relative * 100.0);
    if text == "-0.0%" {
        "+0.0%".to_owned()
    } else {
        text
    }
}

/// Nanoseconds with three significant figures in the largest unit that fits:
/// `812 ns`, `12.4 µs`, `3.05 ms`, `1.20 s`.
pub fn format_ns(ns: f64) -> String {
    const UNITS: [(&str, f64); 4] = [("ns", 1.0), ("µs", 1e3), ("ms", 1e6), ("s", 1e9)];
    if !ns.is_finite() {
        return format!("{ns} ns");
    }
    let magnitude = ns.abs();
    let mut unit = UNITS
        .iter()
        .rposition(|&(_, factor)| magnitude >= factor)
        .unwrap_or(0);
    // 999.7 ns rounds to 1000 at three figures: show it as 1.00 µs.
    if magnitude / UNITS[unit].1 >= 999.5 && unit + 1 < UNITS.len() {
        unit += 1;
    }
    let (name, factor) = UNITS[unit];
    let scaled = ns / factor;
    let decimals = match scaled.abs() {
        a if a < 9.995 => 2,
        a if a < 99.95 => 1,
        _ => 0,
    };
    format!("{scaled:.decimals$} {name}")
}

/// A count rounded to an integer, with thousands separators: `1,254,883`.
pub fn format_count(count: f64) -> String {
    if !count.is_finite() {
        return count.to_string();
    }
    let rounded = count.round();
    let digits = format!("{:.0}", rounded.abs());
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if rounded < 0.0 {
        out.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Characters shown as escapes rather than themselves: controls (newlines, ANSI escapes) and
/// the bidirectional overrides that make text read differently from what it is.
fn hostile(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with [`hostile`] characters replaced by visible escapes (`\n`, `\u{1b}`).
fn visible(text: &str) -> String {
    if !text.chars().any(hostile) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hostile(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The gate's sections (compare, merge)

/// Rows whose rounds could not have seen a change at their threshold: the minimum detectable
/// effect is above it.
fn undetectable(cmp: &Comparison) -> Vec<&Row> {
    let mut rows: Vec<&Row> = cmp
        .rows
        .iter()
        .filter(|r| r.metric == Metric::WallTime && r.rounds.is_some())
        .filter(|r| r.mde.is_none_or(|mde| mde > r.threshold * 1.5))
        .collect();
    rows.sort_by(|a, b| {
        b.mde
            .unwrap_or(f64::INFINITY)
            .total_cmp(&a.mde.unwrap_or(f64::INFINITY))
    });
    rows
}

fn mde_text(row: &Row) -> String {
    match row.mde {
        Some(mde) => format!(
            "could not have seen a change below {} (threshold {:.1}%)",
            format_percent(mde).trim_start_matches('+'),
            row.threshold * 100.0
        ),
        None => "too few rounds to detect any change".to_owned(),
    }
}

fn skipped_text(gate: &crate::decide::GateSummary) -> Option<String> {
    use crate::paired::SkipReason;
    let count = |reason: SkipReason| gate.skipped.iter().filter(|s| s.reason == reason).count();
    let (unaffected, advisory) = (count(SkipReason::NotAffected), count(SkipReason::Advisory));
    let mut parts = Vec::new();
    if unaffected > 0 {
        parts.push(format!(
            "{unaffected} in packages the change does not touch"
        ));
    }
    if advisory > 0 {
        parts.push(format!("{advisory} advisory peers"));
    }
    (!parts.is_empty()).then(|| {
        format!(
            "wall time not measured for {} (instruction counts still compared; `--all` measures them)",
            parts.join(" and ")
        )
    })
}

fn sides_text(gate: &crate::decide::GateSummary) -> String {
    let mut text = format!("base {} → head {}", gate.base.label(), gate.head.label());
    if let Some(shard) = gate.shard {
        let _ = write!(text, ", shard {shard}");
    }
    let t = &gate.timing;
    if t.total_seconds > 0.0 {
        let _ = write!(
            text,
            "; {} rounds, {:.0} s building, {:.0} s measuring, {:.1} min in all",
            t.rounds,
            t.build_seconds,
            t.measure_seconds,
            t.total_seconds / 60.0
        );
    }
    text
}

fn gate_terminal(cmp: &Comparison, out: &mut String) {
    let Some(gate) = &cmp.gate else { return };
    let _ = writeln!(out, "compared: {}", visible(&sides_text(gate)));
    for failure in &gate.failures {
        let _ = writeln!(
            out,
            "error: {} fails on {}: {}",
            visible(&failure.what),
            failure.side,
            visible(&failure.message)
        );
    }
    if let Some(text) = skipped_text(gate) {
        let _ = writeln!(out, "note: {text}");
    }
    for row in sorted(cmp) {
        if let Some(diff) = &row.functions
            && matches!(row.verdict, Verdict::Regressed | Verdict::Improved)
        {
            let _ = writeln!(
                out,
                "\n{} ({}):",
                visible(&row.id),
                verdict_name(row.verdict)
            );
            for line in crate::callgrind::terminal_lines(diff) {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    let undetectable = undetectable(cmp);
    if !undetectable.is_empty() {
        let _ = writeln!(
            out,
            "\nnoise: {} wall-time benchmarks could not be judged at their threshold on this run (re-run on a quieter machine or with more --rounds):",
            undetectable.len()
        );
        for row in undetectable {
            let _ = writeln!(out, "  {}: {}", visible(&row.id), mde_text(row));
        }
    }
}

fn gate_markdown_header(cmp: &Comparison, out: &mut String) {
    let Some(gate) = &cmp.gate else { return };
    let _ = writeln!(
        out,
        "{}\n",
        escape_markdown(&upper_first(&sides_text(gate)))
    );
    if gate.head.dirty {
        out.push_str("The head is the working tree with uncommitted changes (dirty).\n\n");
    }
    for failure in &gate.failures {
        let _ = writeln!(
            out,
            "- ❌ **{}** fails on {}: {}",
            escape_markdown(&failure.what),
            failure.side,
            escape_markdown(&failure.message)
        );
    }
    if !gate.failures.is_empty() {
        out.push('\n');
    }
}

fn gate_markdown(cmp: &Comparison, out: &mut String) {
    let Some(gate) = &cmp.gate else { return };
    let explained: Vec<&Row> = sorted(cmp)
        .filter(|r| {
            r.functions.is_some() && matches!(r.verdict, Verdict::Regressed | Verdict::Improved)
        })
        .collect();
    if !explained.is_empty() {
        out.push_str("### Why the instruction counts moved\n\n");
        for row in explained {
            let _ = writeln!(
                out,
                "<details open>\n<summary>{} ({})</summary>\n",
                escape_markdown(&row.id),
                verdict_name(row.verdict)
            );
            out.push_str(&crate::callgrind::markdown(
                row.functions.as_ref().expect("filtered"),
            ));
            out.push_str("\n</details>\n\n");
        }
    }
    let undetectable = undetectable(cmp);
    if !undetectable.is_empty() {
        let _ = writeln!(
            out,
            "### Not judged at their threshold\n\nThe noise of this run hid changes below these sizes; re-run on a quieter machine or with more `--rounds` to judge them.\n"
        );
        for row in undetectable {
            let _ = writeln!(out, "- {}: {}", escape_markdown(&row.id), mde_text(row));
        }
        out.push('\n');
    }
    if let Some(text) = skipped_text(gate) {
        let _ = writeln!(out, "{}.\n", escape_markdown(&upper_first(&text)));
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::model::{Benchmark, RunMeta, SCHEMA_VERSION};

    fn summary(median: f64) -> Summary {
        Summary {
            n: 10,
            mean: median,
            median,
            min: median * 0.9,
            max: median * 1.2,
            std_dev: median * 0.05,
        }
    }

    fn row(id: &str, metric: Metric, verdict: Verdict, old: Option<f64>, new: Option<f64>) -> Row {
        let change = match (old, new) {
            (Some(o), Some(n)) => Some(n / o - 1.0),
            _ => None,
        };
        let (unit, threshold) = match metric {
            Metric::WallTime => ("ns", 0.05),
            Metric::Instructions => ("instructions", 0.01),
        };
        let mut row = Row::new(id, metric, unit, threshold);
        row.verdict = verdict;
        row.change = change;
        row.interval = change.map(|c| (c - 0.02, c + 0.02));
        row.old = old.map(summary);
        row.new = new.map(summary);
        row
    }

    /// One row of each verdict, an advisory regression and notes.
    fn fixture() -> Comparison {
        let mut advisory = row(
            "cache/get/moka",
            Metric::WallTime,
            Verdict::Regressed,
            Some(3_050_000.0),
            Some(3_600_000.0),
        );
        advisory.advisory = Some(Advisory::Configured);
        let missing = row(
            "cache/evict/old_name",
            Metric::WallTime,
            Verdict::Missing,
            Some(1_200_000_000.0),
            None,
        );
        let mut improved = row(
            "codec::decode::zstd level_3",
            Metric::Instructions,
            Verdict::Improved,
            Some(1_254_883.0),
            Some(1_100_000.0),
        );
        improved.interval = None;
        let mut regressed = row(
            "cache/get/ours",
            Metric::WallTime,
            Verdict::Regressed,
            Some(812.0),
            Some(912.0),
        );
        regressed
            .notes
            .push(RowNote::RelativeToControls { drift: 0.031 });
        let rows = vec![
            regressed,
            advisory,
            row(
                "cache/insert/ours",
                Metric::WallTime,
                Verdict::Inconclusive,
                Some(12_400.0),
                Some(13_100.0),
            ),
            improved,
            row(
                "cache/scan/ours",
                Metric::WallTime,
                Verdict::New,
                None,
                Some(45_600.0),
            ),
            missing,
            row(
                "cache/get/ours",
                Metric::Instructions,
                Verdict::Unchanged,
                Some(10_000.0),
                Some(10_010.0),
            ),
            row(
                "cache/len/ours",
                Metric::WallTime,
                Verdict::Unchanged,
                Some(2.5),
                Some(2.49),
            ),
        ];
        let mut cmp = Comparison {
            mode: Mode::OneRunPerSide,
            rows,
            notes: vec![
                "Wall time compares one run per side, so only large changes count.".to_owned(),
                "Baseline: baselines/x86_64-linux.json.".to_owned(),
            ],
            gate: None,
        };
        cmp.rows
            .sort_by(|a, b| (&a.id, a.metric).cmp(&(&b.id, b.metric)));
        cmp
    }

    fn hostile_ids() -> Comparison {
        let ids = [
            "a|b",
            "<script>alert(1)</script>",
            "`x`",
            "line\nbreak",
            "\u{1b}[31mred",
            "ünï/çødé/日本",
            "# heading *em* _u_ [l](http://x) @octocat & \"q\"",
        ];
        Comparison {
            mode: Mode::OneRunPerSide,
            rows: ids
                .iter()
                .map(|id| {
                    row(
                        id,
                        Metric::WallTime,
                        Verdict::Regressed,
                        Some(100.0),
                        Some(200.0),
                    )
                })
                .collect(),
            notes: vec!["note with <b>html</b> | pipe".to_owned()],
            gate: None,
        }
    }

    fn snapshot_path(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("test_data/report")
            .join(name)
    }

    /// Compares `actual` with the snapshot file `name`; `UPDATE_SNAPSHOTS=1` rewrites it.
    #[track_caller]
    fn check(name: &str, actual: &str) {
        let path = snapshot_path(name);
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, actual).unwrap();
            return;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run with UPDATE_SNAPSHOTS=1 to create it",
                path.display()
            )
        });
        if actual != expected {
            let line = actual
                .lines()
                .zip(expected.lines())
                .position(|(a, e)| a != e)
                .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
            panic!(
                "snapshot {} differs from line {}; rerun with UPDATE_SNAPSHOTS=1 to accept\n\
                 --- expected\n{expected}\n--- actual\n{actual}",
                path.display(),
                line + 1
            );
        }
    }

    #[test]
    fn terminal_snapshot() {
        let text = terminal(&fixture(), false);
        assert!(!text.contains('\x1b'));
        check("terminal.txt", &text);
    }

    #[test]
    fn markdown_snapshot() {
        check("markdown.md", &markdown(&fixture()));
    }

    #[test]
    fn json_snapshot() {
        check("report.json", &json(&fixture()));
    }

    #[test]
    fn junit_snapshot() {
        check("junit.xml", &junit(&fixture()));
    }

    #[test]
    fn terminal_rows_in_verdict_order() {
        let text = terminal(&fixture(), false);
        let verdicts: Vec<&str> = text
            .lines()
            .skip(1)
            .take_while(|line| !line.is_empty())
            .map(|line| line.rsplit("  ").next().unwrap().trim())
            .collect();
        assert_eq!(
            verdicts,
            [
                "regressed (advisory)", // cache/get/moka
                "regressed",            // cache/get/ours
                "inconclusive",
                "improved",
                "new",
                "missing",
                "unchanged",
                "unchanged"
            ]
        );
        assert!(text.contains("FAIL: 2 regressed (1 advisory), 1 inconclusive"));
        assert!(text.contains("\nnote: Baseline: baselines/x86_64-linux.json.\n"));
        assert!(text.contains(
            "\nnote: cache/get/moka (time): advisory by bench.toml: reported, not gated\n"
        ));
        assert!(text.contains(
            "\nnote: cache/get/ours (time): relative to the controls (machine drift +3.1%)\n"
        ));
    }

    #[test]
    fn colours_only_when_enabled() {
        let cmp = fixture();
        let plain = terminal(&cmp, false);
        let coloured = terminal(&cmp, true);
        assert!(!plain.contains('\x1b'));
        assert!(coloured.contains("\x1b[31m"), "regressed red");
        assert!(coloured.contains("\x1b[32m"), "improved green");
        assert!(coloured.contains("\x1b[33m"), "inconclusive yellow");
        assert!(coloured.contains("\x1b[2;31m"), "advisory dim");
        assert!(coloured.contains("\x1b[1;31mFAIL\x1b[0m"));
        // Stripping the escapes gives back the plain table.
        let stripped = regex::Regex::new("\x1b\\[[0-9;]*m")
            .unwrap()
            .replace_all(&coloured, "");
        assert_eq!(stripped, plain);
    }

    #[test]
    fn color_enabled_rules() {
        assert!(color_enabled_from(None, true));
        assert!(!color_enabled_from(None, false));
        assert!(!color_enabled_from(Some(OsStr::new("1")), true));
        assert!(!color_enabled_from(Some(OsStr::new("0")), true));
        // no-color.org: an empty value does not count.
        assert!(color_enabled_from(Some(OsStr::new("")), true));
    }

    #[test]
    fn terminal_widths_count_chars_and_ids_cannot_drive_the_terminal() {
        let text = terminal(&hostile_ids(), false);
        assert!(
            !text.contains('\x1b'),
            "escape in the id is shown, not sent"
        );
        assert!(text.contains("\\u{1b}[31mred"));
        assert!(text.contains("line\\nbreak"));
        let table: Vec<&str> = text.lines().take_while(|l| !l.is_empty()).collect();
        assert_eq!(table.len(), 1 + 7, "one line per row: {text}");
        // Every line is equally long in chars (the last column is the same width here).
        let widths: Vec<usize> = table.iter().map(|l| l.chars().count()).collect();
        assert!(widths[1..].iter().all(|&w| w == widths[1]), "{widths:?}");
    }

    #[test]
    fn markdown_escapes_hostile_ids() {
        let md = markdown(&hostile_ids());
        for line in md.lines().filter(|l| l.starts_with('|')) {
            // Every table line has exactly the 8 unescaped pipes of 7 cells.
            let unescaped = line
                .char_indices()
                .filter(|&(i, c)| c == '|' && (i == 0 || !line[..i].ends_with('\\')))
                .count();
            assert_eq!(unescaped, 8, "{line}");
        }
        assert!(md.contains("| a\\|b |"));
        assert!(md.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!md.contains("<script>"));
        assert!(!md.contains("<b>"));
        assert!(md.contains("\\`x\\`"));
        assert!(md.contains("line\\\\nbreak"), "newline shown as \\n");
        assert!(md.contains("\\\\u\\{1b\\}\\[31mred"));
        assert!(!md.contains('\x1b'));
        assert!(md.contains("ünï/çødé/日本"));
        assert!(md.contains(
            "\\# heading \\*em\\* \\_u\\_ \\[l\\](http://x) @&#8203;octocat &amp; &quot;q&quot;"
        ));
        assert!(md.contains("- note with &lt;b&gt;html&lt;/b&gt; \\| pipe"));
    }

    #[test]
    fn junit_escapes_hostile_ids() {
        let xml = junit(&hostile_ids());
        assert!(xml.contains("name=\"a|b\""));
        assert!(xml.contains("name=\"&lt;script&gt;alert(1)&lt;/script&gt;\""));
        assert!(xml.contains("name=\"line&#10;break\""));
        assert!(xml.contains("name=\"\\u{1b}[31mred\""));
        assert!(xml.contains("name=\"ünï/çødé/日本\""));
        assert!(xml.contains("&amp; &quot;q&quot;"));
        assert!(!xml.contains('\x1b'));
        assert!(!xml.contains("<script>"));
        assert_eq!(xml.matches("<failure ").count(), 7);
        assert!(xml.contains("tests=\"7\" failures=\"7\""));
    }

    #[test]
    fn json_fields_and_verdict() {
        let cmp = fixture();
        let value: serde_json::Value = serde_json::from_str(&json(&cmp)).unwrap();
        assert_eq!(value["verdict"], "fail");
        assert_eq!(value["mode"], "one_run_per_side");
        assert_eq!(value["notes"].as_array().unwrap().len(), 2);
        let benchmarks = value["benchmarks"].as_array().unwrap();
        assert_eq!(benchmarks.len(), cmp.rows.len());
        let first = &benchmarks[0];
        for field in [
            "id",
            "metric",
            "unit",
            "verdict",
            "change",
            "interval",
            "threshold",
            "old",
            "new",
            "advisory",
            "advisory_reason",
            "note",
        ] {
            assert!(first.get(field).is_some(), "missing field {field}");
        }
        let keys: Vec<(String, String)> = benchmarks
            .iter()
            .map(|b| {
                (
                    b["id"].as_str().unwrap().to_owned(),
                    b["metric"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(keys[0], ("cache/evict/old_name".into(), "wall_time".into()));
        assert_eq!(keys[1], ("cache/get/moka".into(), "wall_time".into()));
        assert_eq!(keys[2], ("cache/get/ours".into(), "wall_time".into()));
        assert_eq!(keys[3], ("cache/get/ours".into(), "instructions".into()));
        let regressed = &benchmarks[2];
        assert_eq!(regressed["verdict"], "regressed");
        let change = regressed["change"].as_f64().unwrap();
        assert!((change - (912.0 / 812.0 - 1.0)).abs() < 1e-12);
        let interval = regressed["interval"].as_array().unwrap();
        assert_eq!(interval.len(), 2);
        assert!(interval[0].as_f64().unwrap() < change && change < interval[1].as_f64().unwrap());
        assert_eq!(benchmarks[1]["advisory_reason"], "configured");
        assert!(regressed["advisory_reason"].is_null());
        assert_eq!(
            regressed["note"],
            "relative to the controls (machine drift +3.1%)"
        );
        let missing = &benchmarks[0];
        assert!(missing["change"].is_null() && missing["interval"].is_null());
        assert!(missing["new"].is_null() && missing["old"]["median"].is_number());

        // Only the advisory regression left: pass.
        let mut only_advisory = cmp.clone();
        only_advisory
            .rows
            .retain(|r| r.verdict != Verdict::Regressed || r.advisory.is_some());
        let value: serde_json::Value = serde_json::from_str(&json(&only_advisory)).unwrap();
        assert_eq!(value["verdict"], "pass");
        assert!(markdown(&only_advisory).starts_with("## ✅ Benchmarks: pass\n"));
        assert!(terminal(&only_advisory, false).contains("\nPASS: 1 regressed (1 advisory)"));
        assert!(junit(&only_advisory).contains("failures=\"0\""));
    }

    /// Wall times from another host: one line says so, the rows leave the table and the
    /// summary, and their numbers stay in the JSON and a folded Markdown section.
    #[test]
    fn wall_time_not_judged_is_said_once() {
        let mut rows = Vec::new();
        for i in 0..40 {
            let mut r = row(
                &format!("g/{i:02}"),
                Metric::WallTime,
                Verdict::Regressed,
                Some(100.0),
                Some(200.0),
            );
            r.advisory = Some(Advisory::WallTimeNotJudged(HostDifference::OtherHost));
            rows.push(r);
        }
        rows.push(row(
            "g/00",
            Metric::Instructions,
            Verdict::Unchanged,
            Some(1000.0),
            Some(1000.0),
        ));
        let cmp = Comparison {
            mode: Mode::OneRunPerSide,
            rows,
            notes: vec![],
            gate: None,
        };
        let line = "wall time not judged (40 rows): the baseline was measured on another host; \
                    instruction counts gated";
        let text = terminal(&cmp, false);
        assert!(
            text.starts_with("benchmark  metric    old    new  change                verdict\n"),
            "{text}"
        );
        assert_eq!(
            text.lines().filter(|l| l.starts_with("g/")).count(),
            1,
            "{text}"
        );
        assert!(
            text.contains("\nPASS: 1 unchanged, 40 not judged\n"),
            "{text}"
        );
        assert!(!text.contains("advisory"), "{text}");
        assert_eq!(text.matches("not judged (").count(), 1, "{text}");
        assert!(text.contains(&format!("\nnote: {line}\n")), "{text}");

        let md = markdown(&cmp);
        assert!(md.contains("1 unchanged, 40 not judged.\n"), "{md}");
        assert!(
            md.contains("<summary>40 wall-time rows not judged</summary>"),
            "{md}"
        );
        assert_eq!(md.matches("| not judged |").count(), 40, "{md}");
        assert!(!md.contains("advisory"), "{md}");
        assert!(!md.contains("### Notes"), "{md}");

        let value: serde_json::Value = serde_json::from_str(&json(&cmp)).unwrap();
        assert_eq!(value["verdict"], "pass");
        assert_eq!(value["counts"]["not_judged"], 40);
        assert_eq!(value["notes"][0], line);
        let first = &value["benchmarks"][0];
        assert_eq!(first["advisory_reason"], "wall_time_not_judged");
        assert_eq!(
            first["note"],
            "wall time not judged: the baseline was measured on another host"
        );
        assert!(first["change"].as_f64().unwrap() > 0.9, "numbers kept");
        assert!(junit(&cmp).contains("failures=\"0\""));
    }

    #[test]
    fn empty_comparison() {
        let cmp = Comparison {
            mode: Mode::OneRunPerSide,
            rows: vec![],
            notes: vec![],
            gate: None,
        };
        assert_eq!(terminal(&cmp, false), "PASS: no benchmarks compared\n");
        assert_eq!(
            markdown(&cmp),
            "## ✅ Benchmarks: pass\n\nNo benchmarks compared.\n"
        );
        let value: serde_json::Value = serde_json::from_str(&json(&cmp)).unwrap();
        assert_eq!(value["verdict"], "pass");
        assert_eq!(value["benchmarks"], serde_json::json!([]));
    }

    #[test]
    fn time_units() {
        let cases = [
            (0.0, "0.00 ns"),
            (0.523, "0.52 ns"),
            (9.994, "9.99 ns"),
            (9.996, "10.0 ns"),
            (12.34, "12.3 ns"),
            (99.96, "100 ns"),
            (812.0, "812 ns"),
            (812.4, "812 ns"),
            (999.4, "999 ns"),
            (999.7, "1.00 µs"),
            (1_000.0, "1.00 µs"),
            (12_400.0, "12.4 µs"),
            (123_456.0, "123 µs"),
            (3_050_000.0, "3.05 ms"),
            (999_600_000.0, "1.00 s"),
            (1_200_000_000.0, "1.20 s"),
            (61_000_000_000.0, "61.0 s"),
            (12_345_000_000_000.0, "12345 s"),
        ];
        for (ns, want) in cases {
            assert_eq!(format_ns(ns), want, "{ns} ns");
        }
    }

    #[test]
    fn instruction_counts() {
        let cases = [
            (0.0, "0"),
            (7.0, "7"),
            (999.0, "999"),
            (1_000.0, "1,000"),
            (12_345.0, "12,345"),
            (1_254_883.0, "1,254,883"),
            (1_254_882.5, "1,254,883"),
            (123_456_789_012.0, "123,456,789,012"),
            (-1_234.0, "-1,234"),
        ];
        for (count, want) in cases {
            assert_eq!(format_count(count), want, "{count}");
        }
    }

    #[test]
    fn percentages() {
        let cases = [
            (0.123, "+12.3%"),
            (-0.08, "-8.0%"),
            (0.0, "+0.0%"),
            (-0.0001, "+0.0%"),
            (2.5, "+250.0%"),
            (f64::NAN, "n/a"),
        ];
        for (relative, want) in cases {
            assert_eq!(format_percent(relative), want, "{relative}");
        }
    }

    #[test]
    fn step_summary_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.md");
        write_step_summary_to(Some(&path), "# one").unwrap();
        write_step_summary_to(Some(&path), "two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "# one\ntwo\n");
        write_step_summary_to(None, "ignored").unwrap();
        let err = write_step_summary_to(Some(&dir.path().join("no/such/dir.md")), "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("step summary"), "{err}");
    }

    fn bench(id: &str, metric: Metric, samples: &[f64]) -> Benchmark {
        Benchmark {
            id: id.to_owned(),
            metric,
            unit: match metric {
                Metric::WallTime => "ns",
                Metric::Instructions => "instructions",
            }
            .to_owned(),
            samples: samples.to_vec(),
            iterations: vec![],
            summary: Summary::of(samples),
            throughput: None,
        }
    }

    fn run() -> Run {
        Run {
            schema_version: SCHEMA_VERSION,
            meta: RunMeta::default(),
            benchmarks: vec![
                bench("b/fast", Metric::WallTime, &[10.0, 12.0, 11.0]),
                bench("a \"quoted\"", Metric::WallTime, &[100.0, 300.0]),
                bench("b/fast", Metric::Instructions, &[1234.0]),
            ],
        }
    }

    #[test]
    fn bencher_metric_format_export() {
        let value: serde_json::Value =
            serde_json::from_str(&bencher_metric_format(&run())).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "a \"quoted\"": {
                    "latency": {"value": 200.0, "lower_value": 100.0, "upper_value": 300.0}
                },
                "b/fast": {
                    "instructions": {"value": 1234.0},
                    "latency": {"value": 11.0, "lower_value": 10.0, "upper_value": 12.0}
                }
            })
        );
    }

    #[test]
    fn github_action_benchmark_export() {
        let value: serde_json::Value =
            serde_json::from_str(&github_action_benchmark(&run())).unwrap();
        assert_eq!(
            value,
            serde_json::json!([
                {"name": "a \"quoted\"", "unit": "ns", "value": 200.0},
                {"name": "b/fast", "unit": "ns", "value": 11.0},
                {"name": "b/fast", "unit": "instructions", "value": 1234.0}
            ])
        );
    }
}
