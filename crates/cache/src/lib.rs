//! A sharded, concurrent, in-process cache with a scan-resistant eviction policy.
//!
//! - **Bounded** by entry count, or by total weight with a [`CacheBuilder::weigher`].
//! - **Concurrent**: `Cache` is `Send + Sync` (for `Send + Sync` keys and values) and every
//!   operation takes `&self`; keys are spread over independently locked shards, and reads of
//!   one shard share its lock.
//! - **Scan-resistant**: each shard runs W-TinyLFU with an adaptive window (the policy of
//!   Caffeine): a new key must be more popular than the entry it would evict, so a one-off scan
//!   does not flush the working set. The window between recency and frequency adapts by ARC's
//!   ghost rule. On the real traces replayed by the workspace's `trace-replay` tool it is well
//!   ahead of LRU, and at most points ahead of moka and quick_cache (figures in the README).
//! - **TTL** per entry and per class of data ([`Expiry`]); expired entries are never returned.
//!   Time comes from an injectable [`Clock`].
//! - **Single-flight loading**: when many threads miss on one key at once,
//!   [`Cache::get_or_try_insert_with`] runs the loader once and hands the value, or the error, to
//!   every waiter. Errors are not cached; a panicking loader lets the next caller try.
//!   With [`CacheBuilder::stale_if_error`], a failed load falls back on the key's value if it
//!   expired within a grace period (counted by [`Cache::stale_served`]).
//!   With [`CacheBuilder::refresh_ahead`], a loader hit in the last part of an entry's TTL
//!   reloads it before it expires, while other callers keep getting the current value
//!   (counted by [`Cache::refreshes`] and [`Cache::refresh_failures`]).
//! - **Invalidation** of one key, by prefix for string-like keys, or by predicate.
//! - **Warm-up**: [`Cache::warm`] (or [`CacheBuilder::build_with`]) fills a cache from a list
//!   ordered by importance, straight into the main space and with seeded frequencies, so a
//!   restart or a new replica starts hot; [`Cache::snapshot`] lists a cache's entries hottest
//!   first, ready to feed `warm`.
//! - **Metrics** ([`Metrics`]): hits, misses, inserts, evictions, expirations, hit ratio. They are
//!   counters that each thread bumps on its own cache line (plain adds on the write path), so
//!   they are always on.
//! - **Hit-ratio watch** ([`CacheBuilder::hit_ratio_watch`]): a callback when the hit ratio over
//!   a window of lookups falls below a level, once until it recovers; checked on a coarse
//!   schedule read off the striped miss counters, so a hit pays nothing and a miss one AND
//!   and a branch.
//!
//! # Costs
//! A `get` hashes the key once, takes one shard's shared lock (readers of a shard run in
//! parallel), probes a SwissTable and marks the node: O(1), no allocation, no list relinking;
//! the policy catches up when entries are evicted. An `insert` of a new key may
//! evict; each eviction is amortised O(1). Invalidation by prefix or predicate visits every entry.
//! Values are cloned out of the cache, so store an `Arc` for values that are expensive to clone.
//!
//! # Example
//! ```
//! use cache::Cache;
//!
//! # fn main() -> Result<(), std::sync::Arc<std::io::Error>> {
//! let cache: Cache<String, String> = Cache::new(10_000);
//! cache.insert("user:1".to_string(), "Ada".to_string());
//! assert_eq!(cache.get("user:1").as_deref(), Some("Ada"));
//!
//! // Cache-aside with single flight: concurrent misses on one key run the loader once.
//! let name = cache.get_or_try_insert_with("user:2".to_string(), || {
//!     Ok::<_, std::io::Error>("Grace".to_string())
//! })?;
//! assert_eq!(name, "Grace");
//!
//! cache.invalidate_prefix("user:");
//! assert!(cache.is_empty());
//! assert_eq!(cache.metrics().hits, 1);
//! # Ok(())
//! # }
//! ```

mod builder;
mod clock;
mod flight;
mod metrics;
mod shard;
mod sketch;

use std::any::Any;
use std::borrow::Borrow;
use std::convert::Infallible;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

pub use crate::builder::CacheBuilder;
pub use crate::clock::{Clock, MockClock, SystemClock};
pub use crate::metrics::{HitRatioAlert, Metrics};

use crate::flight::{Flight, Outcome, PendingLoad};
use crate::metrics::HitRatioWatch;
use crate::shard::{Deadlines, Found, LazyNow, NEVER, Replaced, Shard};

/// The default hasher: foldhash, seeded at random per cache.
pub type DefaultHashBuilder = foldhash::fast::RandomState;

type Weigher<K, V> = Box<dyn Fn(&K, &V) -> u32 + Send + Sync>;

/// When an inserted entry expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// The cache's default TTL ([`CacheBuilder::default_ttl`]), or never if it has none.
    Default,
    /// Never; the entry leaves only by eviction, removal or invalidation.
    Never,
    /// This long after the insert.
    After(Duration),
    /// The TTL of a class declared with [`CacheBuilder::class_ttl`].
    Class(TtlClass),
}

/// A class of data with its own TTL; get one from [`Cache::ttl_class`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TtlClass(u16);

/// A shard and the loads in progress for its keys, under one lock.
struct ShardState<K, V> {
    shard: Shard<K, V>,
    pending: Vec<PendingLoad<K>>,
}

/// Keeps each shard's lock on its own cache lines, so two cores working on neighbouring
/// shards do not invalidate each other's lines.
#[repr(align(128))]
struct Padded<T>(T);

type ShardLock<K, V> = Padded<RwLock<ShardState<K, V>>>;

/// A sharded, concurrent, bounded cache; see the [crate docs](crate).
pub struct Cache<K, V, S = DefaultHashBuilder> {
    shards: Box<[ShardLock<K, V>]>,
    shard_mask: usize,
    capacity: u64,
    weigher: Option<Weigher<K, V>>,
    clock: Arc<dyn Clock>,
    default_ttl: Option<Duration>,
    classes: Box<[(String, Duration)]>,
    /// The hit-ratio watch, if configured; boxed so that a cache without one stays small.
    watch: Option<Box<HitRatioWatch>>,
    /// The share of an entry's TTL, at its end, in which a loader hit refreshes it
    /// ([`CacheBuilder::refresh_ahead`]); `None` without refresh-ahead.
    refresh_fraction: Option<f64>,
    hash_builder: S,
}

impl<K, V, S> fmt::Debug for Cache<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("capacity", &self.capacity)
            .field("weighted", &self.weigher.is_some())
            .field("shards", &self.shards.len())
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl<K, V> Cache<K, V> {
    /// A cache holding at most `max_entries` entries, with no TTL.
    pub fn new(max_entries: u64) -> Self {
        Cache::builder(max_entries).build()
    }

    /// Starts configuring a cache bounded by `capacity`: an entry count, or a total weight
    /// when a [`CacheBuilder::weigher`] is set.
    pub fn builder(capacity: u64) -> CacheBuilder<K, V> {
        CacheBuilder::new(capacity)
    }
}

impl<K, V, S> Cache<K, V, S> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_parts(
        capacity: u64,
        n_shards: usize,
        weigher: Option<Weigher<K, V>>,
        clock: Arc<dyn Clock>,
        default_ttl: Option<Duration>,
        classes: Vec<(String, Duration)>,
        watch: Option<HitRatioWatch>,
        stale_grace: Option<Duration>,
        refresh_fraction: Option<f64>,
        hash_builder: S,
    ) -> Self {
        assert!(n_shards.is_power_of_two());
        let per_shard = capacity / n_shards as u64;
        let remainder = capacity % n_shards as u64;
        let watch_mask = watch
            .as_ref()
            .map_or(u64::MAX, |watch| watch.check_mask(n_shards));
        let shards = (0..n_shards)
            .map(|shard_idx| {
                let extra = u64::from((shard_idx as u64) < remainder);
                let mut shard = Shard::new(per_shard + extra, 0x5eed + shard_idx as u64);
                shard.set_watch_mask(watch_mask);
                if let Some(grace) = stale_grace {
                    shard.set_stale_grace(u64::try_from(grace.as_nanos()).unwrap_or(u64::MAX));
                }
                Padded(RwLock::new(ShardState {
                    shard,
                    pending: Vec::new(),
                }))
            })
            .collect();
        Cache {
            shards,
            shard_mask: n_shards - 1,
            capacity,
            weigher,
            clock,
            default_ttl,
            classes: classes.into_boxed_slice(),
            watch: watch.map(Box::new),
            refresh_fraction,
            hash_builder,
        }
    }

    /// The bound given at construction: entries, or total weight when weighted.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The number of entries held, including expired ones not yet dropped.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.0.read().shard.len())
            .sum()
    }

    /// Whether the cache holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The total weight held (the entry count when not weighted).
    pub fn weighted_size(&self) -> u64 {
        self.shards
            .iter()
            .map(|shard| shard.0.read().shard.weighted_size())
            .sum()
    }

    /// The counters since the cache was built.
    pub fn metrics(&self) -> Metrics {
        let mut metrics = Metrics::default();
        for shard in self.shards.iter() {
            metrics += &shard.0.read().shard.counters();
        }
        metrics
    }

    /// The live entries, hottest first, ready for [`Cache::warm`] on another cache.
    ///
    /// "Hottest" is the eviction policy's own view: entries are ordered by their TinyLFU
    /// frequency estimate (recent reads and inserts, aged), highest first; entries with equal
    /// estimates keep the order protected segment, probation, window, most recently used first
    /// within each. Expired entries are left out. Remaining TTLs are not carried: [`Cache::warm`]
    /// gives every entry the target cache's default TTL.
    ///
    /// Clones every key and value, holding each shard's shared lock while it copies that shard;
    /// reads go on meanwhile, writes to that shard wait. Neither the counters nor the policy
    /// see it.
    pub fn snapshot(&self) -> Vec<(K, V)>
    where
        K: Clone,
        V: Clone,
    {
        let mut entries = Vec::new();
        for shard in self.shards.iter() {
            let mut now = LazyNow::new(&*self.clock);
            shard.0.read().shard.collect_hot(&mut now, &mut entries);
        }
        // Stable: equal estimates keep the per-shard order.
        entries.sort_by_key(|&(frequency, ..)| std::cmp::Reverse(frequency));
        entries
            .into_iter()
            .map(|(_, key, value)| (key, value))
            .collect()
    }

    /// Failed loads answered with a stale value since the cache was built (see
    /// [`CacheBuilder::stale_if_error`]): one per loader run that failed, however many callers
    /// were waiting on it.
    pub fn stale_served(&self) -> u64 {
        self.shards
            .iter()
            .map(|shard| shard.0.read().shard.counters().stale_served)
            .sum()
    }

    /// Refreshes started since the cache was built (see [`CacheBuilder::refresh_ahead`]): one
    /// per loader run that a hit in an entry's refresh window started, whatever its outcome.
    pub fn refreshes(&self) -> u64 {
        self.shards
            .iter()
            .map(|shard| shard.0.read().shard.counters().refreshes)
            .sum()
    }

    /// Refreshes whose loader returned an error since the cache was built; the entry kept its
    /// old value (see [`CacheBuilder::refresh_ahead`]).
    pub fn refresh_failures(&self) -> u64 {
        self.shards
            .iter()
            .map(|shard| shard.0.read().shard.counters().refresh_failures)
            .sum()
    }

    /// Whether the [hit-ratio watch](CacheBuilder::hit_ratio_watch) has fired and not re-armed
    /// since: the latest window's hit ratio was below the level, and no window has reached the
    /// re-arming level after it. Always false without a watch.
    pub fn hit_ratio_is_low(&self) -> bool {
        self.watch.as_ref().is_some_and(|watch| watch.is_low())
    }

    /// Evaluates the hit-ratio watch; called, with no shard lock held, by a miss that
    /// [`Shard::lookup`] marked as due.
    #[cold]
    #[inline(never)]
    fn check_hit_ratio_watch(&self) {
        if let Some(watch) = &self.watch {
            watch.evaluate(|| {
                self.shards
                    .iter()
                    .map(|shard| shard.0.read().shard.hits_and_lookups())
                    .fold((0, 0), |(hits, lookups), (shard_hits, shard_lookups)| {
                        (hits + shard_hits, lookups + shard_lookups)
                    })
            });
        }
    }

    /// The handle of a TTL class declared with [`CacheBuilder::class_ttl`].
    pub fn ttl_class(&self, name: &str) -> Option<TtlClass> {
        self.classes
            .iter()
            .position(|(class, _)| class == name)
            .map(|idx| TtlClass(idx as u16))
    }

    /// Removes every entry for which `predicate(key, value)` is true; returns how many.
    /// Loads in progress cannot be checked against the predicate, so their results are
    /// returned to their callers but not stored.
    pub fn invalidate_if(&self, mut predicate: impl FnMut(&K, &V) -> bool) -> usize {
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut now = LazyNow::new(&*self.clock);
            let mut state = shard.0.write();
            removed += state.shard.remove_where(&mut now, &mut predicate);
            for load in &mut state.pending {
                load.stale = true;
            }
        }
        removed
    }

    /// Removes every entry; returns how many live ones there were.
    pub fn invalidate_all(&self) -> usize {
        self.invalidate_if(|_, _| true)
    }

    /// Drops every expired entry now instead of when it is next touched or evicted;
    /// returns how many were dropped.
    pub fn purge_expired(&self) -> usize {
        let mut purged = 0;
        for shard in self.shards.iter() {
            let mut now = LazyNow::new(&*self.clock);
            let mut state = shard.0.write();
            let before = state.shard.counters().expirations;
            state.shard.remove_where(&mut now, |_, _| false);
            purged += (state.shard.counters().expirations - before) as usize;
        }
        purged
    }

    /// Removes every entry whose key starts with `prefix`; returns how many.
    pub fn invalidate_prefix(&self, prefix: &str) -> usize
    where
        K: AsRef<str>,
    {
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut now = LazyNow::new(&*self.clock);
            let mut state = shard.0.write();
            removed += state
                .shard
                .remove_where(&mut now, |key, _| key.as_ref().starts_with(prefix));
            for load in &mut state.pending {
                if load.key.as_ref().starts_with(prefix) {
                    load.stale = true;
                }
            }
        }
        removed
    }

    /// When an entry written now with `expiry` expires, and when its refresh window opens.
    fn deadlines(&self, expiry: Expiry, now: &mut LazyNow<'_>) -> Deadlines {
        let ttl = match expiry {
            Expiry::Default => self.default_ttl,
            Expiry::Never => None,
            Expiry::After(ttl) => Some(ttl),
            Expiry::Class(TtlClass(idx)) => Some(self.classes[usize::from(idx)].1),
        };
        let Some(ttl) = ttl else {
            return Deadlines {
                expires_at: NEVER,
                refresh_at: NEVER,
            };
        };
        let ttl_nanos = u64::try_from(ttl.as_nanos()).unwrap_or(NEVER);
        let start = now.nanos();
        let expires_at = start.saturating_add(ttl_nanos).min(NEVER - 1);
        let refresh_at = match self.refresh_fraction {
            // The window is the last `fraction` of the TTL; rounding the lead down keeps it
            // within the TTL, and an entry whose lead rounds to nothing is never refreshed.
            Some(fraction) => {
                let lead = ((expires_at - start) as f64 * fraction) as u64;
                if lead == 0 { NEVER } else { expires_at - lead }
            }
            None => NEVER,
        };
        Deadlines {
            expires_at,
            refresh_at,
        }
    }

    fn weigh(&self, key: &K, value: &V) -> u32 {
        match &self.weigher {
            None => 1,
            Some(weigher) => weigher(key, value).max(1),
        }
    }

    /// Checks every shard's structural invariants; used by tests after every operation.
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        for shard in self.shards.iter() {
            shard.0.read().shard.check_invariants();
        }
    }
}

impl<K, V, S> Cache<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    #[inline]
    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hash_builder.hash_one(key)
    }

    #[inline]
    fn shard_idx(&self, hash: u64) -> usize {
        // The table uses the low bits for buckets and the top seven as tags; shards take
        // bits from the middle so neither loses entropy.
        (hash >> 32) as usize & self.shard_mask
    }

    #[inline]
    fn shard(&self, hash: u64) -> &RwLock<ShardState<K, V>> {
        &self.shards[self.shard_idx(hash)].0
    }

    /// The value under `key`, if there is a live one. Counts a hit or a miss.
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let hash = self.hash(key);
        let mut now = LazyNow::new(&*self.clock);
        let shard = self.shard(hash);
        let absent = match shard.read().shard.lookup(hash, key, &mut now) {
            Found::Live(value) => return Some(value.clone()),
            Found::Absent => true,
            Found::Expired => false,
        };
        // A miss may be due to check the hit-ratio watch, which needs the shard's lock free.
        if now.watch_due {
            self.check_hit_ratio_watch();
        }
        if absent {
            return None;
        }
        // Rare: the entry expired. Removing it needs the exclusive lock.
        shard.write().shard.expire(hash, key, &mut now);
        None
    }

    /// Whether `key` has a live entry. Neither the counters nor the eviction policy see it.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let mut now = LazyNow::new(&*self.clock);
        self.shard(hash).read().shard.contains(hash, key, &mut now)
    }

    /// Inserts with the default TTL; returns the value that was live under `key`, if any.
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        self.insert_with(key, value, Expiry::Default)
    }

    /// Inserts with the given expiry; returns the value that was live under `key`, if any.
    pub fn insert_with(&self, key: K, value: V, expiry: Expiry) -> Option<V> {
        let hash = self.hash(&key);
        let weight = self.weigh(&key, &value);
        let mut now = LazyNow::new(&*self.clock);
        let deadlines = self.deadlines(expiry, &mut now);
        let mut state = self.shard(hash).write();
        match state
            .shard
            .insert(hash, key, value, weight, deadlines, &mut now)
        {
            Replaced::Nothing => None,
            Replaced::Value(old) => Some(old),
        }
    }

    /// Removes `key`; returns its value if it was live.
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let mut now = LazyNow::new(&*self.clock);
        let mut state = self.shard(hash).write();
        let removed = state.shard.remove(hash, key, &mut now);
        for load in &mut state.pending {
            if load.hash == hash && load.key.borrow() == key {
                load.stale = true;
            }
        }
        removed
    }

    /// Removes `key`; returns whether a live entry was there. A load of `key` in progress
    /// still answers its callers, but its result is not stored.
    pub fn invalidate<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove(key).is_some()
    }

    /// Looks up many keys, locking each shard once; the answers are in the order of `keys`.
    pub fn get_many<'q, Q>(&self, keys: impl IntoIterator<Item = &'q Q>) -> Vec<Option<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized + 'q,
        V: Clone,
    {
        let keys: Vec<&Q> = keys.into_iter().collect();
        let mut order: Vec<(usize, u64, usize)> = keys
            .iter()
            .enumerate()
            .map(|(pos, key)| {
                let hash = self.hash(*key);
                (self.shard_idx(hash), hash, pos)
            })
            .collect();
        order.sort_unstable_by_key(|&(shard_idx, _, _)| shard_idx);
        let mut values = vec![None; keys.len()];
        let mut now = LazyNow::new(&*self.clock);
        let mut expired = Vec::new();
        for group in order.chunk_by(|a, b| a.0 == b.0) {
            let state = self.shards[group[0].0].0.read();
            for &(shard_idx, hash, pos) in group {
                match state.shard.lookup(hash, keys[pos], &mut now) {
                    Found::Live(value) => values[pos] = Some(value.clone()),
                    Found::Absent => {}
                    Found::Expired => expired.push((shard_idx, hash, pos)),
                }
            }
        }
        for (shard_idx, hash, pos) in expired {
            self.shards[shard_idx]
                .0
                .write()
                .shard
                .expire(hash, keys[pos], &mut now);
        }
        if now.watch_due {
            self.check_hit_ratio_watch();
        }
        values
    }

    /// `entries` hashed and grouped by shard (shard index, hash, key, value), in input order
    /// within each shard (a stable sort), so a batch operation locks each shard once.
    fn by_shard(&self, entries: impl IntoIterator<Item = (K, V)>) -> Vec<(usize, u64, K, V)> {
        let mut batch: Vec<(usize, u64, K, V)> = entries
            .into_iter()
            .map(|(key, value)| {
                let hash = self.hash(&key);
                (self.shard_idx(hash), hash, key, value)
            })
            .collect();
        batch.sort_by_key(|entry| entry.0);
        batch
    }

    /// Inserts many entries with the default TTL, locking each shard once.
    pub fn insert_many(&self, entries: impl IntoIterator<Item = (K, V)>) {
        let mut now = LazyNow::new(&*self.clock);
        let deadlines = self.deadlines(Expiry::Default, &mut now);
        // The input order is kept within a shard, so the last write to a key wins.
        let mut entries = self.by_shard(entries).into_iter().peekable();
        while let Some(&(shard_idx, ..)) = entries.peek() {
            let mut state = self.shards[shard_idx].0.write();
            while let Some((_, hash, key, value)) = entries.next_if(|entry| entry.0 == shard_idx) {
                let weight = self.weigh(&key, &value);
                state
                    .shard
                    .insert(hash, key, value, weight, deadlines, &mut now);
            }
        }
    }

    /// Fills the cache from `entries`, most important first, in one call; returns how many
    /// were stored. Use it to start a cache hot, from a [`Cache::snapshot`] of another cache or
    /// from any list ordered by expected popularity.
    ///
    /// The warm-up rule:
    /// - Warm entries do **not** go through the window or the admission contest: each is stored
    ///   directly in its shard's main space, the first ones (in the iterator's order) in the
    ///   protected segment up to its share (80 % of the main space), the next ones in probation.
    /// - Nothing is evicted to make room: once a shard is full, the later entries for that
    ///   shard are dropped, so warming past capacity keeps the *first* entries. An entry too
    ///   heavy for the room left in its shard is skipped, and a lighter later one may still
    ///   fit. (Each shard has its own share of the capacity, so with several shards the kept set
    ///   is the first entries of each shard.)
    /// - Keys that already have an entry are left as they are (the cache's own value is taken
    ///   to be fresher), and so is any repeat of a key within `entries`: the first one wins.
    /// - Each stored key's frequency-sketch counters are raised by 2, so a one-hit wonder (a
    ///   new key seen once) loses the admission contest against a warm entry instead of pushing
    ///   it out; a warm entry that is never read fades after two agings of the sketch.
    /// - Entries get the default TTL, as with [`Cache::insert`]; each stored one counts as an
    ///   insert in the [`Metrics`].
    ///
    /// Locks each shard once.
    pub fn warm(&self, entries: impl IntoIterator<Item = (K, V)>) -> usize {
        let mut now = LazyNow::new(&*self.clock);
        let deadlines = self.deadlines(Expiry::Default, &mut now);
        // The input order, the order of importance, is kept within a shard.
        let mut entries = self.by_shard(entries).into_iter().peekable();
        let mut stored = 0;
        while let Some(&(shard_idx, ..)) = entries.peek() {
            let shard_entries = std::iter::from_fn(|| {
                entries
                    .next_if(|entry| entry.0 == shard_idx)
                    .map(|(_, hash, key, value)| {
                        let weight = self.weigh(&key, &value);
                        (hash, key, value, weight)
                    })
            });
            // Weigh outside the lock: the weigher is the caller's code.
            let shard_entries: Vec<_> = shard_entries.collect();
            stored += self.shards[shard_idx]
                .0
                .write()
                .shard
                .warm(shard_entries, deadlines);
        }
        stored
    }

    /// The cached value, or the loader's, computed once however many threads ask at once.
    /// See [`Cache::get_or_try_insert_with`].
    pub fn get_or_insert_with(&self, key: K, loader: impl FnOnce() -> V) -> V
    where
        K: Clone,
        V: Clone + Send + Sync + 'static,
    {
        match self.get_or_try_insert_with(key, || Ok::<V, Infallible>(loader())) {
            Ok(value) => value,
            Err(never) => match *never {},
        }
    }

    /// Cache-aside with single flight, inserting with the default TTL.
    ///
    /// On a hit, returns the cached value. On a miss, the first caller runs `loader`; callers
    /// that miss on the same key meanwhile wait for it and get its value, or its error, without
    /// running their own loader. A value is stored; an error is not, so the next call tries
    /// again. If the loader panics, the panic goes to its caller and one of the waiters runs its
    /// own loader instead.
    ///
    /// A loader must not ask this cache for the key it is loading: it would wait for itself.
    pub fn get_or_try_insert_with<E>(
        &self,
        key: K,
        loader: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, Arc<E>>
    where
        K: Clone,
        V: Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        self.get_or_try_insert_with_expiry(key, Expiry::Default, loader)
    }

    /// [`Cache::get_or_try_insert_with`], storing the loaded value with the given expiry.
    pub fn get_or_try_insert_with_expiry<E>(
        &self,
        key: K,
        expiry: Expiry,
        loader: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, Arc<E>>
    where
        K: Clone,
        V: Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        let hash = self.hash(&key);
        let shard = self.shard(hash);
        // `Some(current value)` when this call refreshes a live entry (refresh-ahead).
        let mut refreshing = None;
        let flight = loop {
            let waiting_on = {
                let mut now = LazyNow::new(&*self.clock);
                let mut state = shard.write();
                let pending = |state: &ShardState<K, V>| {
                    state
                        .pending
                        .iter()
                        .find(|load| load.hash == hash && load.key == key)
                        .map(|load| Arc::clone(&load.flight))
                };
                if let Some(value) = state.shard.get(hash, &key, &mut now) {
                    let value = value.clone();
                    // A hit refreshes only in its window and only when no load of the key is
                    // under way: a refresh in flight serves everyone else the current value.
                    if self.refresh_fraction.is_none()
                        || !state.shard.refresh_due(hash, &key, &mut now)
                        || pending(&state).is_some()
                    {
                        return Ok(value);
                    }
                    state.shard.count_refresh();
                    refreshing = Some(value);
                }
                let waiting_on = match pending(&state) {
                    Some(flight) => flight.downcast::<Flight<V, E>>().ok(),
                    None => {
                        let flight = Arc::new(Flight::<V, E>::new());
                        state.pending.push(PendingLoad {
                            hash,
                            key: key.clone(),
                            flight: Arc::clone(&flight) as Arc<dyn Any + Send + Sync>,
                            stale: false,
                        });
                        drop(state);
                        if now.watch_due {
                            self.check_hit_ratio_watch();
                        }
                        break Some(flight);
                    }
                };
                drop(state);
                if now.watch_due {
                    self.check_hit_ratio_watch();
                }
                waiting_on
            };
            match waiting_on {
                Some(flight) => match flight.wait() {
                    Outcome::Loaded(value) => return Ok(value),
                    Outcome::Failed(error) => return Err(error),
                    Outcome::Abandoned => continue,
                },
                // Another caller is loading this key with a different error type; the results
                // cannot be shared, so load without coalescing.
                None => break None,
            }
        };

        let Some(flight) = flight else {
            debug_assert!(refreshing.is_none(), "a refresh always registers its load");
            let value = match loader() {
                Ok(value) => value,
                Err(error) => return self.serve_stale(hash, &key).ok_or_else(|| Arc::new(error)),
            };
            self.insert_with(key, value.clone(), expiry);
            return Ok(value);
        };
        let mut leader = Leader {
            cache: self,
            hash,
            key: Some(key),
            flight: &flight,
        };
        match loader() {
            Ok(value) => {
                // Run everything that can panic (the weigher, the clock, clones of the value)
                // while the guard still holds the key: a panic then unregisters the load and
                // wakes the waiters instead of wedging the key.
                let key_ref = leader.key.as_ref().expect("the leader holds the key");
                let weight = self.weigh(key_ref, &value);
                let mut now = LazyNow::new(&*self.clock);
                let deadlines = self.deadlines(expiry, &mut now);
                let stored = value.clone();
                let shared = value.clone();
                let key = leader.key.take().expect("the leader holds the key");
                let mut state = shard.write();
                let stale = leader.unregister(&mut state.pending);
                if !stale {
                    state
                        .shard
                        .insert(hash, key, stored, weight, deadlines, &mut now);
                }
                drop(state);
                flight.finish(Outcome::Loaded(shared));
                Ok(value)
            }
            Err(error) => {
                let error = Arc::new(error);
                // As above, clone the stale value (if any) while the guard holds the key.
                let mut now = LazyNow::new(&*self.clock);
                let key_ref = leader.key.as_ref().expect("the leader holds the key");
                let mut state = shard.write();
                let stale = state
                    .shard
                    .stale(hash, key_ref, &mut now)
                    .map(|value| (value.clone(), value.clone()));
                leader.key.take();
                let invalidated = leader.unregister(&mut state.pending);
                // An invalidation during the load removed the entry anyway; never serve a value
                // the caller asked to forget.
                let stale = stale.filter(|_| !invalidated);
                if stale.is_some() {
                    state.shard.count_stale_served();
                }
                if refreshing.is_some() {
                    state.shard.count_refresh_failure();
                }
                drop(state);
                // The callers waiting on this load missed (the entry expired during the
                // refresh, or there was none): they get what a failed load gives.
                let (stale, waiters) = match stale {
                    Some((value, shared)) => (Some(value), Outcome::Loaded(shared)),
                    None => (None, Outcome::Failed(Arc::clone(&error))),
                };
                flight.finish(waiters);
                // A failed refresh answers its caller with the value its hit found, as if the
                // refresh had not been tried, unless that value was invalidated meanwhile.
                match (refreshing.filter(|_| !invalidated), stale) {
                    (Some(current), _) | (None, Some(current)) => Ok(current),
                    (None, None) => Err(error),
                }
            }
        }
    }
}

impl<K, V, S> Cache<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
    V: Clone,
{
    /// After a failed load that was not coalesced: the stale value of `key`, counted, if it
    /// has one within the grace period.
    fn serve_stale(&self, hash: u64, key: &K) -> Option<V> {
        let mut now = LazyNow::new(&*self.clock);
        let mut state = self.shard(hash).write();
        let value = state.shard.stale(hash, key, &mut now).cloned()?;
        state.shard.count_stale_served();
        Some(value)
    }
}

/// The caller running a loader. If the loader panics, dropping this unregisters the load and
/// wakes the waiters so one of them can take over: a panic never wedges a key.
struct Leader<'a, K, V, S, E>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    cache: &'a Cache<K, V, S>,
    hash: u64,
    /// `Some` until the loader returned; a `Some` at drop means it panicked.
    key: Option<K>,
    flight: &'a Arc<Flight<V, E>>,
}

impl<K, V, S, E> Leader<'_, K, V, S, E>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    /// Takes this load out of the shard's registry; returns whether it was marked stale.
    fn unregister(&self, pending: &mut Vec<PendingLoad<K>>) -> bool {
        let flight = Arc::as_ptr(self.flight).cast::<()>();
        let pos = pending
            .iter()
            .position(|load| Arc::as_ptr(&load.flight).cast::<()>() == flight)
            .expect("a leader's load stays registered until it unregisters");
        pending.swap_remove(pos).stale
    }
}

impl<K, V, S, E> Drop for Leader<'_, K, V, S, E>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    fn drop(&mut self) {
        if self.key.is_some() {
            let mut state = self.cache.shard(self.hash).write();
            self.unregister(&mut state.pending);
            drop(state);
            self.flight.abandon();
        }
    }
}

#[cfg(test)]
mod tests;
