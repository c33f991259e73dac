//! [`CacheBuilder`]: capacity, weigher, shards, clock, TTLs, loader options and hasher.

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::metrics::{HitRatioAlert, HitRatioWatch};
use crate::{Cache, DefaultHashBuilder, Weigher};

/// A shard never gets less than this much capacity when the shard count is chosen
/// automatically: small shards hurt the hit ratio, because each runs its own policy.
const MIN_CAPACITY_PER_SHARD: u64 = 4096;

/// Configures and builds a [`Cache`]; start from [`Cache::builder`].
///
/// ```
/// use cache::{Cache, Expiry};
/// use std::time::Duration;
///
/// let cache: Cache<String, Vec<u8>> = Cache::builder(64 * 1024 * 1024)
///     .weigher(|_key: &String, value: &Vec<u8>| value.len() as u32)
///     .default_ttl(Duration::from_secs(300))
///     .class_ttl("batches", Duration::from_secs(3600))
///     .build();
/// let batches = cache.ttl_class("batches").expect("declared above");
/// cache.insert_with("batch-17".to_string(), vec![0; 1024], Expiry::Class(batches));
/// assert_eq!(cache.get("batch-17").map(|v| v.len()), Some(1024));
/// ```
pub struct CacheBuilder<K, V, S = DefaultHashBuilder> {
    capacity: u64,
    weigher: Option<Weigher<K, V>>,
    shards: Option<usize>,
    clock: Arc<dyn Clock>,
    default_ttl: Option<Duration>,
    classes: Vec<(String, Duration)>,
    watch: Option<HitRatioWatch>,
    stale_grace: Option<Duration>,
    refresh_fraction: Option<f64>,
    hash_builder: S,
    _marker: PhantomData<fn(K, V)>,
}

impl<K, V, S> fmt::Debug for CacheBuilder<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("capacity", &self.capacity)
            .field("weighted", &self.weigher.is_some())
            .field("shards", &self.shards)
            .field("default_ttl", &self.default_ttl)
            .field("classes", &self.classes)
            .field("hit_ratio_watch", &self.watch)
            .field("stale_if_error", &self.stale_grace)
            .field("refresh_ahead", &self.refresh_fraction)
            .finish_non_exhaustive()
    }
}

impl<K, V> CacheBuilder<K, V> {
    pub(crate) fn new(capacity: u64) -> Self {
        CacheBuilder {
            capacity,
            weigher: None,
            shards: None,
            clock: Arc::new(SystemClock::default()),
            default_ttl: None,
            classes: Vec::new(),
            watch: None,
            stale_grace: None,
            refresh_fraction: None,
            hash_builder: DefaultHashBuilder::default(),
            _marker: PhantomData,
        }
    }
}

impl<K, V, S> CacheBuilder<K, V, S> {
    /// Bounds the cache by total weight instead of entry count: the capacity given to
    /// [`Cache::builder`] becomes the maximum sum of `weigher(key, value)` over all entries.
    /// A weight of 0 counts as 1. An entry heavier than a whole shard is evicted at once.
    pub fn weigher(mut self, weigher: impl Fn(&K, &V) -> u32 + Send + Sync + 'static) -> Self {
        self.weigher = Some(Box::new(weigher));
        self
    }

    /// Sets the number of shards (rounded up to a power of two, at most the capacity).
    ///
    /// By default the cache uses four shards per available core, but never so many that a
    /// shard holds less than 4096 units of capacity, because each shard runs its own eviction
    /// policy and small ones evict worse.
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards.max(1));
        self
    }

    /// Sets the time source; tests pass a [`crate::MockClock`] to move time by hand.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Sets the TTL of entries inserted with [`crate::Expiry::Default`] (by `insert`, for one).
    /// Without it they never expire.
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = Some(ttl);
        self
    }

    /// Declares a class of data with its own TTL, for example `("query-results", 5 min)`.
    /// Look the class up once with [`Cache::ttl_class`] and insert with [`crate::Expiry::Class`].
    /// Declaring a name twice keeps the last TTL.
    pub fn class_ttl(mut self, name: impl Into<String>, ttl: Duration) -> Self {
        let name = name.into();
        match self
            .classes
            .iter_mut()
            .find(|(existing, _)| *existing == name)
        {
            Some(class) => class.1 = ttl,
            None => self.classes.push((name, ttl)),
        }
        self
    }

    /// Stale-if-error: when a loader of [`Cache::get_or_try_insert_with`] (or its `_expiry` and
    /// infallible forms) fails and the key's entry expired at most `grace` before the failure,
    /// the call returns that stale value instead of the error.
    ///
    /// - Expired entries within `grace` of their expiry are therefore kept instead of being
    ///   dropped when a read finds them; reads still never return them ([`Cache::get`] misses,
    ///   and the loader runs). Eviction, [`Cache::purge_expired`], removal and invalidation drop
    ///   them as before, and an invalidation during the load means the error is returned.
    /// - The callers waiting on that load get the same stale value. The stale value is not
    ///   stored again: the next call runs the loader again.
    /// - [`Cache::stale_served`] counts the failed loads answered this way.
    ///
    /// A `grace` of zero turns it off (the default).
    pub fn stale_if_error(mut self, grace: Duration) -> Self {
        self.stale_grace = (!grace.is_zero()).then_some(grace);
        self
    }

    /// Refresh-ahead: a hit through [`Cache::get_or_try_insert_with`] (or its `_expiry` and
    /// infallible forms) on an entry in the last `fraction` of its TTL reloads the entry before
    /// it expires, so that a hot key never misses on its expiry.
    ///
    /// - **The window**: an entry with TTL `t` is due for a refresh from `(1 - fraction) × t`
    ///   after it was written until it expires. A fraction of the TTL rather than a fixed
    ///   duration, so that each TTL class and each `Expiry::After` gets a window in proportion:
    ///   a fixed lead longer than some entry's TTL would reload that entry on every hit.
    ///   Entries without a TTL are never refreshed.
    /// - **Who loads**: the first loader hit in the window runs its own loader at once, on its
    ///   own thread, and gets the new value; every other caller meanwhile (a hit, with or
    ///   without a loader) gets the current value at once and never waits for the refresh. So
    ///   one caller per refresh pays the load's latency instead of every caller that misses
    ///   after the expiry. The cache starts no threads of its own: a background refresh would
    ///   need `'static`, `Send` loaders stored in the cache and a thread to own, where this way
    ///   the loader stays the caller's closure, borrowing what it likes, and the timing is
    ///   exact under a [`crate::MockClock`]. A caller that must never wait can make its calls
    ///   from a worker thread.
    /// - **Single flight**: a refresh is a load registered like any other, so concurrent hits
    ///   start no second one, and callers that miss (the entry expired meanwhile) wait for it.
    /// - **Success** stores the new value with the call's expiry, which opens a new window.
    ///   **Failure** keeps the old value until it expires (the next loader hit in the window
    ///   tries again) and is counted by [`Cache::refresh_failures`]; the caller that ran the
    ///   loader gets the old value, not the error, unless the key was invalidated meanwhile.
    /// - **Invalidation**: a refresh racing a `remove` or any invalidation of its key returns
    ///   its value to its caller but never stores it, so a removed value does not come back.
    /// - [`Cache::refreshes`] counts the refreshes started. [`Cache::get`] never refreshes:
    ///   it has no loader.
    /// - **Cost**: one more word per entry (its refresh time), and a comparison on the loader
    ///   path's hits; [`Cache::get`] is unchanged.
    ///
    /// A `fraction` of zero turns it off (the default).
    ///
    /// # Panics
    /// If `fraction` is not within `0.0..1.0`: a window of the whole TTL would reload every
    /// entry on its first hit.
    pub fn refresh_ahead(mut self, fraction: f64) -> Self {
        assert!(
            (0.0..1.0).contains(&fraction),
            "cache: the refresh-ahead fraction must be within 0.0..1.0, got {fraction}"
        );
        self.refresh_fraction = (fraction > 0.0).then_some(fraction);
        self
    }

    /// Watches the hit ratio: calls `callback` when the ratio over a window of at least
    /// `window` lookups falls below `level` (a fraction, `0.0..=1.0`).
    ///
    /// - **Lookups** are the reads that count a hit or a miss in the [`crate::Metrics`]: `get`,
    ///   `get_many` and the look-up of `get_or_try_insert_with`.
    /// - **Windows**: the first window starts when the cache is built; a window closes at the
    ///   first check after it holds at least `window` lookups, and the next starts there.
    ///   Checks are made only by misses: by the miss that brings its own stripe of the miss
    ///   counter (each shard has 4 stripes, one per thread in turn) to a multiple of the
    ///   interval, the largest power of two at most `window / (4 × shards)`, at least 1. So
    ///   fewer than `window` misses pass without a check. A falling hit ratio means misses, so
    ///   a bad window is closed promptly; a window of nothing but hits stays open until the next
    ///   checking miss (it cannot fire, but a fired watch re-arms only then). A check is skipped
    ///   if another thread is running one. With `window` below `4 × shards` every miss checks.
    /// - **Hysteresis**: the callback fires when a window's ratio is below `level` and the
    ///   watch is armed; the watch then disarms and fires no more until a window's ratio reaches
    ///   `level + min(0.05, (1 - level) / 2)`, which re-arms it. A ratio that hovers around the
    ///   level therefore fires once, not at every window. [`Cache::hit_ratio_is_low`] reads the
    ///   same state as a flag.
    /// - **Cost**: a hit pays nothing. A miss pays one AND and a branch on the stripe count its
    ///   increment returns anyway. A due check (once per interval per stripe) takes each
    ///   shard's shared lock briefly to sum two striped counters, on one thread at a time
    ///   (others skip it). The callback runs on that missing thread, with no lock of the cache
    ///   held, so it may use the cache; keep it short, since the reader waits for it.
    ///
    /// # Panics
    /// If `window` is 0 or `level` is not within `0.0..=1.0`.
    pub fn hit_ratio_watch(
        mut self,
        window: u64,
        level: f64,
        callback: impl Fn(HitRatioAlert) + Send + Sync + 'static,
    ) -> Self {
        self.watch = Some(HitRatioWatch::new(window, level, Box::new(callback)));
        self
    }

    /// Sets the hasher used for sharding, the table and the frequency sketch.
    /// The default is randomly seeded per cache; a fixed seed makes eviction reproducible.
    pub fn hasher<S2>(self, hash_builder: S2) -> CacheBuilder<K, V, S2> {
        CacheBuilder {
            capacity: self.capacity,
            weigher: self.weigher,
            shards: self.shards,
            clock: self.clock,
            default_ttl: self.default_ttl,
            classes: self.classes,
            watch: self.watch,
            stale_grace: self.stale_grace,
            refresh_fraction: self.refresh_fraction,
            hash_builder,
            _marker: PhantomData,
        }
    }

    /// Builds the cache.
    ///
    /// # Panics
    /// If more than 65,535 TTL classes were declared.
    pub fn build(self) -> Cache<K, V, S> {
        assert!(
            self.classes.len() <= usize::from(u16::MAX),
            "at most 65535 TTL classes are supported"
        );
        let n_shards = self
            .shards
            .unwrap_or_else(|| default_shard_count(self.capacity));
        let n_shards = n_shards
            .next_power_of_two()
            .min(usize::try_from(self.capacity.max(1)).unwrap_or(usize::MAX))
            .max(1);
        // `min` with the capacity may have broken the power of two; round down to one.
        let n_shards = 1usize << (usize::BITS - 1 - n_shards.leading_zeros());
        Cache::from_parts(
            self.capacity,
            n_shards,
            self.weigher,
            self.clock,
            self.default_ttl,
            self.classes,
            self.watch,
            self.stale_grace,
            self.refresh_fraction,
            self.hash_builder,
        )
    }

    /// Builds the cache and [warms](Cache::warm) it with `entries`, most important first.
    ///
    /// # Panics
    /// As [`CacheBuilder::build`].
    pub fn build_with(self, entries: impl IntoIterator<Item = (K, V)>) -> Cache<K, V, S>
    where
        K: Hash + Eq,
        S: BuildHasher,
    {
        let cache = self.build();
        cache.warm(entries);
        cache
    }
}

fn default_shard_count(capacity: u64) -> usize {
    let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
    let mut shards = (cores * 4).next_power_of_two();
    while shards > 1 && capacity / (shards as u64) < MIN_CAPACITY_PER_SHARD {
        shards /= 2;
    }
    shards
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_caches_get_one_shard() {
        assert_eq!(default_shard_count(250), 1);
        assert_eq!(default_shard_count(4096 * 2 - 1), 1);
    }

    #[test]
    fn shard_count_is_a_power_of_two_within_capacity() {
        for (requested, capacity, expected) in [(3, 1000, 4), (16, 5, 4), (1, 0, 1), (7, 7, 4)] {
            let cache: Cache<u32, u32> = Cache::builder(capacity).shards(requested).build();
            assert_eq!(
                cache.shard_count(),
                expected,
                "{requested} shards, capacity {capacity}"
            );
        }
    }
}
