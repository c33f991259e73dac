//! Instruction counts (callgrind) of the fixture's work.
//!
//! # Benchmark ids
//!
//! Group `fixture`, function `work`, case `one`: the id is `iai_work::fixture::work/one`.

use std::hint::black_box;

use iai_callgrind::{library_benchmark, library_benchmark_group, main};

#[library_benchmark]
#[bench::one(args = (7))]
fn work(seed: u64) -> u64 {
    gate_fixture::work(black_box(seed))
}

library_benchmark_group!(
    name = fixture;
    benchmarks = work
);

main!(library_benchmark_groups = fixture);
