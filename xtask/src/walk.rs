//! Walking an output folder: the readers of criterion and iai-callgrind output both need it.

use std::fs;
use std::path::{Path, PathBuf};

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
