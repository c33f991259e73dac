//! `trace-replay`: hit ratios of our cache, lru, moka and quick_cache on real cache traces.
//!
//! ```text
//! cargo run --release -p benches --bin trace-replay -- \
//!     --trace ../shared/data/cache-traces/OLTP.lis.zst --capacity 250,500,1000,2000 \
//!     [--impl ours,lru,moka,quick_cache] [--format arc|lirs|cache2k] [--data-dir DIR] [--json]
//! ```
//!
//! Each trace is parsed once, then replayed through every implementation at every capacity
//! (`get` each key, `insert` on a miss). Errors exit with status 2.
//!
//! With `--warmup` it measures a restart of our cache instead (see `benches::replay::warmup`):
//! a cache replays the first `--split` share of the trace, and the hit ratios over the first
//! `--first` requests after that are reported for a cold cache, one warmed from the first
//! cache's snapshot, one refilled from it by inserts, and the first cache itself.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use benches::replay::{Impl, ReplayResult, ReplayStats, WarmupResult, replay_matrix, warmup};
use benches::trace::{Format, read_trace};
use clap::Parser;
use serde::Serialize;

/// Replays cache traces through several cache implementations and reports hit ratios.
#[derive(Debug, Parser)]
#[command(name = "trace-replay", version)]
struct Cli {
    /// Trace files: repeat the flag or give a comma list. Formats come from the names
    /// (`.lis[.zst]` ARC, `.trace.gz` LIRS, `.trace.xz` cache2k, plain `.lis`/`.trace`).
    #[arg(long, required = true, value_delimiter = ',', value_name = "FILE")]
    trace: Vec<PathBuf>,

    /// Capacities in entries, a comma list.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "250,500,1000,2000",
        value_parser = clap::value_parser!(u64).range(1..),
    )]
    capacity: Vec<u64>,

    /// Implementations to replay, a comma list.
    #[arg(
        long = "impl",
        value_delimiter = ',',
        default_value = "ours,lru,moka,quick_cache"
    )]
    impls: Vec<Impl>,

    /// The trace format, overriding the one the file name implies.
    #[arg(long)]
    format: Option<Format>,

    /// Directory that relative `--trace` paths are resolved against (default: the current one).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Print a JSON array of {impl, capacity, requests, hits, hit_ratio}; needs exactly one trace.
    #[arg(long)]
    json: bool,

    /// Replays to run at once (default: available cores).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    threads: Option<u64>,

    /// Measure a restart of our cache (cold, warmed from a snapshot, refilled by inserts, not
    /// restarted) instead of comparing implementations; `--impl` does not apply.
    #[arg(long)]
    warmup: bool,

    /// With `--warmup`: the share of the trace replayed before the restart.
    #[arg(long, default_value_t = 0.5, value_parser = parse_share)]
    split: f64,

    /// With `--warmup`: the numbers of requests after the restart to report on, a comma list
    /// (each capped at what the trace has left).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1000,10000,100000,1000000000",
        value_parser = clap::value_parser!(u64).range(1..),
    )]
    first: Vec<u64>,
}

fn parse_share(text: &str) -> Result<f64, String> {
    let share: f64 = text.parse().map_err(|err| format!("not a number: {err}"))?;
    if (0.0..=1.0).contains(&share) {
        Ok(share)
    } else {
        Err(format!("{share} is not within 0..=1"))
    }
}

/// One `--json` record of `--warmup`: hit ratios over the first `requests` after the restart.
#[derive(Debug, Serialize)]
struct WarmupJsonRow {
    capacity: u64,
    split: usize,
    snapshot_len: usize,
    requests: u64,
    cold: f64,
    warm: f64,
    refill: f64,
    continued: f64,
}

/// One `--json` record.
#[derive(Debug, Serialize)]
struct JsonRow {
    #[serde(rename = "impl")]
    implementation: &'static str,
    capacity: u64,
    requests: u64,
    hits: u64,
    hit_ratio: f64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli) -> Result<()> {
    if cli.json && cli.trace.len() != 1 {
        bail!(
            "--json takes exactly one trace, got {}; run the tool once per trace, or drop --json \
             for a table",
            cli.trace.len()
        );
    }
    let threads = cli.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |n| usize::try_from(n).unwrap_or(usize::MAX),
    );
    let mut stdout = std::io::stdout().lock();
    let mut table = Table::default();
    if cli.warmup && !cli.json {
        print_warmup_header(&mut stdout).context("cannot write the table")?;
    }
    for path in &cli.trace {
        let path = match &cli.data_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.clone(),
        };
        let keys = read_trace(&path, cli.format)?;
        if cli.warmup {
            let split = (keys.len() as f64 * cli.split) as usize;
            let results: Vec<WarmupResult> = cli
                .capacity
                .iter()
                .map(|&capacity| warmup(&keys, split, capacity, &cli.first))
                .collect();
            if cli.json {
                let rows: Vec<WarmupJsonRow> = results.iter().flat_map(warmup_json_rows).collect();
                serde_json::to_writer_pretty(&mut stdout, &rows)
                    .context("cannot write the json")?;
                writeln!(stdout).context("cannot write the json")?;
            } else {
                print_warmup(&mut stdout, &trace_label(&path), &results)
                    .context("cannot write the table")?;
            }
            continue;
        }
        let results = replay_matrix(&keys, &cli.impls, &cli.capacity, threads);
        if cli.json {
            let rows: Vec<JsonRow> = results.iter().map(json_row).collect();
            serde_json::to_writer_pretty(&mut stdout, &rows).context("cannot write the json")?;
            writeln!(stdout).context("cannot write the json")?;
        } else {
            table.add(&trace_label(&path), &results);
        }
    }
    if !cli.json && !cli.warmup {
        table.print(&mut stdout).context("cannot write the table")?;
    }
    Ok(())
}

fn percent(stats: &ReplayStats) -> f64 {
    stats.hit_ratio() * 100.0
}

fn warmup_json_rows(result: &WarmupResult) -> Vec<WarmupJsonRow> {
    result
        .rows
        .iter()
        .map(|row| WarmupJsonRow {
            capacity: result.capacity,
            split: result.split,
            snapshot_len: result.snapshot_len,
            requests: row.requests,
            cold: row.cold.hit_ratio(),
            warm: row.warm.hit_ratio(),
            refill: row.refill.hit_ratio(),
            continued: row.continued.hit_ratio(),
        })
        .collect()
}

/// The `--warmup` report's header, printed once for all traces.
fn print_warmup_header(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<24}  {:>8}  {:>8}  {:>8}  {:>9}  {:>6}  {:>6}  {:>8}  {:>11}",
        "trace",
        "capacity",
        "split",
        "snapshot",
        "requests",
        "cold %",
        "warm %",
        "refill %",
        "continued %"
    )
}

/// The `--warmup` report's lines for one trace: one per capacity and measured prefix, hit
/// ratios in percent.
fn print_warmup(
    out: &mut impl Write,
    trace: &str,
    results: &[WarmupResult],
) -> std::io::Result<()> {
    for result in results {
        for row in &result.rows {
            writeln!(
                out,
                "{:<24}  {:>8}  {:>8}  {:>8}  {:>9}  {:>6.2}  {:>6.2}  {:>8.2}  {:>11.2}",
                trace,
                result.capacity,
                result.split,
                result.snapshot_len,
                row.requests,
                percent(&row.cold),
                percent(&row.warm),
                percent(&row.refill),
                percent(&row.continued),
            )?;
        }
    }
    Ok(())
}

fn trace_label(path: &Path) -> String {
    path.file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy()
        .into_owned()
}

fn json_row(result: &ReplayResult) -> JsonRow {
    JsonRow {
        implementation: result.implementation.name(),
        capacity: result.capacity,
        requests: result.stats.requests,
        hits: result.stats.hits,
        hit_ratio: result.stats.hit_ratio(),
    }
}

/// The text report: one row per trace, capacity and implementation.
#[derive(Debug, Default)]
struct Table {
    rows: Vec<[String; 6]>,
}

impl Table {
    const HEADER: [&'static str; 6] = [
        "trace",
        "impl",
        "capacity",
        "requests",
        "hits",
        "hit ratio %",
    ];

    fn add(&mut self, trace: &str, results: &[ReplayResult]) {
        for result in results {
            self.rows.push([
                trace.to_owned(),
                result.implementation.name().to_owned(),
                result.capacity.to_string(),
                result.stats.requests.to_string(),
                result.stats.hits.to_string(),
                format!("{:.2}", result.stats.hit_ratio() * 100.0),
            ]);
        }
    }

    fn print(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut widths = Self::HEADER.map(str::len);
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.len());
            }
        }
        let header = Self::HEADER.map(str::to_owned);
        for row in std::iter::once(&header).chain(&self.rows) {
            // Text columns align left, numbers right.
            writeln!(
                out,
                "{:<w0$}  {:<w1$}  {:>w2$}  {:>w3$}  {:>w4$}  {:>w5$}",
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3],
                w4 = widths[4],
                w5 = widths[5],
            )?;
        }
        Ok(())
    }
}
