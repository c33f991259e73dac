//! A concurrent workload registry: latency statistics per query shape and a slow-query log.
//!
//! Every executed query is [recorded](Registry::record) with its latency and whether it
//! succeeded. The registry keys it by its [`Fingerprint`] and keeps, per fingerprint:
//! calls, errors, total/min/max/mean latency, p50/p95/p99 from a fixed-size [`Histogram`],
//! and the normalised text of the first query seen with that fingerprint. Failed calls
//! count as calls and their latency is included (a failing query still costs time).
//!
//! Queries whose latency is at or above the configured
//! [`slow_threshold`](RegistryConfig::slow_threshold) (the same rule as PostgreSQL's
//! `log_min_duration_statement`) are also appended to a bounded ring holding the last
//! [`slow_log_capacity`](RegistryConfig::slow_log_capacity) slow queries.
//!
//! # Concurrency
//! Entries live in [`RegistryConfig::lanes`] lanes of [`RegistryConfig::shards`]
//! `HashMap`s, each behind its own `parking_lot::Mutex` on cache lines of its own. A thread
//! records into its lane (threads are spread round robin; a thread that finds its shard
//! locked moves to the next lane), in the shard chosen by the fingerprint, holding the lock
//! for a few dozen nanoseconds (SQL is parsed *before* the lock is taken). So threads
//! recording the same query do not fight over one entry; reads ([`Registry::snapshot`],
//! [`Registry::stats`]) merge the lanes, exactly (histograms add bucket by bucket). The slow
//! log has its own lock, taken only for slow queries.
//!
//! # What to pass to `record`
//! Anything that converts into a [`QueryKey`]:
//! - `&str` / `&String`: raw SQL, parsed and normalised on every call (text that
//!   sqlparser cannot parse is still recorded, see [`Normalized::new_lossy`]);
//! - `&Normalized`: computed once by the caller, no parsing per call;
//! - `Fingerprint`: cheapest; the normalised text stays unknown until some caller passes
//!   the SQL or a `Normalized` for that fingerprint.
//!
//! ```
//! use std::time::Duration;
//! use query_plan::registry::{Registry, RegistryConfig};
//!
//! let registry = Registry::new(RegistryConfig {
//!     slow_threshold: Some(Duration::from_millis(100)),
//!     ..RegistryConfig::default()
//! });
//! registry.record("SELECT * FROM t WHERE id = 1", Duration::from_millis(3), true);
//! registry.record("select * from t where id = 2", Duration::from_millis(250), false);
//! let stats = registry.snapshot();
//! assert_eq!(stats.len(), 1);
//! assert_eq!((stats[0].calls, stats[0].errors), (2, 1));
//! assert_eq!(stats[0].normalized.as_deref(), Some("SELECT * FROM t WHERE id = ?"));
//! assert_eq!(registry.slow_queries().len(), 1);
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;

use crate::fingerprint::{Fingerprint, Normalized};

/// What identifies a recorded query; see the [module docs](self).
#[derive(Debug, Clone, Copy)]
pub enum QueryKey<'a> {
    /// Raw SQL, normalised on the spot.
    Sql(&'a str),
    /// A query normalised beforehand.
    Normalized(&'a Normalized),
    /// A bare fingerprint (no text).
    Fingerprint(Fingerprint),
}

impl<'a> From<&'a str> for QueryKey<'a> {
    fn from(sql: &'a str) -> Self {
        QueryKey::Sql(sql)
    }
}

impl<'a> From<&'a String> for QueryKey<'a> {
    fn from(sql: &'a String) -> Self {
        QueryKey::Sql(sql)
    }
}

impl<'a> From<&'a Normalized> for QueryKey<'a> {
    fn from(n: &'a Normalized) -> Self {
        QueryKey::Normalized(n)
    }
}

impl From<Fingerprint> for QueryKey<'_> {
    fn from(fp: Fingerprint) -> Self {
        QueryKey::Fingerprint(fp)
    }
}

/// Settings of a [`Registry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryConfig {
    /// Queries taking at least this long go to the slow-query log; `None` disables it.
    /// Default: 1 second.
    pub slow_threshold: Option<Duration>,
    /// How many slow queries the log keeps (the most recent ones). Default: 1000.
    pub slow_log_capacity: usize,
    /// Number of independently locked shards (rounded up to a power of two, at least 1).
    /// Default: 64.
    pub shards: usize,
    /// Number of lanes: each thread records into one lane (threads are spread over the
    /// lanes round robin), so threads recording the same fingerprint do not write to the
    /// same memory; reads merge the lanes. A fingerprint recorded from `k` lanes takes `k`
    /// entries (about 9.3 KiB each). Default: the number of CPUs, at most 8; 1 turns lanes
    /// off.
    pub lanes: usize,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            slow_threshold: Some(Duration::from_secs(1)),
            slow_log_capacity: 1000,
            shards: 64,
            lanes: std::thread::available_parallelism().map_or(1, |n| n.get().min(8)),
        }
    }
}

/// One entry of the slow-query log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowQuery {
    /// The query's fingerprint.
    pub fingerprint: Fingerprint,
    /// How long it took.
    pub latency: Duration,
    /// The SQL as the caller passed it (raw, literals included); the normalised text if
    /// the caller passed a [`Normalized`]; `None` for a bare [`Fingerprint`].
    pub sql: Option<Arc<str>>,
    /// Whether the query succeeded.
    pub ok: bool,
    /// When it was recorded.
    pub at: SystemTime,
}

/// Statistics for one fingerprint, as returned by [`Registry::snapshot`].
#[derive(Debug, Clone, PartialEq)]
pub struct QueryStats {
    /// The query shape.
    pub fingerprint: Fingerprint,
    /// The normalised text of the first query seen with this fingerprint (`None` if it
    /// was only ever recorded by bare fingerprint).
    pub normalized: Option<Arc<str>>,
    /// Number of recorded executions (successful or not).
    pub calls: u64,
    /// Number of failed executions.
    pub errors: u64,
    /// Sum of all latencies.
    pub total: Duration,
    /// Smallest latency (exact).
    pub min: Duration,
    /// Largest latency (exact).
    pub max: Duration,
    /// `total / calls` (exact up to nanosecond truncation).
    pub mean: Duration,
    /// Median, from the histogram (see [`Histogram`] for the error bound).
    pub p50: Duration,
    /// 95th percentile, from the histogram.
    pub p95: Duration,
    /// 99th percentile, from the histogram.
    pub p99: Duration,
}

/// A log-linear latency histogram with fixed memory (HDR-style), in nanoseconds.
///
/// Values below 32 ns have one bucket each. Above, every power of two `[2^e, 2^(e+1))` is
/// split into 32 equal sub-buckets, so a bucket's width is at most 1/32 of its lower
/// bound. A quantile is reported as the midpoint of the bucket holding the nearest-rank
/// value, clamped to the exact `[min, max]`, so its **relative error is at most 1/64
/// (≈ 1.6 %)** of the true nearest-rank value. The range ends at 2^40 ns (≈ 18.3
/// minutes); longer values land in the last bucket (their quantile is still clamped to
/// the exact max). Memory: [`Histogram::BUCKETS`] `u64` counters (9 KiB).
#[derive(Clone)]
pub struct Histogram {
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
        Self::new()
    }
}

impl Histogram {
    /// Sub-buckets per power of two (log2).
    const SUB_BITS: u32 = 5;
    const SUB: u64 = 1 << Self::SUB_BITS;
    /// Largest exponent with its own buckets: values up to `2^(MAX_EXP+1) - 1` ns.
    const MAX_EXP: u32 = 39;
    /// Number of buckets.
    pub const BUCKETS: usize =
        (Self::SUB as usize) * (1 + (Self::MAX_EXP - Self::SUB_BITS + 1) as usize);
    /// The documented bound on a quantile's relative error.
    pub const MAX_RELATIVE_ERROR: f64 = 1.0 / 64.0;

    /// An empty histogram.
    pub fn new() -> Self {
        Histogram {
            counts: Box::new([0; Self::BUCKETS]),
            count: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    fn index(v: u64) -> usize {
        if v < Self::SUB {
            return v as usize;
        }
        let e = 63 - v.leading_zeros();
        if e > Self::MAX_EXP {
            return Self::BUCKETS - 1;
        }
        let sub = (v >> (e - Self::SUB_BITS)) - Self::SUB;
        ((e - Self::SUB_BITS + 1) as usize) * Self::SUB as usize + sub as usize
    }

    /// Lower bound and width of bucket `i`.
    fn bucket(i: usize) -> (u64, u64) {
        let sub_count = Self::SUB as usize;
        if i < sub_count {
            return (i as u64, 1);
        }
        let shift = (i / sub_count - 1) as u32;
        let sub = (i % sub_count) as u64;
        ((Self::SUB + sub) << shift, 1 << shift)
    }

    /// Adds one value (nanoseconds).
    pub fn record(&mut self, nanos: u64) {
        self.counts[Self::index(nanos)] += 1;
        self.count += 1;
        self.min = self.min.min(nanos);
        self.max = self.max.max(nanos);
    }

    /// Adds every value recorded in `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.count += other.count;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The nearest-rank `q`-quantile (`q` in `0.0..=1.0`) in nanoseconds, within
    /// [`MAX_RELATIVE_ERROR`](Self::MAX_RELATIVE_ERROR); 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (lo, width) = Self::bucket(i);
                return (lo + width / 2).clamp(self.min, self.max);
            }
        }
        self.max
    }
}

/// Per-fingerprint accumulator, boxed and on cache lines of its own so that records of
/// different fingerprints on different threads do not share a line.
#[derive(Debug)]
#[repr(align(128))]
struct Entry {
    normalized: Option<Arc<str>>,
    errors: u64,
    total_nanos: u128,
    histogram: Histogram,
}

impl Entry {
    fn new() -> Self {
        Entry {
            normalized: None,
            errors: 0,
            total_nanos: 0,
            histogram: Histogram::new(),
        }
    }

    fn merge(&mut self, other: &Entry) {
        if self.normalized.is_none() {
            self.normalized.clone_from(&other.normalized);
        }
        self.errors += other.errors;
        self.total_nanos += other.total_nanos;
        self.histogram.merge(&other.histogram);
    }

    fn stats(&self, fingerprint: Fingerprint) -> QueryStats {
        let h = &self.histogram;
        let calls = h.count;
        let nanos = |n: u64| Duration::from_nanos(n);
        let mean = if calls == 0 {
            0
        } else {
            (self.total_nanos / u128::from(calls)) as u64
        };
        QueryStats {
            fingerprint,
            normalized: self.normalized.clone(),
            calls,
            errors: self.errors,
            total: duration_from_u128(self.total_nanos),
            min: nanos(if calls == 0 { 0 } else { h.min }),
            max: nanos(h.max),
            mean: nanos(mean),
            p50: nanos(h.quantile(0.50)),
            p95: nanos(h.quantile(0.95)),
            p99: nanos(h.quantile(0.99)),
        }
    }
}

fn duration_from_u128(nanos: u128) -> Duration {
    let secs = nanos / 1_000_000_000;
    let sub = (nanos % 1_000_000_000) as u32;
    Duration::new(u64::try_from(secs).unwrap_or(u64::MAX), sub)
}

/// One shard, on cache lines of its own: two threads recording different fingerprints
/// must not write to the same line (the lock word and the map header are written on every
/// record).
#[derive(Debug)]
#[repr(align(128))]
struct Shard(Mutex<HashMap<Fingerprint, Box<Entry>>>);

/// The concurrent workload registry; see the [module docs](self). Share it with `Arc`.
#[derive(Debug)]
pub struct Registry {
    /// `lanes × shards_per_lane` shards, lane-major.
    shards: Box<[Shard]>,
    mask: u64,
    lanes: usize,
    slow_threshold: Option<Duration>,
    slow_capacity: usize,
    slow: Mutex<VecDeque<SlowQuery>>,
    slow_total: AtomicU64,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new(RegistryConfig::default())
    }
}

impl Registry {
    /// An empty registry with the given settings.
    pub fn new(config: RegistryConfig) -> Self {
        let n = config.shards.max(1).next_power_of_two();
        let lanes = config.lanes.max(1);
        Registry {
            shards: (0..n * lanes)
                .map(|_| Shard(Mutex::new(HashMap::new())))
                .collect(),
            mask: n as u64 - 1,
            lanes,
            slow_threshold: config.slow_threshold,
            slow_capacity: config.slow_log_capacity,
            slow: Mutex::new(VecDeque::new()),
            slow_total: AtomicU64::new(0),
        }
    }

    /// The shard of `fp` in `lane`.
    fn shard(&self, lane: usize, fp: Fingerprint) -> &Mutex<HashMap<Fingerprint, Box<Entry>>> {
        let h = fp.0 ^ (fp.0 >> 32);
        &self.shards[lane * (self.mask as usize + 1) + (h & self.mask) as usize].0
    }

    /// Runs `f` on this thread's entry for `fp`. Each thread starts in a lane of its own
    /// (round robin); when its shard is locked by another thread, it moves to the next lane
    /// for good, so threads that collide drift apart.
    fn with_entry(&self, fp: Fingerprint, f: impl FnOnce(&mut Entry)) {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static LANE: std::cell::Cell<usize> =
                std::cell::Cell::new(NEXT.fetch_add(1, Ordering::Relaxed));
        }
        let lane = if self.lanes == 1 {
            0
        } else {
            LANE.with(std::cell::Cell::get) % self.lanes
        };
        let shard = self.shard(lane, fp);
        let mut map = match shard.try_lock() {
            Some(map) => map,
            None => {
                if self.lanes > 1 {
                    LANE.with(|l| l.set(lane + 1));
                }
                shard.lock()
            }
        };
        f(map.entry(fp).or_insert_with(|| Box::new(Entry::new())));
    }

    /// Records one execution and returns the fingerprint it was counted under.
    pub fn record<'a>(
        &self,
        query: impl Into<QueryKey<'a>>,
        latency: Duration,
        ok: bool,
    ) -> Fingerprint {
        let owned;
        let (fp, text, raw): (Fingerprint, Option<&Arc<str>>, Option<&str>) = match query.into() {
            QueryKey::Sql(sql) => {
                owned = Normalized::new_lossy(sql);
                (owned.fingerprint, Some(&owned.text), Some(sql))
            }
            QueryKey::Normalized(n) => (n.fingerprint, Some(&n.text), None),
            QueryKey::Fingerprint(fp) => (fp, None, None),
        };
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.with_entry(fp, |entry| {
            if entry.normalized.is_none() {
                entry.normalized = text.cloned();
            }
            entry.histogram.record(nanos);
            entry.total_nanos += u128::from(nanos);
            if !ok {
                entry.errors += 1;
            }
        });
        if let Some(threshold) = self.slow_threshold
            && latency >= threshold
        {
            self.slow_total.fetch_add(1, Ordering::Relaxed);
            if self.slow_capacity > 0 {
                let sql = match raw {
                    Some(raw) => Some(Arc::from(raw)),
                    None => text.cloned(),
                };
                let item = SlowQuery {
                    fingerprint: fp,
                    latency,
                    sql,
                    ok,
                    at: SystemTime::now(),
                };
                let mut slow = self.slow.lock();
                if slow.len() == self.slow_capacity {
                    slow.pop_front();
                }
                slow.push_back(item);
            }
        }
        fp
    }

    /// Statistics for one fingerprint.
    pub fn stats(&self, fp: Fingerprint) -> Option<QueryStats> {
        let mut merged: Option<Entry> = None;
        for lane in 0..self.lanes {
            if let Some(e) = self.shard(lane, fp).lock().get(&fp) {
                merged.get_or_insert_with(Entry::new).merge(e);
            }
        }
        merged.map(|e| e.stats(fp))
    }

    /// Statistics for every fingerprint, sorted by total time, largest first (ties by
    /// fingerprint). Each shard is copied under its lock; shards are not frozen together.
    pub fn snapshot(&self) -> Vec<QueryStats> {
        let mut merged: HashMap<Fingerprint, Entry> = HashMap::new();
        for shard in self.shards.iter() {
            for (fp, e) in shard.0.lock().iter() {
                merged.entry(*fp).or_insert_with(Entry::new).merge(e);
            }
        }
        let mut all: Vec<QueryStats> = merged.iter().map(|(fp, e)| e.stats(*fp)).collect();
        all.sort_by(|a, b| {
            b.total
                .cmp(&a.total)
                .then(a.fingerprint.cmp(&b.fingerprint))
        });
        all
    }

    /// The slow-query log, oldest first (at most `slow_log_capacity` entries).
    pub fn slow_queries(&self) -> Vec<SlowQuery> {
        self.slow.lock().iter().cloned().collect()
    }

    /// How many slow queries were seen in total, including those the ring dropped.
    pub fn slow_total(&self) -> u64 {
        self.slow_total.load(Ordering::Relaxed)
    }

    /// Number of distinct fingerprints recorded.
    pub fn len(&self) -> usize {
        if self.lanes == 1 {
            return self.shards.iter().map(|s| s.0.lock().len()).sum();
        }
        let mut seen = std::collections::HashSet::new();
        for shard in self.shards.iter() {
            seen.extend(shard.0.lock().keys().copied());
        }
        seen.len()
    }

    /// `true` when nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets all statistics and the slow-query log.
    pub fn reset(&self) {
        for shard in self.shards.iter() {
            shard.0.lock().clear();
        }
        self.slow.lock().clear();
        self.slow_total.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::fingerprint;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn within(actual: Duration, expected: Duration) -> bool {
        let (a, e) = (actual.as_nanos() as f64, expected.as_nanos() as f64);
        (a - e).abs() <= e * Histogram::MAX_RELATIVE_ERROR
    }

    #[test]
    fn histogram_buckets_are_contiguous() {
        let mut next = 0;
        for i in 0..Histogram::BUCKETS {
            let (lo, w) = Histogram::bucket(i);
            assert_eq!(lo, next, "bucket {i}");
            assert_eq!(Histogram::index(lo), i);
            assert_eq!(Histogram::index(lo + w - 1), i);
            assert!(w == 1 || w * 32 <= lo);
            next = lo + w;
        }
        assert_eq!(next, 1 << 40);
        assert_eq!(Histogram::index(u64::MAX), Histogram::BUCKETS - 1);
    }

    #[test]
    fn histogram_error_bound() {
        let mut h = Histogram::new();
        // A spread of values over many magnitudes: every quantile within 1/64.
        let values: Vec<u64> = (1..=10_000u64).map(|i| i * i * 37 + 5).collect();
        for &v in &values {
            h.record(v);
        }
        for q in [0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            let rank = ((q * values.len() as f64).ceil() as usize).max(1);
            let exact = values[rank - 1] as f64;
            let got = h.quantile(q) as f64;
            assert!(
                (got - exact).abs() <= exact / 64.0,
                "q={q}: {got} vs {exact}"
            );
        }
    }

    #[test]
    fn known_answer_stats() {
        let r = Registry::default();
        let sql = "SELECT * FROM orders WHERE id = 1";
        // Latencies 1..=100 ms; every 10th call fails.
        for i in 1..=100u64 {
            let q = format!("select * from orders where id = {i}");
            r.record(&q, ms(i), i % 10 != 0);
        }
        let s = r.stats(fingerprint(sql).unwrap()).unwrap();
        assert_eq!(s.calls, 100);
        assert_eq!(s.errors, 10);
        assert_eq!(s.total, ms(5050));
        assert_eq!(s.min, ms(1));
        assert_eq!(s.max, ms(100));
        assert_eq!(s.mean, Duration::from_micros(50_500));
        assert!(within(s.p50, ms(50)), "{:?}", s.p50);
        assert!(within(s.p95, ms(95)), "{:?}", s.p95);
        assert!(within(s.p99, ms(99)), "{:?}", s.p99);
        assert_eq!(
            s.normalized.as_deref(),
            Some("SELECT * FROM orders WHERE id = ?")
        );
    }

    #[test]
    fn keys_and_snapshot_order() {
        let r = Registry::default();
        let n = Normalized::new("SELECT a FROM t WHERE b = 1").unwrap();
        // Bare fingerprint first: text unknown until SQL arrives.
        r.record(n.fingerprint, ms(1), true);
        assert_eq!(r.stats(n.fingerprint).unwrap().normalized, None);
        r.record(&n, ms(1), true);
        r.record("select a from t where b = 2", ms(1), true);
        let heavy = r.record("SELECT x FROM big", ms(10), true);
        r.record("not sql at all", ms(2), false);
        let snap = r.snapshot();
        assert_eq!(snap.len(), 3);
        assert_eq!(snap[0].fingerprint, heavy);
        assert_eq!(snap[1].fingerprint, n.fingerprint);
        assert_eq!(snap[1].calls, 3);
        assert_eq!(
            snap[1].normalized.as_deref(),
            Some("SELECT a FROM t WHERE b = ?")
        );
        assert_eq!(snap[2].normalized.as_deref(), Some("not sql at all"));
        assert_eq!(snap[2].errors, 1);
        assert_eq!(r.len(), 3);
        r.reset();
        assert!(r.is_empty());
    }

    #[test]
    fn slow_log_threshold_and_bound() {
        let r = Registry::new(RegistryConfig {
            slow_threshold: Some(ms(100)),
            slow_log_capacity: 3,
            shards: 4,
            lanes: 1,
        });
        r.record("SELECT 1", ms(99), true); // below: not logged
        for i in 0..5u64 {
            r.record(
                format!("SELECT * FROM t WHERE id = {i}").as_str(),
                ms(100 + i),
                true,
            );
        }
        let n = Normalized::new("SELECT 2").unwrap();
        r.record(&n, ms(500), false);
        r.record(Fingerprint(7), ms(600), true);
        assert_eq!(r.slow_total(), 7);
        let slow = r.slow_queries();
        assert_eq!(slow.len(), 3);
        assert_eq!(slow[0].latency, ms(104));
        assert_eq!(slow[0].sql.as_deref(), Some("SELECT * FROM t WHERE id = 4"));
        assert_eq!(
            slow[0].fingerprint,
            fingerprint("SELECT * FROM t WHERE id = 0").unwrap()
        );
        assert_eq!(slow[1].sql.as_deref(), Some("SELECT ?"));
        assert!(!slow[1].ok);
        assert_eq!(slow[2].sql, None);
        assert_eq!(slow[2].fingerprint, Fingerprint(7));

        let off = Registry::new(RegistryConfig {
            slow_threshold: None,
            ..RegistryConfig::default()
        });
        off.record("SELECT 1", Duration::from_secs(3600), true);
        assert!(off.slow_queries().is_empty());
    }

    #[test]
    fn concurrent_counts_are_exact() {
        const THREADS: u64 = 8;
        const PER_THREAD: u64 = 10_000;
        let r = Registry::new(RegistryConfig {
            slow_threshold: Some(Duration::from_micros(9_990)),
            slow_log_capacity: 16,
            shards: 8,
            lanes: 3,
        });
        let shapes: Vec<Normalized> = (0..4)
            .map(|i| Normalized::new(&format!("SELECT c{i} FROM t WHERE k = 1")).unwrap())
            .collect();
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let (r, shapes) = (&r, &shapes);
                s.spawn(move || {
                    for i in 0..PER_THREAD {
                        let shape = &shapes[((t + i) % 4) as usize];
                        r.record(shape, Duration::from_micros(i), i % 7 != 0);
                    }
                });
            }
        });
        let snap = r.snapshot();
        assert_eq!(snap.len(), 4);
        let calls: u64 = snap.iter().map(|s| s.calls).sum();
        let errors: u64 = snap.iter().map(|s| s.errors).sum();
        let total: Duration = snap.iter().map(|s| s.total).sum();
        assert_eq!(calls, THREADS * PER_THREAD);
        assert_eq!(errors, THREADS * PER_THREAD.div_ceil(7));
        assert_eq!(
            total,
            Duration::from_micros(THREADS * PER_THREAD * (PER_THREAD - 1) / 2)
        );
        for s in &snap {
            assert_eq!(s.calls, THREADS * PER_THREAD / 4);
            assert_eq!(s.min, Duration::ZERO);
            assert_eq!(s.max, Duration::from_micros(PER_THREAD - 1));
        }
        assert_eq!(r.slow_total(), THREADS * 10);
        assert_eq!(r.slow_queries().len(), 16);
        // Per-fingerprint reads merge the lanes the same way.
        assert_eq!(r.len(), 4);
        for s in &snap {
            assert_eq!(r.stats(s.fingerprint).as_ref(), Some(s));
        }
    }

    #[test]
    fn lanes_merge_into_one_entry_with_exact_quantiles() {
        let r = Registry::new(RegistryConfig {
            lanes: 4,
            ..RegistryConfig::default()
        });
        let one = Registry::new(RegistryConfig {
            lanes: 1,
            ..RegistryConfig::default()
        });
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let (r, one) = (&r, &one);
                s.spawn(move || {
                    for i in 0..1000 {
                        let latency = Duration::from_micros(t * 1000 + i);
                        r.record("SELECT * FROM t WHERE id = 1", latency, true);
                        one.record("SELECT * FROM t WHERE id = 1", latency, true);
                    }
                });
            }
        });
        assert_eq!(r.len(), 1);
        // Merging lanes loses nothing: the same statistics as a single lane.
        assert_eq!(r.snapshot(), one.snapshot());
    }
}
