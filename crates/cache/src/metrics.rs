//! Hit, miss, insert, eviction and expiration counts.
//!
//! Writes count under the shard's exclusive lock, so those counters are plain adds. Reads run
//! under the shared lock on many threads at once, so hits and misses go to [`Striped`]
//! counters: each thread adds to its own cache line, and nothing is shared between cores on
//! the read path. [`crate::Cache::metrics`] sums the shards.
//!
//! The hit-ratio watch ([`HitRatioWatch`]) rides on the striped miss counters: a miss learns
//! its stripe's new count for free from the increment, and only a miss whose count lands on a
//! multiple of the check interval evaluates the window; hits are not touched.

use std::cell::Cell;
use std::fmt;
use std::ops::AddAssign;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;

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
    /// Adds one; returns this thread's stripe's new value, which the hit-ratio watch uses as
    /// a free, thread-local schedule (see [`HitRatioWatch`]).
    #[inline]
    pub(crate) fn increment(&self) -> u64 {
        self.stripes[stripe_of_this_thread()]
            .0
            .fetch_add(1, Relaxed)
            .wrapping_add(1)
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
    /// Failed loads answered with a stale value (see `CacheBuilder::stale_if_error`); not part
    /// of [`Metrics`], whose fields are fixed, but read by `Cache::stale_served`.
    pub(crate) stale_served: u64,
    /// Refreshes started by hits in the refresh window, and those whose loader failed (see
    /// `CacheBuilder::refresh_ahead`); read by `Cache::refreshes` and
    /// `Cache::refresh_failures`, outside [`Metrics`] for the same reason.
    pub(crate) refreshes: u64,
    pub(crate) refresh_failures: u64,
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

/// What a [hit-ratio watch](crate::CacheBuilder::hit_ratio_watch) reports when it fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HitRatioAlert {
    /// The hit ratio over the window that fell below the level.
    pub ratio: f64,
    /// Hits in that window.
    pub hits: u64,
    /// Lookups (hits and misses) in that window: at least the configured window.
    pub lookups: u64,
    /// The configured level.
    pub level: f64,
}

/// The most the watch's re-arming level sits above the alert level.
pub(crate) const HIT_RATIO_HYSTERESIS: f64 = 0.05;

type AlertCallback = Box<dyn Fn(HitRatioAlert) + Send + Sync>;

/// A hit-ratio watch: configured by [`crate::CacheBuilder::hit_ratio_watch`], evaluated by
/// [`crate::Cache`] on the schedule that [`HitRatioWatch::check_mask`] sets.
pub(crate) struct HitRatioWatch {
    pub(crate) window: u64,
    pub(crate) level: f64,
    /// A window must reach this ratio to re-arm the watch after it fired.
    pub(crate) rearm_level: f64,
    callback: AlertCallback,
    state: Mutex<WatchState>,
}

/// Where the current window started, and whether the watch has fired and not re-armed.
#[derive(Debug, Default)]
struct WatchState {
    start_hits: u64,
    start_lookups: u64,
    low: bool,
}

impl fmt::Debug for HitRatioWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HitRatioWatch")
            .field("window", &self.window)
            .field("level", &self.level)
            .field("rearm_level", &self.rearm_level)
            .finish_non_exhaustive()
    }
}

impl HitRatioWatch {
    /// # Panics
    /// If `window` is 0 or `level` is not within `0.0..=1.0`.
    pub(crate) fn new(window: u64, level: f64, callback: AlertCallback) -> Self {
        assert!(
            window > 0,
            "cache: the hit-ratio watch window must be at least 1 lookup"
        );
        assert!(
            (0.0..=1.0).contains(&level),
            "cache: the hit-ratio watch level must be within 0.0..=1.0, got {level}"
        );
        HitRatioWatch {
            window,
            level,
            rearm_level: level + HIT_RATIO_HYSTERESIS.min((1.0 - level) / 2.0),
            callback,
            state: Mutex::new(WatchState::default()),
        }
    }

    /// The mask a miss counter's stripe is tested against after each miss: a miss whose
    /// stripe count `c` has `c & mask == 0` evaluates the window. The interval (`mask + 1`) is
    /// the largest power of two at most `window / (STRIPES * n_shards)` (at least 1): misses
    /// have `STRIPES` stripes per shard, so fewer than `window` misses can pass without any of
    /// them reaching a multiple of the interval. Hits never check, so that a hit costs the same
    /// with a watch as without.
    pub(crate) fn check_mask(&self, n_shards: usize) -> u64 {
        let counters = (STRIPES * n_shards) as u64;
        let interval = (self.window / counters).max(1);
        let interval = 1u64 << (63 - interval.leading_zeros());
        interval - 1
    }

    /// Closes the window if it holds at least `window` lookups, given the cache's totals now;
    /// fires the callback (after releasing the watch's lock) when the window's ratio is below
    /// the level and the watch is armed. If another thread is evaluating, does nothing.
    pub(crate) fn evaluate(&self, totals: impl FnOnce() -> (u64, u64)) {
        let Some(mut state) = self.state.try_lock() else {
            return;
        };
        let (hits, lookups) = totals();
        let window_lookups = lookups.saturating_sub(state.start_lookups);
        if window_lookups < self.window {
            return;
        }
        let window_hits = hits.saturating_sub(state.start_hits).min(window_lookups);
        state.start_hits = hits;
        state.start_lookups = lookups;
        let ratio = window_hits as f64 / window_lookups as f64;
        let alert = if state.low {
            if ratio >= self.rearm_level {
                state.low = false;
            }
            None
        } else if ratio < self.level {
            state.low = true;
            Some(HitRatioAlert {
                ratio,
                hits: window_hits,
                lookups: window_lookups,
                level: self.level,
            })
        } else {
            None
        };
        drop(state);
        if let Some(alert) = alert {
            (self.callback)(alert);
        }
    }

    /// Whether the watch has fired and not re-armed since.
    pub(crate) fn is_low(&self) -> bool {
        self.state.lock().low
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
