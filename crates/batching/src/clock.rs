//! Time sources: the real monotonic clock and a manual one for tests.
//!
//! The batcher never calls `Instant::now` directly; it asks its [`Clock`], both to stamp a
//! batch's first item and to wait for a deadline (a batch's linger, a `send` timeout). A clock
//! that only moves by hand, like [`MockClock`], wakes those waiters when it moves, so tests move
//! time forward instead of sleeping.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Waker;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// A monotonic time source that the batcher can also wait on.
///
/// `now` returns the time elapsed since an arbitrary, fixed origin chosen by the clock; it must
/// never go backwards.
///
/// Waiting works in two parts. When the batcher must wait until `remaining` more clock time has
/// passed, it blocks on its own condition variable for at most [`Clock::max_block`]`(remaining)`
/// of real time, then reads `now` again. A clock whose time jumps independently of real time
/// returns `None` there (block until woken) and calls every [`Waker`] handed to
/// [`Clock::register_waker`] after each jump. The defaults suit a clock that flows with real
/// time: block for `remaining`, and never call any waker.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The time elapsed since this clock's origin.
    fn now(&self) -> Duration;

    /// The longest real time to block while waiting for `remaining` of this clock's time, or
    /// `None` to block until a registered waker is called.
    fn max_block(&self, remaining: Duration) -> Option<Duration> {
        Some(remaining)
    }

    /// Asks the clock to call `waker` (with [`Waker::wake_by_ref`]) whenever its time jumps.
    ///
    /// The batcher registers one waker when it is built; waking it after the batcher is gone
    /// does nothing.
    fn register_waker(&self, waker: Waker) {
        let _ = waker;
    }
}

/// The real monotonic clock, backed by [`Instant`] with a process-wide origin.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        ORIGIN.get_or_init(Instant::now).elapsed()
    }
}

/// A clock that only moves when told to; clones share the same time and the same waiters.
///
/// [`MockClock::advance`] wakes every batcher built with this clock, so a batch whose linger
/// has now passed is flushed and a `send` whose deadline has passed returns.
/// The clock keeps one small waker per batcher built with it, for as long as the clock lives.
///
/// ```
/// use batching::{Batcher, MockClock, infallible_sink};
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
///
/// let clock = MockClock::default();
/// let (tx, rx) = std::sync::mpsc::channel();
/// let batcher = Batcher::builder()
///     .linger(Duration::from_millis(5))
///     .clock(clock.clone())
///     .build(infallible_sink(move |batch: Vec<u32>| tx.send(batch).unwrap()));
/// batcher.try_send(1).unwrap();
/// clock.advance(Duration::from_millis(5));
/// assert_eq!(rx.recv().unwrap(), vec![1]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct MockClock {
    nanos: Arc<AtomicU64>,
    wakers: Arc<Mutex<Vec<Waker>>>,
}

impl MockClock {
    /// Moves the clock forward by `by`, then wakes everything waiting on it.
    pub fn advance(&self, by: Duration) {
        let by_nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(by_nanos, Ordering::SeqCst);
        // Clone the list so that a waker is never called with the clock's own lock held.
        let wakers = self.wakers.lock().clone();
        for waker in &wakers {
            waker.wake_by_ref();
        }
    }
}

impl Clock for MockClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }

    fn max_block(&self, _remaining: Duration) -> Option<Duration> {
        None
    }

    fn register_waker(&self, waker: Waker) {
        self.wakers.lock().push(waker);
    }
}
