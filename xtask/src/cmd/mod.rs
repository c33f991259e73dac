//! The commands, one module each. Each returns whether the gate failed (`Ok(true)` means at
//! least one regression); errors mean the harness could not do its job. `main.rs` maps these to
//! exit codes 1 and 2.

pub mod accept;
pub mod bench;
pub mod calibrate;
pub mod compare;
pub mod diff;
pub mod evaluate;
pub mod merge;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::decide::Comparison;
use crate::report;

/// Where the reports go, shared by every command that compares.
#[derive(Debug, Default, Clone)]
pub struct ReportOptions {
    pub json: Option<PathBuf>,
    pub markdown: Option<PathBuf>,
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
    report::write_step_summary(&markdown)?;
    Ok(())
}

/// Writes a report file, creating its folder.
pub fn write_report(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write report {}", path.display()))
}
