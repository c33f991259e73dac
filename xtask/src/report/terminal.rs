//! The terminal report: a table, most urgent rows first, a `PASS`/`FAIL` line and the notes,
//! with ANSI colours only on a terminal without `NO_COLOR`.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::IsTerminal as _;

use super::*;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{check, fixture, hostile_ids};

    #[test]
    fn terminal_snapshot() {
        let text = terminal(&fixture(), false);
        assert!(!text.contains('\x1b'));
        check("terminal.txt", &text);
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
}
