//! `relu inspect`: the paper's analysis of the sparse representations a trained model computes.
//!
//! For each hidden layer, on the first `--examples` test examples:
//! * **exact-zero fraction** (the paper's sparsity) and **dead units** (never active);
//! * the **distribution of active units per example** — the paper's "variable dimensionality":
//!   each input is represented with a different, small number of units;
//! * **stability of the active set** ("information disentangling"): the mean Jaccard similarity
//!   `|A ∩ B| / |A ∪ B|` between the active set `A` of an input `x` and the active set `B` of
//!   `x + ε`, with `ε ~ N(0, σ²)` drawn independently per input value from a seeded RNG
//!   (`--noise σ`, default 0.01, i.e. 1 % of the pixel range). Dense (pixel) inputs get noise on
//!   every value; sparse (bag-of-words) inputs on their non-zero values only, so the set of words
//!   in a document does not change. Two empty sets count as identical;
//! * **linear separability**: the test accuracy of a softmax regression (a relu-nn network
//!   without hidden layers, trained with SGD) fitted on the layer's code of the first
//!   `--probe-train` training examples. Codes are divided by their mean Euclidean norm on those
//!   examples so one learning rate suits every layer. Layer 0, the raw input, is the baseline.

use std::path::PathBuf;

use anyhow::{Context, Result};
use rand::Rng;
use relu_core::{FiringCounter, SparseBatch};
use relu_nn::checkpoint::write_atomic;
use relu_nn::{Dataset, Features, Network, NetworkSpec, OutputKind, Sgd, Silent, Targets, TrainConfig, Trainer};
use serde::Serialize;

use crate::analysis::{self, as_sparse};
use crate::cli::InspectArgs;
use crate::cmd::train::check_fits;
use crate::data::{self, DataSpec};
use crate::model_dir;
use crate::plots;
use crate::settings::resolve_threads;

#[derive(Debug, Serialize)]
struct Inspection {
    model: String,
    data: String,
    examples: usize,
    noise_sigma: f32,
    probe: ProbeSetup,
    input: InputLayer,
    layers: Vec<LayerReport>,
}

#[derive(Debug, Serialize)]
struct ProbeSetup {
    train_examples: usize,
    test_examples: usize,
    epochs: usize,
    lr: f32,
    batch: usize,
}

#[derive(Debug, Serialize)]
struct InputLayer {
    /// Fraction of exact zeros in the inputs.
    sparsity: f64,
    probe_accuracy: Option<f64>,
}

#[derive(Debug, Serialize)]
struct LayerReport {
    layer: usize,
    units: usize,
    sparsity: f64,
    dead_units: usize,
    active_per_example: ActiveStats,
    jaccard: f64,
    probe_accuracy: Option<f64>,
}

#[derive(Debug, Serialize)]
struct ActiveStats {
    mean: f64,
    std: f64,
    min: u32,
    max: u32,
    /// `counts[i]` examples had between `i·bin_width` and `(i+1)·bin_width − 1` active units.
    bin_width: u32,
    counts: Vec<u32>,
}

/// The per-unit activity plot `relu inspect` writes.
pub const USAGE_FILE: &str = "inspect_unit_usage.svg";

const PROBE_LR: f32 = 0.5;
const PROBE_BATCH: usize = 10;

/// Runs `relu inspect`.
///
/// # Errors
/// Unreadable model or data, data that does not fit the model, unwritable output.
pub fn run(args: &InspectArgs) -> Result<u8> {
    let model = model_dir::load(&args.model)?;
    let spec_text = args.data.clone().unwrap_or_else(|| model.input.data.clone());
    let spec: DataSpec = spec_text.parse().map_err(|e| anyhow::anyhow!("--data: {e}"))?;
    if args.examples == 0 || args.probe_train == 0 || args.probe_epochs == 0 {
        anyhow::bail!("--examples, --probe-train and --probe-epochs: expected at least 1");
    }
    if !(args.noise.is_finite() && args.noise >= 0.0) {
        anyhow::bail!("--noise: invalid standard deviation {}: expected a finite number >= 0", args.noise);
    }
    let (train, test) = data::sets_for_model(&spec, &model.input, model.vectorizer.as_ref())?;
    check_fits(&model.net, &test, &spec_text, &model.path)?;
    let test = test.select(&(0..args.examples.min(test.len())).collect::<Vec<_>>());
    let train = train.select(&(0..args.probe_train.min(train.len())).collect::<Vec<_>>());
    let net = &model.net;
    let pool = relu_core::thread_pool(resolve_threads(args.threads))?;
    let inspection = pool.install(|| -> Result<Inspection> {
        let codes = analysis::hidden_codes(net, &test.inputs);
        let noisy = analysis::hidden_codes(net, &add_noise(&test.inputs, args.noise, args.seed));
        let train_codes = analysis::hidden_codes(net, &train.inputs);
        let classes = match net.spec().output {
            OutputKind::Softmax { classes } => Some(classes),
            OutputKind::Ratings { levels } => Some(levels),
            OutputKind::Regression { .. } => None,
        };
        let probe = |x_train: &Features, x_test: &Features| -> Result<Option<f64>> {
            match classes {
                Some(k) => probe_accuracy(x_train, &train.targets, x_test, &test.targets, k, args),
                None => Ok(None),
            }
        };
        let input = InputLayer { sparsity: 1.0 - f64::from(test.inputs.density()), probe_accuracy: probe(&train.inputs, &test.inputs)? };
        let mut layers = Vec::new();
        for (l, ((code, noisy), train_code)) in codes.iter().zip(&noisy).zip(&train_codes).enumerate() {
            let units = net.spec().hidden[l].units;
            let s = as_sparse(code);
            let mut counter = FiringCounter::new(units);
            counter.add(&s);
            let stats = counter.finish();
            layers.push(LayerReport {
                layer: l + 1,
                units,
                sparsity: stats.zero_fraction,
                dead_units: stats.dead_units,
                active_per_example: active_stats(&stats.active_per_example, units),
                jaccard: mean_jaccard(&s, &as_sparse(noisy)),
                probe_accuracy: probe(train_code, code)?,
            });
        }
        Ok(Inspection {
            model: model.path.display().to_string(),
            data: spec_text.clone(),
            examples: test.len(),
            noise_sigma: args.noise,
            probe: ProbeSetup {
                train_examples: train.len(),
                test_examples: test.len(),
                epochs: args.probe_epochs,
                lr: PROBE_LR,
                batch: PROBE_BATCH,
            },
            input,
            layers,
        })
    })?;

    // How often each unit is on over the analysed examples (train's active_units.svg shows
    // the other view: how many units each example uses).
    let usage: Vec<Vec<u32>> = analysis::hidden_codes(net, &test.inputs)
        .iter()
        .zip(&net.spec().hidden)
        .map(|(c, layer)| {
            let mut on = vec![0u32; layer.units];
            for &u in as_sparse(c).indices() {
                on[u as usize] += 1;
            }
            on
        })
        .collect();
    let usage_svg = plots::unit_usage(&format!("How often each unit is active ({} test examples)", test.len()), &usage, test.len())?;
    let per = |f: &dyn Fn(&LayerReport) -> Option<f64>| -> Vec<(usize, f64)> {
        inspection.layers.iter().filter_map(|l| Some((l.layer, f(l)?))).collect()
    };
    let mut sparsity = vec![(0, inspection.input.sparsity)];
    sparsity.extend(per(&|l| Some(l.sparsity)));
    let mut probe: Vec<(usize, f64)> = inspection.input.probe_accuracy.map(|a| (0, a)).into_iter().collect();
    probe.extend(per(&|l| l.probe_accuracy));
    let mut series =
        vec![("sparsity (exact zeros)".to_owned(), sparsity), ("active-set Jaccard under noise".to_owned(), per(&|l| Some(l.jaccard)))];
    if !probe.is_empty() {
        series.push(("linear-probe accuracy".to_owned(), probe));
    }
    let layers_svg = plots::per_layer("Per-layer sparsity, stability and linear separability", &series)?;
    let mut json = serde_json::to_vec_pretty(&inspection)?;
    json.push(b'\n');

    let out: PathBuf = match &args.out {
        Some(d) => d.clone(),
        None if args.model.is_dir() => args.model.clone(),
        None => args.model.parent().map(PathBuf::from).unwrap_or_default(),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("--out {}: cannot create the folder", out.display()))?;
    write_atomic(&out.join(USAGE_FILE), usage_svg.as_bytes())?;
    write_atomic(&out.join("inspect_layers.svg"), layers_svg.as_bytes())?;
    write_atomic(&out.join("inspect.json"), &json)?;

    if args.json {
        print!("{}", String::from_utf8_lossy(&json));
    } else {
        print_table(&inspection);
        println!("written: {}", ["inspect.json", USAGE_FILE, "inspect_layers.svg"].map(|f| out.join(f).display().to_string()).join(", "));
    }
    Ok(0)
}

fn print_table(i: &Inspection) {
    println!("{} on {} ({} test examples, noise σ = {})", i.model, i.data, i.examples, i.noise_sigma);
    println!("layer  units  sparsity  dead  active/example (mean ± std, min–max)  Jaccard  probe accuracy");
    let acc = |a: Option<f64>| a.map_or("-".to_owned(), |a| format!("{:.2} %", 100.0 * a));
    println!("input  {:>5}  {:>6.1} %  {:>4}  {:>38}  {:>7}  {}", "", 100.0 * i.input.sparsity, "", "", "", acc(i.input.probe_accuracy));
    for l in &i.layers {
        let a = &l.active_per_example;
        let active = format!("{:.1} ± {:.1}, {}–{}", a.mean, a.std, a.min, a.max);
        println!(
            "{:>5}  {:>5}  {:>6.1} %  {:>4}  {:>38}  {:>7.3}  {}",
            l.layer,
            l.units,
            100.0 * l.sparsity,
            l.dead_units,
            active,
            l.jaccard,
            acc(l.probe_accuracy)
        );
    }
    println!(
        "dead: zero on every example. Jaccard: overlap |A∩B|/|A∪B| of the active units on x and on x + N(0, σ²) noise (1 = noise flips no unit)."
    );
    println!("probe accuracy: a linear softmax trained on the layer's codes, scored on the test examples.");
}

fn active_stats(counts: &[u32], units: usize) -> ActiveStats {
    let n = counts.len().max(1) as f64;
    let mean = counts.iter().map(|&c| f64::from(c)).sum::<f64>() / n;
    let std = (counts.iter().map(|&c| (f64::from(c) - mean).powi(2)).sum::<f64>() / n).sqrt();
    let bin_width = (units as u32).div_ceil(50).max(1);
    let mut hist = vec![0u32; (units as u32 / bin_width + 1) as usize];
    for &c in counts {
        hist[(c / bin_width) as usize] += 1;
    }
    while hist.len() > 1 && hist.last() == Some(&0) {
        hist.pop();
    }
    ActiveStats {
        mean,
        std,
        min: counts.iter().copied().min().unwrap_or(0),
        max: counts.iter().copied().max().unwrap_or(0),
        bin_width,
        counts: hist,
    }
}

/// Mean over examples of `|A ∩ B| / |A ∪ B|` (1 when both are empty).
fn mean_jaccard(a: &SparseBatch, b: &SparseBatch) -> f64 {
    let n = a.batch_size();
    if n == 0 {
        return 1.0;
    }
    let mut total = 0.0;
    for e in 0..n {
        // Indices within an example are ascending in a SparseBatch, so a merge counts both.
        let (x, _) = a.example(e);
        let (y, _) = b.example(e);
        let (mut i, mut j, mut both) = (0, 0, 0usize);
        while i < x.len() && j < y.len() {
            match x[i].cmp(&y[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    both += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        let union = x.len() + y.len() - both;
        total += if union == 0 { 1.0 } else { both as f64 / union as f64 };
    }
    total / n as f64
}

/// `x + ε` with seeded Gaussian noise (Box–Muller): every value of dense inputs, the stored
/// values of sparse ones.
fn add_noise(x: &Features, sigma: f32, seed: u64) -> Features {
    let mut rng = relu_core::seeded_rng(seed);
    let mut gauss = move || -> f32 {
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    };
    match x {
        Features::Dense(m) => Features::Dense(m.map(|v| v + sigma * gauss())),
        Features::Sparse(s) => {
            let mut s = s.clone();
            for v in s.values_mut() {
                *v += sigma * gauss();
            }
            Features::Sparse(s)
        }
    }
}

/// Divides a code by its mean column norm `norm`.
fn scaled(x: &Features, norm: f32) -> Features {
    match x {
        Features::Dense(m) => Features::Dense(m / norm),
        Features::Sparse(s) => {
            let mut s = s.clone();
            for v in s.values_mut() {
                *v /= norm;
            }
            Features::Sparse(s)
        }
    }
}

fn mean_norm(x: &Features) -> f32 {
    let n = x.len().max(1) as f64;
    let total: f64 = match x {
        Features::Dense(m) => m.column_iter().map(|c| f64::from(c.norm())).sum(),
        Features::Sparse(s) => (0..s.batch_size()).map(|e| s.example(e).1.iter().map(|&v| f64::from(v * v)).sum::<f64>().sqrt()).sum(),
    };
    let mean = (total / n) as f32;
    if mean > 0.0 && mean.is_finite() { mean } else { 1.0 }
}

/// Test accuracy of a softmax regression trained on `x_train`'s code. `None` if SGD diverged.
fn probe_accuracy(
    x_train: &Features,
    y_train: &Targets,
    x_test: &Features,
    y_test: &Targets,
    classes: usize,
    args: &InspectArgs,
) -> Result<Option<f64>> {
    let norm = mean_norm(x_train);
    let train = Dataset::new(scaled(x_train, norm), y_train.clone())?;
    let test = Dataset::new(scaled(x_test, norm), y_test.clone())?;
    let spec = NetworkSpec { inputs: x_train.dim(), hidden: Vec::new(), output: OutputKind::Softmax { classes } };
    let mut probe = Network::new(spec, &mut relu_core::seeded_rng(args.seed))?;
    let config = TrainConfig {
        epochs: args.probe_epochs,
        batch_size: PROBE_BATCH,
        sgd: Sgd { lr: PROBE_LR, ..Default::default() },
        seed: args.seed,
        threads: resolve_threads(args.threads),
        ..Default::default()
    };
    match Trainer::new(config)?.fit(&mut probe, &train, None, &mut Silent) {
        Ok(_) => {}
        Err(relu_nn::NnError::NonFinite { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let e = probe.evaluate(&test, analysis::EVAL_BATCH, &mut analysis::workspace(&probe));
    Ok(e.error.map(|err| 1.0 - err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DMatrix;

    #[test]
    fn jaccard_of_known_sets() {
        let a = SparseBatch::from_dense(&DMatrix::from_column_slice(4, 2, &[1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]));
        let b = SparseBatch::from_dense(&DMatrix::from_column_slice(4, 2, &[1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]));
        // Example 0: {0,1} vs {0,2} → 1/3; example 1: both empty → 1.
        assert!((mean_jaccard(&a, &b) - (1.0 / 3.0 + 1.0) / 2.0).abs() < 1e-12);
        assert_eq!(mean_jaccard(&a, &a), 1.0);
    }

    #[test]
    fn active_histogram_counts_every_example() {
        let s = active_stats(&[0, 3, 3, 10], 10);
        assert_eq!(s.counts.iter().sum::<u32>(), 4);
        assert_eq!((s.min, s.max), (0, 10));
    }
}
