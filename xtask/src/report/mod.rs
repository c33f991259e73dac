//! Reports of a [`Comparison`]: the terminal table ([`terminal`]), Markdown for a pull-request
//! comment and `$GITHUB_STEP_SUMMARY` ([`markdown`]), JSON for machines ([`json`]), and exports
//! for other tools: Bencher Metric Format ([`bencher_metric_format`]), github-action-benchmark's
//! custom JSON ([`github_action_benchmark`]) and JUnit XML ([`junit`]), one module per format.
//! This module holds what they share: the words for verdicts, advisory reasons and notes, the
//! number formats, the gate's sections and the escaping of untrusted text.
//!
//! Every report is a pure function returning a `String`, so tests compare text. Benchmark ids
//! are untrusted input (a pull request chooses them): each format escapes them for itself, and
//! control and bidirectional-override characters are shown as visible escapes (`\n`,
//! `\u{1b}`) everywhere, so an id can neither break a table nor drive the terminal.

mod bmf;
mod github_action_benchmark;
mod json;
mod junit;
mod markdown;
mod terminal;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

use crate::decide::{Advisory, Comparison, Row, RowNote, Verdict};
use crate::machine::HostDifference;
use crate::model::{Metric, Summary};

pub use bmf::bencher_metric_format;
pub use github_action_benchmark::github_action_benchmark;
pub use json::json;
pub use junit::{escape_xml, junit};
pub use markdown::{escape_markdown, markdown};
pub use terminal::{color_enabled, color_enabled_from, terminal};

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
// Exports

/// A format other tools read, written by `--export FORMAT=PATH`. Each carries the new (head)
/// side's measurements of a comparison; JUnit also its verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Bencher Metric Format ([`bencher_metric_format`]).
    Bmf,
    /// github-action-benchmark's `customSmallerIsBetter` JSON ([`github_action_benchmark`]).
    GithubActionBenchmark,
    /// JUnit XML ([`junit`]).
    Junit,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 3] = [
        ExportFormat::Bmf,
        ExportFormat::GithubActionBenchmark,
        ExportFormat::Junit,
    ];

    /// The name on the command line: `bmf`, `github-action-benchmark`, `junit`.
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Bmf => "bmf",
            ExportFormat::GithubActionBenchmark => "github-action-benchmark",
            ExportFormat::Junit => "junit",
        }
    }

    /// The comparison in this format.
    pub fn render(self, cmp: &Comparison) -> String {
        match self {
            ExportFormat::Bmf => bencher_metric_format(cmp),
            ExportFormat::GithubActionBenchmark => github_action_benchmark(cmp),
            ExportFormat::Junit => junit(cmp),
        }
    }
}

impl std::str::FromStr for ExportFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ExportFormat::ALL
            .into_iter()
            .find(|format| format.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = ExportFormat::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "unknown export format {text:?}: give one of {}",
                    names.join(", ")
                )
            })
    }
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
