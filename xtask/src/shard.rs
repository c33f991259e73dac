//! `--shard K/N`: a deterministic part of the benchmarks for one of N runners, balanced by
//! expected time (longest first, each to the least loaded shard), so the shards finish together.
//! `merge` puts the shards' results files back together and decides over the whole suite.

use anyhow::{Context, bail};

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<Shard> {
        let (k, n) = text
            .split_once('/')
            .with_context(|| format!("--shard {text:?}: expected K/N, for example 1/3"))?;
        let parse = |s: &str| {
            s.trim()
                .parse::<usize>()
                .with_context(|| format!("--shard {text:?}: {s:?} is not a whole number"))
        };
        let (index, count) = (parse(k)?, parse(n)?);
        if count == 0 || index == 0 || index > count {
            bail!("--shard {text:?}: K must be between 1 and N (N at least 1)");
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shard (0-based) of each item, by expected cost: longest processing time first, ties by
/// name, each to the shard with the least cost so far (the lowest index on a tie). The same
/// names and costs always give the same assignment, on every runner.
pub fn assign(items: &[(&str, f64)], count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| {
        items[b]
            .1
            .total_cmp(&items[a].1)
            .then_with(|| items[a].0.cmp(items[b].0))
    });
    let mut load = vec![0.0f64; count.max(1)];
    let mut shard_of = vec![0; items.len()];
    for i in order {
        let (target, _) = load
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(&b.0)))
            .expect("at least one shard");
        load[target] += items[i].1.max(0.0);
        shard_of[i] = target;
    }
    shard_of
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_with_the_expected_form() {
        assert_eq!(
            "2/3".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 3 }
        );
        for bad in ["0/3", "4/3", "1/0", "x/2", "3"] {
            let error = format!("{:#}", bad.parse::<Shard>().unwrap_err());
            assert!(error.contains("--shard"), "{bad}: {error}");
        }
    }

    #[test]
    fn balances_by_cost_and_is_deterministic() {
        let items = [
            ("a", 5.0),
            ("b", 4.0),
            ("c", 3.0),
            ("d", 3.0),
            ("e", 2.0),
            ("f", 1.0),
        ];
        let shards = assign(&items, 2);
        let load = |s: usize| -> f64 {
            items
                .iter()
                .zip(&shards)
                .filter(|(_, k)| **k == s)
                .map(|(i, _)| i.1)
                .sum()
        };
        assert_eq!(load(0) + load(1), 18.0);
        assert!((load(0) - load(1)).abs() <= 1.0, "{shards:?}");
        assert_eq!(assign(&items, 2), shards);
        // Every item in exactly one shard, whatever the count.
        assert!(assign(&items, 4).iter().all(|&k| k < 4));
        assert_eq!(assign(&items, 1), vec![0; 6]);
    }
}
