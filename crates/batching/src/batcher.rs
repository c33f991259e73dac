//! The batcher: a bounded buffer of items, sealed into batches by size, linger or request, and
//! flushed by a pool of worker threads.
//!
//! All state sits behind one mutex. A send pushes onto the current batch (a `Vec` reserved at
//! `max_batch_size`), and a full batch is moved whole onto the queue of sealed batches; the
//! workers pop sealed batches, and an idle worker also watches the current batch's linger
//! deadline. Per item this costs one lock and one push; the clock is read once per batch.
//! Before parking, an idle worker spins briefly on an atomic activity counter (bumped when a
//! batch is sealed), and senders only signal the condvar when a worker is actually parked.

use std::collections::VecDeque;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Wake, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::clock::{Clock, SystemClock};
use crate::error::SendError;
use crate::metrics::{CloseReport, Counters, Metrics, QueueTimePercentiles};
use crate::sink::{FlushFailure, Sink, SinkPanicked, with_batch_seq};

const DEFAULT_MAX_BATCH_SIZE: usize = 256;
const DEFAULT_LINGER: Duration = Duration::from_millis(5);
const DEFAULT_CAPACITY_BATCHES: usize = 4;
/// How long an idle worker watches for work (real time) before it parks on the condvar.
///
/// Waking a parked thread costs a syscall and a context switch on both sides; a producer that
/// fills a batch within this window hands it over without either.
const SPIN_BUDGET: Duration = Duration::from_micros(50);
/// `spin_loop` hints per round of the spin before the worker yields its CPU once.
const SPINS_PER_YIELD: u32 = 64;

type FailureHandler<T> = Box<dyn Fn(FlushFailure<T>) + Send + Sync>;

/// Accumulates items and flushes them to a [`Sink`] in batches, on worker threads.
///
/// See the [crate documentation](crate) for the behaviour, ordering guarantees and costs.
/// A `Batcher` is `Send + Sync` when `T: Send`, and every method takes `&self`, so share it
/// between producers with an `Arc` or a scoped borrow.
///
/// Dropping a batcher [closes](Batcher::close) it: the drop blocks until the remainder has
/// been flushed and every in-flight flush has finished.
pub struct Batcher<T> {
    shared: Arc<Shared<T>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

/// Configures and builds a [`Batcher`]; from [`Batcher::builder`].
pub struct BatcherBuilder<T> {
    max_batch_size: usize,
    linger: Duration,
    capacity: Option<usize>,
    workers: usize,
    clock: Arc<dyn Clock>,
    on_failure: Option<FailureHandler<T>>,
}

/// A sink with its error type erased.
trait DynSink<T>: Send + Sync {
    fn flush_dyn(
        &self,
        batch: Vec<T>,
    ) -> Result<(), (Box<dyn std::error::Error + Send + Sync>, Vec<T>)>;
}

impl<T, S: Sink<T>> DynSink<T> for S {
    fn flush_dyn(
        &self,
        batch: Vec<T>,
    ) -> Result<(), (Box<dyn std::error::Error + Send + Sync>, Vec<T>)> {
        self.flush(batch)
            .map_err(|(error, items)| (Box::new(error) as _, items))
    }
}

/// What the batcher's threads share.
struct Shared<T> {
    state: StateLock<T>,
    /// Workers wait here for a sealed batch, a first item (to start its linger timer), or close.
    work: Condvar,
    /// Senders wait here for room in the buffer.
    room: Condvar,
    /// `close` waits here for the queue to drain and every flush to finish.
    idle: Condvar,
    /// Bumped (under the lock) when a batch is sealed, the batcher closes or the clock jumps.
    /// Spinning workers watch it without taking the lock.
    activity: ActivityCounter,
    max_batch_size: usize,
    linger: Duration,
    capacity: usize,
    n_workers: usize,
    clock: Arc<dyn Clock>,
    sink: Box<dyn DynSink<T>>,
    on_failure: Option<FailureHandler<T>>,
    /// Failures kept for `take_failed` when there is no handler.
    failed: Mutex<Vec<FlushFailure<T>>>,
}

/// A counter on a cache line of its own, so that spinning workers reading it do not slow down
/// the lock that senders take.
#[repr(align(128))]
struct ActivityCounter(AtomicU64);

impl ActivityCounter {
    /// Records new activity; called with the state lock held, so a plain store suffices.
    #[inline]
    fn bump(&self) {
        let next = self.0.load(Ordering::Relaxed).wrapping_add(1);
        self.0.store(next, Ordering::Release);
    }

    #[inline]
    fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// A batch that accepts no more items, waiting for a worker.
struct Sealed<T> {
    items: Vec<T>,
    seq: u64,
    /// When its first item was sent.
    first_sent: Duration,
}

/// The state, laid out so that what every send touches (the lock, `current`, `buffered`,
/// `closed`, `parked_idle`) shares one cache line, and the workers' bookkeeping (the ready
/// queue, the counters) lives on others.
#[repr(C)]
struct State<T> {
    /// The batch that sends push onto.
    current: Vec<T>,
    /// Items in `current` and `ready`: those not yet handed to a worker.
    buffered: usize,
    /// Of `parked`, those that saw no current batch: only they need a wake-up on a first item.
    parked_idle: usize,
    /// Workers blocked on `work`, whether timing a linger or waiting for a first item.
    parked: usize,
    closed: bool,
    /// When `current`'s first item was sent; meaningless while it is empty.
    current_first_sent: Duration,
    /// Sealed batches, in sequence order.
    ready: VecDeque<Sealed<T>>,
    /// Batches being flushed right now.
    in_flight: usize,
    next_seq: u64,
    counters: Counters,
    /// An empty `Vec` reserved at `max_batch_size` for the next batch, allocated by a worker
    /// outside the lock so that sealing a batch does not allocate under it.
    spare: Option<Vec<T>>,
}

/// The state's lock, starting a cache line of its own (see [`State`]).
#[repr(align(128))]
struct StateLock<T>(Mutex<State<T>>);

impl<T> std::ops::Deref for StateLock<T> {
    type Target = Mutex<State<T>>;

    fn deref(&self) -> &Mutex<State<T>> {
        &self.0
    }
}

impl<T> State<T> {
    /// Moves the current batch, if any, onto the ready queue.
    fn seal(&mut self, max_batch_size: usize) {
        if self.current.is_empty() {
            return;
        }
        // A closed batcher takes no more items, so its next batch needs no room.
        let next = if self.closed {
            Vec::new()
        } else {
            self.spare
                .take()
                .unwrap_or_else(|| Vec::with_capacity(max_batch_size))
        };
        let items = std::mem::replace(&mut self.current, next);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.ready.push_back(Sealed {
            items,
            seq,
            first_sent: self.current_first_sent,
        });
    }

    fn is_drained(&self) -> bool {
        self.current.is_empty() && self.ready.is_empty() && self.in_flight == 0
    }
}

impl<T: Send + 'static> Default for BatcherBuilder<T> {
    fn default() -> Self {
        BatcherBuilder {
            max_batch_size: DEFAULT_MAX_BATCH_SIZE,
            linger: DEFAULT_LINGER,
            capacity: None,
            workers: 1,
            clock: Arc::new(SystemClock),
            on_failure: None,
        }
    }
}

impl<T: Send + 'static> BatcherBuilder<T> {
    /// The most items in one batch; a batch that reaches it is flushed at once. Default 256.
    ///
    /// Each batch reserves room for this many items up front.
    pub fn max_batch_size(mut self, n: usize) -> Self {
        self.max_batch_size = n;
        self
    }

    /// How long a batch waits for more items, counted from its first item's send. Default 5 ms.
    pub fn linger(mut self, d: Duration) -> Self {
        self.linger = d;
        self
    }

    /// The most items not yet handed to a worker (the current batch and the sealed batches
    /// waiting for a worker); when reached, `try_send` fails and `send` waits.
    /// Default `4 * max_batch_size`; it must be at least `max_batch_size`.
    pub fn capacity(mut self, n: usize) -> Self {
        self.capacity = Some(n);
        self
    }

    /// How many worker threads flush batches in parallel. Default 1, which keeps batches in
    /// order.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// The time source for linger and send timeouts. Default [`SystemClock`].
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Where failed flushes go; the handler runs on the worker thread that flushed the batch.
    /// By default they are kept for [`Batcher::take_failed`].
    ///
    /// The handler must not call [`Batcher::close`] (or drop the batcher): close waits for the
    /// handler's own worker.
    pub fn on_failure(mut self, handler: impl Fn(FlushFailure<T>) + Send + Sync + 'static) -> Self {
        self.on_failure = Some(Box::new(handler));
        self
    }

    /// Starts the worker threads and returns the batcher.
    ///
    /// # Panics
    /// If `max_batch_size` or `workers` is 0, if `capacity` is below `max_batch_size`, or if
    /// the operating system refuses to start a thread.
    pub fn build<S: Sink<T>>(self, sink: S) -> Batcher<T> {
        assert!(
            self.max_batch_size > 0,
            "batching: max_batch_size must be at least 1"
        );
        assert!(self.workers > 0, "batching: workers must be at least 1");
        let capacity = self
            .capacity
            .unwrap_or_else(|| self.max_batch_size.saturating_mul(DEFAULT_CAPACITY_BATCHES));
        assert!(
            capacity >= self.max_batch_size,
            "batching: capacity ({capacity}) must be at least max_batch_size ({}), or a batch could never fill",
            self.max_batch_size
        );
        let shared = Arc::new(Shared {
            state: StateLock(Mutex::new(State {
                current: Vec::with_capacity(self.max_batch_size),
                current_first_sent: Duration::ZERO,
                ready: VecDeque::new(),
                buffered: 0,
                in_flight: 0,
                next_seq: 0,
                closed: false,
                counters: Counters::default(),
                spare: None,
                parked: 0,
                parked_idle: 0,
            })),
            work: Condvar::new(),
            room: Condvar::new(),
            idle: Condvar::new(),
            activity: ActivityCounter(AtomicU64::new(0)),
            max_batch_size: self.max_batch_size,
            linger: self.linger,
            capacity,
            n_workers: self.workers,
            clock: self.clock,
            sink: Box::new(sink),
            on_failure: self.on_failure,
            failed: Mutex::new(Vec::new()),
        });
        shared
            .clock
            .register_waker(Waker::from(Arc::new(ClockWaker {
                shared: Arc::downgrade(&shared),
            })));
        let workers = (0..self.workers)
            .map(|worker_idx| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("batching-worker-{worker_idx}"))
                    .spawn(move || shared.run_worker())
                    .expect("batching: failed to spawn a flush worker thread")
            })
            .collect();
        Batcher {
            shared,
            workers: Mutex::new(workers),
        }
    }
}

/// Wakes every waiter of one batcher when its clock jumps.
struct ClockWaker<T> {
    shared: Weak<Shared<T>>,
}

impl<T: Send + 'static> Wake for ClockWaker<T> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(shared) = self.shared.upgrade() {
            // Taking the lock orders this wake-up after any waiter that read the old time
            // under the lock has started waiting, so no wake-up is lost.
            let state = shared.state.lock();
            shared.activity.bump();
            drop(state);
            shared.work.notify_all();
            shared.room.notify_all();
        }
    }
}

impl<T: Send + 'static> Shared<T> {
    /// Pushes an item; the caller has checked that the batcher is open and has room.
    #[inline]
    fn push_locked(&self, state: &mut State<T>, item: T) {
        debug_assert!(!state.closed && state.buffered < self.capacity);
        let was_empty = state.current.is_empty();
        if was_empty {
            let now = self.clock.now();
            state.current_first_sent = now;
            state.counters.first_send.get_or_insert(now);
        }
        state.current.push(item);
        state.buffered += 1;
        if state.current.len() >= self.max_batch_size {
            state.seal(self.max_batch_size);
            self.wake_for_sealed(state);
        } else if was_empty {
            // A worker must start this batch's linger timer. Only a worker parked with no batch
            // to time needs waking for that: one timing a linger is timing an older batch,
            // whose sealing wakes it; a busy worker looks at the current batch when its flush
            // is done; and a spinning worker looks at it within the linger (see `run_worker`).
            if state.parked_idle > 0 {
                self.work.notify_one();
            }
        }
    }

    /// Tells the workers that a batch was sealed; the caller holds the lock.
    #[inline]
    fn wake_for_sealed(&self, state: &State<T>) {
        self.activity.bump();
        if state.parked > 0 {
            self.work.notify_one();
        }
    }

    /// What each worker thread runs until the batcher is closed and drained.
    fn run_worker(&self) {
        let mut state = self.state.lock();
        // Whether the worker has already spun since it last found something to do.
        let mut spun = false;
        loop {
            if let Some(batch) = state.ready.pop_front() {
                state = self.flush_batch(state, batch);
                spun = false;
                continue;
            }
            let idle = state.current.is_empty();
            // How long to block for: `None` until woken.
            let block = if idle {
                if state.closed {
                    return;
                }
                None
            } else {
                let now = self.clock.now();
                let deadline = state.current_first_sent.saturating_add(self.linger);
                if state.closed || now >= deadline {
                    state.seal(self.max_batch_size);
                    continue;
                }
                self.clock.max_block(deadline - now)
            };
            if !spun {
                // Watch for work for a moment before parking: the next batch is often only
                // microseconds away, and a wake-up from the condvar costs far more.
                let seen = self.activity.get();
                // An idle spinner is not told about a first item (that would cost the sender a
                // cache miss per batch), so it spins no longer than a linger: it then sees
                // any batch started meanwhile before that batch's linger has run out.
                let budget = block.unwrap_or(self.linger).min(SPIN_BUDGET);
                let active =
                    MutexGuard::unlocked(&mut state, || self.spin_for_activity(seen, budget));
                spun = !active;
                continue;
            }
            state.parked += 1;
            if idle {
                state.parked_idle += 1;
            }
            match block {
                Some(timeout) => {
                    self.work.wait_for(&mut state, timeout);
                }
                None => self.work.wait(&mut state),
            }
            state.parked -= 1;
            if idle {
                state.parked_idle -= 1;
            }
            spun = false;
        }
    }

    /// Spins (yielding now and then) until `activity` moves on from `seen` or `budget` of real
    /// time has passed; whether it moved. Called without the lock.
    fn spin_for_activity(&self, seen: u64, budget: Duration) -> bool {
        let start = Instant::now();
        loop {
            for _ in 0..SPINS_PER_YIELD {
                if self.activity.get() != seen {
                    return true;
                }
                std::hint::spin_loop();
            }
            if start.elapsed() >= budget {
                return self.activity.get() != seen;
            }
            std::thread::yield_now();
        }
    }

    /// Flushes one sealed batch with the lock released; returns the lock.
    fn flush_batch<'a>(
        &'a self,
        mut state: MutexGuard<'a, State<T>>,
        batch: Sealed<T>,
    ) -> MutexGuard<'a, State<T>> {
        let batch_len = batch.items.len();
        state.buffered -= batch_len;
        state.in_flight += 1;
        let flush_start = self.clock.now();
        let waited = flush_start.saturating_sub(batch.first_sent);
        let counters = &mut state.counters;
        counters.batches_started += 1;
        counters.items_started += batch_len as u64;
        counters.queue_time_total += waited;
        counters.queue_time_max = counters.queue_time_max.max(waited);
        counters.queue_times.record(waited);
        // Pass the baton: if more work is waiting, another idle worker takes it (or watches
        // the linger deadline) while this one flushes.
        // (A spinning worker needs no wake-up: it saw whatever is waiting arrive.)
        if state.parked > 0 && (!state.ready.is_empty() || !state.current.is_empty()) {
            self.work.notify_one();
        }
        self.room.notify_all();
        let needs_spare = state.spare.is_none() && !state.closed;
        drop(state);

        let seq = batch.seq;
        let outcome = with_batch_seq(seq, || {
            catch_unwind(AssertUnwindSafe(|| self.sink.flush_dyn(batch.items)))
        });
        let (items_ok, items_failed, failure) = match outcome {
            Ok(Ok(())) => (batch_len, 0, None),
            Ok(Err((error, items))) => {
                let n_back = items.len().min(batch_len);
                (
                    batch_len - n_back,
                    n_back,
                    Some(FlushFailure {
                        error,
                        items,
                        batch_seq: seq,
                    }),
                )
            }
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|message| (*message).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned());
                let error = SinkPanicked {
                    items_lost: batch_len,
                    message,
                };
                (
                    0,
                    batch_len,
                    Some(FlushFailure {
                        error: Box::new(error),
                        items: Vec::new(),
                        batch_seq: seq,
                    }),
                )
            }
        };
        let failed = failure.is_some();
        if let Some(failure) = failure {
            self.deliver_failure(failure);
        }
        let flush_end = self.clock.now();
        let spare = needs_spare.then(|| Vec::with_capacity(self.max_batch_size));

        let mut state = self.state.lock();
        if state.spare.is_none() && !state.closed {
            state.spare = spare;
        }
        let counters = &mut state.counters;
        if failed {
            counters.failed_flushes += 1;
        } else {
            counters.batches_ok += 1;
        }
        counters.items_ok += items_ok as u64;
        counters.items_failed += items_failed as u64;
        counters.last_flush_end = counters.last_flush_end.max(flush_end);
        state.in_flight -= 1;
        if state.is_drained() {
            self.idle.notify_all();
        }
        state
    }

    fn deliver_failure(&self, failure: FlushFailure<T>) {
        match &self.on_failure {
            Some(handler) => {
                // A panicking handler must not take the worker down with it: the batcher's
                // bookkeeping (and `close`) depends on every worker finishing its flush.
                let _ = catch_unwind(AssertUnwindSafe(|| handler(failure)));
            }
            None => self.failed.lock().push(failure),
        }
    }
}

impl<T: Send + 'static> Batcher<T> {
    /// A builder with the defaults: batches of up to 256 items, 5 ms linger, room for 1024
    /// items, one worker, the system clock, failures kept for [`Batcher::take_failed`].
    pub fn builder() -> BatcherBuilder<T> {
        BatcherBuilder::default()
    }

    /// A batcher with the default settings, flushing to `sink`.
    pub fn new<S: Sink<T>>(sink: S) -> Self {
        Self::builder().build(sink)
    }

    /// Adds an item, waiting up to `timeout` (on the batcher's clock) for room in the buffer.
    ///
    /// # Errors
    /// [`SendError::Timeout`] if the buffer stayed full, [`SendError::Closed`] if the batcher is
    /// or becomes closed; either way the item is handed back.
    pub fn send(&self, item: T, timeout: Duration) -> Result<(), SendError<T>> {
        let shared = &*self.shared;
        let mut state = shared.state.lock();
        if state.closed {
            return Err(SendError::Closed(item));
        }
        if state.buffered < shared.capacity {
            shared.push_locked(&mut state, item);
            return Ok(());
        }
        state.counters.buffer_full += 1;
        let deadline = shared.clock.now().saturating_add(timeout);
        loop {
            let now = shared.clock.now();
            if now >= deadline {
                return Err(SendError::Timeout(item));
            }
            match shared.clock.max_block(deadline - now) {
                Some(block) => {
                    shared.room.wait_for(&mut state, block);
                }
                None => shared.room.wait(&mut state),
            }
            if state.closed {
                return Err(SendError::Closed(item));
            }
            if state.buffered < shared.capacity {
                shared.push_locked(&mut state, item);
                return Ok(());
            }
        }
    }

    /// Adds an item if there is room; never waits.
    ///
    /// # Errors
    /// [`SendError::Full`] if the buffer is full, [`SendError::Closed`] if the batcher is
    /// closed; either way the item is handed back.
    pub fn try_send(&self, item: T) -> Result<(), SendError<T>> {
        let shared = &*self.shared;
        let mut state = shared.state.lock();
        if state.closed {
            return Err(SendError::Closed(item));
        }
        if state.buffered >= shared.capacity {
            state.counters.buffer_full += 1;
            return Err(SendError::Full(item));
        }
        shared.push_locked(&mut state, item);
        Ok(())
    }

    /// Seals the current partial batch, if any, and hands it to the workers without waiting for
    /// its flush.
    pub fn flush(&self) {
        let mut state = self.shared.state.lock();
        if !state.current.is_empty() {
            state.seal(self.shared.max_batch_size);
            self.shared.wake_for_sealed(&state);
        }
    }

    /// Closes the batcher: later sends fail with [`SendError::Closed`], senders waiting for room
    /// get `Closed` back, the current partial batch is flushed, and this call blocks until every
    /// batch has been flushed and the workers have exited. Calling it again (from any thread)
    /// waits the same way and reports no remainder.
    ///
    /// Must not be called from the sink or the failure handler, which run on a worker that
    /// `close` waits for.
    pub fn close(&self) -> CloseReport {
        close_impl(self)
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> Metrics {
        self.shared.state.lock().counters.snapshot()
    }

    /// Percentiles of the queue time of the batches handed to the sink so far: from the send of
    /// each batch's first item to the start of its flush, each batch counted once, within
    /// [`QueueTimePercentiles::MAX_RELATIVE_ERROR`]. Still available after [`close`](Self::close).
    ///
    /// Takes the batcher's lock and walks a fixed histogram of a few hundred buckets, so call it
    /// for reporting, not per item.
    pub fn queue_time_percentiles(&self) -> QueueTimePercentiles {
        self.shared.state.lock().counters.queue_times.percentiles()
    }

    /// Takes the failed flushes kept so far (oldest first); always empty with an
    /// [`on_failure`](BatcherBuilder::on_failure) handler.
    pub fn take_failed(&self) -> Vec<FlushFailure<T>> {
        std::mem::take(&mut *self.shared.failed.lock())
    }

    /// Whether [`close`](Batcher::close) has been called.
    pub fn is_closed(&self) -> bool {
        self.shared.state.lock().closed
    }

    /// Items sent but not yet handed to a worker; at most the capacity.
    pub fn buffered(&self) -> usize {
        self.shared.state.lock().buffered
    }
}

impl<T> Drop for Batcher<T> {
    fn drop(&mut self) {
        close_impl(self);
    }
}

/// [`Batcher::close`], without the `T: Send + 'static` bound that `Drop` cannot have.
fn close_impl<T>(batcher: &Batcher<T>) -> CloseReport {
    let shared = &*batcher.shared;
    let mut state = shared.state.lock();
    let mut remainder_items = 0;
    let mut batches_awaited = state.ready.len() + state.in_flight;
    if !state.closed {
        state.closed = true;
        remainder_items = state.current.len();
        if remainder_items > 0 {
            batches_awaited += 1;
        }
        state.seal(shared.max_batch_size);
        shared.activity.bump();
        shared.work.notify_all();
        shared.room.notify_all();
    }
    while !state.is_drained() {
        shared.idle.wait(&mut state);
    }
    let metrics = state.counters.snapshot();
    drop(state);
    let workers = std::mem::take(&mut *batcher.workers.lock());
    for worker in workers {
        // Sink and handler panics are caught on the worker, so a join error would be a bug in
        // this crate; there is nothing left to flush either way.
        let _ = worker.join();
    }
    CloseReport {
        remainder_items,
        batches_awaited,
        metrics,
    }
}

impl<T> fmt::Debug for Batcher<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &*self.shared;
        let state = shared.state.lock();
        f.debug_struct("Batcher")
            .field("max_batch_size", &shared.max_batch_size)
            .field("linger", &shared.linger)
            .field("capacity", &shared.capacity)
            .field("workers", &shared.n_workers)
            .field("clock", &shared.clock)
            .field("buffered", &state.buffered)
            .field("in_flight", &state.in_flight)
            .field("closed", &state.closed)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for BatcherBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatcherBuilder")
            .field("max_batch_size", &self.max_batch_size)
            .field("linger", &self.linger)
            .field("capacity", &self.capacity)
            .field("workers", &self.workers)
            .field("clock", &self.clock)
            .field("on_failure", &self.on_failure.as_ref().map(|_| ".."))
            .finish()
    }
}
