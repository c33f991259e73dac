//! Behaviour of `Batcher`: size and linger flushes, backpressure, close, failures, parallel
//! workers and metrics. Time is driven by a `MockClock`; threads synchronise on the sink.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use batching::{
    Batcher, FlushFailure, Metrics, MockClock, QueueTimePercentiles, SendError, Sink, SinkPanicked,
    SystemClock, current_batch_seq, infallible_sink, sink_fn,
};
use parking_lot::{Condvar, Mutex, MutexGuard};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A failsafe so that a broken batcher fails a test instead of hanging it; never a way to let
/// time pass.
const HANG: Duration = Duration::from_secs(20);

#[derive(Debug, PartialEq, Eq)]
struct TestError(&'static str);

impl fmt::Display for TestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for TestError {}

/// A batch with its sequence number.
type SeqBatch<T> = (u64, Vec<T>);

struct RecorderState<T> {
    /// Successful batches with their sequence numbers, in the order they finished.
    batches: Vec<SeqBatch<T>>,
    /// Flush calls started.
    entered: usize,
    gate_open: bool,
}

/// A sink that records batches, can be held shut, and fails batches matching `fail_if`.
struct Recorder<T> {
    state: Mutex<RecorderState<T>>,
    changed: Condvar,
    fail_if: fn(&[T]) -> bool,
}

impl<T: Clone> Recorder<T> {
    fn new() -> Arc<Self> {
        Self::failing_if(|_| false)
    }

    fn failing_if(fail_if: fn(&[T]) -> bool) -> Arc<Self> {
        Arc::new(Recorder {
            state: Mutex::new(RecorderState {
                batches: Vec::new(),
                entered: 0,
                gate_open: true,
            }),
            changed: Condvar::new(),
            fail_if,
        })
    }

    fn set_gate(&self, open: bool) {
        self.state.lock().gate_open = open;
        self.changed.notify_all();
    }

    fn wait_until(
        &self,
        what: &str,
        done: impl Fn(&RecorderState<T>) -> bool,
    ) -> MutexGuard<'_, RecorderState<T>> {
        let give_up = Instant::now() + HANG;
        let mut state = self.state.lock();
        while !done(&state) {
            assert!(
                !self.changed.wait_until(&mut state, give_up).timed_out(),
                "gave up waiting for {what}"
            );
        }
        state
    }

    fn wait_for_batches(&self, n: usize) -> Vec<Vec<T>> {
        let state = self.wait_until("batches", |state| state.batches.len() >= n);
        state
            .batches
            .iter()
            .map(|(_, batch)| batch.clone())
            .collect()
    }

    fn wait_for_entered(&self, n: usize) {
        drop(self.wait_until("flushes to start", |state| state.entered >= n));
    }

    fn batches(&self) -> Vec<Vec<T>> {
        self.state
            .lock()
            .batches
            .iter()
            .map(|(_, batch)| batch.clone())
            .collect()
    }

    fn batches_with_seq(&self) -> Vec<SeqBatch<T>> {
        self.state.lock().batches.clone()
    }
}

impl<T: Clone + Send + 'static> Sink<T> for Recorder<T> {
    type Error = TestError;

    fn flush(&self, batch: Vec<T>) -> Result<(), (TestError, Vec<T>)> {
        let seq = current_batch_seq().expect("flush runs with a batch sequence number");
        let mut state = self.state.lock();
        state.entered += 1;
        self.changed.notify_all();
        while !state.gate_open {
            self.changed.wait(&mut state);
        }
        if (self.fail_if)(&batch) {
            return Err((TestError("sink refused the batch"), batch));
        }
        state.batches.push((seq, batch));
        self.changed.notify_all();
        Ok(())
    }
}

/// Spins (yielding) until the batcher has counted `n` full buffers: a sender that counts one
/// has read its deadline and is about to wait, under the lock the clock's wake-up also takes.
fn wait_for_buffer_full<T: Send + 'static>(batcher: &Batcher<T>, n: u64) {
    let give_up = Instant::now() + HANG;
    while batcher.metrics().buffer_full < n {
        assert!(
            Instant::now() < give_up,
            "gave up waiting for {n} full buffers"
        );
        thread::yield_now();
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn batcher_is_send_and_sync() {
    fn check<S: Send + Sync>() {}
    check::<Batcher<u32>>();
    check::<Batcher<std::cell::Cell<u32>>>();
}

#[test]
fn full_batches_are_flushed_without_waiting_for_linger() {
    let clock = MockClock::default();
    let sink = Recorder::new();
    let batcher = Batcher::builder()
        .max_batch_size(3)
        .clock(clock.clone())
        .build(Arc::clone(&sink));
    for item in 0..7 {
        batcher.try_send(item).unwrap();
    }
    assert_eq!(sink.wait_for_batches(2), vec![vec![0, 1, 2], vec![3, 4, 5]]);
    assert_eq!(batcher.buffered(), 1);

    let report = batcher.close();
    assert_eq!(report.remainder_items, 1);
    assert_eq!(
        sink.batches_with_seq(),
        vec![(0, vec![0, 1, 2]), (1, vec![3, 4, 5]), (2, vec![6])]
    );
    assert_eq!(report.metrics.items_flushed, 7);
}

#[test]
fn linger_runs_from_the_first_item_of_a_batch() {
    let clock = MockClock::default();
    let sink = Recorder::new();
    let batcher = Batcher::builder()
        .max_batch_size(10)
        .linger(ms(5))
        .clock(clock.clone())
        .build(Arc::clone(&sink));

    batcher.try_send(1).unwrap();
    clock.advance(ms(3));
    batcher.try_send(2).unwrap();
    clock.advance(ms(1));
    // 4 ms after the first item: the linger has not run out, so nothing may be flushed.
    assert!(sink.batches().is_empty());
    assert_eq!(batcher.buffered(), 2);
    clock.advance(ms(1));
    assert_eq!(sink.wait_for_batches(1), vec![vec![1, 2]]);

    // The next batch's timer starts at its own first item.
    clock.advance(ms(100));
    batcher.try_send(3).unwrap();
    clock.advance(ms(4));
    assert_eq!(sink.batches().len(), 1);
    clock.advance(ms(1));
    assert_eq!(sink.wait_for_batches(2), vec![vec![1, 2], vec![3]]);
    assert_eq!(batcher.close().remainder_items, 0);
}

#[test]
fn linger_flushes_with_the_system_clock() {
    let sink = Recorder::new();
    let batcher = Batcher::builder()
        .max_batch_size(1000)
        .linger(ms(1))
        .clock(SystemClock)
        .build(Arc::clone(&sink));
    batcher.try_send(1).unwrap();
    assert_eq!(sink.wait_for_batches(1), vec![vec![1]]);
}

#[test]
fn flush_hands_over_the_partial_batch() {
    let sink = Recorder::new();
    let batcher = Batcher::builder()
        .clock(MockClock::default())
        .build(Arc::clone(&sink));
    batcher.flush(); // Nothing to flush: no empty batch may reach the sink.
    batcher.try_send("a").unwrap();
    batcher.try_send("b").unwrap();
    batcher.flush();
    assert_eq!(sink.wait_for_batches(1), vec![vec!["a", "b"]]);
    batcher.close();
    assert_eq!(sink.batches().len(), 1);
}

#[test]
fn a_full_buffer_refuses_try_send_and_times_out_send() {
    let clock = MockClock::default();
    let sink = Recorder::new();
    let batcher = Arc::new(
        Batcher::builder()
            .max_batch_size(2)
            .capacity(4)
            .clock(clock.clone())
            .build(Arc::clone(&sink)),
    );
    sink.set_gate(false);
    batcher.try_send(0).unwrap();
    batcher.try_send(1).unwrap();
    // The worker holds [0, 1] in the shut sink; it no longer counts against the capacity.
    sink.wait_for_entered(1);
    for item in 2..6 {
        batcher.try_send(item).unwrap();
    }
    assert_eq!(batcher.buffered(), 4);
    assert_eq!(batcher.try_send(6), Err(SendError::Full(6)));
    assert_eq!(batcher.metrics().buffer_full, 1);

    // `send` waits on the batcher's clock: advancing it past the deadline ends the wait.
    let sender = thread::spawn({
        let batcher = Arc::clone(&batcher);
        move || batcher.send(7, Duration::from_secs(1))
    });
    wait_for_buffer_full(&batcher, 2);
    clock.advance(ms(999));
    clock.advance(ms(1));
    assert_eq!(sender.join().unwrap(), Err(SendError::Timeout(7)));

    // A waiting send succeeds once a worker frees room.
    let sender = thread::spawn({
        let batcher = Arc::clone(&batcher);
        move || batcher.send(8, Duration::from_secs(3600))
    });
    wait_for_buffer_full(&batcher, 3);
    sink.set_gate(true);
    assert_eq!(sender.join().unwrap(), Ok(()));

    let report = batcher.close();
    let flushed: Vec<u32> = sink.batches().concat();
    assert_eq!(flushed, vec![0, 1, 2, 3, 4, 5, 8]);
    assert_eq!(report.metrics.buffer_full, 3);
    assert_eq!(report.metrics.items_flushed, 7);
}

#[test]
fn close_flushes_the_remainder_and_refuses_later_sends() {
    let sink = Recorder::new();
    let batcher = Batcher::builder()
        .max_batch_size(10)
        .clock(MockClock::default())
        .build(Arc::clone(&sink));
    for item in 0..4 {
        batcher.send(item, ms(1)).unwrap();
    }
    let report = batcher.close();
    assert_eq!(report.remainder_items, 4);
    assert_eq!(report.batches_awaited, 1);
    assert_eq!(sink.batches(), vec![vec![0, 1, 2, 3]]);
    assert!(batcher.is_closed());

    assert_eq!(batcher.try_send(9), Err(SendError::Closed(9)));
    assert_eq!(batcher.send(9, ms(1)), Err(SendError::Closed(9)));
    // Idempotent: nothing more to flush, same metrics.
    let again = batcher.close();
    assert_eq!(again.remainder_items, 0);
    assert_eq!(again.batches_awaited, 0);
    assert_eq!(again.metrics, report.metrics);
    batcher.flush();
    assert_eq!(sink.batches().len(), 1);
}

#[test]
fn close_waits_for_in_flight_flushes_and_wakes_waiting_senders() {
    let sink = Recorder::new();
    let batcher = Arc::new(
        Batcher::builder()
            .max_batch_size(1)
            .capacity(1)
            .clock(MockClock::default())
            .build(Arc::clone(&sink)),
    );
    sink.set_gate(false);
    batcher.try_send(0).unwrap();
    sink.wait_for_entered(1);
    batcher.try_send(1).unwrap(); // Sealed, waiting for the busy worker: the buffer is full.
    let sender = thread::spawn({
        let batcher = Arc::clone(&batcher);
        move || batcher.send(2, Duration::from_secs(3600))
    });
    wait_for_buffer_full(&batcher, 1);
    let closer = thread::spawn({
        let batcher = Arc::clone(&batcher);
        move || batcher.close()
    });
    // The waiting sender gets its item back as soon as the batcher closes.
    assert_eq!(sender.join().unwrap(), Err(SendError::Closed(2)));
    assert!(!closer.is_finished() || sink.batches().len() == 2);
    sink.set_gate(true);
    let report = closer.join().unwrap();
    assert_eq!(sink.batches(), vec![vec![0], vec![1]]);
    assert_eq!(report.metrics.items_flushed, 2);
}

#[test]
fn dropping_the_batcher_closes_it() {
    let sink = Recorder::new();
    let batcher = Batcher::builder()
        .clock(MockClock::default())
        .workers(3)
        .build(Arc::clone(&sink));
    for item in 0..10 {
        batcher.try_send(item).unwrap();
    }
    drop(batcher);
    assert_eq!(sink.batches(), vec![(0..10).collect::<Vec<_>>()]);
}

#[test]
fn failed_flushes_hand_back_their_items_in_order() {
    // Batches holding a multiple of 5 fail.
    let sink =
        Recorder::failing_if(|batch: &[u32]| batch.iter().any(|item| item % 5 == 0 && *item > 0));
    let batcher = Batcher::builder()
        .max_batch_size(4)
        .capacity(20)
        .clock(MockClock::default())
        .build(Arc::clone(&sink));
    for item in 0..20 {
        batcher.try_send(item).unwrap();
    }
    let report = batcher.close();
    let failed = batcher.take_failed();
    let summary: Vec<(u64, Vec<u32>, String)> = failed
        .iter()
        .map(|failure| {
            (
                failure.batch_seq,
                failure.items.clone(),
                failure.error.to_string(),
            )
        })
        .collect();
    let refused = || "sink refused the batch".to_owned();
    assert_eq!(
        summary,
        vec![
            (1, vec![4, 5, 6, 7], refused()),
            (2, vec![8, 9, 10, 11], refused()),
            (3, vec![12, 13, 14, 15], refused()),
        ]
    );
    assert_eq!(sink.batches(), vec![vec![0, 1, 2, 3], vec![16, 17, 18, 19]]);
    assert!(batcher.take_failed().is_empty(), "take_failed takes them");
    let metrics = report.metrics;
    assert_eq!((metrics.batches_flushed, metrics.items_flushed), (2, 8));
    assert_eq!((metrics.failed_flushes, metrics.items_failed), (3, 12));
}

#[test]
fn a_partial_failure_counts_the_items_not_handed_back_as_written() {
    let batcher = Batcher::builder()
        .max_batch_size(4)
        .clock(MockClock::default())
        .build(sink_fn(|mut batch: Vec<u32>| {
            let unwritten = batch.split_off(1);
            Err((TestError("wrote only the first item"), unwritten))
        }));
    for item in 0..4 {
        batcher.try_send(item).unwrap();
    }
    let metrics = batcher.close().metrics;
    assert_eq!(batcher.take_failed()[0].items, vec![1, 2, 3]);
    assert_eq!((metrics.items_flushed, metrics.items_failed), (1, 3));
    assert_eq!((metrics.batches_flushed, metrics.failed_flushes), (0, 1));
}

#[test]
fn the_failure_handler_receives_failures_instead_of_take_failed() {
    let received: Arc<Mutex<Vec<SeqBatch<u32>>>> = Arc::default();
    let batcher = Batcher::builder()
        .max_batch_size(2)
        .clock(MockClock::default())
        .on_failure({
            let received = Arc::clone(&received);
            move |failure: FlushFailure<u32>| {
                received.lock().push((failure.batch_seq, failure.items))
            }
        })
        .build(sink_fn(|batch: Vec<u32>| {
            if batch[0] == 2 {
                Err((TestError("no"), batch))
            } else {
                Ok(())
            }
        }));
    for item in 0..5 {
        batcher.try_send(item).unwrap();
    }
    let metrics = batcher.close().metrics;
    assert_eq!(*received.lock(), vec![(1, vec![2, 3])]);
    assert!(batcher.take_failed().is_empty());
    assert_eq!((metrics.items_flushed, metrics.items_failed), (3, 2));
}

#[test]
fn a_panicking_sink_is_reported_and_the_worker_survives() {
    let batcher = Batcher::builder()
        .max_batch_size(2)
        .clock(MockClock::default())
        .build(sink_fn(|batch: Vec<u32>| {
            assert!(batch[0] != 0, "sink bug on batch {batch:?}");
            Ok::<(), (TestError, Vec<u32>)>(())
        }));
    for item in 0..4 {
        batcher.try_send(item).unwrap();
    }
    let metrics = batcher.close().metrics;
    let failed = batcher.take_failed();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].items.is_empty());
    let panicked = failed[0].error.downcast_ref::<SinkPanicked>().unwrap();
    assert_eq!(panicked.items_lost, 2);
    assert_eq!(
        panicked.message.as_deref(),
        Some("sink bug on batch [0, 1]")
    );
    assert!(failed[0].error.to_string().contains("2 items"));
    assert_eq!((metrics.items_flushed, metrics.items_failed), (2, 2));
}

#[test]
fn workers_flush_in_parallel() {
    // Each flush waits until four are running at once, which only parallel workers allow.
    let running = Arc::new((Mutex::new(0usize), Condvar::new()));
    let batcher = Batcher::builder()
        .max_batch_size(1)
        .workers(4)
        .clock(MockClock::default())
        .build(sink_fn({
            let running = Arc::clone(&running);
            move |batch: Vec<u32>| {
                let (count, changed) = &*running;
                let mut count = count.lock();
                *count += 1;
                changed.notify_all();
                let give_up = Instant::now() + HANG;
                while *count < 4 {
                    if changed.wait_until(&mut count, give_up).timed_out() {
                        return Err((TestError("flushes did not run in parallel"), batch));
                    }
                }
                Ok(())
            }
        }));
    for item in 0..4 {
        batcher.try_send(item).unwrap();
    }
    let metrics = batcher.close().metrics;
    assert!(batcher.take_failed().is_empty());
    assert_eq!(metrics.batches_flushed, 4);
}

/// Sends `n_per_producer` items `(producer, i)` from each of `n_producers` threads, with a
/// seeded mix of `send`, `try_send` (retried) and `flush`, and returns what the sink saw.
fn run_producers(
    workers: usize,
    n_producers: u32,
    n_per_producer: u32,
    seed: u64,
) -> (Vec<SeqBatch<(u32, u32)>>, Metrics) {
    run_producers_with(workers, n_producers, n_per_producer, seed, 64, 256)
}

/// [`run_producers`] with a given batch size and capacity; every producer also checks now and
/// then that the buffer holds no more than the capacity.
fn run_producers_with(
    workers: usize,
    n_producers: u32,
    n_per_producer: u32,
    seed: u64,
    max_batch_size: usize,
    capacity: usize,
) -> (Vec<SeqBatch<(u32, u32)>>, Metrics) {
    let sink = Recorder::new();
    let batcher = Batcher::builder()
        .max_batch_size(max_batch_size)
        .capacity(capacity)
        .linger(ms(1))
        .workers(workers)
        .build(Arc::clone(&sink));
    thread::scope(|scope| {
        for producer in 0..n_producers {
            let batcher = &batcher;
            scope.spawn(move || {
                let mut rng = StdRng::seed_from_u64(seed ^ u64::from(producer));
                for i in 0..n_per_producer {
                    let mut item = (producer, i);
                    match rng.random_range(0..100) {
                        0 => {
                            batcher.send(item, Duration::from_secs(60)).unwrap();
                            batcher.flush();
                        }
                        1..50 => batcher.send(item, Duration::from_secs(60)).unwrap(),
                        _ => loop {
                            match batcher.try_send(item) {
                                Ok(()) => break,
                                Err(SendError::Full(back)) => {
                                    item = back;
                                    thread::yield_now();
                                }
                                Err(other) => panic!("unexpected {other}"),
                            }
                        },
                    }
                    if i % 97 == 0 {
                        let buffered = batcher.buffered();
                        assert!(
                            buffered <= capacity,
                            "{buffered} buffered, capacity {capacity}"
                        );
                    }
                }
            });
        }
    });
    let metrics = batcher.close().metrics;
    assert!(batcher.take_failed().is_empty());
    (sink.batches_with_seq(), metrics)
}

/// Checks that every item was flushed exactly once, and that batches put in sequence order
/// keep each producer's send order.
fn check_exactly_once_in_send_order(
    batches: &[SeqBatch<(u32, u32)>],
    n_producers: u32,
    n_per_producer: u32,
) {
    let mut by_seq: Vec<_> = batches.iter().collect();
    by_seq.sort_by_key(|(seq, _)| *seq);
    let seqs: Vec<u64> = by_seq.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(
        seqs,
        (0..batches.len() as u64).collect::<Vec<_>>(),
        "batch numbers are 0..n without gaps"
    );
    let mut next_expected = vec![0; n_producers as usize];
    let mut seen = HashSet::new();
    for (_, batch) in by_seq {
        assert!(!batch.is_empty() && batch.len() <= 64);
        for &(producer, i) in batch {
            assert!(seen.insert((producer, i)), "{producer}/{i} flushed twice");
            assert_eq!(
                i, next_expected[producer as usize],
                "producer {producer} out of order"
            );
            next_expected[producer as usize] += 1;
        }
    }
    assert_eq!(seen.len(), (n_producers * n_per_producer) as usize);
}

#[test]
fn parallel_workers_flush_every_item_once_in_send_order_by_batch_sequence() {
    let (batches, metrics) = run_producers(4, 4, 25_000, 0x5eed);
    check_exactly_once_in_send_order(&batches, 4, 25_000);
    assert_eq!(metrics.items_flushed, 100_000);
    assert_eq!(metrics.batches_flushed, batches.len() as u64);
}

#[test]
fn one_worker_flushes_batches_in_sequence_order() {
    let (batches, _) = run_producers(1, 4, 5_000, 7);
    let seqs: Vec<u64> = batches.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(
        seqs,
        (0..batches.len() as u64).collect::<Vec<_>>(),
        "one worker finishes batches in order"
    );
    check_exactly_once_in_send_order(&batches, 4, 5_000);
}

#[test]
fn metrics_are_exact_on_a_scripted_run() {
    let clock = MockClock::default();
    // Batches holding an item of 300 or more fail.
    let sink = Recorder::failing_if(|batch: &[u32]| batch[0] >= 300);
    let batcher = Batcher::builder()
        .max_batch_size(4)
        .capacity(4)
        .linger(ms(10))
        .clock(clock.clone())
        .build(Arc::clone(&sink));
    assert_eq!(batcher.metrics(), Metrics::default());

    // Batch 0, by linger: first item at t=0, flushed at t=10 ms.
    batcher.try_send(0).unwrap();
    clock.advance(ms(4));
    batcher.try_send(1).unwrap();
    batcher.try_send(2).unwrap();
    clock.advance(ms(6));
    sink.wait_for_batches(1);
    // Batch 1, by size at t=10 ms: no queue time.
    for item in 100..104 {
        batcher.try_send(item).unwrap();
    }
    sink.wait_for_batches(2);
    // Batch 2 at t=10 ms is held in the shut sink; batch 3 fills the buffer behind it.
    sink.set_gate(false);
    for item in 200..204 {
        batcher.try_send(item).unwrap();
    }
    sink.wait_for_entered(3);
    for item in 300..304 {
        batcher.try_send(item).unwrap();
    }
    assert_eq!(batcher.try_send(999), Err(SendError::Full(999)));
    // At t=15 ms batch 2 finishes and batch 3 starts (5 ms after its first item), then fails.
    clock.advance(ms(5));
    sink.set_gate(true);
    let report = batcher.close();

    assert_eq!(
        report.metrics,
        Metrics {
            batches_flushed: 3,
            items_flushed: 11,
            mean_batch_size: 15.0 / 4.0,
            queue_time_mean: Duration::from_micros(3750),
            queue_time_max: ms(10),
            items_per_second: 11.0 / ms(15).as_secs_f64(),
            buffer_full: 1,
            failed_flushes: 1,
            items_failed: 4,
        }
    );
    assert_eq!(batcher.metrics(), report.metrics);
    assert_eq!(batcher.take_failed()[0].items, vec![300, 301, 302, 303]);
}

#[test]
fn send_errors_hand_the_item_back_and_say_how_to_fix() {
    let full: SendError<String> = SendError::Full("x".to_owned());
    assert!(full.to_string().contains("full") && full.to_string().contains("capacity"));
    assert!(full.is_retryable());
    assert_eq!(full.into_inner(), "x");
    assert!(SendError::Timeout(1).to_string().contains("timeout"));
    let closed = SendError::Closed(1);
    assert!(closed.to_string().contains("closed"));
    assert!(!closed.is_retryable());
    assert_eq!(format!("{closed:?}"), "Closed(..)");
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(SendError::Full(vec![1u8]));
    assert!(boxed.to_string().starts_with("batcher buffer is full"));
}

#[test]
#[should_panic(expected = "capacity (2) must be at least max_batch_size (4)")]
fn capacity_below_the_batch_size_is_refused() {
    let _ = Batcher::builder()
        .max_batch_size(4)
        .capacity(2)
        .build(infallible_sink(|_: Vec<u32>| {}));
}

#[test]
fn defaults_and_debug() {
    let batcher = Batcher::new(infallible_sink(|_: Vec<u32>| {}));
    let debug = format!("{batcher:?}");
    assert!(
        debug.contains("max_batch_size: 256") && debug.contains("capacity: 1024"),
        "{debug}"
    );
    assert!(format!("{:?}", Batcher::<u8>::builder()).contains("linger: 5ms"));
    assert_eq!(current_batch_seq(), None);
}

#[test]
fn linger_is_served_by_an_idle_worker_while_another_is_busy() {
    // Batch 0 blocks its worker until released; the other worker must still flush batch 1
    // when its linger runs out.
    let release = Arc::new((Mutex::new(false), Condvar::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let clock = MockClock::default();
    let batcher = Batcher::builder()
        .max_batch_size(3)
        .linger(ms(5))
        .workers(2)
        .clock(clock.clone())
        .build(infallible_sink({
            let release = Arc::clone(&release);
            move |batch: Vec<u32>| {
                if current_batch_seq() == Some(0) {
                    let (released, changed) = &*release;
                    let mut released = released.lock();
                    while !*released {
                        changed.wait(&mut released);
                    }
                }
                tx.send(batch).unwrap();
            }
        }));
    for item in 0..4 {
        batcher.try_send(item).unwrap();
    }
    clock.advance(ms(5));
    assert_eq!(rx.recv_timeout(HANG).unwrap(), vec![3]);
    *release.0.lock() = true;
    release.1.notify_all();
    assert_eq!(rx.recv_timeout(HANG).unwrap(), vec![0, 1, 2]);
    batcher.close();
}

/// Whether `actual` is within the documented relative error of `expected`.
fn within_percentile_error(actual: Duration, expected: Duration) -> bool {
    let (actual, expected) = (actual.as_nanos() as f64, expected.as_nanos() as f64);
    (actual - expected).abs() <= expected * QueueTimePercentiles::MAX_RELATIVE_ERROR
}

#[test]
fn queue_time_percentiles_are_known_on_a_scripted_run() {
    let clock = MockClock::default();
    let sink = Recorder::new();
    // A linger of an hour: every batch here is handed over by `flush`, at a time the test picks.
    let batcher = Batcher::builder()
        .linger(Duration::from_secs(3600))
        .clock(clock.clone())
        .build(Arc::clone(&sink));
    assert_eq!(
        batcher.queue_time_percentiles(),
        QueueTimePercentiles::default()
    );
    // Batch `i` (1..=100) waits exactly `i` ms, and its later items less: only the first counts.
    for wait_ms in 1..=100u64 {
        batcher.try_send(wait_ms as u32).unwrap();
        clock.advance(ms(wait_ms - 1));
        batcher.try_send(0).unwrap();
        clock.advance(ms(1));
        batcher.flush();
        sink.wait_for_batches(wait_ms as usize);
    }
    let percentiles = batcher.queue_time_percentiles();
    assert_eq!(percentiles.batches, 100);
    assert_eq!(percentiles.max, ms(100));
    assert!(
        within_percentile_error(percentiles.p50, ms(50)),
        "{percentiles:?}"
    );
    assert!(
        within_percentile_error(percentiles.p95, ms(95)),
        "{percentiles:?}"
    );
    assert!(
        within_percentile_error(percentiles.p99, ms(99)),
        "{percentiles:?}"
    );
    let report = batcher.close();
    assert_eq!(report.metrics.queue_time_max, percentiles.max);
    assert_eq!(
        report.metrics.queue_time_mean,
        Duration::from_micros(50_500)
    );
    // The histogram outlives close.
    assert_eq!(batcher.queue_time_percentiles(), percentiles);
}

#[test]
fn equal_queue_times_give_exact_percentiles_and_a_slow_tail_shows_in_p99_only() {
    let clock = MockClock::default();
    let sink = Recorder::new();
    let batcher = Batcher::builder()
        .linger(ms(10))
        .clock(clock.clone())
        .build(Arc::clone(&sink));
    // 98 batches flushed by linger after exactly 10 ms, then two whose linger the clock jumps
    // far past, so they wait 250 ms.
    for batch_idx in 0..98 {
        batcher.try_send(batch_idx).unwrap();
        clock.advance(ms(10));
        sink.wait_for_batches(batch_idx as usize + 1);
    }
    let percentiles = batcher.queue_time_percentiles();
    assert_eq!(
        percentiles,
        QueueTimePercentiles {
            batches: 98,
            p50: ms(10),
            p95: ms(10),
            p99: ms(10),
            max: ms(10),
        },
        "equal waits are reported exactly (clamped to the exact min and max)"
    );
    for batch_idx in 98..100 {
        batcher.try_send(batch_idx).unwrap();
        clock.advance(ms(250));
        sink.wait_for_batches(batch_idx as usize + 1);
    }
    let percentiles = batcher.queue_time_percentiles();
    assert_eq!(percentiles.batches, 100);
    // Once the waits differ, a percentile is its bucket's midpoint: within the error bound.
    assert!(
        within_percentile_error(percentiles.p50, ms(10)),
        "{percentiles:?}"
    );
    assert!(
        within_percentile_error(percentiles.p95, ms(10)),
        "{percentiles:?}"
    );
    // Nearest rank 99 of 100 is the first 250 ms batch.
    assert!(
        within_percentile_error(percentiles.p99, ms(250)),
        "{percentiles:?}"
    );
    assert_eq!(percentiles.max, ms(250));
}

#[test]
fn a_buffer_no_larger_than_a_batch_loses_nothing_under_many_producers() {
    // Capacity equal to the batch size: the buffer is full most of the time, so senders keep
    // waiting for room and retrying while workers take batches.
    let (batches, metrics) = run_producers_with(2, 4, 5_000, 0xf011, 4, 4);
    check_exactly_once_in_send_order(&batches, 4, 5_000);
    assert_eq!(metrics.items_flushed, 20_000);
    assert!(
        metrics.buffer_full > 0,
        "the buffer was never full: {metrics:?}"
    );
}

#[test]
fn a_batch_started_while_the_worker_goes_to_sleep_is_still_flushed_by_linger() {
    // After each flush the idle worker spins, then parks; a first item sent at any moment of
    // that must still get its linger timed (with the system clock nothing else wakes the
    // worker). A seeded busy wait of 0 to 120 µs before each send varies the moment.
    let sink = Recorder::new();
    let batcher = Batcher::builder()
        .max_batch_size(1000)
        .linger(Duration::from_micros(200))
        .clock(SystemClock)
        .build(Arc::clone(&sink));
    let mut rng = StdRng::seed_from_u64(0x1d1e);
    for item in 0..300u32 {
        let wait = Duration::from_micros(rng.random_range(0..120));
        let start = Instant::now();
        while start.elapsed() < wait {
            std::hint::spin_loop();
        }
        batcher.try_send(item).unwrap();
        assert_eq!(
            sink.wait_for_batches(item as usize + 1)[item as usize],
            vec![item]
        );
    }
    assert_eq!(batcher.close().metrics.items_flushed, 300);
}

#[test]
fn closing_while_producers_send_flushes_every_accepted_item_and_hands_back_the_rest() {
    let sink = Recorder::new();
    let batcher = Batcher::builder()
        .max_batch_size(8)
        .capacity(16)
        .linger(ms(1))
        .workers(2)
        .build(Arc::clone(&sink));
    let n_producers = 4u32;
    let accepted: Vec<u32> = thread::scope(|scope| {
        let producers: Vec<_> = (0..n_producers)
            .map(|producer| {
                let batcher = &batcher;
                scope.spawn(move || {
                    let mut rng = StdRng::seed_from_u64(0xc105e ^ u64::from(producer));
                    let mut i = 0;
                    loop {
                        let item = (producer, i);
                        let refused = if rng.random_bool(0.5) {
                            batcher.send(item, Duration::from_secs(60)).err()
                        } else {
                            match batcher.try_send(item) {
                                Err(SendError::Full(_)) => continue,
                                other => other.err(),
                            }
                        };
                        match refused {
                            None => i += 1,
                            // The refused item comes back whole, and only because of close.
                            Some(SendError::Closed(back)) => {
                                assert_eq!(back, item);
                                return i;
                            }
                            Some(other) => panic!("unexpected {other}"),
                        }
                    }
                })
            })
            .collect();
        // Close while every producer is still sending (none stops on its own).
        sink.wait_for_batches(50);
        let report = batcher.close();
        let accepted: Vec<u32> = producers
            .into_iter()
            .map(|producer| producer.join().unwrap())
            .collect();
        assert_eq!(
            report.metrics.items_flushed,
            accepted.iter().map(|&n| u64::from(n)).sum::<u64>()
        );
        accepted
    });
    let batches = sink.batches_with_seq();
    let mut flushed = vec![Vec::new(); n_producers as usize];
    let mut by_seq: Vec<_> = batches.iter().collect();
    by_seq.sort_by_key(|(seq, _)| *seq);
    for (_, batch) in by_seq {
        for &(producer, i) in batch {
            flushed[producer as usize].push(i);
        }
    }
    for (producer, items) in flushed.iter().enumerate() {
        // Exactly the accepted items, once each, in send order.
        assert_eq!(*items, (0..accepted[producer]).collect::<Vec<_>>());
    }
}

#[test]
fn linger_seals_racing_with_sends_lose_nothing() {
    // The worker seals lingering batches (taking the producers' lock) while producers push:
    // the clock jumps past the linger again and again while they send.
    let clock = MockClock::default();
    let sink = Recorder::new();
    let batcher = Batcher::builder()
        .max_batch_size(64)
        .capacity(256)
        .linger(ms(1))
        .workers(2)
        .clock(clock.clone())
        .build(Arc::clone(&sink));
    let (n_producers, n_per_producer) = (3u32, 10_000u32);
    let running = std::sync::atomic::AtomicU32::new(n_producers);
    thread::scope(|scope| {
        for producer in 0..n_producers {
            let (batcher, running) = (&batcher, &running);
            scope.spawn(move || {
                for i in 0..n_per_producer {
                    // A day on the mock clock: the test's own advances never run it out.
                    batcher
                        .send((producer, i), Duration::from_secs(86_400))
                        .unwrap();
                }
                running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        while running.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            clock.advance(ms(1));
            thread::yield_now();
        }
    });
    let metrics = batcher.close().metrics;
    check_exactly_once_in_send_order(&sink.batches_with_seq(), n_producers, n_per_producer);
    assert_eq!(
        metrics.items_flushed,
        u64::from(n_producers * n_per_producer)
    );
}
