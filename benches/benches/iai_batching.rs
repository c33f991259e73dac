//! Instruction counts (callgrind) of the send path of `batching::Batcher`.
//!
//! # Benchmark ids (stable: they name the output directories and baselines, do not rename)
//!
//! Group `batching`, functions `send` and `try_send`, each with the case `x1000`: 1000 items
//! sent in a row into a batcher with `max_batch_size` 64, so the ids are
//! `batching::send x1000` and `batching::try_send x1000`, and the files are under
//! `target/iai/benches/iai_batching/batching/{send,try_send}.x1000/`.
//!
//! # Workload
//! A `Batcher<u64>` with `max_batch_size` [`BATCH`], `capacity` [`CAPACITY`] (room for all
//! 1000 items, so no send waits), one worker and the system clock. What is counted is the
//! producer's side of the hot path: per item, the lock, the push and the unlock; per 64 items,
//! sealing the full batch (allocating the next one) and signalling the worker; once per batch,
//! reading the clock for the linger timer.
//!
//! The worker is kept out of the way so that the counts are the same on every run: its sink
//! parks on its first batch, which the `setup` sends, until the fixture is dropped. If the
//! worker flushed during the benchmark, how often the producer found the lock taken (and
//! whether a signal had a waiter to wake) would depend on valgrind's thread scheduling, and the
//! counts would vary by about 1% from run to run. So this is the cost of sending while the
//! sink is busy, which is also the case where the send path matters. The sink itself, and the
//! hand-off to the worker, are measured in real time by the criterion benchmark
//! `crates/batching/benches/batching.rs`.
//!
//! The `setup` function (building the batcher, starting its worker, parking it in the sink) is
//! not measured; the fixture is returned from the benchmark so that releasing the sink and
//! closing the batcher are not measured either.

use std::hint::black_box;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use ::batching::{Batcher, infallible_sink};
use iai_callgrind::{library_benchmark, library_benchmark_group, main};

const ITEMS: u64 = 1000;
const BATCH: usize = 64;
/// Room for [`ITEMS`] items besides the batch parked in the sink.
const CAPACITY: usize = 1024;
const LINGER: Duration = Duration::from_millis(5);
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// A gate the sink waits on; opened when the fixture is dropped.
#[derive(Debug, Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn wait(&self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        while !*open {
            open = self
                .opened
                .wait(open)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn open(&self) {
        *self.open.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.opened.notify_all();
    }
}

/// A batcher whose worker is parked in the sink, and the items to send.
#[derive(Debug)]
struct Fixture {
    batcher: Batcher<u64>,
    gate: Arc<Gate>,
    n: u64,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // Release the worker before the batcher's own drop waits for it.
        self.gate.open();
    }
}

/// Builds the batcher and sends one full batch, then waits until the worker is inside the
/// sink with it, where it stays until the fixture is dropped.
fn parked_worker(n: u64) -> Fixture {
    let gate = Arc::new(Gate::default());
    let (entered_tx, entered_rx) = mpsc::sync_channel(1);
    let sink_gate = Arc::clone(&gate);
    let batcher = Batcher::builder()
        .max_batch_size(BATCH)
        .capacity(CAPACITY)
        .linger(LINGER)
        .workers(1)
        .build(infallible_sink(move |batch: Vec<u64>| {
            let _ = entered_tx.try_send(());
            sink_gate.wait();
            black_box(batch);
        }));
    for item in 0..BATCH as u64 {
        if batcher.try_send(item).is_err() {
            panic!("setup: try_send failed");
        }
    }
    entered_rx.recv().expect("the worker enters the sink");
    assert_eq!(batcher.buffered(), 0, "the worker holds the first batch");
    Fixture { batcher, gate, n }
}

#[library_benchmark]
#[bench::x1000(args = (ITEMS), setup = parked_worker)]
fn send(fixture: Fixture) -> Fixture {
    for item in 0..fixture.n {
        if fixture.batcher.send(black_box(item), SEND_TIMEOUT).is_err() {
            panic!("send failed");
        }
    }
    fixture
}

#[library_benchmark]
#[bench::x1000(args = (ITEMS), setup = parked_worker)]
fn try_send(fixture: Fixture) -> Fixture {
    for item in 0..fixture.n {
        if fixture.batcher.try_send(black_box(item)).is_err() {
            panic!("try_send failed");
        }
    }
    fixture
}

library_benchmark_group!(
    name = batching;
    benchmarks = send, try_send
);

main!(library_benchmark_groups = batching);
