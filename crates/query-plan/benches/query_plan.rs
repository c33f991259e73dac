//! What planning and fingerprinting cost on top of parsing, on the shared query files
//! (`../shared/data/sql`: TPC-H q1..q22 and the 43 ClickBench queries), and how fast the
//! workload registry records from several threads.
//!
//! # Benchmark ids (stable: they are the keys of saved baselines, do not rename)
//!
//! Whole sets (one iteration runs every query of the set once; throughput in queries):
//! - `query_plan/plannable/{parse_only,parse_plan,parse_fingerprint}`: the queries that
//!   plan (those inside the supported subset);
//! - `query_plan/all/{parse_only,parse_fingerprint}`: every query (planning the rest would
//!   only measure how fast we say "unsupported").
//!
//! Per query: `query_plan/query/{set}-{name}/{parse_only,parse_plan,parse_fingerprint}`
//! for every query that plans, e.g. `query_plan/query/tpch-q5/parse_plan`.
//!
//! Registry: `query_plan/registry/record/{1t,2t}`: each thread records [`RECORDS`]
//! executions of pre-normalised queries (the 65 shapes, round robin from a per-thread
//! offset) with latencies from a seeded generator; throughput in records.
//!
//! # What is measured
//! - `parse_only`: `sqlparser::Parser::parse_sql` with the generic dialect: the peer, and
//!   the floor under everything else.
//! - `parse_plan`: `query_plan::parse_query` (sqlparser plus conversion into our model)
//!   then `plan_query` against the query's catalogue (TPC-H's schema with scale-factor-1
//!   statistics; for ClickBench, built from the query's own columns beforehand, outside the
//!   timed region).
//! - `parse_fingerprint`: `query_plan::fingerprint::fingerprint` (parse, rewrite literals,
//!   print, hash).
//!
//! Without the shared data (`SHARED_DATA` unset and `../shared` absent) a few built-in
//! queries stand in, under the same ids, and a notice says so.

#[path = "../tests/support/shared.rs"]
mod shared;

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use query_plan::fingerprint::{Normalized, fingerprint};
use query_plan::registry::{Registry, RegistryConfig};
use query_plan::{Catalog, PlanOptions, parse_query, plan_query};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

/// Executions each thread records per iteration of the registry benchmark.
const RECORDS: u64 = 20_000;
const SEED: u64 = 0x5eed_9a11;

/// Stand-ins when the shared data is absent.
const BUILT_IN: [&str; 4] = [
    "SELECT id, total FROM orders WHERE customer = 42 ORDER BY id LIMIT 10",
    "SELECT customer, COUNT(*), SUM(total) FROM orders WHERE status IN ('a', 'b') GROUP BY customer",
    "SELECT o.total, c.name FROM orders o JOIN customers c ON o.customer = c.id WHERE c.country = 'NZ'",
    "SELECT * FROM orders WHERE total BETWEEN 10 AND 20 AND note LIKE 'abc%'",
];

struct Workload {
    /// `(id-safe name, sql, catalogue, plans)`.
    queries: Vec<(String, String, Catalog, bool)>,
}

/// The queries, read and prepared once for every benchmark group.
fn workload() -> &'static Workload {
    static WORKLOAD: OnceLock<Workload> = OnceLock::new();
    WORKLOAD.get_or_init(load)
}

fn load() -> Workload {
    let mut queries = Vec::new();
    let empty = Catalog::new();
    let (list, tpch) = match shared::data_dir() {
        Some(dir) => (shared::queries(&dir), shared::tpch_catalog(&dir)),
        None => {
            eprintln!(
                "notice: shared SQL data not found (set SHARED_DATA); benchmarking {} built-in queries",
                BUILT_IN.len()
            );
            let list = BUILT_IN
                .iter()
                .enumerate()
                .map(|(i, sql)| shared::SharedQuery {
                    name: format!("builtin/q{i}"),
                    sql: (*sql).to_string(),
                    set: shared::QuerySet::ClickBench,
                })
                .collect();
            (list, Catalog::new())
        }
    };
    for q in list {
        let base = match q.set {
            shared::QuerySet::Tpch => &tpch,
            shared::QuerySet::ClickBench => &empty,
        };
        let (catalog, plans) = match parse_query(&q.sql) {
            Ok(query) => {
                let catalog = shared::catalog_for(base, &query);
                let plans = plan_query(&catalog, &query, &PlanOptions::default()).is_ok();
                (catalog, plans)
            }
            Err(_) => (Catalog::new(), false),
        };
        queries.push((q.name.replace('/', "-"), q.sql, catalog, plans));
    }
    Workload { queries }
}

fn parse_only(sql: &str) {
    black_box(Parser::parse_sql(&GenericDialect {}, black_box(sql)).is_ok());
}

fn parse_plan(sql: &str, catalog: &Catalog) {
    let query = parse_query(black_box(sql)).expect("plannable query parses");
    let plan = plan_query(catalog, &query, &PlanOptions::default()).expect("query plans");
    black_box(plan.cost());
}

fn parse_fingerprint(sql: &str) {
    black_box(fingerprint(black_box(sql)).ok());
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>, quick: bool) {
    let (samples, warm_up, measurement) = if quick {
        (20, Duration::from_millis(200), Duration::from_millis(600))
    } else {
        (30, Duration::from_millis(500), Duration::from_secs(2))
    };
    group.sample_size(samples);
    if !on_command_line("--warm-up-time") {
        group.warm_up_time(warm_up);
    }
    if !on_command_line("--measurement-time") {
        group.measurement_time(measurement);
    }
}

/// Whether the command line sets `flag` (`--warm-up-time`, `--measurement-time`). criterion
/// lets a group's own settings win over its command line, so the groups apply their defaults
/// only where the command line gives none: the gate (`cargo xtask bench compare`) passes its
/// round length this way.
fn on_command_line(flag: &str) -> bool {
    std::env::args().any(|arg| arg == flag)
}

fn sets(c: &mut Criterion) {
    let w = workload();
    let plannable: Vec<&(String, String, Catalog, bool)> =
        w.queries.iter().filter(|q| q.3).collect();

    let mut group = c.benchmark_group("query_plan/plannable");
    configure(&mut group, false);
    group.throughput(Throughput::Elements(plannable.len() as u64));
    group.bench_function("parse_only", |b| {
        b.iter(|| plannable.iter().for_each(|q| parse_only(&q.1)))
    });
    let slowdown = injected_slowdown();
    group.bench_function("parse_plan", |b| {
        if slowdown > 0.0 {
            // The detector's own test (`evaluate`): plan a share `slowdown` of the queries
            // twice, spread evenly over the run, so every sample is that much slower.
            let mut owed = 0.0;
            b.iter(|| {
                plannable.iter().for_each(|q| {
                    parse_plan(&q.1, &q.2);
                    owed += slowdown;
                    if owed >= 1.0 {
                        owed -= 1.0;
                        parse_plan(&q.1, &q.2);
                    }
                })
            })
        } else {
            b.iter(|| plannable.iter().for_each(|q| parse_plan(&q.1, &q.2)))
        }
    });
    group.bench_function("parse_fingerprint", |b| {
        b.iter(|| plannable.iter().for_each(|q| parse_fingerprint(&q.1)))
    });
    group.finish();

    let mut group = c.benchmark_group("query_plan/all");
    configure(&mut group, false);
    group.throughput(Throughput::Elements(w.queries.len() as u64));
    group.bench_function("parse_only", |b| {
        b.iter(|| w.queries.iter().for_each(|q| parse_only(&q.1)))
    });
    group.bench_function("parse_fingerprint", |b| {
        b.iter(|| w.queries.iter().for_each(|q| parse_fingerprint(&q.1)))
    });
    group.finish();

    let mut group = c.benchmark_group("query_plan/query");
    configure(&mut group, true);
    group.throughput(Throughput::Elements(1));
    for (name, sql, catalog, _) in &plannable {
        group.bench_function(format!("{name}/parse_only"), |b| b.iter(|| parse_only(sql)));
        group.bench_function(format!("{name}/parse_plan"), |b| {
            b.iter(|| parse_plan(sql, catalog))
        });
        group.bench_function(format!("{name}/parse_fingerprint"), |b| {
            b.iter(|| parse_fingerprint(sql))
        });
    }
    group.finish();
}

/// A real slowdown for testing the gate: `PERF_GUARD_INJECT_SLOWDOWN=0.05` makes
/// `query_plan/plannable/parse_plan` do 5 % more planning (only that benchmark; unset, 0).
fn injected_slowdown() -> f64 {
    match std::env::var("PERF_GUARD_INJECT_SLOWDOWN") {
        Ok(value) => match value.parse::<f64>() {
            Ok(fraction) if (0.0..=1.0).contains(&fraction) => fraction,
            _ => panic!(
                "PERF_GUARD_INJECT_SLOWDOWN={value:?}: give a fraction from 0 to 1, such as 0.05"
            ),
        },
        Err(_) => 0.0,
    }
}

/// A small deterministic generator (SplitMix64) for latencies.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn record_all(registry: &Registry, shapes: &[Normalized], thread: u64) {
    let mut rng = SEED ^ thread;
    let n = shapes.len() as u64;
    for i in 0..RECORDS {
        let shape = &shapes[((i + thread * 7) % n) as usize];
        // 10 µs .. ~1 ms, one in 1000 above the 1 s slow threshold.
        let r = splitmix(&mut rng);
        let nanos = if r.is_multiple_of(1000) {
            1_500_000_000
        } else {
            10_000 + r % 1_000_000
        };
        registry.record(shape, Duration::from_nanos(nanos), !r.is_multiple_of(97));
    }
}

fn registry(c: &mut Criterion) {
    let w = workload();
    let shapes: Vec<Normalized> = w
        .queries
        .iter()
        .map(|q| Normalized::new_lossy(&q.1))
        .collect();
    let mut group = c.benchmark_group("query_plan/registry/record");
    configure(&mut group, false);
    for threads in [1u64, 2] {
        group.throughput(Throughput::Elements(RECORDS * threads));
        group.bench_function(format!("{threads}t"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let registry = Registry::new(RegistryConfig::default());
                    let start = Instant::now();
                    std::thread::scope(|s| {
                        for t in 1..threads {
                            let (registry, shapes) = (&registry, &shapes);
                            s.spawn(move || record_all(registry, shapes, t));
                        }
                        record_all(&registry, &shapes, 0);
                    });
                    total += start.elapsed();
                    assert_eq!(
                        registry.snapshot().iter().map(|s| s.calls).sum::<u64>(),
                        RECORDS * threads
                    );
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sets, registry);
criterion_main!(benches);
