//! Building and running the benchmark executables, with a progress bar.
//!
//! Benchmarks are built once with `cargo bench --no-run` and then run directly, so the harness
//! controls where their output goes (`CRITERION_HOME`, iai-callgrind's home), can count them
//! for the progress bar, and can stop them on Ctrl-C.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use cargo_metadata::{Message, TargetKind};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::discover::BenchTarget;

/// Set by the Ctrl-C handler; running benchmarks are stopped and nothing is written.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// How many lines of a failed benchmark's output to show.
const TAIL_LINES: usize = 20;

/// A bench target and its built executable.
#[derive(Debug, Clone)]
pub struct Built {
    pub target: BenchTarget,
    pub executable: PathBuf,
}

/// Builds `targets` of the workspace at `root` in release mode (the `bench` profile) with one
/// `cargo bench --no-run` for all of them, and finds their executables from cargo's JSON
/// messages, matched by package id and target name (two packages may both have a bench target
/// named `cache`).
///
/// `env` is set for the build: iai-callgrind benches compile in the path of their runner
/// (`IAI_CALLGRIND_RUNNER`), so it must be set when they are built, not only when they run.
/// `target_dir` replaces the workspace's target folder (`--target-dir`), so that two checkouts
/// of one workspace can share compiled dependencies.
pub fn build(
    root: &Path,
    targets: &[BenchTarget],
    env: &[(OsString, OsString)],
    target_dir: Option<&Path>,
) -> anyhow::Result<Vec<Built>> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let manifest = root.join("Cargo.toml");
    // Package names are unique within a workspace; cargo's messages name packages by id.
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(&manifest)
        .no_deps()
        .exec()
        .with_context(|| format!("`cargo metadata` failed for {}", manifest.display()))?;
    let mut packages: Vec<&str> = targets.iter().map(|t| t.package.as_str()).collect();
    packages.sort_unstable();
    packages.dedup();
    let mut names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    eprintln!(
        "building {} benchmark target{} of {} package{} (profile bench)...",
        targets.len(),
        if targets.len() == 1 { "" } else { "s" },
        packages.len(),
        if packages.len() == 1 { "" } else { "s" },
    );
    let mut command = Command::new(cargo());
    command
        .current_dir(root)
        .args([
            "bench",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .envs(env.iter().map(|(k, v)| (k, v)));
    if let Some(target_dir) = target_dir {
        command.arg("--target-dir").arg(target_dir);
    }
    // `--bench` applies to every selected package: a name that two packages share builds in
    // both (harmless), and the wanted ones are picked out below by package and name.
    for package in &packages {
        command.args(["--package", package]);
    }
    for name in &names {
        command.args(["--bench", name]);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot run cargo")?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut executables = Vec::new();
    for message in Message::parse_stream(BufReader::new(stdout)) {
        if let Message::CompilerArtifact(artifact) = message.context("reading cargo's output")?
            && artifact.target.kind.contains(&TargetKind::Bench)
            && let Some(executable) = artifact.executable
        {
            let package = metadata
                .packages
                .iter()
                .find(|p| p.id == artifact.package_id)
                .map(|p| p.name.to_string());
            executables.push((
                package,
                artifact.target.name.clone(),
                executable.into_std_path_buf(),
            ));
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    if !status.success() {
        bail!(
            "building the benchmarks of {} failed; see the compiler output above",
            packages.join(", ")
        );
    }
    targets
        .iter()
        .map(|target| {
            let executable = executables
                .iter()
                .find(|(package, name, _)| {
                    package.as_deref() == Some(target.package.as_str()) && *name == target.name
                })
                .map(|(_, _, path)| path.clone())
                .with_context(|| {
                    format!(
                        "cargo built no executable for bench {}/{}",
                        target.package, target.name
                    )
                })?;
            Ok(Built {
                target: target.clone(),
                executable,
            })
        })
        .collect()
}

fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The ids a criterion executable holds (`--list`), listed with the environment it runs with
/// (a benchmark may read its inputs from a path given there).
pub fn list_criterion(built: &Built, env: &[(OsString, OsString)]) -> anyhow::Result<Vec<String>> {
    let mut command = Command::new(&built.executable);
    command
        .current_dir(&built.target.package_dir)
        .args(["--bench", "--list"])
        .envs(env.iter().map(|(k, v)| (k, v)));
    listed(built, command)
}

/// The entries an iai-callgrind executable lists (`--list`, answered by its runner without
/// valgrind), as the runner prints them: `<module path>[::<case>]`, in its order.
pub fn list_iai(invocation: &Invocation<'_>) -> anyhow::Result<Vec<String>> {
    let built = invocation.built;
    let mut command = Command::new(&built.executable);
    command
        .current_dir(&built.target.package_dir)
        .args(&invocation.args)
        .env("CARGO_PKG_NAME", &built.target.package)
        .envs(invocation.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null());
    for name in &invocation.env_remove {
        command.env_remove(name);
    }
    listed(built, command)
}

/// Runs a listing `command` of `built` and reads its `<id>: benchmark` lines (the format of
/// both criterion's and iai-callgrind's `--list`).
fn listed(built: &Built, mut command: Command) -> anyhow::Result<Vec<String>> {
    let output = command
        .output()
        .with_context(|| format!("cannot run {}", built.executable.display()))?;
    if !output.status.success() {
        bail!(
            "benchmark {}/{} failed to list its benchmarks ({}): {}",
            built.target.package,
            built.target.name,
            output.status,
            last_line(&String::from_utf8_lossy(&output.stderr))
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_suffix(": benchmark"))
        .map(str::to_string)
        .collect())
}

fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// A progress bar on stderr: benchmark n of N with an ETA; hidden when stderr is not a terminal.
pub fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} benchmark {pos}/{len}, ETA {eta} {wide_msg}",
        )
        .expect("the template is valid"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// What to run and how.
#[derive(Debug)]
pub struct Invocation<'a> {
    pub built: &'a Built,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    /// Variables removed from the benchmark's environment.
    pub env_remove: Vec<OsString>,
    /// Lines of standard output containing this mark advance the progress bar by one.
    pub progress_mark: Option<&'a str>,
    /// Pin the benchmark to this core (Linux), so that two can run side by side.
    pub cpu: Option<usize>,
}

/// Runs one benchmark executable to completion, advancing `bar` as its output reports
/// finished benchmarks. Its output is kept, not shown; on failure the last lines are printed
/// and the error names the benchmark.
pub fn execute(invocation: &Invocation<'_>, bar: &ProgressBar) -> anyhow::Result<()> {
    let target = &invocation.built.target;
    bar.set_message(format!("{}/{}", target.package, target.name));
    let mut command = Command::new(&invocation.built.executable);
    command
        .current_dir(&target.package_dir)
        .args(&invocation.args)
        // As under `cargo bench`; iai-callgrind names its output folder after it.
        .env("CARGO_PKG_NAME", &target.package)
        .envs(invocation.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in &invocation.env_remove {
        command.env_remove(name);
    }
    if let Some(cpu) = invocation.cpu {
        pin(&mut command, cpu);
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run {}", invocation.built.executable.display()))?;
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
    // The first panic's lines, whatever follows them (a backtrace pushes them out of the tail).
    let panic = Arc::new(Mutex::new(Vec::new()));
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let readers = [
        spawn_reader(
            Box::new(stdout),
            Arc::clone(&tail),
            Arc::clone(&panic),
            invocation.progress_mark.map(str::to_string),
            bar.clone(),
        ),
        spawn_reader(
            Box::new(stderr),
            Arc::clone(&tail),
            Arc::clone(&panic),
            None,
            bar.clone(),
        ),
    ];
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for a benchmark")? {
            break status;
        }
        if INTERRUPTED.load(Ordering::SeqCst) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("interrupted; nothing was recorded and no baseline was touched");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    for reader in readers {
        let _ = reader.join();
    }
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted; nothing was recorded and no baseline was touched");
    }
    if !status.success() {
        bar.suspend(|| {
            eprintln!("--- last output of {}/{} ---", target.package, target.name);
            for line in tail.lock().expect("no reader panics").iter() {
                eprintln!("{line}");
            }
        });
        let panic = panic_message(panic.lock().expect("no reader panics").iter());
        bail!(
            "benchmark {}/{} failed ({status}){}; fix it or leave it out with --filter",
            target.package,
            target.name,
            panic.map(|p| format!(": {p}")).unwrap_or_default()
        );
    }
    Ok(())
}

/// Makes the child run on core `cpu` only.
#[cfg(target_os = "linux")]
fn pin(command: &mut Command, cpu: usize) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec only async-signal-safe calls: sched_setaffinity is a
    // plain system call on a set built on this stack.
    unsafe {
        command.pre_exec(move || {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Elsewhere the benchmarks share the cores as the system schedules them.
#[cfg(not(target_os = "linux"))]
fn pin(_command: &mut Command, _cpu: usize) {}

/// The first panic in a benchmark's output: `panicked at FILE:LINE:COL: MESSAGE`, the message
/// taken from the next line where Rust prints it there.
pub fn panic_message<'a>(mut lines: impl Iterator<Item = &'a String>) -> Option<String> {
    while let Some(line) = lines.next() {
        if let Some(at) = line.find("panicked at ") {
            let location = line[at + "panicked at ".len()..]
                .trim_end_matches(':')
                .trim();
            let message = lines.next().map(|m| m.trim()).unwrap_or("");
            return Some(if message.is_empty() {
                format!("panicked at {location}")
            } else {
                format!("panicked at {location}: {message}")
            });
        }
    }
    None
}

fn spawn_reader(
    stream: Box<dyn std::io::Read + Send>,
    tail: Arc<Mutex<VecDeque<String>>>,
    panic: Arc<Mutex<Vec<String>>>,
    progress_mark: Option<String>,
    bar: ProgressBar,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        // The panic's message follows its location on the same stream; the other stream's
        // lines may come in between and must not be taken for it.
        let mut panicked_here = false;
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if progress_mark
                .as_deref()
                .is_some_and(|mark| line.contains(mark))
            {
                bar.inc(1);
            }
            {
                let mut panic = panic.lock().expect("no reader panics");
                if panic.is_empty() && line.contains("panicked at ") {
                    panic.push(line.clone());
                    panicked_here = true;
                } else if panicked_here && panic.len() == 1 {
                    panic.push(line.clone());
                }
            }
            let mut tail = tail.lock().expect("no reader panics");
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::discover::Harness;
    use std::os::unix::fs::PermissionsExt;

    /// A fake benchmark executable: a shell script.
    pub(crate) fn script(dir: &Path, body: &str) -> Built {
        let path = dir.join("fake-bench");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Built {
            target: BenchTarget {
                package: "pkg".to_string(),
                name: "fake".to_string(),
                harness: Harness::Criterion,
                src_path: path.clone(),
                package_dir: dir.to_path_buf(),
            },
            executable: path,
        }
    }

    fn invocation(built: &Built) -> Invocation<'_> {
        Invocation {
            built,
            args: Vec::new(),
            env: Vec::new(),
            env_remove: Vec::new(),
            progress_mark: Some("time:"),
            cpu: None,
        }
    }

    #[test]
    fn the_panic_message_is_kept() {
        let lines: Vec<String> = [
            "Benchmarking g/a",
            "thread 'main' panicked at benches/x.rs:3:5:",
            "fixture panic",
            "note: run with `RUST_BACKTRACE=1`",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            panic_message(lines.iter()).as_deref(),
            Some("panicked at benches/x.rs:3:5: fixture panic")
        );
        assert_eq!(panic_message(lines[..1].iter()), None);
    }

    #[test]
    fn a_panicking_benchmark_is_named_in_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let built = script(
            dir.path(),
            "echo 'thread main panicked at src/lib.rs:1:1' >&2; exit 101",
        );
        let error = execute(&invocation(&built), &ProgressBar::hidden()).unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("benchmark pkg/fake failed"), "{message}");
        assert!(message.contains("101"), "{message}");
        assert_eq!(message.lines().count(), 1);
    }

    /// Criterion's progress lines on stdout may arrive between the panic's location and its
    /// message on stderr; the message is still the one reported.
    #[test]
    fn the_panic_message_is_taken_from_the_stream_that_panicked() {
        let dir = tempfile::tempdir().unwrap();
        let built = script(
            dir.path(),
            "echo 'thread main panicked at src/lib.rs:1:1:' >&2\n\
             i=0; while [ $i -lt 200 ]; do echo; i=$((i + 1)); done\n\
             echo 'the message' >&2; exit 101",
        );
        let error = execute(&invocation(&built), &ProgressBar::hidden()).unwrap_err();
        let message = format!("{error:#}");
        assert!(
            message.contains("panicked at src/lib.rs:1:1: the message"),
            "{message}"
        );
    }

    #[test]
    fn progress_counts_finished_benchmarks() {
        let dir = tempfile::tempdir().unwrap();
        let built = script(
            dir.path(),
            "echo 'a  time: [1 ns 2 ns 3 ns]'; echo 'b'; echo '   time: [1 ns 2 ns 3 ns]'",
        );
        let bar = ProgressBar::hidden();
        bar.set_length(2);
        execute(&invocation(&built), &bar).unwrap();
        assert_eq!(bar.position(), 2);
    }

    /// Two packages with a bench target of the same name, built in one invocation into a
    /// given target folder: each target gets its own package's executable.
    #[test]
    fn one_build_keeps_same_named_targets_of_two_packages_apart() {
        let workspace = tempfile::tempdir().unwrap();
        let root = workspace.path();
        std::fs::write(
            root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"2\"\n",
        )
        .unwrap();
        for (package, benches) in [("a", &["same"][..]), ("b", &["same", "other"][..])] {
            let dir = root.join(package);
            std::fs::create_dir_all(dir.join("benches")).unwrap();
            std::fs::create_dir_all(dir.join("src")).unwrap();
            std::fs::write(dir.join("src/lib.rs"), "").unwrap();
            let mut manifest = format!(
                "[package]\nname = \"{package}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"
            );
            for bench in benches {
                manifest.push_str(&format!("[[bench]]\nname = \"{bench}\"\nharness = false\n"));
                std::fs::write(
                    dir.join(format!("benches/{bench}.rs")),
                    format!("fn main() {{ println!(\"{package}/{bench}\"); }}\n"),
                )
                .unwrap();
            }
            std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
        }
        let target = |package: &str, name: &str| BenchTarget {
            package: package.to_string(),
            name: name.to_string(),
            harness: Harness::Criterion,
            src_path: root.join(package).join(format!("benches/{name}.rs")),
            package_dir: root.join(package),
        };
        let targets = [
            target("a", "same"),
            target("b", "other"),
            target("b", "same"),
        ];
        let shared = tempfile::tempdir().unwrap();
        let built = build(root, &targets, &[], Some(shared.path())).unwrap();
        assert_eq!(built.len(), 3);
        for (built, target) in built.iter().zip(&targets) {
            assert_eq!(&built.target, target);
            assert!(built.executable.starts_with(shared.path()), "{built:?}");
            let output = Command::new(&built.executable).output().unwrap();
            assert_eq!(
                String::from_utf8_lossy(&output.stdout).trim(),
                format!("{}/{}", target.package, target.name)
            );
        }
        assert!(
            !root.join("target").exists(),
            "the given target folder is used"
        );
    }

    #[test]
    fn listing_reads_criterion_list_output() {
        let dir = tempfile::tempdir().unwrap();
        let built = script(
            dir.path(),
            "echo 'g/a: benchmark'; echo 'g/b c: benchmark'; echo",
        );
        assert_eq!(list_criterion(&built, &[]).unwrap(), ["g/a", "g/b c"]);
    }
}
