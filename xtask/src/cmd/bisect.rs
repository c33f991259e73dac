//! `cargo xtask bench bisect GOOD BAD --bench ID`: the first commit between GOOD and BAD
//! (first parents) where benchmark ID regressed against GOOD, by the gate's rule.
//!
//! An iai-callgrind benchmark (its id starts with the name of an iai-callgrind bench target)
//! is judged on instruction counts: each probed commit is built and its bench target run once
//! (`target/xtask-bench/bisect/`), its count against GOOD's by `decide::count_verdict`. Any
//! other id is a criterion benchmark, judged on interleaved wall time: a whole `compare` gate
//! between GOOD and the commit (`--all`, the filter anchored on the id).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use git2::Oid;

use crate::bisect::{self, CountProbe, Measurement, Probe, short};
use crate::cmd::ReportOptions;
use crate::cmd::backfill::CommitRunner;
use crate::cmd::compare::{self, CompareOptions};
use crate::config::Config;
use crate::decide::Verdict;
use crate::discover::{self, Harness};
use crate::model::{Machine, Metric};
use crate::{calibration, paired, run, workdir, worktree};

/// Options of `bisect`.
#[derive(Debug, Default, Clone)]
pub struct BisectOptions {
    pub good: String,
    pub bad: String,
    /// The benchmark id.
    pub bench: String,
}

/// Prints the first regressed commit (or the range that holds it); `Ok(false)`: the search
/// succeeded.
pub fn bisect(root: &Path, options: &BisectOptions) -> anyhow::Result<bool> {
    let repo = worktree::open(root)?;
    let (good, _) = worktree::resolve(&repo, &options.good)?;
    let (bad, _) = worktree::resolve(&repo, &options.bad)?;
    let id = options.bench.as_str();
    let good_arg = (good, options.good.as_str());
    let bad_arg = (bad, options.bad.as_str());
    // Before anything is built or locked.
    bisect::check_revisions(&repo, good_arg, bad_arg)?;
    let mut config = Config::load(&root.join("bench.toml"))?;
    let metadata = discover::metadata(root)?;
    let is_iai = discover::bench_targets(&metadata).iter().any(|target| {
        target.harness == Harness::IaiCallgrind && id.starts_with(&format!("{}::", target.name))
    });
    let bisection = if is_iai {
        eprintln!("bisect: {id} is an iai-callgrind benchmark: judged on instruction counts");
        let anchored = format!("^{}$", regex::escape(id));
        let mut runner = CommitRunner::new(root, &repo, "bisect", false, Some(anchored), &config)?;
        let threshold = config.threshold(id, Metric::Instructions);
        let mut probe = CountProbe::new(good, threshold, config.clone(), |commit| {
            let Some((benchmarks, _)) = runner.run(commit)? else {
                return Ok(None);
            };
            let count = benchmarks
                .iter()
                .find(|b| b.id == id && b.metric == Metric::Instructions)
                .map(|b| b.summary.median);
            if count.is_none() {
                eprintln!("bisect: {} has no benchmark {id}", short(commit));
            }
            Ok(count)
        });
        bisect::bisect(&repo, good_arg, bad_arg, id, &mut probe)?
    } else {
        eprintln!(
            "bisect: {id} is not an iai-callgrind benchmark: judged on interleaved wall time (a compare gate per commit)"
        );
        calibration::apply(root, Some(&Machine::detect()), &mut config)?;
        let metadata_target = metadata.target_directory.as_std_path();
        let mut probe = WallProbe {
            root,
            good,
            id,
            config: &config,
            dir: workdir::work_dir(metadata_target).join("bisect"),
        };
        bisect::bisect(&repo, good_arg, bad_arg, id, &mut probe)?
    };
    println!("{}", bisection.report());
    Ok(false)
}

/// Wall time: the gate (`compare GOOD COMMIT --all --filter ^ID$`), its row for the id.
struct WallProbe<'a> {
    root: &'a Path,
    good: Oid,
    id: &'a str,
    /// With this machine's calibration applied, as `compare` applies it.
    config: &'a Config,
    dir: PathBuf,
}

impl Probe for WallProbe<'_> {
    fn measure(&mut self, commit: Oid) -> anyhow::Result<Option<Measurement>> {
        let results = self.dir.join(format!("results-{}.json", short(commit)));
        let options = CompareOptions {
            base: self.good.to_string(),
            head: Some(commit.to_string()),
            filter: Some(format!("^{}$", regex::escape(self.id))),
            all: true,
            results: Some(results.clone()),
            reports: ReportOptions::default(),
            ..CompareOptions::default()
        };
        if let Err(error) = compare::compare(self.root, &options) {
            if run::INTERRUPTED.load(Ordering::SeqCst) {
                return Err(error);
            }
            eprintln!(
                "bisect: {} cannot be compared with the good revision: {error:#}",
                short(commit)
            );
            return Ok(None);
        }
        let comparison = paired::decide(&paired::read(&results)?, self.config);
        let Some(row) = comparison
            .rows
            .iter()
            .find(|row| row.id == self.id && row.metric == Metric::WallTime)
        else {
            eprintln!(
                "bisect: the gate measured no {} at {}",
                self.id,
                short(commit)
            );
            return Ok(None);
        };
        let (Some(old), Some(new), Some(change)) = (row.old, row.new, row.change) else {
            eprintln!(
                "bisect: {} is not on both sides at {}",
                self.id,
                short(commit)
            );
            return Ok(None);
        };
        Ok(Some(Measurement {
            good: old.median,
            value: new.median,
            change,
            regressed: row.verdict == Verdict::Regressed,
            unit: row.unit.clone(),
        }))
    }
}
