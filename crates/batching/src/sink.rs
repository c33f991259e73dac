//! Where batches go: the [`Sink`] trait, closure adapters, and failed flushes.

use std::cell::Cell;
use std::convert::Infallible;
use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// The destination of batches, called on a flush worker thread.
///
/// With several workers, `flush` runs on several threads at once, so it takes `&self`.
/// [`current_batch_seq`] tells it which batch it is flushing.
///
/// On failure, hand back the items that were *not* written together with the error: they
/// reach the batcher's failure handler (or [`crate::Batcher::take_failed`]) in a
/// [`FlushFailure`]. Items received but not handed back count as written.
pub trait Sink<T>: Send + Sync + 'static {
    /// Why a flush failed.
    type Error: Error + Send + Sync + 'static;

    /// Writes one batch, in the order the items were sent.
    fn flush(&self, batch: Vec<T>) -> Result<(), (Self::Error, Vec<T>)>;
}

impl<T, S: Sink<T>> Sink<T> for Arc<S> {
    type Error = S::Error;

    fn flush(&self, batch: Vec<T>) -> Result<(), (Self::Error, Vec<T>)> {
        (**self).flush(batch)
    }
}

/// A [`Sink`] made from a closure; see [`sink_fn`].
#[derive(Clone, Copy)]
pub struct SinkFn<F>(F);

impl<F> fmt::Debug for SinkFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SinkFn(..)")
    }
}

/// Makes a [`Sink`] from a closure that may fail, handing back the items it did not write.
///
/// ```
/// use batching::{Batcher, sink_fn};
/// use std::time::Duration;
///
/// let batcher = Batcher::builder().build(sink_fn(|batch: Vec<u32>| {
///     if batch.contains(&13) {
///         return Err((std::io::Error::other("unlucky"), batch));
///     }
///     Ok(())
/// }));
/// batcher.send(13, Duration::from_secs(1)).unwrap();
/// batcher.close();
/// let failed = batcher.take_failed();
/// assert_eq!(failed[0].items, vec![13]);
/// assert_eq!(failed[0].error.to_string(), "unlucky");
/// ```
pub fn sink_fn<T, E, F>(f: F) -> SinkFn<F>
where
    F: Fn(Vec<T>) -> Result<(), (E, Vec<T>)> + Send + Sync + 'static,
    E: Error + Send + Sync + 'static,
{
    SinkFn(f)
}

impl<T, E, F> Sink<T> for SinkFn<F>
where
    F: Fn(Vec<T>) -> Result<(), (E, Vec<T>)> + Send + Sync + 'static,
    E: Error + Send + Sync + 'static,
{
    type Error = E;

    fn flush(&self, batch: Vec<T>) -> Result<(), (E, Vec<T>)> {
        (self.0)(batch)
    }
}

/// A [`Sink`] made from a closure that cannot fail; see [`infallible_sink`].
#[derive(Clone, Copy)]
pub struct InfallibleSink<F>(F);

impl<F> fmt::Debug for InfallibleSink<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InfallibleSink(..)")
    }
}

/// Makes a [`Sink`] from a closure that cannot fail.
pub fn infallible_sink<T, F>(f: F) -> InfallibleSink<F>
where
    F: Fn(Vec<T>) + Send + Sync + 'static,
{
    InfallibleSink(f)
}

impl<T, F> Sink<T> for InfallibleSink<F>
where
    F: Fn(Vec<T>) + Send + Sync + 'static,
{
    type Error = Infallible;

    fn flush(&self, batch: Vec<T>) -> Result<(), (Infallible, Vec<T>)> {
        (self.0)(batch);
        Ok(())
    }
}

/// A batch whose flush failed, with the items the sink handed back.
#[derive(Debug)]
pub struct FlushFailure<T> {
    /// The sink's error, or a [`SinkPanicked`] if the sink panicked.
    pub error: Box<dyn Error + Send + Sync>,
    /// The items the sink did not write, in send order. Empty if the sink panicked.
    pub items: Vec<T>,
    /// The failed batch's sequence number: batches are numbered from 0 in the order they are
    /// formed.
    pub batch_seq: u64,
}

/// The error in a [`FlushFailure`] when the sink panicked: the batch's items were consumed by
/// the panicking call, so they cannot be handed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkPanicked {
    /// How many items the batch held; none of them can be assumed written.
    pub items_lost: usize,
    /// The panic message, if it was a string.
    pub message: Option<String>,
}

impl fmt::Display for SinkPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the sink panicked while flushing a batch of {} items, which may or may not have been written",
            self.items_lost
        )?;
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        f.write_str("; return an error with the items instead of panicking so they can be retried")
    }
}

impl Error for SinkPanicked {}

thread_local! {
    /// The sequence number of the batch this thread is flushing, if any.
    static CURRENT_BATCH_SEQ: Cell<Option<u64>> = const { Cell::new(None) };
}

/// The sequence number of the batch being flushed, when called from inside [`Sink::flush`];
/// `None` elsewhere.
///
/// Batches are numbered from 0 in the order they are formed, which is send order, so a sink
/// flushed by several workers can use it to restore order or as an idempotency key.
pub fn current_batch_seq() -> Option<u64> {
    CURRENT_BATCH_SEQ.with(Cell::get)
}

/// Sets [`current_batch_seq`] for the duration of `f`.
pub(crate) fn with_batch_seq<R>(batch_seq: u64, f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            CURRENT_BATCH_SEQ.with(|seq| seq.set(None));
        }
    }
    CURRENT_BATCH_SEQ.with(|seq| seq.set(Some(batch_seq)));
    let _reset = Reset;
    f()
}
