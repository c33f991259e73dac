//! The comparison as JUnit XML, for CI test reporters: one test case per benchmark, a failure
//! per regression, every name and message escaped for XML 1.0.

use std::fmt::Write as _;

use super::*;

/// One `<testcase>`: a row, or a benchmark the gate could not run on a side.
struct TestCase {
    classname: &'static str,
    name: String,
    outcome: Outcome,
    system_out: String,
}

enum Outcome {
    Passed,
    Failed { kind: &'static str, message: String },
    Skipped { message: String },
}

/// The comparison as JUnit XML: `<testsuites>` around one `<testsuite name="benchmarks">`,
/// both with `tests`, `failures`, `errors` and `skipped` counts. One `<testcase>` per row
/// (classname the metric, name the benchmark id) with the row's numbers in `<system-out>`; a
/// `<failure>` for each regression that fails the gate, `<skipped>` for missing benchmarks.
/// For the gate, each benchmark that fails to run is a testcase of classname `gate`: a
/// `<failure>` on the head (it fails the gate), `<skipped>` on the base. Every name and
/// message goes through [`escape_xml`].
pub fn junit(cmp: &Comparison) -> String {
    let mut cases: Vec<TestCase> = sorted(cmp).map(row_case).collect();
    if let Some(gate) = &cmp.gate {
        cases.extend(gate.failures.iter().map(|failure| {
            let message = format!("fails on {}: {}", failure.side, failure.message);
            TestCase {
                classname: "gate",
                name: failure.what.clone(),
                outcome: match failure.side {
                    crate::paired::SideName::Head => Outcome::Failed {
                        kind: "fails_on_head",
                        message: message.clone(),
                    },
                    crate::paired::SideName::Base => Outcome::Skipped {
                        message: message.clone(),
                    },
                },
                system_out: message,
            }
        }));
    }
    let failures = cases
        .iter()
        .filter(|case| matches!(case.outcome, Outcome::Failed { .. }))
        .count();
    let skipped = cases
        .iter()
        .filter(|case| matches!(case.outcome, Outcome::Skipped { .. }))
        .count();
    let counts = format!(
        "tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\"",
        cases.len()
    );
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<testsuites name=\"benchmarks\" {counts}>");
    let _ = writeln!(out, "  <testsuite name=\"benchmarks\" {counts}>");
    for case in cases {
        let _ = writeln!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0\">",
            case.classname,
            escape_xml(&case.name)
        );
        match &case.outcome {
            Outcome::Passed => {}
            Outcome::Failed { kind, message } => {
                let _ = writeln!(
                    out,
                    "      <failure type=\"{kind}\" message=\"{}\"/>",
                    escape_xml(message)
                );
            }
            Outcome::Skipped { message } => {
                let _ = writeln!(out, "      <skipped message=\"{}\"/>", escape_xml(message));
            }
        }
        let _ = writeln!(
            out,
            "      <system-out>{}</system-out>",
            escape_xml(&case.system_out)
        );
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn row_case(row: &Row) -> TestCase {
    let summary = format!(
        "{}: change {}, threshold {:.1}%, old {}, new {}",
        verdict_cell(row),
        change_cell(row),
        row.threshold * 100.0,
        value_cell(row.metric, row.old.as_ref()),
        value_cell(row.metric, row.new.as_ref()),
    );
    let outcome = if fails(row) {
        Outcome::Failed {
            kind: "regressed",
            message: summary.clone(),
        }
    } else if row.verdict == Verdict::Missing {
        Outcome::Skipped {
            message: "missing from the new run".to_owned(),
        }
    } else {
        Outcome::Passed
    };
    let mut system_out = summary;
    if let Some(note) = full_note_text(row) {
        system_out.push_str("\nnote: ");
        system_out.push_str(&note);
    }
    TestCase {
        classname: metric_long(row.metric),
        name: row.id.clone(),
        outcome,
        system_out,
    }
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
    use std::collections::BTreeMap;

    use super::*;
    use crate::decide::{GateSummary, Mode};
    use crate::model::Summary;
    use crate::paired::{Failure, SideName, Timing};
    use crate::report::tests::{check, fixture, hostile_ids};
    use crate::worktree::Revision;

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
        parse(&xml);
    }

    /// An element of the parsed document: its name, its attributes (unescaped) and the index
    /// of its parent.
    #[derive(Debug)]
    struct Element {
        name: String,
        attributes: BTreeMap<String, String>,
        parent: Option<usize>,
    }

    impl Element {
        fn count(&self, attribute: &str) -> usize {
            self.attributes[attribute].parse().unwrap()
        }
    }

    /// A small XML 1.0 well-formedness check of what [`junit`] writes, strict where the
    /// writer is: the declaration, one root, elements that nest and close, quoted attributes,
    /// no raw `<` or `>` in text or values, only well-formed references, and no character
    /// XML 1.0 forbids, raw or referenced. Returns the elements in document order.
    fn parse(xml: &str) -> Vec<Element> {
        let allowed = |c: char| {
            matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
                || c >= '\u{10000}'
        };
        if let Some(c) = xml.chars().find(|&c| !allowed(c)) {
            panic!("{c:?} is not allowed in XML 1.0:\n{xml}");
        }
        let reference =
            regex::Regex::new(r"^&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);").unwrap();
        let unescape = |text: &str| -> String {
            assert!(
                !text.contains('<') && !text.contains('>'),
                "raw < or > in {text:?}"
            );
            let mut out = String::new();
            let mut rest = text;
            while let Some(at) = rest.find('&') {
                out.push_str(&rest[..at]);
                rest = &rest[at..];
                let found = reference
                    .captures(rest)
                    .unwrap_or_else(|| panic!("bad reference at {rest:?}"));
                let name = &found[1];
                out.push(match name {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => {
                        let code = match name.strip_prefix("#x") {
                            Some(hex) => u32::from_str_radix(hex, 16).unwrap(),
                            None => name[1..].parse().unwrap(),
                        };
                        let c = char::from_u32(code).unwrap();
                        assert!(allowed(c), "reference to {c:?}, forbidden in XML 1.0");
                        c
                    }
                });
                rest = &rest[found[0].len()..];
            }
            out.push_str(rest);
            out
        };
        let attribute = regex::Regex::new(r#"^\s+([A-Za-z_][-A-Za-z0-9_.]*)="([^"]*)""#).unwrap();
        let mut rest = xml
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
            .expect("the XML declaration");
        let mut elements: Vec<Element> = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        let mut roots = 0;
        while let Some(at) = rest.find('<') {
            let text = &rest[..at];
            if open.is_empty() {
                assert!(text.trim().is_empty(), "text outside the root: {text:?}");
            }
            unescape(text);
            let end = rest[at..].find('>').expect("a tag closes") + at;
            let tag = &rest[at + 1..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let index = open
                    .pop()
                    .unwrap_or_else(|| panic!("</{name}> closes nothing"));
                assert_eq!(elements[index].name, name, "mismatched close tag");
                continue;
            }
            let (tag, empty) = match tag.strip_suffix('/') {
                Some(tag) => (tag, true),
                None => (tag, false),
            };
            let name_end = tag.find(|c: char| c.is_whitespace()).unwrap_or(tag.len());
            let name = &tag[..name_end];
            assert!(!name.is_empty(), "a tag without a name");
            let mut attributes = BTreeMap::new();
            let mut attrs = &tag[name_end..];
            while let Some(found) = attribute.captures(attrs) {
                let previous = attributes.insert(found[1].to_owned(), unescape(&found[2]));
                assert!(previous.is_none(), "attribute {} twice", &found[1]);
                attrs = &attrs[found[0].len()..];
            }
            assert!(attrs.trim().is_empty(), "malformed attributes in <{tag}>");
            if open.is_empty() {
                roots += 1;
            }
            elements.push(Element {
                name: name.to_owned(),
                attributes,
                parent: open.last().copied(),
            });
            if !empty {
                open.push(elements.len() - 1);
            }
        }
        assert!(rest.trim().is_empty(), "text after the root: {rest:?}");
        assert!(open.is_empty(), "unclosed elements");
        assert_eq!(roots, 1, "one root element");
        elements
    }

    /// Checks the JUnit structure: `<testsuites>` holding one `<testsuite>`, test cases inside
    /// it, and counts on both that match the test cases' outcomes. Returns the test cases.
    fn check_structure(xml: &str) -> Vec<Element> {
        let elements = parse(xml);
        assert_eq!(elements[0].name, "testsuites");
        assert_eq!(elements[1].name, "testsuite");
        assert_eq!(elements[1].parent, Some(0));
        let children = |parent: usize, name: &str| {
            elements
                .iter()
                .enumerate()
                .filter(|(_, e)| e.parent == Some(parent) && e.name == name)
                .map(|(i, _)| i)
                .collect::<Vec<usize>>()
        };
        let cases = children(1, "testcase");
        let n_failed = cases
            .iter()
            .filter(|&&c| !children(c, "failure").is_empty())
            .count();
        let n_skipped = cases
            .iter()
            .filter(|&&c| !children(c, "skipped").is_empty())
            .count();
        for suite in &elements[..2] {
            assert_eq!(suite.count("tests"), cases.len());
            assert_eq!(suite.count("failures"), n_failed);
            assert_eq!(suite.count("skipped"), n_skipped);
            assert_eq!(suite.count("errors"), 0);
        }
        for &case in &cases {
            let element = &elements[case];
            assert!(element.attributes.contains_key("name"));
            assert!(element.attributes.contains_key("classname"));
            for failure in children(case, "failure") {
                assert!(elements[failure].attributes.contains_key("message"));
            }
        }
        assert_eq!(
            elements.iter().filter(|e| e.name == "testcase").count(),
            cases.len(),
            "test cases only inside the suite"
        );
        elements
            .into_iter()
            .filter(|e| e.name == "testcase")
            .collect()
    }

    #[test]
    fn junit_is_well_formed_with_matching_counts() {
        let cmp = fixture();
        let cases = check_structure(&junit(&cmp));
        assert_eq!(cases.len(), cmp.rows.len());
        let xml = junit(&cmp);
        // One regression fails the gate; the advisory one does not; the missing one is skipped.
        assert!(xml.contains(
            "<testsuites name=\"benchmarks\" tests=\"8\" failures=\"1\" errors=\"0\" skipped=\"1\">"
        ));
    }

    /// Benchmarks that fail to run: on the head a failure (the gate fails), on the base skipped.
    #[test]
    fn junit_reports_benchmarks_the_gate_could_not_run() {
        let mut cmp = fixture();
        let revision = |name: &str| Revision {
            revision: name.to_owned(),
            commit: None,
            subject: None,
            dirty: false,
        };
        cmp.gate = Some(GateSummary {
            base: revision("main"),
            head: revision("working tree"),
            shard: None,
            skipped: vec![],
            failures: vec![
                Failure {
                    side: SideName::Head,
                    what: "cache/<panics>".to_owned(),
                    message: "exit status 101: \"index out of bounds\"".to_owned(),
                },
                Failure {
                    side: SideName::Base,
                    what: "cache/new-only".to_owned(),
                    message: "no such benchmark".to_owned(),
                },
            ],
            timing: Timing::default(),
        });
        assert!(cmp.failed());
        let xml = junit(&cmp);
        let cases = check_structure(&xml);
        assert_eq!(cases.len(), cmp.rows.len() + 2);
        assert!(
            xml.contains("tests=\"10\" failures=\"2\" errors=\"0\" skipped=\"2\""),
            "{xml}"
        );
        let gate: Vec<&Element> = cases
            .iter()
            .filter(|case| case.attributes["classname"] == "gate")
            .collect();
        assert_eq!(gate[0].attributes["name"], "cache/<panics>");
        assert!(xml.contains(
            "<failure type=\"fails_on_head\" message=\"fails on head: exit status 101: &quot;index out of bounds&quot;\"/>"
        ));
        assert!(xml.contains("<skipped message=\"fails on base: no such benchmark\"/>"));
    }

    /// Names and messages from a pull request reach the XML escaped: markup, quotes, the
    /// control characters XML 1.0 forbids (shown as `\u{1}`), line breaks (kept as
    /// references), the noncharacters U+FFFE and U+FFFF, bidirectional overrides.
    #[test]
    fn junit_escapes_every_hostile_name() {
        let ids = [
            "a<b>&\"c'\u{1}",
            "tab\there\r\nnext",
            "\u{0}nul\u{7f}del\u{85}nel",
            "\u{202e}reversed\u{2066}",
            "non\u{fffe}char\u{ffff}",
            "]]><!-- -->&amp;",
        ];
        let summary = |median: f64| Summary {
            n: 10,
            mean: median,
            median,
            min: median,
            max: median,
            std_dev: 0.0,
        };
        let rows = ids
            .iter()
            .map(|id| {
                let mut row = Row::new(id, Metric::WallTime, "ns", 0.05);
                row.verdict = Verdict::Regressed;
                row.change = Some(1.0);
                row.old = Some(summary(100.0));
                row.new = Some(summary(200.0));
                row
            })
            .collect();
        let cmp = Comparison {
            mode: Mode::OneRunPerSide,
            rows,
            notes: vec![],
            gate: None,
        };
        let xml = junit(&cmp);
        let cases = check_structure(&xml);
        assert!(xml.contains("failures=\"6\""));
        let names: Vec<&str> = cases
            .iter()
            .map(|c| c.attributes["name"].as_str())
            .collect();
        let mut expected = vec![
            "a<b>&\"c'\\u{1}",
            "tab\there\r\nnext",
            "\\u{0}nul\\u{7f}del\\u{85}nel",
            "\\u{202e}reversed\\u{2066}",
            "non\\u{fffe}char\\u{ffff}",
            "]]><!-- -->&amp;",
        ];
        let mut sorted_ids = ids.to_vec();
        sorted_ids.sort_unstable();
        // The cases come sorted by the raw id; map each raw id to its expected name.
        let position = |id: &str| ids.iter().position(|i| *i == id).unwrap();
        expected = sorted_ids.iter().map(|id| expected[position(id)]).collect();
        assert_eq!(names, expected);
        assert!(
            xml.contains("name=\"a&lt;b&gt;&amp;&quot;c&apos;\\u{1}\""),
            "{xml}"
        );
        assert!(xml.contains("name=\"tab&#9;here&#13;&#10;next\""), "{xml}");
    }
}
