//! Every `relu …` command in README.md and docs/*.md, run as written — on small fixtures
//! placed where the commands look for data (`~/mnist`, `reviews.tsv.gz`,
//! `../shared/data/...`), with one epoch — so a README that stops working fails the suite.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// Commands that need the network; every other `relu` line runs.
const NEEDS_NETWORK: &[&str] = &["relu data fetch"];

/// The `relu` command lines of the ```sh blocks of `file`, comments removed.
fn commands(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
            continue;
        }
        let cmd = line.split(" #").next().unwrap().trim();
        if in_sh && (cmd.starts_with("relu ") || cmd.starts_with("cargo ")) {
            out.push(cmd.to_owned());
        }
    }
    out
}

/// The arguments after `relu`, made quick: one epoch (and one pre-training epoch), at most 300
/// training examples, two threads; the small MNIST fixture instead of the embedded 8,000-image
/// default; for `reproduce`, one learning rate, and two folds of 64-unit networks for
/// `sentiment`. Everything else stays as written.
fn quick(cmd: &str, home: &Path) -> Vec<String> {
    // `~/` as the shell expands it (specs such as mnist:~/mnist are expanded by relu itself).
    let home_words = |w: &str| w.strip_prefix("~/").map_or_else(|| w.to_owned(), |rest| home.join(rest).display().to_string());
    let mut args: Vec<String> = cmd.split_whitespace().skip(1).map(home_words).collect();
    let has = |args: &[String], flag: &str| args.iter().any(|a| a == flag);
    for i in 1..args.len() {
        // One epoch, so weight averaging starts at it.
        if args[i - 1] == "--epochs" || args[i - 1] == "--pretrain-epochs" || args[i - 1] == "--average-from" {
            args[i] = "1".into();
        }
    }
    let trains = matches!(args[0].as_str(), "train" | "reproduce");
    if trains && !has(&args, "--epochs") {
        args.extend(["--epochs".into(), "1".into()]);
    }
    let pretrains = args[0] == "pretrain" || args[0] == "reproduce" || args.iter().any(|a| a.contains("dae"));
    if pretrains && !has(&args, "--pretrain-epochs") {
        args.extend(["--pretrain-epochs".into(), "1".into()]);
    }
    if trains && !has(&args, "--limit") {
        args.extend(["--limit".into(), "300".into()]);
    }
    if matches!(args[0].as_str(), "train" | "pretrain") && !has(&args, "--data") {
        args.extend(["--data".into(), format!("mnist:{}", home.join("mnist").display())]);
    }
    if args[0] == "reproduce" && !has(&args, "--lr-grid") {
        args.extend(["--lr-grid".into(), "0.1".into()]);
    }
    if args.get(1).is_some_and(|a| a == "sentiment") {
        for (flag, value) in [("--folds", "2"), ("--units", "64")] {
            if !has(&args, flag) {
                args.extend([flag.into(), value.into()]);
            }
        }
    }
    if matches!(args[0].as_str(), "train" | "reproduce" | "pretrain" | "eval" | "inspect") && !has(&args, "--threads") {
        args.extend(["--threads".into(), "2".into()]);
    }
    args
}

/// CIFAR-10 binary batches of `n` records each.
fn write_cifar_dir(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = Lcg::new(5);
    let batch = |rng: &mut Lcg, n: usize| -> Vec<u8> {
        (0..n).flat_map(|i| std::iter::once((i % 10) as u8).chain((0..3072).map(|_| rng.below(256) as u8)).collect::<Vec<_>>()).collect()
    };
    for name in ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"] {
        std::fs::write(dir.join(name), batch(&mut rng, n)).unwrap();
    }
    // The paper's split takes its 5,000 validation images from the test batch.
    std::fs::write(dir.join("test_batch.bin"), batch(&mut rng, 5000 + n)).unwrap();
}

fn gzip(src: &Path, dst: &Path) {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &std::fs::read(src).unwrap()).unwrap();
    std::fs::write(dst, enc.finish().unwrap()).unwrap();
}

/// A home folder with the data every documented command reads, and the working folder inside
/// it the commands run from.
fn fixtures(root: &Path) -> (PathBuf, PathBuf) {
    let home = root.join("home");
    let work = home.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let idx = write_idx_dir(root, 240, 60, 28);
    let shared = home.join("shared").join("data");
    std::fs::create_dir_all(shared.join("reviews")).unwrap();
    for dst in [home.join("mnist"), shared.join("mnist")] {
        std::fs::create_dir_all(&dst).unwrap();
        for e in std::fs::read_dir(&idx).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
    write_cifar_dir(&home.join("cifar-10-batches-bin"), 20);
    let tsv = write_reviews_tsv(root, 200);
    for dst in [
        work.join("reviews.tsv.gz"),
        work.join("pang_lee_polarity.tsv.gz"),
        shared.join("reviews").join("pang_lee_polarity.tsv.gz"),
        shared.join("reviews").join("rotten_tomatoes_snippets.tsv.gz"),
    ] {
        gzip(&tsv, &dst);
    }
    std::fs::write(work.join("reviews.txt"), "a wonderful superb film\nboring awful plot\n").unwrap();
    std::fs::write(work.join("more_reviews.txt"), "the plot was great\nthe actors were dull\n").unwrap();
    std::fs::write(work.join("run.toml"), "hidden = [32]\nepochs = 1\n").unwrap();
    // The README's sweep file, made quick (the embedded digits, tiny networks, one epoch).
    std::fs::write(
        work.join("sweep.toml"),
        "data = \"mnist\"\nhidden = [32]\nepochs = 1\nlimit = 200\nthreads = 2\n[grid]\nl1 = [0.0, 0.001]\n",
    )
    .unwrap();
    (home, work)
}

/// For a documented `cargo` command, a package (`-p`) or example (`--example`) that does not
/// exist, or an unknown `cargo xtask` task.
fn cargo_target_problem(repo: &Path, cmd: &str) -> Option<String> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let after = |flag: &str| words.iter().position(|w| *w == flag).and_then(|i| words.get(i + 1)).copied();
    if words.get(1) == Some(&"xtask") {
        let task = words.get(2).copied().unwrap_or_default();
        return (!["bench", "docs", "tidy"].contains(&task)).then(|| format!("no xtask `{task}`"));
    }
    let package = after("-p");
    if let Some(p) = package
        && !repo.join("crates").join(p).join("Cargo.toml").is_file()
    {
        return Some(format!("no package `{p}` in crates/"));
    }
    if let (Some(p), Some(ex)) = (package, after("--example"))
        && !repo.join("crates").join(p).join("examples").join(format!("{ex}.rs")).is_file()
    {
        return Some(format!("no example `{ex}` in crates/{p}/examples"));
    }
    None
}

#[test]
fn every_documented_relu_command_runs() {
    let root = tempfile::tempdir().unwrap();
    let (home, work) = fixtures(root.path());
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    assert!(cargo_target_problem(&repo, "cargo run -p relu-data --example nonexistent").is_some(), "the cargo check can fail");
    let mut files = vec![repo.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let (mut ran, mut skipped, mut failed) = (0, Vec::new(), Vec::new());
    for file in &files {
        for cmd in commands(file) {
            if cmd.starts_with("cargo ") {
                // Not run here (they build or benchmark for minutes), but what they name exists.
                if let Some(problem) = cargo_target_problem(&repo, &cmd) {
                    failed.push(format!("{}: `{cmd}`: {problem}", file.file_name().unwrap().to_string_lossy()));
                }
                continue;
            }
            if NEEDS_NETWORK.iter().any(|p| cmd.starts_with(p)) {
                skipped.push(cmd);
                continue;
            }
            let args = quick(&cmd, &home);
            let start = std::time::Instant::now();
            let out = relu().args(&args).current_dir(&work).env("HOME", &home).output().unwrap();
            println!("{:6.1} s  relu {}", start.elapsed().as_secs_f64(), args.join(" "));
            ran += 1;
            if !out.status.success() {
                let name = file.file_name().unwrap().to_string_lossy().into_owned();
                failed.push(format!("{name}: `{cmd}` (run as `relu {}`): {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
            }
        }
    }
    // Visible, not silent: what was not run, and why.
    println!("ran {ran} documented commands; skipped (need the network): {skipped:?}");
    assert!(ran >= 28, "only {ran} commands found: is the extraction broken?");
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(failed.is_empty(), "{} documented commands fail:\n{}", failed.len(), failed.join("\n"));
}
