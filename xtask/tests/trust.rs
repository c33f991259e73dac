//! The README's "How trustworthy is the gate" figures, from the recorded A/A gates committed in
//! `baselines/calibration/recorded/`: `cargo xtask bench evaluate` on them (the cheap mode,
//! recorded data only) must give the counts the README quotes. A change to the decision rules
//! that moves them fails here until the README is updated with the new figures.

use std::path::{Path, PathBuf};
use std::process::Command;

const RECORDED: &str = "baselines/calibration/recorded/amd-epyc-2cores-linux";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The recorded gates whose file name starts with `prefix`, sorted.
fn recorded(prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(workspace().join(RECORDED))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(prefix) && name.ends_with(".json"))
        })
        .collect();
    files.sort();
    files
}

/// `hits of n` of a rate in the evaluation's JSON.
fn count(rate: &serde_json::Value) -> (u64, u64) {
    (rate["hits"].as_u64().unwrap(), rate["n"].as_u64().unwrap())
}

#[test]
fn the_recorded_gates_give_the_readme_s_figures() {
    let (aa, iai) = (recorded("aa-"), recorded("iai-"));
    assert_eq!((aa.len(), iai.len()), (5, 2), "{aa:?} {iai:?}");
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("evaluation.json");
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["bench", "evaluate"])
        .args(&aa)
        .args(&iai)
        // Fewer resampled gates than the README's 2000 keep this test quick; the figures
        // checked below do not depend on their number.
        .args(["--gates", "200", "--json"])
        .arg(&json)
        .current_dir(workspace())
        .env("XTASK_WORKSPACE", workspace())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let all = format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // Exit 0: none of the recorded A/A gates failed as it ran.
    assert_eq!(output.status.code(), Some(0), "{all}");
    let e: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();

    // This gate: the recorded runs, and gates resampled from their rounds.
    assert_eq!(count(&e["independent_gates"]), (0, 7), "{all}");
    assert_eq!(count(&e["false_alarms"]["gates"]), (0, 200), "{all}");
    assert_eq!(count(&e["false_alarms"]["regressed"]), (0, 4000), "{all}");
    // The one-run-per-side rules on each recorded round of the same data.
    assert_eq!(count(&e["criterion_rule"]["gates"]), (50, 50), "{all}");
    assert_eq!(
        count(&e["criterion_rule"]["regressed"]),
        (257, 1000),
        "{all}"
    );
    assert_eq!(
        count(&e["stored_baseline_rule"]["gates"]),
        (32, 50),
        "{all}"
    );
    assert_eq!(
        count(&e["stored_baseline_rule"]["regressed"]),
        (57, 1000),
        "{all}"
    );
    // Instruction counts: no A/A pair flagged, every 1 % increase caught.
    assert_eq!(count(&e["instructions"]["aa_flagged"]), (0, 32), "{all}");
    assert_eq!(
        count(&e["instructions"]["injected_caught"]),
        (32, 32),
        "{all}"
    );
}
