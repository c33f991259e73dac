//! The Markdown report, for a pull-request comment and `$GITHUB_STEP_SUMMARY`, and the
//! escaping of untrusted text for GitHub-flavoured Markdown.

use std::fmt::Write as _;

use super::*;

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
    use super::*;
    use crate::report::tests::{check, fixture, hostile_ids};

    #[test]
    fn markdown_snapshot() {
        check("markdown.md", &markdown(&fixture()));
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

    /// Quotes, markup, a control character and bidirectional controls in one id: escaped in
    /// the table, the notes and the explanation headings, never raw.
    #[test]
    fn markdown_escapes_quotes_controls_and_bidi() {
        let cases = [
            ("a<b>&\"c'\u{1}", "a&lt;b&gt;&amp;&quot;c&#39;\\\\u\\{1\\}"),
            ("\u{202e}evil\u{2066}", "\\\\u\\{202e\\}evil\\\\u\\{2066\\}"),
            ("x\r\ny", "x\\\\r\\\\ny"),
        ];
        for (id, want) in cases {
            assert_eq!(escape_markdown(id), want, "{id:?}");
        }
        let mut cmp = hostile_ids();
        for (row, (id, _)) in cmp.rows.iter_mut().zip(cases) {
            row.id = id.to_owned();
        }
        cmp.rows.truncate(cases.len());
        let md = markdown(&cmp);
        for (_, want) in cases {
            assert!(md.contains(&format!("| {want} |")), "{md}");
        }
        for raw in ['<', '\u{1}', '\u{202e}', '\u{2066}', '\r'] {
            let outside_markup = md
                .replace("<details>", "")
                .replace("</details>", "")
                .replace("<summary>", "")
                .replace("</summary>", "");
            assert!(!outside_markup.contains(raw), "{raw:?} in {md}");
        }
    }
}
