//! Time sources: the real monotonic clock and a manual one for tests.
//!
//! The cache never calls `Instant::now` directly; it asks its [`Clock`], so tests can move time
//! forward by hand instead of sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic time source.
///
/// `now` returns the time elapsed since an arbitrary, fixed origin chosen by the clock.
/// It must never go backwards.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The time elapsed since this clock's origin.
    fn now(&self) -> Duration;
}

/// The real monotonic clock, backed by [`Instant`].
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that only moves when told to; clones share the same time.
///
/// ```
/// use cache::{Cache, MockClock};
/// use std::time::Duration;
///
/// let clock = MockClock::default();
/// let cache: Cache<&str, u32> = Cache::builder(100)
///     .default_ttl(Duration::from_secs(60))
///     .clock(clock.clone())
///     .build();
/// cache.insert("answer", 42);
/// clock.advance(Duration::from_secs(61));
/// assert_eq!(cache.get("answer"), None);
/// ```
#[derive(Debug, Clone, Default)]
pub struct MockClock {
    nanos: Arc<AtomicU64>,
}

impl MockClock {
    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by_nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(by_nanos, Ordering::SeqCst);
    }
}

impl Clock for MockClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}
