//! The public API as a user of the crate sees it: exported types, the builder, and sharing
//! a cache between threads. The behaviour itself is tested in `src/tests.rs`.

use std::sync::Arc;
use std::time::Duration;

use cache::{Cache, CacheBuilder, Clock, Expiry, Metrics, MockClock, SystemClock, TtlClass};

/// A cache can be shared between threads by reference or in an `Arc`.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Cache<String, Vec<u8>>>();
    assert_send_sync::<CacheBuilder<String, Vec<u8>>>();
    assert_send_sync::<MockClock>();
    assert_send_sync::<SystemClock>();
    assert_send_sync::<Metrics>();
    assert_send_sync::<TtlClass>();
};

#[test]
fn a_cache_is_shared_between_threads() {
    let cache: Arc<Cache<String, Vec<u8>>> = Arc::new(Cache::new(1_000));
    let handles: Vec<_> = (0..4u8)
        .map(|thread_idx| {
            let cache = Arc::clone(&cache);
            std::thread::spawn(move || {
                for n in 0..100u8 {
                    cache.insert(format!("{thread_idx}:{n}"), vec![thread_idx, n]);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    assert_eq!(cache.len(), 400);
    assert_eq!(cache.get("3:99"), Some(vec![3, 99]));
    assert_eq!(cache.metrics().inserts, 400);
}

#[test]
fn every_builder_option_is_usable_from_outside() {
    let clock = MockClock::default();
    let cache: Cache<String, Vec<u8>, std::hash::RandomState> = Cache::builder(1_000)
        .weigher(|_key: &String, value: &Vec<u8>| value.len() as u32)
        .shards(2)
        .clock(clock.clone())
        .default_ttl(Duration::from_secs(60))
        .class_ttl("short", Duration::from_secs(5))
        .hasher(std::hash::RandomState::new())
        .build();
    assert_eq!(cache.capacity(), 1_000);
    assert_eq!(cache.shard_count(), 2);
    let short = cache.ttl_class("short").unwrap();
    cache.insert_with("a".to_string(), vec![0; 10], Expiry::Class(short));
    cache.insert_with(
        "b".to_string(),
        vec![0; 20],
        Expiry::After(Duration::from_secs(10)),
    );
    cache.insert_with("c".to_string(), vec![0; 30], Expiry::Never);
    cache.insert("d".to_string(), vec![0; 40]);
    assert_eq!(cache.weighted_size(), 100);
    assert_eq!(clock.now(), Duration::ZERO);
    clock.advance(Duration::from_secs(5));
    assert_eq!(
        cache
            .get_many(["a", "b", "c", "d"])
            .iter()
            .map(Option::is_some)
            .collect::<Vec<_>>(),
        [false, true, true, true]
    );
    assert_eq!(cache.purge_expired(), 0);
    clock.advance(Duration::from_secs(60));
    assert_eq!(cache.purge_expired(), 2);
    assert_eq!(cache.weighted_size(), 30);
    let metrics: Metrics = cache.metrics();
    assert_eq!(
        (metrics.hits, metrics.misses, metrics.expirations),
        (3, 1, 3)
    );
    assert!(format!("{cache:?}").contains("Cache"));
}

#[test]
fn refresh_ahead_reloads_a_hot_key_before_it_expires() {
    let clock = MockClock::default();
    let cache: Cache<&str, u32> = Cache::builder(10)
        .clock(clock.clone())
        .default_ttl(Duration::from_secs(60))
        .refresh_ahead(0.25)
        .build();
    let mut version = 0;
    let mut load = || -> Result<u32, std::io::Error> {
        version += 1;
        Ok(version)
    };
    assert_eq!(
        cache.get_or_try_insert_with("config", &mut load).unwrap(),
        1
    );
    clock.advance(Duration::from_secs(44));
    assert_eq!(
        cache.get_or_try_insert_with("config", &mut load).unwrap(),
        1
    );
    // 45 s: the last quarter of the TTL, so this hit reloads.
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        cache.get_or_try_insert_with("config", &mut load).unwrap(),
        2
    );
    // The reload restarted the TTL: without it the key would have expired at 60 s.
    clock.advance(Duration::from_secs(30));
    assert_eq!(cache.get("config"), Some(2));
    assert_eq!((cache.refreshes(), cache.refresh_failures()), (1, 0));
    assert_eq!(cache.metrics().misses, 1);
}
