//! Hit, miss, insert, eviction and expiration counts.
//!
//! Writes count under the shard's exclusive lock, so those counters are plain adds. Reads run
//! under the shared lock on many threads at once, so hits and misses go to [`Striped`]
//! counters: each thread adds to its own cache line, and nothing is shared between cores on
//! the read path. [`crate::Cache::metrics`] sums the shards.

use std::cell::Cell;
use std::ops::AddAssign;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Stripes per counter: enough that a few threads rarely share one.
const STRIPES: usize = 4;

/// A counter on its own cache line.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

/// An exact counter that threads can bump concurrently without sharing a cache line.
#[derive(Debug, Default)]
pub(crate) struct Striped {
    stripes: [Stripe; STRIPES],
}

thread_local! {
    /// This thread's stripe, handed out round-robin on first use.
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn stripe_of_this_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    STRIPE.with(|stripe| {
        if stripe.get() == usize::MAX {
            stripe.set(NEXT.fetch_add(1, Relaxed) % STRIPES);
        }
        stripe.get()
    })
}

impl Striped {
    /// Adds one.
    #[inline]
    pub(crate) fn increment(&self) {
        self.stripes[stripe_of_this_thread()]
            .0
            .fetch_add(1, Relaxed);
    }

    /// Adds one through exclusive access, without an atomic operation.
    pub(crate) fn increment_mut(&mut self) {
        *self.stripes[0].0.get_mut() += 1;
    }

    /// The total.
    pub(crate) fn sum(&self) -> u64 {
        self.stripes
            .iter()
            .map(|stripe| stripe.0.load(Relaxed))
            .sum()
    }
}

/// Per-shard counters, updated under the shard's lock.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counters {
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) inserts: u64,
    pub(crate) updates: u64,
    pub(crate) removals: u64,
    pub(crate) evictions: u64,
    pub(crate) expirations: u64,
}

/// A snapshot of a cache's counters since it was built.
///
/// Counters are summed shard by shard, so a snapshot taken while other threads work is not a
/// single instant, but every counter only grows and each operation is counted exactly once.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Metrics {
    /// Reads that found a live entry.
    pub hits: u64,
    /// Reads that found nothing, or only an expired entry.
    pub misses: u64,
    /// Entries added under a key that had no live entry.
    pub inserts: u64,
    /// Values replaced under a key that already had an entry.
    pub updates: u64,
    /// Entries removed by `remove` or an invalidation.
    pub removals: u64,
    /// Entries pushed out by the size bound.
    pub evictions: u64,
    /// Entries dropped because their TTL had passed.
    pub expirations: u64,
}

impl Metrics {
    /// Reads that hit, as a fraction of all reads; 0 when there were no reads.
    pub fn hit_ratio(&self) -> f64 {
        let reads = self.hits + self.misses;
        if reads == 0 {
            0.0
        } else {
            self.hits as f64 / reads as f64
        }
    }

    /// All reads: hits plus misses.
    pub fn requests(&self) -> u64 {
        self.hits + self.misses
    }
}

impl AddAssign<&Counters> for Metrics {
    fn add_assign(&mut self, counters: &Counters) {
        self.hits += counters.hits;
        self.misses += counters.misses;
        self.inserts += counters.inserts;
        self.updates += counters.updates;
        self.removals += counters.removals;
        self.evictions += counters.evictions;
        self.expirations += counters.expirations;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn striped_counts_exactly_across_threads() {
        let counter = Striped::default();
        std::thread::scope(|scope| {
            for _ in 0..6 {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        counter.increment();
                    }
                });
            }
        });
        assert_eq!(counter.sum(), 6000);
    }

    #[test]
    fn hit_ratio_of_nothing_is_zero() {
        assert_eq!(Metrics::default().hit_ratio(), 0.0);
    }

    #[test]
    fn hit_ratio_is_hits_over_reads() {
        let metrics = Metrics {
            hits: 3,
            misses: 1,
            ..Metrics::default()
        };
        assert_eq!(metrics.hit_ratio(), 0.75);
        assert_eq!(metrics.requests(), 4);
    }
}
