//! Counters a batcher keeps about its flushes, and the report `close` returns.
//!
//! Everything is counted under the workers' lock at the moments it is taken anyway (a batch
//! handed to a worker, a flush finished), except the sends that find the buffer full, which
//! count themselves in an atomic beside it; so metrics cost nothing per item. The queue-time histogram is updated at the same moment as the queue-time
//! mean and maximum (a batch handed to a worker), so it adds a few instructions per batch and
//! nothing to the send path.

use std::fmt;
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

/// Percentiles of the batcher's queue time, from [`crate::Batcher::queue_time_percentiles`].
///
/// The quantity is the one behind [`Metrics::queue_time_mean`] and [`Metrics::queue_time_max`]:
/// per batch handed to the sink (successful or failed), how long its *oldest* item waited, from
/// the `send` of the batch's first item to the start of the batch's flush. Each batch counts
/// once, whatever its size, so "p99" reads "99 % of batches started flushing within this long
/// of their first item's send"; it bounds the enqueue-to-flush latency of every item of those
/// batches from above. (The batcher reads the clock once per batch, not per item, so it does not
/// know later items' send times.)
///
/// Each percentile is a nearest-rank value read from a log-linear histogram and is within
/// [`QueueTimePercentiles::MAX_RELATIVE_ERROR`] (1/32) of the exact nearest-rank value; it is
/// also clamped to the exact minimum and maximum, so a run whose batches all waited the same
/// time reports that time exactly. All fields are zero before the first flush.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct QueueTimePercentiles {
    /// Batches recorded: every batch handed to the sink so far.
    pub batches: u64,
    /// The median queue time.
    pub p50: Duration,
    /// The 95th percentile.
    pub p95: Duration,
    /// The 99th percentile.
    pub p99: Duration,
    /// The longest queue time, exact (equal to [`Metrics::queue_time_max`]).
    pub max: Duration,
}

impl QueueTimePercentiles {
    /// The bound on each percentile's relative error: the reported value `r` and the exact
    /// nearest-rank value `x` satisfy `|r - x| <= x / 32` (for `x` below 2^40 ns, about 18
    /// minutes; longer waits share the last bucket, and are reported as at most the exact
    /// maximum).
    pub const MAX_RELATIVE_ERROR: f64 = 1.0 / 32.0;
}

/// A log-linear histogram of nanosecond values with fixed memory (HDR-style).
///
/// Values below 16 ns have one bucket each. Above, every power of two `[2^e, 2^(e+1))` is
/// split into 16 equal sub-buckets, so a bucket's width is at most 1/16 of its lower bound and
/// its midpoint is within 1/32 of any value in it. The range ends at 2^40 ns; larger values
/// land in the last bucket. Recording is a `leading_zeros`, a shift and an increment.
/// Memory: [`Histogram::BUCKETS`] `u64` counters (4.6 KiB), boxed.
#[derive(Clone)]
pub(crate) struct Histogram {
    counts: Box<[u64; Histogram::BUCKETS]>,
    count: u64,
    min: u64,
    max: u64,
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count)
            .field("min", &self.min)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: Box::new([0; Self::BUCKETS]),
            count: 0,
            min: u64::MAX,
            max: 0,
        }
    }
}

impl Histogram {
    /// Sub-buckets per power of two (log2).
    const SUB_BITS: u32 = 4;
    const SUB: u64 = 1 << Self::SUB_BITS;
    /// Largest exponent with its own buckets: values up to `2^(MAX_EXP+1) - 1` ns.
    const MAX_EXP: u32 = 39;
    pub(crate) const BUCKETS: usize =
        (Self::SUB as usize) * (1 + (Self::MAX_EXP - Self::SUB_BITS + 1) as usize);

    fn index(value: u64) -> usize {
        if value < Self::SUB {
            return value as usize;
        }
        let exponent = 63 - value.leading_zeros();
        if exponent > Self::MAX_EXP {
            return Self::BUCKETS - 1;
        }
        let sub = (value >> (exponent - Self::SUB_BITS)) - Self::SUB;
        ((exponent - Self::SUB_BITS + 1) as usize) * Self::SUB as usize + sub as usize
    }

    /// Lower bound and width of bucket `bucket_idx`.
    fn bucket(bucket_idx: usize) -> (u64, u64) {
        let sub_count = Self::SUB as usize;
        if bucket_idx < sub_count {
            return (bucket_idx as u64, 1);
        }
        let shift = (bucket_idx / sub_count - 1) as u32;
        let sub = (bucket_idx % sub_count) as u64;
        ((Self::SUB + sub) << shift, 1 << shift)
    }

    #[inline]
    pub(crate) fn record(&mut self, value: Duration) {
        let nanos = u64::try_from(value.as_nanos()).unwrap_or(u64::MAX);
        self.counts[Self::index(nanos)] += 1;
        self.count += 1;
        self.min = self.min.min(nanos);
        self.max = self.max.max(nanos);
    }

    /// The nearest-rank `q`-quantile (`q` in `0.0..=1.0`) in nanoseconds: the midpoint of its
    /// bucket, clamped to the exact minimum and maximum; 0 when empty.
    pub(crate) fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket_idx, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, width) = Self::bucket(bucket_idx);
                return (low + width / 2).clamp(self.min, self.max);
            }
        }
        self.max
    }

    pub(crate) fn percentiles(&self) -> QueueTimePercentiles {
        QueueTimePercentiles {
            batches: self.count,
            p50: Duration::from_nanos(self.quantile(0.50)),
            p95: Duration::from_nanos(self.quantile(0.95)),
            p99: Duration::from_nanos(self.quantile(0.99)),
            max: Duration::from_nanos(self.max),
        }
    }
}

/// The raw counters behind [`Metrics`], kept under the batcher's workers' lock (all but the
/// buffer-full count, which the senders keep).
#[derive(Debug, Default, Clone)]
pub(crate) struct Counters {
    pub(crate) batches_started: u64,
    pub(crate) items_started: u64,
    pub(crate) batches_ok: u64,
    pub(crate) items_ok: u64,
    pub(crate) queue_time_total: Duration,
    pub(crate) queue_time_max: Duration,
    pub(crate) failed_flushes: u64,
    pub(crate) items_failed: u64,
    /// The first send ever: that of the first batch handed to a worker's first item, since
    /// batches are handed over in sequence order.
    pub(crate) first_send: Option<Duration>,
    pub(crate) last_flush_end: Duration,
    /// Every batch's queue time, for [`QueueTimePercentiles`].
    pub(crate) queue_times: Histogram,
}

impl Counters {
    /// The metrics, with the senders' count of full buffers.
    pub(crate) fn snapshot(&self, buffer_full: u64) -> Metrics {
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
            buffer_full,
            failed_flushes: self.failed_flushes,
            items_failed: self.items_failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_contiguous() {
        let mut next = 0;
        for bucket_idx in 0..Histogram::BUCKETS {
            let (low, width) = Histogram::bucket(bucket_idx);
            assert_eq!(low, next, "bucket {bucket_idx}");
            assert_eq!(Histogram::index(low), bucket_idx);
            assert_eq!(Histogram::index(low + width - 1), bucket_idx);
            assert!(width == 1 || width * 16 <= low);
            next = low + width;
        }
        assert_eq!(next, 1 << 40);
        assert_eq!(Histogram::index(u64::MAX), Histogram::BUCKETS - 1);
    }

    #[test]
    fn histogram_quantiles_are_within_the_documented_error() {
        let mut histogram = Histogram::default();
        let values: Vec<u64> = (1..=10_000u64).map(|i| i * i * 37 + 5).collect();
        for &value in &values {
            histogram.record(Duration::from_nanos(value));
        }
        for q in [0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            let rank = ((q * values.len() as f64).ceil() as usize).max(1);
            let exact = values[rank - 1] as f64;
            let got = histogram.quantile(q) as f64;
            assert!(
                (got - exact).abs() <= exact * QueueTimePercentiles::MAX_RELATIVE_ERROR,
                "q={q}: {got} vs {exact}"
            );
        }
    }

    #[test]
    fn an_empty_histogram_reports_zeros() {
        assert_eq!(
            Histogram::default().percentiles(),
            QueueTimePercentiles::default()
        );
    }
}
