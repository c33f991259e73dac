//! Helpers shared by the unit tests of several modules.

/// Checks the house style of an error: one line, lowercase, and mentioning every needle
/// (typically the file and the fix).
pub(crate) fn check_error_message(err: &anyhow::Error, needles: &[&str]) {
    let msg = format!("{err:#}");
    assert!(!msg.contains('\n'), "multi-line error: {msg}");
    assert!(
        msg.starts_with(|c: char| !c.is_uppercase()),
        "capitalised: {msg}"
    );
    for needle in needles {
        assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
    }
}
