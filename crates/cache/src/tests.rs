//! Unit tests with access to the crate's internals: every feature on its own, a randomized
//! model check that runs `check_invariants` after every operation, and concurrency tests of
//! single-flight loading and of the metrics.
//!
//! Everything is deterministic: a fixed hasher, seeded random numbers and a [`MockClock`].
//! The concurrency tests never sleep; they wait for conditions they can observe.

use std::hash::{BuildHasherDefault, DefaultHasher, Hash};
use std::time::Duration;

use super::*;
use crate::metrics::HitRatioWatch;

/// A hasher with a fixed seed, so eviction decisions are the same on every run.
type Fixed = BuildHasherDefault<DefaultHasher>;

/// A cache of `capacity` entries over `shards` shards, with a mock clock and a fixed hasher.
fn build<K: Hash + Eq, V>(capacity: u64, shards: usize) -> (Cache<K, V, Fixed>, MockClock) {
    let clock = MockClock::default();
    let cache = Cache::builder(capacity)
        .shards(shards)
        .clock(clock.clone())
        .hasher(Fixed::default())
        .build();
    (cache, clock)
}

/// The identity that ties the counters to the contents: every entry that came in either is
/// still there or left exactly once, by removal, eviction or expiration.
fn assert_balanced<K, V, S>(cache: &Cache<K, V, S>) {
    let m = cache.metrics();
    assert_eq!(
        m.inserts,
        m.removals + m.evictions + m.expirations + cache.len() as u64,
        "inserts must equal removals + evictions + expirations + len: {m:?}, len {}",
        cache.len()
    );
}

fn pending_loads<K, V, S>(cache: &Cache<K, V, S>) -> usize {
    cache
        .shards
        .iter()
        .map(|shard| shard.0.read().pending.len())
        .sum()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `Cache` is shared between threads by reference.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Cache<String, Vec<u8>>>();
    assert_send_sync::<Cache<String, Vec<u8>, Fixed>>();
};

mod features {
    use super::*;

    #[test]
    fn get_insert_remove() {
        let (cache, _) = build::<u64, String>(100, 1);
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.insert(1, "one".to_string()), None);
        assert_eq!(cache.get(&1).as_deref(), Some("one"));
        assert!(cache.contains_key(&1));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.weighted_size(), 1);
        assert_eq!(cache.remove(&1).as_deref(), Some("one"));
        assert_eq!(cache.remove(&1), None);
        assert_eq!(cache.get(&1), None);
        assert!(!cache.contains_key(&1));
        assert!(cache.is_empty());
        cache.check_invariants();
        assert_eq!(
            cache.metrics(),
            Metrics {
                hits: 1,
                misses: 2,
                inserts: 1,
                removals: 1,
                ..Metrics::default()
            }
        );
    }

    #[test]
    fn string_keys_are_looked_up_by_str() {
        let (cache, _) = build::<String, u32>(100, 4);
        cache.insert("alpha".to_string(), 1);
        assert_eq!(cache.get("alpha"), Some(1));
        assert!(cache.contains_key("alpha"));
        assert_eq!(cache.remove("alpha"), Some(1));
        assert!(!cache.invalidate("alpha"));
    }

    #[test]
    fn replace_returns_the_old_value() {
        let (cache, _) = build::<u64, u64>(100, 1);
        assert_eq!(cache.insert(7, 1), None);
        assert_eq!(cache.insert(7, 2), Some(1));
        assert_eq!(cache.insert_with(7, 3, Expiry::Never), Some(2));
        assert_eq!(cache.get(&7), Some(3));
        assert_eq!(cache.len(), 1);
        cache.check_invariants();
        assert_eq!(
            cache.metrics(),
            Metrics {
                hits: 1,
                inserts: 1,
                updates: 2,
                ..Metrics::default()
            }
        );
    }

    #[test]
    fn entry_count_is_bounded() {
        for shards in [1, 4] {
            let (cache, _) = build::<u64, u64>(100, shards);
            assert_eq!(cache.shard_count(), shards);
            for key in 0..1_000 {
                cache.insert(key, key * 10);
                assert!(cache.len() <= 100);
                cache.check_invariants();
            }
            // Every shard received far more keys than it holds, so every shard is full.
            assert_eq!(cache.len(), 100);
            assert_eq!(cache.weighted_size(), 100);
            let m = cache.metrics();
            assert_eq!(m.inserts, 1_000);
            assert_eq!(m.evictions, 900);
            assert_balanced(&cache);
            for key in 0..1_000 {
                if let Some(value) = cache.get(&key) {
                    assert_eq!(value, key * 10);
                }
            }
        }
    }

    #[test]
    fn capacity_is_split_over_shards() {
        // 10 over 4 shards: 3 + 3 + 2 + 2.
        let (cache, _) = build::<u64, u64>(10, 4);
        for key in 0..1_000 {
            cache.insert(key, key);
            assert!(cache.len() <= 10);
        }
        assert_eq!(cache.len(), 10);
        cache.check_invariants();
    }

    #[test]
    fn zero_capacity_keeps_nothing() {
        let (cache, _) = build::<u64, u64>(0, 1);
        assert_eq!(cache.insert(1, 1), None);
        assert_eq!(cache.get(&1), None);
        assert!(cache.is_empty());
        cache.check_invariants();
        assert_balanced(&cache);
    }

    fn weighted(capacity: u64) -> Cache<u64, Vec<u8>, Fixed> {
        Cache::builder(capacity)
            .shards(1)
            .weigher(|_key: &u64, value: &Vec<u8>| value.len() as u32)
            .hasher(Fixed::default())
            .build()
    }

    #[test]
    fn total_weight_is_bounded() {
        let cache = weighted(100);
        for key in 0..50 {
            cache.insert(key, vec![0; 10]);
            assert!(cache.weighted_size() <= 100);
            cache.check_invariants();
        }
        assert_eq!(cache.weighted_size(), 100);
        assert_eq!(cache.len(), 10);
        assert_eq!(cache.metrics().evictions, 40);

        // Mixed weights.
        let cache = weighted(100);
        for key in 0..500u64 {
            cache.insert(key, vec![0; (key % 37) as usize + 1]);
            assert!(cache.weighted_size() <= 100);
            cache.check_invariants();
        }
        assert_balanced(&cache);
    }

    #[test]
    fn a_weight_of_zero_counts_as_one() {
        let cache = weighted(100);
        for key in 0..150 {
            cache.insert(key, Vec::new());
            cache.check_invariants();
        }
        assert_eq!(cache.len(), 100);
        assert_eq!(cache.weighted_size(), 100);
        assert_eq!(cache.metrics().evictions, 50);
    }

    #[test]
    fn an_entry_heavier_than_the_capacity_is_not_kept() {
        let cache = weighted(100);
        for key in 0..5 {
            cache.insert(key, vec![0; 10]);
        }
        assert_eq!(cache.insert(99, vec![0; 101]), None);
        cache.check_invariants();
        assert_eq!(cache.get(&99), None);
        assert!(!cache.contains_key(&99));
        // It does not push the others out either.
        for key in 0..5 {
            assert!(cache.contains_key(&key), "key {key} was pushed out");
        }
        assert_eq!(cache.weighted_size(), 50);
        assert_eq!(cache.metrics().evictions, 1);
        assert_balanced(&cache);
        // Inserted again and again it becomes popular, yet it must still not get in.
        for _ in 0..20 {
            cache.insert(99, vec![0; 101]);
            cache.check_invariants();
            assert!(!cache.contains_key(&99));
            assert_eq!(cache.weighted_size(), 50);
        }
        assert_eq!(cache.metrics().evictions, 21);

        // Alone in an empty cache, too.
        let cache = weighted(100);
        cache.insert(1, vec![0; 1_000]);
        assert!(cache.is_empty());
        assert_eq!(cache.weighted_size(), 0);
        cache.check_invariants();

        // An entry of exactly the capacity fits.
        let cache = weighted(100);
        cache.insert(1, vec![0; 100]);
        assert_eq!(cache.get(&1).map(|v| v.len()), Some(100));
        cache.check_invariants();
    }

    #[test]
    fn growing_an_entry_past_the_capacity_drops_it() {
        let cache = weighted(100);
        for key in 0..5 {
            cache.insert(key, vec![0; 10]);
        }
        assert_eq!(cache.insert(2, vec![0; 101]).map(|v| v.len()), Some(10));
        cache.check_invariants();
        assert_eq!(cache.get(&2), None);
        // It leaves alone, without pushing the others out first.
        for key in [0, 1, 3, 4] {
            assert!(cache.contains_key(&key), "key {key} was pushed out");
        }
        assert_eq!(cache.weighted_size(), 40);
        assert_eq!(
            cache.metrics(),
            Metrics {
                misses: 1,
                inserts: 5,
                updates: 1,
                evictions: 1,
                ..Metrics::default()
            }
        );
        assert_balanced(&cache);
    }

    /// Hot keys, read often, then a one-off scan of ten times the capacity in new keys.
    /// W-TinyLFU keeps the hot set; LRU (the `lru` crate, as a reference) loses all of it.
    #[test]
    fn a_scan_does_not_flush_the_hot_set() {
        const CAPACITY: u64 = 1_000;
        const HOT: u64 = 200;
        let (cache, _) = build::<u64, u64>(CAPACITY, 1);
        let mut lru = lru::LruCache::new(std::num::NonZeroUsize::new(CAPACITY as usize).unwrap());
        // Cache-aside: read, and insert on a miss.
        let mut access = |key: u64| {
            if cache.get(&key).is_none() {
                cache.insert(key, key);
            }
            if lru.get(&key).is_none() {
                lru.put(key, key);
            }
        };
        for _round in 0..10 {
            for key in 0..HOT {
                access(key);
            }
        }
        for key in 1_000_000..1_000_000 + 10 * CAPACITY {
            access(key);
        }
        cache.check_invariants();
        let survivors = (0..HOT).filter(|key| cache.contains_key(key)).count();
        let lru_survivors = (0..HOT).filter(|key| lru.contains(key)).count();
        assert_eq!(lru_survivors, 0);
        assert!(
            survivors >= HOT as usize * 9 / 10,
            "only {survivors} of {HOT} hot keys survived the scan"
        );
        assert_eq!(cache.len() as u64, CAPACITY);
        assert_balanced(&cache);
    }

    /// A hot set as large as the cache: part of it sits in the probation segment, where only
    /// the admission filter (a newcomer must be more popular than its victim) protects it.
    #[test]
    fn the_admission_filter_keeps_popular_entries() {
        const CAPACITY: u64 = 500;
        let (cache, _) = build::<u64, u64>(CAPACITY, 1);
        let access = |key: u64| {
            if cache.get(&key).is_none() {
                cache.insert(key, key);
            }
        };
        for _round in 0..10 {
            for key in 0..CAPACITY {
                access(key);
            }
        }
        assert_eq!(
            (0..CAPACITY).filter(|key| cache.contains_key(key)).count(),
            500
        );
        for key in 1_000_000..1_000_000 + 10 * CAPACITY {
            access(key);
        }
        cache.check_invariants();
        let survivors = (0..CAPACITY).filter(|key| cache.contains_key(key)).count();
        // Admitting every newcomer (plain SLRU) keeps about 80 %.
        assert!(
            survivors >= CAPACITY as usize * 9 / 10,
            "only {survivors} of {CAPACITY} popular keys survived the scan"
        );
        assert_balanced(&cache);
    }

    #[test]
    fn per_entry_ttl() {
        let (cache, clock) = build::<u64, u64>(100, 1);
        cache.insert_with(1, 10, Expiry::After(secs(10)));
        cache.insert_with(2, 20, Expiry::After(secs(20)));
        cache.insert(3, 30);
        clock.advance(Duration::from_millis(9_999));
        assert_eq!(cache.get(&1), Some(10));
        clock.advance(Duration::from_millis(1));
        // Expired at exactly its deadline.
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.get(&2), Some(20));
        clock.advance(secs(10));
        assert_eq!(cache.get(&2), None);
        clock.advance(secs(1_000_000));
        assert_eq!(cache.get(&3), Some(30), "no default TTL: never expires");
        cache.check_invariants();
        assert_eq!(
            cache.metrics(),
            Metrics {
                hits: 3,
                misses: 2,
                inserts: 3,
                expirations: 2,
                ..Metrics::default()
            }
        );
        assert_balanced(&cache);
    }

    #[test]
    fn a_zero_ttl_expires_at_once() {
        let (cache, _) = build::<u64, u64>(100, 1);
        cache.insert_with(1, 1, Expiry::After(Duration::ZERO));
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.metrics().expirations, 1);
        // A huge TTL does not overflow.
        cache.insert_with(2, 2, Expiry::After(Duration::MAX));
        assert_eq!(cache.get(&2), Some(2));
        assert_balanced(&cache);
    }

    #[test]
    fn default_ttl_and_overrides() {
        let clock = MockClock::default();
        let cache: Cache<u64, u64, Fixed> = Cache::builder(100)
            .shards(1)
            .clock(clock.clone())
            .default_ttl(secs(60))
            .hasher(Fixed::default())
            .build();
        cache.insert(1, 1);
        cache.insert_with(2, 2, Expiry::Default);
        cache.insert_with(3, 3, Expiry::Never);
        cache.insert_with(4, 4, Expiry::After(secs(120)));
        cache.insert_many([(5, 5)]);
        clock.advance(secs(59));
        assert_eq!(
            cache.get_many(&[1, 2, 3, 4, 5]),
            [Some(1), Some(2), Some(3), Some(4), Some(5)]
        );
        clock.advance(secs(1));
        assert_eq!(
            cache.get_many(&[1, 2, 3, 4, 5]),
            [None, None, Some(3), Some(4), None]
        );
        clock.advance(secs(60));
        assert_eq!(cache.get(&4), None);
        clock.advance(secs(1_000_000));
        assert_eq!(
            cache.get(&3),
            Some(3),
            "Expiry::Never overrides the default TTL"
        );
        assert_eq!(cache.metrics().expirations, 4);
        assert_balanced(&cache);
    }

    #[test]
    fn class_ttl() {
        let clock = MockClock::default();
        let cache: Cache<u64, u64, Fixed> = Cache::builder(100)
            .shards(1)
            .clock(clock.clone())
            .default_ttl(secs(100))
            .class_ttl("short", secs(5))
            .class_ttl("long", secs(1_000))
            .class_ttl("short", secs(10)) // declared twice: the last TTL wins
            .hasher(Fixed::default())
            .build();
        let short = cache.ttl_class("short").expect("declared");
        let long = cache.ttl_class("long").expect("declared");
        assert_ne!(short, long);
        assert_eq!(cache.ttl_class("missing"), None);
        cache.insert_with(1, 1, Expiry::Class(short));
        cache.insert_with(2, 2, Expiry::Class(long));
        cache.insert(3, 3);
        clock.advance(secs(9));
        assert_eq!(cache.get(&1), Some(1));
        clock.advance(secs(1));
        assert_eq!(cache.get(&1), None);
        clock.advance(secs(90));
        assert_eq!(cache.get(&3), None);
        assert_eq!(cache.get(&2), Some(2));
        clock.advance(secs(900));
        assert_eq!(cache.get(&2), None);
        assert_eq!(cache.metrics().expirations, 3);
        assert_balanced(&cache);
    }

    #[test]
    fn expired_entries_are_never_returned() {
        let (cache, clock) = build::<u64, u64>(100, 4);
        for key in 0..20 {
            cache.insert_with(key, key, Expiry::After(secs(10)));
        }
        clock.advance(secs(10));
        for key in 0..10 {
            assert!(!cache.contains_key(&key));
        }
        // `contains_key` neither drops nor counts.
        assert_eq!(cache.len(), 20);
        assert_eq!(cache.metrics().expirations, 0);
        for key in 0..5 {
            assert_eq!(cache.get(&key), None);
        }
        let keys: Vec<u64> = (5..15).collect();
        assert_eq!(cache.get_many(&keys), vec![None; 10]);
        assert_eq!(
            cache.remove(&15),
            None,
            "remove does not return an expired value"
        );
        assert!(!cache.invalidate(&16));
        // Replacing an expired entry returns nothing.
        assert_eq!(cache.insert(17, 170), None);
        assert_eq!(cache.get(&17), Some(170));
        cache.check_invariants();
        let m = cache.metrics();
        assert_eq!(m.expirations, 18);
        assert_eq!(m.misses, 15);
        assert_eq!(m.hits, 1);
        assert_eq!(m.removals, 0);
        assert_eq!(cache.len(), 3);
        assert_balanced(&cache);
    }

    #[test]
    fn replacing_an_expired_entry_counts_as_an_insert() {
        let (cache, clock) = build::<u64, u64>(100, 1);
        cache.insert_with(1, 1, Expiry::After(secs(1)));
        clock.advance(secs(1));
        assert_eq!(cache.insert(1, 2), None);
        assert_eq!(
            cache.metrics(),
            Metrics {
                inserts: 2,
                expirations: 1,
                ..Metrics::default()
            }
        );
        assert_balanced(&cache);
    }

    #[test]
    fn expired_entries_are_evicted_first_and_counted_as_expirations() {
        let (cache, clock) = build::<u64, u64>(10, 1);
        for key in 0..10 {
            cache.insert_with(key, key, Expiry::After(secs(1)));
        }
        clock.advance(secs(1));
        for key in 10..20 {
            cache.insert(key, key);
        }
        cache.check_invariants();
        let m = cache.metrics();
        assert_eq!(m.expirations + m.evictions, 10);
        assert_eq!(m.expirations, 10 - m.evictions);
        assert_balanced(&cache);
    }

    #[test]
    fn purge_expired() {
        let (cache, clock) = build::<u64, u64>(100, 4);
        for key in 0..10 {
            cache.insert_with(key, key, Expiry::After(secs(5)));
        }
        for key in 10..20 {
            cache.insert(key, key);
        }
        assert_eq!(cache.purge_expired(), 0);
        clock.advance(secs(5));
        assert_eq!(cache.len(), 20);
        assert_eq!(cache.purge_expired(), 10);
        assert_eq!(cache.len(), 10);
        assert_eq!(cache.purge_expired(), 0);
        cache.check_invariants();
        assert_eq!(
            cache.metrics(),
            Metrics {
                inserts: 20,
                expirations: 10,
                ..Metrics::default()
            }
        );
        assert_balanced(&cache);
    }

    #[test]
    fn get_many_answers_in_order() {
        let (cache, _) = build::<u64, u64>(1_000, 4);
        for key in 0..100 {
            cache.insert(key, key * 2);
        }
        let keys = [99, 500, 3, 3, 42, 0, 1_000, 7];
        let expected: Vec<Option<u64>> = keys
            .iter()
            .map(|&key| (key < 100).then_some(key * 2))
            .collect();
        assert_eq!(cache.get_many(&keys), expected);
        assert_eq!(cache.get_many(std::iter::empty::<&u64>()), Vec::new());
        let m = cache.metrics();
        assert_eq!((m.hits, m.misses), (6, 2));

        let (cache, _) = build::<String, u32>(1_000, 4);
        cache.insert("a".to_string(), 1);
        cache.insert("c".to_string(), 3);
        assert_eq!(cache.get_many(["a", "b", "c"]), [Some(1), None, Some(3)]);
    }

    #[test]
    fn insert_many_last_write_wins() {
        for shards in [1, 4] {
            let (cache, _) = build::<u64, u64>(1_000, shards);
            cache.insert(5, 0);
            let batch: Vec<(u64, u64)> = (0..50)
                .map(|key| (key, key))
                .chain((0..50).map(|key| (key, key + 100)))
                .chain([(5, 555), (6, 666)])
                .collect();
            cache.insert_many(batch);
            cache.check_invariants();
            for key in 0..50 {
                let expected = match key {
                    5 => 555,
                    6 => 666,
                    _ => key + 100,
                };
                assert_eq!(cache.get(&key), Some(expected), "key {key}");
            }
            assert_eq!(cache.len(), 50);
            let m = cache.metrics();
            assert_eq!(m.inserts, 50);
            assert_eq!(m.updates, 53);
            assert_balanced(&cache);
        }
    }

    #[test]
    fn insert_many_is_bounded() {
        let (cache, _) = build::<u64, u64>(100, 4);
        cache.insert_many((0..1_000).map(|key| (key, key)));
        cache.check_invariants();
        assert_eq!(cache.len(), 100);
        assert_eq!(cache.metrics().evictions, 900);
    }

    #[test]
    fn invalidate_one_key() {
        let (cache, _) = build::<u64, u64>(100, 4);
        cache.insert(1, 1);
        cache.insert(2, 2);
        assert!(cache.invalidate(&1));
        assert!(!cache.invalidate(&1));
        assert!(!cache.invalidate(&3));
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.get(&2), Some(2));
        assert_eq!(cache.metrics().removals, 1);
        assert_balanced(&cache);
    }

    #[test]
    fn invalidate_prefix() {
        let (cache, clock) = build::<String, u32>(1_000, 4);
        for n in 0..10 {
            cache.insert(format!("user:{n}"), n);
            cache.insert(format!("post:{n}"), n);
        }
        cache.insert("user".to_string(), 99);
        cache.insert_with("user:expired".to_string(), 0, Expiry::After(secs(1)));
        clock.advance(secs(1));
        // The expired one is dropped as an expiration, not counted as invalidated.
        assert_eq!(cache.invalidate_prefix("user:"), 10);
        cache.check_invariants();
        for n in 0..10 {
            assert_eq!(cache.get(&format!("user:{n}")), None);
            assert_eq!(cache.get(&format!("post:{n}")), Some(n));
        }
        assert_eq!(cache.get("user"), Some(99));
        assert_eq!(cache.invalidate_prefix("user:"), 0);
        assert_eq!(cache.invalidate_prefix("nothing"), 0);
        let m = cache.metrics();
        assert_eq!(m.removals, 10);
        assert_eq!(m.expirations, 1);
        // The empty prefix matches everything.
        assert_eq!(cache.invalidate_prefix(""), 11);
        assert!(cache.is_empty());
        assert_balanced(&cache);
    }

    #[test]
    fn invalidate_if_and_all() {
        let (cache, _) = build::<u64, u64>(1_000, 4);
        for key in 0..100 {
            cache.insert(key, key * 3);
        }
        assert_eq!(cache.invalidate_if(|_, value| value % 2 == 0), 50);
        cache.check_invariants();
        for key in 0..100 {
            assert_eq!(cache.contains_key(&key), key % 2 == 1);
        }
        assert_eq!(cache.invalidate_if(|key, _| *key >= 90), 5);
        assert_eq!(cache.len(), 45);
        assert_eq!(cache.invalidate_all(), 45);
        assert!(cache.is_empty());
        assert_eq!(cache.invalidate_all(), 0);
        cache.check_invariants();
        assert_eq!(cache.metrics().removals, 100);
        assert_balanced(&cache);
        // The cache still works afterwards.
        cache.insert(1, 1);
        assert_eq!(cache.get(&1), Some(1));
    }

    #[test]
    fn metrics_count_exactly() {
        let (cache, clock) = build::<u64, u64>(3, 1);
        assert_eq!(cache.metrics(), Metrics::default());
        assert_eq!(cache.metrics().hit_ratio(), 0.0);

        cache.insert(1, 1); // insert
        cache.insert(2, 2); // insert
        cache.insert(1, 11); // update
        assert_eq!(cache.get(&1), Some(11)); // hit
        assert_eq!(cache.get(&1), Some(11)); // hit
        assert_eq!(cache.get(&9), None); // miss
        assert!(cache.contains_key(&2)); // not counted
        assert_eq!(cache.remove(&2), Some(2)); // removal
        assert_eq!(cache.remove(&2), None); // nothing
        cache.insert_with(3, 3, Expiry::After(secs(1))); // insert
        clock.advance(secs(1));
        assert_eq!(cache.get(&3), None); // miss + expiration
        cache.insert(4, 4); // insert
        cache.insert(5, 5); // insert
        cache.insert(6, 6); // insert + eviction (capacity 3)
        assert_eq!(cache.len(), 3);
        let m = cache.metrics();
        assert_eq!(
            m,
            Metrics {
                hits: 2,
                misses: 2,
                inserts: 6,
                updates: 1,
                removals: 1,
                evictions: 1,
                expirations: 1,
            }
        );
        assert_eq!(m.requests(), 4);
        assert_eq!(m.hit_ratio(), 0.5);
        assert_balanced(&cache);
    }

    #[test]
    fn debug_output_does_not_deadlock() {
        let (cache, _) = build::<u64, u64>(10, 2);
        cache.insert(1, 1);
        let text = format!("{cache:?}");
        assert!(text.contains("len: 1"), "{text}");
    }

    #[test]
    fn get_or_insert_with_hits_do_not_load() {
        let (cache, _) = build::<u64, u64>(10, 1);
        assert_eq!(cache.get_or_insert_with(1, || 10), 10);
        assert_eq!(cache.get_or_insert_with(1, || unreachable!("cached")), 10);
        assert_eq!(
            cache.metrics(),
            Metrics {
                hits: 1,
                misses: 1,
                inserts: 1,
                ..Metrics::default()
            }
        );
        assert_eq!(pending_loads(&cache), 0);
    }

    #[test]
    fn load_errors_are_not_cached() {
        let (cache, _) = build::<u64, u64>(10, 1);
        let error = cache
            .get_or_try_insert_with(1, || Err::<u64, _>("down"))
            .unwrap_err();
        assert_eq!(*error, "down");
        assert_eq!(cache.get(&1), None);
        assert_eq!(pending_loads(&cache), 0);
        assert_eq!(cache.get_or_try_insert_with(1, || Ok::<_, ()>(5)), Ok(5));
        assert_eq!(cache.get(&1), Some(5));
    }

    #[test]
    fn a_load_uses_the_given_expiry() {
        let clock = MockClock::default();
        let cache: Cache<u64, u64, Fixed> = Cache::builder(10)
            .clock(clock.clone())
            .default_ttl(secs(100))
            .hasher(Fixed::default())
            .build();
        cache.get_or_insert_with(1, || 1);
        cache
            .get_or_try_insert_with_expiry(2, Expiry::After(secs(10)), || Ok::<_, ()>(2))
            .unwrap();
        cache
            .get_or_try_insert_with_expiry(3, Expiry::Never, || Ok::<_, ()>(3))
            .unwrap();
        clock.advance(secs(10));
        assert_eq!(cache.get_many(&[1, 2, 3]), [Some(1), None, Some(3)]);
        clock.advance(secs(90));
        assert_eq!(cache.get_many(&[1, 2, 3]), [None, None, Some(3)]);
    }

    #[test]
    fn a_panicking_loader_leaves_nothing_behind() {
        let (cache, _) = build::<u64, u64>(10, 1);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cache.get_or_insert_with(1, || panic!("loader failed"))
        }));
        assert!(panicked.is_err());
        assert_eq!(pending_loads(&cache), 0);
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.get_or_insert_with(1, || 2), 2);
        assert_eq!(cache.get(&1), Some(2));
        cache.check_invariants();
    }

    /// A weigher that panics while a load is being stored must not wedge the key either.
    #[test]
    fn a_panicking_weigher_does_not_wedge_the_key() {
        let cache: Cache<u64, u64, Fixed> = Cache::builder(100)
            .weigher(|_key: &u64, value: &u64| {
                assert_ne!(*value, 13, "unlucky");
                1
            })
            .hasher(Fixed::default())
            .build();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cache.get_or_insert_with(1, || 13)
        }));
        assert!(panicked.is_err());
        assert_eq!(pending_loads(&cache), 0);
        assert_eq!(cache.get_or_insert_with(1, || 2), 2);
    }
}

/// A randomized sequence of operations checked against a model of what the cache may hold.
///
/// Eviction makes presence unpredictable, so the model checks soundness: a value the cache
/// returns was the last one inserted under its key, was not removed since and has not expired;
/// a key the cache has lost stays lost until it is inserted again; the bounds hold; and the
/// counters match the operations exactly.
mod model {
    use std::collections::HashMap;

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    const DEFAULT_TTL: u64 = 5;
    const CLASS_TTL: u64 = 2;

    struct Entry {
        value: u64,
        /// Nanoseconds on the mock clock; `None` for never.
        expires_at: Option<u64>,
    }

    impl Entry {
        fn is_live(&self, now: u64) -> bool {
            self.expires_at.is_none_or(|deadline| now < deadline)
        }
    }

    /// Expected counters, from the operations and their answers.
    #[derive(Default)]
    struct Tally {
        lookups: u64,
        hits: u64,
        writes: u64,
        removals: u64,
    }

    struct Model {
        /// Every entry the cache may hold, live or expired. The cache holds a subset of these
        /// keys, each with the value recorded here.
        entries: HashMap<String, Entry>,
        now: u64,
        tally: Tally,
    }

    impl Model {
        fn write(&mut self, key: String, value: u64, ttl: Option<u64>) {
            let expires_at = ttl.map(|ttl| self.now + ttl * 1_000_000_000);
            self.entries.insert(key, Entry { value, expires_at });
            self.tally.writes += 1;
        }

        /// Checks an answer of the cache for `key`: a value must be the live one on record.
        fn check_live(&self, key: &str, value: u64, what: &str) {
            let entry = self
                .entries
                .get(key)
                .unwrap_or_else(|| panic!("{what} {key} gave {value}, which is not on record"));
            assert_eq!(entry.value, value, "{what} {key}: stale value");
            assert!(entry.is_live(self.now), "{what} {key}: expired value");
        }

        fn observe_get(&mut self, key: &str, answer: Option<u64>) {
            self.tally.lookups += 1;
            match answer {
                Some(value) => {
                    self.check_live(key, value, "get");
                    self.tally.hits += 1;
                }
                // Evicted, expired and dropped, or never there: it stays gone.
                None => {
                    self.entries.remove(key);
                }
            }
        }
    }

    fn key_of(rng: &mut StdRng) -> String {
        let group = ["a", "b", "c"][rng.random_range(0..3)];
        format!("{group}:{}", rng.random_range(0..12))
    }

    fn expiry_of(rng: &mut StdRng, class: TtlClass) -> (Expiry, Option<u64>) {
        match rng.random_range(0..4) {
            0 => (Expiry::Default, Some(DEFAULT_TTL)),
            1 => (Expiry::Never, None),
            2 => (Expiry::Class(class), Some(CLASS_TTL)),
            _ => {
                let ttl = rng.random_range(0..8);
                (Expiry::After(secs(ttl)), Some(ttl))
            }
        }
    }

    fn run(seed: u64, shards: usize, weighted: bool, ops: usize) {
        const CAPACITY: u64 = 12;
        let clock = MockClock::default();
        let mut builder = Cache::builder(CAPACITY)
            .shards(shards)
            .clock(clock.clone())
            .default_ttl(secs(DEFAULT_TTL))
            .class_ttl("class", secs(CLASS_TTL));
        if weighted {
            // Weights 0 (counted as 1) to 5: with four shards of capacity 3, some entries are
            // too heavy for their shard, new or replaced.
            builder = builder.weigher(|_key: &String, value: &u64| (*value % 6) as u32);
        }
        let cache: Cache<String, u64, Fixed> = builder.hasher(Fixed::default()).build();
        let class = cache.ttl_class("class").expect("declared");
        let mut rng = StdRng::seed_from_u64(seed);
        let mut model = Model {
            entries: HashMap::new(),
            now: 0,
            tally: Tally::default(),
        };
        let mut next_value = 0u64;
        let mut fresh_value = || {
            next_value += 1;
            next_value
        };

        for step in 0..ops {
            let context = format!("seed {seed}, shards {shards}, weighted {weighted}, step {step}");
            match rng.random_range(0..100) {
                0..35 => {
                    let key = key_of(&mut rng);
                    let value = fresh_value();
                    let (expiry, ttl) = expiry_of(&mut rng, class);
                    let old = if expiry == Expiry::Default && rng.random_bool(0.5) {
                        cache.insert(key.clone(), value)
                    } else {
                        cache.insert_with(key.clone(), value, expiry)
                    };
                    if let Some(old) = old {
                        model.check_live(&key, old, "insert's old value of");
                    }
                    model.write(key, value, ttl);
                }
                35..65 => {
                    let key = key_of(&mut rng);
                    let answer = cache.get(&key);
                    model.observe_get(&key, answer);
                }
                65..70 => {
                    let keys: Vec<String> = (0..rng.random_range(0..6))
                        .map(|_| key_of(&mut rng))
                        .collect();
                    let answers = cache.get_many(keys.iter().map(String::as_str));
                    assert_eq!(answers.len(), keys.len());
                    for (key, answer) in keys.iter().zip(answers) {
                        model.observe_get(key, answer);
                    }
                }
                70..74 => {
                    let batch: Vec<(String, u64)> = (0..rng.random_range(0..6))
                        .map(|_| (key_of(&mut rng), fresh_value()))
                        .collect();
                    cache.insert_many(batch.clone());
                    for (key, value) in batch {
                        model.write(key, value, Some(DEFAULT_TTL));
                    }
                }
                74..82 => {
                    let key = key_of(&mut rng);
                    if let Some(value) = cache.remove(&key) {
                        model.check_live(&key, value, "remove");
                        model.tally.removals += 1;
                    }
                    model.entries.remove(&key);
                }
                82..86 => {
                    let key = key_of(&mut rng);
                    if cache.contains_key(&key) {
                        let entry = model.entries.get(&key).expect("contains a key on record");
                        assert!(
                            entry.is_live(model.now),
                            "{context}: contains an expired key"
                        );
                    } else if model
                        .entries
                        .get(&key)
                        .is_some_and(|e| e.is_live(model.now))
                    {
                        // Lost to eviction. (An expired entry may still be held, so it stays.)
                        model.entries.remove(&key);
                    }
                }
                86..94 => {
                    let by = rng.random_range(0..3_000u64);
                    clock.advance(Duration::from_millis(by));
                    model.now += by * 1_000_000;
                }
                94..96 => {
                    let prefix = ["a:", "b:", "c:1", ""][rng.random_range(0..4)];
                    let removed = cache.invalidate_prefix(prefix) as u64;
                    let now = model.now;
                    let live_before = model
                        .entries
                        .iter()
                        .filter(|(key, entry)| key.starts_with(prefix) && entry.is_live(now))
                        .count() as u64;
                    assert!(removed <= live_before, "{context}: invalidated too many");
                    model.tally.removals += removed;
                    model.entries.retain(|key, _| !key.starts_with(prefix));
                }
                96..98 => {
                    let modulus = rng.random_range(2..5);
                    let removed = cache.invalidate_if(|_, value| value % modulus == 0) as u64;
                    let now = model.now;
                    let live_before = model
                        .entries
                        .values()
                        .filter(|entry| entry.value % modulus == 0 && entry.is_live(now))
                        .count() as u64;
                    assert!(removed <= live_before, "{context}: invalidated too many");
                    model.tally.removals += removed;
                    model.entries.retain(|_, entry| entry.value % modulus != 0);
                }
                _ => {
                    let purged = cache.purge_expired() as u64;
                    let now = model.now;
                    let expired_before =
                        model.entries.values().filter(|e| !e.is_live(now)).count() as u64;
                    assert!(purged <= expired_before, "{context}: purged too many");
                    model.entries.retain(|_, entry| entry.is_live(now));
                }
            }

            cache.check_invariants();
            let len = cache.len();
            let m = cache.metrics();
            assert!(
                len <= model.entries.len(),
                "{context}: holds keys not on record"
            );
            if weighted {
                assert!(cache.weighted_size() <= CAPACITY, "{context}");
            } else {
                assert!(len as u64 <= CAPACITY, "{context}");
                assert_eq!(cache.weighted_size(), len as u64, "{context}");
            }
            assert_eq!(m.hits + m.misses, model.tally.lookups, "{context}");
            assert_eq!(m.hits, model.tally.hits, "{context}");
            assert_eq!(m.inserts + m.updates, model.tally.writes, "{context}");
            assert_eq!(m.removals, model.tally.removals, "{context}");
            assert_eq!(
                m.inserts,
                m.removals + m.evictions + m.expirations + len as u64,
                "{context}: {m:?}"
            );
        }
        let m = cache.metrics();
        // The sequence exercised what it is meant to.
        assert!(m.hits > 0 && m.misses > 0 && m.evictions > 0 && m.expirations > 0);
    }

    #[test]
    fn one_shard() {
        for seed in 0..20 {
            run(seed, 1, false, 5_000);
        }
    }

    #[test]
    fn four_shards() {
        for seed in 0..20 {
            run(seed, 4, false, 5_000);
        }
    }

    #[test]
    fn weighted() {
        for seed in 0..10 {
            run(seed, 1, true, 5_000);
            run(seed, 4, true, 5_000);
        }
    }
}

/// Single-flight loading and the counters under real threads.
///
/// No test sleeps or depends on timing. A blocked loader is released only once every caller
/// has missed, which the tests see in the miss counter: a miss is counted under the shard
/// lock in the same critical section in which the caller joins the load in progress (or
/// starts it), and nothing is stored before the release, so no caller can hit instead. Each
/// caller has therefore either started the load or holds it, which makes "the loader ran
/// once" deterministic, and a broken single flight would run all the blocked loaders.
mod concurrency {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};
    use std::thread;

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    const THREADS: usize = 8;

    /// A gate a loader waits at until the test opens it.
    #[derive(Default)]
    struct Gate(AtomicBool);

    impl Gate {
        fn wait(&self) {
            while !self.0.load(Ordering::SeqCst) {
                thread::yield_now();
            }
        }

        fn open(&self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    /// Waits until the cache has counted `misses` misses, or until some caller has returned:
    /// with single flight working nobody returns before the gate opens, so that only happens
    /// when it is broken, and the test's assertions then fail instead of waiting forever.
    fn wait_for_misses<K, V, S>(cache: &Cache<K, V, S>, misses: u64, returned: &AtomicUsize) {
        while cache.metrics().misses < misses && returned.load(Ordering::SeqCst) == 0 {
            thread::yield_now();
        }
    }

    #[derive(Debug, PartialEq, Eq)]
    struct LoadError(u32);

    #[test]
    fn concurrent_misses_run_the_loader_once() {
        for round in 0..20u64 {
            let (cache, _) = build::<u64, String>(100, 4);
            let calls = AtomicUsize::new(0);
            let gate = Gate::default();
            let start = Barrier::new(THREADS);
            let returned = AtomicUsize::new(0);
            let results: Vec<String> = thread::scope(|scope| {
                let handles: Vec<_> = (0..THREADS)
                    .map(|_| {
                        scope.spawn(|| {
                            start.wait();
                            let value = cache.get_or_insert_with(round, || {
                                calls.fetch_add(1, Ordering::SeqCst);
                                gate.wait();
                                format!("value {round}")
                            });
                            returned.fetch_add(1, Ordering::SeqCst);
                            value
                        })
                    })
                    .collect();
                wait_for_misses(&cache, THREADS as u64, &returned);
                gate.open();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert_eq!(calls.load(Ordering::SeqCst), 1, "round {round}");
            assert!(
                results
                    .iter()
                    .all(|value| *value == format!("value {round}"))
            );
            assert_eq!(cache.get(&round), Some(format!("value {round}")));
            assert_eq!(pending_loads(&cache), 0);
            assert_eq!(
                cache.metrics(),
                Metrics {
                    hits: 1,
                    misses: THREADS as u64,
                    inserts: 1,
                    ..Metrics::default()
                }
            );
            cache.check_invariants();
        }
    }

    #[test]
    fn a_load_error_reaches_every_waiter_and_is_not_cached() {
        let (cache, _) = build::<u64, u64>(100, 4);
        let calls = AtomicUsize::new(0);
        let gate = Gate::default();
        let returned = AtomicUsize::new(0);
        let results: Vec<Result<u64, Arc<LoadError>>> = thread::scope(|scope| {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    scope.spawn(|| {
                        let result = cache.get_or_try_insert_with(1, || {
                            calls.fetch_add(1, Ordering::SeqCst);
                            gate.wait();
                            Err(LoadError(503))
                        });
                        returned.fetch_add(1, Ordering::SeqCst);
                        result
                    })
                })
                .collect();
            wait_for_misses(&cache, THREADS as u64, &returned);
            gate.open();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let first = results[0].clone().unwrap_err();
        assert_eq!(*first, LoadError(503));
        for result in &results {
            // The very same error, shared.
            assert!(Arc::ptr_eq(result.as_ref().unwrap_err(), &first));
        }
        assert_eq!(pending_loads(&cache), 0);
        assert!(!cache.contains_key(&1));
        // Not cached: the next caller loads again.
        let value = cache.get_or_try_insert_with(1, || {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, LoadError>(7)
        });
        assert_eq!(value, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(cache.get(&1), Some(7));
        let m = cache.metrics();
        assert_eq!((m.inserts, m.misses, m.hits), (1, THREADS as u64 + 1, 1));
    }

    #[test]
    fn a_panicking_loader_does_not_wedge_the_key() {
        let (cache, _) = build::<u64, String>(100, 4);
        let calls = AtomicUsize::new(0);
        let gate = Gate::default();
        let returned = AtomicUsize::new(0);
        let results: Vec<thread::Result<String>> = thread::scope(|scope| {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    scope.spawn(|| {
                        let result = catch_unwind(AssertUnwindSafe(|| {
                            cache.get_or_insert_with(1, || {
                                // The first loader blocks, then panics; any later one succeeds.
                                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                                    gate.wait();
                                    panic!("the first loader fails");
                                }
                                "second".to_string()
                            })
                        }));
                        returned.fetch_add(1, Ordering::SeqCst);
                        result
                    })
                })
                .collect();
            wait_for_misses(&cache, THREADS as u64, &returned);
            gate.open();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let panics = results.iter().filter(|result| result.is_err()).count();
        assert_eq!(panics, 1, "only the leader sees its panic");
        for value in results.into_iter().flatten() {
            assert_eq!(value, "second");
        }
        // The panicked load and exactly one replacement.
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(pending_loads(&cache), 0);
        assert_eq!(cache.get(&1).as_deref(), Some("second"));
        assert_eq!(
            cache.get_or_insert_with(1, || unreachable!("cached")),
            "second"
        );
        let m = cache.metrics();
        // Each waiter looked the key up once more after the panic.
        assert_eq!(m.hits + m.misses, 2 * THREADS as u64 - 1 + 2);
        assert_eq!(m.inserts, 1);
        // A later load of another key works too.
        assert_eq!(cache.get_or_insert_with(2, || "two".to_string()), "two");
        cache.check_invariants();
    }

    /// Starts loads of `keys` on two threads each, blocks them, runs `invalidate` while they
    /// are in flight, then releases them. Returns the cache, what every caller got and how
    /// often the loaders ran.
    fn invalidate_during_load(
        keys: &[&str],
        invalidate: impl FnOnce(&Cache<String, String, Fixed>),
    ) -> (Cache<String, String, Fixed>, usize) {
        let (cache, _) = build::<String, String>(100, 4);
        let calls = AtomicUsize::new(0);
        let gate = Gate::default();
        let returned = AtomicUsize::new(0);
        thread::scope(|scope| {
            let handles: Vec<_> = keys
                .iter()
                .flat_map(|&key| [key, key])
                .map(|key| {
                    let (cache, calls, gate, returned) = (&cache, &calls, &gate, &returned);
                    scope.spawn(move || {
                        let value = cache.get_or_insert_with(key.to_string(), || {
                            calls.fetch_add(1, Ordering::SeqCst);
                            gate.wait();
                            format!("loaded {key}")
                        });
                        returned.fetch_add(1, Ordering::SeqCst);
                        assert_eq!(
                            value,
                            format!("loaded {key}"),
                            "every caller gets the value"
                        );
                    })
                })
                .collect();
            wait_for_misses(&cache, 2 * keys.len() as u64, &returned);
            invalidate(&cache);
            gate.open();
            for handle in handles {
                handle.join().unwrap();
            }
        });
        assert_eq!(pending_loads(&cache), 0);
        cache.check_invariants();
        (cache, calls.load(Ordering::SeqCst))
    }

    #[test]
    fn invalidating_a_key_during_its_load_keeps_the_result_out() {
        let (cache, calls) = invalidate_during_load(&["user:1", "user:2"], |cache| {
            assert!(!cache.invalidate("user:1"));
        });
        assert_eq!(calls, 2);
        assert_eq!(
            cache.get("user:1"),
            None,
            "the invalidated load is not stored"
        );
        assert_eq!(cache.get("user:2").as_deref(), Some("loaded user:2"));
        // The next load stores again.
        assert_eq!(
            cache.get_or_insert_with("user:1".to_string(), || "fresh".to_string()),
            "fresh"
        );
        assert_eq!(cache.get("user:1").as_deref(), Some("fresh"));

        let (cache, _) = invalidate_during_load(&["user:1"], |cache| {
            assert_eq!(cache.remove("user:1"), None);
        });
        assert_eq!(cache.get("user:1"), None);
    }

    #[test]
    fn invalidating_a_prefix_during_a_load_keeps_the_result_out() {
        let (cache, calls) = invalidate_during_load(&["user:1", "post:1"], |cache| {
            assert_eq!(cache.invalidate_prefix("user:"), 0);
        });
        assert_eq!(calls, 2);
        assert_eq!(cache.get("user:1"), None);
        assert_eq!(cache.get("post:1").as_deref(), Some("loaded post:1"));
    }

    #[test]
    fn invalidating_everything_during_a_load_keeps_the_result_out() {
        let (cache, _) = invalidate_during_load(&["a", "b"], |cache| {
            assert_eq!(cache.invalidate_all(), 0);
        });
        assert!(cache.is_empty());
        let (cache, _) = invalidate_during_load(&["a", "b"], |cache| {
            // A predicate cannot look at a load in progress, so every load is kept out.
            assert_eq!(cache.invalidate_if(|key, _| key == "a"), 0);
        });
        assert!(cache.is_empty());
        assert_eq!(cache.metrics().inserts, 0);
    }

    #[test]
    fn loads_with_different_error_types_do_not_share() {
        let (cache, _) = build::<u64, u64>(100, 1);
        let gate = Gate::default();
        let started = AtomicBool::new(false);
        thread::scope(|scope| {
            let leader = scope.spawn(|| {
                cache.get_or_try_insert_with(1, || {
                    started.store(true, Ordering::SeqCst);
                    gate.wait();
                    Ok::<_, LoadError>(10)
                })
            });
            while !started.load(Ordering::SeqCst) {
                thread::yield_now();
            }
            // The leader is blocked; a caller with another error type loads on its own
            // instead of waiting for a result it could not receive.
            assert_eq!(
                cache.get_or_try_insert_with(1, || Ok::<_, String>(20)),
                Ok(20)
            );
            assert_eq!(cache.get(&1), Some(20));
            gate.open();
            assert_eq!(leader.join().unwrap(), Ok(10));
        });
        assert_eq!(cache.get(&1), Some(10));
        assert_eq!(pending_loads(&cache), 0);
    }

    /// Four threads, many mixed operations on a small key space with a small capacity and
    /// moving time; the counters must add up afterwards.
    #[test]
    fn the_counters_add_up_under_concurrency() {
        const THREADS: u64 = 4;
        const OPS: u64 = 5_000;
        const KEYS: u64 = 200;
        const CAPACITY: u64 = 64;
        let clock = MockClock::default();
        let cache: Cache<String, u64, Fixed> = Cache::builder(CAPACITY)
            .shards(4)
            .clock(clock.clone())
            .default_ttl(secs(5))
            .hasher(Fixed::default())
            .build();
        // Values carry their key's number, so a value under the wrong key would show.
        let value_of = |key: u64, salt: u64| key * 1_000_000 + salt;
        let lookups = AtomicU64::new(0);
        let get_hits = AtomicU64::new(0);
        let loader_lookups = AtomicU64::new(0);
        let writes = AtomicU64::new(0);
        let loads = AtomicU64::new(0);
        let removed = AtomicU64::new(0);
        let start = Barrier::new(THREADS as usize);
        thread::scope(|scope| {
            for thread_idx in 0..THREADS {
                let (cache, clock, start) = (&cache, &clock, &start);
                let (lookups, get_hits, loader_lookups) = (&lookups, &get_hits, &loader_lookups);
                let (writes, loads, removed) = (&writes, &loads, &removed);
                scope.spawn(move || {
                    let mut rng = StdRng::seed_from_u64(thread_idx);
                    start.wait();
                    for op in 0..OPS {
                        let key = rng.random_range(0..KEYS);
                        let name = format!("k{key}");
                        let check = |answer: Option<u64>| {
                            lookups.fetch_add(1, Ordering::Relaxed);
                            if let Some(value) = answer {
                                assert_eq!(value / 1_000_000, key, "value under the wrong key");
                                get_hits.fetch_add(1, Ordering::Relaxed);
                            }
                        };
                        match rng.random_range(0..100) {
                            0..35 => check(cache.get(&name)),
                            35..40 => {
                                let names: Vec<String> = (0..3).map(|_| name.clone()).collect();
                                for answer in cache.get_many(names.iter().map(String::as_str)) {
                                    check(answer);
                                }
                            }
                            40..65 => {
                                cache.insert(name, value_of(key, op));
                                writes.fetch_add(1, Ordering::Relaxed);
                            }
                            65..72 => {
                                let ttl = secs(rng.random_range(0..4));
                                cache.insert_with(name, value_of(key, op), Expiry::After(ttl));
                                writes.fetch_add(1, Ordering::Relaxed);
                            }
                            72..75 => {
                                let batch: Vec<(String, u64)> = (0..4)
                                    .map(|n| {
                                        let key = (key + n) % KEYS;
                                        (format!("k{key}"), value_of(key, op))
                                    })
                                    .collect();
                                cache.insert_many(batch);
                                writes.fetch_add(4, Ordering::Relaxed);
                            }
                            75..82 => {
                                if let Some(value) = cache.remove(&name) {
                                    assert_eq!(value / 1_000_000, key);
                                    removed.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            82..92 => {
                                let value = cache.get_or_insert_with(name, || {
                                    loads.fetch_add(1, Ordering::Relaxed);
                                    value_of(key, op)
                                });
                                assert_eq!(value / 1_000_000, key);
                                loader_lookups.fetch_add(1, Ordering::Relaxed);
                            }
                            92..94 => {
                                let prefix = format!("k{}", rng.random_range(1..10));
                                let count = cache.invalidate_prefix(&prefix) as u64;
                                removed.fetch_add(count, Ordering::Relaxed);
                            }
                            94..96 => {
                                cache.purge_expired();
                            }
                            // Not counted: checked by the lookup total below.
                            96..98 => _ = cache.contains_key(&name),
                            _ => clock.advance(Duration::from_millis(rng.random_range(0..500))),
                        }
                    }
                });
            }
        });

        cache.check_invariants();
        assert_eq!(pending_loads(&cache), 0);
        let m = cache.metrics();
        let len = cache.len() as u64;
        let load = |counter: &AtomicU64| counter.load(Ordering::SeqCst);
        let gets = load(&lookups);
        let loader_calls = load(&loader_lookups);
        // Every `get` and every `get_or_insert_with` looked its key up exactly once (no loader
        // panicked, so nobody retried).
        assert_eq!(m.hits + m.misses, gets + loader_calls, "{m:?}");
        // A `get_or_insert_with` may hit or miss; a `get` hit is a hit.
        assert!(m.hits >= load(&get_hits) && m.hits <= load(&get_hits) + loader_calls);
        // Every loader ran after a miss; waiters missed without loading.
        assert!(load(&loads) <= m.misses);
        // Every insert was counted; a load is stored unless invalidated meanwhile.
        let stored = m.inserts + m.updates;
        assert!(stored >= load(&writes) && stored <= load(&writes) + load(&loads));
        assert_eq!(m.removals, load(&removed));
        assert_eq!(
            m.inserts,
            m.removals + m.evictions + m.expirations + len,
            "{m:?}"
        );
        assert!(len <= CAPACITY);
        assert_eq!(cache.weighted_size(), len);
        assert!(m.evictions > 0 && m.expirations > 0 && m.removals > 0);
    }
}

/// `Cache::warm`, `CacheBuilder::build_with` and `Cache::snapshot`.
mod warm_up {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn warmed_entries_are_hits() {
        let (cache, _clock) = build::<u32, u32>(100, 1);
        assert_eq!(cache.warm((0..50).map(|key| (key, key * 10))), 50);
        cache.check_invariants();
        for key in 0..50 {
            assert_eq!(cache.get(&key), Some(key * 10), "key {key}");
        }
        let m = cache.metrics();
        assert_eq!((m.inserts, m.hits, m.misses, m.evictions), (50, 50, 0, 0));
        assert_balanced(&cache);
    }

    #[test]
    fn warming_past_capacity_keeps_the_first_entries_and_evicts_nothing() {
        let (cache, _clock) = build::<u32, u32>(100, 1);
        assert_eq!(cache.warm((0..300).map(|key| (key, key))), 100);
        cache.check_invariants();
        assert_eq!(cache.len(), 100);
        assert!((0..100).all(|key| cache.contains_key(&key)));
        assert!((100..300).all(|key| !cache.contains_key(&key)));
        assert_eq!(cache.metrics().evictions, 0);
        assert_balanced(&cache);
    }

    #[test]
    fn warming_with_several_shards_keeps_each_shards_first_entries() {
        let (cache, _clock) = build::<u32, u32>(400, 4);
        assert_eq!(cache.warm((0..1_000).map(|key| (key, key))), 400);
        cache.check_invariants();
        // Per shard, what is kept is a prefix of that shard's keys in the order given.
        let mut shard_done = [false; 4];
        for key in 0..1_000u32 {
            let shard_idx = cache.shard_idx(cache.hash(&key));
            let kept = cache.contains_key(&key);
            assert!(
                !(kept && shard_done[shard_idx]),
                "key {key} kept after a gap"
            );
            shard_done[shard_idx] |= !kept;
        }
    }

    #[test]
    fn warm_leaves_existing_keys_and_later_repeats_alone() {
        let (cache, _clock) = build::<u32, &str>(10, 1);
        cache.insert(1, "own");
        assert_eq!(
            cache.warm([(1, "warm"), (2, "first"), (2, "repeat"), (3, "three")]),
            2
        );
        assert_eq!(cache.get(&1), Some("own"));
        assert_eq!(cache.get(&2), Some("first"));
        assert_eq!(cache.get(&3), Some("three"));
        cache.check_invariants();
        assert_balanced(&cache);
    }

    #[test]
    fn a_weighted_warm_up_skips_what_does_not_fit_and_fills_with_lighter_entries() {
        let cache: Cache<u32, u32, Fixed> = Cache::builder(10)
            .shards(1)
            .weigher(|_key: &u32, value: &u32| *value)
            .hasher(Fixed::default())
            .build();
        // Weights 6, 6, 3, 1: the second 6 does not fit after the first.
        assert_eq!(cache.warm([(1, 6), (2, 6), (3, 3), (4, 1)]), 3);
        assert_eq!(cache.weighted_size(), 10);
        assert!(!cache.contains_key(&2));
        cache.check_invariants();
    }

    #[test]
    fn warm_entries_survive_one_hit_wonders() {
        let (cache, _clock) = build::<u32, u32>(1_000, 1);
        assert_eq!(cache.warm((0..1_000).map(|key| (key, key))), 1_000);
        // A scan of 100 keys never seen before, each inserted once.
        for key in 1_000_000..1_000_100 {
            cache.insert(key, key);
        }
        cache.check_invariants();
        let survivors = (0..1_000).filter(|key| cache.contains_key(key)).count();
        assert!(
            survivors >= 995,
            "only {survivors} warm entries survived the scan"
        );
        let scan_kept = (1_000_000..1_000_100)
            .filter(|key| cache.contains_key(key))
            .count();
        assert!(
            scan_kept <= 5,
            "{scan_kept} one-hit wonders displaced warm entries"
        );
        assert_balanced(&cache);
    }

    #[test]
    fn warm_entries_get_the_default_ttl() {
        let clock = MockClock::default();
        let cache: Cache<u32, u32, Fixed> = Cache::builder(10)
            .shards(1)
            .clock(clock.clone())
            .default_ttl(secs(5))
            .hasher(Fixed::default())
            .build_with([(1, 1), (2, 2)]);
        assert_eq!(cache.get(&1), Some(1));
        clock.advance(secs(5));
        assert_eq!(cache.get(&1), None);
        assert!(
            cache.snapshot().is_empty(),
            "expired entries are not snapshotted"
        );
    }

    #[test]
    fn snapshot_lists_the_hottest_entries_first() {
        let (cache, _clock) = build::<u32, u32>(1_000, 1);
        for key in 0..1_000 {
            cache.insert(key, key);
        }
        // Keys 0..100 are read five times each; the rest never.
        for _ in 0..5 {
            for key in 0..100 {
                assert_eq!(cache.get(&key), Some(key));
            }
        }
        let before = cache.metrics();
        let snapshot = cache.snapshot();
        assert_eq!(cache.metrics(), before, "a snapshot is not counted");
        assert_eq!(snapshot.len(), 1_000);
        let first: HashSet<u32> = snapshot[..100].iter().map(|&(key, _)| key).collect();
        assert_eq!(first, (0..100).collect::<HashSet<_>>());
        assert!(snapshot.iter().all(|&(key, value)| key == value));
    }

    #[test]
    fn snapshot_then_warm_keeps_the_hot_set_in_a_smaller_cache() {
        let (source, _clock) = build::<u32, u32>(1_000, 1);
        for key in 0..1_000 {
            source.insert(key, key);
        }
        for _ in 0..5 {
            for key in 500..600 {
                source.get(&key);
            }
        }
        let (target, _clock) = build::<u32, u32>(100, 1);
        assert_eq!(target.warm(source.snapshot()), 100);
        target.check_invariants();
        for key in 500..600 {
            assert_eq!(target.get(&key), Some(key), "hot key {key} lost");
        }
        assert_eq!(target.metrics().hit_ratio(), 1.0);
        // And the round trip into a cache as large as the source keeps everything.
        let (copy, _clock) = build::<u32, u32>(1_000, 1);
        assert_eq!(copy.warm(source.snapshot()), 1_000);
        assert_eq!(copy.len(), 1_000);
    }
}

/// `CacheBuilder::hit_ratio_watch`.
mod hit_ratio_watch {
    use std::sync::Arc;

    use parking_lot::Mutex;

    use super::*;

    /// The alerts a watch has fired, in order.
    type Alerts = Arc<Mutex<Vec<HitRatioAlert>>>;

    /// A one-shard cache with a watch that records its alerts, holding key 0 (so that `get(&0)`
    /// hits and `get(&1)` misses).
    fn watched(window: u64, level: f64) -> (Cache<u32, u32, Fixed>, Alerts) {
        let alerts = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&alerts);
        let cache = Cache::builder(100)
            .shards(1)
            .hasher(Fixed::default())
            .hit_ratio_watch(window, level, move |alert| recorded.lock().push(alert))
            .build();
        cache.insert(0, 0);
        (cache, alerts)
    }

    /// Reads `hits` hits then `misses` misses.
    fn reads(cache: &Cache<u32, u32, Fixed>, hits: usize, misses: usize) {
        for _ in 0..hits {
            assert_eq!(cache.get(&0), Some(0));
        }
        for _ in 0..misses {
            assert_eq!(cache.get(&1), None);
        }
    }

    #[test]
    fn hits_then_misses_fire_once_until_the_ratio_recovers() {
        // Window 100 on one shard: checked every 16th miss (the largest power of two at most
        // 100 / 4); hits never check.
        let (cache, alerts) = watched(100, 0.5);
        reads(&cache, 200, 0);
        assert!(alerts.lock().is_empty());
        assert!(!cache.hit_ratio_is_low());
        // Miss 16 (lookup 216) closes the first window: 200 hits of 216. Windows of misses then
        // close every 7 checks (112 lookups): the next at miss 128, with no hit.
        reads(&cache, 0, 127);
        assert!(alerts.lock().is_empty());
        reads(&cache, 0, 1);
        assert_eq!(
            *alerts.lock(),
            vec![HitRatioAlert {
                ratio: 0.0,
                hits: 0,
                lookups: 112,
                level: 0.5,
            }]
        );
        assert!(cache.hit_ratio_is_low());
        // Misses go on (windows close at misses 240, 352, ..., 1024): the ratio stays low, but
        // the watch has fired and stays quiet.
        reads(&cache, 0, 1_000);
        assert_eq!(alerts.lock().len(), 1);
        // 300 hits: no check until a miss, so the flag is still up.
        reads(&cache, 300, 0);
        assert!(cache.hit_ratio_is_low());
        // Miss 1136 closes the window open since miss 1024: 300 hits of 412 lookups, above the
        // re-arming level (0.55).
        reads(&cache, 0, 8);
        assert!(!cache.hit_ratio_is_low());
        assert_eq!(alerts.lock().len(), 1);
        // 112 more misses: the next window, all misses, fires again.
        reads(&cache, 0, 111);
        assert_eq!(alerts.lock().len(), 1);
        reads(&cache, 0, 1);
        assert_eq!(alerts.lock().len(), 2);
        assert_eq!(alerts.lock()[1].lookups, 112);
        assert_eq!(alerts.lock()[1].ratio, 0.0);
        assert!(cache.hit_ratio_is_low());
    }

    #[test]
    fn a_ratio_between_the_level_and_the_rearming_level_does_not_fire_again() {
        // A window of 8 on two shards is checked on every miss (8 / (4 x 2) = 1), and each
        // group of reads below ends with a miss: windows of exactly 8 lookups.
        let alerts = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&alerts);
        let cache: Cache<u32, u32, Fixed> = Cache::builder(100)
            .shards(2)
            .hasher(Fixed::default())
            .hit_ratio_watch(8, 0.5, move |alert| recorded.lock().push(alert))
            .build();
        cache.insert(0, 0);
        let ratios = |alerts: &Mutex<Vec<HitRatioAlert>>| {
            alerts
                .lock()
                .iter()
                .map(|alert| alert.ratio)
                .collect::<Vec<_>>()
        };
        reads(&cache, 3, 5); // 3/8 = 0.375: fires.
        assert_eq!(ratios(&alerts), vec![0.375]);
        reads(&cache, 4, 4); // 0.5: not below the level, but below 0.55: still disarmed.
        reads(&cache, 3, 5); // 0.375 again: no second alert.
        assert_eq!(ratios(&alerts), vec![0.375]);
        assert!(cache.hit_ratio_is_low());
        reads(&cache, 5, 3); // 0.625: re-armed.
        assert!(!cache.hit_ratio_is_low());
        reads(&cache, 2, 6); // 0.25: fires again.
        assert_eq!(ratios(&alerts), vec![0.375, 0.25]);
        assert_eq!(alerts.lock()[1].hits, 2);
        assert_eq!(alerts.lock()[1].lookups, 8);
    }

    #[test]
    fn get_many_and_loader_lookups_count_and_check_the_watch() {
        let (cache, alerts) = watched(8, 0.9);
        // 8 lookups, 2 hits: through get_many and get_or_insert_with.
        let keys: Vec<u32> = vec![0, 1, 2, 3];
        assert_eq!(cache.get_many(&keys), vec![Some(0), None, None, None]);
        assert_eq!(cache.get_or_insert_with(0, || 9), 0);
        for key in 10..13 {
            assert_eq!(cache.get_or_insert_with(key, || key), key);
        }
        assert_eq!(alerts.lock().len(), 1);
        assert_eq!(alerts.lock()[0].ratio, 0.25);
    }

    #[test]
    fn no_watch_no_flag_and_bad_settings_are_refused() {
        let (cache, _clock) = build::<u32, u32>(10, 1);
        cache.get(&1);
        assert!(!cache.hit_ratio_is_low());
        let refused = std::panic::catch_unwind(|| {
            Cache::<u32, u32>::builder(10).hit_ratio_watch(0, 0.5, |_| {})
        });
        assert!(refused.is_err());
        let refused = std::panic::catch_unwind(|| {
            Cache::<u32, u32>::builder(10).hit_ratio_watch(10, 1.5, |_| {})
        });
        assert!(refused.is_err());
    }

    #[test]
    fn the_check_interval_leaves_no_window_unchecked() {
        for (window, n_shards, interval) in [
            (1, 1, 1),
            (8, 1, 2),
            (8, 2, 1),
            (100, 1, 16),
            (100, 4, 4),
            (1 << 20, 16, 16384),
        ] {
            let watch = HitRatioWatch::new(window, 0.5, Box::new(|_| {}));
            let mask = watch.check_mask(n_shards);
            assert_eq!(mask + 1, interval, "window {window}, {n_shards} shards");
            // 4 miss stripes per shard, each short of a multiple of the interval.
            assert!((4 * n_shards as u64) * (interval - 1) < window);
        }
    }

    #[test]
    fn the_callback_may_use_the_cache() {
        // The callback reaches the cache through this slot, filled once the cache is built.
        type Slot = Arc<Mutex<Option<Arc<Cache<u32, u32>>>>>;
        let cache: Slot = Arc::new(Mutex::new(None));
        let inner = Arc::clone(&cache);
        let built = Arc::new(
            Cache::builder(10)
                .shards(1)
                .hit_ratio_watch(4, 0.5, move |_| {
                    if let Some(cache) = inner.lock().as_ref() {
                        // A read from the callback: no deadlock, no recursion into the alert.
                        cache.get(&7);
                        cache.insert(7, 7);
                    }
                })
                .build(),
        );
        *cache.lock() = Some(Arc::clone(&built));
        for key in 0..8 {
            built.get(&key);
        }
        assert_eq!(built.get(&7), Some(7));
        *cache.lock() = None;
    }
}

/// `CacheBuilder::stale_if_error`.
mod stale_if_error {
    use super::*;

    /// A one-shard cache with a 10 s default TTL and the given grace period.
    fn build_with_grace(grace: Duration) -> (Cache<u32, String, Fixed>, MockClock) {
        let clock = MockClock::default();
        let cache = Cache::builder(100)
            .shards(1)
            .clock(clock.clone())
            .default_ttl(secs(10))
            .stale_if_error(grace)
            .hasher(Fixed::default())
            .build();
        (cache, clock)
    }

    fn failing() -> Result<String, &'static str> {
        Err("backend down")
    }

    #[test]
    fn a_failed_load_within_the_grace_period_serves_the_stale_value() {
        let (cache, clock) = build_with_grace(secs(30));
        cache.insert(1, "old".to_string());
        clock.advance(secs(10)); // Expired just now.
        // Reads still miss, and the loader runs.
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.len(), 1, "kept for the grace period");
        clock.advance(secs(29)); // 29 s past expiry: within the 30 s grace.
        assert_eq!(cache.get_or_try_insert_with(1, failing).unwrap(), "old");
        assert_eq!(cache.stale_served(), 1);
        // Not stored again: the next call tries the loader again, and a success replaces it.
        let fresh = cache.get_or_try_insert_with(1, || Ok::<_, &str>("new".to_string()));
        assert_eq!(fresh.unwrap(), "new");
        assert_eq!(cache.get(&1).as_deref(), Some("new"));
        assert_eq!(cache.stale_served(), 1);
        let m = cache.metrics();
        assert_eq!((m.hits, m.misses), (1, 3));
        cache.check_invariants();
        assert_balanced(&cache);
    }

    #[test]
    fn past_the_grace_period_the_error_is_returned() {
        let (cache, clock) = build_with_grace(secs(30));
        cache.insert(1, "old".to_string());
        clock.advance(secs(40)); // Expired 30 s ago: the grace period is over.
        let error = cache.get_or_try_insert_with(1, failing).unwrap_err();
        assert_eq!(*error, "backend down");
        assert_eq!(cache.stale_served(), 0);
        assert_eq!(cache.len(), 0, "dropped once past the grace period");
        assert_balanced(&cache);
    }

    #[test]
    fn a_live_value_is_a_hit_and_the_loader_does_not_run() {
        let (cache, _clock) = build_with_grace(secs(30));
        cache.insert(1, "live".to_string());
        let value = cache.get_or_try_insert_with(1, || -> Result<String, &str> {
            panic!("a hit must not load")
        });
        assert_eq!(value.unwrap(), "live");
        assert_eq!(cache.stale_served(), 0);
    }

    #[test]
    fn without_stale_if_error_a_failed_load_returns_the_error() {
        let (cache, clock) = build_with_grace(Duration::ZERO);
        cache.insert(1, "old".to_string());
        clock.advance(secs(10));
        assert!(cache.get_or_try_insert_with(1, failing).is_err());
        assert_eq!(cache.stale_served(), 0);
        assert_eq!(cache.len(), 0, "expired entries are dropped as before");
    }

    #[test]
    fn an_invalidated_entry_is_never_served_stale() {
        let (cache, clock) = build_with_grace(secs(30));
        cache.insert(1, "old".to_string());
        cache.insert(2, "other".to_string());
        clock.advance(secs(15));
        // An expired entry is not live, so `invalidate` says false, but it is removed.
        assert!(!cache.invalidate(&1));
        assert_eq!(cache.len(), 1);
        assert!(cache.get_or_try_insert_with(1, failing).is_err());
        // Invalidated while the loader runs: the error is returned, not the stale value.
        let error = cache.get_or_try_insert_with(2, || {
            cache.invalidate(&2);
            failing()
        });
        assert!(error.is_err());
        assert_eq!(cache.stale_served(), 0);
    }

    #[test]
    fn callers_waiting_on_a_failed_load_get_the_stale_value_too() {
        let (cache, clock) = build_with_grace(secs(30));
        cache.insert(1, "old".to_string());
        clock.advance(secs(10));
        let (release, released) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|scope| {
            let cache = &cache;
            let leader = scope.spawn(move || {
                cache.get_or_try_insert_with(1, || {
                    released.recv().unwrap();
                    failing()
                })
            });
            while pending_loads(cache) == 0 {
                std::thread::yield_now();
            }
            // This caller either waits on the leader's load or, if it comes after, runs its own
            // failing loader: either way it gets the stale value.
            let waiter = scope.spawn(move || cache.get_or_try_insert_with(1, failing));
            release.send(()).unwrap();
            assert_eq!(leader.join().unwrap().unwrap(), "old");
            assert_eq!(waiter.join().unwrap().unwrap(), "old");
        });
        assert!((1..=2).contains(&cache.stale_served()));
        assert_eq!(pending_loads(&cache), 0);
    }

    #[test]
    fn purge_expired_drops_stale_entries_too() {
        let (cache, clock) = build_with_grace(secs(30));
        cache.insert(1, "old".to_string());
        clock.advance(secs(11));
        assert_eq!(cache.purge_expired(), 1);
        assert!(cache.get_or_try_insert_with(1, failing).is_err());
    }
}

mod refresh_ahead {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A one-shard cache with a 100 s default TTL, refreshed in the last fifth of it (from 80 s
    /// after a write).
    fn build_refreshing() -> (Cache<u32, String, Fixed>, MockClock) {
        build_refreshing_with(|builder| builder)
    }

    /// [`build_refreshing`] with more settings.
    fn build_refreshing_with(
        settings: impl FnOnce(CacheBuilder<u32, String, Fixed>) -> CacheBuilder<u32, String, Fixed>,
    ) -> (Cache<u32, String, Fixed>, MockClock) {
        let clock = MockClock::default();
        let builder = Cache::builder(100)
            .shards(1)
            .clock(clock.clone())
            .default_ttl(secs(100))
            .refresh_ahead(0.2)
            .hasher(Fixed::default());
        (settings(builder).build(), clock)
    }

    fn must_not_load() -> Result<String, &'static str> {
        panic!("this call must not run its loader")
    }

    #[test]
    fn a_hit_in_the_window_reloads_once_and_opens_a_new_window() {
        let (cache, clock) = build_refreshing();
        cache.insert(1, "v1".to_string());
        clock.advance(Duration::from_millis(79_999)); // Just before the window.
        assert_eq!(
            cache.get_or_try_insert_with(1, must_not_load).unwrap(),
            "v1"
        );
        assert_eq!(cache.refreshes(), 0);
        clock.advance(Duration::from_millis(1)); // 80 s: the window opens.
        let loads = AtomicUsize::new(0);
        let reload = || {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, &str>("v2".to_string())
        };
        assert_eq!(cache.get_or_try_insert_with(1, reload).unwrap(), "v2");
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(cache.refreshes(), 1);
        // Stored with a new TTL from 80 s: live until 180 s, next window from 160 s.
        assert_eq!(cache.get(&1).as_deref(), Some("v2"));
        clock.advance(secs(79)); // 159 s.
        assert_eq!(
            cache.get_or_try_insert_with(1, must_not_load).unwrap(),
            "v2"
        );
        clock.advance(secs(1)); // 160 s.
        let reload = || Ok::<_, &str>("v3".to_string());
        assert_eq!(cache.get_or_try_insert_with(1, reload).unwrap(), "v3");
        assert_eq!(cache.refreshes(), 2);
        assert_eq!(cache.refresh_failures(), 0);
        // Every one of these calls found a live entry: five hits, no miss.
        let m = cache.metrics();
        assert_eq!((m.hits, m.misses, m.inserts, m.updates), (5, 0, 1, 2));
        cache.check_invariants();
        assert_balanced(&cache);
    }

    #[test]
    fn plain_gets_entries_without_a_ttl_and_caches_without_refresh_ahead_never_refresh() {
        let (cache, clock) = build_refreshing();
        cache.insert(1, "ttl".to_string());
        cache.insert_with(2, "forever".to_string(), Expiry::Never);
        clock.advance(secs(99));
        assert_eq!(cache.get(&1).as_deref(), Some("ttl"));
        assert_eq!(
            cache.get_or_try_insert_with(2, must_not_load).unwrap(),
            "forever"
        );
        assert_eq!(cache.refreshes(), 0);

        let (plain, clock) = build::<u32, String>(100, 1);
        plain.insert_with(1, "ttl".to_string(), Expiry::After(secs(100)));
        clock.advance(secs(99));
        assert_eq!(
            plain.get_or_try_insert_with(1, must_not_load).unwrap(),
            "ttl"
        );
        assert_eq!(plain.refreshes(), 0);
    }

    #[test]
    fn the_window_is_a_share_of_each_entrys_own_ttl() {
        let (cache, clock) = build_refreshing();
        // 10 s TTL: the window opens at 8 s; the 100 s default would open it at 80 s.
        cache.insert_with(1, "short".to_string(), Expiry::After(secs(10)));
        cache.insert(2, "long".to_string());
        clock.advance(secs(8));
        let reload = || Ok::<_, &str>("short again".to_string());
        assert_eq!(
            cache.get_or_try_insert_with(1, reload).unwrap(),
            "short again"
        );
        assert_eq!(
            cache.get_or_try_insert_with(2, must_not_load).unwrap(),
            "long"
        );
        assert_eq!(cache.refreshes(), 1);
        // The refresh stored with the call's expiry, the default 100 s: live at 107 s.
        clock.advance(secs(99));
        assert_eq!(cache.get(&1).as_deref(), Some("short again"));
        assert_eq!(cache.get(&2), None);
    }

    #[test]
    fn a_failed_refresh_keeps_the_old_value_until_it_expires_and_is_counted() {
        let (cache, clock) = build_refreshing();
        cache.insert(1, "old".to_string());
        clock.advance(secs(85));
        let failing = || Err::<String, _>("backend down");
        // The caller that ran the refresh gets the old value, not the error.
        assert_eq!(cache.get_or_try_insert_with(1, failing).unwrap(), "old");
        assert_eq!((cache.refreshes(), cache.refresh_failures()), (1, 1));
        assert_eq!(cache.get(&1).as_deref(), Some("old"));
        // Still in the window: the next loader hit tries again.
        clock.advance(secs(14)); // 99 s.
        assert_eq!(cache.get_or_try_insert_with(1, failing).unwrap(), "old");
        assert_eq!((cache.refreshes(), cache.refresh_failures()), (2, 2));
        clock.advance(secs(1)); // 100 s: expired, so this is a miss and a plain failed load.
        assert_eq!(
            *cache.get_or_try_insert_with(1, failing).unwrap_err(),
            "backend down"
        );
        assert_eq!((cache.refreshes(), cache.refresh_failures()), (2, 2));
        assert_eq!(cache.stale_served(), 0);
        assert_eq!(cache.get(&1), None);
        assert_balanced(&cache);
    }

    #[test]
    fn a_refresh_racing_a_removal_does_not_bring_the_value_back() {
        type Invalidation = fn(&Cache<u32, String, Fixed>);
        let invalidations: [(&str, Invalidation); 3] = [
            ("remove", |cache| assert!(cache.remove(&1).is_some())),
            ("invalidate_if", |cache| {
                assert_eq!(cache.invalidate_if(|key, _| *key == 1), 1);
            }),
            ("invalidate_all", |cache| {
                assert_eq!(cache.invalidate_all(), 2)
            }),
        ];
        for (what, invalidate) in invalidations {
            let (cache, clock) = build_refreshing();
            cache.insert(1, "old".to_string());
            cache.insert(2, "other".to_string());
            clock.advance(secs(90));
            // The loader runs while the refresh is registered; the removal lands in between.
            let refreshed = cache.get_or_try_insert_with(1, || {
                invalidate(&cache);
                Ok::<_, &str>("new".to_string())
            });
            assert_eq!(
                refreshed.unwrap(),
                "new",
                "{what}: the caller gets its load"
            );
            assert_eq!(cache.get(&1), None, "{what}: the removed key stays removed");
            // And a failed refresh after a removal returns the error, not the removed value.
            cache.insert(1, "old".to_string());
            cache.insert(2, "other".to_string());
            clock.advance(secs(90));
            let failed = cache.get_or_try_insert_with(1, || {
                invalidate(&cache);
                Err::<String, _>("backend down")
            });
            assert_eq!(*failed.unwrap_err(), "backend down", "{what}");
            assert_eq!(cache.get(&1), None, "{what}");
            assert_eq!((cache.refreshes(), cache.refresh_failures()), (2, 1));
            assert_eq!(pending_loads(&cache), 0);
            cache.check_invariants();
            assert_balanced(&cache);
        }
    }

    #[test]
    fn hits_during_a_refresh_get_the_current_value_without_waiting() {
        const OTHER_CALLS: u64 = 5;
        let (cache, clock) = build_refreshing();
        cache.insert(1, "old".to_string());
        clock.advance(secs(90));
        let loads = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            let (cache, loads) = (&cache, &loads);
            let refresher = scope.spawn(move || {
                cache.get_or_try_insert_with(1, || {
                    loads.fetch_add(1, Ordering::SeqCst);
                    // Held open until the other calls have all been answered as hits (the
                    // refresher's own hit is the first). If they waited for this load instead,
                    // they would get "new", and the assertions below fail.
                    while cache.metrics().hits < 1 + OTHER_CALLS {
                        std::thread::yield_now();
                    }
                    Ok::<_, &str>("new".to_string())
                })
            });
            while pending_loads(cache) == 0 {
                std::thread::yield_now();
            }
            for _ in 0..OTHER_CALLS - 1 {
                assert_eq!(
                    cache.get_or_try_insert_with(1, must_not_load).unwrap(),
                    "old"
                );
            }
            assert_eq!(cache.get(&1).as_deref(), Some("old"));
            assert_eq!(refresher.join().unwrap().unwrap(), "new");
        });
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(cache.refreshes(), 1);
        assert_eq!(cache.get(&1).as_deref(), Some("new"));
        assert_eq!(pending_loads(&cache), 0);
    }

    #[test]
    fn a_caller_that_misses_during_a_refresh_waits_for_it() {
        let (cache, clock) = build_refreshing();
        cache.insert(1, "old".to_string());
        clock.advance(secs(90));
        let (release, released) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|scope| {
            let cache = &cache;
            let refresher = scope.spawn(move || {
                cache.get_or_try_insert_with(1, || {
                    released.recv().unwrap();
                    Ok::<_, &str>("new".to_string())
                })
            });
            while pending_loads(cache) == 0 {
                std::thread::yield_now();
            }
            clock.advance(secs(10)); // The old value expires while the refresh runs.
            let waiter = scope.spawn(move || cache.get_or_try_insert_with(1, must_not_load));
            while cache.metrics().misses == 0 {
                std::thread::yield_now();
            }
            release.send(()).unwrap();
            assert_eq!(refresher.join().unwrap().unwrap(), "new");
            assert_eq!(waiter.join().unwrap().unwrap(), "new");
        });
        assert_eq!(cache.refreshes(), 1);
        assert_eq!(cache.get(&1).as_deref(), Some("new"));
    }

    #[test]
    fn a_refresh_failing_after_the_entry_expired_serves_its_waiters_stale_if_allowed() {
        let (cache, clock) = build_refreshing_with(|builder| builder.stale_if_error(secs(30)));
        cache.insert(1, "old".to_string());
        clock.advance(secs(90));
        let (release, released) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|scope| {
            let cache = &cache;
            let refresher = scope.spawn(move || {
                cache.get_or_try_insert_with(1, || {
                    released.recv().unwrap();
                    Err::<String, _>("backend down")
                })
            });
            while pending_loads(cache) == 0 {
                std::thread::yield_now();
            }
            clock.advance(secs(15)); // Expired 5 s ago, within the 30 s grace.
            let waiter = scope.spawn(move || cache.get_or_try_insert_with(1, must_not_load));
            while cache.metrics().misses == 0 {
                std::thread::yield_now();
            }
            release.send(()).unwrap();
            // The refresher's hit found "old" live; the waiter missed and gets it stale.
            assert_eq!(refresher.join().unwrap().unwrap(), "old");
            assert_eq!(waiter.join().unwrap().unwrap(), "old");
        });
        assert_eq!((cache.refreshes(), cache.refresh_failures()), (1, 1));
        assert_eq!(cache.stale_served(), 1);
        assert_eq!(
            cache.get(&1),
            None,
            "expired, and a stale value is never a hit"
        );
        assert_eq!(pending_loads(&cache), 0);
    }

    #[test]
    fn a_panicking_refresh_leaves_the_old_value_and_the_key_usable() {
        let (cache, clock) = build_refreshing();
        cache.insert(1, "old".to_string());
        clock.advance(secs(90));
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cache.get_or_try_insert_with(1, must_not_load)
        }));
        assert!(panicked.is_err());
        assert_eq!(pending_loads(&cache), 0);
        assert_eq!(cache.get(&1).as_deref(), Some("old"));
        let reload = || Ok::<_, &str>("new".to_string());
        assert_eq!(cache.get_or_try_insert_with(1, reload).unwrap(), "new");
        assert_eq!((cache.refreshes(), cache.refresh_failures()), (2, 0));
    }

    #[test]
    fn bad_fractions_are_refused_and_zero_is_off() {
        for bad in [1.0, 1.5, -0.1, f64::NAN] {
            let built =
                std::panic::catch_unwind(|| Cache::<u32, u32>::builder(10).refresh_ahead(bad));
            assert!(built.is_err(), "{bad} must be refused");
        }
        let clock = MockClock::default();
        let cache: Cache<u32, String> = Cache::builder(10)
            .clock(clock.clone())
            .default_ttl(secs(10))
            .refresh_ahead(0.0)
            .build();
        cache.insert(1, "v".to_string());
        clock.advance(Duration::from_millis(9_999));
        assert_eq!(cache.get_or_try_insert_with(1, must_not_load).unwrap(), "v");
        assert_eq!(cache.refreshes(), 0);
    }
}
