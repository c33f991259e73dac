//! What a run records about itself: git state, toolchain, `Cargo.lock`, machine (see
//! [`crate::machine`]), time.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::model::{Machine, RunMeta};

/// Collects the metadata of a run made now in the workspace at `root`. Nothing here fails the
/// run: what cannot be read is left out.
pub fn collect(root: &Path) -> RunMeta {
    let (commit, branch, dirty) = git_state(root);
    RunMeta {
        commit,
        branch,
        dirty,
        time: Some(rfc3339(SystemTime::now())),
        rustc: rustc_version(),
        cargo_lock_hash: std::fs::read(root.join("Cargo.lock"))
            .ok()
            .map(|bytes| hex(&Sha256::digest(&bytes))),
        machine: Some(Machine::detect()),
        source: None,
        filter: None,
        quick: false,
        accepted: None,
    }
}

fn git_state(root: &Path) -> (Option<String>, Option<String>, Option<bool>) {
    let Ok(repo) = git2::Repository::discover(root) else {
        return (None, None, None);
    };
    let head = repo.head().ok();
    let commit = head
        .as_ref()
        .and_then(|head| head.peel_to_commit().ok())
        .map(|commit| commit.id().to_string());
    let branch = head
        .as_ref()
        .filter(|head| head.is_branch())
        .and_then(|head| head.shorthand().map(str::to_string));
    let mut options = git2::StatusOptions::new();
    options.include_untracked(false).include_ignored(false);
    let dirty = repo
        .statuses(Some(&mut options))
        .ok()
        .map(|statuses| !statuses.is_empty());
    (commit, branch, dirty)
}

fn rustc_version() -> Option<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc).arg("-V").output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Formats a time as RFC 3339 in UTC, to the second.
pub fn rfc3339(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_known_dates() {
        for (secs, expected) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_795_652_245, "2026-11-26T00:17:25Z"),
        ] {
            assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(secs)), expected);
        }
    }
}
