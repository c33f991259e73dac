//! `bisect`: the first commit on a first-parent path where one benchmark regressed, by binary
//! search over its commits, judged by the gate's rule against the known-good commit.
//!
//! Measuring is a [`Probe`], so the search runs as well on a test repository whose "benchmark"
//! is a file as on real builds: `cmd/bisect.rs` gives instruction counts (a [`CountProbe`] over
//! one iai-callgrind benchmark per commit, judged by [`decide::count_verdict`]) or interleaved
//! wall time (`compare` between GOOD and the commit). A commit that does not build is skipped
//! as `git bisect skip` does: a neighbour is tried instead, and when only skipped commits are
//! left between the last good and the first bad one, the answer is that range.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use git2::{Oid, Repository};

use crate::config::Config;
use crate::decide::{self, Verdict};

/// One commit measured against GOOD.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// GOOD's value (instructions, or the wall time of GOOD's side in nanoseconds).
    pub good: f64,
    /// The commit's value, in the same unit.
    pub value: f64,
    /// The relative change against GOOD (0.024 = 2.4 % more), as the rule estimated it.
    pub change: f64,
    /// Whether the gate's rule calls it a regression.
    pub regressed: bool,
    /// `instructions` or `ns`.
    pub unit: String,
}

/// Measures one benchmark at a commit against GOOD.
pub trait Probe {
    /// The benchmark at `commit`, judged against GOOD; `None` when the commit cannot be
    /// measured (it does not build, or it lacks the benchmark): the search skips it.
    fn measure(&mut self, commit: Oid) -> anyhow::Result<Option<Measurement>>;
}

/// Instruction counts: `count` reads the benchmark's count at a commit (`None`: it does not
/// build); each commit is judged against GOOD's count with [`decide::count_verdict`] and the
/// configured threshold, as the gate judges counts.
pub struct CountProbe<F> {
    good: Oid,
    good_count: Option<f64>,
    threshold: f64,
    config: Config,
    count: F,
}

impl<F> std::fmt::Debug for CountProbe<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountProbe")
            .field("good", &self.good)
            .field("good_count", &self.good_count)
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

impl<F: FnMut(Oid) -> anyhow::Result<Option<f64>>> CountProbe<F> {
    pub fn new(good: Oid, threshold: f64, config: Config, count: F) -> CountProbe<F> {
        CountProbe {
            good,
            good_count: None,
            threshold,
            config,
            count,
        }
    }
}

impl<F: FnMut(Oid) -> anyhow::Result<Option<f64>>> Probe for CountProbe<F> {
    fn measure(&mut self, commit: Oid) -> anyhow::Result<Option<Measurement>> {
        let good = match self.good_count {
            Some(good) => good,
            None => {
                let Some(good) = (self.count)(self.good)? else {
                    bail!(
                        "the good revision {} cannot be measured (it does not build or lacks the benchmark); pass a GOOD that builds",
                        short(self.good)
                    )
                };
                self.good_count = Some(good);
                good
            }
        };
        let Some(value) = (if commit == self.good {
            Some(good)
        } else {
            (self.count)(commit)?
        }) else {
            return Ok(None);
        };
        let (change, verdict) = decide::count_verdict(good, value, self.threshold, &self.config);
        Ok(Some(Measurement {
            good,
            value,
            change,
            regressed: verdict == Verdict::Regressed,
            unit: "instructions".to_string(),
        }))
    }
}

/// A commit as the report names it.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    pub oid: Oid,
    pub subject: String,
}

impl Commit {
    fn of(repo: &Repository, oid: Oid) -> anyhow::Result<Commit> {
        let commit = repo
            .find_commit(oid)
            .with_context(|| format!("commit {oid} is not in the repository"))?;
        Ok(Commit {
            oid,
            subject: commit.summary().unwrap_or("").to_string(),
        })
    }

    /// `abc1234 "subject"`.
    pub fn label(&self) -> String {
        format!("{} {:?}", short(self.oid), self.subject)
    }
}

/// What the search found.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The first regressed commit: its parent on the path measured good.
    Found {
        commit: Commit,
        measurement: Measurement,
    },
    /// Commits that could not be measured stand between the last good commit and the first
    /// regressed one: the regression came in one of `candidates` (oldest first; all but the
    /// last were skipped, the last is `first_bad`).
    Ambiguous {
        last_good: Commit,
        candidates: Vec<Commit>,
        first_bad: Commit,
        measurement: Measurement,
    },
}

/// The search's result: the outcome and every commit it measured, in the order measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Bisection {
    pub id: String,
    pub outcome: Outcome,
    /// `None`: skipped (does not build).
    pub measured: Vec<(Commit, Option<Measurement>)>,
}

impl Bisection {
    /// The result in a few lines: `first regressed: abc1234 "subject" ID 125,073 → 128,073
    /// (+2.4 %)`, or the range that holds it.
    pub fn report(&self) -> String {
        match &self.outcome {
            Outcome::Found {
                commit,
                measurement,
            } => format!(
                "first regressed: {} {} {}",
                commit.label(),
                self.id,
                describe(measurement)
            ),
            Outcome::Ambiguous {
                last_good,
                candidates,
                first_bad,
                measurement,
            } => {
                let mut text = format!(
                    "first regressed: one of {} commits after {} (the last good one); the others do not build, so bisect cannot tell them apart:",
                    candidates.len(),
                    last_good.label()
                );
                for candidate in candidates {
                    if candidate == first_bad {
                        text.push_str(&format!(
                            "\n  {} {} {}",
                            candidate.label(),
                            self.id,
                            describe(measurement)
                        ));
                    } else {
                        text.push_str(&format!("\n  {} (does not build)", candidate.label()));
                    }
                }
                text
            }
        }
    }
}

/// `125,073 → 128,073 (+2.4 %)`.
pub fn describe(measurement: &Measurement) -> String {
    format!(
        "{} → {} ({:+.1} %)",
        format_value(measurement.good, &measurement.unit),
        format_value(measurement.value, &measurement.unit),
        measurement.change * 100.0
    )
}

/// Instructions with thousands separators, nanoseconds in a readable unit.
fn format_value(value: f64, unit: &str) -> String {
    if unit == "ns" {
        return match value {
            v if v >= 1e9 => format!("{:.3} s", v / 1e9),
            v if v >= 1e6 => format!("{:.3} ms", v / 1e6),
            v if v >= 1e3 => format!("{:.3} µs", v / 1e3),
            v => format!("{v:.2} ns"),
        };
    }
    let digits = format!("{:.0}", value.abs());
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if value < 0.0 {
        grouped.insert(0, '-');
    }
    grouped
}

/// The first seven hex digits of a commit.
pub fn short(oid: Oid) -> String {
    oid.to_string()[..7].to_string()
}

/// The commits reachable from `to` by first parents and not reachable from `from` by any path
/// (git's `from..to` with `--first-parent`), oldest first; without `from`, every first-parent
/// ancestor of `to` back to the root commit.
pub fn first_parent_range(
    repo: &Repository,
    from: Option<Oid>,
    to: Oid,
) -> anyhow::Result<Vec<Oid>> {
    let mut commits = Vec::new();
    let mut next = Some(to);
    while let Some(oid) = next {
        if let Some(from) = from
            && (oid == from || repo.graph_descendant_of(from, oid)?)
        {
            // Reachable from `from`, and so is every ancestor of it.
            break;
        }
        commits.push(oid);
        let commit = repo.find_commit(oid)?;
        next = commit.parent_ids().next();
    }
    commits.reverse();
    Ok(commits)
}

/// Refuses a GOOD that is BAD or is not an ancestor of it (the revisions named as given), before
/// anything is built.
pub fn check_revisions(
    repo: &Repository,
    (good, good_name): (Oid, &str),
    (bad, bad_name): (Oid, &str),
) -> anyhow::Result<()> {
    if good == bad {
        bail!(
            "good {good_name} and bad {bad_name} are the same commit {}; pass an older GOOD",
            short(good)
        );
    }
    if !repo.graph_descendant_of(bad, good)? {
        bail!(
            "good {good_name} ({}) is not an ancestor of bad {bad_name} ({}); pass the older revision first: bisect GOOD BAD",
            short(good),
            short(bad)
        );
    }
    Ok(())
}

/// Searches the first-parent path from `good` (exclusive) to `bad` (inclusive) for the first
/// commit where `probe` says the benchmark `id` regressed.
///
/// The revisions are named as the user gave them (`good_name`, `bad_name`) in errors. It is an
/// error when GOOD is not an ancestor of BAD, when BAD cannot be measured, and when BAD did not
/// regress.
pub fn bisect(
    repo: &Repository,
    (good, good_name): (Oid, &str),
    (bad, bad_name): (Oid, &str),
    id: &str,
    probe: &mut dyn Probe,
) -> anyhow::Result<Bisection> {
    check_revisions(repo, (good, good_name), (bad, bad_name))?;
    let path = first_parent_range(repo, Some(good), bad)?;
    let mut measured: Vec<(Commit, Option<Measurement>)> = Vec::new();
    let mut results: BTreeMap<usize, Option<Measurement>> = BTreeMap::new();
    let mut measure = |index: usize,
                       measured: &mut Vec<(Commit, Option<Measurement>)>|
     -> anyhow::Result<Option<Measurement>> {
        let oid = path[index];
        eprintln!("bisect: measuring {}", Commit::of(repo, oid)?.label());
        let result = probe.measure(oid)?;
        match &result {
            Some(measurement) => eprintln!(
                "bisect: {} {id} {}: {}",
                short(oid),
                describe(measurement),
                if measurement.regressed {
                    "regressed"
                } else {
                    "good"
                }
            ),
            None => eprintln!("bisect: {} cannot be measured; skipped", short(oid)),
        }
        measured.push((Commit::of(repo, oid)?, result.clone()));
        Ok(result)
    };

    // Index `path.len() - 1` is BAD; "index -1" is GOOD, known good.
    let last = path.len() - 1;
    let bad_measurement = measure(last, &mut measured)?;
    let Some(bad_measurement) = bad_measurement else {
        bail!(
            "bad {bad_name} ({}) cannot be measured (it does not build or lacks {id}); pass a BAD that builds",
            short(bad)
        )
    };
    if !bad_measurement.regressed {
        bail!(
            "{id} did not regress at bad {bad_name} ({}) against good {good_name} ({}): {}; nothing to bisect, check the revisions",
            short(bad),
            short(good),
            describe(&bad_measurement)
        );
    }
    results.insert(last, Some(bad_measurement));

    // `good_end`: the number of path commits known good (the commit before `path[good_end]`
    // is good); `bad_at`: the first commit known regressed. The answer is in
    // `path[good_end..=bad_at]`.
    let mut good_end = 0;
    let mut bad_at = last;
    loop {
        // Untried commits strictly between, nearest the middle first.
        let middle = (good_end + bad_at) / 2;
        let candidate = (good_end..bad_at)
            .filter(|index| !results.contains_key(index))
            .min_by_key(|index| (index.abs_diff(middle), *index));
        let Some(index) = candidate else {
            break;
        };
        eprintln!(
            "bisect: the first regressed commit is one of {} (of {} on the path)",
            bad_at + 1 - good_end,
            path.len()
        );
        let result = measure(index, &mut measured)?;
        match &result {
            Some(measurement) if measurement.regressed => bad_at = index,
            Some(_) => good_end = index + 1,
            None => {}
        }
        results.insert(index, result);
    }
    let measurement = results[&bad_at]
        .clone()
        .expect("a regressed commit was measured");
    let outcome = if good_end == bad_at {
        Outcome::Found {
            commit: Commit::of(repo, path[bad_at])?,
            measurement,
        }
    } else {
        let last_good = match good_end {
            0 => good,
            n => path[n - 1],
        };
        Outcome::Ambiguous {
            last_good: Commit::of(repo, last_good)?,
            candidates: path[good_end..=bad_at]
                .iter()
                .map(|&oid| Commit::of(repo, oid))
                .collect::<anyhow::Result<_>>()?,
            first_bad: Commit::of(repo, path[bad_at])?,
            measurement,
        }
    };
    Ok(Bisection {
        id: id.to_string(),
        outcome,
        measured,
    })
}

#[cfg(test)]
pub(crate) mod tests;
