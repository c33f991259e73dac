//! Behaviour of `run_chunked`: chunk boundaries, Stop and Continue, sequential and parallel.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use batching::{ChunkFailure, ChunkOptions, ChunkReport, OnError, run_chunked};
use parking_lot::Mutex;

/// Runs 1050 rows in chunks of 100 (the last one 50 rows), failing the chunks in `failing`,
/// and returns the report and the chunk indexes that ran, sorted.
fn check(
    parallelism: usize,
    on_error: OnError,
    failing: &[usize],
) -> (ChunkReport<String>, Vec<usize>) {
    let rows: Vec<u32> = (0..1050).collect();
    let ran = Mutex::new(Vec::new());
    let options = ChunkOptions {
        chunk_size: 100,
        parallelism,
        on_error,
    };
    let report = run_chunked(&rows, &options, |chunk_index, chunk| {
        ran.lock().push(chunk_index);
        assert_eq!(chunk[0] as usize, chunk_index * 100);
        if failing.contains(&chunk_index) {
            Err(format!("chunk {chunk_index} starting at row {}", chunk[0]))
        } else {
            Ok(())
        }
    });
    let mut ran = ran.into_inner();
    ran.sort_unstable();
    (report, ran)
}

fn failure(chunk_index: usize, rows: usize) -> ChunkFailure<String> {
    ChunkFailure {
        chunk_index,
        first_row: chunk_index * 100,
        rows,
        error: format!("chunk {chunk_index} starting at row {}", chunk_index * 100),
    }
}

#[test]
fn every_chunk_runs_once_and_rows_are_counted() {
    for parallelism in [1, 3, 16] {
        let (report, ran) = check(parallelism, OnError::Stop, &[]);
        assert_eq!(ran, (0..11).collect::<Vec<_>>());
        assert_eq!((report.rows_processed, report.chunks_ok), (1050, 11));
        assert!(report.is_success() && !report.stopped_early);
        assert!(report.rows_per_second > 0.0);
    }
}

#[test]
fn stop_runs_no_chunk_after_the_failure_when_sequential() {
    let (report, ran) = check(1, OnError::Stop, &[3, 5]);
    assert_eq!(ran, vec![0, 1, 2, 3]);
    assert_eq!(report.failures, vec![failure(3, 100)]);
    assert_eq!((report.rows_processed, report.chunks_ok), (300, 3));
    assert!(report.stopped_early && !report.is_success());
}

#[test]
fn stop_on_the_last_chunk_is_not_early() {
    let (report, ran) = check(1, OnError::Stop, &[10]);
    assert_eq!(ran.len(), 11);
    assert_eq!(report.failures, vec![failure(10, 50)]);
    assert!(!report.stopped_early);
    assert_eq!(report.rows_processed, 1000);
}

#[test]
fn continue_runs_every_chunk_and_reports_each_failure() {
    for parallelism in [1, 4] {
        let (report, ran) = check(parallelism, OnError::Continue, &[7, 3, 10]);
        assert_eq!(ran, (0..11).collect::<Vec<_>>());
        assert_eq!(
            report.failures,
            vec![failure(3, 100), failure(7, 100), failure(10, 50)]
        );
        assert_eq!((report.rows_processed, report.chunks_ok), (800, 8));
        assert!(!report.stopped_early);
    }
}

#[test]
fn stop_in_parallel_starts_no_new_chunk_after_the_failure() {
    // Chunk 0 fails at once; every other chunk waits until it has failed, so each of the other
    // three threads can only finish the chunk it holds and possibly one claimed before the
    // stop flag was raised.
    let rows: Vec<u32> = (0..100_000).collect();
    let failed = AtomicBool::new(false);
    let ran = Mutex::new(0usize);
    let options = ChunkOptions {
        chunk_size: 100,
        parallelism: 4,
        on_error: OnError::Stop,
    };
    let give_up = Instant::now() + Duration::from_secs(20);
    let report = run_chunked(&rows, &options, |chunk_index, _| {
        *ran.lock() += 1;
        if chunk_index == 0 {
            failed.store(true, Ordering::Release);
            return Err("first chunk failed");
        }
        while !failed.load(Ordering::Acquire) {
            assert!(Instant::now() < give_up, "chunk 0 never ran");
            std::thread::yield_now();
        }
        Ok(())
    });
    let ran = ran.into_inner();
    assert!(ran <= 1 + 3 * 2, "{ran} chunks ran after a Stop");
    assert!(report.stopped_early);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(
        (report.failures[0].chunk_index, report.failures[0].rows),
        (0, 100)
    );
    assert_eq!(report.chunks_ok, ran - 1);
    assert_eq!(report.rows_processed, 100 * (ran as u64 - 1));
}

#[test]
fn empty_input_runs_nothing() {
    let report = run_chunked(&[] as &[u8], &ChunkOptions::default(), |_, _| Err(()));
    assert_eq!((report.rows_processed, report.chunks_ok), (0, 0));
    assert!(report.is_success());
}

#[test]
#[should_panic(expected = "chunk_size must be at least 1")]
fn zero_chunk_size_is_refused() {
    let options = ChunkOptions {
        chunk_size: 0,
        ..ChunkOptions::default()
    };
    let _ = run_chunked(&[1], &options, |_, _| Ok::<(), ()>(()));
}
