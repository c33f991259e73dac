//! End-to-end throughput of `batching::Batcher` next to a hand-rolled channel batcher and to
//! no batching at all, every one flushing to the same no-op sink.
//!
//! # Benchmark ids (stable: they are the keys of saved baselines, do not rename)
//!
//! `batching/throughput/{b}/{impl}`, where `{b}` is the maximum batch size, `64` or `1024`,
//! and `{impl}` one of
//! - `ours`: `batching::Batcher` with one worker, `capacity` [`CAPACITY`], `linger` [`LINGER`];
//!   the producer calls `send` (with a generous timeout) for every item, then `close`, which
//!   returns once everything was flushed and the worker has stopped;
//! - `channel`: the obvious batcher on `crossbeam_channel`: a bounded channel of [`CAPACITY`]
//!   items, one consumer thread that `recv_timeout(LINGER)`s, pushes into a `Vec` and flushes it
//!   when it is full or when a receive times out (so its linger is an idle timeout, not the age
//!   of the oldest item); the producer calls `send_timeout` for every item, then drops the
//!   sender and joins the consumer, which flushes what is left;
//! - `naive`: no batching: the producer calls the sink itself with a one-item `Vec` per item,
//!   on its own thread.
//!
//! # Workload
//! - One benchmark iteration sends [`ITEMS`] `u64` items (a sequence drawn once from a seeded
//!   `StdRng`, so the same on every run) and waits until every item has been flushed; the
//!   throughput is declared as [`ITEMS`] elements, so criterion reports items per second, end
//!   to end.
//! - The sink does `black_box` on each batch and returns `Ok`, so what is measured is the
//!   batching machinery (hand-off between threads, allocation of the batch vectors), not a
//!   flush. Every implementation allocates one `Vec` per flush and the sink frees it.
//! - Building the batcher (spawning its worker) or the channel and its consumer is outside the
//!   timed region, as is checking afterwards that exactly [`ITEMS`] items were flushed; the
//!   timed region runs from the first `send` to the return of `close` (or `join`).

use std::convert::Infallible;
use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use batching::{Batcher, Sink};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use crossbeam_channel::RecvTimeoutError;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Items sent per benchmark iteration.
const ITEMS: usize = 100_000;
/// Maximum batch sizes, one group each.
const BATCH_SIZES: [usize; 2] = [64, 1024];
/// Queue bound of `ours` and of the channel.
const CAPACITY: usize = 8192;
/// Flush a partial batch after this long (the producer never pauses, so it rarely matters).
const LINGER: Duration = Duration::from_millis(1);
/// A send that waits this long is a bug, not a measurement.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
const SEED: u64 = 0x5eed_ba7c;

/// The sink of every implementation: looks at the batch and drops it.
#[derive(Debug, Clone, Copy, Default)]
struct NoopSink;

impl Sink<u64> for NoopSink {
    type Error = Infallible;

    #[inline]
    fn flush(&self, batch: Vec<u64>) -> Result<(), (Infallible, Vec<u64>)> {
        black_box(&batch);
        Ok(())
    }
}

/// A sink with a real per-call cost: each flush is one `write` system call of the batch's
/// bytes to `/dev/null`, as a database or network sink pays one round trip per call.
#[derive(Debug, Clone)]
struct DevNullSink(std::sync::Arc<std::fs::File>);

impl Sink<u64> for DevNullSink {
    type Error = Infallible;

    fn flush(&self, batch: Vec<u64>) -> Result<(), (Infallible, Vec<u64>)> {
        use std::io::Write;
        let bytes: Vec<u8> = batch.iter().flat_map(|item| item.to_le_bytes()).collect();
        (&*self.0)
            .write_all(&bytes)
            .expect("writing to /dev/null succeeds");
        Ok(())
    }
}

fn items() -> Vec<u64> {
    let mut rng = StdRng::seed_from_u64(SEED);
    (0..ITEMS).map(|_| rng.random()).collect()
}

/// One iteration of `ours`: returns the time from the first send to the end of `close`.
fn run_ours<S: Sink<u64>>(items: &[u64], batch_size: usize, sink: S) -> Duration {
    let batcher = Batcher::<u64>::builder()
        .max_batch_size(batch_size)
        .linger(LINGER)
        .capacity(CAPACITY)
        .workers(1)
        .build(sink);
    let began = Instant::now();
    for &item in items {
        if batcher.send(item, SEND_TIMEOUT).is_err() {
            panic!("ours: send failed");
        }
    }
    let report = batcher.close();
    let elapsed = began.elapsed();
    assert_eq!(
        report.metrics.items_flushed,
        items.len() as u64,
        "ours: every item is flushed"
    );
    elapsed
}

/// The consumer of the channel batcher; returns how many items it flushed.
fn channel_consumer(
    rx: &crossbeam_channel::Receiver<u64>,
    sink: &impl Sink<u64>,
    batch_size: usize,
) -> usize {
    let mut flushed = 0;
    let mut batch = Vec::with_capacity(batch_size);
    let mut flush = |batch: &mut Vec<u64>| {
        let full = std::mem::replace(batch, Vec::with_capacity(batch_size));
        flushed += full.len();
        if sink.flush(full).is_err() {
            panic!("channel: flush failed");
        }
    };
    loop {
        match rx.recv_timeout(LINGER) {
            Ok(item) => {
                batch.push(item);
                if batch.len() >= batch_size {
                    flush(&mut batch);
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if !batch.is_empty() {
                    flush(&mut batch);
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                if !batch.is_empty() {
                    flush(&mut batch);
                }
                return flushed;
            }
        }
    }
}

/// One iteration of `channel`: returns the time from the first send to the consumer's end.
fn run_channel<S: Sink<u64>>(items: &[u64], batch_size: usize, sink: S) -> Duration {
    let (tx, rx) = crossbeam_channel::bounded(CAPACITY);
    let consumer = thread::spawn(move || channel_consumer(&rx, &sink, batch_size));
    let began = Instant::now();
    for &item in items {
        if tx.send_timeout(item, SEND_TIMEOUT).is_err() {
            panic!("channel: send failed");
        }
    }
    drop(tx);
    let flushed = consumer.join().expect("channel consumer panicked");
    let elapsed = began.elapsed();
    assert_eq!(flushed, items.len(), "channel: every item is flushed");
    elapsed
}

/// One iteration of `naive`: one sink call per item, on the producer's thread.
fn run_naive<S: Sink<u64>>(items: &[u64], sink: S) -> Duration {
    let began = Instant::now();
    for &item in items {
        if sink.flush(vec![item]).is_err() {
            panic!("naive: flush failed");
        }
    }
    began.elapsed()
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.sample_size(20);
    if !on_command_line("--warm-up-time") {
        group.warm_up_time(Duration::from_secs(1));
    }
    if !on_command_line("--measurement-time") {
        group.measurement_time(Duration::from_secs(3));
    }
}

/// Whether the command line sets `flag` (`--warm-up-time`, `--measurement-time`). criterion
/// lets a group's own settings win over its command line, so the groups apply their defaults
/// only where the command line gives none: the gate (`cargo xtask bench compare`) passes its
/// round length this way.
fn on_command_line(flag: &str) -> bool {
    std::env::args().any(|arg| arg == flag)
}

/// `batching/<throughput|throughput_devnull>/<batch size>/<ours|naive|channel>`.
fn compare_with<S: Sink<u64> + Clone>(c: &mut Criterion, name: &str, items: &[u64], sink: &S) {
    for batch_size in BATCH_SIZES {
        let mut group = c.benchmark_group(format!("batching/{name}/{batch_size}"));
        configure(&mut group);
        group.throughput(Throughput::Elements(ITEMS as u64));
        group.bench_function("ours", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| run_ours(items, batch_size, sink.clone()))
                    .sum()
            });
        });
        group.bench_function("naive", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| run_naive(items, sink.clone())).sum());
        });
        group.bench_function("channel", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| run_channel(items, batch_size, sink.clone()))
                    .sum()
            });
        });
        group.finish();
    }
}

fn throughput(c: &mut Criterion) {
    let items = items();
    compare_with(c, "throughput", &items, &NoopSink);
    match std::fs::OpenOptions::new().write(true).open("/dev/null") {
        Ok(file) => compare_with(
            c,
            "throughput_devnull",
            &items,
            &DevNullSink(std::sync::Arc::new(file)),
        ),
        Err(error) => eprintln!("skipping batching/throughput_devnull: no /dev/null ({error})"),
    }
}

criterion_group!(benches, throughput);
criterion_main!(benches);
