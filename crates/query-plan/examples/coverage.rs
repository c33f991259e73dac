//! Which queries of a query set plan, and why the others do not: the check the shared sets
//! get in `tests/shared_queries.rs`, for any set.
//!
//! ```sh
//! cargo run -p query-plan --example coverage -- QUERIES... [--schema SCHEMA.sql]
//! ```
//!
//! Each argument is a `.sql` file (one statement or script, or, with `--lines`, one query
//! per line) or a folder of them. Tables and columns the schema lacks are added with
//! default statistics, as the tests do for ClickBench. Exit 1 when a query panics the
//! planner or fails with anything other than a clean refusal; exit 2 on bad arguments.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use query_plan::{Catalog, Error, PlanOptions, parse_query, plan_query};

struct Args {
    inputs: Vec<PathBuf>,
    schema: Option<PathBuf>,
    lines: bool,
}

fn args() -> Result<Args, String> {
    let mut out = Args {
        inputs: Vec::new(),
        schema: None,
        lines: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--schema" => {
                out.schema = Some(
                    it.next()
                        .ok_or("--schema needs a file of CREATE TABLE / CREATE INDEX")?
                        .into(),
                );
            }
            "--lines" => out.lines = true,
            other => out.inputs.push(other.into()),
        }
    }
    if out.inputs.is_empty() {
        return Err("usage: coverage QUERIES... [--schema SCHEMA.sql] [--lines]".into());
    }
    Ok(out)
}

/// Every query of a file or folder, named `path` or `path:line`.
fn queries(path: &Path, lines: bool, out: &mut Vec<(String, String)>) -> Result<(), String> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir() || p.extension().is_some_and(|x| x == "sql"))
            .collect();
        entries.sort();
        for e in entries {
            queries(&e, lines, out)?;
        }
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if lines {
        for (i, line) in text.lines().enumerate() {
            if !line.trim().is_empty() {
                out.push((format!("{}:{}", path.display(), i + 1), line.to_string()));
            }
        }
    } else {
        out.push((path.display().to_string(), text));
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let base = match &args.schema {
        None => Catalog::new(),
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|sql| Catalog::from_sql(&sql).map_err(|e| e.to_string()))
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!(
                    "error: {}: {e}; give a file of CREATE TABLE / CREATE INDEX statements",
                    path.display()
                );
                return ExitCode::from(2);
            }
        },
    };
    let mut all = Vec::new();
    for input in &args.inputs {
        if let Err(e) = queries(input, args.lines, &mut all) {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    let (mut planned, mut refused, mut broken) = (0, 0, 0);
    for (name, sql) in &all {
        let outcome = std::panic::catch_unwind(|| {
            let query = parse_query(sql)?;
            let mut catalog = base.clone();
            catalog.extend_from_query(&query);
            plan_query(&catalog, &query, &PlanOptions::default()).map(|_| ())
        });
        match outcome {
            Ok(Ok(())) => planned += 1,
            Ok(Err(e @ (Error::Unsupported { .. } | Error::Parse(_)))) => {
                refused += 1;
                println!("{name}: {e}");
            }
            Ok(Err(e)) => {
                broken += 1;
                println!("{name}: ERROR {e}");
            }
            Err(_) => {
                broken += 1;
                println!("{name}: PANIC in the planner");
            }
        }
    }
    let total = all.len().max(1);
    println!(
        "{planned} of {} plan ({:.0} %), {refused} refused, {broken} failed otherwise",
        all.len(),
        100.0 * planned as f64 / total as f64
    );
    if broken > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
