//! `cargo xtask bench`: run the criterion benchmarks and summarise them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// One criterion measurement.
#[derive(Debug, Clone)]
struct Measurement {
    group: String,
    function: String,
    parameter: String,
    median_ns: f64,
    /// Elements (for our kernels: dense-equivalent flops) per iteration.
    elements: Option<f64>,
}

/// Options of `cargo xtask bench`.
#[derive(Debug, Default)]
struct Options {
    filter: Option<String>,
    vs_torch: Option<String>,
    runs: usize,
    mnist: Option<PathBuf>,
    examples: usize,
    skip_criterion: bool,
    skip_cli: bool,
}

fn parse(root: &Path, args: &[String]) -> Result<Options> {
    let mut o = Options { runs: 3, examples: 10_000, ..Options::default() };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().cloned().with_context(|| format!("{name} needs a value"));
        match a.as_str() {
            "--vs-torch" => o.vs_torch = Some(value("--vs-torch")?),
            "--runs" => o.runs = value("--runs")?.parse().context("--runs takes a positive number")?,
            "--mnist" => o.mnist = Some(PathBuf::from(value("--mnist")?)),
            "--examples" => o.examples = value("--examples")?.parse().context("--examples takes a positive number")?,
            "--skip-criterion" => o.skip_criterion = true,
            "--skip-cli" => o.skip_cli = true,
            f if !f.starts_with("--") && o.filter.is_none() => o.filter = Some(f.to_owned()),
            other => bail!(
                "unknown option {other}: expected [FILTER] [--vs-torch PYTHON] [--runs N] [--mnist DIR] [--examples N] [--skip-criterion] [--skip-cli]"
            ),
        }
    }
    if o.runs == 0 {
        bail!("--runs must be at least 1");
    }
    if o.mnist.is_none() {
        let shared = root.join("../shared/data/mnist");
        if shared.join("train-images-idx3-ubyte.gz").exists() {
            o.mnist = Some(shared);
        }
    }
    Ok(o)
}

pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let o = parse(root, args)?;
    let mut summary = String::new();
    if !o.skip_criterion {
        let mut cmd = Command::new(crate::cargo());
        // `bench` turns on each crate's criterion benchmarks (criterion stays out of `cargo
        // test`); `bench-gemm` adds the `gemm` crate's sgemm to the dense-path comparison.
        cmd.current_dir(root).args(["bench", "--workspace", "--features", "relu-core/bench-gemm,relu-data/bench,relu-nn/bench"]);
        if let Some(f) = &o.filter {
            cmd.args(["--", f]);
        }
        let status = cmd.status().context("running cargo bench")?;
        if !status.success() {
            bail!("cargo bench failed");
        }
        let ms = collect(&root.join("target/criterion"))?;
        summary.push_str(&render(&ms));
        summary.push_str(&dense_vs_sgemm(&ms));
    }
    summary.push_str(&end_to_end(root, &o)?);
    if !o.skip_cli {
        summary.push_str(&through_the_cli(root, &o)?);
    }
    let out_dir = root.join("target/bench");
    std::fs::create_dir_all(&out_dir)?;
    let path = out_dir.join("summary.md");
    let tmp = out_dir.join("summary.md.tmp");
    std::fs::write(&tmp, &summary)?;
    std::fs::rename(&tmp, &path)?;
    println!("{summary}");
    println!("wrote {}", path.display());
    Ok(())
}

/// Training throughput of the paper's network, ours (`relu-nn`'s `throughput` example) and, with
/// `--vs-torch`, PyTorch's (`shared/reference/torch_throughput.py`), alternating runs in this one
/// command so both see the same machine state; medians and ratios as a markdown table.
fn end_to_end(root: &Path, o: &Options) -> Result<String> {
    let status = Command::new(crate::cargo())
        .current_dir(root)
        .args(["build", "--release", "-p", "relu-nn", "--example", "throughput"])
        .status()
        .context("building the throughput example")?;
    if !status.success() {
        bail!("building the throughput example failed");
    }
    let ours = root.join("target/release/examples/throughput");
    let script = root.join("../shared/reference/torch_throughput.py");
    let threads = 2;
    let mut out = format!(
        "\n## End-to-end training throughput\n\n784-1000-1000-1000-10 rectifier, L1 1e-3, plain SGD lr 0.01, first {} training examples{}, {threads} threads, fresh initialisation, 20 warm-up batches; median of {} alternating runs.\n\n",
        o.examples,
        if o.mnist.is_some() { " of real MNIST" } else { " (synthetic uniform inputs: no MNIST found)" },
        o.runs
    );
    out.push_str("| batch | relu examples/s (runs) | relu hidden zeros | PyTorch examples/s (runs) | relu / PyTorch |\n| --- | --- | --- | --- | --- |\n");
    for batch in [10usize, 128] {
        let mut args = vec![threads.to_string(), batch.to_string(), o.examples.to_string()];
        if let Some(m) = &o.mnist {
            args.push(m.display().to_string());
        }
        let (mut relu, mut torch, mut zeros) = (Vec::new(), Vec::new(), String::new());
        for _ in 0..o.runs {
            let line = run_line(Command::new(&ours).args(&args))?;
            relu.push(examples_per_second(&line)?);
            zeros = line.split("hidden zeros ").nth(1).unwrap_or("").trim_end_matches(')').to_owned();
            if let Some(py) = &o.vs_torch {
                let line = run_line(Command::new(py).arg(&script).args(&args))?;
                torch.push(examples_per_second(&line)?);
            }
        }
        let fmt = |v: &[f64]| v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(", ");
        let (mr, mt) = (median(&relu), (!torch.is_empty()).then(|| median(&torch)));
        let _ = writeln!(
            out,
            "| {batch} | **{mr:.0}** ({}) | {zeros} | {} | {} |",
            fmt(&relu),
            mt.map_or("not run (pass --vs-torch PYTHON)".into(), |m| format!("**{m:.0}** ({})", fmt(&torch))),
            mt.map_or("–".into(), |m| format!("**{:.2}×**", mr / m)),
        );
    }
    Ok(out)
}

/// The dense path (`dense_affine`, relu's wrapper) against the fastest sgemm measured on the same
/// shape, one thread and the whole pool.
fn dense_vs_sgemm(ms: &[Measurement]) -> String {
    let get = |f: &str, p: &str| ms.iter().find(|m| m.group == "sgemm" && m.function == f && m.parameter == p).map(|m| m.median_ns);
    let mut params: Vec<&str> = ms.iter().filter(|m| m.group == "sgemm").map(|m| m.parameter.as_str()).collect();
    params.dedup();
    if params.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\n## Dense path vs the fastest sgemm\n\n| shape/batch | threads | relu dense_affine | matrixmultiply | gemm crate | relu / fastest |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    for p in params {
        for (t, ours, mm, gemm) in [("1", "dense_affine_1t", Some("matrixmultiply"), "gemm_1t"), ("2", "dense_affine_2t", None, "gemm_2t")]
        {
            let Some(o) = get(ours, p) else { continue };
            let mmv = mm.and_then(|f| get(f, p));
            let gv = get(gemm, p);
            let best = [mmv, gv].into_iter().flatten().fold(f64::INFINITY, f64::min);
            let cell = |v: Option<f64>| v.map_or("–".into(), fmt_time);
            let ratio = if best.is_finite() { format!("{:.0} %", 100.0 * best / o) } else { "–".into() };
            let _ = writeln!(out, "| {p} | {t} | {} | {} | {} | {ratio} |", fmt_time(o), cell(mmv), cell(gv));
        }
    }
    out
}

/// Training and inference speed through the `relu` binary — what a user runs — against PyTorch,
/// alternating the two in this one command (real MNIST only).
fn through_the_cli(root: &Path, o: &Options) -> Result<String> {
    let Some(mnist) = &o.mnist else {
        return Ok("\n## Through the relu command\n\nNot run: no MNIST directory (pass --mnist DIR).\n".into());
    };
    let status =
        Command::new(crate::cargo()).current_dir(root).args(["build", "--release", "-p", "relu-cli"]).status().context("building relu")?;
    if !status.success() {
        bail!("building relu failed");
    }
    let relu = root.join("target/release/relu");
    let data = format!("mnist:{}", mnist.display());
    let work = root.join("target/bench/cli");
    let torch_script = root.join("../shared/reference/torch_throughput.py");
    let forward_script = root.join("xtask/torch_forward.py");
    let train = |name: &str, extra: &[&str]| -> Result<(f64, PathBuf)> {
        let out = work.join(name);
        let _ = std::fs::remove_dir_all(&out);
        let mut cmd = Command::new(&relu);
        cmd.args(["train", "--data", &data, "--threads", "2", "--quiet", "--out"]).arg(&out).args(extra);
        run_stdout(&mut cmd)?;
        let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json"))?)?;
        let eps = report["training"]["examples_per_second"].as_f64().context("report.json has no training.examples_per_second")?;
        Ok((eps, out))
    };
    let torch = |args: &[String]| -> Result<Option<f64>> {
        match &o.vs_torch {
            Some(py) => Ok(Some(examples_per_second(&run_line(Command::new(py).arg(&torch_script).args(args))?)?)),
            None => Ok(None),
        }
    };
    let mnist_arg = mnist.display().to_string();
    let mut rows = Vec::new();
    let (mut plain10, mut torch10) = (Vec::new(), Vec::new());
    for batch in ["10", "128"] {
        let (mut ours, mut theirs, mut momentum) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..o.runs {
            ours.push(train(&format!("epoch1-b{batch}"), &["--epochs", "1", "--batch", batch])?.0);
            if let Some(t) = torch(&["2".into(), batch.into(), "50000".into(), mnist_arg.clone()])? {
                theirs.push(t);
            }
            if batch == "10" {
                momentum.push(train("momentum", &["--epochs", "1", "--batch", "10", "--momentum", "0.9", "--lr", "0.003"])?.0);
            }
        }
        rows.push((format!("epoch 1, batch {batch}"), ours.clone(), theirs.clone()));
        if batch == "10" {
            rows.push(("epoch 1, batch 10, momentum 0.9".into(), momentum, theirs.clone()));
            plain10 = ours;
            torch10 = theirs;
        }
    }
    let (mut five, mut model) = (Vec::new(), None);
    for _ in 0..o.runs {
        let (eps, dir) = train("five-epochs", &["--epochs", "5", "--batch", "10"])?;
        five.push(eps);
        model = Some(dir);
    }
    rows.push(("5 epochs, batch 10 (whole run)".into(), five, torch10.clone()));
    let mut out = format!(
        "\n## Through the relu command\n\n`relu train --data mnist:DIR --threads 2` (784-1000-1000-1000-10 rectifier, L1 1e-3, lr 0.01; training examples/s from report.json, 50,000 training images per epoch) against `torch_throughput.py 2 BATCH 50000 DIR`, alternating, median of {} runs. PyTorch's speed does not depend on the epoch or the activations' sparsity, so its batch-10 runs are the reference for every batch-10 row.\n\n| run | relu examples/s (runs) | PyTorch examples/s (runs) | relu / PyTorch |\n| --- | --- | --- | --- |\n",
        o.runs
    );
    let fmt = |v: &[f64]| v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(", ");
    for (name, ours, theirs) in &rows {
        let ratio = if theirs.is_empty() { "–".into() } else { format!("**{:.2}×**", median(ours) / median(theirs)) };
        let t =
            if theirs.is_empty() { "not run (pass --vs-torch PYTHON)".into() } else { format!("{:.0} ({})", median(theirs), fmt(theirs)) };
        let _ = writeln!(out, "| {name} | **{:.0}** ({}) | {t} | {ratio} |", median(ours), fmt(ours));
    }
    let momentum = &rows[1].1;
    let _ = writeln!(
        out,
        "\nMomentum 0.9 costs {:.2}× plain SGD's time per example (medians of the rows above).",
        median(&plain10) / median(momentum)
    );
    // Inference on the trained network of the last 5-epoch run.
    let model = model.context("no 5-epoch run")?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..o.runs {
        let text = run_stdout(Command::new(&relu).args(["eval", "--json", "--threads", "2", "--data", &data, "--model"]).arg(&model))?;
        let v: serde_json::Value = serde_json::from_str(&text).context("relu eval --json")?;
        ours.push(v["examples_per_second"].as_f64().context("relu eval printed no examples_per_second")?);
        if let Some(py) = &o.vs_torch {
            theirs.push(examples_per_second(&run_line(Command::new(py).arg(&forward_script).arg(&model).arg(mnist).args(["2", "1000"]))?)?);
        }
    }
    let _ = writeln!(
        out,
        "\nInference on the 5-epoch network (10,000 test images, batches of 1000, 2 threads): `relu eval --json` {:.0} examples/s ({}) vs PyTorch's forward of the same weights (`xtask/torch_forward.py`) {} → {}.",
        median(&ours),
        fmt(&ours),
        if theirs.is_empty() { "not run".into() } else { format!("{:.0} ({})", median(&theirs), fmt(&theirs)) },
        if theirs.is_empty() { "–".into() } else { format!("**{:.2}×**", median(&ours) / median(&theirs)) },
    );
    Ok(out)
}

/// Runs `cmd`, failing with its stderr unless it succeeds; returns its stdout.
fn run_stdout(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn run_line(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().last().map(str::to_owned).with_context(|| format!("{cmd:?} printed nothing"))
}

/// The number before "examples/s" in a throughput line (ours and PyTorch's print the same form).
fn examples_per_second(line: &str) -> Result<f64> {
    let before = line.split(" examples/s").next().unwrap_or_default();
    before.rsplit(' ').next().and_then(|v| v.parse().ok()).with_context(|| format!("no examples/s in `{line}`"))
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 }
}

fn collect(dir: &Path) -> Result<Vec<Measurement>> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries {
            let p: PathBuf = e?.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "new") {
                    if let Some(m) = read_measurement(&p)? {
                        found.push(m);
                    }
                } else {
                    stack.push(p);
                }
            }
        }
    }
    found.sort_by(|a, b| (&a.group, &a.parameter, &a.function).cmp(&(&b.group, &b.parameter, &b.function)));
    Ok(found)
}

fn read_measurement(dir: &Path) -> Result<Option<Measurement>> {
    let (Ok(bench), Ok(est)) = (std::fs::read_to_string(dir.join("benchmark.json")), std::fs::read_to_string(dir.join("estimates.json")))
    else {
        return Ok(None);
    };
    let bench: serde_json::Value = serde_json::from_str(&bench).with_context(|| format!("parsing {}", dir.display()))?;
    let est: serde_json::Value = serde_json::from_str(&est).with_context(|| format!("parsing {}", dir.display()))?;
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    Ok(Some(Measurement {
        group: s(&bench["group_id"]),
        function: s(&bench["function_id"]),
        parameter: s(&bench["value_str"]),
        median_ns: est["median"]["point_estimate"].as_f64().unwrap_or(f64::NAN),
        elements: bench["throughput"]["Elements"].as_f64(),
    }))
}

/// Dense and sparse medians of one (group, parameters) cell.
type DenseSparse = (Option<f64>, Option<f64>);

fn fmt_time(ns: f64) -> String {
    if ns >= 1e6 { format!("{:.3} ms", ns / 1e6) } else { format!("{:.1} µs", ns / 1e3) }
}

fn render(ms: &[Measurement]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Benchmark summary\n\nMedians from criterion (`target/criterion`). Throughput is dense-equivalent GFLOP/s (2·out·in·batch per call).\n"
    );
    let _ = writeln!(out, "| group | function | parameters | median | GFLOP/s |\n| --- | --- | --- | --- | --- |");
    for m in ms {
        let gflops = m.elements.map_or(String::from("–"), |e| format!("{:.1}", e / m.median_ns));
        let _ = writeln!(out, "| {} | {} | {} | {} | {} |", m.group, m.function, m.parameter, fmt_time(m.median_ns), gflops);
    }
    // Sparse vs dense speed-ups for every (group, parameters) measured both ways.
    let mut pairs: BTreeMap<(&str, &str), DenseSparse> = BTreeMap::new();
    for m in ms {
        let entry = pairs.entry((&m.group, &m.parameter)).or_default();
        match m.function.as_str() {
            "dense" => entry.0 = Some(m.median_ns),
            "sparse" => entry.1 = Some(m.median_ns),
            _ => {}
        }
    }
    let ratios: Vec<_> = pairs.iter().filter_map(|(k, v)| Some((k, v.0?, v.1?))).collect();
    if !ratios.is_empty() {
        let _ = writeln!(
            out,
            "\n## Sparse speed-up over dense (dense median / sparse median)\n\n| kernel | parameters | dense | sparse | speed-up |\n| --- | --- | --- | --- | --- |"
        );
        for ((group, param), dense, sparse) in ratios {
            let _ = writeln!(out, "| {group} | {param} | {} | {} | {:.2}× |", fmt_time(dense), fmt_time(sparse), dense / sparse);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_throughput_lines_and_medians() {
        assert_eq!(examples_per_second("torch 2.15.0 threads=2 batch=10: 2064 examples/s train").unwrap(), 2064.0);
        assert_eq!(examples_per_second("relu threads=2 batch=10: 4608 examples/s train (hidden zeros 53.4%/49.2%/45.9%)").unwrap(), 4608.0);
        assert!(examples_per_second("nothing here").is_err());
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn summary_pairs_dense_and_sparse() {
        let m = |f: &str, ns: f64| Measurement {
            group: "forward".into(),
            function: f.into(),
            parameter: "p".into(),
            median_ns: ns,
            elements: Some(2e6),
        };
        let text = render(&[m("dense", 3000.0), m("sparse", 1000.0)]);
        assert!(text.contains("| forward | p | 3.0 µs | 1.0 µs | 3.00× |"), "{text}");
        assert!(text.contains("| forward | dense | p | 3.0 µs | 666.7 |"), "{text}");
    }
}
