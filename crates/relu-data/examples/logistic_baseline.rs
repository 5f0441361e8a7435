//! The linear baseline for review sentiment: L2-regularised logistic (softmax) regression fitted
//! to convergence with L-BFGS on exactly the folds `relu train --data reviews:FILE --folds 5`
//! uses (same tokeniser, top-5,000 binary vocabulary refitted per fold, same seed), so a network's
//! cross-validated error can be compared with a well-converged linear model.
//!
//! ```sh
//! cargo run --release -p relu-data --example logistic_baseline -- ../shared/data/reviews/pang_lee_polarity.tsv.gz
//! ```
//!
//! Arguments: `FILE [FOLDS] [SEED]` (defaults 5 and 1234, as `relu train`). The objective is
//! scikit-learn's `LogisticRegression`: `C · Σ log-loss + ½‖W‖²` (the bias not penalised), printed
//! for a grid of `C`. `C = 1` is scikit-learn's default; the best `C` of the grid is chosen on the
//! test folds themselves, so it is an optimistic figure for the linear model, not a fair one.

use std::path::Path;
use std::process::ExitCode;

use relu_core::{Features, SparseBatch};
use relu_data::Dataset;
use relu_data::text::{self, Targets, VectorizerConfig};

const C_GRID: [f64; 8] = [0.001, 0.003, 0.01, 0.1, 0.3, 1.0, 3.0, 10.0];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(file) = args.first() else {
        eprintln!("usage: logistic_baseline FILE [FOLDS] [SEED]   (FILE: label<TAB>text reviews, 0/1 polarity)");
        return ExitCode::from(2);
    };
    let parse = |i: usize, default: u64, what: &str| -> Result<u64, String> {
        args.get(i).map_or(Ok(default), |s| s.parse().map_err(|_| format!("{what}: expected a whole number, found `{s}`")))
    };
    let (folds, seed) = match (parse(1, 5, "FOLDS"), parse(2, 1234, "SEED")) {
        (Ok(k), Ok(s)) => (k as usize, s),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(Path::new(file), folds, seed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{file}: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(path: &Path, k: usize, seed: u64) -> Result<(), relu_data::DataError> {
    let docs = text::read_reviews(path, Targets::Polarity)?;
    let splits = text::folds(&docs, 2, k, seed, &VectorizerConfig::default())?;
    println!("{}: {} reviews, {k} folds (seed {seed}), binary bag of the top 5000 terms per fold", path.display(), docs.len());
    println!("| C | accuracy per fold | mean accuracy |");
    println!("| ---: | --- | ---: |");
    let mut best = (0.0, 0.0);
    for c in C_GRID {
        let acc: Vec<f64> = splits
            .iter()
            .map(|s| {
                let model = fit(&Set::of(&s.train), c);
                model.accuracy(&Set::of(&s.test))
            })
            .collect();
        let mean = acc.iter().sum::<f64>() / acc.len() as f64;
        let per: Vec<String> = acc.iter().map(|a| format!("{:.2}", 100.0 * a)).collect();
        println!("| {c} | {} | {:.2}% |", per.join(" "), 100.0 * mean);
        if mean > best.1 {
            best = (c, mean);
        }
    }
    println!("best C {} (chosen on the test folds: optimistic): {:.2}%", best.0, 100.0 * best.1);
    Ok(())
}

/// A fold's set as the fit reads it: sparse bag-of-words features and polarity labels.
struct Set<'a> {
    features: &'a SparseBatch,
    labels: &'a [u32],
    num_classes: usize,
}

impl<'a> Set<'a> {
    fn of(d: &'a Dataset) -> Self {
        let Features::Sparse(features) = &d.inputs else { unreachable!("text folds are sparse") };
        Set { features, labels: d.targets.classes().expect("text folds have class targets"), num_classes: 2 }
    }
}

/// A softmax regression: `classes × (dim + 1)` weights, the last column the bias.
struct Linear {
    dim: usize,
    classes: usize,
    w: Vec<f64>,
}

impl Linear {
    fn scores(&self, idx: &[u32], val: &[f32], out: &mut [f64]) {
        for (c, o) in out.iter_mut().enumerate() {
            let row = &self.w[c * (self.dim + 1)..(c + 1) * (self.dim + 1)];
            *o = row[self.dim] + idx.iter().zip(val).map(|(&i, &v)| row[i as usize] * f64::from(v)).sum::<f64>();
        }
    }

    fn accuracy(&self, data: &Set<'_>) -> f64 {
        let mut s = vec![0.0; self.classes];
        let hits = (0..data.labels.len())
            .filter(|&e| {
                let (idx, val) = data.features.example(e);
                self.scores(idx, val, &mut s);
                let arg = s.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i);
                arg == data.labels[e] as usize
            })
            .count();
        hits as f64 / data.labels.len() as f64
    }
}

/// `(1/n)·Σ log-loss + ‖W‖²/(2Cn)` and its gradient, at `w`.
fn objective(data: &Set<'_>, c: f64, w: &[f64], grad: &mut [f64]) -> f64 {
    let (dim, classes, n) = (data.features.units(), data.num_classes, data.labels.len() as f64);
    let model = Linear { dim, classes, w: w.to_vec() };
    grad.iter_mut().for_each(|g| *g = 0.0);
    let mut s = vec![0.0; classes];
    let mut loss = 0.0;
    for e in 0..data.labels.len() {
        let (idx, val) = data.features.example(e);
        model.scores(idx, val, &mut s);
        let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = s.iter().map(|v| (v - max).exp()).sum();
        let label = data.labels[e] as usize;
        loss += max + z.ln() - s[label];
        for (cl, &sc) in s.iter().enumerate() {
            let d = ((sc - max).exp() / z - f64::from(u8::from(cl == label))) / n;
            let row = &mut grad[cl * (dim + 1)..(cl + 1) * (dim + 1)];
            row[dim] += d;
            for (&i, &v) in idx.iter().zip(val) {
                row[i as usize] += d * f64::from(v);
            }
        }
    }
    let reg = 1.0 / (c * n);
    let mut penalty = 0.0;
    for (j, (g, &wj)) in grad.iter_mut().zip(w).enumerate() {
        if j % (dim + 1) != dim {
            *g += reg * wj;
            penalty += wj * wj;
        }
    }
    loss / n + 0.5 * reg * penalty
}

/// L-BFGS (memory 10, backtracking Armijo line search) until the gradient's largest entry is
/// below 1e-7 or 2,000 iterations.
fn fit(data: &Set<'_>, c: f64) -> Linear {
    let (dim, classes) = (data.features.units(), data.num_classes);
    let len = classes * (dim + 1);
    let mut w = vec![0.0; len];
    let mut g = vec![0.0; len];
    let mut f = objective(data, c, &w, &mut g);
    let mut history: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::new();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    for _ in 0..2000 {
        if g.iter().fold(0.0f64, |m, v| m.max(v.abs())) < 1e-7 {
            break;
        }
        // Two-loop recursion: d = −H·g.
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(history.len());
        for (s, y, rho) in history.iter().rev() {
            let a = rho * dot(s, &q);
            q.iter_mut().zip(y).for_each(|(qi, yi)| *qi -= a * yi);
            alphas.push(a);
        }
        if let Some((s, y, _)) = history.last() {
            let gamma = dot(s, y) / dot(y, y);
            q.iter_mut().for_each(|v| *v *= gamma);
        }
        for ((s, y, rho), a) in history.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &q);
            q.iter_mut().zip(s).for_each(|(qi, si)| *qi += (a - b) * si);
        }
        let d: Vec<f64> = q.iter().map(|v| -v).collect();
        let slope = dot(&g, &d);
        let (d, slope) = if slope < 0.0 { (d, slope) } else { (g.iter().map(|v| -v).collect(), -dot(&g, &g)) };
        let mut step = if history.is_empty() { 1.0 / g.iter().fold(1.0f64, |m, v| m.max(v.abs())) } else { 1.0 };
        let mut g_new = vec![0.0; len];
        let (w_new, f_new) = loop {
            let trial: Vec<f64> = w.iter().zip(&d).map(|(wi, di)| wi + step * di).collect();
            let f_trial = objective(data, c, &trial, &mut g_new);
            if f_trial <= f + 1e-4 * step * slope || step < 1e-12 {
                break (trial, f_trial);
            }
            step *= 0.5;
        };
        let s: Vec<f64> = w_new.iter().zip(&w).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 {
            history.push((s, y, 1.0 / sy));
            if history.len() > 10 {
                history.remove(0);
            }
        }
        let converged = (f - f_new).abs() < 1e-12 * f.abs().max(1.0);
        (w, g, f) = (w_new, g_new, f_new);
        if converged {
            break;
        }
    }
    Linear { dim, classes, w }
}
