//! Known-answer tests of the decision rules (`decide::compare`) on synthetic, seeded runs.

use xtask::config::Config;
use xtask::decide::{
    Advisory, Comparison, Mode, ONE_RUN_PER_SIDE_NOTE, Row, RowNote, Verdict, compare,
};
use xtask::machine::HostDifference;
use xtask::model::{Benchmark, Machine, Metric, Run, RunMeta, SCHEMA_VERSION, Summary};

/// xorshift64* with Box–Muller normals: deterministic across platforms.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // Scramble small seeds so neighbouring seeds give unrelated streams; never zero.
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Per-iteration times `base · (1 + delta) · exp(N(0, sigma))`.
fn times(seed: u64, n: usize, base: f64, delta: f64, sigma: f64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| base * (1.0 + delta) * (sigma * rng.normal()).exp())
        .collect()
}

fn bench(id: &str, metric: Metric, samples: Vec<f64>) -> Benchmark {
    Benchmark {
        id: id.to_string(),
        metric,
        unit: match metric {
            Metric::WallTime => "ns",
            Metric::Instructions => "instructions",
        }
        .to_string(),
        summary: Summary::of(&samples),
        samples,
        iterations: Vec::new(),
        throughput: None,
    }
}

fn wall(id: &str, samples: Vec<f64>) -> Benchmark {
    bench(id, Metric::WallTime, samples)
}

fn instructions(id: &str, count: f64) -> Benchmark {
    bench(id, Metric::Instructions, vec![count])
}

fn run(mut benchmarks: Vec<Benchmark>) -> Run {
    benchmarks.sort_by(|a, b| (a.id.as_str(), a.metric).cmp(&(b.id.as_str(), b.metric)));
    Run {
        schema_version: SCHEMA_VERSION,
        meta: RunMeta::default(),
        benchmarks,
    }
}

fn row<'a>(comparison: &'a Comparison, id: &str, metric: Metric) -> &'a Row {
    comparison
        .rows
        .iter()
        .find(|r| r.id == id && r.metric == metric)
        .unwrap_or_else(|| panic!("no row {id} {metric:?}"))
}

/// Compares one benchmark's two sample sets under `config` and checks the verdict.
#[track_caller]
fn check_with(old: Benchmark, new: Benchmark, config: &Config, expected: Verdict) -> Row {
    let (id, metric) = (old.id.clone(), old.metric);
    let comparison = compare(&run(vec![old]), &run(vec![new]), config);
    let r = row(&comparison, &id, metric).clone();
    assert_eq!(r.verdict, expected, "{r:#?}");
    assert_eq!(comparison.failed(), expected == Verdict::Regressed);
    r
}

#[track_caller]
fn check(old: Benchmark, new: Benchmark, expected: Verdict) -> Row {
    check_with(old, new, &Config::default(), expected)
}

const SIGMA: f64 = 0.02;

#[test]
fn identical_distribution_is_unchanged() {
    let r = check(
        wall("a", times(1, 100, 1000.0, 0.0, SIGMA)),
        wall("a", times(2, 100, 1000.0, 0.0, SIGMA)),
        Verdict::Unchanged,
    );
    assert!(r.change.unwrap().abs() < 0.02, "{r:?}");
    let (lo, hi) = r.interval.unwrap();
    assert!(lo <= 0.0 && 0.0 <= hi, "{r:?}");
    assert_eq!(r.advisory, None);
    assert_eq!(r.notes, []);
}

#[test]
fn thirty_percent_slower_regresses() {
    let r = check(
        wall("a", times(3, 100, 1000.0, 0.0, SIGMA)),
        wall("a", times(4, 100, 1000.0, 0.30, SIGMA)),
        Verdict::Regressed,
    );
    let change = r.change.unwrap();
    assert!((0.25..=0.35).contains(&change), "{r:?}");
    let (lo, hi) = r.interval.unwrap();
    assert!(lo <= 0.30 && 0.30 <= hi, "{r:?}");
    assert!(lo <= change && change <= hi);
    assert_eq!(r.threshold, 0.10);
}

#[test]
fn thirty_percent_faster_improves() {
    let r = check(
        wall("a", times(5, 100, 1000.0, 0.0, SIGMA)),
        wall("a", times(6, 100, 1000.0, -0.30, SIGMA)),
        Verdict::Improved,
    );
    let (lo, hi) = r.interval.unwrap();
    assert!(lo <= -0.30 && -0.30 <= hi, "{r:?}");
}

#[test]
fn five_percent_under_a_ten_percent_threshold_is_unchanged() {
    // Statistically clear (σ = 2 %, 100 samples) but below the practical threshold.
    let r = check(
        wall("a", times(7, 100, 1000.0, 0.0, SIGMA)),
        wall("a", times(8, 100, 1000.0, 0.05, SIGMA)),
        Verdict::Unchanged,
    );
    assert!((0.03..0.07).contains(&r.change.unwrap()), "{r:?}");
}

#[test]
fn noisy_twelve_percent_with_few_samples_is_inconclusive() {
    // σ = 0.2 and 10 samples a side: the estimate passes 10 %, the interval reaches below it.
    let r = check(
        wall("a", times(9, 10, 1000.0, 0.0, 0.2)),
        wall("a", times(10, 10, 1000.0, 0.12, 0.2)),
        Verdict::Inconclusive,
    );
    assert!(r.change.unwrap() > 0.10, "{r:?}");
    assert!(r.interval.unwrap().0 <= 0.10, "{r:?}");
}

#[test]
fn too_few_samples_for_an_interval_is_never_regressed() {
    // +50 % with three samples a side: no rank interval exists at 1 − 2·0.01.
    let r = check(
        wall("a", times(11, 3, 1000.0, 0.0, SIGMA)),
        wall("a", times(12, 3, 1000.0, 0.50, SIGMA)),
        Verdict::Inconclusive,
    );
    assert_eq!(r.interval, None);
    assert_eq!(
        r.notes,
        [RowNote::TooFewSamples { old: 3, new: 3 }],
        "{r:?}"
    );
    // Within the threshold it stays unchanged, still with the note.
    let r = check(
        wall("a", times(13, 2, 1000.0, 0.0, SIGMA)),
        wall("a", times(14, 2, 1000.0, 0.01, SIGMA)),
        Verdict::Unchanged,
    );
    assert_eq!(
        r.notes,
        [RowNote::TooFewSamples { old: 2, new: 2 }],
        "{r:?}"
    );
}

#[test]
fn instruction_counts_are_exact() {
    let r = check(
        instructions("a", 1_000_000.0),
        instructions("a", 1_010_000.0),
        Verdict::Regressed,
    );
    assert!((r.change.unwrap() - 0.01).abs() < 1e-12);
    assert_eq!(r.interval, Some((r.change.unwrap(), r.change.unwrap())));
    assert_eq!(r.threshold, 0.002);
    check(
        instructions("a", 1_000_000.0),
        instructions("a", 1_001_000.0),
        Verdict::Unchanged,
    );
    check(
        instructions("a", 1_000_000.0),
        instructions("a", 990_000.0),
        Verdict::Improved,
    );
    // Several counts per side: medians.
    check(
        bench("a", Metric::Instructions, vec![100.0, 100.0, 999.0]),
        bench("a", Metric::Instructions, vec![1.0, 100.0, 100.0]),
        Verdict::Unchanged,
    );
}

#[test]
fn new_and_missing_rows_sorted() {
    let old = run(vec![
        instructions("b", 10.0),
        wall("c", times(15, 20, 10.0, 0.0, SIGMA)),
        wall("gone", times(16, 20, 10.0, 0.0, SIGMA)),
    ]);
    let new = run(vec![
        instructions("b", 10.0),
        wall("b", times(17, 20, 10.0, 0.0, SIGMA)),
        wall("c", times(18, 20, 10.0, 0.0, SIGMA)),
        instructions("added", 5.0),
    ]);
    let c = compare(&old, &new, &Config::default());
    let keys: Vec<(&str, Metric, Verdict)> = c
        .rows
        .iter()
        .map(|r| (r.id.as_str(), r.metric, r.verdict))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("added", Metric::Instructions, Verdict::New),
            ("b", Metric::WallTime, Verdict::New),
            ("b", Metric::Instructions, Verdict::Unchanged),
            ("c", Metric::WallTime, Verdict::Unchanged),
            ("gone", Metric::WallTime, Verdict::Missing),
        ]
    );
    let gone = row(&c, "gone", Metric::WallTime);
    assert_eq!(
        (gone.change, gone.interval, gone.threshold),
        (None, None, 0.10)
    );
    assert!(gone.old.is_some() && gone.new.is_none());
    let added = row(&c, "added", Metric::Instructions);
    assert_eq!((added.change, added.threshold), (None, 0.002));
    assert_eq!(added.unit, "instructions");
    assert_eq!(c.mode, Mode::OneRunPerSide);
    assert_eq!(c.notes, vec![ONE_RUN_PER_SIDE_NOTE.to_string()]);
    assert!(!c.failed());
}

#[test]
fn per_benchmark_override_threshold_applies() {
    let config = Config::parse(
        "[[override]]\npattern = \"slow/*\"\nmetric = \"wall_time\"\nthreshold = 0.5\n",
    )
    .unwrap();
    let r = check_with(
        wall("slow/x", times(19, 100, 1000.0, 0.0, SIGMA)),
        wall("slow/x", times(20, 100, 1000.0, 0.30, SIGMA)),
        &config,
        Verdict::Unchanged,
    );
    assert_eq!(r.threshold, 0.5);
    // The default still applies elsewhere.
    check_with(
        wall("fast/x", times(19, 100, 1000.0, 0.0, SIGMA)),
        wall("fast/x", times(20, 100, 1000.0, 0.30, SIGMA)),
        &config,
        Verdict::Regressed,
    );
}

#[test]
fn configured_advisory_rows_report_but_never_fail() {
    let config = Config::parse("[[override]]\npattern = \"re:/peer$\"\nadvisory = true\n").unwrap();
    let old = run(vec![
        wall("g/ours", times(21, 100, 1000.0, 0.0, SIGMA)),
        wall("g/peer", times(23, 100, 1000.0, 0.0, SIGMA)),
    ]);
    let new = run(vec![
        wall("g/ours", times(22, 100, 1000.0, 0.0, SIGMA)),
        wall("g/peer", times(24, 100, 1000.0, 0.5, SIGMA)),
    ]);
    let comparison = compare(&old, &new, &config);
    let peer = row(&comparison, "g/peer", Metric::WallTime);
    assert_eq!(peer.verdict, Verdict::Regressed);
    assert_eq!(peer.advisory, Some(Advisory::Configured));
    assert_eq!(
        row(&comparison, "g/ours", Metric::WallTime).verdict,
        Verdict::Unchanged
    );
    assert!(!comparison.failed());
}

/// A loaded machine slows everything: the controls measure it, and ours is judged relative to
/// them. A real regression on top of the drift is still caught.
#[test]
fn machine_drift_measured_by_controls_is_taken_out() {
    let config =
        Config::parse("[[override]]\npattern = \"re:/peer-\"\nadvisory = true\ncontrol = true\n")
            .unwrap();
    let suite = |seed: u64, drift: f64, ours_extra: f64| {
        run(vec![
            wall(
                "g/ours",
                times(
                    seed,
                    100,
                    1000.0,
                    (1.0 + drift) * (1.0 + ours_extra) - 1.0,
                    SIGMA,
                ),
            ),
            wall("g/peer-a", times(seed + 1, 100, 800.0, drift, SIGMA)),
            wall("g/peer-b", times(seed + 2, 100, 1200.0, drift, SIGMA)),
            wall("g/peer-c", times(seed + 3, 100, 900.0, drift, SIGMA)),
        ])
    };
    let baseline = suite(100, 0.0, 0.0);
    let loaded = compare(&baseline, &suite(200, 0.4, 0.0), &config);
    let ours = row(&loaded, "g/ours", Metric::WallTime);
    assert_eq!(ours.verdict, Verdict::Unchanged, "{ours:?}");
    let [RowNote::RelativeToControls { drift }] = ours.notes[..] else {
        panic!("{ours:?}");
    };
    assert!((drift - 0.395).abs() < 0.0005, "{ours:?}");
    assert!(!loaded.failed());
    assert!(loaded.notes.iter().any(|n| n.contains("3 controls moved")));

    let regressed = compare(&baseline, &suite(300, 0.4, 0.3), &config);
    let ours = row(&regressed, "g/ours", Metric::WallTime);
    assert_eq!(ours.verdict, Verdict::Regressed, "{ours:?}");
    assert!((ours.change.unwrap() - 0.3).abs() < 0.05, "{ours:?}");
    assert!(regressed.failed());
}

/// Controls scattered by bursty load: wall time cannot be judged, so it is advisory; the
/// instruction counts still gate.
#[test]
fn scattered_controls_make_wall_time_advisory_but_counts_still_gate() {
    let config =
        Config::parse("[[override]]\npattern = \"re:/peer-\"\nadvisory = true\ncontrol = true\n")
            .unwrap();
    let mut old = vec![
        wall("g/ours", times(1, 100, 1000.0, 0.0, SIGMA)),
        instructions("g/count", 1000.0),
    ];
    let mut new = vec![
        wall("g/ours", times(2, 100, 1000.0, 0.6, SIGMA)),
        instructions("g/count", 1020.0),
    ];
    for (idx, shift) in [0.0, 0.1, 0.5, 0.9, -0.2, 0.3, 0.7, 0.05, 1.2, 0.4]
        .iter()
        .enumerate()
    {
        let id = format!("h{idx}/peer-{idx}");
        old.push(wall(&id, times(10 + idx as u64, 100, 500.0, 0.0, SIGMA)));
        new.push(wall(&id, times(50 + idx as u64, 100, 500.0, *shift, SIGMA)));
    }
    let comparison = compare(&run(old), &run(new), &config);
    assert!(
        comparison.notes.iter().any(|n| n.contains("not stable")),
        "{:?}",
        comparison.notes
    );
    let ours = row(&comparison, "g/ours", Metric::WallTime);
    assert_eq!(ours.advisory, Some(Advisory::Unstable), "{ours:?}");
    let count = row(&comparison, "g/count", Metric::Instructions);
    assert_eq!(count.verdict, Verdict::Regressed);
    assert_eq!(count.advisory, None);
    assert!(comparison.failed());
}

/// Regression test: a 197-instruction benchmark moved by one instruction (+0.5 %) when an
/// unrelated crate was linked into its binary; that is layout, not a regression.
#[test]
fn a_few_instructions_of_layout_shift_are_unchanged() {
    check(
        instructions("tiny", 197.0),
        instructions("tiny", 198.0),
        Verdict::Unchanged,
    );
    check(
        instructions("tiny", 197.0),
        instructions("tiny", 210.0),
        Verdict::Regressed,
    );
}

fn machine(cpu: &str, host: Option<&str>, boot: Option<&str>) -> Option<Machine> {
    Some(Machine {
        cpu_model: Some(cpu.to_string()),
        cores: Some(2),
        os: Some("linux 6.1.0-18-amd64".to_string()),
        governor: None,
        host_id: host.map(str::to_string),
        boot_id: boot.map(str::to_string),
    })
}

/// Old and new runs of one benchmark, its wall time 50 % slower, its count unchanged.
fn slower_wall_time() -> (Run, Run) {
    let old = run(vec![
        wall("a", times(21, 50, 1000.0, 0.0, SIGMA)),
        instructions("a", 1000.0),
    ]);
    let new = run(vec![
        wall("a", times(22, 50, 1000.0, 0.50, SIGMA)),
        instructions("a", 1000.0),
    ]);
    (old, new)
}

/// Regression test: two machines of one class were measured 2x apart, so the class does not
/// make wall time comparable; only the same host and boot do.
#[test]
fn wall_time_from_another_host_or_boot_is_not_judged() {
    let (mut old, mut new) = slower_wall_time();
    for (old_machine, new_machine, difference) in [
        (
            machine("EPYC 7763", Some("h1"), Some("b1")),
            machine("EPYC 7763", Some("h2"), Some("b1")),
            HostDifference::OtherHost,
        ),
        (
            machine("EPYC 7763", Some("h1"), Some("b1")),
            machine("EPYC 7763", Some("h1"), Some("b2")),
            HostDifference::OtherBoot,
        ),
        (
            machine("EPYC 7763", None, None),
            machine("EPYC 7763", Some("h1"), Some("b1")),
            HostDifference::Unknown,
        ),
        (
            None,
            machine("EPYC 7763", Some("h1"), Some("b1")),
            HostDifference::Unknown,
        ),
    ] {
        old.meta.machine = old_machine;
        new.meta.machine = new_machine;
        let c = compare(&old, &new, &Config::default());
        let w = row(&c, "a", Metric::WallTime);
        assert_eq!(w.advisory, Some(Advisory::WallTimeNotJudged(difference)));
        assert!(w.change.unwrap() > 0.4, "the numbers are kept: {w:?}");
        assert_eq!(row(&c, "a", Metric::Instructions).advisory, None);
        // The reports say it once, from the rows; no run note repeats it.
        assert_eq!(c.notes, [ONE_RUN_PER_SIDE_NOTE], "{difference:?}");
        assert!(!c.failed());
    }
}

#[test]
fn wall_time_of_one_host_and_boot_is_judged() {
    let (mut old, mut new) = slower_wall_time();
    // Different kernel builds and governors: the host and boot ids decide.
    old.meta.machine = machine("EPYC 7763", Some("h1"), Some("b1"));
    new.meta.machine = machine("EPYC 7763", Some("h1"), Some("b1"));
    let new_machine = new.meta.machine.as_mut().unwrap();
    new_machine.os = Some("linux 6.1.0-21-amd64".to_string());
    new_machine.governor = Some("performance".to_string());
    let c = compare(&old, &new, &Config::default());
    assert_eq!(row(&c, "a", Metric::WallTime).advisory, None);
    assert_eq!(row(&c, "a", Metric::WallTime).verdict, Verdict::Regressed);
    assert!(c.failed());
}

/// `diff` of two criterion folders: neither run records a machine, and the user asked for the
/// comparison, so wall time is judged.
#[test]
fn wall_time_of_runs_without_machines_is_judged() {
    let (old, new) = slower_wall_time();
    assert!(old.meta.machine.is_none() && new.meta.machine.is_none());
    let c = compare(&old, &new, &Config::default());
    assert_eq!(row(&c, "a", Metric::WallTime).advisory, None);
    assert!(c.failed());
}

#[test]
fn another_toolchain_makes_instructions_advisory() {
    let mut old = run(vec![
        instructions("a", 1000.0),
        wall("a", times(23, 50, 1000.0, 0.0, SIGMA)),
    ]);
    let mut new = run(vec![
        instructions("a", 1100.0),
        wall("a", times(24, 50, 1000.0, 0.0, SIGMA)),
    ]);
    old.meta.rustc = Some("rustc 1.94.0".to_string());
    new.meta.rustc = Some("rustc 1.95.0".to_string());
    let c = compare(&old, &new, &Config::default());
    let i = row(&c, "a", Metric::Instructions);
    assert_eq!(i.verdict, Verdict::Regressed);
    assert_eq!(
        i.advisory,
        Some(Advisory::Toolchain {
            old: "rustc 1.94.0".to_string(),
            new: "rustc 1.95.0".to_string()
        })
    );
    assert_eq!(row(&c, "a", Metric::WallTime).advisory, None);
    assert_eq!(c.notes.len(), 2);
    assert!(!c.failed());
    // Only one side knows its toolchain: gated.
    old.meta.rustc = None;
    assert!(compare(&old, &new, &Config::default()).failed());
}

/// A suite of `count` benchmarks × 50 samples, old and new from different seeds; benchmark
/// `slow` (if any) is made 40 % slower in the new run.
fn suite(count: usize, slow: Option<usize>) -> Comparison {
    let (mut old, mut new) = (Vec::new(), Vec::new());
    for i in 0..count {
        let id = format!("suite/{i:03}");
        let base = 100.0 * (1 + i % 17) as f64;
        let delta = if slow == Some(i) { 0.40 } else { 0.0 };
        old.push(wall(&id, times(1000 + 2 * i as u64, 50, base, 0.0, SIGMA)));
        new.push(wall(
            &id,
            times(1001 + 2 * i as u64, 50, base, delta, SIGMA),
        ));
    }
    compare(&run(old), &run(new), &Config::default())
}

#[test]
fn a_a_suite_has_no_regression() {
    let c = suite(300, None);
    assert_eq!(c.rows.len(), 300);
    let flagged: Vec<&Row> = c
        .rows
        .iter()
        .filter(|r| r.verdict != Verdict::Unchanged)
        .collect();
    assert!(flagged.is_empty(), "{flagged:#?}");
    assert!(!c.failed());
}

#[test]
fn suite_with_one_slow_benchmark_flags_exactly_it() {
    let c = suite(300, Some(137));
    let regressed: Vec<&str> = c
        .rows
        .iter()
        .filter(|r| r.verdict == Verdict::Regressed)
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(regressed, vec!["suite/137"]);
    assert!(c.failed());
}

#[test]
fn zeros_do_not_panic() {
    let cases: Vec<(Vec<f64>, Vec<f64>)> = vec![
        (vec![0.0; 10], vec![0.0; 10]),
        (vec![0.0; 10], vec![1.0; 10]),
        (vec![1.0; 10], vec![0.0; 10]),
        (vec![0.0, 1.0, 2.0], vec![0.0]),
        (vec![0.0], vec![5.0, 0.0]),
        (vec![1e-300, 1e300], vec![0.0, 1e308]),
    ];
    for (old, new) in cases {
        for metric in [Metric::WallTime, Metric::Instructions] {
            let c = compare(
                &run(vec![bench("z", metric, old.clone())]),
                &run(vec![bench("z", metric, new.clone())]),
                &Config::default(),
            );
            let r = &c.rows[0];
            let change = r.change.unwrap();
            assert!(change.is_finite(), "{r:?}");
            if let Some((lo, hi)) = r.interval {
                assert!(lo.is_finite() && hi.is_finite() && lo <= hi, "{r:?}");
            }
            serde_json::to_string(&c).unwrap();
        }
    }
    // All zero on both sides: no change.
    check(
        wall("z", vec![0.0; 10]),
        wall("z", vec![0.0; 10]),
        Verdict::Unchanged,
    );
    check(
        instructions("z", 0.0),
        instructions("z", 0.0),
        Verdict::Unchanged,
    );
    check(
        instructions("z", 0.0),
        instructions("z", 10.0),
        Verdict::Regressed,
    );
}
