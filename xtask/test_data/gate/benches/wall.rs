//! Wall time of the fixture's work (criterion). Benchmark id: `fixture/work`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

fn work(c: &mut Criterion) {
    c.bench_function("fixture/work", |b| {
        b.iter(|| gate_fixture::work(black_box(7)))
    });
}

criterion_group!(benches, work);
criterion_main!(benches);
