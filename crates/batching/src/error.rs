//! The error a send returns, with the item handed back.

use std::error::Error;
use std::fmt;

/// Why an item was not accepted; the item is handed back, never dropped.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum SendError<T> {
    /// [`crate::Batcher::try_send`] found the buffer full: `capacity` items are waiting for a
    /// flush worker.
    Full(T),
    /// [`crate::Batcher::send`] waited its whole timeout and the buffer stayed full.
    Timeout(T),
    /// The batcher was closed; it accepts no more items.
    Closed(T),
}

impl<T> SendError<T> {
    /// The item that was not accepted.
    pub fn into_inner(self) -> T {
        match self {
            SendError::Full(item) | SendError::Timeout(item) | SendError::Closed(item) => item,
        }
    }

    /// Whether the buffer was full (immediately or until the timeout), so retrying later may
    /// succeed; `false` for [`SendError::Closed`].
    pub fn is_retryable(&self) -> bool {
        !matches!(self, SendError::Closed(_))
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Full(_) => f.write_str("Full(..)"),
            SendError::Timeout(_) => f.write_str("Timeout(..)"),
            SendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Full(_) => {
                "batcher buffer is full: the sink is slower than the senders; retry later, \
                 use `send` with a timeout to wait for room, or raise `capacity` or `workers`"
            }
            SendError::Timeout(_) => {
                "batcher buffer stayed full for the whole send timeout: the sink is slower \
                 than the senders; use a longer timeout, or raise `capacity` or `workers`"
            }
            SendError::Closed(_) => {
                "batcher is closed and accepts no more items: send before calling `close` \
                 or dropping the batcher"
            }
        })
    }
}

impl<T> Error for SendError<T> {}
