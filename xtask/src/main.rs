//! `cargo xtask`: the workspace's own tooling; the benchmark harness lives here.

use clap::Parser;

/// The workspace's tooling. The benchmark harness (`cargo xtask bench`) lands here next.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about, long_about = None)]
struct Cli {}

fn main() {
    let Cli {} = Cli::parse();
    eprintln!("cargo xtask: no command given; see `cargo xtask --help`");
    std::process::exit(2);
}
