//! Hit-ratio replay of a key trace through our cache and its peers.
//!
//! Each request is a `get`; a miss is followed by an `insert`, as a cache-aside client does.
//! Every implementation is bounded by entry count and sits behind [`ReplayCache`]. Runs are
//! reproducible: hashers that affect eviction are seeded with [`SEED`], and moka's deferred
//! maintenance is run after every insert so it never holds more than its capacity.
//!
//! [`warmup`] measures a restart instead: the hit ratio of our cache over the first requests
//! after it, cold against warmed from a snapshot of the cache that ran before.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use foldhash::fast::FixedState;

/// The hasher seed for every implementation whose eviction depends on hashing.
pub const SEED: u64 = 0x7472_6163_6572_6570;

fn hasher() -> FixedState {
    FixedState::with_seed(SEED)
}

/// A cache under replay: keys only, values are `()`.
pub trait ReplayCache {
    /// Looks `key` up; whether it was there.
    fn get(&mut self, key: u64) -> bool;
    /// Stores `key`, evicting as the policy decides.
    fn insert(&mut self, key: u64);
}

/// Requests and hits of one replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ReplayStats {
    /// Requests replayed.
    pub requests: u64,
    /// Requests that found their key.
    pub hits: u64,
}

impl ReplayStats {
    /// Hits over requests, 0 for no requests.
    pub fn hit_ratio(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.hits as f64 / self.requests as f64
        }
    }
}

/// Replays `keys` through `cache`: `get` each key, `insert` it on a miss.
pub fn replay<C: ReplayCache + ?Sized>(cache: &mut C, keys: &[u64]) -> ReplayStats {
    let mut hits = 0;
    for &key in keys {
        if cache.get(key) {
            hits += 1;
        } else {
            cache.insert(key);
        }
    }
    ReplayStats {
        requests: keys.len() as u64,
        hits,
    }
}

/// The implementations the replay compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Impl {
    /// This workspace's `cache::Cache` (W-TinyLFU), default shard count.
    #[value(name = "ours")]
    Ours,
    /// This workspace's `cache::Cache` with one shard: one policy over the whole capacity, to
    /// measure what sharding costs in hit ratio.
    #[value(name = "ours-1shard")]
    OursOneShard,
    /// `lru::LruCache`: plain LRU, the baseline with published hit ratios.
    #[value(name = "lru")]
    Lru,
    /// `moka::sync::Cache` (TinyLFU admission, LRU eviction).
    #[value(name = "moka")]
    Moka,
    /// `quick_cache::sync::Cache` (S3-FIFO-like), default shard count.
    #[value(name = "quick_cache")]
    QuickCache,
}

impl Impl {
    /// Every implementation, in report order.
    pub const ALL: [Impl; 4] = [Impl::Ours, Impl::Lru, Impl::Moka, Impl::QuickCache];

    /// The name used by `--impl` and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Impl::Ours => "ours",
            Impl::OursOneShard => "ours-1shard",
            Impl::Lru => "lru",
            Impl::Moka => "moka",
            Impl::QuickCache => "quick_cache",
        }
    }

    /// Replays `keys` through a fresh cache of this implementation holding `capacity` entries.
    pub fn replay(self, capacity: u64, keys: &[u64]) -> ReplayStats {
        match self {
            Impl::Ours => replay(&mut Ours::new(capacity), keys),
            Impl::OursOneShard => replay(&mut Ours::with_shards(capacity, 1), keys),
            Impl::Lru => replay(&mut Lru::new(capacity), keys),
            Impl::Moka => replay(&mut Moka::new(capacity), keys),
            Impl::QuickCache => replay(&mut QuickCache::new(capacity), keys),
        }
    }
}

impl fmt::Display for Impl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One cell of a replay matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayResult {
    /// The implementation.
    pub implementation: Impl,
    /// Its capacity in entries.
    pub capacity: u64,
    /// What the replay counted.
    pub stats: ReplayStats,
}

/// Replays `keys` for every capacity and implementation on up to `threads` threads.
/// Results come capacity-major, in the order given: for each capacity, every implementation.
///
/// moka replays run one at a time on the first thread: two moka caches replaying at once slow
/// each other down (on OLTP, four moka replays took 5.2 s on two threads against 3.1 s on one).
/// The other threads take the other jobs, and so does the first thread once its moka jobs are
/// done.
pub fn replay_matrix(
    keys: &[u64],
    impls: &[Impl],
    capacities: &[u64],
    threads: usize,
) -> Vec<ReplayResult> {
    let jobs: Vec<(Impl, u64)> = capacities
        .iter()
        .flat_map(|&capacity| {
            impls
                .iter()
                .map(move |&implementation| (implementation, capacity))
        })
        .collect();
    let (serial, parallel): (Vec<usize>, Vec<usize>) =
        (0..jobs.len()).partition(|&job| jobs[job].0 == Impl::Moka);
    let results: Vec<Mutex<Option<ReplayStats>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    let next_parallel = AtomicUsize::new(0);
    let run = |job: usize| {
        let (implementation, capacity) = jobs[job];
        let stats = implementation.replay(capacity, keys);
        *results[job].lock().unwrap_or_else(|e| e.into_inner()) = Some(stats);
    };
    let run_parallel = || {
        while let Some(&job) = parallel.get(next_parallel.fetch_add(1, Ordering::Relaxed)) {
            run(job);
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads.clamp(1, jobs.len().max(1)) {
            scope.spawn(run_parallel);
        }
        serial.iter().for_each(|&job| run(job));
        run_parallel();
    });
    jobs.into_iter()
        .zip(results)
        .map(|((implementation, capacity), stats)| ReplayResult {
            implementation,
            capacity,
            stats: stats
                .into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every job ran: a panicking job propagates out of the scope"),
        })
        .collect()
}

/// Hit ratios while our cache starts over after a restart, measured on a trace cut in two:
/// a source cache replays the first part, then four caches replay the second part:
/// - `cold`: a new, empty cache;
/// - `warm`: a new cache filled with [`cache::Cache::warm`] from the source's
///   [`cache::Cache::snapshot`] (hottest first, straight into the main space);
/// - `refill`: a new cache given the same snapshot through plain `insert`s, coldest first so
///   that the hottest entries are the most recent, as a client without a warm-up API would;
/// - `continued`: the source cache itself, as if there had been no restart (the ceiling).
///
/// Each is measured over the first `n` requests of the second part, for every `n` asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarmupResult {
    /// The capacity of every cache, in entries.
    pub capacity: u64,
    /// Requests the source replayed before the restart.
    pub split: usize,
    /// Entries in the source's snapshot (at most `capacity`).
    pub snapshot_len: usize,
    /// One row per measured prefix of the second part, shortest first.
    pub rows: Vec<WarmupRow>,
}

/// The four caches' counts over the first `requests` requests after the restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarmupRow {
    /// Requests measured (the prefix length, at most what the second part holds).
    pub requests: u64,
    /// A new, empty cache.
    pub cold: ReplayStats,
    /// A new cache warmed from the snapshot.
    pub warm: ReplayStats,
    /// A new cache given the snapshot through `insert`s, coldest first.
    pub refill: ReplayStats,
    /// The source cache, not restarted.
    pub continued: ReplayStats,
}

/// Replays `keys` through `cache` and returns the counts over each prefix in `prefixes`
/// (ascending lengths, each at most `keys.len()`), in one pass.
pub fn replay_prefixes<C: ReplayCache + ?Sized>(
    cache: &mut C,
    keys: &[u64],
    prefixes: &[usize],
) -> Vec<ReplayStats> {
    let mut out = Vec::with_capacity(prefixes.len());
    let mut done = 0;
    let mut total = ReplayStats::default();
    for &end in prefixes {
        let part = replay(cache, &keys[done..end]);
        total.requests += part.requests;
        total.hits += part.hits;
        done = end;
        out.push(total);
    }
    out
}

/// Runs the restart experiment of [`WarmupResult`] for one capacity: the first `split` keys
/// (at most all of them) go through the source, and each cache is measured over the first
/// `first` requests of the rest, for every value given (clamped to the rest's length, sorted,
/// repeats dropped). Deterministic: every cache has the fixed-seed hasher of the replay.
pub fn warmup(keys: &[u64], split: usize, capacity: u64, first: &[u64]) -> WarmupResult {
    let split = split.min(keys.len());
    let (before, after) = keys.split_at(split);
    let mut prefixes: Vec<usize> = first
        .iter()
        .map(|&n| usize::try_from(n).unwrap_or(usize::MAX).min(after.len()))
        .collect();
    prefixes.sort_unstable();
    prefixes.dedup();

    let mut source = Ours::new(capacity);
    replay(&mut source, before);
    let snapshot = source.inner().snapshot();

    let cold = replay_prefixes(&mut Ours::new(capacity), after, &prefixes);
    let mut warmed = Ours::new(capacity);
    warmed.inner().warm(snapshot.iter().copied());
    let warm = replay_prefixes(&mut warmed, after, &prefixes);
    let mut refilled = Ours::new(capacity);
    for &(key, ()) in snapshot.iter().rev() {
        refilled.insert(key);
    }
    let refill = replay_prefixes(&mut refilled, after, &prefixes);
    let continued = replay_prefixes(&mut source, after, &prefixes);

    let rows = prefixes
        .iter()
        .enumerate()
        .map(|(idx, &requests)| WarmupRow {
            requests: requests as u64,
            cold: cold[idx],
            warm: warm[idx],
            refill: refill[idx],
            continued: continued[idx],
        })
        .collect();
    WarmupResult {
        capacity,
        split,
        snapshot_len: snapshot.len(),
        rows,
    }
}

/// `cache::Cache<u64, ()>` with a fixed-seed foldhash and the default shard count.
pub struct Ours(cache::Cache<u64, (), FixedState>);

impl Ours {
    /// A cache of `capacity` entries.
    pub fn new(capacity: u64) -> Self {
        Ours(cache::Cache::builder(capacity).hasher(hasher()).build())
    }

    /// A cache of `capacity` entries over `shards` shards.
    pub fn with_shards(capacity: u64, shards: usize) -> Self {
        Ours(
            cache::Cache::builder(capacity)
                .hasher(hasher())
                .shards(shards)
                .build(),
        )
    }

    /// The wrapped cache, for its metrics.
    pub fn inner(&self) -> &cache::Cache<u64, (), FixedState> {
        &self.0
    }
}

impl fmt::Debug for Ours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Ours").field(&self.0).finish()
    }
}

impl ReplayCache for Ours {
    #[inline]
    fn get(&mut self, key: u64) -> bool {
        self.0.get(&key).is_some()
    }

    #[inline]
    fn insert(&mut self, key: u64) {
        self.0.insert(key, ());
    }
}

/// `lru::LruCache<u64, ()>`, used directly (no lock) since replay is single-threaded.
/// Capacity 0 holds nothing.
pub struct Lru(Option<lru::LruCache<u64, ()>>);

impl Lru {
    /// A cache of `capacity` entries.
    pub fn new(capacity: u64) -> Self {
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX);
        Lru(NonZeroUsize::new(capacity).map(lru::LruCache::new))
    }
}

impl fmt::Debug for Lru {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let capacity = self.0.as_ref().map_or(0, |lru| lru.cap().get());
        f.debug_struct("Lru").field("capacity", &capacity).finish()
    }
}

impl ReplayCache for Lru {
    #[inline]
    fn get(&mut self, key: u64) -> bool {
        self.0.as_mut().is_some_and(|lru| lru.get(&key).is_some())
    }

    #[inline]
    fn insert(&mut self, key: u64) {
        if let Some(lru) = &mut self.0 {
            lru.put(key, ());
        }
    }
}

/// `moka::sync::Cache<u64, ()>` with `max_capacity(capacity)` and a fixed-seed hasher.
///
/// moka buffers writes and applies them (admission, eviction) in deferred maintenance; left
/// alone, it can briefly hold more entries than its capacity, and when the maintenance runs
/// depends on timing. [`ReplayCache::insert`] therefore runs `run_pending_tasks` after every
/// insert, so each request sees a cache within its bound. Reads are recorded as moka always
/// does (buffered, applied in batches of 64 or at the next maintenance).
pub struct Moka(moka::sync::Cache<u64, (), FixedState>);

impl Moka {
    /// A cache of `capacity` entries.
    pub fn new(capacity: u64) -> Self {
        Moka(
            moka::sync::Cache::builder()
                .max_capacity(capacity)
                .build_with_hasher(hasher()),
        )
    }
}

impl fmt::Debug for Moka {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Moka")
            .field("max_capacity", &self.0.policy().max_capacity())
            .finish()
    }
}

impl ReplayCache for Moka {
    #[inline]
    fn get(&mut self, key: u64) -> bool {
        self.0.get(&key).is_some()
    }

    #[inline]
    fn insert(&mut self, key: u64) {
        self.0.insert(key, ());
        self.0.run_pending_tasks();
    }
}

type QuickInner = quick_cache::sync::Cache<
    u64,
    (),
    quick_cache::UnitWeighter,
    FixedState,
    quick_cache::sync::DefaultLifecycle<u64, ()>,
>;

/// `quick_cache::sync::Cache<u64, ()>`: the options of `sync::Cache::new(capacity)` (default
/// shard count, unit weights), with a fixed-seed hasher instead of a random one.
pub struct QuickCache(QuickInner);

impl QuickCache {
    /// A cache of `capacity` entries.
    pub fn new(capacity: u64) -> Self {
        QuickCache(QuickInner::with(
            usize::try_from(capacity).unwrap_or(usize::MAX),
            capacity,
            quick_cache::UnitWeighter,
            hasher(),
            quick_cache::sync::DefaultLifecycle::default(),
        ))
    }
}

impl fmt::Debug for QuickCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuickCache")
            .field("capacity", &self.0.capacity())
            .field("shards", &self.0.num_shards())
            .finish()
    }
}

impl ReplayCache for QuickCache {
    #[inline]
    fn get(&mut self, key: u64) -> bool {
        self.0.get(&key).is_some()
    }

    #[inline]
    fn insert(&mut self, key: u64) {
        self.0.insert(key, ());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_replay_counts_hits() {
        // Capacity 2: 1 2 1 (hit) 3 (evicts 2) 2 (miss, evicts 1) 3 (hit) 1 (miss).
        let stats = Impl::Lru.replay(2, &[1, 2, 1, 3, 2, 3, 1]);
        assert_eq!(
            stats,
            ReplayStats {
                requests: 7,
                hits: 2
            }
        );
        assert!((stats.hit_ratio() - 2.0 / 7.0).abs() < 1e-12);
        assert_eq!(Impl::Lru.replay(0, &[1, 1, 1]).hits, 0);
        assert_eq!(ReplayStats::default().hit_ratio(), 0.0);
    }

    #[test]
    fn every_impl_hits_a_working_set_that_fits() {
        let keys: Vec<u64> = (0..20).flat_map(|_| 0..50).collect();
        for implementation in Impl::ALL {
            let stats = implementation.replay(100, &keys);
            assert_eq!(stats.requests, 1000);
            // Only the first pass may miss (admission policies may take a few more passes).
            assert!(stats.hits >= 900, "{implementation}: {stats:?}");
        }
    }

    #[test]
    fn ours_counts_what_its_metrics_count() {
        let keys: Vec<u64> = (0..5000u64).map(|i| (i * 7919) % 613).collect();
        let mut ours = Ours::new(100);
        let stats = replay(&mut ours, &keys);
        let metrics = ours.inner().metrics();
        assert_eq!(metrics.hits, stats.hits);
        assert_eq!(metrics.misses, stats.requests - stats.hits);
    }

    #[test]
    fn moka_stays_within_capacity() {
        let mut moka = Moka::new(10);
        replay(&mut moka, &(0..1000).collect::<Vec<u64>>());
        moka.0.run_pending_tasks();
        assert!(moka.0.entry_count() <= 10, "{}", moka.0.entry_count());
    }

    #[test]
    fn prefixes_count_cumulatively() {
        // Capacity 2 LRU over 1 2 1 3 2 3 1: hits at positions 3 and 6 (1-based).
        let stats = replay_prefixes(&mut Lru::new(2), &[1, 2, 1, 3, 2, 3, 1], &[0, 3, 7]);
        let hits: Vec<u64> = stats.iter().map(|s| s.hits).collect();
        let requests: Vec<u64> = stats.iter().map(|s| s.requests).collect();
        assert_eq!(hits, [0, 1, 2]);
        assert_eq!(requests, [0, 3, 7]);
    }

    #[test]
    fn a_warmed_cache_starts_where_the_source_stopped() {
        // A working set of 50 keys that fits: the source holds all of it after the first
        // part, so the warmed and continued caches hit everything after the restart, the cold
        // one misses each key once, and the refilled one keeps every key as well.
        let keys: Vec<u64> = (0..40).flat_map(|_| 0..50).collect();
        let result = warmup(&keys, 1000, 100, &[50, 500, 5000]);
        assert_eq!((result.split, result.snapshot_len), (1000, 50));
        let requests: Vec<u64> = result.rows.iter().map(|row| row.requests).collect();
        assert_eq!(requests, [50, 500, 1000], "clamped to the second part");
        let first = result.rows[0];
        assert_eq!(first.cold.hits, 0);
        assert_eq!(first.warm.hits, 50);
        assert_eq!(first.refill.hits, 50);
        assert_eq!(first.continued.hits, 50);
        assert_eq!(result.rows[2].cold.hits, 950);
        // Deterministic.
        assert_eq!(warmup(&keys, 1000, 100, &[50, 500, 5000]), result);
    }

    #[test]
    fn warming_beats_a_cold_start_on_a_skewed_stream() {
        // 20,000 keys over 2,000 distinct ones, skewed towards low keys, capacity 200: the
        // snapshot carries the hot keys over, so the warmed cache's first 1,000 requests hit
        // more often than the cold cache's.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let keys: Vec<u64> = (0..20_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let uniform = (state >> 11) as f64 / (1u64 << 53) as f64;
                (uniform.powi(4) * 2000.0) as u64
            })
            .collect();
        let result = warmup(&keys, 10_000, 200, &[1000]);
        let row = result.rows[0];
        assert!(
            row.warm.hits > row.cold.hits + 50,
            "warm {:?} against cold {:?}",
            row.warm,
            row.cold
        );
        assert!(row.continued.hits >= row.cold.hits, "{row:?}");
    }

    #[test]
    fn matrix_is_deterministic_and_capacity_major() {
        let keys: Vec<u64> = (0..20_000u64).map(|i| (i * i + 3 * i) % 1500).collect();
        let first = replay_matrix(&keys, &Impl::ALL, &[100, 400], 2);
        let order: Vec<(Impl, u64)> = first
            .iter()
            .map(|r| (r.implementation, r.capacity))
            .collect();
        let expected: Vec<(Impl, u64)> = [100, 400]
            .into_iter()
            .flat_map(|c| Impl::ALL.map(|i| (i, c)))
            .collect();
        assert_eq!(order, expected);
        let again = replay_matrix(&keys, &Impl::ALL, &[100, 400], 1);
        for (a, b) in first.iter().zip(&again) {
            if a.implementation != Impl::Moka {
                assert_eq!(a.stats, b.stats, "{}", a.implementation);
            }
        }
    }
}
