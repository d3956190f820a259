//! Shared pieces of the benchmark suite: the reverse protocol's reference model (used by the
//! two comparison servers and by the load generator to verify replies), the load generator
//! itself, and small Linux helpers (CPU pinning, file limits, `/proc` readings).

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod client;
pub mod proto;
pub mod seed;
pub mod sys;
