//! The batcher: a bounded buffer of items, sealed into batches by size, linger or request, and
//! flushed by a pool of worker threads.
//!
//! All state sits behind one mutex. A send pushes onto the current batch (a `Vec` reserved at
//! `max_batch_size`), and a full batch is moved whole onto the queue of sealed batches; the
//! workers pop sealed batches, and an idle worker also watches the current batch's linger
//! deadline. Per item this costs one lock and one push; the clock is read once per batch.

use std::collections::VecDeque;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Weak};
use std::task::{Wake, Waker};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::clock::{Clock, SystemClock};
use crate::error::SendError;
use crate::metrics::{CloseReport, Counters, Metrics};
use crate::sink::{FlushFailure, Sink, SinkPanicked, with_batch_seq};

const DEFAULT_MAX_BATCH_SIZE: usize = 256;
const DEFAULT_LINGER: Duration = Duration::from_millis(5);
const DEFAULT_CAPACITY_BATCHES: usize = 4;

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
    state: Mutex<State<T>>,
    /// Workers wait here for a sealed batch, a first item (to start its linger timer), or close.
    work: Condvar,
    /// Senders wait here for room in the buffer.
    room: Condvar,
    /// `close` waits here for the queue to drain and every flush to finish.
    idle: Condvar,
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

/// A batch that accepts no more items, waiting for a worker.
struct Sealed<T> {
    items: Vec<T>,
    seq: u64,
    /// When its first item was sent.
    first_sent: Duration,
}

struct State<T> {
    /// The batch that sends push onto.
    current: Vec<T>,
    /// When `current`'s first item was sent; meaningless while it is empty.
    current_first_sent: Duration,
    /// Sealed batches, in sequence order.
    ready: VecDeque<Sealed<T>>,
    /// Items in `current` and `ready`: those not yet handed to a worker.
    buffered: usize,
    /// Batches being flushed right now.
    in_flight: usize,
    next_seq: u64,
    closed: bool,
    counters: Counters,
}

impl<T> State<T> {
    /// Moves the current batch, if any, onto the ready queue.
    fn seal(&mut self, max_batch_size: usize) {
        if self.current.is_empty() {
            return;
        }
        // A closed batcher takes no more items, so its next batch needs no room.
        let next_capacity = if self.closed { 0 } else { max_batch_size };
        let items = std::mem::replace(&mut self.current, Vec::with_capacity(next_capacity));
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
            state: Mutex::new(State {
                current: Vec::with_capacity(self.max_batch_size),
                current_first_sent: Duration::ZERO,
                ready: VecDeque::new(),
                buffered: 0,
                in_flight: 0,
                next_seq: 0,
                closed: false,
                counters: Counters::default(),
            }),
            work: Condvar::new(),
            room: Condvar::new(),
            idle: Condvar::new(),
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
            drop(shared.state.lock());
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
            self.work.notify_one();
        } else if was_empty {
            // An idle worker must start this batch's linger timer.
            self.work.notify_one();
        }
    }

    /// What each worker thread runs until the batcher is closed and drained.
    fn run_worker(&self) {
        let mut state = self.state.lock();
        loop {
            if let Some(batch) = state.ready.pop_front() {
                state = self.flush_batch(state, batch);
                continue;
            }
            if !state.current.is_empty() {
                let now = self.clock.now();
                let deadline = state.current_first_sent.saturating_add(self.linger);
                if state.closed || now >= deadline {
                    state.seal(self.max_batch_size);
                    continue;
                }
                match self.clock.max_block(deadline - now) {
                    Some(timeout) => {
                        self.work.wait_for(&mut state, timeout);
                    }
                    None => self.work.wait(&mut state),
                }
                continue;
            }
            if state.closed {
                return;
            }
            self.work.wait(&mut state);
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
        // Pass the baton: if more work is waiting, another idle worker takes it (or watches
        // the linger deadline) while this one flushes.
        if !state.ready.is_empty() || !state.current.is_empty() {
            self.work.notify_one();
        }
        self.room.notify_all();
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

        let mut state = self.state.lock();
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
            self.shared.work.notify_one();
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
