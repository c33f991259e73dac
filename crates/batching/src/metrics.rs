//! Counters a batcher keeps about its flushes, and the report `close` returns.
//!
//! Everything is counted under the batcher's lock at the moments it is taken anyway (a batch
//! handed to a worker, a flush finished, a send finding the buffer full), so metrics cost
//! nothing per item.

use std::time::Duration;

/// A snapshot of a batcher's counters since it was built.
///
/// "Flushed" batches are every batch handed to the sink, whether the flush succeeded or not;
/// times come from the batcher's [`crate::Clock`].
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Batches whose flush succeeded.
    pub batches_flushed: u64,
    /// Items written: all items of successful batches, plus the items of failed batches that the
    /// sink did not hand back.
    pub items_flushed: u64,
    /// Mean number of items per batch handed to the sink (successful or failed); 0 before the
    /// first flush.
    pub mean_batch_size: f64,
    /// Mean, over batches handed to the sink, of how long the batch's *oldest* item waited:
    /// from the `send` of the batch's first item to the start of the batch's flush.
    /// It bounds the queue time of every item in the batch from above.
    pub queue_time_mean: Duration,
    /// The longest such wait.
    pub queue_time_max: Duration,
    /// `items_flushed` divided by the time from the first item's send to the end of the latest
    /// flush; 0 while that time is zero.
    pub items_per_second: f64,
    /// How many sends found the buffer full: each `Full` from `try_send`, and each `send` that
    /// had to wait for room (once per call, whether or not it then timed out).
    pub buffer_full: u64,
    /// Batches whose flush failed (the sink returned an error or panicked).
    pub failed_flushes: u64,
    /// Items of failed flushes: those the sink handed back, or the whole batch if it panicked.
    pub items_failed: u64,
}

/// What [`crate::Batcher::close`] did, and the final metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct CloseReport {
    /// Items of the partial batch that this call flushed; 0 if the batcher was already closed.
    pub remainder_items: usize,
    /// Batches that were queued or being flushed when this call began, including the remainder.
    pub batches_awaited: usize,
    /// The metrics once every flush has finished.
    pub metrics: Metrics,
}

/// The raw counters behind [`Metrics`], kept under the batcher's lock.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counters {
    pub(crate) batches_started: u64,
    pub(crate) items_started: u64,
    pub(crate) batches_ok: u64,
    pub(crate) items_ok: u64,
    pub(crate) queue_time_total: Duration,
    pub(crate) queue_time_max: Duration,
    pub(crate) buffer_full: u64,
    pub(crate) failed_flushes: u64,
    pub(crate) items_failed: u64,
    pub(crate) first_send: Option<Duration>,
    pub(crate) last_flush_end: Duration,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> Metrics {
        let mean_batch_size = if self.batches_started == 0 {
            0.0
        } else {
            self.items_started as f64 / self.batches_started as f64
        };
        let queue_time_mean = if self.batches_started == 0 {
            Duration::ZERO
        } else {
            let nanos = self.queue_time_total.as_nanos() / u128::from(self.batches_started);
            Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
        };
        let active = self.first_send.map_or(Duration::ZERO, |first| {
            self.last_flush_end.saturating_sub(first)
        });
        let items_per_second = if active.is_zero() {
            0.0
        } else {
            self.items_ok as f64 / active.as_secs_f64()
        };
        Metrics {
            batches_flushed: self.batches_ok,
            items_flushed: self.items_ok,
            mean_batch_size,
            queue_time_mean,
            queue_time_max: self.queue_time_max,
            items_per_second,
            buffer_full: self.buffer_full,
            failed_flushes: self.failed_flushes,
            items_failed: self.items_failed,
        }
    }
}
