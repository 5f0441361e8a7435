//! The paper's analyses of the sparse codes a trained network computes (`relu inspect`):
//! each layer's code on a set of examples, its sparsity, the stability of the active set under
//! input noise ("information disentangling") and its linear separability (a softmax probe).

use nalgebra::DMatrix;
use relu_core::{FiringCounter, SparseBatch, SparsityStats};
use relu_nn::{Dataset, Features, Network, NetworkSpec, NnError, OutputKind, Sgd, Silent, Targets, TrainConfig, Trainer};
use serde::Serialize;

use crate::error::Result;
use crate::{EVAL_BATCH, workspace};

/// Each hidden layer's output on every example of `x`, as one `units × examples` matrix per
/// layer (sparse for rectifier layers), computed in batches of [`EVAL_BATCH`].
pub fn hidden_codes(net: &Network, x: &Features) -> Vec<Features> {
    let all: Vec<usize> = (0..net.spec().hidden.len()).collect();
    codes_of(net, x, &all)
}

/// Hidden layer `layer`'s (0-based) output on every example of `x`, as [`hidden_codes`] would
/// give it, without keeping the other layers' codes.
///
/// # Panics
/// If `layer` is not a hidden layer.
#[track_caller]
pub fn hidden_code(net: &Network, x: &Features, layer: usize) -> Features {
    assert!(layer < net.spec().hidden.len(), "hidden_code: layer {layer} of {} hidden layers", net.spec().hidden.len());
    codes_of(net, x, &[layer]).pop().expect("one layer asked for")
}

/// The codes of the hidden layers `layers` (ascending), batch by batch.
fn codes_of(net: &Network, x: &Features, layers: &[usize]) -> Vec<Features> {
    let mut ws = workspace(net);
    let n = x.len();
    let mut parts: Vec<Vec<Features>> = vec![Vec::new(); layers.len()];
    let mut start = 0;
    while start < n {
        let idx: Vec<usize> = (start..(start + EVAL_BATCH).min(n)).collect();
        let cache = net.forward(&x.select(&idx), &mut ws);
        let kept = cache.hidden.into_iter().enumerate().filter(|(l, _)| layers.contains(l));
        for (p, (_, h)) in parts.iter_mut().zip(kept) {
            p.push(h.output);
        }
        start += EVAL_BATCH;
    }
    parts.into_iter().zip(layers).map(|(p, &l)| concat(p, net.spec().hidden[l].units)).collect()
}

/// Concatenates batches of one layer's codes (all sparse or all dense) in order.
fn concat(parts: Vec<Features>, units: usize) -> Features {
    let sparse: Option<Vec<&SparseBatch>> = parts.iter().map(|p| if let Features::Sparse(s) = p { Some(s) } else { None }).collect();
    if let Some(sparse) = sparse {
        Features::Sparse(SparseBatch::concat(units, &sparse).expect("codes of one layer have its units"))
    } else {
        let n: usize = parts.iter().map(Features::len).sum();
        let mut m = DMatrix::zeros(units, n);
        let mut col = 0;
        for p in parts {
            let d = p.to_dense();
            m.columns_mut(col, d.ncols()).copy_from(&d);
            col += d.ncols();
        }
        Features::Dense(m)
    }
}

/// The sparse form of a code (exact zeros dropped).
pub fn as_sparse(f: &Features) -> SparseBatch {
    match f {
        Features::Sparse(s) => s.clone(),
        Features::Dense(m) => SparseBatch::from_dense(m),
    }
}

/// Sparsity statistics (exact zeros, dead units, active units per example) of every hidden
/// layer on `data`.
pub fn layer_stats(net: &Network, data: &Dataset) -> Vec<SparsityStats> {
    hidden_codes(net, &data.inputs).iter().zip(&net.spec().hidden).map(|(code, l)| code_stats(code, l.units)).collect()
}

/// Sparsity statistics of one layer's code.
pub fn code_stats(code: &Features, units: usize) -> SparsityStats {
    let mut c = FiringCounter::new(units);
    c.add(&as_sparse(code));
    c.finish()
}

/// Mean over examples of the Jaccard similarity `|A ∩ B| / |A ∪ B|` of example `e`'s active
/// units in `a` and in `b` (1 when both are empty; 1 for no examples).
///
/// # Panics
/// If `a` and `b` have different numbers of examples.
#[track_caller]
pub fn mean_jaccard(a: &SparseBatch, b: &SparseBatch) -> f64 {
    assert_eq!(a.batch_size(), b.batch_size(), "mean_jaccard: codes of different numbers of examples");
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

/// `x + ε`, `ε ~ N(0, σ²)` drawn independently per value from `seed`: every value of dense
/// inputs, the stored (non-zero) values of sparse ones, so the set of words in a bag of words
/// does not change.
pub fn add_noise(x: &Features, sigma: f32, seed: u64) -> Features {
    let mut rng = relu_core::seeded_rng(seed);
    let mut gauss = move || relu_core::random::standard_normal(&mut rng);
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

/// How many units each example uses: summary and histogram (the paper's "variable
/// dimensionality").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActiveHistogram {
    /// Mean active units per example.
    pub mean: f64,
    /// Their population standard deviation.
    pub std: f64,
    /// Fewest active units of an example.
    pub min: u32,
    /// Most active units of an example.
    pub max: u32,
    /// `counts[i]` examples had between `i·bin_width` and `(i+1)·bin_width − 1` active units.
    pub bin_width: u32,
    /// Examples per bin, trailing empty bins dropped.
    pub counts: Vec<u32>,
}

impl ActiveHistogram {
    /// From each example's active-unit count in a layer of `units` units (about 50 bins).
    pub fn new(counts: &[u32], units: usize) -> Self {
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
        Self {
            mean,
            std,
            min: counts.iter().copied().min().unwrap_or(0),
            max: counts.iter().copied().max().unwrap_or(0),
            bin_width,
            counts: hist,
        }
    }
}

/// The linear probe: a softmax regression (a network without hidden layers) trained with SGD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probe {
    /// Training epochs.
    pub epochs: usize,
    /// Minibatch size.
    pub batch: usize,
    /// SGD learning rate.
    pub lr: f32,
    /// Initialisation and shuffling seed.
    pub seed: u64,
    /// Kernel threads (0: every core).
    pub threads: usize,
}

impl Default for Probe {
    /// 20 epochs of SGD at rate 0.5 on minibatches of 10 (codes are scaled to unit mean norm
    /// first, so one rate suits every layer), seed 1234, every core.
    fn default() -> Self {
        Probe { epochs: 20, batch: 10, lr: 0.5, seed: 1234, threads: 0 }
    }
}

/// The default standard deviation of [`add_noise`] for the active-set stability measure: 1 % of
/// the pixel range.
pub const DEFAULT_NOISE_SIGMA: f32 = 0.01;

/// Test accuracy of a [`Probe`] trained on the code `x_train` of labelled examples and scored on
/// `x_test`, over `classes` classes. Codes are first divided by their mean Euclidean norm on the
/// training examples, so one learning rate suits every layer. `None` if SGD diverged.
///
/// # Errors
/// Codes and targets of different lengths, or a bad probe setting ([`TrainConfig::check`]).
pub fn probe_accuracy(
    x_train: &Features,
    y_train: &Targets,
    x_test: &Features,
    y_test: &Targets,
    classes: usize,
    probe: &Probe,
) -> Result<Option<f64>> {
    let norm = mean_norm(x_train);
    let train = Dataset::new(scaled(x_train, norm), y_train.clone())?;
    let test = Dataset::new(scaled(x_test, norm), y_test.clone())?;
    let spec = NetworkSpec { inputs: x_train.dim(), hidden: Vec::new(), output: OutputKind::Softmax { classes } };
    let mut net = Network::new(spec, &mut relu_core::seeded_rng(probe.seed))?;
    let config = TrainConfig {
        epochs: probe.epochs,
        batch_size: probe.batch,
        sgd: Sgd { lr: probe.lr, ..Default::default() },
        seed: probe.seed,
        threads: probe.threads,
        ..Default::default()
    };
    match Trainer::new(config)?.fit(&mut net, &train, None, &mut Silent) {
        Ok(_) => {}
        Err(NnError::NonFinite { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let e = net.evaluate(&test, EVAL_BATCH, &mut workspace(&net));
    Ok(e.error.map(|err| 1.0 - err))
}

/// Divides a code by `norm`.
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

/// The mean Euclidean norm of the examples of `x` (1 when it is 0 or not finite).
fn mean_norm(x: &Features) -> f32 {
    let n = x.len().max(1) as f64;
    let total: f64 = match x {
        Features::Dense(m) => m.column_iter().map(|c| f64::from(c.norm())).sum(),
        Features::Sparse(s) => (0..s.batch_size()).map(|e| s.example(e).1.iter().map(|&v| f64::from(v * v)).sum::<f64>().sqrt()).sum(),
    };
    let mean = (total / n) as f32;
    if mean > 0.0 && mean.is_finite() { mean } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use relu_core::Activation;

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
        let s = ActiveHistogram::new(&[0, 3, 3, 10], 10);
        assert_eq!(s.counts.iter().sum::<u32>(), 4);
        assert_eq!((s.min, s.max), (0, 10));
        assert_eq!(s.mean, 4.0);
    }

    #[test]
    fn codes_in_batches_equal_one_forward_pass() {
        // 2,500 examples: three evaluation batches, the last one partial.
        let spec = NetworkSpec::mlp(3, &[7, 5], Activation::Rectifier, 0.0, OutputKind::Softmax { classes: 2 });
        let net = Network::new(spec, &mut relu_core::seeded_rng(4)).unwrap();
        let x = Features::Dense(DMatrix::from_fn(3, 2500, |i, j| ((i * 31 + j * 17) % 13) as f32 / 6.0 - 1.0));
        let codes = hidden_codes(&net, &x);
        let whole = net.forward(&x, &mut workspace(&net));
        assert_eq!(codes.len(), 2);
        for (l, (c, h)) in codes.iter().zip(&whole.hidden).enumerate() {
            assert_eq!(c.to_dense(), h.output.to_dense());
            assert_eq!(hidden_code(&net, &x, l).to_dense(), h.output.to_dense());
        }
        let stats = layer_stats(&net, &Dataset::new(x, Targets::Classes(vec![0; 2500])).unwrap());
        assert!((stats[0].zero_fraction - (1.0 - f64::from(codes[0].density()))).abs() < 1e-6);
    }

    #[test]
    fn noise_keeps_sparse_structure_and_is_seeded() {
        let x = Features::Sparse(SparseBatch::from_dense(&DMatrix::from_column_slice(3, 2, &[1.0, 0.0, 2.0, 0.0, 0.0, 3.0])));
        let a = add_noise(&x, 0.1, 9);
        assert_eq!(a.to_dense().iter().filter(|v| **v != 0.0).count(), 3, "zeros stay zero");
        assert_eq!(a.to_dense(), add_noise(&x, 0.1, 9).to_dense());
        assert_ne!(a.to_dense(), add_noise(&x, 0.1, 10).to_dense());
        assert_eq!(add_noise(&x, 0.0, 9).to_dense(), x.to_dense());
    }

    #[test]
    fn a_probe_separates_separable_codes() {
        // Class = which of two units is on.
        let code = |n: usize| Features::Dense(DMatrix::from_fn(2, n, |i, j| if i == j % 2 { 1.0 + (j % 7) as f32 } else { 0.0 }));
        let y = |n: usize| Targets::Classes((0..n).map(|j| (j % 2) as u32).collect());
        let probe = Probe { epochs: 5, batch: 10, lr: 0.5, seed: 1, threads: 1 };
        assert_eq!(probe_accuracy(&code(100), &y(100), &code(40), &y(40), 2, &probe).unwrap(), Some(1.0));
        // Labels unrelated to the code: about chance.
        let shuffled = Targets::Classes((0..40).map(|j| ((j / 2) % 2) as u32).collect());
        let chance = probe_accuracy(&code(100), &y(100), &code(40), &shuffled, 2, &probe).unwrap().unwrap();
        assert!((0.3..=0.7).contains(&chance), "{chance}");
    }
}
