//! `cargo xtask` — relu's repository automation.
//!
//! * `cargo xtask tidy`: architecture and hygiene checks (the crate stack, no ignored tests,
//!   docs required on library crates, `anyhow` only in binaries). The same checks run as a
//!   plain `#[test]` in `cargo test --workspace`.
//! * `cargo xtask bench [FILTER] [--vs-torch PYTHON]`: runs the criterion benchmarks and the
//!   end-to-end training-throughput comparison (with PyTorch's reference script when a Python
//!   with torch is given), and writes a markdown summary of medians and ratios to
//!   `target/bench/summary.md`.
//! * `cargo xtask docs`: builds the API docs with warnings as errors.

mod bench;
mod tidy;

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    match args.first().map(String::as_str) {
        Some("tidy") => {
            let problems = tidy::check(&root)?;
            if problems.is_empty() {
                println!("tidy: ok");
                Ok(())
            } else {
                for p in &problems {
                    eprintln!("tidy: {p}");
                }
                bail!("tidy found {} problem(s)", problems.len())
            }
        }
        Some("bench") => bench::run(&root, &args[1..]),
        Some("docs") => {
            let status = Command::new(cargo())
                .current_dir(&root)
                .env("RUSTDOCFLAGS", "-D warnings")
                .args(["doc", "--workspace", "--no-deps"])
                .status()
                .context("running cargo doc")?;
            if !status.success() {
                bail!("cargo doc failed");
            }
            Ok(())
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <tidy|bench [FILTER] [--vs-torch PYTHON] [--runs N] [--mnist DIR] [--examples N] [--skip-criterion]|docs>"
            );
            std::process::exit(2)
        }
    }
}

/// The workspace root (the parent of this crate's directory).
pub(crate) fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives one level below the root").to_path_buf()
}

/// The cargo binary driving us, falling back to `cargo` on the PATH.
pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}
