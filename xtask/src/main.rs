//! `cargo xtask`: parses the command line and dispatches; the logic lives in the library.
//!
//! Exit codes: 0 no regression, 1 a benchmark regressed, 2 the harness could not do its job.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The workspace's tooling: the benchmark harness.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Benchmarks: run, compare with baselines, import criterion output.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Read a criterion output directory (this workspace's or any other project's) into a run
    /// file, with every benchmark's raw samples.
    Import {
        /// A `target/criterion` folder, or any folder above criterion benchmark folders.
        dir: PathBuf,
        /// Which criterion baseline to read: `new` (the latest run), `base`, or a name given
        /// to `--save-baseline`.
        #[arg(long, default_value = "new")]
        baseline: String,
        /// Where to write the run file.
        #[arg(short, long)]
        output: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench { command } => match command {
            BenchCommand::Import {
                dir,
                baseline,
                output,
            } => xtask::import(&dir, &baseline, &output).map(|n_benchmarks| {
                eprintln!(
                    "imported {n_benchmarks} benchmarks from {} into {}",
                    dir.display(),
                    output.display()
                );
                ExitCode::SUCCESS
            }),
        },
    };
    result.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::from(2)
    })
}
