//! Instruction counts (callgrind) of the single-threaded hot paths of `cache::Cache`.
//!
//! # Benchmark ids (stable: they name the output directories and baselines, do not rename)
//!
//! Group `cache`, functions `hit`, `miss` and `insert_evict`, each with two cases:
//! - `one`: a single operation;
//! - `x1000`: 1000 operations in a row on different keys, which averages out the cost of where
//!   each key sits in the eviction policy's queues.
//!
//! so the ids are `cache::hit one`, `cache::hit x1000`, ..., and the files are under
//! `target/iai/benches/iai_cache/cache/{hit,miss,insert_evict}.{one,x1000}/`.
//!
//! # Workload
//! - `hit`: `get` of keys that are in the cache;
//! - `miss`: `get` of keys that were never inserted;
//! - `insert_evict`: `insert` of never-seen keys into a full cache, so that every insert evicts
//!   (the W-TinyLFU policy may evict the new key itself: that is the cost being measured).
//!
//! The cache is a `Cache<u64, u64>` of 10,000 entries in 4 shards with a fixed-seed foldhash
//! hasher, filled with twice its capacity of sequential keys so that every shard is full; the
//! counts are therefore the same from run to run. Building and filling it happens in the
//! `setup` function, which callgrind does not measure; the cache and the key list are returned
//! from the benchmark so that freeing them is not measured either.

use std::hint::black_box;

use ::cache::Cache;
use foldhash::fast::FixedState;
use iai_callgrind::{library_benchmark, library_benchmark_group, main};

type BenchCache = Cache<u64, u64, FixedState>;

const CAPACITY: u64 = 10_000;
const SHARDS: usize = 4;
const SEED: u64 = 0x5eed_cafe;
/// Keys from here on are never inserted by the setup.
const ABSENT_KEYS: u64 = 1 << 40;

/// A cache with every shard full of keys `0..2 * CAPACITY` (those the policy kept).
fn full_cache() -> BenchCache {
    let cache = Cache::builder(CAPACITY)
        .shards(SHARDS)
        .hasher(FixedState::with_seed(SEED))
        .build();
    for key in 0..2 * CAPACITY {
        cache.insert(key, key);
    }
    assert_eq!(cache.len() as u64, CAPACITY, "every shard is full");
    cache
}

/// A full cache and `n` keys it holds.
fn present_keys(n: usize) -> (BenchCache, Vec<u64>) {
    let cache = full_cache();
    let keys: Vec<u64> = (0..2 * CAPACITY)
        .filter(|key| cache.contains_key(key))
        .take(n)
        .collect();
    assert_eq!(keys.len(), n);
    (cache, keys)
}

/// A full cache and `n` keys it never saw.
fn absent_keys(n: usize) -> (BenchCache, Vec<u64>) {
    let cache = full_cache();
    let keys: Vec<u64> = (ABSENT_KEYS..).take(n).collect();
    (cache, keys)
}

#[library_benchmark]
#[bench::one(args = (1), setup = present_keys)]
#[bench::x1000(args = (1000), setup = present_keys)]
fn hit(input: (BenchCache, Vec<u64>)) -> (BenchCache, Vec<u64>, u64) {
    let (cache, keys) = input;
    let mut sum = 0u64;
    for key in &keys {
        let value = cache.get(black_box(key));
        sum = sum.wrapping_add(black_box(value).unwrap_or(0));
    }
    (cache, keys, sum)
}

#[library_benchmark]
#[bench::one(args = (1), setup = absent_keys)]
#[bench::x1000(args = (1000), setup = absent_keys)]
fn miss(input: (BenchCache, Vec<u64>)) -> (BenchCache, Vec<u64>, u64) {
    let (cache, keys) = input;
    let mut sum = 0u64;
    for key in &keys {
        let value = cache.get(black_box(key));
        sum = sum.wrapping_add(black_box(value).unwrap_or(0));
    }
    (cache, keys, sum)
}

#[library_benchmark]
#[bench::one(args = (1), setup = absent_keys)]
#[bench::x1000(args = (1000), setup = absent_keys)]
fn insert_evict(input: (BenchCache, Vec<u64>)) -> (BenchCache, Vec<u64>, u64) {
    let (cache, keys) = input;
    let mut replaced = 0u64;
    for &key in &keys {
        let old = cache.insert(black_box(key), key);
        replaced += u64::from(black_box(old).is_some());
    }
    (cache, keys, replaced)
}

library_benchmark_group!(
    name = cache;
    benchmarks = hit, miss, insert_evict
);

main!(library_benchmark_groups = cache);
