//! The commands, one module each. Each returns whether the gate failed (`Ok(true)` means at
//! least one regression); errors mean the harness could not do its job. `main.rs` maps these to
//! exit codes 1 and 2.

pub mod accept;
pub mod backfill;
pub mod bench;
pub mod bisect;
pub mod calibrate;
pub mod compare;
pub mod diff;
pub mod evaluate;
pub mod history;
pub mod merge;
pub mod publish;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::decide::Comparison;
use crate::report::{self, ExportFormat};

/// Where the reports go, shared by every command that compares.
#[derive(Debug, Default, Clone)]
pub struct ReportOptions {
    pub json: Option<PathBuf>,
    pub markdown: Option<PathBuf>,
    /// `--export FORMAT=PATH`, in the order given.
    pub exports: Vec<Export>,
    /// `--charts DIR`: one comparison chart (SVG) per suite.
    pub charts: Option<PathBuf>,
}

/// One `--export FORMAT=PATH`: a file for another tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub format: ExportFormat,
    pub path: PathBuf,
}

impl std::str::FromStr for Export {
    type Err = String;

    /// `bmf=target/bmf.json`: the format's name, `=`, the path (which may hold `=` itself).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let Some((format, path)) = text.split_once('=') else {
            return Err(format!(
                "{text:?}: give FORMAT=PATH, for example bmf=target/bmf.json"
            ));
        };
        if path.is_empty() {
            return Err(format!("{text:?}: give a path after {format}="));
        }
        Ok(Export {
            format: format.parse()?,
            path: PathBuf::from(path),
        })
    }
}

/// Accepts `--export FORMAT PATH` (two words) beside `--export FORMAT=PATH`: rewrites the
/// two-word form into the other before the arguments are parsed. Only a word that names a
/// format exactly takes the next word as its path, so `--export bmf=out.json BASE` keeps
/// `BASE` a positional argument.
pub fn join_export_args<I>(args: I) -> Vec<std::ffi::OsString>
where
    I: IntoIterator<Item = std::ffi::OsString>,
{
    let is_format = |word: &str| word.parse::<ExportFormat>().is_ok();
    let mut out: Vec<std::ffi::OsString> = Vec::new();
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        let separate = arg == "--export";
        let format = if separate {
            args.next_if(|next| next.to_str().is_some_and(is_format))
                .and_then(|format| format.into_string().ok())
        } else {
            arg.to_str()
                .and_then(|text| text.strip_prefix("--export="))
                .filter(|format| is_format(format))
                .map(str::to_owned)
        };
        let Some(format) = format else {
            out.push(arg);
            continue;
        };
        match args.next() {
            Some(path) => {
                let mut joined = std::ffi::OsString::from(format!("{format}="));
                joined.push(path);
                out.extend(["--export".into(), joined]);
            }
            // No path follows: the option goes on as given, and its parser says what is
            // missing.
            None => {
                out.push(arg);
                if separate {
                    out.push(format.into());
                }
            }
        }
    }
    out
}

/// Prints the terminal table and writes the requested reports (and the job summary on CI).
///
/// A closed standard output (`| head`) ends the table quietly; the report files are still
/// written.
pub fn emit(comparison: &Comparison, options: &ReportOptions) -> anyhow::Result<()> {
    let table = report::terminal(comparison, report::color_enabled());
    match std::io::stdout().lock().write_all(table.as_bytes()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.context("cannot write to standard output")?,
    }
    if let Some(path) = &options.json {
        write_report(path, &report::json(comparison))?;
    }
    let markdown = report::markdown(comparison);
    if let Some(path) = &options.markdown {
        write_report(path, &markdown)?;
    }
    write_exports(comparison, &options.exports)?;
    if let Some(dir) = &options.charts {
        let written = crate::chart::comparison::write_comparison_charts(comparison, dir)?;
        eprintln!("charts: {} written to {}", written.len(), dir.display());
    }
    report::write_step_summary(&markdown)?;
    Ok(())
}

/// Writes each `--export` file of the comparison (the new side's measurements; JUnit with the
/// verdicts).
pub fn write_exports(comparison: &Comparison, exports: &[Export]) -> anyhow::Result<()> {
    for export in exports {
        write_report(&export.path, &export.format.render(comparison))
            .with_context(|| format!("cannot write the {} export", export.format.name()))?;
    }
    Ok(())
}

/// Writes a report file, creating its folder.
pub fn write_report(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write report {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_parses_format_and_path() {
        let cases = [
            ("bmf=out/bmf.json", ExportFormat::Bmf, "out/bmf.json"),
            (
                "github-action-benchmark=a=b.json",
                ExportFormat::GithubActionBenchmark,
                "a=b.json",
            ),
            (
                "junit=/tmp/junit.xml",
                ExportFormat::Junit,
                "/tmp/junit.xml",
            ),
        ];
        for (text, format, path) in cases {
            let export: Export = text.parse().unwrap();
            assert_eq!(export.format, format, "{text}");
            assert_eq!(export.path, Path::new(path), "{text}");
        }
    }

    #[test]
    fn export_explains_what_it_accepts() {
        let error = "csv=out.csv".parse::<Export>().unwrap_err();
        assert!(
            error.contains(
                "unknown export format \"csv\": give one of bmf, github-action-benchmark, junit"
            ),
            "{error}"
        );
        let error = "out.json".parse::<Export>().unwrap_err();
        assert!(error.contains("give FORMAT=PATH"), "{error}");
        let error = "bmf=".parse::<Export>().unwrap_err();
        assert!(error.contains("give a path after bmf="), "{error}");
    }

    fn joined(args: &[&str]) -> Vec<String> {
        join_export_args(args.iter().map(std::ffi::OsString::from))
            .into_iter()
            .map(|arg| arg.into_string().unwrap())
            .collect()
    }

    #[test]
    fn export_takes_format_and_path_as_two_words() {
        assert_eq!(
            joined(&["x", "bench", "diff", "--export", "junit", "j.xml", "a.json"]),
            ["x", "bench", "diff", "--export", "junit=j.xml", "a.json"]
        );
        assert_eq!(
            joined(&[
                "x",
                "--export=bmf",
                "b.json",
                "--export",
                "bmf=c.json",
                "BASE"
            ]),
            [
                "x",
                "--export",
                "bmf=b.json",
                "--export",
                "bmf=c.json",
                "BASE"
            ]
        );
        // Not a format name: left for the parser, which explains FORMAT=PATH.
        assert_eq!(
            joined(&["x", "--export", "out.json", "BASE"]),
            ["x", "--export", "out.json", "BASE"]
        );
        // A format with nothing after it stays as given.
        assert_eq!(
            joined(&["x", "--export", "junit"]),
            ["x", "--export", "junit"]
        );
        assert_eq!(joined(&["x", "--export=junit"]), ["x", "--export=junit"]);
    }
}
