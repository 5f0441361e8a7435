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

pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let filter = args.first().filter(|a| !a.starts_with("--"));
    let mut cmd = Command::new(crate::cargo());
    cmd.current_dir(root).args(["bench", "--workspace"]);
    if let Some(f) = filter {
        cmd.args(["--", f]);
    }
    let status = cmd.status().context("running cargo bench")?;
    if !status.success() {
        bail!("cargo bench failed");
    }
    let measurements = collect(&root.join("target/criterion"))?;
    let summary = render(&measurements);
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
