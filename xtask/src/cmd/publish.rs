//! `cargo xtask bench publish --out DIR`: the history as a static site (index, a page per
//! benchmark with its trend chart and change points).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::history::{self, Entry, Series};
use crate::site::{self, SiteOptions};

/// What `publish` reads and where it writes.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// The site's folder.
    pub out: PathBuf,
    /// The history folder; by default `baselines/history` under the workspace root.
    pub history: Option<PathBuf>,
}

/// Reads every machine class's history, renames ids through bench.toml's aliases, builds the
/// site (change points by the detector's defaults) and says where its index is. Never fails
/// the gate: `Ok(false)`.
pub fn publish(root: &Path, options: &PublishOptions) -> anyhow::Result<bool> {
    let config = Config::load(&root.join("bench.toml"))?;
    let history_dir = crate::cmd::history::dir(root, options.history.as_deref());
    let series = read_series(&history_dir, &config)?;
    if series.is_empty() {
        eprintln!(
            "no history in {}: the site lists no benchmarks (history is recorded on main)",
            history_dir.display()
        );
    }
    site::build(&options.out, &series, &SiteOptions::default())?;
    println!("{}", options.out.join("index.html").display());
    Ok(false)
}

/// One series per (machine class, id, metric): the classes are kept apart even inside one
/// file, so wall times of different machines never share a chart.
fn read_series(dir: &Path, config: &Config) -> anyhow::Result<Vec<Series>> {
    let mut series = Vec::new();
    for (_file_class, mut entries) in history::read_dir(dir)? {
        history::apply_aliases(&mut entries, &config.history_aliases);
        let mut by_class: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
        for entry in entries {
            by_class
                .entry(entry.machine.class.clone())
                .or_default()
                .push(entry);
        }
        for entries in by_class.values() {
            series.extend(history::series(entries));
        }
    }
    Ok(series)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::samples::series_on;
    use crate::model::Metric;

    #[test]
    fn publish_keeps_machine_classes_apart_and_follows_aliases() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(
            root.path().join("bench.toml"),
            "[history.aliases]\n\"cache/get/old\" = \"cache/get/new\"\n",
        )
        .unwrap();
        let history_dir = root.path().join("baselines").join("history");
        let old_name = series_on(
            "a",
            "cache/get/old",
            Metric::WallTime,
            "ns",
            &[1.0, 2.0],
            0.0,
        );
        let new_name = series_on("a", "cache/get/new", Metric::WallTime, "ns", &[2.0], 0.0);
        // A file holding entries of another class too: they still get a series of their own.
        let other = series_on("b", "cache/get/new", Metric::WallTime, "ns", &[9.0], 0.0);
        let mut entries = old_name.points.clone();
        entries.extend(new_name.points.iter().cloned());
        entries.extend(other.points.iter().cloned());
        history::append(&history::path(&history_dir, "a"), &entries).unwrap();

        let series = read_series(
            &history_dir,
            &Config::load(&root.path().join("bench.toml")).unwrap(),
        )
        .unwrap();
        let keys: Vec<(String, String, usize)> = series
            .iter()
            .map(|s| {
                (
                    s.points[0].machine.class.clone(),
                    s.id.clone(),
                    s.points.len(),
                )
            })
            .collect();
        assert_eq!(
            keys,
            vec![
                ("a".to_string(), "cache/get/new".to_string(), 3),
                ("b".to_string(), "cache/get/new".to_string(), 1),
            ]
        );

        let out = root.path().join("site");
        let options = PublishOptions {
            out: out.clone(),
            history: None,
        };
        assert!(!publish(root.path(), &options).unwrap());
        assert!(out.join("index.html").exists());
        // A page and its chart per series.
        assert_eq!(std::fs::read_dir(out.join("bench")).unwrap().count(), 4);
    }
}
