//! `linger-grid`: the flush-interval trade-off of `batching::Batcher`, measured in real time.
//!
//! ```text
//! cargo run --release -p benches --bin linger-grid -- \
//!     [--linger-ms 0.5,1,2,5] [--batch 16,64,256,1024] [--rate 50000] [--seconds 1] \
//!     [--seed N] [--trickle] [--json]
//! ```
//!
//! For every linger × maximum batch size, a fresh batcher (one worker, the default capacity of
//! four batches, the system clock) is fed by a steady producer on the main thread: item `i` is
//! due at `(i + u_i) / rate` seconds after the start, `u_i` uniform in `[-0.5, 0.5)` from a
//! seeded generator (the same arrivals in every cell), and the producer waits for that moment
//! (sleeping while more than 200 µs remain, then yielding in a loop, not spinning: a spinning
//! producer on a 2-CPU machine delayed the worker's linger wake-ups by up to ~2 ms) and sends
//! the current `Instant`. The sink reads the clock once when a flush starts and records, for
//! every item of the batch, flush start − send time: the enqueue-to-flush latency. After
//! `--seconds` the producer closes the batcher, which flushes the remainder.
//!
//! The table reports, per cell, the items sent, the flushed throughput (items over the time
//! from the first send to the end of the last flush, as the batcher's metrics compute it),
//! the batches and their mean size, the latency p50/p99/max, and how many sends found the
//! buffer full.
//!
//! `--trickle` runs the grid with a slow producer (200 items/s unless `--rate` says otherwise)
//! whose batches never fill, so every batch is flushed by its linger; it checks that the p99
//! latency is at most linger + 1 ms and exits with status 1 if a cell exceeds it.
//! Errors exit with status 2.
//!
//! This is a measurement tool on real time: results depend on the machine and its load.

use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use batching::{Batcher, infallible_sink};
use clap::Parser;
use serde::Serialize;

const DEFAULT_RATE: f64 = 50_000.0;
const TRICKLE_RATE: f64 = 200.0;
/// The trickle check: p99 latency at most linger plus this.
const TRICKLE_SLACK: Duration = Duration::from_millis(1);
/// The producer sleeps while more than this remains before the next item is due, then yields.
const SPIN_WINDOW: Duration = Duration::from_micros(200);
/// A send that waits this long means the worker is stuck.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Measures enqueue-to-flush latency and flushed throughput of `batching::Batcher` over a grid
/// of linger times and batch sizes, with a steady, paced producer.
#[derive(Debug, Parser)]
#[command(name = "linger-grid", version)]
struct Cli {
    /// Linger times in milliseconds, a comma list.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.5,1,2,5",
        value_name = "MS"
    )]
    linger_ms: Vec<f64>,

    /// Maximum batch sizes, a comma list.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "16,64,256,1024",
        value_parser = clap::value_parser!(u64).range(1..),
    )]
    batch: Vec<u64>,

    /// Items per second the producer sends [default: 50000, or 200 with --trickle].
    #[arg(long)]
    rate: Option<f64>,

    /// How long the producer runs in each cell, in seconds.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,

    /// Seed of the arrival jitter.
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,

    /// Slow producer whose batches never fill: check p99 ≤ linger + 1 ms (exit 1 if not).
    #[arg(long)]
    trickle: bool,

    /// Print a JSON object {command, mode, rate, seconds, seed, cells: [...]} instead of a table.
    #[arg(long)]
    json: bool,
}

/// The measurements of one linger × batch size.
#[derive(Debug, Serialize)]
struct Cell {
    linger_ms: f64,
    batch: u64,
    sent: u64,
    flushed: u64,
    /// Items flushed per second, from the first send to the end of the last flush.
    items_per_second: f64,
    batches: u64,
    mean_batch_size: f64,
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
    /// Sends that found the buffer full (and waited).
    buffer_full: u64,
    /// The trickle bound (linger + 1 ms) in microseconds and whether p99 met it; trickle only.
    #[serde(skip_serializing_if = "Option::is_none")]
    p99_bound_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p99_within_bound: Option<bool>,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    command: &'a str,
    mode: &'static str,
    rate: f64,
    seconds: f64,
    seed: u64,
    cells: &'a [Cell],
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the grid and prints it; `Ok(false)` if a trickle cell missed its bound.
fn run(cli: &Cli) -> Result<bool> {
    let rate = cli.rate.unwrap_or(if cli.trickle {
        TRICKLE_RATE
    } else {
        DEFAULT_RATE
    });
    if !(rate.is_finite() && rate > 0.0) {
        bail!("--rate must be a positive number of items per second, got {rate}");
    }
    if !(cli.seconds.is_finite() && cli.seconds > 0.0) {
        bail!("--seconds must be positive, got {}", cli.seconds);
    }
    if let Some(bad) = cli
        .linger_ms
        .iter()
        .find(|ms| !(ms.is_finite() && **ms > 0.0))
    {
        bail!("--linger-ms takes positive milliseconds, got {bad}");
    }
    let command = command_line(cli, rate);
    let mut cells = Vec::new();
    for &linger_ms in &cli.linger_ms {
        for &batch in &cli.batch {
            let batch_size = usize::try_from(batch).context("--batch is too large")?;
            let mut cell = measure(linger_ms, batch_size, rate, cli.seconds, cli.seed);
            if cli.trickle {
                let bound = Duration::from_secs_f64(linger_ms / 1e3) + TRICKLE_SLACK;
                let bound_us = bound.as_secs_f64() * 1e6;
                cell.p99_bound_us = Some(bound_us);
                cell.p99_within_bound = Some(cell.p99_us <= bound_us);
            }
            if !cli.json {
                eprintln!(
                    "linger {linger_ms} ms, batch {batch}: p50 {:.0} µs, p99 {:.0} µs",
                    cell.p50_us, cell.p99_us
                );
            }
            cells.push(cell);
        }
    }
    let mut stdout = std::io::stdout().lock();
    if cli.json {
        let report = Report {
            command: &command,
            mode: if cli.trickle { "trickle" } else { "grid" },
            rate,
            seconds: cli.seconds,
            seed: cli.seed,
            cells: &cells,
        };
        serde_json::to_writer_pretty(&mut stdout, &report).context("cannot write the json")?;
        writeln!(stdout).context("cannot write the json")?;
    } else {
        print_table(&mut stdout, &command, cli.trickle, rate, &cells)
            .context("cannot write the table")?;
    }
    Ok(cells
        .iter()
        .all(|cell| cell.p99_within_bound.unwrap_or(true)))
}

/// The command that reproduces this run, with every default spelled out.
fn command_line(cli: &Cli, rate: f64) -> String {
    let join = |values: Vec<String>| values.join(",");
    let mut command = format!(
        "cargo run --release -p benches --bin linger-grid -- --linger-ms {} --batch {} --rate {} \
         --seconds {} --seed {}",
        join(cli.linger_ms.iter().map(f64::to_string).collect()),
        join(cli.batch.iter().map(u64::to_string).collect()),
        rate,
        cli.seconds,
        cli.seed,
    );
    if cli.trickle {
        command.push_str(" --trickle");
    }
    if cli.json {
        command.push_str(" --json");
    }
    command
}

/// A small seeded generator (SplitMix64) for the arrival jitter.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Waits until `target`: sleeps while more than [`SPIN_WINDOW`] remains, then yields.
fn wait_until(target: Instant) {
    loop {
        let now = Instant::now();
        if now >= target {
            return;
        }
        let left = target - now;
        if left > SPIN_WINDOW {
            std::thread::sleep(left - SPIN_WINDOW);
        } else {
            // Yield rather than spin hard: on a small machine a spinning producer can sit on
            // the CPU the worker's timer wakes up on and delay its flush by a scheduler slice.
            std::thread::yield_now();
        }
    }
}

/// Runs one cell: a fresh batcher, a paced producer for `seconds`, then `close`.
fn measure(linger_ms: f64, batch: usize, rate: f64, seconds: f64, seed: u64) -> Cell {
    let total = (rate * seconds).round().max(1.0) as u64;
    let latencies: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(Vec::with_capacity(
        usize::try_from(total).unwrap_or(0),
    )));
    let recorded = Arc::clone(&latencies);
    let batcher = Batcher::<Instant>::builder()
        .max_batch_size(batch)
        .linger(Duration::from_secs_f64(linger_ms / 1e3))
        .workers(1)
        .build(infallible_sink(move |items: Vec<Instant>| {
            let flush_start = Instant::now();
            let mut recorded = recorded.lock().unwrap_or_else(PoisonError::into_inner);
            recorded.extend(items.iter().map(|&sent| {
                u64::try_from(flush_start.saturating_duration_since(sent).as_nanos())
                    .unwrap_or(u64::MAX)
            }));
        }));

    let mut jitter = SplitMix64(seed);
    let interval = 1.0 / rate;
    let start = Instant::now();
    for i in 0..total {
        let due = (i as f64 + jitter.next_f64() - 0.5).max(0.0) * interval;
        wait_until(start + Duration::from_secs_f64(due));
        if batcher.send(Instant::now(), SEND_TIMEOUT).is_err() {
            panic!("linger-grid: send failed (closed, or the worker is stuck)");
        }
    }
    let report = batcher.close();
    drop(batcher);

    let mut latencies =
        std::mem::take(&mut *latencies.lock().unwrap_or_else(PoisonError::into_inner));
    latencies.sort_unstable();
    let metrics = report.metrics;
    assert_eq!(
        latencies.len() as u64,
        total,
        "every item sent is flushed exactly once"
    );
    Cell {
        linger_ms,
        batch: batch as u64,
        sent: total,
        flushed: metrics.items_flushed,
        items_per_second: metrics.items_per_second,
        batches: metrics.batches_flushed,
        mean_batch_size: metrics.mean_batch_size,
        p50_us: percentile_us(&latencies, 0.50),
        p99_us: percentile_us(&latencies, 0.99),
        max_us: latencies.last().map_or(0.0, |&max| max as f64 / 1e3),
        buffer_full: metrics.buffer_full,
        p99_bound_us: None,
        p99_within_bound: None,
    }
}

/// The nearest-rank percentile of sorted nanoseconds, in microseconds.
fn percentile_us(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1] as f64 / 1e3
}

fn print_table(
    out: &mut impl Write,
    command: &str,
    trickle: bool,
    rate: f64,
    cells: &[Cell],
) -> std::io::Result<()> {
    let mode = if trickle {
        "trickle (batches never fill; check p99 ≤ linger + 1 ms)"
    } else {
        "grid"
    };
    writeln!(out, "# linger-grid: {mode}")?;
    writeln!(out)?;
    writeln!(out, "`{command}`")?;
    writeln!(out)?;
    writeln!(
        out,
        "Producer: {rate} items/s with ±0.5 interval uniform jitter; one worker; default \
         capacity (4 batches); latency = flush start − send."
    )?;
    writeln!(out)?;
    let mut header = vec![
        "linger ms",
        "batch",
        "sent",
        "flushed items/s",
        "batches",
        "mean batch",
        "p50 µs",
        "p99 µs",
        "max µs",
        "buffer full",
    ];
    if trickle {
        header.extend(["p99 bound µs", "p99 ok"]);
    }
    writeln!(out, "| {} |", header.join(" | "))?;
    let aligns: Vec<&str> = header.iter().map(|_| "---:").collect();
    writeln!(out, "| {} |", aligns.join(" | "))?;
    for cell in cells {
        let mut row = vec![
            cell.linger_ms.to_string(),
            cell.batch.to_string(),
            cell.sent.to_string(),
            format!("{:.0}", cell.items_per_second),
            cell.batches.to_string(),
            format!("{:.1}", cell.mean_batch_size),
            format!("{:.0}", cell.p50_us),
            format!("{:.0}", cell.p99_us),
            format!("{:.0}", cell.max_us),
            cell.buffer_full.to_string(),
        ];
        if let (Some(bound), Some(ok)) = (cell.p99_bound_us, cell.p99_within_bound) {
            row.push(format!("{bound:.0}"));
            row.push(if ok { "yes" } else { "NO" }.to_owned());
        }
        writeln!(out, "| {} |", row.join(" | "))?;
    }
    if trickle {
        let failed = cells
            .iter()
            .filter(|cell| cell.p99_within_bound == Some(false))
            .count();
        writeln!(out)?;
        if failed == 0 {
            writeln!(out, "All {} cells: p99 ≤ linger + 1 ms.", cells.len())?;
        } else {
            writeln!(
                out,
                "{failed} of {} cells: p99 above linger + 1 ms.",
                cells.len()
            )?;
        }
    }
    Ok(())
}
