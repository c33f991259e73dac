//! `cargo xtask bench evaluate FILES...`: how trustworthy the gate is, judged on recorded A/A
//! gates (see `evaluate.rs`). Seconds, no benchmark runs: the mode CI can afford.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cmd::write_report;
use crate::config::Config;
use crate::evaluate::{self, Design, Pool};
use crate::model::Metric;
use crate::paired::{self, RoundStatistic};

#[derive(Debug, Clone)]
pub struct EvaluateOptions {
    pub files: Vec<PathBuf>,
    /// Resampled gates for the false-alarm rate, and per benchmark and δ for power.
    pub gates: usize,
    pub seed: u64,
    /// The round statistic of the resampled gates (bench.toml's [compare] statistic when
    /// `None`).
    pub statistic: Option<RoundStatistic>,
    /// Judge with the thresholds of the machine's calibration, as the gate would.
    pub calibrated: bool,
    pub markdown: Option<PathBuf>,
    pub json: Option<PathBuf>,
}

/// The slowdowns injected for power.
pub const DELTAS: [f64; 3] = [0.02, 0.05, 0.10];

#[derive(Debug, Serialize)]
struct Evaluation {
    files: Vec<String>,
    thresholds: String,
    independent_gates: evaluate::Rate,
    statistic: RoundStatistic,
    rounds: usize,
    rerun_rounds: usize,
    noise: Vec<evaluate::Noise>,
    false_alarms: evaluate::FalseAlarms,
    power: Vec<evaluate::Power>,
    criterion_rule: evaluate::OneRunRule,
    stored_baseline_rule: evaluate::OneRunRule,
    instructions: evaluate::Counts,
}

/// Prints the evaluation; `Ok(true)` when the recorded A/A gates themselves failed (a false
/// alarm of the real gate).
pub fn evaluate(root: &Path, options: &EvaluateOptions) -> anyhow::Result<bool> {
    let mut config = Config::load(&root.join("bench.toml"))?;
    let mut files = Vec::new();
    for path in &options.files {
        files.push((path.display().to_string(), paired::read(path)?));
    }
    // The thresholds the gate would use on the machine the gates ran on.
    let thresholds = match files.first() {
        Some((_, first)) if options.calibrated => {
            crate::calibration::apply(root, first.machine.as_ref(), &mut config)?
        }
        _ => "configured wall-time thresholds (bench.toml)".to_string(),
    };
    if files.is_empty() {
        anyhow::bail!(
            "evaluate needs results files of A/A gates: `cargo xtask bench compare HEAD HEAD --all --keep-samples --results aa-1.json`"
        );
    }
    let pools = evaluate::pools(&files)?;
    let design = Design {
        rounds: config.compare.rounds,
        rerun_rounds: config.compare.rerun_rounds,
        statistic: options.statistic.unwrap_or(config.compare.statistic),
    };
    // The recorded gates, decided as they ran: independent comparisons.
    let independent = files
        .iter()
        .filter(|(_, r)| paired::decide(r, &config).failed())
        .count();
    let group_of = |id: &str| {
        format!(
            "threshold {:.0} %",
            config.threshold(id, Metric::WallTime) * 100.0
        )
    };
    let evaluation = Evaluation {
        files: files.iter().map(|(name, _)| name.clone()).collect(),
        thresholds,
        independent_gates: evaluate::Rate::new(independent, files.len()),
        statistic: design.statistic,
        rounds: design.rounds,
        rerun_rounds: design.rerun_rounds,
        noise: evaluate::noise(&pools),
        false_alarms: evaluate::false_alarms(&pools, design, &config, options.gates, options.seed),
        power: evaluate::power(
            &pools,
            design,
            &config,
            &DELTAS,
            options.gates.div_ceil(pools.len().max(1)).max(20),
            options.seed ^ 0x9e37,
            &group_of,
        ),
        criterion_rule: evaluate::criterion_rule(&files, &config, options.seed),
        stored_baseline_rule: evaluate::stored_baseline_rule(&files, &config),
        instructions: evaluate::counts(&files, &config, 0.01),
    };
    let markdown = markdown(&evaluation, &pools, &config, &group_of);
    print!("{markdown}");
    if let Some(path) = &options.markdown {
        write_report(path, &markdown)?;
    }
    if let Some(path) = &options.json {
        write_report(
            path,
            &serde_json::to_string_pretty(&evaluation).expect("the evaluation serialises"),
        )?;
    }
    Ok(independent > 0)
}

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

fn rate(r: &evaluate::Rate) -> String {
    format!(
        "{} of {} ({}, 95 % CI {}–{})",
        r.hits,
        r.n,
        pct(r.share()),
        pct(r.low),
        pct(r.high)
    )
}

fn markdown(
    e: &Evaluation,
    pools: &[Pool],
    config: &Config,
    group_of: &dyn Fn(&str) -> String,
) -> String {
    let mut out = String::new();
    let rounds: usize = pools.iter().map(|p| p.rounds.len()).sum();
    let _ = writeln!(out, "## How trustworthy is the gate\n");
    let _ = writeln!(
        out,
        "{} recorded A/A gates ({} rounds of {} wall-time benchmarks); resampled gates of {} rounds (up to {} confirmation rounds), round statistic: {}; {}.\n",
        e.files.len(),
        rounds,
        pools.len(),
        e.rounds,
        e.rerun_rounds,
        e.statistic.name(),
        e.thresholds
    );
    let _ = writeln!(
        out,
        "| rule, on the same A/A data | gates failed | benchmark verdicts `regressed` | worst spurious change |"
    );
    let _ = writeln!(out, "| :-- | :-- | :-- | :-- |");
    let _ = writeln!(
        out,
        "| this gate, the recorded runs (independent) | {} | | |",
        rate(&e.independent_gates)
    );
    let fa = &e.false_alarms;
    let _ = writeln!(
        out,
        "| this gate, resampled from their rounds | {} | {} | |",
        rate(&fa.gates),
        rate(&fa.regressed)
    );
    for rule in [&e.criterion_rule, &e.stored_baseline_rule] {
        let worst = rule
            .worst
            .as_ref()
            .map(|(id, change, (lo, hi))| {
                format!(
                    "{} [{}, {}] `{}`",
                    pct(*change),
                    pct(*lo),
                    pct(*hi),
                    id.replace('|', "\\|")
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| {}: each recorded round | {} | {} | {worst} |",
            rule.rule,
            rate(&rule.gates),
            rate(&rule.regressed)
        );
    }
    let _ = writeln!(
        out,
        "\nResampled A/A gates also said `improved` {} and `inconclusive` {} of the benchmark verdicts (neither fails the gate).\n",
        rate(&fa.improved),
        rate(&fa.inconclusive)
    );

    let _ = writeln!(out, "### Injected slowdowns (resampled gates)\n");
    let _ = writeln!(
        out,
        "| slowdown | benchmarks | caught (`regressed`) | flagged (or `inconclusive`) | bias of the estimate |"
    );
    let _ = writeln!(out, "| --: | :-- | :-- | :-- | --: |");
    for p in &e.power {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:+.1} pp |",
            pct(p.delta),
            p.group,
            rate(&p.caught),
            rate(&p.flagged),
            p.bias * 100.0
        );
    }

    let _ = writeln!(
        out,
        "\n### Noise of the rounds by statistic (standard deviation of the paired log-ratios)\n"
    );
    let _ = writeln!(out, "| benchmarks | statistic | median | worst |");
    let _ = writeln!(out, "| :-- | :-- | --: | --: |");
    let mut groups: BTreeMap<String, Vec<&evaluate::Noise>> = BTreeMap::new();
    for n in &e.noise {
        if !config.is_advisory(&n.id, Metric::WallTime) {
            groups.entry(group_of(&n.id)).or_default().push(n);
        }
    }
    for (group, members) in &groups {
        for (k, statistic) in RoundStatistic::ALL.iter().enumerate() {
            let mut sds: Vec<f64> = members.iter().filter_map(|n| n.std_dev[k]).collect();
            if sds.is_empty() {
                continue;
            }
            sds.sort_by(f64::total_cmp);
            let _ = writeln!(
                out,
                "| {group} ({}) | {} | {} | {} |",
                sds.len(),
                statistic.name(),
                pct(crate::stats::median(&sds)),
                pct(*sds.last().expect("not empty"))
            );
        }
    }
    let c = &e.instructions;
    let _ = writeln!(
        out,
        "\n### Instruction counts\n\nA/A pairs flagged: {}; {} increases caught: {}.",
        rate(&c.aa_flagged),
        pct(c.injected),
        rate(&c.injected_caught)
    );
    out
}
