//! Index recommendations for a recorded workload.
//!
//! The advisor asks the cost model, not heuristics, whether an index would pay:
//!
//! 1. Every workload query is parsed and planned against the catalogue; queries that do
//!    not parse or plan are [skipped](Advice::skipped) with their error (they cannot be
//!    costed, so they neither help nor block a recommendation).
//! 2. Candidates come from what the planner could use, per table of each query:
//!    single-column indexes on every column with an equality, range, join or `ORDER BY`
//!    use; two-column indexes `(e, x)` with `e` an equality or join column and `x` another
//!    such column (equality first, then range or order: the shape a B-tree serves best),
//!    and `(e, x)` covering the table when the query reads only those two columns (an
//!    index-only scan), and the first two `ORDER BY` columns. A candidate whose columns are a prefix of an existing index's
//!    columns is dropped: that index already serves it.
//! 3. Greedy: each round, every remaining candidate is added to the catalogue as a
//!    *hypothetical* index and the queries reading its table are re-planned. The saving
//!    of a candidate is the drop in the workload's estimated cost, each query's plan cost
//!    weighted by its number of calls. A candidate qualifies when its saving is at least
//!    [`min_saving`](AdvisorConfig::min_saving) (default 50 %) of the
//!    [basis](SavingBasis): by default the whole workload's current cost (after the
//!    indexes already recommended), or only the cost of the queries it speeds up. The
//!    qualifying candidate with the largest saving is recommended (ties: fewer columns,
//!    then name) and stays in the catalogue for the next round; the advisor stops when no
//!    candidate qualifies or after [`max_indexes`](AdvisorConfig::max_indexes).
//!
//! Costs are the planner's estimates in its abstract units (see [`crate::plan`]): the
//! advice is as good as the catalogue's statistics.
//!
//! ```
//! use query_plan::recommend::{AdvisorConfig, Workload, recommend};
//! use query_plan::{Catalog, ColumnStats, Table};
//!
//! let mut catalog = Catalog::new();
//! catalog.add_table(
//!     Table::new("orders", 1_000_000)
//!         .column("id", ColumnStats::new().distinct(1_000_000))
//!         .column("customer", ColumnStats::new().distinct(50_000))
//!         .column("total", ColumnStats::new().distinct(10_000)),
//! );
//! let workload = Workload::new([("SELECT total FROM orders WHERE customer = 7", 1_000)]);
//! let advice = recommend(&catalog, &workload, &AdvisorConfig::default());
//! let first = &advice.recommendations[0];
//! assert_eq!(first.index.columns, ["customer", "total"]); // index-only
//! assert!(first.cost_after < first.cost_before / 2.0);
//! println!("{advice}");
//! # Ok::<(), query_plan::Error>(())
//! ```

use std::collections::BTreeSet;
use std::fmt;

use crate::catalog::{Catalog, Index};
use crate::error::Error;
use crate::parse::{Query, parse_query};
use crate::plan::{PlanNode, PlanOptions, indexable_columns, plan_query};
use crate::registry::Registry;

/// One query shape of a workload and how often it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadQuery {
    /// The SQL (literals or `?` placeholders).
    pub sql: String,
    /// How many times it ran (its weight).
    pub calls: u64,
}

/// The queries to optimise for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workload {
    /// The queries, in the order given.
    pub queries: Vec<WorkloadQuery>,
}

impl Workload {
    /// A workload from `(sql, calls)` pairs.
    pub fn new<I, S>(queries: I) -> Self
    where
        I: IntoIterator<Item = (S, u64)>,
        S: Into<String>,
    {
        Workload {
            queries: queries
                .into_iter()
                .map(|(sql, calls)| WorkloadQuery {
                    sql: sql.into(),
                    calls,
                })
                .collect(),
        }
    }

    /// The workload a [`Registry`] observed: each fingerprint's normalised text (literals
    /// are `?`) weighted by its calls. Fingerprints recorded without text are left out.
    pub fn from_registry(registry: &Registry) -> Self {
        Workload {
            queries: registry
                .snapshot()
                .into_iter()
                .filter_map(|s| {
                    Some(WorkloadQuery {
                        sql: s.normalized?.to_string(),
                        calls: s.calls,
                    })
                })
                .collect(),
        }
    }

    /// Adds a query.
    pub fn push(&mut self, sql: impl Into<String>, calls: u64) -> &mut Self {
        self.queries.push(WorkloadQuery {
            sql: sql.into(),
            calls,
        });
        self
    }
}

/// What a candidate's saving is a share of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SavingBasis {
    /// The whole workload's estimated cost (with the indexes recommended so far).
    #[default]
    Workload,
    /// Only the cost of the queries the index speeds up: recommends an index that halves
    /// the cost of a few queries even when the rest of the workload dominates.
    HelpedQueries,
}

/// Settings of the advisor.
#[derive(Debug, Clone, PartialEq)]
pub struct AdvisorConfig {
    /// The share of the [basis](SavingBasis) an index must save. Default 0.5.
    pub min_saving: f64,
    /// What the saving is a share of. Default [`SavingBasis::Workload`].
    pub basis: SavingBasis,
    /// Try two-column indexes as well as single-column ones. Default `true`.
    pub two_column: bool,
    /// Stop after this many recommendations. Default 10.
    pub max_indexes: usize,
}

impl Default for AdvisorConfig {
    fn default() -> Self {
        AdvisorConfig {
            min_saving: 0.5,
            basis: SavingBasis::Workload,
            two_column: true,
            max_indexes: 10,
        }
    }
}

/// A query that an index speeds up.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryBenefit {
    /// Position in [`Workload::queries`].
    pub query: usize,
    /// Its SQL.
    pub sql: String,
    /// Its calls.
    pub calls: u64,
    /// Estimated cost of one execution without the index (with the earlier
    /// recommendations).
    pub cost_before: f64,
    /// Estimated cost of one execution with it.
    pub cost_after: f64,
}

/// One recommended index.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    /// The index (name `advised_<table>_<columns>`).
    pub index: Index,
    /// `CREATE INDEX ...` for it.
    pub create_sql: String,
    /// The workload's estimated cost (sum of plan cost × calls) before this index, with the
    /// earlier recommendations in place.
    pub cost_before: f64,
    /// The workload's estimated cost with it.
    pub cost_after: f64,
    /// The saving as a share of the configured basis (what was compared with
    /// `min_saving`).
    pub saving: f64,
    /// The queries whose plans use the index and got cheaper, largest saving first.
    pub helped: Vec<QueryBenefit>,
}

/// A workload query the advisor could not cost.
#[derive(Debug, Clone, PartialEq)]
pub struct SkippedQuery {
    /// Position in [`Workload::queries`].
    pub query: usize,
    /// Its SQL.
    pub sql: String,
    /// Why: parse error, unsupported construct, unknown table or column.
    pub error: Error,
}

/// The advisor's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Advice {
    /// Recommended indexes, in the order they were chosen.
    pub recommendations: Vec<Recommendation>,
    /// The workload's estimated cost with the catalogue as given (costed queries only).
    pub cost_before: f64,
    /// With every recommendation added.
    pub cost_after: f64,
    /// Queries that could not be parsed or planned.
    pub skipped: Vec<SkippedQuery>,
    /// How many distinct hypothetical indexes were considered.
    pub candidates: usize,
    /// How many workload queries were costed.
    pub costed: usize,
    /// What each recommendation's [`saving`](Recommendation::saving) is a share of.
    pub basis: SavingBasis,
}

/// A parsed, costed workload query.
struct Costed {
    position: usize,
    query: Query,
    calls: f64,
    /// Tables it reads.
    tables: BTreeSet<String>,
    /// Current estimated cost of one execution.
    cost: f64,
}

/// A hypothetical index: table and key columns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Candidate {
    table: String,
    columns: Vec<String>,
}

impl Candidate {
    fn name(&self) -> String {
        format!("advised_{}_{}", self.table, self.columns.join("_")).replace(['.', ' '], "_")
    }

    fn index(&self) -> Index {
        Index::new(self.name(), self.table.clone(), self.columns.clone())
    }

    /// Whether an existing index already serves this candidate (its columns are a prefix of
    /// the index's columns).
    fn served_by(&self, index: &Index) -> bool {
        index.table == self.table
            && index.predicate.is_none()
            && index.columns.len() >= self.columns.len()
            && index.columns[..self.columns.len()] == self.columns[..]
    }
}

/// One evaluated candidate.
struct Trial {
    saving: f64,
    share: f64,
    /// Per affected query: (index into the costed list, new cost, plan uses the index).
    costs: Vec<(usize, f64, bool)>,
}

/// Recommends indexes for `workload` over `catalog`; see the [module docs](self).
pub fn recommend(catalog: &Catalog, workload: &Workload, config: &AdvisorConfig) -> Advice {
    let mut skipped = Vec::new();
    let mut costed = Vec::new();
    let mut candidates = BTreeSet::new();
    for (position, wq) in workload.queries.iter().enumerate() {
        let planned = parse_query(&wq.sql).and_then(|query| {
            let plan = plan_query(catalog, &query, &PlanOptions::default())?;
            let usage = indexable_columns(catalog, &query)?;
            Ok((query, plan, usage))
        });
        match planned {
            Ok((query, plan, usage)) => {
                for u in &usage {
                    add_candidates(u, config.two_column, &mut candidates);
                }
                costed.push(Costed {
                    position,
                    calls: wq.calls as f64,
                    tables: usage.iter().map(|u| u.table.clone()).collect(),
                    query,
                    cost: plan.cost(),
                });
            }
            Err(error) => skipped.push(SkippedQuery {
                query: position,
                sql: wq.sql.clone(),
                error,
            }),
        }
    }
    let mut candidates: Vec<Candidate> = candidates
        .into_iter()
        .filter(|c| !catalog.indexes().iter().any(|i| c.served_by(i)))
        .collect();
    let considered = candidates.len();
    let total = |costed: &[Costed]| costed.iter().map(|q| q.cost * q.calls).sum::<f64>();
    let cost_before = total(&costed);

    let mut working = catalog.clone();
    let mut recommendations = Vec::new();
    while recommendations.len() < config.max_indexes && !candidates.is_empty() {
        let current = total(&costed);
        let mut best: Option<(usize, Trial)> = None;
        for (i, candidate) in candidates.iter().enumerate() {
            let Some(trial) = evaluate(&mut working, &costed, candidate, current, config) else {
                continue;
            };
            if trial.share + 1e-12 < config.min_saving || trial.saving <= 0.0 {
                continue;
            }
            let better = match &best {
                None => true,
                Some((j, b)) => {
                    let (c, o) = (candidate, &candidates[*j]);
                    trial.saving > b.saving * (1.0 + 1e-9)
                        || (trial.saving >= b.saving * (1.0 - 1e-9)
                            && (c.columns.len(), c) < (o.columns.len(), o))
                }
            };
            if better {
                best = Some((i, trial));
            }
        }
        let Some((i, trial)) = best else {
            break;
        };
        let chosen = candidates.remove(i);
        let index = chosen.index();
        working
            .add_index(index.clone())
            .expect("a candidate's table and columns come from the catalogue");
        let mut helped = Vec::new();
        for &(q, cost, uses) in &trial.costs {
            let before = costed[q].cost;
            if uses && cost < before {
                helped.push(QueryBenefit {
                    query: costed[q].position,
                    sql: workload.queries[costed[q].position].sql.clone(),
                    calls: workload.queries[costed[q].position].calls,
                    cost_before: before,
                    cost_after: cost,
                });
            }
            costed[q].cost = cost;
        }
        helped.sort_by(|a, b| {
            let sa = (a.cost_before - a.cost_after) * a.calls as f64;
            let sb = (b.cost_before - b.cost_after) * b.calls as f64;
            sb.total_cmp(&sa).then(a.query.cmp(&b.query))
        });
        candidates.retain(|c| !c.served_by(&index));
        recommendations.push(Recommendation {
            create_sql: format!(
                "CREATE INDEX {} ON {} ({})",
                index.name,
                index.table,
                index.columns.join(", ")
            ),
            index,
            cost_before: current,
            cost_after: current - trial.saving,
            saving: trial.share,
            helped,
        });
    }
    Advice {
        recommendations,
        cost_before,
        cost_after: total(&costed),
        skipped,
        candidates: considered,
        costed: costed.len(),
        basis: config.basis,
    }
}

/// Candidates from one table's indexable columns (`out` is a set: repeats are harmless).
fn add_candidates(
    u: &crate::plan::IndexableColumns,
    two_column: bool,
    out: &mut BTreeSet<Candidate>,
) {
    let candidate = |columns: &[&String]| Candidate {
        table: u.table.clone(),
        columns: columns.iter().map(|c| (*c).clone()).collect(),
    };
    let leading: Vec<&String> = u.eq.iter().chain(&u.join).collect();
    let all: Vec<&String> = leading
        .iter()
        .copied()
        .chain(&u.range)
        .chain(&u.order)
        .collect();
    for c in &all {
        out.insert(candidate(&[c]));
    }
    if !two_column {
        return;
    }
    // Second columns: any indexable column, and the query's other column when it reads only
    // two (a covering index).
    let covering = if u.needed.len() == 2 {
        &u.needed[..]
    } else {
        &[]
    };
    for a in &leading {
        for b in all.iter().copied().chain(covering) {
            if *a != b {
                out.insert(candidate(&[a, b]));
            }
        }
    }
    // The first two ORDER BY columns: a composite index returns rows in that order.
    if let [a, b, ..] = u.order.as_slice() {
        out.insert(candidate(&[a, b]));
    }
}

/// Costs the workload with `candidate` added to `working` (removed again before return).
fn evaluate(
    working: &mut Catalog,
    costed: &[Costed],
    candidate: &Candidate,
    current: f64,
    config: &AdvisorConfig,
) -> Option<Trial> {
    let index = candidate.index();
    let name = index.name.clone();
    working.add_index(index).ok()?;
    let mut costs = Vec::new();
    let mut saving = 0.0;
    let mut helped_before = 0.0;
    for (q, c) in costed.iter().enumerate() {
        if !c.tables.contains(&candidate.table) {
            continue;
        }
        let Ok(plan) = plan_query(working, &c.query, &PlanOptions::default()) else {
            continue;
        };
        let cost = plan.cost().min(c.cost);
        let uses = uses_index(&plan.root, &name);
        if uses && cost < c.cost {
            saving += (c.cost - cost) * c.calls;
            helped_before += c.cost * c.calls;
        }
        costs.push((q, cost, uses));
    }
    working.remove_index(&name);
    let basis = match config.basis {
        SavingBasis::Workload => current,
        SavingBasis::HelpedQueries => helped_before,
    };
    let share = if basis > 0.0 { saving / basis } else { 0.0 };
    Some(Trial {
        saving,
        share,
        costs,
    })
}

fn uses_index(node: &PlanNode, name: &str) -> bool {
    node.walk().iter().any(|n| n.index.as_deref() == Some(name))
}

impl fmt::Display for Advice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let share = |before: f64, after: f64| {
            if before > 0.0 {
                100.0 * (before - after) / before
            } else {
                0.0
            }
        };
        writeln!(
            f,
            "workload: {} queries costed, {} skipped, {} candidate indexes tried",
            self.costed,
            self.skipped.len(),
            self.candidates
        )?;
        writeln!(
            f,
            "estimated cost: {:.0} -> {:.0} ({:.1} % less)",
            self.cost_before,
            self.cost_after,
            share(self.cost_before, self.cost_after)
        )?;
        if self.recommendations.is_empty() {
            writeln!(f, "no index saves enough")?;
        }
        for (i, r) in self.recommendations.iter().enumerate() {
            writeln!(f, "{}. {};", i + 1, r.create_sql)?;
            writeln!(
                f,
                "   workload cost {:.0} -> {:.0} (saves {:.1} % of {})",
                r.cost_before,
                r.cost_after,
                100.0 * r.saving,
                match self.basis {
                    SavingBasis::Workload => "the workload",
                    SavingBasis::HelpedQueries => "the queries it helps",
                }
            )?;
            for h in &r.helped {
                writeln!(
                    f,
                    "   - query {} (x{}): {:.1} -> {:.1} per call: {}",
                    h.query + 1,
                    h.calls,
                    h.cost_before,
                    h.cost_after,
                    one_line(&h.sql, 80)
                )?;
            }
        }
        for s in &self.skipped {
            writeln!(
                f,
                "skipped query {}: {}: {}",
                s.query + 1,
                s.error,
                one_line(&s.sql, 60)
            )?;
        }
        Ok(())
    }
}

/// `sql` on one line without `--` comment lines, cut to `max` characters.
fn one_line(sql: &str, max: usize) -> String {
    let flat: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max.saturating_sub(3)).collect();
        format!("{cut}...")
    }
}
