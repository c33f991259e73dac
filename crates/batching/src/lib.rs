//! Accumulate items and flush them in batches, on a pool of worker threads.
//!
//! A [`Batcher`] collects items sent from any number of threads into batches and hands each
//! batch to a [`Sink`] (a database writer, a network client) on a flush worker thread.
//!
//! - **Size and linger**: a batch is flushed when it reaches
//!   [`max_batch_size`](BatcherBuilder::max_batch_size), or when its first item has waited
//!   [`linger`](BatcherBuilder::linger), whichever comes first. [`Batcher::flush`] hands the
//!   partial batch over at once. Linger is measured from the first item's send; if every worker
//!   is busy when it runs out, the batch keeps accepting items (up to the size limit) until a
//!   worker is free, since it could not be flushed sooner anyway.
//! - **Backpressure**: at most [`capacity`](BatcherBuilder::capacity) items wait for a worker.
//!   When the buffer is full, [`Batcher::try_send`] returns [`SendError::Full`] and
//!   [`Batcher::send`] waits up to its timeout for room, then returns [`SendError::Timeout`].
//! - **Nothing is dropped silently**: every item sent is either accepted and then flushed,
//!   handed back in a [`SendError`], or handed back in a [`FlushFailure`] when the sink fails
//!   (to the [`on_failure`](BatcherBuilder::on_failure) handler, or kept for
//!   [`Batcher::take_failed`]). A sink that panics is reported as a [`FlushFailure`] with a
//!   [`SinkPanicked`] error counting the items it consumed.
//! - **Close**: [`Batcher::close`] (and dropping the batcher, which blocks the same way) flushes
//!   the remainder and waits for every flush in flight; later sends return
//!   [`SendError::Closed`].
//! - **Parallel flushes**: [`workers`](BatcherBuilder::workers) threads flush batches at once.
//! - **Chunked execution**: [`run_chunked`] runs a closure over a large slice N rows at a time,
//!   optionally on several threads, and reports throughput and failed chunks.
//! - **Metrics** ([`Metrics`]): batches, items, mean batch size, queue time, throughput,
//!   buffer-full count, failures; queue-time p50 / p95 / p99 from a log-linear histogram
//!   ([`QueueTimePercentiles`], within 1/32, from [`Batcher::queue_time_percentiles`]). Time comes from an injectable [`Clock`], so tests drive linger
//!   and timeouts with a [`MockClock`] instead of sleeping.
//!
//! # Ordering
//! - Items are appended to the current batch in the order their sends take effect: one
//!   thread's items keep the order it sent them in, and items from different threads interleave
//!   in the order the sends acquired the producers' lock.
//! - Batches are formed in that same order and numbered from 0 by [`FlushFailure::batch_seq`]
//!   (and [`current_batch_seq`] inside the sink): every item of batch `n` was sent before every
//!   item of batch `n + 1`. Each batch reaches the sink in send order.
//! - Workers take batches in sequence order. With one worker, batches are flushed one at a time
//!   in sequence order, so the sink sees every item in send order. With several workers,
//!   batches start in sequence order but run concurrently and may finish in any order: the
//!   sink may see batch `n + 1` before batch `n` has finished. Use [`current_batch_seq`] if the
//!   sink must restore order.
//! - Failed batches are delivered in the order their flushes fail.
//!
//! # Costs
//! A send takes one short lock that only producers share (the workers take it only to seal a
//! batch whose linger ran out) and pushes onto a `Vec` reserved for a whole batch: no
//! allocation per item, and the clock is read once per batch (for its first item), not per
//! item. Sealing a batch moves the `Vec` onto the workers' queue, under the workers' lock, and
//! swaps in the next one, which a worker allocated outside the locks; the capacity check reads
//! the workers' progress only when the room it last saw is used up. A worker with nothing to
//! do spins for a few tens of microseconds (at most a linger) before it parks, so a batch that
//! fills quickly is handed over without a wake-up; a parked worker is woken at most twice per
//! batch: at its first item, to time its linger, and when it is sealed. A `send` that finds
//! the buffer full likewise watches for a worker to take a batch for a few tens of
//! microseconds (at most its timeout) before it parks, so a producer that keeps the buffer
//! full is not put to sleep and woken once per batch. Metrics are counted
//! per batch under the workers' lock, so they are always on; the queue time in [`Metrics`] is
//! therefore per batch: the wait of its oldest item.
//!
//! # Example
//! ```
//! use batching::{Batcher, infallible_sink};
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let written = Arc::new(Mutex::new(Vec::new()));
//! let sink_written = Arc::clone(&written);
//! let batcher = Batcher::builder()
//!     .max_batch_size(100)
//!     .linger(Duration::from_millis(5))
//!     .build(infallible_sink(move |batch: Vec<u32>| {
//!         sink_written.lock().unwrap().extend(batch);
//!     }));
//!
//! for item in 0..1_000 {
//!     // Waits up to a second for room when the sink falls behind.
//!     batcher.send(item, Duration::from_secs(1))?;
//! }
//! let report = batcher.close();
//! assert_eq!(report.metrics.items_flushed, 1_000);
//! assert_eq!(*written.lock().unwrap(), (0..1_000).collect::<Vec<_>>());
//!
//! // A closed batcher hands items back.
//! let refused = batcher.try_send(7).unwrap_err();
//! assert_eq!(refused.into_inner(), 7);
//! # Ok(())
//! # }
//! ```

mod batcher;
mod chunked;
mod clock;
mod error;
mod metrics;
mod sink;

pub use batcher::{Batcher, BatcherBuilder};
pub use chunked::{ChunkFailure, ChunkOptions, ChunkReport, OnError, run_chunked};
pub use clock::{Clock, MockClock, SystemClock};
pub use error::SendError;
pub use metrics::{CloseReport, Metrics, QueueTimePercentiles};
pub use sink::{
    FlushFailure, InfallibleSink, Sink, SinkFn, SinkPanicked, current_batch_seq, infallible_sink,
    sink_fn,
};
