//! The comparison as JUnit XML, for CI test reporters: one test case per benchmark, a failure
//! per regression, every name and message escaped for XML 1.0.

use std::fmt::Write as _;

use super::*;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{check, fixture, hostile_ids};

    #[test]
    fn junit_snapshot() {
        check("junit.xml", &junit(&fixture()));
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
}
