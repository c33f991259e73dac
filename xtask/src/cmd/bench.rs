//! `cargo xtask bench`: discover, build, run, record, compare with the committed baseline of
//! this machine, report.

use std::path::Path;

use crate::cmd::{ReportOptions, emit, write_exports};
use crate::config::Config;
use crate::decide::compare;
use crate::measure::{self, CriterionSettings, Side, Targets};
use crate::model::{Acceptance, Run, SCHEMA_VERSION};
use crate::workdir::{self, baseline_path, latest_run_path};
use crate::{discover, meta, store};

/// Options of `cargo xtask bench`.
#[derive(Debug, Default)]
pub struct BenchOptions {
    pub filter: Option<String>,
    pub quick: bool,
    pub reports: ReportOptions,
}

pub fn bench(root: &Path, options: &BenchOptions) -> anyhow::Result<bool> {
    let metadata = discover::metadata(root)?;
    let target_dir = metadata.target_directory.as_std_path().to_path_buf();
    let _lock = workdir::lock(&target_dir)?;
    let config = Config::load(&root.join("bench.toml"))?;
    let filter = measure::compile_filter(options.filter.as_deref())?;

    let targets = Targets::discover(&metadata, &target_dir)?;
    let mut side = Side::build(root, &targets, None)?;
    side.env = config.env.clone();
    let work = workdir::work_dir(&target_dir);
    let criterion_home = work.join("criterion");
    let iai_home = work.join("iai");
    for dir in [&criterion_home, &iai_home] {
        workdir::fresh_dir(dir)?;
    }
    let listed = side.list(filter.as_ref())?;
    let iai = side.iai_selected(filter.as_ref(), &iai_home)?;
    side.ensure_selected(
        options.filter.as_deref(),
        listed.iter().map(|l| l.ids.len()).sum(),
        iai.len(),
    )?;
    let settings = if options.quick {
        CriterionSettings::smoke()
    } else {
        CriterionSettings::default()
    };
    side.run_selected(
        &listed,
        &iai,
        &settings,
        options.filter.as_deref(),
        &criterion_home,
        &iai_home,
    )?;

    let benchmarks = measure::read(&criterion_home, &iai_home, filter.as_ref())?;
    let mut meta = meta::collect(root);
    meta.filter = options.filter.clone();
    meta.quick = options.quick;
    let run = Run {
        schema_version: SCHEMA_VERSION,
        meta,
        benchmarks,
    };
    store::write_run(&latest_run_path(&target_dir), &run)?;

    let machine = run.meta.machine.clone().unwrap_or_default();
    let class = machine.class();
    let baseline_file = baseline_path(root, &class);
    if !baseline_file.exists() {
        // Nothing to compare with, but the exports carry this run's measurements all the same.
        let nothing = Run {
            benchmarks: Vec::new(),
            ..run.clone()
        };
        write_exports(&compare(&nothing, &run, &config), &options.reports.exports)?;
        if options.filter.is_some() || options.quick {
            eprintln!(
                "no baseline for this machine ({}) and this was a {} run: nothing to compare, nothing recorded as baseline; run `cargo xtask bench` without flags to create it",
                baseline_file.display(),
                if options.quick { "--quick" } else { "--filter" }
            );
            return Ok(false);
        }
        let mut baseline = run.clone();
        baseline.meta.accepted = Some(Acceptance {
            reason: "first run on this machine class".to_string(),
            time: meta::rfc3339(std::time::SystemTime::now()),
        });
        store::write_run(&baseline_file, &baseline)?;
        eprintln!(
            "no baseline for this machine yet: recorded this run ({} benchmarks) as {}; commit it",
            run.benchmarks.len(),
            baseline_file.display()
        );
        return Ok(false);
    }
    let mut baseline = store::read_run(&baseline_file)?;
    if let Some(filter) = &filter {
        baseline.benchmarks.retain(|b| filter.is_match(&b.id));
    }
    let mut comparison = compare(&baseline, &run, &config);
    comparison
        .notes
        .push(format!("baseline: {}", baseline_file.display()));
    emit(&comparison, &options.reports)?;
    Ok(comparison.failed())
}
