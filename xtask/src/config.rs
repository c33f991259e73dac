//! The harness's configuration: `bench.toml` at the workspace root.
//!
//! ```toml
//! alpha = 0.01                 # error rate of the whole suite (Holm-controlled)
//! max_control_spread = 0.20    # controls spreading more than this: the machine was unstable
//!
//! [wall_time]
//! threshold = 0.10             # practical threshold, relative
//!
//! [instructions]
//! threshold = 0.002
//! min_delta = 2                # fewer instructions than this never count (code layout)
//!
//! [[override]]
//! pattern = "cache/*/2t/*"     # a glob on benchmark ids, or "re:<regex>"
//! metric = "wall_time"         # optional: only this metric
//! threshold = 0.30
//!
//! [[override]]
//! pattern = "re:/moka$"
//! advisory = true              # reported, never gated (peers, known-noisy benchmarks)
//! control = true               # code that does not change with ours: measures machine drift
//!
//! [[override]]
//! pattern = "*/2t/*"
//! exclusive = true             # runs several threads: `compare --parallel` runs its sides in turn
//! ```
//! Each setting comes from the last override that matches and sets it. A missing file means
//! the defaults.
//!
//! `compare` (the interleaved gate) has its own section, and benchmarks can be given
//! environment variables (paths starting with `./` or `../` are relative to `bench.toml`, so
//! that checkouts in temporary folders find the same data):
//!
//! ```toml
//! [compare]
//! rounds = 10                  # interleaved rounds per side (reduced to fit the time budget)
//! rerun_rounds = 20            # more rounds for benchmarks the first pass left inconclusive
//! time_budget = 15             # minutes for the whole gate, builds included
//! warm_up_time = 0.3           # criterion settings of one round, seconds
//! measurement_time = 1.0
//! threshold_floor = 0.03       # the lowest wall-time threshold `calibrate` may set
//! statistic = "median"         # a round's value: median, minimum, mean or trimmed_mean
//! parallel = false             # both sides of a round at once, a core each
//! batch = false                # one criterion process per side and executable per round
//! ignore = ["docs/**"]         # changed files that cannot change any benchmark
//!
//! [env]
//! SHARED_DATA = "../shared/data"
//!
//! [[pair]]                     # the same code measured both ways: their verdicts should agree
//! wall_time = "cache/get/hit/ours"
//! instructions = "iai_cache::cache::hit/x1000"
//! ```

use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::model::Metric;
use crate::paired::RoundStatistic;

/// Defaults: wall time must move by 10 % (run-to-run shifts of several percent are normal on
/// a shared machine, DETECTION.md), instructions by 0.2 %.
pub const DEFAULT_WALL_TIME_THRESHOLD: f64 = 0.10;
pub const DEFAULT_INSTRUCTIONS_THRESHOLD: f64 = 0.002;
pub const DEFAULT_ALPHA: f64 = 0.01;
/// Instruction counts that differ by fewer instructions than this are unchanged, whatever the
/// ratio: a change elsewhere in the binary moved this repository's 169- to 351-instruction
/// benchmarks by one instruction (the backfilled history), while a 1 % increase of the
/// smallest is 2 instructions and must be caught (DETECTION.md).
pub const DEFAULT_INSTRUCTIONS_MIN_DELTA: f64 = 2.0;
/// Above this interquartile spread of the controls' log shifts, the machine was not stable
/// during the run. Measured here: 10.7 % between two quiet runs, 29 % with builds running
/// beside the benchmarks.
pub const DEFAULT_MAX_CONTROL_SPREAD: f64 = 0.20;

#[derive(Debug, Clone)]
pub struct Config {
    /// The suite-wide error rate, split over the benchmarks by Holm's procedure.
    pub alpha: f64,
    pub wall_time_threshold: f64,
    pub instructions_threshold: f64,
    /// See [`DEFAULT_MAX_CONTROL_SPREAD`].
    pub max_control_spread: f64,
    /// See [`DEFAULT_INSTRUCTIONS_MIN_DELTA`].
    pub instructions_min_delta: f64,
    pub compare: CompareSettings,
    /// Extra environment of every benchmark process, paths resolved.
    pub env: Vec<(std::ffi::OsString, std::ffi::OsString)>,
    /// Wall-time and instruction-count benchmarks that measure the same code.
    pub pairs: Vec<Pair>,
    overrides: Vec<Override>,
    /// Wall-time thresholds of the gate learned by `calibrate` for this machine class; they
    /// win over the configured ones.
    calibrated: std::collections::BTreeMap<String, f64>,
    /// `[history.aliases]`: old benchmark id → new id, so a benchmark renamed on purpose keeps
    /// its history (see `history::apply_aliases`). Never a cycle.
    pub history_aliases: std::collections::BTreeMap<String, String>,
}

/// The interleaved gate's settings (`[compare]`).
#[derive(Debug, Clone, PartialEq)]
pub struct CompareSettings {
    pub rounds: usize,
    pub rerun_rounds: usize,
    /// Seconds for the whole gate, builds included.
    pub time_budget: f64,
    pub warm_up_time: f64,
    pub measurement_time: f64,
    /// The lowest wall-time threshold `calibrate` may give a benchmark.
    pub threshold_floor: f64,
    /// How a round's samples become the round's value.
    pub statistic: RoundStatistic,
    /// Both sides of a round at once, each pinned to a core of its own (benchmarks marked
    /// `exclusive` excepted).
    pub parallel: bool,
    /// One criterion process per side and executable in each round.
    pub batch: bool,
    /// Globs of changed files that cannot change a benchmark (documentation, CI, baselines).
    pub ignore: Vec<String>,
}

/// Changed files that never change what a benchmark measures.
pub const DEFAULT_IGNORE: &[&str] = &[
    "**/*.md",
    "baselines/**",
    ".github/**",
    ".ci/**",
    "LICENSE*",
    ".gitignore",
];

impl Default for CompareSettings {
    fn default() -> Self {
        CompareSettings {
            rounds: 10,
            rerun_rounds: 20,
            time_budget: 15.0 * 60.0,
            warm_up_time: 0.3,
            measurement_time: 1.0,
            threshold_floor: 0.03,
            statistic: RoundStatistic::Median,
            parallel: false,
            batch: false,
            ignore: DEFAULT_IGNORE.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// `[[pair]]`: one wall-time benchmark and one instruction-count benchmark of the same code.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pair {
    pub wall_time: String,
    pub instructions: String,
}

#[derive(Debug, Clone)]
struct Override {
    matcher: Matcher,
    metric: Option<Metric>,
    threshold: Option<f64>,
    advisory: Option<bool>,
    control: Option<bool>,
    /// Needs the whole machine (uses more than one thread): never run beside the other side.
    exclusive: Option<bool>,
}

#[derive(Debug, Clone)]
enum Matcher {
    Glob(globset::GlobMatcher),
    Regex(regex::Regex),
}

impl Default for Config {
    fn default() -> Self {
        Config {
            alpha: DEFAULT_ALPHA,
            wall_time_threshold: DEFAULT_WALL_TIME_THRESHOLD,
            instructions_threshold: DEFAULT_INSTRUCTIONS_THRESHOLD,
            max_control_spread: DEFAULT_MAX_CONTROL_SPREAD,
            instructions_min_delta: DEFAULT_INSTRUCTIONS_MIN_DELTA,
            compare: CompareSettings::default(),
            env: Vec::new(),
            pairs: Vec::new(),
            overrides: Vec::new(),
            calibrated: Default::default(),
            history_aliases: Default::default(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    alpha: Option<f64>,
    max_control_spread: Option<f64>,
    wall_time: Option<MetricSection>,
    instructions: Option<MetricSection>,
    #[serde(default, rename = "override")]
    overrides: Vec<OverrideSection>,
    compare: Option<CompareSection>,
    #[serde(default)]
    env: std::collections::BTreeMap<String, String>,
    #[serde(default, rename = "pair")]
    pairs: Vec<Pair>,
    history: Option<HistorySection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistorySection {
    #[serde(default)]
    aliases: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompareSection {
    rounds: Option<usize>,
    rerun_rounds: Option<usize>,
    /// Minutes.
    time_budget: Option<f64>,
    warm_up_time: Option<f64>,
    measurement_time: Option<f64>,
    threshold_floor: Option<f64>,
    statistic: Option<String>,
    parallel: Option<bool>,
    batch: Option<bool>,
    ignore: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricSection {
    threshold: Option<f64>,
    /// Instructions only: the smallest absolute change that counts.
    min_delta: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideSection {
    pattern: String,
    metric: Option<Metric>,
    threshold: Option<f64>,
    advisory: Option<bool>,
    control: Option<bool>,
    /// Needs the whole machine (uses more than one thread): never run beside the other side.
    exclusive: Option<bool>,
}

/// Refuses alias maps that would lose history: an empty id, a rename to itself, or a cycle.
fn check_aliases(
    aliases: std::collections::BTreeMap<String, String>,
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    for (old, new) in &aliases {
        if old.is_empty() || new.is_empty() {
            bail!("[history.aliases] has an empty benchmark id; give the old and the new id");
        }
        let mut seen = std::collections::BTreeSet::from([old.as_str()]);
        let mut next = new.as_str();
        while let Some(further) = aliases.get(next) {
            if !seen.insert(next) {
                bail!(
                    "[history.aliases] renames {old:?} in a cycle through {next:?}; each id must end at one current id"
                );
            }
            next = further;
        }
    }
    Ok(aliases)
}

impl Config {
    /// Reads `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config::default());
            }
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        let mut config = Config::parse(&text)
            .with_context(|| format!("invalid configuration in {}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for (_, value) in &mut config.env {
            let text = value.to_string_lossy();
            if text.starts_with("./") || text.starts_with("../") {
                *value = std::path::absolute(dir.join(&*text))
                    .unwrap_or_else(|_| dir.join(&*text))
                    .into_os_string();
            }
        }
        Ok(config)
    }

    /// Parses the TOML text of a configuration file.
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let file: File = toml::from_str(text)?;
        let mut config = Config::default();
        if let Some(history) = file.history {
            config.history_aliases = check_aliases(history.aliases)?;
        }
        if let Some(alpha) = file.alpha {
            if !(alpha > 0.0 && alpha < 1.0) {
                bail!("alpha must be between 0 and 1, got {alpha}");
            }
            config.alpha = alpha;
        }
        if let Some(spread) = file.max_control_spread {
            config.max_control_spread = check_threshold(spread)?;
        }
        if let Some(section) = &file.wall_time
            && section.min_delta.is_some()
        {
            bail!("min_delta applies to [instructions] only");
        }
        if let Some(threshold) = file.wall_time.and_then(|section| section.threshold) {
            config.wall_time_threshold = check_threshold(threshold)?;
        }
        if let Some(section) = file.instructions {
            if let Some(threshold) = section.threshold {
                config.instructions_threshold = check_threshold(threshold)?;
            }
            if let Some(min_delta) = section.min_delta {
                config.instructions_min_delta = check_threshold(min_delta)?;
            }
        }
        if let Some(section) = file.compare {
            let c = &mut config.compare;
            if let Some(rounds) = section.rounds {
                if rounds < 5 {
                    bail!(
                        "[compare] rounds must be at least 5 (fewer cannot reach significance), got {rounds}"
                    );
                }
                c.rounds = rounds;
            }
            if let Some(rounds) = section.rerun_rounds {
                c.rerun_rounds = rounds;
            }
            for (name, value, slot) in [
                (
                    "time_budget",
                    section.time_budget.map(|m| m * 60.0),
                    &mut c.time_budget,
                ),
                ("warm_up_time", section.warm_up_time, &mut c.warm_up_time),
                (
                    "measurement_time",
                    section.measurement_time,
                    &mut c.measurement_time,
                ),
                (
                    "threshold_floor",
                    section.threshold_floor,
                    &mut c.threshold_floor,
                ),
            ] {
                if let Some(value) = value {
                    if !(value.is_finite() && value > 0.0) {
                        bail!("[compare] {name} must be a positive number, got {value}");
                    }
                    *slot = value;
                }
            }
            if let Some(statistic) = section.statistic {
                c.statistic = statistic
                    .parse()
                    .map_err(|e| anyhow::anyhow!("[compare] statistic: {e}"))?;
            }
            c.parallel = section.parallel.unwrap_or(c.parallel);
            c.batch = section.batch.unwrap_or(c.batch);
            if let Some(ignore) = section.ignore {
                for glob in &ignore {
                    globset::Glob::new(glob)
                        .with_context(|| format!("bad glob in [compare] ignore: {glob:?}"))?;
                }
                c.ignore = ignore;
            }
        }
        config.env = file
            .env
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        config.pairs = file.pairs;
        for section in file.overrides {
            let matcher = match section.pattern.strip_prefix("re:") {
                Some(pattern) => Matcher::Regex(
                    regex::Regex::new(pattern)
                        .with_context(|| format!("bad regex in override {:?}", section.pattern))?,
                ),
                None => Matcher::Glob(
                    globset::GlobBuilder::new(&section.pattern)
                        .literal_separator(false)
                        .build()
                        .with_context(|| format!("bad glob in override {:?}", section.pattern))?
                        .compile_matcher(),
                ),
            };
            if section.threshold.is_none()
                && section.advisory.is_none()
                && section.control.is_none()
                && section.exclusive.is_none()
            {
                bail!(
                    "override {:?} sets nothing: give it a threshold, advisory, control or exclusive",
                    section.pattern
                );
            }
            config.overrides.push(Override {
                matcher,
                metric: section.metric,
                threshold: section.threshold.map(check_threshold).transpose()?,
                advisory: section.advisory,
                control: section.control,
                exclusive: section.exclusive,
            });
        }
        Ok(config)
    }

    /// The practical threshold for one benchmark: the last matching override, or the
    /// metric's default.
    /// The threshold that applies: the calibrated one where `calibrate` learned one, else the
    /// configured one.
    pub fn threshold(&self, id: &str, metric: Metric) -> f64 {
        match (metric, self.calibrated.get(id)) {
            (Metric::WallTime, Some(&threshold)) => threshold,
            _ => self.configured_threshold(id, metric),
        }
    }

    /// The threshold `bench.toml` gives, whatever the calibration says.
    pub fn configured_threshold(&self, id: &str, metric: Metric) -> f64 {
        self.matching(id, metric)
            .find_map(|o| o.threshold)
            .unwrap_or(match metric {
                Metric::WallTime => self.wall_time_threshold,
                Metric::Instructions => self.instructions_threshold,
            })
    }

    /// Sets a benchmark's calibrated wall-time threshold.
    pub fn calibrate(&mut self, id: &str, threshold: f64) {
        self.calibrated.insert(id.to_string(), threshold);
    }

    /// Whether a benchmark is reported but never gated (`advisory = true` in an override).
    pub fn is_advisory(&self, id: &str, metric: Metric) -> bool {
        self.matching(id, metric)
            .find_map(|o| o.advisory)
            .unwrap_or(false)
    }

    /// Whether a benchmark is a control (`control = true`): code that does not change with the
    /// workspace's (a peer crate, say), whose shift between two runs measures the machine's
    /// drift rather than a change of ours.
    pub fn is_control(&self, id: &str, metric: Metric) -> bool {
        self.matching(id, metric)
            .find_map(|o| o.control)
            .unwrap_or(false)
    }

    /// Whether a wall-time benchmark needs the whole machine (`exclusive = true`: it runs more
    /// than one thread), so that `compare --parallel` runs its sides one after the other.
    pub fn is_exclusive(&self, id: &str) -> bool {
        self.matching(id, Metric::WallTime)
            .find_map(|o| o.exclusive)
            .unwrap_or(false)
    }

    /// The overrides that apply to a benchmark, last first.
    fn matching(&self, id: &str, metric: Metric) -> impl Iterator<Item = &Override> {
        self.overrides
            .iter()
            .rev()
            .filter(move |o| o.metric.is_none_or(|m| m == metric) && o.matcher.is_match(id))
    }

    /// Overrides every default threshold (the `--threshold` flag), keeping per-benchmark ones.
    pub fn with_threshold(mut self, threshold: f64) -> Config {
        self.wall_time_threshold = threshold;
        self.instructions_threshold = threshold;
        self
    }
}

impl Matcher {
    fn is_match(&self, id: &str) -> bool {
        match self {
            Matcher::Glob(glob) => glob.is_match(id),
            Matcher::Regex(regex) => regex.is_match(id),
        }
    }
}

fn check_threshold(threshold: f64) -> anyhow::Result<f64> {
    if !(threshold.is_finite() && threshold >= 0.0) {
        bail!("a threshold must be a non-negative fraction (0.05 = 5 %), got {threshold}");
    }
    Ok(threshold)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_aliases_are_read_and_cycles_refused() {
        let config = Config::parse(
            "[history.aliases]\n\"cache/get/old\" = \"cache/get/mid\"\n\"cache/get/mid\" = \"cache/get/new\"\n",
        )
        .unwrap();
        assert_eq!(config.history_aliases.len(), 2);
        assert_eq!(config.history_aliases["cache/get/old"], "cache/get/mid");
        let cycle = Config::parse("[history.aliases]\na = \"b\"\nb = \"a\"\n").unwrap_err();
        assert!(format!("{cycle:#}").contains("cycle"), "{cycle:#}");
        let to_itself = Config::parse("[history.aliases]\na = \"a\"\n").unwrap_err();
        assert!(format!("{to_itself:#}").contains("cycle"), "{to_itself:#}");
    }

    #[test]
    fn compare_section_env_and_pairs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bench.toml");
        std::fs::write(
            &path,
            "[compare]\nrounds = 6\ntime_budget = 2\n[env]\nDATA = \"../data\"\nPLAIN = \"x\"\n\
             [[pair]]\nwall_time = \"a/b\"\ninstructions = \"iai::a\"\n",
        )
        .unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.compare.rounds, 6);
        assert_eq!(config.compare.time_budget, 120.0);
        assert_eq!(config.compare.rerun_rounds, 20);
        let env: Vec<(String, String)> = config
            .env
            .iter()
            .map(|(k, v)| {
                (
                    k.clone().into_string().unwrap(),
                    v.clone().into_string().unwrap(),
                )
            })
            .collect();
        assert_eq!(env[0].0, "DATA");
        assert!(
            env[0].1.starts_with(dir.path().to_str().unwrap()),
            "{env:?}"
        );
        assert!(env[0].1.ends_with("../data"), "{env:?}");
        assert_eq!(env[1], ("PLAIN".to_string(), "x".to_string()));
        assert_eq!(config.pairs[0].instructions, "iai::a");
        let error = format!("{:#}", Config::parse("[compare]\nrounds = 2").unwrap_err());
        assert!(error.contains("at least 5"), "{error}");
        let error = format!(
            "{:#}",
            Config::parse("[compare]\nmeasurement_time = -1").unwrap_err()
        );
        assert!(error.contains("measurement_time"), "{error}");
        assert_eq!(config.compare.statistic, RoundStatistic::Median);
        assert!(!config.compare.parallel && !config.compare.batch);
        let design =
            Config::parse("[compare]\nstatistic = \"minimum\"\nparallel = true\nbatch = true")
                .unwrap();
        assert_eq!(design.compare.statistic, RoundStatistic::Minimum);
        assert!(design.compare.parallel && design.compare.batch);
        let error = format!(
            "{:#}",
            Config::parse("[compare]\nstatistic = \"mode\"").unwrap_err()
        );
        assert!(
            error.contains("statistic") && error.contains("minimum"),
            "{error}"
        );
    }

    fn check(toml: &str, id: &str, metric: Metric, expected: f64) {
        let config = Config::parse(toml).unwrap();
        assert_eq!(config.threshold(id, metric), expected, "{id} {metric:?}");
    }

    #[test]
    fn defaults_without_a_file() {
        check("", "a/b", Metric::WallTime, DEFAULT_WALL_TIME_THRESHOLD);
        check(
            "",
            "a/b",
            Metric::Instructions,
            DEFAULT_INSTRUCTIONS_THRESHOLD,
        );
        let config = Config::load(Path::new("/nonexistent/bench.toml")).unwrap();
        assert_eq!(config.alpha, DEFAULT_ALPHA);
    }

    #[test]
    fn overrides_by_glob_regex_and_metric_last_wins() {
        let toml = r#"
            [wall_time]
            threshold = 0.05
            [[override]]
            pattern = "cache/*/2t/*"
            threshold = 0.3
            [[override]]
            pattern = "re:^cache/get/.*/moka$"
            metric = "wall_time"
            threshold = 0.5
        "#;
        check(toml, "cache/get/zipf-1.0/2t/ours", Metric::WallTime, 0.3);
        check(toml, "cache/get/zipf-1.0/2t/moka", Metric::WallTime, 0.5);
        check(
            toml,
            "cache/get/zipf-1.0/2t/moka",
            Metric::Instructions,
            0.3,
        );
        check(toml, "cache/get/zipf-1.0/1t/ours", Metric::WallTime, 0.05);
    }

    #[test]
    fn advisory_overrides_keep_thresholds_from_others() {
        let toml = r#"
            [[override]]
            pattern = "cache/*"
            threshold = 0.2
            [[override]]
            pattern = "re:/moka$"
            advisory = true
        "#;
        let config = Config::parse(toml).unwrap();
        assert!(config.is_advisory("cache/get/moka", Metric::WallTime));
        assert!(!config.is_advisory("cache/get/ours", Metric::WallTime));
        assert_eq!(config.threshold("cache/get/moka", Metric::WallTime), 0.2);
        assert!(!config.is_control("cache/get/moka", Metric::WallTime));
        let config = Config::parse("[[override]]\npattern = \"*/moka\"\ncontrol = true").unwrap();
        assert!(config.is_control("cache/get/moka", Metric::WallTime));
        let config = Config::parse("[[override]]\npattern = \"*/2t/*\"\nexclusive = true").unwrap();
        assert!(config.is_exclusive("cache/get/2t/ours"));
        assert!(!config.is_exclusive("cache/get/1t/ours"));
        assert!(!config.is_advisory("cache/get/moka", Metric::WallTime));
    }

    #[test]
    fn bad_files_are_refused() {
        assert!(Config::parse("alpha = 2").is_err());
        assert!(Config::parse("[wall_time]\nthreshold = -1").is_err());
        assert!(Config::parse("[[override]]\npattern = \"re:(\"\nthreshold = 0.1").is_err());
        assert!(Config::parse("unknown = 1").is_err());
        assert!(Config::parse("[[override]]\npattern = \"x\"").is_err());
        assert!(Config::parse("alpha = ").is_err());
    }
}
