//! The batcher: a bounded buffer of items, sealed into batches by size, linger or request, and
//! flushed by a pool of worker threads.
//!
//! The state is split in two halves with a lock each, so that a send does not share a lock
//! with the workers. The front half (the producers' lock) holds the batch being filled: a
//! send pushes onto it (a `Vec` reserved at `max_batch_size`) and, once it is full, moves it
//! whole onto the back half (the workers' lock), which holds the queue of sealed batches and
//! the flush bookkeeping. Per item this costs one lock that only producers take in the steady
//! state, and one push; the back lock is taken once per batch, and the clock is read once per
//! batch. The workers learn about a batch being filled (to time its linger) from an atomic the
//! producer stores at its first item, and take the front lock only to seal a batch whose linger
//! ran out.
//!
//! The capacity check needs both halves (items accepted minus items handed to a worker), so the
//! workers publish a running count of the items handed over, and the front keeps a credit of
//! items it may still accept without looking at that count: it reads the count (one cache miss)
//! only when the credit runs out, about once per `capacity` items when the workers keep up.
//!
//! Lock order: front before back. A worker drops the back lock before it takes the front one.
//! Before parking, an idle worker spins briefly on an atomic activity counter (bumped when a
//! batch is sealed), and senders only signal the condvar when a worker is actually parked; a
//! sender that finds the buffer full spins briefly on the count of items taken before it parks.

use std::collections::VecDeque;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
    /// The producers' half: the batch being filled.
    front: Padded<Mutex<Front<T>>>,
    /// The workers' half: sealed batches and the flush bookkeeping.
    back: Padded<Mutex<Back<T>>>,
    /// What spinning or deciding workers read without a lock.
    signals: Signals,
    /// Items handed to a worker since the start; written under the back lock only, read by
    /// producers whose credit ran out. On a line of its own: the workers write it once per
    /// batch, and the producers should not lose their lines to that.
    taken: Padded<AtomicU64>,
    /// Sends that found the buffer full (the `buffer_full` metric); counted outside either lock.
    buffer_full: AtomicU64,
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

/// A value starting a cache line (pair) of its own, so that the threads writing it do not slow
/// down those working on its neighbours.
#[repr(align(128))]
struct Padded<V>(V);

impl<V> std::ops::Deref for Padded<V> {
    type Target = V;

    fn deref(&self) -> &V {
        &self.0
    }
}

/// The atomics the workers watch, on one cache line: a producer touches it twice per batch (at
/// its first item and when sealing it), never per item.
#[repr(align(128))]
struct Signals {
    /// Bumped (under the back lock) when a batch is sealed, the batcher closes or the clock
    /// jumps. Spinning workers watch it without taking a lock.
    activity: AtomicU64,
    /// The current batch's first send time in nanoseconds plus one, or 0 while it is empty.
    /// Stored under the front lock (set at the first item, cleared at sealing with the back
    /// lock held too), so a worker holding the back lock never sees a batch that is already
    /// sealed.
    pending: AtomicU64,
    /// Workers parked with no batch to time (see [`Back::parked`]): a producer that starts a
    /// batch wakes one. Its updates and `pending`'s form a store-then-load handshake, both
    /// sides `SeqCst`, so either the producer sees the parked worker or the worker sees the
    /// batch.
    idle_parked: AtomicUsize,
}

impl Signals {
    /// Records new activity; called with the back lock held, so a plain store suffices.
    #[inline]
    fn bump(&self) {
        let next = self.activity.load(Ordering::Relaxed).wrapping_add(1);
        self.activity.store(next, Ordering::Release);
    }

    #[inline]
    fn activity(&self) -> u64 {
        self.activity.load(Ordering::Acquire)
    }
}

/// The producers' half of the state.
struct Front<T> {
    /// The batch that sends push onto.
    current: Vec<T>,
    /// Items this half may still accept before it must look at [`Shared::taken`] again: the
    /// room the buffer had when it last looked, less what was accepted since. Never more than
    /// the real room, since `taken` only grows.
    credit: usize,
    closed: bool,
    /// When `current`'s first item was sent; meaningless while it is empty.
    current_first_sent: Duration,
    /// Items accepted since the start.
    accepted: u64,
    next_seq: u64,
}

/// A batch that accepts no more items, waiting for a worker.
struct Sealed<T> {
    items: Vec<T>,
    seq: u64,
    /// When its first item was sent.
    first_sent: Duration,
}

/// The workers' half of the state.
struct Back<T> {
    /// Sealed batches, in sequence order.
    ready: VecDeque<Sealed<T>>,
    /// Batches being flushed right now.
    in_flight: usize,
    /// Workers blocked on `work`, whether timing a linger or waiting for a first item.
    parked: usize,
    /// Set by `close` after it sealed the remainder: the front takes no more items, so once
    /// `ready` is empty there is nothing left to flush.
    closed: bool,
    counters: Counters,
    /// An empty `Vec` reserved at `max_batch_size` for the next batch, allocated by a worker
    /// outside the locks so that sealing a batch does not allocate.
    spare: Option<Vec<T>>,
}

impl<T> Back<T> {
    fn is_drained(&self) -> bool {
        self.ready.is_empty() && self.in_flight == 0
    }
}

/// A send time as [`Signals::pending`] stores it.
fn pending_of(first_sent: Duration) -> u64 {
    u64::try_from(first_sent.as_nanos())
        .unwrap_or(u64::MAX - 1)
        .saturating_add(1)
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
            front: Padded(Mutex::new(Front {
                current: Vec::with_capacity(self.max_batch_size),
                credit: capacity,
                closed: false,
                current_first_sent: Duration::ZERO,
                accepted: 0,
                next_seq: 0,
            })),
            back: Padded(Mutex::new(Back {
                ready: VecDeque::new(),
                in_flight: 0,
                parked: 0,
                closed: false,
                counters: Counters::default(),
                spare: None,
            })),
            signals: Signals {
                activity: AtomicU64::new(0),
                pending: AtomicU64::new(0),
                idle_parked: AtomicUsize::new(0),
            },
            taken: Padded(AtomicU64::new(0)),
            buffer_full: AtomicU64::new(0),
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
            // Workers and waiting senders both read the time under the back lock before they
            // wait: taking it orders this wake-up after they have started waiting, so no
            // wake-up is lost.
            let back = shared.back.lock();
            shared.signals.bump();
            drop(back);
            shared.work.notify_all();
            shared.room.notify_all();
        }
    }
}

/// What needs no `T: Send` bound, for [`close_impl`] (which `Drop` calls).
impl<T> Shared<T> {
    /// Moves the current batch, if any, onto the ready queue and wakes a parked worker; the
    /// caller holds the front lock, this takes the back lock.
    fn seal(&self, front: &mut Front<T>) {
        if front.current.is_empty() {
            return;
        }
        let mut back = self.back.lock();
        let spare = self.seal_locked(front, &mut back);
        let wake = back.parked > 0;
        drop(back);
        if wake {
            self.work.notify_one();
        }
        // A closed batcher takes no more items, so its next batch needs no room; otherwise the
        // worker's spare is the usual case, and allocating here (without the back lock) the
        // fallback.
        front.current = if front.closed {
            Vec::new()
        } else {
            spare.unwrap_or_else(|| Vec::with_capacity(self.max_batch_size))
        };
    }

    /// The part of [`Shared::seal`] under both locks: queues the current batch and returns the
    /// spare `Vec` for the next one, if a worker left one. Leaves `front.current` empty.
    fn seal_locked(&self, front: &mut Front<T>, back: &mut Back<T>) -> Option<Vec<T>> {
        let items = std::mem::take(&mut front.current);
        let seq = front.next_seq;
        front.next_seq += 1;
        back.ready.push_back(Sealed {
            items,
            seq,
            first_sent: front.current_first_sent,
        });
        self.signals.pending.store(0, Ordering::Release);
        self.signals.bump();
        back.spare.take()
    }

    /// The metrics, read under the back lock.
    fn metrics_locked(&self, back: &Back<T>) -> Metrics {
        back.counters
            .snapshot(self.buffer_full.load(Ordering::Acquire))
    }
}

impl<T: Send + 'static> Shared<T> {
    /// Pushes an item; the caller holds the front lock and has checked that the batcher is
    /// open and that there is credit.
    #[inline]
    fn push(&self, front: &mut Front<T>, item: T) {
        debug_assert!(!front.closed && front.credit > 0);
        front.credit -= 1;
        front.accepted += 1;
        let was_empty = front.current.is_empty();
        if was_empty {
            front.current_first_sent = self.clock.now();
        }
        front.current.push(item);
        if front.current.len() >= self.max_batch_size {
            self.seal(front);
        } else if was_empty {
            self.announce_first_item(front.current_first_sent);
        }
    }

    /// Tells the workers that a batch has started, so that one times its linger.
    ///
    /// Only a worker parked with no batch to time needs waking for that: one timing a linger is
    /// timing an older batch, whose sealing wakes it; a busy worker looks at `pending` when its
    /// flush is done; and a spinning worker looks at it within the linger (see `run_worker`).
    #[cold]
    fn announce_first_item(&self, first_sent: Duration) {
        self.signals
            .pending
            .store(pending_of(first_sent), Ordering::SeqCst);
        if self.signals.idle_parked.load(Ordering::SeqCst) > 0 {
            // The worker counted itself under the back lock and holds it until it waits, so
            // once this thread has the lock the worker is waiting and the signal reaches it.
            drop(self.back.lock());
            self.work.notify_one();
        }
    }

    /// Recomputes the front's credit from the items handed to workers so far; returns the
    /// count it read, for a sender that must wait for it to move.
    fn refresh_credit(&self, front: &mut Front<T>) -> u64 {
        let taken = self.taken.load(Ordering::Acquire);
        let buffered = front.accepted.saturating_sub(taken);
        front.credit = self
            .capacity
            .saturating_sub(usize::try_from(buffered).unwrap_or(usize::MAX));
        taken
    }

    /// The rest of `send` when the buffer was full: waits for room, the deadline or close.
    #[cold]
    fn send_when_room(
        &self,
        front: MutexGuard<'_, Front<T>>,
        item: T,
        timeout: Duration,
        taken_seen: u64,
    ) -> Result<(), SendError<T>> {
        let deadline = self.clock.now().saturating_add(timeout);
        // Counted after reading the deadline: a test that waits for this count and then moves
        // the clock past the deadline relies on it.
        self.buffer_full.fetch_add(1, Ordering::Release);
        drop(front);
        let mut taken_seen = taken_seen;
        loop {
            // A worker that is running takes the next batch within microseconds: watch for that
            // before parking, so that a producer that keeps the buffer full is not put to sleep
            // and woken (a system call on both sides) once per batch. No longer than the time
            // left, in case the clock flows with real time.
            let left = deadline.saturating_sub(self.clock.now());
            let budget = self
                .clock
                .max_block(left)
                .map_or(SPIN_BUDGET, |left| left.min(SPIN_BUDGET));
            self.spin_until(budget, || self.taken.load(Ordering::Acquire) != taken_seen);
            {
                let mut back = self.back.lock();
                loop {
                    if back.closed {
                        return Err(SendError::Closed(item));
                    }
                    // Room only appears when a worker takes a batch, which moves `taken` under
                    // this lock and then signals `room`: checking it here loses no wake-up.
                    if self.taken.load(Ordering::Acquire) != taken_seen {
                        break;
                    }
                    let now = self.clock.now();
                    if now >= deadline {
                        return Err(SendError::Timeout(item));
                    }
                    match self.clock.max_block(deadline - now) {
                        Some(block) => {
                            self.room.wait_for(&mut back, block);
                        }
                        None => self.room.wait(&mut back),
                    }
                }
            }
            let mut front = self.front.lock();
            if front.closed {
                return Err(SendError::Closed(item));
            }
            if front.credit == 0 {
                taken_seen = self.refresh_credit(&mut front);
            }
            if front.credit > 0 {
                self.push(&mut front, item);
                return Ok(());
            }
            // Other senders took the room; wait for more.
        }
    }

    /// Seals the current batch if its linger has run out; called by a worker without locks.
    fn seal_if_lingered(&self) {
        let mut front = self.front.lock();
        if !front.current.is_empty()
            && self.clock.now() >= front.current_first_sent.saturating_add(self.linger)
        {
            self.seal(&mut front);
        }
    }

    /// What each worker thread runs until the batcher is closed and drained.
    fn run_worker(&self) {
        let mut back = self.back.lock();
        // Whether the worker has already spun since it last found something to do.
        let mut spun = false;
        loop {
            if let Some(batch) = back.ready.pop_front() {
                back = self.flush_batch(back, batch);
                spun = false;
                continue;
            }
            if back.closed {
                // `close` sealed the remainder before setting `closed`, and the front takes no
                // more items.
                return;
            }
            let pending = self.signals.pending.load(Ordering::Acquire);
            let idle = pending == 0;
            // How long to block for: `None` until woken.
            let block = if idle {
                None
            } else {
                let first_sent = Duration::from_nanos(pending - 1);
                let deadline = first_sent.saturating_add(self.linger);
                let now = self.clock.now();
                if now >= deadline {
                    // Lock order: the front lock is taken without the back one.
                    MutexGuard::unlocked(&mut back, || self.seal_if_lingered());
                    continue;
                }
                self.clock.max_block(deadline - now)
            };
            if !spun {
                // Watch for work for a moment before parking: the next batch is often only
                // microseconds away, and a wake-up from the condvar costs far more.
                let seen = self.signals.activity();
                // An idle spinner is not told about a first item (that would cost the sender a
                // cache miss per batch), so it spins no longer than a linger: it then sees
                // any batch started meanwhile before that batch's linger has run out.
                let budget = block.unwrap_or(self.linger).min(SPIN_BUDGET);
                let active = MutexGuard::unlocked(&mut back, || {
                    self.spin_until(budget, || self.signals.activity() != seen)
                });
                spun = !active;
                continue;
            }
            if idle {
                // The handshake with `announce_first_item`: count this worker, then look
                // again, so that a batch started meanwhile is either seen here or wakes it.
                self.signals.idle_parked.fetch_add(1, Ordering::SeqCst);
                if self.signals.pending.load(Ordering::SeqCst) != 0 {
                    self.signals.idle_parked.fetch_sub(1, Ordering::SeqCst);
                    continue;
                }
            }
            back.parked += 1;
            match block {
                Some(timeout) => {
                    self.work.wait_for(&mut back, timeout);
                }
                None => self.work.wait(&mut back),
            }
            back.parked -= 1;
            if idle {
                self.signals.idle_parked.fetch_sub(1, Ordering::SeqCst);
            }
            spun = false;
        }
    }

    /// Spins (yielding now and then) until `done` or until `budget` of real time has passed;
    /// whether `done`. Called without a lock.
    fn spin_until(&self, budget: Duration, done: impl Fn() -> bool) -> bool {
        let start = Instant::now();
        loop {
            for _ in 0..SPINS_PER_YIELD {
                if done() {
                    return true;
                }
                std::hint::spin_loop();
            }
            if start.elapsed() >= budget {
                return done();
            }
            std::thread::yield_now();
        }
    }

    /// Flushes one sealed batch with the back lock released; returns the lock.
    fn flush_batch<'a>(
        &'a self,
        mut back: MutexGuard<'a, Back<T>>,
        batch: Sealed<T>,
    ) -> MutexGuard<'a, Back<T>> {
        let batch_len = batch.items.len();
        // Only written under this lock, so a load and a store suffice.
        let taken = self.taken.load(Ordering::Relaxed) + batch_len as u64;
        self.taken.store(taken, Ordering::Release);
        back.in_flight += 1;
        let flush_start = self.clock.now();
        let waited = flush_start.saturating_sub(batch.first_sent);
        let counters = &mut back.counters;
        // Batches are taken in sequence order, so the first one taken holds the first item
        // ever sent.
        counters.first_send.get_or_insert(batch.first_sent);
        counters.batches_started += 1;
        counters.items_started += batch_len as u64;
        counters.queue_time_total += waited;
        counters.queue_time_max = counters.queue_time_max.max(waited);
        counters.queue_times.record(waited);
        // Pass the baton: if more work is waiting, another idle worker takes it (or watches
        // the linger deadline) while this one flushes.
        // (A spinning worker needs no wake-up: it saw whatever is waiting arrive.)
        if back.parked > 0
            && (!back.ready.is_empty() || self.signals.pending.load(Ordering::Acquire) != 0)
        {
            self.work.notify_one();
        }
        self.room.notify_all();
        let needs_spare = back.spare.is_none() && !back.closed;
        drop(back);

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

        let mut back = self.back.lock();
        if back.spare.is_none() && !back.closed {
            back.spare = spare;
        }
        let counters = &mut back.counters;
        if failed {
            counters.failed_flushes += 1;
        } else {
            counters.batches_ok += 1;
        }
        counters.items_ok += items_ok as u64;
        counters.items_failed += items_failed as u64;
        counters.last_flush_end = counters.last_flush_end.max(flush_end);
        back.in_flight -= 1;
        if back.is_drained() {
            self.idle.notify_all();
        }
        back
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
        let mut front = shared.front.lock();
        if front.closed {
            return Err(SendError::Closed(item));
        }
        if front.credit == 0 {
            let taken_seen = shared.refresh_credit(&mut front);
            if front.credit == 0 {
                return shared.send_when_room(front, item, timeout, taken_seen);
            }
        }
        shared.push(&mut front, item);
        Ok(())
    }

    /// Adds an item if there is room; never waits.
    ///
    /// # Errors
    /// [`SendError::Full`] if the buffer is full, [`SendError::Closed`] if the batcher is
    /// closed; either way the item is handed back.
    pub fn try_send(&self, item: T) -> Result<(), SendError<T>> {
        let shared = &*self.shared;
        let mut front = shared.front.lock();
        if front.closed {
            return Err(SendError::Closed(item));
        }
        if front.credit == 0 {
            shared.refresh_credit(&mut front);
            if front.credit == 0 {
                shared.buffer_full.fetch_add(1, Ordering::Release);
                return Err(SendError::Full(item));
            }
        }
        shared.push(&mut front, item);
        Ok(())
    }

    /// Seals the current partial batch, if any, and hands it to the workers without waiting for
    /// its flush.
    pub fn flush(&self) {
        let mut front = self.shared.front.lock();
        self.shared.seal(&mut front);
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
        let back = self.shared.back.lock();
        self.shared.metrics_locked(&back)
    }

    /// Percentiles of the queue time of the batches handed to the sink so far: from the send of
    /// each batch's first item to the start of its flush, each batch counted once, within
    /// [`QueueTimePercentiles::MAX_RELATIVE_ERROR`]. Still available after [`close`](Self::close).
    ///
    /// Takes the workers' lock and walks a fixed histogram of a few hundred buckets, so call it
    /// for reporting, not per item.
    pub fn queue_time_percentiles(&self) -> QueueTimePercentiles {
        self.shared.back.lock().counters.queue_times.percentiles()
    }

    /// Takes the failed flushes kept so far (oldest first); always empty with an
    /// [`on_failure`](BatcherBuilder::on_failure) handler.
    pub fn take_failed(&self) -> Vec<FlushFailure<T>> {
        std::mem::take(&mut *self.shared.failed.lock())
    }

    /// Whether [`close`](Batcher::close) has been called.
    pub fn is_closed(&self) -> bool {
        self.shared.front.lock().closed
    }

    /// Items sent but not yet handed to a worker; at most the capacity.
    pub fn buffered(&self) -> usize {
        buffered(&self.shared)
    }
}

/// Items accepted but not yet handed to a worker.
fn buffered<T>(shared: &Shared<T>) -> usize {
    let front = shared.front.lock();
    // With the front lock held nothing is accepted meanwhile, and `taken` never passes the
    // items accepted.
    let taken = shared.taken.load(Ordering::Acquire);
    usize::try_from(front.accepted.saturating_sub(taken)).unwrap_or(usize::MAX)
}

impl<T> Drop for Batcher<T> {
    fn drop(&mut self) {
        close_impl(self);
    }
}

/// [`Batcher::close`], without the `T: Send + 'static` bound that `Drop` cannot have.
fn close_impl<T>(batcher: &Batcher<T>) -> CloseReport {
    let shared = &*batcher.shared;
    let mut remainder_items = 0;
    let mut front = shared.front.lock();
    let mut back = shared.back.lock();
    let mut batches_awaited = back.ready.len() + back.in_flight;
    if !front.closed {
        front.closed = true;
        remainder_items = front.current.len();
        if remainder_items > 0 {
            batches_awaited += 1;
            // No spare is needed: a closed batcher takes no more items.
            drop(shared.seal_locked(&mut front, &mut back));
        }
        back.closed = true;
        shared.signals.bump();
        shared.work.notify_all();
        shared.room.notify_all();
    }
    drop(front);
    while !back.is_drained() {
        shared.idle.wait(&mut back);
    }
    let metrics = shared.metrics_locked(&back);
    drop(back);
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
        let buffered = buffered(shared);
        let back = shared.back.lock();
        f.debug_struct("Batcher")
            .field("max_batch_size", &shared.max_batch_size)
            .field("linger", &shared.linger)
            .field("capacity", &shared.capacity)
            .field("workers", &shared.n_workers)
            .field("clock", &shared.clock)
            .field("buffered", &buffered)
            .field("in_flight", &back.in_flight)
            .field("closed", &back.closed)
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
