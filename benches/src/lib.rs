//! Library behind the workspace's benchmark tools: cache-trace parsing ([`trace`]) and
//! hit-ratio replay of those traces through our cache and its peers ([`replay`]).
//!
//! The `trace-replay` binary is a thin command line over these modules; tests call them directly.

pub mod replay;
pub mod trace;
