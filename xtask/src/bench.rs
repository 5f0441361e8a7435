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
            f if !f.starts_with("--") && o.filter.is_none() => o.filter = Some(f.to_owned()),
            other => bail!(
                "unknown option {other}: expected [FILTER] [--vs-torch PYTHON] [--runs N] [--mnist DIR] [--examples N] [--skip-criterion]"
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
        cmd.current_dir(root).args(["bench", "--workspace"]);
        if let Some(f) = &o.filter {
            cmd.args(["--", f]);
        }
        let status = cmd.status().context("running cargo bench")?;
        if !status.success() {
            bail!("cargo bench failed");
        }
        summary.push_str(&render(&collect(&root.join("target/criterion"))?));
    }
    summary.push_str(&end_to_end(root, &o)?);
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
