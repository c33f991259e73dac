//! Single-flight loading: the state shared by the thread that runs a loader and the threads
//! that wait for its result.
//!
//! The registry of loads in progress lives in each shard, under the shard's lock, so "is the key
//! cached?" and "is somebody already loading it?" are answered atomically. This module only holds
//! the rendezvous: an outcome slot and a condition variable.

use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

/// How a load ended, as seen by the threads that waited for it.
pub(crate) enum Outcome<V, E> {
    /// The loader returned a value.
    Loaded(V),
    /// The loader returned an error; every waiter gets the same one.
    Failed(Arc<E>),
    /// The loader panicked; waiters try again, and one of them becomes the new loader.
    Abandoned,
}

impl<V: Clone, E> Clone for Outcome<V, E> {
    fn clone(&self) -> Self {
        match self {
            Outcome::Loaded(value) => Outcome::Loaded(value.clone()),
            Outcome::Failed(error) => Outcome::Failed(Arc::clone(error)),
            Outcome::Abandoned => Outcome::Abandoned,
        }
    }
}

/// One load in progress.
pub(crate) struct Flight<V, E> {
    outcome: Mutex<Option<Outcome<V, E>>>,
    ready: Condvar,
}

impl<V, E> Flight<V, E> {
    pub(crate) fn new() -> Self {
        Flight {
            outcome: Mutex::new(None),
            ready: Condvar::new(),
        }
    }

    /// Publishes the outcome and wakes every waiter. Called exactly once per flight.
    pub(crate) fn finish(&self, outcome: Outcome<V, E>) {
        let mut slot = self.outcome.lock();
        debug_assert!(slot.is_none(), "a flight finishes once");
        *slot = Some(outcome);
        self.ready.notify_all();
    }

    /// Marks the load as abandoned (its loader panicked) and wakes every waiter.
    pub(crate) fn abandon(&self) {
        self.finish(Outcome::Abandoned);
    }
}

impl<V: Clone, E> Flight<V, E> {
    /// Blocks until the flight finishes and returns its outcome.
    pub(crate) fn wait(&self) -> Outcome<V, E> {
        let mut slot = self.outcome.lock();
        loop {
            if let Some(outcome) = slot.as_ref() {
                return outcome.clone();
            }
            self.ready.wait(&mut slot);
        }
    }
}

/// A load registered in a shard: who is loading which key.
pub(crate) struct PendingLoad<K> {
    pub(crate) hash: u64,
    pub(crate) key: K,
    /// A `Flight<V, E>`, type-erased because each call chooses its own error type.
    pub(crate) flight: Arc<dyn std::any::Any + Send + Sync>,
    /// Set when the key was invalidated while loading: the result still reaches the waiters
    /// but is not stored, because it may predate the invalidation.
    pub(crate) stale: bool,
}
