//! `relu reproduce fig3`: rectifier networks trained with L1 penalties from 0 to `--l1-max`,
//! test error against sparsity, with a least-squares quadratic (the paper's Figure 3).

use anyhow::{Result, bail};
use relu_nn::NetworkSpec;
use serde::Serialize;

use super::{Defaults, Header, Job, NetResult, Runner, Splits, pct, train_job};
use crate::cli::Fig3Args;
use crate::cluster::{Cluster, Swept};
use crate::data::{self, DataSpec, TextOptions};
use crate::plots;

/// The paper's protocol; a network whose penalty silences a whole layer is a point of the
/// figure (where training collapses), not a failed run.
const DEFAULTS: Defaults = Defaults { stop_on_dead_layer: false, ..Defaults::paper(10, None, &[0.01], false) };

/// Networks with a higher validation error did not learn (chance on MNIST is 90%); they are
/// left out of the fit and the plot.
const MAX_VALID_ERROR: f64 = 0.5;

#[derive(Serialize)]
struct Fig3Report {
    #[serde(flatten)]
    header: Header,
    /// `error ≈ a + b·s + c·s²` over the networks that learned (`s` the mean sparsity), `null`
    /// with fewer than three of them.
    quadratic_fit: Option<[f64; 3]>,
    networks: Vec<NetResult>,
}

/// The L1 weights: 0, then `nets − 1` values spaced geometrically from `lo` to `hi`.
pub(super) fn penalties(nets: usize, lo: f32, hi: f32) -> Vec<f32> {
    let mut v = vec![0.0];
    let k = nets.saturating_sub(1);
    for i in 0..k {
        let t = if k == 1 { 1.0 } else { i as f64 / (k - 1) as f64 };
        v.push((f64::from(lo).ln() + t * (f64::from(hi).ln() - f64::from(lo).ln())).exp() as f32);
    }
    v.truncate(nets);
    v
}

/// Least-squares `y ≈ a + b·x + c·x²`; `None` for fewer than three distinct `x` values.
pub(super) fn quadratic_fit(points: &[(f64, f64)]) -> Option<[f64; 3]> {
    // Normal equations on centred x for conditioning, solved by Gaussian elimination with
    // partial pivoting, then expanded back to the uncentred polynomial.
    let n = points.len() as f64;
    if points.len() < 3 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mut m = [[0.0f64; 4]; 3];
    for &(x, y) in points {
        let u = x - mx;
        let pw = [1.0, u, u * u];
        for i in 0..3 {
            for j in 0..3 {
                m[i][j] += pw[i] * pw[j];
            }
            m[i][3] += pw[i] * y;
        }
    }
    for col in 0..3 {
        let piv = (col..3).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        m.swap(col, piv);
        if m[col][col].abs() < 1e-12 * (1.0 + m[0][0].abs()) {
            return None;
        }
        let pivot = m[col];
        for (r, row) in m.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot[col];
                for (v, p) in row.iter_mut().zip(pivot).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    let (a, b, c) = (m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]);
    // a + b(x − mx) + c(x − mx)²
    Some([a - b * mx + c * mx * mx, b - 2.0 * c * mx, c])
}

pub(super) fn run(args: &Fig3Args, cluster: &Cluster) -> Result<u8> {
    let spec = DataSpec::from_flag(&args.images.data)?;
    if spec.is_text() {
        bail!("--data {}: Figure 3 is on images (mnist, mnist:DIR, cifar10:DIR, norb:DIR)", args.images.data);
    }
    if !(2..=1000).contains(&args.nets) {
        bail!("--nets: invalid number of networks {}: expected 2 to 1000", args.nets);
    }
    if !(args.l1_min.is_finite() && args.l1_max.is_finite() && args.l1_min > 0.0 && args.l1_max >= args.l1_min) {
        bail!("--l1-min/--l1-max: invalid range {}..{}: expected 0 < --l1-min <= --l1-max", args.l1_min, args.l1_max);
    }
    // Either λ values, or sparsity targets whose λ starts at --l1-min and is adapted.
    let targets: Vec<Option<relu_nn::TargetSparsity>> = match &args.by_sparsity {
        Some(ts) => ts
            .iter()
            .map(|&t| relu_nn::TargetSparsity::uniform(t).map(Some))
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow::anyhow!("--by-sparsity: {e}"))?,
        None => Vec::new(),
    };
    if args.by_sparsity.as_ref().is_some_and(Vec::is_empty) {
        bail!("--by-sparsity: expected one or more target fractions, e.g. 0.5,0.7,0.9");
    }
    let r = Runner::new("fig3", &args.common, &DEFAULTS, cluster)?;
    let text = TextOptions { vocab: 1, bow: Default::default(), target: Default::default(), seed: r.seed };
    let loaded = data::load(&spec, text, r.limit)?;
    let l1s = if targets.is_empty() { penalties(args.nets, args.l1_min, args.l1_max) } else { vec![args.l1_min; targets.len()] };
    r.say(&format!(
        "figure 3 on {}: {} train, {} valid, {} test; {} rectifier networks 3x1000, {}; {} epochs",
        loaded.name,
        loaded.train.len(),
        loaded.valid.len(),
        loaded.test.len(),
        l1s.len(),
        match &args.by_sparsity {
            Some(ts) => format!("target sparsity {ts:?} (λ adapted from {:e})", args.l1_min),
            None => format!("L1 0 and {:e}..{:e}", args.l1_min, args.l1_max),
        },
        r.epochs
    ));
    let splits = Splits { train: &loaded.train, valid: Some(&loaded.valid), test: &loaded.test };
    let swept = r.sweep(cluster, l1s.len(), |i, budget| {
        let l1 = l1s[i];
        // Each network has its own initialisation and shuffling, as the paper's were random.
        let target = targets.get(i).copied().flatten();
        let settings = crate::settings::Settings {
            data: args.images.data.clone(),
            l1,
            seed: r.seed + i as u64,
            target_sparsity: target,
            ..r.settings()
        };
        let spec = NetworkSpec { inputs: loaded.dim(), hidden: settings.layers(), output: loaded.output };
        let name = match target {
            Some(t) => format!("net {:>2} target {t}", i + 1),
            None => format!("net {:>2} L1 {l1:.2e}", i + 1),
        };
        train_job(&r, Job { name, settings, spec, init: None }, &splits, budget)
    })?;
    let Some(Swept { done: networks, missing }) = swept else { return Ok(0) };
    // A penalty strong enough to silence nearly every unit leaves a network at chance level;
    // such points would dominate both the fit and the plot's scale, so they are listed in the
    // table but left out of both.
    let learned = |n: &NetResult| n.valid_error.is_some_and(|e| e <= MAX_VALID_ERROR);
    let points: Vec<(f64, f64)> = networks.iter().filter(|n| learned(n)).map(|n| (n.mean_sparsity, n.score())).collect();
    let left_out = networks.len() - points.len();
    let fit = quadratic_fit(&points);
    let svg = plots::scatter_with_fit(
        &format!(
            "Test error against sparsity ({}, {} rectifier networks{})",
            spec.title(),
            points.len(),
            if left_out > 0 { format!("; {left_out} that did not learn left out") } else { String::new() }
        ),
        "average fraction of exact zeros in the hidden layers",
        "test error",
        &points,
        fit,
    )?;
    let mut table = format!(
        "Figure 3 on {}: test error against sparsity (paper: error flat until about 85% zeros, then rising)\n\n| {}L1 | sparsity | test error | epochs | in the fit |\n| {}---: | ---: | ---: | ---: | --- |\n",
        loaded.name,
        if targets.is_empty() { "" } else { "target | final " },
        if targets.is_empty() { "" } else { "---: | " },
    );
    for n in &networks {
        let fitted = if learned(n) { "yes" } else { "no: did not learn" };
        let target = n.target_sparsity.map_or(String::new(), |t| format!("{} | ", pct(f64::from(t))));
        table += &format!("| {target}{:.2e} | {} | {} | {} | {fitted} |\n", n.l1, pct(n.mean_sparsity), pct(n.score()), n.epochs_run);
    }
    if let Some([a, b, c]) = fit {
        table += &format!(
            "\nQuadratic fit over the networks that learned (validation error at most {:.0}%): error = {a:.4} + {b:.4}·s + {c:.4}·s² (s = sparsity as a fraction).\n",
            100.0 * MAX_VALID_ERROR
        );
    }
    let report = Fig3Report { header: r.header(&loaded.name, &missing), quadratic_fit: fit, networks };
    r.finish(&report, &table, vec![("fig3.svg", svg.into_bytes())], !missing.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadratic_fit_recovers_a_parabola_and_refuses_too_few_points() {
        let pts: Vec<(f64, f64)> = (0..20).map(|i| 0.5 + 0.025 * f64::from(i)).map(|x| (x, 0.02 - 0.1 * x + 0.3 * x * x)).collect();
        let [a, b, c] = quadratic_fit(&pts).unwrap();
        assert!((a - 0.02).abs() < 1e-8 && (b + 0.1).abs() < 1e-8 && (c - 0.3).abs() < 1e-8, "{a} {b} {c}");
        assert!(quadratic_fit(&pts[..2]).is_none());
        assert!(quadratic_fit(&[(1.0, 1.0), (1.0, 2.0), (1.0, 3.0)]).is_none());
    }

    #[test]
    fn penalties_start_at_zero_and_span_the_range() {
        let p = penalties(21, 1e-5, 1e-2);
        assert_eq!(p.len(), 21);
        assert_eq!(p[0], 0.0);
        assert!((p[1] - 1e-5).abs() < 1e-10 && (p[20] - 1e-2).abs() < 1e-7);
        assert!(p.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(penalties(2, 1e-3, 1e-2), vec![0.0, 1e-2]);
    }
}
