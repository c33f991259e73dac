//! `cargo xtask bench compare`, the pull-request gate, end to end: real git repositories of the
//! fixture workspace (`test_data/gate`) in temporary folders, both sides built and measured,
//! exit codes, messages and reports checked, and the checkouts gone afterwards.
//!
//! Every test that runs the harness holds [`HARNESS`]: they share one target directory (so the
//! fixture's dependencies compile once, and the iai-callgrind runner is installed once) and the
//! harness's lock file in it. Instruction-count assertions are skipped with a note when
//! valgrind is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

/// The criterion benchmark of the fixture (`benches/wall.rs`).
const WALL_ID: &str = "fixture/work";
/// The iai-callgrind benchmark of the fixture (`benches/iai_work.rs`).
const IAI_ID: &str = "iai_work::fixture::work/one";
/// The fixture's helper that does the work: a slower head must be explained by this name.
const HOT_FUNCTION: &str = "fixture_hot_loop";
/// The panic message the broken head commit's criterion bench panics with.
const PANIC_MESSAGE: &str = "fixture panic";
/// The version of iai-callgrind the fixture uses, hence of the runner it needs.
const IAI_VERSION: &str = "0.16.1";

/// Held by every test that runs the harness on the shared target directory.
static HARNESS: Mutex<()> = Mutex::new(());

fn harness_lock() -> MutexGuard<'static, ()> {
    // A failed test poisons the mutex; the others still run, one at a time.
    HARNESS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/gate")
}

/// The target directory every fixture build shares.
fn gate_target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("gate-target")
}

/// Where `compare` checks out the two sides (`<target-dir>/xtask-bench/compare/{base,head}`).
fn checkouts(target: &Path) -> [PathBuf; 2] {
    let compare = target.join("xtask-bench").join("compare");
    [compare.join("base"), compare.join("head")]
}

fn valgrind_available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// An installed iai-callgrind-runner of the fixture's version, so that no test compiles one:
/// `IAI_CALLGRIND_RUNNER` when set, else the one the harness installed into the shared target
/// directory, else one installed into the outer workspace's target directory. The gate
/// target's comes before the outer one so that, once it exists, the path (which the iai bench
/// is compiled with) stays the same from run to run.
fn installed_runner() -> Option<PathBuf> {
    let from_env = std::env::var_os("IAI_CALLGRIND_RUNNER")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from);
    let in_target = |target: &Path| {
        target
            .join("iai-callgrind-runner")
            .join(IAI_VERSION)
            .join("bin")
            .join("iai-callgrind-runner")
    };
    let outer_target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(in_target);
    from_env
        .into_iter()
        .chain([in_target(&gate_target())])
        .chain(outer_target)
        .find(|path| path.is_file())
}

/// Copies the fixture workspace (a few small files) into `to`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (source, dest) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "target" {
                copy_tree(&source, &dest);
            }
        } else {
            std::fs::copy(&source, &dest).unwrap();
        }
    }
}

/// Runs git in `dir`, asserting success; returns its trimmed standard output.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        // The user's and the system's git configuration (signing, hooks, templates) stay out.
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?} in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A git repository holding the fixture workspace, with its first commit (the base).
#[derive(Debug)]
struct Repo {
    dir: tempfile::TempDir,
    base: String,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&fixture_dir(), dir.path());
        git(dir.path(), &["init", "-q", "-b", "main"]);
        git(dir.path(), &["config", "user.name", "Gate Test"]);
        git(
            dir.path(),
            &["config", "user.email", "gate@example.invalid"],
        );
        git(dir.path(), &["config", "commit.gpgsign", "false"]);
        let mut repo = Repo {
            dir,
            base: String::new(),
        };
        repo.base = repo.commit("base: the fixture as committed");
        repo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Commits everything in the working tree; returns the commit id.
    fn commit(&self, message: &str) -> String {
        git(self.path(), &["add", "-A"]);
        git(self.path(), &["commit", "-q", "-m", message]);
        git(self.path(), &["rev-parse", "HEAD"])
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.path().join(file)).unwrap()
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.path().join(file), text).unwrap();
    }

    /// The current value of `WORK` in `src/lib.rs`.
    fn work(&self) -> u64 {
        let lib = self.read("src/lib.rs");
        let line = lib
            .lines()
            .find_map(|line| line.strip_prefix("pub const WORK: u64 = "))
            .expect("src/lib.rs declares `pub const WORK: u64 = N;`");
        line.trim_end_matches(';').parse().unwrap()
    }

    /// Multiplies `WORK` by 10 in the working tree: ten times the time and the instructions.
    fn make_ten_times_slower(&self) {
        let work = self.work();
        let lib = self.read("src/lib.rs").replace(
            &format!("pub const WORK: u64 = {work};"),
            &format!("pub const WORK: u64 = {};", work * 10),
        );
        self.write("src/lib.rs", &lib);
        assert_eq!(self.work(), work * 10);
    }

    /// A commit that makes the benchmarks ten times slower.
    fn commit_ten_times_slower(&self) -> String {
        self.make_ten_times_slower();
        self.commit("ten times the work")
    }

    /// A commit that touches only README.md: the benchmarks measure the same code.
    fn commit_readme_only(&self) -> String {
        let readme = self.read("README.md") + "\nA line that changes no benchmark.\n";
        self.write("README.md", &readme);
        self.commit("docs only")
    }

    /// A commit whose criterion benchmark panics when measured (not when listed).
    fn commit_criterion_panic(&self) -> String {
        let opening = "    c.bench_function(\"fixture/work\", |b| {\n";
        let bench = self.read("benches/wall.rs");
        assert!(bench.contains(opening), "benches/wall.rs changed: {bench}");
        let broken = bench.replace(
            opening,
            &format!("{opening}        if black_box(true) {{\n            panic!(\"{PANIC_MESSAGE}\");\n        }}\n"),
        );
        self.write("benches/wall.rs", &broken);
        self.commit("the criterion bench panics")
    }

    /// A `git clone --depth 1` of this repository: only its newest commit.
    fn shallow_clone(&self) -> tempfile::TempDir {
        let clone = tempfile::tempdir().unwrap();
        let url = format!("file://{}", self.path().display());
        git(
            self.path(),
            &[
                "clone",
                "-q",
                "--depth",
                "1",
                &url,
                clone.path().to_str().unwrap(),
            ],
        );
        clone
    }
}

/// What one `cargo xtask bench compare` did.
#[derive(Debug)]
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// The `--json` report, when written.
    json: Option<serde_json::Value>,
    /// The `--markdown` report, when written.
    markdown: Option<String>,
}

impl Outcome {
    /// Everything the command printed, for assertion messages.
    fn output(&self) -> String {
        format!(
            "exit code {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    fn json(&self) -> &serde_json::Value {
        self.json
            .as_ref()
            .unwrap_or_else(|| panic!("no JSON report written\n{}", self.output()))
    }

    fn markdown(&self) -> &str {
        self.markdown
            .as_deref()
            .unwrap_or_else(|| panic!("no Markdown report written\n{}", self.output()))
    }

    /// The JSON report's rows. The gate's contract calls them `rows`; the report format that
    /// `compare` shares with `bench` and `diff` calls them `benchmarks`. Either is accepted.
    fn rows(&self) -> &[serde_json::Value] {
        let report = self.json();
        report["rows"]
            .as_array()
            .or_else(|| report["benchmarks"].as_array())
            .unwrap_or_else(|| panic!("the JSON report has no `rows`: {report}"))
    }

    /// The JSON report's row of benchmark `id` for `metric`.
    fn row(&self, id: &str, metric: &str) -> &serde_json::Value {
        self.rows()
            .iter()
            .find(|row| row["id"] == id && row["metric"] == metric)
            .unwrap_or_else(|| panic!("no {metric} row {id:?} in {}", self.json()))
    }

    fn verdict(&self, id: &str, metric: &str) -> &str {
        self.row(id, metric)["verdict"]
            .as_str()
            .unwrap_or_else(|| panic!("row {id:?} has no verdict: {}", self.json()))
    }
}

/// The harness (`cargo xtask`) on the workspace at `workspace`, with the shared target
/// directory and the installed runner, and no CI or backtrace settings from outside.
fn harness(workspace: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command
        .current_dir(workspace)
        .env("XTASK_WORKSPACE", workspace)
        .env("CARGO_TARGET_DIR", gate_target())
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("RUST_BACKTRACE");
    if let Some(runner) = installed_runner() {
        command.env("IAI_CALLGRIND_RUNNER", runner);
    }
    command
}

/// Runs `cargo xtask bench compare <args>` on the workspace at `workspace`, with the shared
/// target directory, a JSON and a Markdown report outside the repository, and asserts that the
/// checkouts are gone afterwards (on every exit path of the command).
fn compare(workspace: &Path, args: &[&str]) -> Outcome {
    compare_with_env(workspace, args, &[])
}

/// [`compare`] with extra environment variables for the harness (and so its benchmarks).
fn compare_with_env(workspace: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let reports = tempfile::tempdir().unwrap();
    let (json, markdown) = (
        reports.path().join("report.json"),
        reports.path().join("report.md"),
    );
    let target = gate_target();
    let mut command = harness(workspace);
    command
        .args(["bench", "compare"])
        .args(args)
        // A fixed benchmark order and choice of which side runs first.
        .args(["--seed", "1"])
        .arg("--json")
        .arg(&json)
        .arg("--markdown")
        .arg(&markdown)
        .envs(env.iter().copied());
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    let outcome = Outcome {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        json: std::fs::read_to_string(&json).ok().map(|text| {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("the JSON report is not JSON: {e}: {text}"))
        }),
        markdown: std::fs::read_to_string(&markdown).ok(),
    };
    for checkout in checkouts(&target) {
        assert!(
            !checkout.exists(),
            "{} is left behind\n{}",
            checkout.display(),
            outcome.output()
        );
    }
    outcome
}

/// Markdown as it reads: the reports escape punctuation (`gate\_fixture`).
fn markdown_text(markdown: &str) -> String {
    let mut text = String::with_capacity(markdown.len());
    let mut chars = markdown.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.peek() {
            Some(next) if c == '\\' && next.is_ascii_punctuation() => {}
            _ => text.push(c),
        }
    }
    text
}

/// Whether instruction counts can be checked here; prints why not when they cannot.
fn instructions_measured() -> bool {
    let available = valgrind_available();
    if !available {
        eprintln!("note: valgrind not found: instruction-count assertions skipped");
    }
    available
}

#[test]
fn a_head_commit_ten_times_slower_regresses_and_names_the_slower_function() {
    let _harness = harness_lock();
    let repo = Repo::new();
    let head = repo.commit_ten_times_slower();
    let outcome = compare(repo.path(), &[&repo.base, &head]);
    assert_eq!(outcome.code, Some(1), "{}", outcome.output());
    assert_eq!(
        outcome.verdict(WALL_ID, "wall_time"),
        "regressed",
        "{}",
        outcome.json()
    );
    let report = outcome.json();
    assert_eq!(report["base"]["commit"], repo.base.as_str(), "{report}");
    assert_eq!(report["head"]["commit"], head.as_str(), "{report}");
    assert_ne!(report["head"]["dirty"], true, "{report}");
    if instructions_measured() {
        assert_eq!(
            outcome.verdict(IAI_ID, "instructions"),
            "regressed",
            "{report}"
        );
        assert!(
            markdown_text(outcome.markdown()).contains(HOT_FUNCTION),
            "the Markdown does not name {HOT_FUNCTION}:\n{}",
            outcome.markdown()
        );
        assert!(
            outcome.stdout.contains(HOT_FUNCTION),
            "the terminal output does not name {HOT_FUNCTION}\n{}",
            outcome.output()
        );
    }
}

#[test]
fn a_head_commit_touching_only_the_readme_passes() {
    let _harness = harness_lock();
    let repo = Repo::new();
    let head = repo.commit_readme_only();
    let outcome = compare(repo.path(), &[&repo.base, &head]);
    assert_eq!(outcome.code, Some(0), "{}", outcome.output());
    assert!(
        outcome
            .rows()
            .iter()
            .all(|row| row["verdict"] != "regressed"),
        "{}",
        outcome.json()
    );
    if instructions_measured() {
        assert_eq!(
            outcome.verdict(IAI_ID, "instructions"),
            "unchanged",
            "{}",
            outcome.json()
        );
    }
}

#[test]
fn a_dirty_working_tree_is_measured_as_head_and_marked_dirty() {
    let _harness = harness_lock();
    let repo = Repo::new();
    repo.make_ten_times_slower();
    let outcome = compare(repo.path(), &["HEAD"]);
    assert_eq!(outcome.code, Some(1), "{}", outcome.output());
    let report = outcome.json();
    assert_eq!(report["head"]["dirty"], true, "{report}");
    assert_eq!(report["base"]["commit"], repo.base.as_str(), "{report}");
    assert_eq!(
        outcome.verdict(WALL_ID, "wall_time"),
        "regressed",
        "{report}"
    );
    let markdown = markdown_text(outcome.markdown()).to_lowercase();
    assert!(
        markdown.contains("dirty") || markdown.contains("uncommitted"),
        "the Markdown does not say head is dirty:\n{markdown}"
    );
    if instructions_measured() {
        assert_eq!(
            outcome.verdict(IAI_ID, "instructions"),
            "regressed",
            "{report}"
        );
    }
    // The working tree is left as it was: still dirty, nothing committed.
    assert_eq!(git(repo.path(), &["rev-parse", "HEAD"]), repo.base);
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), "M src/lib.rs");
}

#[test]
fn a_revision_that_does_not_exist_exits_2_naming_it() {
    let _harness = harness_lock();
    let repo = Repo::new();
    for args in [
        &["no-such-branch"][..],
        &["HEAD", "no-such-branch"],
        &["no-such-branch", "HEAD"],
    ] {
        let outcome = compare(repo.path(), args);
        assert_eq!(outcome.code, Some(2), "{args:?}\n{}", outcome.output());
        assert!(
            outcome.stderr.contains("no-such-branch"),
            "{args:?}\n{}",
            outcome.output()
        );
    }
}

#[test]
fn a_shallow_clone_without_the_base_exits_2_asking_for_more_history() {
    let _harness = harness_lock();
    let repo = Repo::new();
    repo.commit_readme_only();
    let clone = repo.shallow_clone();
    for base in [repo.base.as_str(), "HEAD~1"] {
        let outcome = compare(clone.path(), &[base]);
        assert_eq!(outcome.code, Some(2), "{base}\n{}", outcome.output());
        let message = outcome.stderr.trim();
        assert!(message.contains("fetch-depth: 0"), "{base}\n{message}");
        assert_eq!(message.lines().count(), 1, "{base}\n{message}");
    }
}

/// A head whose criterion benchmark panics, compared with `env` for the harness: the panic
/// message is reported, the instruction count is still compared, and the gate fails (exit 1):
/// the head broke a benchmark that runs on the base.
fn check_panic_on_head(env: &[(&str, &str)]) {
    let _harness = harness_lock();
    let repo = Repo::new();
    let head = repo.commit_criterion_panic();
    let outcome = compare_with_env(repo.path(), &[&repo.base, &head], env);
    if !instructions_measured() {
        // The panicking benchmark was the only one: nothing could be compared.
        assert_eq!(outcome.code, Some(2), "{}", outcome.output());
        assert!(
            outcome.stderr.contains(PANIC_MESSAGE),
            "the panic message is not in the error\n{}",
            outcome.output()
        );
        return;
    }
    // The report (the terminal table, and the Markdown a pull request shows) carries the
    // failure with the benchmark's panic message.
    assert!(
        outcome.stdout.contains(PANIC_MESSAGE),
        "the panic message is not in the report on stdout\n{}",
        outcome.output()
    );
    assert!(
        markdown_text(outcome.markdown()).contains(PANIC_MESSAGE),
        "the panic message is not in the Markdown:\n{}",
        outcome.markdown()
    );
    // The instruction count is still compared, and did not change: nothing regressed.
    assert_eq!(
        outcome.verdict(IAI_ID, "instructions"),
        "unchanged",
        "{}",
        outcome.json()
    );
    assert_eq!(
        outcome.code,
        Some(1),
        "a benchmark that fails on the head fails the gate\n{}",
        outcome.output()
    );
}

#[test]
fn a_criterion_benchmark_that_panics_on_head_is_reported_and_the_rest_compared() {
    check_panic_on_head(&[]);
}

/// CI commonly sets `RUST_BACKTRACE=1`: the panic message comes before the backtrace in the
/// benchmark's output and must still be the one reported.
#[test]
fn a_panic_message_is_reported_when_a_backtrace_follows_it() {
    check_panic_on_head(&[("RUST_BACKTRACE", "1")]);
}

/// A `--filter` that selects nothing is refused by name, with an id it could have matched,
/// by the gate and by `cargo xtask bench` alike, instead of running nothing.
#[test]
fn a_filter_that_matches_nothing_exits_2_naming_it() {
    let _harness = harness_lock();
    let repo = Repo::new();
    let head = repo.commit_readme_only();
    let expected = "--filter \"zzz_no_such_benchmark\" matches no benchmark of this workspace";
    let outcome = compare(
        repo.path(),
        &[&repo.base, &head, "--filter", "zzz_no_such_benchmark"],
    );
    assert_eq!(outcome.code, Some(2), "{}", outcome.output());
    assert!(
        outcome.stderr.contains(expected) && outcome.stderr.contains(WALL_ID),
        "{}",
        outcome.output()
    );
    let output = harness(repo.path())
        .args(["bench", "--filter", "zzz_no_such_benchmark"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(expected) && stderr.contains(WALL_ID),
        "{stderr}"
    );
}

/// `bisect` by the gate's rule on a real history: a commit that does not build is skipped as
/// `git bisect skip` does, and the commit that made the work ten times larger is named, with
/// its subject and the measured change of the instruction count.
#[test]
fn bisect_names_the_slower_commit_past_one_that_does_not_build() {
    if !instructions_measured() {
        return;
    }
    let _harness = harness_lock();
    let repo = Repo::new();
    // The path after GOOD: docs, docs, broken, fixed, slower, docs (BAD). The search probes
    // the middle (the broken commit) first, so the skip is exercised, and still has a
    // measured good commit right before the slower one.
    repo.commit_readme_only();
    repo.commit_readme_only();
    let lib = repo.read("src/lib.rs");
    repo.write(
        "src/lib.rs",
        &format!("{lib}\nthis line does not compile\n"),
    );
    let broken = repo.commit("a commit that does not build");
    repo.write("src/lib.rs", &lib);
    repo.commit("builds again");
    let slower = repo.commit_ten_times_slower();
    let bad = repo.commit_readme_only();
    let output = harness(repo.path())
        .args(["bench", "bisect", &repo.base, &bad, "--bench", IAI_ID])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    let all = format!(
        "exit {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status.code()
    );
    assert_eq!(output.status.code(), Some(0), "{all}");
    let found = stdout
        .lines()
        .find(|line| line.starts_with("first regressed: "))
        .unwrap_or_else(|| panic!("no result line\n{all}"));
    assert!(
        found.starts_with(&format!(
            "first regressed: {} \"ten times the work\" {IAI_ID} ",
            &slower[..7]
        )),
        "{all}"
    );
    // Ten times the work: the count grows by far more than the threshold.
    let change: f64 = found
        .rsplit_once('(')
        .and_then(|(_, change)| change.strip_suffix(" %)"))
        .and_then(|change| change.parse().ok())
        .unwrap_or_else(|| panic!("no change in {found:?}"));
    assert!(change > 100.0, "{all}");
    assert!(
        stderr.contains(&format!(
            "bisect: {} cannot be measured; skipped",
            &broken[..7]
        )),
        "the commit that does not build was not skipped\n{all}"
    );
}

/// The fixture builds with its committed lock file, in the shared target directory (which
/// also compiles the dependencies before the first comparison).
#[test]
fn the_fixture_builds_with_its_lock_file() {
    let _harness = harness_lock();
    // A fixed folder, so that each run rebuilds the same artifacts instead of adding new ones.
    let copy = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gate-build");
    if copy.exists() {
        std::fs::remove_dir_all(&copy).unwrap();
    }
    copy_tree(&fixture_dir(), &copy);
    let mut command = Command::new(env!("CARGO"));
    command
        .args(["bench", "--no-run", "--locked"])
        .current_dir(&copy)
        .env("CARGO_TARGET_DIR", gate_target());
    if let Some(runner) = installed_runner() {
        command.env("IAI_CALLGRIND_RUNNER", runner);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lock_before = std::fs::read_to_string(fixture_dir().join("Cargo.lock")).unwrap();
    let lock_after = std::fs::read_to_string(copy.join("Cargo.lock")).unwrap();
    assert_eq!(lock_before, lock_after, "the build changed Cargo.lock");
    std::fs::remove_dir_all(&copy).unwrap();
}

/// The helpers above build the repositories the tests need (no harness involved).
#[test]
fn support_builds_the_repositories_the_gate_tests_need() {
    assert_eq!(
        markdown_text(r"gate\_fixture::fixture\_hot\_loop \[+1%\] a\b"),
        r"gate_fixture::fixture_hot_loop [+1%] a\b"
    );
    let repo = Repo::new();
    assert_eq!(
        repo.work(),
        2000,
        "the fixture's WORK changed: update the tests"
    );
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), "");
    assert!(repo.path().join("Cargo.lock").is_file());

    let docs = repo.commit_readme_only();
    assert_eq!(
        git(repo.path(), &["diff", "--name-only", &repo.base, &docs]),
        "README.md"
    );
    let slower = repo.commit_ten_times_slower();
    assert_eq!(repo.work(), 20_000);
    assert_eq!(
        git(repo.path(), &["diff", "--name-only", &docs, &slower]),
        "src/lib.rs"
    );
    let broken = repo.commit_criterion_panic();
    assert!(
        repo.read("benches/wall.rs")
            .contains("panic!(\"fixture panic\")")
    );
    assert_eq!(
        git(repo.path(), &["diff", "--name-only", &slower, &broken]),
        "benches/wall.rs"
    );
    repo.make_ten_times_slower();
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), "M src/lib.rs");

    let clone = repo.shallow_clone();
    assert_eq!(git(clone.path(), &["rev-parse", "HEAD"]), broken);
    assert_eq!(git(clone.path(), &["rev-list", "--count", "HEAD"]), "1");
    assert_eq!(
        git(clone.path(), &["rev-parse", "--is-shallow-repository"]),
        "true"
    );
    let base_present = Command::new("git")
        .arg("-C")
        .arg(clone.path())
        .args(["cat-file", "-e", &format!("{}^{{commit}}", repo.base)])
        .output()
        .unwrap();
    assert!(!base_present.status.success(), "the base is in the clone");
}

/// The fixture is a workspace of its own: the outer workspace does not see it.
#[test]
fn the_fixture_is_not_a_member_of_the_outer_workspace() {
    let outer = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(outer.join("Cargo.toml"))
        .no_deps()
        .exec()
        .unwrap();
    assert!(
        metadata
            .packages
            .iter()
            .all(|package| package.name != "gate-fixture"),
        "the gate fixture became a member of the outer workspace"
    );
    let fixture = cargo_metadata::MetadataCommand::new()
        .manifest_path(fixture_dir().join("Cargo.toml"))
        .no_deps()
        .exec()
        .unwrap();
    assert_eq!(
        fixture.workspace_root.as_std_path(),
        fixture_dir().as_path()
    );
}
