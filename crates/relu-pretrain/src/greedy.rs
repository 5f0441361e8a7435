//! Greedy layer-wise pre-training of a network's hidden layers, and the hand-over to relu-nn.

use nalgebra::{DMatrix, DVector};
use rand::seq::SliceRandom;
use relu_core::{Dispatch, DispatchMode, SparseBatch};
use relu_nn::{Features, HiddenKind, Layer, Network, NetworkSpec};
use serde::{Deserialize, Serialize};

use crate::corruption::Corruption;
use crate::dae::{Dae, DaeSpec, Selection, check_targets};
use crate::error::{PretrainError, Result, invalid};
use crate::reconstruction::Reconstruction;

/// Pre-training hyper-parameters, shared by every layer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PretrainConfig {
    /// Epochs per layer (default 10).
    pub epochs: usize,
    /// Minibatch size (default 10).
    pub batch_size: usize,
    /// Learning rate (default 0.01).
    pub lr: f32,
    /// Input corruption (default masking 0.25, the paper's on images).
    pub corruption: Corruption,
    /// Reconstruction strategy; `None` picks [`Reconstruction::default_for`] the activation.
    pub reconstruction: Option<Reconstruction>,
    /// Tie decoder weights to the encoder's (default false).
    pub tied: bool,
    /// Reconstruction sampling for sparse inputs: reconstruct the non-zero inputs and this
    /// fraction of the zero ones (reweighted). `None` reconstructs everything (default).
    pub sampling: Option<f32>,
    /// Seed for initialisation, shuffling and corruption (default 1234).
    pub seed: u64,
    /// Examples used to measure the reconstruction error after each epoch (default 2000).
    pub monitor: usize,
    /// Start each rectifier encoder's biases at `−W·x̄` (`x̄` the mean input over the data)
    /// instead of 0, so every unit's pre-activation is centred on the data (default true).
    /// The inputs of layers 2, 3, … are rectifier codes: non-negative and sharing a large common
    /// component, so with zero biases a zero-mean random unit is on for nearly every example or
    /// off for nearly every one; on review text about half of layer 3's units started and stayed
    /// dead.
    pub centred_bias: bool,
}

impl Default for PretrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 10,
            lr: 0.01,
            corruption: Corruption::Masking(0.25),
            reconstruction: None,
            tied: false,
            sampling: None,
            seed: 1234,
            monitor: 2000,
            centred_bias: true,
        }
    }
}

impl PretrainConfig {
    /// Validates every field.
    ///
    /// # Errors
    /// [`PretrainError::InvalidParameter`] naming the first bad value.
    pub fn check(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(invalid("pre-training epochs", self.epochs, "at least 1"));
        }
        if self.batch_size == 0 {
            return Err(invalid("pre-training batch size", self.batch_size, "at least 1"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(invalid("pre-training learning rate", self.lr, "a finite number > 0"));
        }
        if let Some(q) = self.sampling
            && !(q > 0.0 && q <= 1.0)
        {
            return Err(invalid("reconstruction sampling fraction", q, "a fraction in (0, 1]"));
        }
        self.corruption.check()?;
        Ok(())
    }
}

/// Progress of pre-training, reported after every epoch of every layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainEpoch {
    /// 1-based hidden layer.
    pub layer: usize,
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss per example over the epoch (on corrupted inputs, sampled when
    /// sampling), reconstruction part.
    pub train_loss: f64,
    /// Mean reconstruction error per example of the clean monitoring examples.
    pub reconstruction_error: f64,
    /// Fraction of exact zeros in the code of the monitoring examples.
    pub sparsity: f64,
    /// Code units that are zero on every monitoring example.
    #[serde(default)]
    pub dead_units: usize,
}

/// The result of pre-training: one encoder per hidden layer, and what happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Pretrained {
    /// Encoder weights and biases per hidden layer, ready for [`initialise`].
    pub layers: Vec<Layer>,
    /// Reconstruction error before any training, per layer.
    pub initial_error: Vec<f64>,
    /// Every layer's every epoch.
    pub history: Vec<PretrainEpoch>,
    /// The reconstruction each layer used ([`PretrainConfig::reconstruction`], or the default
    /// for its activation and inputs).
    pub reconstruction: Vec<Reconstruction>,
}

/// Pre-trains the hidden layers of `spec` greedily on `unlabeled` inputs (`spec.inputs ×
/// examples`): layer `l` is a denoising auto-encoder trained on the clean codes of layers
/// `1..l`. `observer` is called after every epoch.
///
/// # Errors
/// [`PretrainError::InvalidParameter`] for a bad configuration or a maxout layer (only affine
/// layers can be pre-trained), [`PretrainError::DataMismatch`] if the data does not fit,
/// [`PretrainError::NonFinite`] if a layer diverges.
pub fn pretrain(
    spec: &NetworkSpec,
    unlabeled: &Features,
    cfg: &PretrainConfig,
    observer: &mut dyn FnMut(&PretrainEpoch),
) -> Result<Pretrained> {
    cfg.check()?;
    spec.check()?;
    if unlabeled.dim() != spec.inputs {
        return Err(PretrainError::DataMismatch(format!("{} input features, the network expects {}", unlabeled.dim(), spec.inputs)));
    }
    if unlabeled.is_empty() {
        return Err(PretrainError::DataMismatch("no unlabeled examples".into()));
    }
    let mut rng = relu_core::seeded_rng(cfg.seed);
    let mut dispatch = Dispatch::new(DispatchMode::Auto, Default::default());
    let mut data = unlabeled.clone();
    let mut pre: Option<DMatrix<f32>> = None;
    let (mut layers, mut history, mut initial, mut used) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (li, l) in spec.hidden.iter().enumerate() {
        let HiddenKind::Affine { activation } = l.kind else {
            return Err(invalid("pre-trained layer", "maxout", "affine layers (maxout cannot be pre-trained as an auto-encoder)"));
        };
        let reconstruction = cfg.reconstruction.unwrap_or_else(|| Reconstruction::default_for(activation));
        used.push(reconstruction);
        // Strategy 2 divides the inputs (the previous layer's rectifier outputs) by their
        // maximum over the data, so inputs and targets lie in [0, 1].
        let scale = if reconstruction == Reconstruction::ScaledSigmoid { max_abs(&data).max(f32::MIN_POSITIVE) } else { 1.0 };
        let input = scaled(&data, 1.0 / scale);
        let target_all: Features = match (reconstruction, &pre) {
            (Reconstruction::LinearPreActivation, Some(z)) => Features::Dense(z.clone()),
            // Tanh codes lie in [−1, 1]: the sigmoid reconstructs (x + 1) / 2.
            (Reconstruction::Sigmoid, _) if !in_range(&input, 0.0) && in_range(&input, -1.0) => {
                Features::Dense(input.to_dense().map(|v| 0.5 * (v + 1.0)))
            }
            _ => input.clone(),
        };
        check_targets(reconstruction, &target_all)?;
        let dspec = DaeSpec { inputs: input.dim(), hidden: l.units, activation, reconstruction, tied: cfg.tied, l1: l.l1 };
        let mut dae = Dae::new(dspec, &mut rng)?;
        if cfg.centred_bias && activation.sparse_output() {
            dae.encoder_bias = -(&dae.encoder * mean_input(&input));
        }
        let n = input.len();
        let monitor: Vec<usize> = (0..n.min(cfg.monitor.max(1))).collect();
        let (mon_x, mon_t) = (input.select(&monitor), target_all.select(&monitor).to_dense());
        initial.push(dae.reconstruction_error(&mon_x, &mon_t, &mut dispatch));
        let mut order: Vec<usize> = (0..n).collect();
        for epoch in 1..=cfg.epochs {
            order.shuffle(&mut rng);
            let mut total = 0.0f64;
            for (b, chunk) in order.chunks(cfg.batch_size).enumerate() {
                let x = input.select(chunk);
                let t = target_all.select(chunk);
                let noisy = cfg.corruption.apply(&x, &mut rng);
                let selection = match (cfg.sampling, &t) {
                    (Some(q), Features::Sparse(ts)) => Some(Selection::sample(ts, q, &mut rng)),
                    _ => None,
                };
                let loss = dae.step(&noisy, &t.to_dense(), selection.as_ref(), cfg.lr, &mut dispatch);
                if !loss.reconstruction.is_finite() {
                    return Err(PretrainError::NonFinite { layer: li + 1, epoch, batch: b });
                }
                total += loss.reconstruction * chunk.len() as f64;
            }
            let (_, code) = dae.encode(&mon_x, &mut dispatch);
            let e = PretrainEpoch {
                layer: li + 1,
                epoch,
                train_loss: total / n as f64,
                reconstruction_error: dae.reconstruction_error(&mon_x, &mon_t, &mut dispatch),
                sparsity: 1.0 - code.density() as f64,
                dead_units: dead_units(&code),
            };
            observer(&e);
            history.push(e);
        }
        // The next layer trains on this layer's clean codes (and, for strategy 3', its
        // pre-activations).
        let (z, code) = encode_all(&dae, &input, &mut dispatch);
        data = code;
        pre = Some(z);
        // Fold the input scale back in: the encoder saw x / scale.
        let weight = if scale == 1.0 { dae.encoder.clone() } else { &dae.encoder / scale };
        layers.push(Layer { weight, bias: dae.encoder_bias.clone(), sign: None });
    }
    Ok(Pretrained { layers, initial_error: initial, history, reconstruction: used })
}

/// Encodes all examples in batches of 1000: pre-activations and codes.
fn encode_all(dae: &Dae, x: &Features, dispatch: &mut Dispatch) -> (DMatrix<f32>, Features) {
    let (n, hidden) = (x.len(), dae.spec().hidden);
    let (mut z, mut h) = (DMatrix::zeros(hidden, n), DMatrix::zeros(hidden, n));
    for start in (0..n).step_by(1000) {
        let idx: Vec<usize> = (start..(start + 1000).min(n)).collect();
        let (zb, hb) = dae.encode(&x.select(&idx), dispatch);
        z.columns_mut(start, idx.len()).copy_from(&zb);
        h.columns_mut(start, idx.len()).copy_from(&hb.to_dense());
    }
    let code = if dae.spec().activation.sparse_output() { Features::Sparse(SparseBatch::from_dense(&h)) } else { Features::Dense(h) };
    (z, code)
}

/// The mean over examples of each input.
fn mean_input(x: &Features) -> DVector<f32> {
    let n = x.len().max(1) as f64;
    let mut sum = vec![0.0f64; x.dim()];
    match x {
        Features::Sparse(s) => {
            for (&i, &v) in s.indices().iter().zip(s.values()) {
                sum[i as usize] += f64::from(v);
            }
        }
        Features::Dense(m) => {
            for col in m.column_iter() {
                sum.iter_mut().zip(col.iter()).for_each(|(a, &v)| *a += f64::from(v));
            }
        }
    }
    DVector::from_iterator(x.dim(), sum.into_iter().map(|v| (v / n) as f32))
}

/// Units (rows) that are zero on every example of `code`.
fn dead_units(code: &Features) -> usize {
    match code {
        Features::Sparse(s) => s.stats().dead_units,
        Features::Dense(m) => m.row_iter().filter(|r| r.iter().all(|&v| v == 0.0)).count(),
    }
}

/// Whether every value lies in `[lo, 1]`.
fn in_range(x: &Features, lo: f32) -> bool {
    let ok = |v: &f32| (lo..=1.0).contains(v);
    match x {
        Features::Dense(m) => m.iter().all(ok),
        Features::Sparse(s) => s.values().iter().all(ok),
    }
}

fn max_abs(x: &Features) -> f32 {
    match x {
        Features::Dense(m) => m.iter().fold(0.0f32, |a, v| a.max(v.abs())),
        Features::Sparse(s) => s.values().iter().fold(0.0f32, |a, v| a.max(v.abs())),
    }
}

fn scaled(x: &Features, factor: f32) -> Features {
    if factor == 1.0 {
        return x.clone();
    }
    match x {
        Features::Dense(m) => Features::Dense(m * factor),
        Features::Sparse(s) => {
            let mut s = s.clone();
            s.values_mut().iter_mut().for_each(|v| *v *= factor);
            Features::Sparse(s)
        }
    }
}

/// A network for supervised fine-tuning: hidden layers from `pretrained` (sign flips of `spec`
/// drawn as usual and folded into the next layer's weights so the function is unchanged), a
/// fresh Glorot-uniform output layer, all other randomness from `rng`.
///
/// # Errors
/// [`PretrainError::Nn`] if the layers do not fit `spec`.
pub fn initialise(spec: NetworkSpec, pretrained: &Pretrained, rng: &mut impl rand::Rng) -> Result<Network> {
    let fresh = Network::new(spec.clone(), rng)?;
    let mut layers: Vec<Layer> = fresh.layers().to_vec();
    if pretrained.layers.len() != spec.hidden.len() {
        return Err(PretrainError::DataMismatch(format!(
            "{} pre-trained layers for {} hidden layers",
            pretrained.layers.len(),
            spec.hidden.len()
        )));
    }
    for (i, p) in pretrained.layers.iter().enumerate() {
        layers[i].weight = p.weight.clone();
        layers[i].bias = p.bias.clone();
    }
    // A flipped unit outputs −h where its auto-encoder produced h; negate the next layer's
    // weights from it so the next layer still sees what it was pre-trained on.
    for i in 0..spec.hidden.len() {
        if let Some(sign) = layers[i].sign.clone() {
            let next = &mut layers[i + 1].weight;
            for (j, s) in sign.iter().enumerate() {
                if *s < 0.0 && i + 1 < spec.hidden.len() {
                    next.column_mut(j).neg_mut();
                }
            }
        }
    }
    Ok(Network::from_parts(spec, layers)?)
}
