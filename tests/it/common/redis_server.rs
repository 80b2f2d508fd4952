//! The tests' private Redis: shared with the benchmarks (`test-support`).

pub use test_support::RedisServer;
