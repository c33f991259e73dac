//! Throughput of `cache::Cache` next to its peers, under skewed (Zipf) keys and 1 or 2 threads.
//!
//! # Benchmark ids (stable: they are the keys of saved baselines, do not rename)
//!
//! - `cache/get/zipf-{s}/{t}t/{impl}`: read-only look-ups (`get`) of a cache prefilled with
//!   the workload, so it holds what its policy keeps of the hot set; misses are not filled.
//! - `cache/get_or_insert/zipf-{s}/{t}t/{impl}`: cache-aside with each peer's own API; a miss
//!   computes the value with a trivial loader and inserts it (evicting once full).
//! - `cache/insert_evict/{impl}`: one thread inserts never-seen keys into a full cache, so each
//!   insert evicts (or, for a TinyLFU admission policy, rejects) an entry.
//! - `cache/warm_start/zipf-1.0/{backend}/{start}`: the first [`FIRST_REQUESTS`] cache-aside
//!   requests (`get_or_insert_with`) a new `cache::Cache` serves after a restart, on one
//!   thread; `{start}` is `cold` (an empty cache) or `warm` (built with `build_with` from the
//!   `snapshot` of a cache that served the previous traffic); `{backend}` is `free` (the
//!   loader is trivial, so only the cache's own work is timed: a hit against a miss plus an
//!   insert) or `spin-1us` (the loader spins for 1 µs, standing for a fast backend, so the
//!   hit ratio shows in the latency). Only ours: the peers have no warm-up API.
//!
//! where `{s}` is the Zipf exponent, `0.8`, `1.0` or `1.2`; `{t}` the thread count, `1` or `2`;
//! and `{impl}` one of
//! - `ours`: `cache::Cache` (`Cache::new`, default shards and hasher);
//! - `moka`: `moka::sync::Cache` (`Cache::new`);
//! - `quick_cache`: `quick_cache::sync::Cache` (`Cache::new`);
//! - `lru`: `lru::LruCache` behind a `parking_lot::Mutex`.
//!
//! # Workload
//! - `u64` keys drawn from `rand_distr::Zipf` over a key space of 1,000,000 (rank `r` is key
//!   `r - 1`), `u64` values; every cache is bounded to 100,000 entries.
//! - Each thread replays its own precomputed sequence of 2^20 keys (seeded `StdRng`, so the same
//!   on every run), cycled; generating keys is not timed. The sequences are long so that the
//!   cold tail is really cold: a short cycled sequence would fit in the cache whole and every
//!   operation would hit.
//! - Before measuring, each cache is prefilled by replaying the sequences of the threads taking
//!   part with get-or-insert (then moka runs its pending maintenance), so it holds the hot set.
//! - One benchmark iteration is a batch of [`BATCH`] operations per thread, and the throughput is
//!   declared as `threads * BATCH` elements, so criterion reports operations per second over all
//!   threads. The threads are spawned once per sample (`iter_custom`), released together by a
//!   `Barrier`, and the time runs from the first thread's release to the last thread's end.
//!   The 1-thread case runs the same code with one thread.
//! - Caches are shared between threads by reference (`&cache`); `lru` behind its mutex.

use std::cell::OnceCell;
use std::convert::Infallible;
use std::hint::black_box;
use std::num::NonZeroUsize;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use parking_lot::Mutex;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Zipf};

/// Keys are drawn from `0..KEY_SPACE`.
const KEY_SPACE: u64 = 1_000_000;
/// The entry bound of every cache.
const CAPACITY: u64 = 100_000;
/// Length of each thread's precomputed key sequence; a power of two.
const SEQ_LEN: usize = 1 << 20;
/// Operations per thread in one benchmark iteration.
const BATCH: usize = 1024;
/// Zipf exponents, with the spelling used in the ids.
const EXPONENTS: [(&str, f64); 3] = [("0.8", 0.8), ("1.0", 1.0), ("1.2", 1.2)];
/// Thread counts.
const THREADS: [usize; 2] = [1, 2];
/// Requests timed after a restart in `cache/warm_start`.
const FIRST_REQUESTS: usize = 10_000;
/// The hasher seed of the `cache/warm_start` caches, so that every iteration does the same work.
const WARM_START_SEED: u64 = 0x7761_726d;
const MAX_THREADS: usize = 2;

/// The value "loaded" on a miss: cheap, so the benchmark measures the cache, not the loader.
#[inline]
fn load(key: u64) -> u64 {
    key.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The operations the benchmarks need, implemented with each cache's natural API.
trait Subject: Sync {
    const NAME: &'static str;
    fn build() -> Self;
    fn get(&self, key: u64) -> Option<u64>;
    fn get_or_insert(&self, key: u64) -> u64;
    fn insert(&self, key: u64, value: u64);
    /// Finishes deferred work after the prefill (moka's maintenance).
    fn settle(&self) {}
}

impl Subject for cache::Cache<u64, u64> {
    const NAME: &'static str = "ours";

    fn build() -> Self {
        cache::Cache::new(CAPACITY)
    }

    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        cache::Cache::get(self, &key)
    }

    #[inline]
    fn get_or_insert(&self, key: u64) -> u64 {
        self.get_or_insert_with(key, || load(key))
    }

    #[inline]
    fn insert(&self, key: u64, value: u64) {
        cache::Cache::insert(self, key, value);
    }
}

impl Subject for moka::sync::Cache<u64, u64> {
    const NAME: &'static str = "moka";

    fn build() -> Self {
        moka::sync::Cache::new(CAPACITY)
    }

    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        moka::sync::Cache::get(self, &key)
    }

    #[inline]
    fn get_or_insert(&self, key: u64) -> u64 {
        self.get_with(key, || load(key))
    }

    #[inline]
    fn insert(&self, key: u64, value: u64) {
        moka::sync::Cache::insert(self, key, value);
    }

    fn settle(&self) {
        self.run_pending_tasks();
    }
}

impl Subject for quick_cache::sync::Cache<u64, u64> {
    const NAME: &'static str = "quick_cache";

    fn build() -> Self {
        quick_cache::sync::Cache::new(CAPACITY as usize)
    }

    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        quick_cache::sync::Cache::get(self, &key)
    }

    #[inline]
    fn get_or_insert(&self, key: u64) -> u64 {
        match self.get_or_insert_with(&key, || Ok::<_, Infallible>(load(key))) {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    #[inline]
    fn insert(&self, key: u64, value: u64) {
        quick_cache::sync::Cache::insert(self, key, value);
    }
}

impl Subject for Mutex<lru::LruCache<u64, u64>> {
    const NAME: &'static str = "lru";

    fn build() -> Self {
        let capacity = NonZeroUsize::new(CAPACITY as usize).expect("capacity is not zero");
        Mutex::new(lru::LruCache::new(capacity))
    }

    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.lock().get(&key).copied()
    }

    #[inline]
    fn get_or_insert(&self, key: u64) -> u64 {
        let mut lru = self.lock();
        if let Some(&value) = lru.get(&key) {
            return value;
        }
        let value = load(key);
        lru.put(key, value);
        value
    }

    #[inline]
    fn insert(&self, key: u64, value: u64) {
        self.lock().put(key, value);
    }
}

/// One precomputed Zipf key sequence per thread.
fn zipf_sequences(exponent: f64) -> Vec<Vec<u64>> {
    let zipf = Zipf::new(KEY_SPACE as f64, exponent).expect("valid Zipf parameters");
    (0..MAX_THREADS)
        .map(|thread| {
            let seed = 0x5eed_0000 ^ (((exponent * 10.0) as u64) << 8) ^ thread as u64;
            let mut rng = StdRng::seed_from_u64(seed);
            (0..SEQ_LEN)
                .map(|_| zipf.sample(&mut rng) as u64 - 1)
                .collect()
        })
        .collect()
}

/// Runs `iters` batches of `op` on every sequence, one thread per sequence, released together;
/// returns the time from the first release to the last thread's end.
fn run_threads<C, F>(cache: &C, sequences: &[Vec<u64>], start: usize, iters: u64, op: F) -> Duration
where
    C: Subject,
    F: Fn(&C, u64) -> u64 + Sync,
{
    let barrier = Barrier::new(sequences.len());
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|scope| {
        let workers: Vec<_> = sequences
            .iter()
            .map(|sequence| {
                let (barrier, op) = (&barrier, &op);
                scope.spawn(move || {
                    let sequence = &sequence[..SEQ_LEN];
                    barrier.wait();
                    let began = Instant::now();
                    let mut pos = start;
                    let mut acc = 0u64;
                    for _ in 0..iters {
                        for _ in 0..BATCH {
                            acc = acc.wrapping_add(op(cache, sequence[pos]));
                            pos = (pos + 1) & (SEQ_LEN - 1);
                        }
                    }
                    let ended = Instant::now();
                    black_box(acc);
                    (began, ended)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("benchmark thread panicked"))
            .collect()
    });
    let began = spans
        .iter()
        .map(|span| span.0)
        .min()
        .expect("one thread at least");
    let ended = spans
        .iter()
        .map(|span| span.1)
        .max()
        .expect("one thread at least");
    ended - began
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.sample_size(40);
    if !on_command_line("--warm-up-time") {
        group.warm_up_time(Duration::from_secs(1));
    }
    if !on_command_line("--measurement-time") {
        group.measurement_time(Duration::from_secs(2));
    }
}

/// Whether the command line sets `flag` (`--warm-up-time`, `--measurement-time`). criterion
/// lets a group's own settings win over its command line, so the groups apply their defaults
/// only where the command line gives none: the gate (`cargo xtask bench compare`) passes its
/// round length this way.
fn on_command_line(flag: &str) -> bool {
    std::env::args().any(|arg| arg == flag)
}

#[derive(Clone, Copy)]
enum Op {
    Get,
    GetOrInsert,
}

/// Benchmarks one implementation in a Zipf group. The cache is built and prefilled only if the
/// benchmark is selected by the filter.
fn bench_zipf<C: Subject>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    sequences: &OnceCell<Vec<Vec<u64>>>,
    exponent: f64,
    threads: usize,
    op: Op,
) {
    let mut cache: Option<C> = None;
    let mut cursor = 0usize;
    group.bench_function(C::NAME, |b| {
        let sequences = &sequences.get_or_init(|| zipf_sequences(exponent))[..threads];
        let cache = cache.get_or_insert_with(|| {
            let cache = C::build();
            for sequence in sequences {
                for &key in sequence {
                    cache.get_or_insert(key);
                }
            }
            cache.settle();
            cache
        });
        b.iter_custom(|iters| {
            let elapsed = match op {
                Op::Get => run_threads(cache, sequences, cursor, iters, |cache: &C, key| {
                    cache.get(key).unwrap_or(0)
                }),
                Op::GetOrInsert => {
                    run_threads(cache, sequences, cursor, iters, |cache: &C, key| {
                        cache.get_or_insert(key)
                    })
                }
            };
            cursor = (cursor + (iters as usize).wrapping_mul(BATCH)) & (SEQ_LEN - 1);
            elapsed
        });
    });
}

fn zipf_groups(c: &mut Criterion) {
    // Generated on first use, so a filter that skips an exponent skips its generation too.
    let sequences: [OnceCell<Vec<Vec<u64>>>; EXPONENTS.len()] = Default::default();
    for (op, op_name) in [(Op::Get, "get"), (Op::GetOrInsert, "get_or_insert")] {
        for (&(exponent_name, exponent), sequences) in EXPONENTS.iter().zip(&sequences) {
            for threads in THREADS {
                let mut group =
                    c.benchmark_group(format!("cache/{op_name}/zipf-{exponent_name}/{threads}t"));
                configure(&mut group);
                group.throughput(Throughput::Elements((threads * BATCH) as u64));
                bench_zipf::<cache::Cache<u64, u64>>(&mut group, sequences, exponent, threads, op);
                bench_zipf::<moka::sync::Cache<u64, u64>>(
                    &mut group, sequences, exponent, threads, op,
                );
                bench_zipf::<quick_cache::sync::Cache<u64, u64>>(
                    &mut group, sequences, exponent, threads, op,
                );
                bench_zipf::<Mutex<lru::LruCache<u64, u64>>>(
                    &mut group, sequences, exponent, threads, op,
                );
                group.finish();
            }
        }
    }
}

/// Benchmarks inserting never-seen keys into a full cache, on one thread.
fn bench_insert_evict<C: Subject>(group: &mut BenchmarkGroup<'_, WallTime>) {
    let mut cache: Option<C> = None;
    // Fresh keys, above the range used to fill the cache.
    let mut next_key = 2 * CAPACITY;
    group.bench_function(C::NAME, |b| {
        let cache = cache.get_or_insert_with(|| {
            let cache = C::build();
            for key in 0..2 * CAPACITY {
                cache.insert(key, load(key));
            }
            cache.settle();
            cache
        });
        b.iter_custom(|iters| {
            let began = Instant::now();
            for _ in 0..iters {
                for _ in 0..BATCH {
                    cache.insert(black_box(next_key), load(next_key));
                    next_key += 1;
                }
            }
            began.elapsed()
        });
    });
}

fn insert_evict_group(c: &mut Criterion) {
    let mut group = c.benchmark_group("cache/insert_evict");
    configure(&mut group);
    group.throughput(Throughput::Elements(BATCH as u64));
    bench_insert_evict::<cache::Cache<u64, u64>>(&mut group);
    bench_insert_evict::<moka::sync::Cache<u64, u64>>(&mut group);
    bench_insert_evict::<quick_cache::sync::Cache<u64, u64>>(&mut group);
    bench_insert_evict::<Mutex<lru::LruCache<u64, u64>>>(&mut group);
    group.finish();
}

type Seeded = cache::Cache<u64, u64, foldhash::fast::FixedState>;

/// What `cache/warm_start` replays: the snapshot taken before the restart, and the requests
/// timed after it.
struct WarmStart {
    snapshot: Vec<(u64, u64)>,
    after: Vec<u64>,
}

/// A loader: how a miss computes its value.
type Loader = fn(u64) -> u64;

fn seeded_builder() -> cache::CacheBuilder<u64, u64, foldhash::fast::FixedState> {
    cache::Cache::builder(CAPACITY).hasher(foldhash::fast::FixedState::with_seed(WARM_START_SEED))
}

/// The first requests after a restart, cold against warm. The traffic before the restart is
/// thread 0's Zipf sequence, the traffic after it thread 1's (same distribution, another
/// seed), so the warm cache is judged on requests it has not seen.
fn warm_start_group(c: &mut Criterion) {
    let workload_cell: OnceCell<WarmStart> = OnceCell::new();
    let workload = || {
        workload_cell.get_or_init(|| {
            let mut sequences = zipf_sequences(1.0);
            let after = sequences.pop().expect("two sequences");
            let before = seeded_builder().build();
            for &key in &sequences[0] {
                before.get_or_insert_with(key, || load(key));
            }
            WarmStart {
                snapshot: before.snapshot(),
                after: after[..FIRST_REQUESTS].to_vec(),
            }
        })
    };
    let backends: [(&str, Loader); 2] = [("free", load), ("spin-1us", load_slowly)];
    for (backend, loader) in backends {
        let mut group = c.benchmark_group(format!("cache/warm_start/zipf-1.0/{backend}"));
        configure(&mut group);
        group.throughput(Throughput::Elements(FIRST_REQUESTS as u64));
        for warm in [false, true] {
            group.bench_function(if warm { "warm" } else { "cold" }, |b| {
                let WarmStart { snapshot, after } = workload();
                b.iter_custom(|iters| {
                    let mut elapsed = Duration::ZERO;
                    for _ in 0..iters {
                        // Building (and warming) the cache is the restart, not the requests.
                        let cache: Seeded = if warm {
                            seeded_builder().build_with(snapshot.iter().copied())
                        } else {
                            seeded_builder().build()
                        };
                        let began = Instant::now();
                        let mut acc = 0u64;
                        for &key in after {
                            acc = acc.wrapping_add(cache.get_or_insert_with(key, || loader(key)));
                        }
                        elapsed += began.elapsed();
                        black_box(acc);
                        drop(cache);
                    }
                    elapsed
                });
            });
        }
        group.finish();
    }
}

/// A loader standing for a fast backend: [`load`] after spinning for 1 µs.
fn load_slowly(key: u64) -> u64 {
    let began = Instant::now();
    while began.elapsed() < Duration::from_micros(1) {
        std::hint::spin_loop();
    }
    load(key)
}

criterion_group!(benches, zipf_groups, insert_evict_group, warm_start_group);
criterion_main!(benches);
