//! Writes synthetic criterion output for timing `cargo xtask bench diff` against other tools:
//!
//! ```text
//! cargo run --release -p xtask --example criterion_folders -- OUT [BENCHMARKS [SAMPLES]]
//! ```
//!
//! `OUT/old` and `OUT/new` are two criterion folders (baseline `new` in each, 1,000 benchmarks
//! of 100 samples by default; every 50th benchmark 30 % slower in `new`), and
//! `OUT/both/criterion` holds the same data as two saved baselines, `old` and `new`, side by
//! side, as `cargo bench -- --save-baseline` leaves them (for `critcmp --target-dir OUT/both old
//! new`).

#[path = "../benches/support/criterion_folders.rs"]
mod criterion_folders;

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let out = PathBuf::from(
        args.next()
            .expect("usage: criterion_folders OUT [BENCHMARKS [SAMPLES]]"),
    );
    let mut number = |default: usize| {
        args.next()
            .map_or(default, |a| a.to_string_lossy().parse().expect("a count"))
    };
    let n_benchmarks = number(1_000);
    let n_samples = number(100);
    let both = out.join("both/criterion");
    criterion_folders::write(&out.join("old"), "new", n_benchmarks, n_samples, 1, 0.0)?;
    criterion_folders::write(&out.join("new"), "new", n_benchmarks, n_samples, 2, 0.3)?;
    criterion_folders::write(&both, "old", n_benchmarks, n_samples, 1, 0.0)?;
    criterion_folders::write(&both, "new", n_benchmarks, n_samples, 2, 0.3)?;
    eprintln!(
        "wrote {n_benchmarks} benchmarks x {n_samples} samples to {0}/old, {0}/new and {1} (baselines old, new)",
        out.display(),
        both.display()
    );
    Ok(())
}
