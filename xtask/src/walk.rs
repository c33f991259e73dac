//! Walking an output folder: the readers of criterion and iai-callgrind output both need it.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Result, anyhow, bail};

/// Every folder at or under `root` for which `select` is true, sorted. A selected folder is
/// not descended into. Symlinks below `root` are not followed, so link loops cannot hang the
/// walk. `what` completes the error when `root` is not a folder ("… is not a directory; …").
pub(crate) fn select_dirs(
    root: &Path,
    what: &str,
    mut select: impl FnMut(&Path) -> bool,
) -> Result<Vec<PathBuf>> {
    if !root.is_dir() {
        bail!("{} is not a directory; {what}", root.display());
    }
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(current) = stack.pop() {
        if select(&current) {
            found.push(current);
            continue;
        }
        let entries = fs::read_dir(&current)
            .map_err(|e| anyhow!("cannot list {}: {e}", current.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| anyhow!("cannot list {}: {e}", current.display()))?;
            let file_type = entry
                .file_type()
                .map_err(|e| anyhow!("cannot stat {}: {e}", entry.path().display()))?;
            if file_type.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Every folder at or under `root` holding a file named `marker` (a regular file or a symlink to
/// one), sorted, each with what `visit` made of it: the same folders, in the same order, as
/// [`select_dirs`] with `|folder| folder.join(marker).is_file()`, in fewer system calls and on
/// every core.
///
/// A folder is judged from its own listing, which the walk reads anyway to descend, rather than
/// by a stat of `folder/marker` first. The exception is a folder named `probe` (for criterion,
/// the baseline being read): those usually hold `marker`, and one stat then spares the listing.
/// A selected folder is not descended into; symlinks below `root` are not followed.
///
/// The top of the tree is listed on this thread until there are enough subtrees to share; then
/// threads (this one among them) claim subtrees one at a time, walk each in name order and call
/// `visit` on the folders found there, with a `state` of their own from `new_state` (buffers to
/// reuse, say). Subtrees are disjoint and taken in path order, so their results put end to end
/// are sorted without sorting paths, whatever the threads' timing. When the walk fails in
/// several places, which error is reported does not depend on the timing either: the first met
/// listing the top, else that of the first failing subtree in path order.
pub(crate) fn visit_dirs_holding<S, T: Send>(
    root: &Path,
    marker: &str,
    probe: &OsStr,
    what: &str,
    new_state: impl Fn() -> S + Sync,
    visit: impl Fn(&mut S, &Path) -> T + Sync,
) -> Result<Vec<(PathBuf, T)>> {
    if !root.is_dir() {
        bail!("{} is not a directory; {what}", root.display());
    }
    let walker = Walker { marker, probe };
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(MAX_THREADS);

    // The top of the tree, in path order: folders found, and subtrees still to walk.
    let mut top = vec![Top::Walk(root.to_path_buf(), false)];
    let mut children = Vec::new();
    while top.iter().filter(|t| matches!(t, Top::Walk(..))).count() < SUBTREES_PER_THREAD * threads
        && top.iter().any(|t| matches!(t, Top::Walk(..)))
    {
        let mut next = Vec::with_capacity(top.len());
        for item in top {
            match item {
                Top::Walk(dir, stat_first) => {
                    if walker.step(&dir, stat_first, &mut children)? {
                        next.push(Top::Found(dir));
                    } else {
                        next.extend(children.drain(..).map(|(d, s)| Top::Walk(d, s)));
                    }
                }
                found => next.push(found),
            }
        }
        top = next;
    }

    let subtrees = top.iter().filter(|t| matches!(t, Top::Walk(..))).count();
    let next = AtomicUsize::new(0);
    let work = |state: &mut S| walker.claim_and_walk(&top, &next, state, &visit);
    let mut done = if subtrees < 2 || threads == 1 {
        work(&mut new_state())
    } else {
        std::thread::scope(|scope| {
            let helpers: Vec<_> = (1..threads.min(subtrees))
                .map(|_| scope.spawn(|| work(&mut new_state())))
                .collect();
            let mut done = work(&mut new_state());
            for helper in helpers {
                match helper.join() {
                    Ok(more) => done.extend(more),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            done
        })
    };
    done.sort_unstable_by_key(|(index, _)| *index);
    let mut found = Vec::new();
    for (_, subtree) in done {
        found.extend(subtree?);
    }
    debug_assert!(found.is_sorted_by(|a, b| a.0 <= b.0));
    Ok(found)
}

/// The folders found in one subtree, each with what the visitor made of it, or the walk's first
/// error there.
type Subtree<T> = Result<Vec<(PathBuf, T)>>;

/// Threads for one walk at most: past a few, the file system, not the cores, sets the pace.
const MAX_THREADS: usize = 8;

/// Subtrees to list at the top before sharing them out, per thread: enough to even out
/// subtrees of unequal size.
const SUBTREES_PER_THREAD: usize = 8;

/// An entry of the top of the tree in [`visit_dirs_holding`].
#[derive(Debug)]
enum Top {
    /// A folder holding the marker.
    Found(PathBuf),
    /// A folder to walk, and whether to stat `folder/marker` before listing it.
    Walk(PathBuf, bool),
}

#[derive(Debug, Clone, Copy)]
struct Walker<'a> {
    marker: &'a str,
    probe: &'a OsStr,
}

impl Walker<'_> {
    fn holds_marker(&self, folder: &Path) -> bool {
        folder.join(self.marker).is_file()
    }

    /// Judges `dir`: true when it holds the marker; otherwise `children` gets its subfolders,
    /// in name order, each with whether to stat it first.
    fn step(
        &self,
        dir: &Path,
        stat_first: bool,
        children: &mut Vec<(PathBuf, bool)>,
    ) -> Result<bool> {
        children.clear();
        if stat_first && self.holds_marker(dir) {
            return Ok(true);
        }
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            // A folder that may be searched but not listed can still hold the marker.
            Err(_) if !stat_first && self.holds_marker(dir) => return Ok(true),
            Err(e) => bail!("cannot list {}: {e}", dir.display()),
        };
        let mut names: Vec<OsString> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| anyhow!("cannot list {}: {e}", dir.display()))?;
            let file_type = entry
                .file_type()
                .map_err(|e| anyhow!("cannot stat {}: {e}", entry.path().display()))?;
            if file_type.is_dir() {
                names.push(entry.file_name());
            } else if !stat_first
                && entry.file_name() == self.marker
                && (file_type.is_file() || (file_type.is_symlink() && entry.path().is_file()))
            {
                return Ok(true);
            }
        }
        // Path order is component order, and components compare as bytes: children in name
        // order keep the walk in path order.
        names.sort_unstable();
        children.extend(names.into_iter().map(|name| {
            let stat_first = name == self.probe;
            (dir.join(name), stat_first)
        }));
        Ok(false)
    }

    /// One thread's share of [`visit_dirs_holding`]: claims entries of `top` through `next`
    /// until none is left; returns each claimed entry's index with its folders (or the walk's
    /// first error in it).
    fn claim_and_walk<S, T>(
        &self,
        top: &[Top],
        next: &AtomicUsize,
        state: &mut S,
        visit: &impl Fn(&mut S, &Path) -> T,
    ) -> Vec<(usize, Subtree<T>)> {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = top.get(index) else {
                return done;
            };
            let result = match item {
                Top::Found(dir) => Ok(vec![(dir.clone(), visit(state, dir))]),
                Top::Walk(dir, stat_first) => self.walk(dir, *stat_first, state, visit),
            };
            done.push((index, result));
        }
    }

    /// Walks the subtree at `root` in path order.
    fn walk<S, T>(
        &self,
        root: &Path,
        stat_first: bool,
        state: &mut S,
        visit: &impl Fn(&mut S, &Path) -> T,
    ) -> Result<Vec<(PathBuf, T)>> {
        let mut found = Vec::new();
        let mut stack = vec![(root.to_path_buf(), stat_first)];
        let mut children = Vec::new();
        while let Some((dir, stat_first)) = stack.pop() {
            if self.step(&dir, stat_first, &mut children)? {
                let visited = visit(state, &dir);
                found.push((dir, visited));
            } else {
                // Pushed in reverse, popped in order.
                stack.extend(children.drain(..).rev());
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The old walk, a stat per folder, is the reference for the listing-based parallel one.
    fn check_same_as_select_dirs(root: &Path, probe: &str) {
        let reference = select_dirs(root, "x", |f| f.join("m.json").is_file()).unwrap();
        let found =
            visit_dirs_holding(root, "m.json", OsStr::new(probe), "x", || (), |(), _| ()).unwrap();
        let found: Vec<PathBuf> = found.into_iter().map(|(folder, ())| folder).collect();
        assert_eq!(found, reference, "probe {probe}");
    }

    #[test]
    fn listing_walk_finds_what_the_stat_walk_finds_in_the_same_order() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let touch = |path: PathBuf| {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "{}").unwrap();
        };
        for i in 0..120 {
            // Marker folders at several depths, under names that sort differently as paths and
            // as strings (`a.b` against `a/b`).
            touch(root.join(format!("g{}/f{i}/new/m.json", i % 13)));
            touch(root.join(format!("g{}/f{i}/base/m.json", i % 13)));
            touch(root.join(format!("g{}/f{i}/report/index.html", i % 13)));
            touch(root.join(format!("g{}.x/f{i}/new/m.json", i % 7)));
            if i % 11 == 0 {
                // A marker folder stops the walk: nothing below it counts.
                touch(root.join(format!("g{}/f{i}/new/deeper/m.json", i % 13)));
                // A folder named like the marker is no marker, and is walked into.
                touch(root.join(format!("h{i}/m.json/new/m.json")));
            }
        }
        touch(root.join("top/m.json"));
        touch(root.join("g0/new/m.json"));
        #[cfg(unix)]
        {
            // A link to a marker file counts; a link to a folder is not followed.
            touch(root.join("linked/target.json"));
            std::os::unix::fs::symlink(root.join("linked/target.json"), root.join("linked/m.json"))
                .unwrap();
            std::os::unix::fs::symlink(root.join("g1"), root.join("loop")).unwrap();
        }
        for probe in ["new", "base", "nothing"] {
            check_same_as_select_dirs(root, probe);
            check_same_as_select_dirs(&root.join("g3"), probe);
            check_same_as_select_dirs(&root.join("g3/f3/new"), probe);
        }
    }
}
