//! One denoising auto-encoder: an encoder layer (the future hidden layer) and a decoder.

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use relu_core::kernels::{dense_affine, dense_backward, dense_weight_grad, masked_backward, sparse_affine, sparse_weight_grad};
use relu_core::{Activation, Dispatch, SparseBatch};
use relu_nn::Features;
use serde::{Deserialize, Serialize};

use crate::error::{PretrainError, Result, invalid};
use crate::reconstruction::Reconstruction;

/// An auto-encoder's shape and objective.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DaeSpec {
    /// Input dimension.
    pub inputs: usize,
    /// Code (hidden) dimension.
    pub hidden: usize,
    /// The encoder's activation (the hidden layer's).
    pub activation: Activation,
    /// Reconstruction layer and loss.
    pub reconstruction: Reconstruction,
    /// Decoder weights tied to the encoder's (`W_dec = W_encᵀ`); the paper's notation has
    /// separate matrices, so the default is untied.
    pub tied: bool,
    /// L1 penalty λ on the code, `λ·Σ|h|` per example, as in supervised training.
    pub l1: f32,
}

/// A denoising auto-encoder `x̃ → h = f(W·x̃ + b) → r = g(Vᵀ·h + c)`.
///
/// The decoder is stored transposed (`decoder_t = Vᵀ`, `hidden × inputs`) so the weights that
/// reconstruct input `i` are one contiguous column — what reconstruction sampling reads. With
/// tied weights `V = W` and `decoder_t` is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dae {
    spec: DaeSpec,
    /// Encoder weights, `hidden × inputs`.
    pub encoder: DMatrix<f32>,
    /// Encoder biases, `hidden`.
    pub encoder_bias: DVector<f32>,
    /// Transposed decoder weights, `hidden × inputs` (`None` when tied).
    pub decoder_t: Option<DMatrix<f32>>,
    /// Decoder biases, `inputs`.
    pub decoder_bias: DVector<f32>,
}

/// Gradients of a batch's loss with respect to every parameter (see [`Dae::gradients`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DaeGradients {
    /// `∂L/∂W`, including the decoder's contribution when tied.
    pub encoder: DMatrix<f32>,
    /// `∂L/∂b`.
    pub encoder_bias: DVector<f32>,
    /// `∂L/∂Vᵀ` (untied only).
    pub decoder_t: Option<DMatrix<f32>>,
    /// `∂L/∂c`.
    pub decoder_bias: DVector<f32>,
}

/// A batch's losses, each a mean per example.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DaeLoss {
    /// Reconstruction loss (weighted by the sampling weights when sampling).
    pub reconstruction: f64,
    /// L1 penalty on the code.
    pub penalty: f64,
}

/// Which reconstructions a batch computes: every input (`None`) or, with reconstruction
/// sampling, the selected `(input, example)` pairs with their importance weights and targets.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The selected positions, values = importance weights.
    pub weights: SparseBatch,
    /// Targets at the selected positions, aligned with `weights.values()`.
    pub targets: Vec<f32>,
}

impl Selection {
    /// Reconstruction sampling (Dauphin, Glorot & Bengio 2011) for sparse targets: every
    /// non-zero target, plus each zero target with probability `q`, reweighted by `1/q` so the
    /// sampled loss is an unbiased estimate of the full one.
    ///
    /// # Panics
    /// If `q` is not in `(0, 1]`.
    pub fn sample(target: &SparseBatch, q: f32, rng: &mut impl Rng) -> Self {
        assert!(q > 0.0 && q <= 1.0, "sampling probability must be in (0, 1]");
        let units = target.units();
        let mut offsets = vec![0];
        let (mut idx, mut w, mut t) = (Vec::new(), Vec::new(), Vec::new());
        for e in 0..target.batch_size() {
            let (ti, tv) = target.example(e);
            let mut k = 0;
            for i in 0..units as u32 {
                if k < ti.len() && ti[k] == i {
                    idx.push(i);
                    w.push(1.0);
                    t.push(tv[k]);
                    k += 1;
                } else if q >= 1.0 || rng.random_bool(q as f64) {
                    idx.push(i);
                    w.push(1.0 / q);
                    t.push(0.0);
                }
            }
            offsets.push(idx.len());
        }
        Self { weights: SparseBatch::try_from_parts(units, offsets, idx, w).expect("indices are increasing and in range"), targets: t }
    }
}

impl Dae {
    /// A new auto-encoder with Glorot-uniform weights and zero biases.
    ///
    /// # Errors
    /// [`PretrainError::InvalidParameter`] for zero sizes, a negative L1 weight, or a
    /// cross-entropy reconstruction combined with a non-saturating target range is left to the
    /// caller (see [`crate::pretrain`]).
    pub fn new(spec: DaeSpec, rng: &mut impl Rng) -> Result<Self> {
        if spec.inputs == 0 || spec.hidden == 0 {
            return Err(invalid("auto-encoder size", format!("{}×{}", spec.hidden, spec.inputs), "non-zero sizes"));
        }
        if !(spec.l1.is_finite() && spec.l1 >= 0.0) {
            return Err(invalid("L1 penalty", spec.l1, "a finite number >= 0"));
        }
        let mut glorot = || relu_core::random::glorot_uniform(spec.hidden, spec.inputs, spec.inputs, spec.hidden, rng);
        let encoder = glorot();
        let decoder_t = (!spec.tied).then(glorot);
        Ok(Self { spec, encoder, encoder_bias: DVector::zeros(spec.hidden), decoder_t, decoder_bias: DVector::zeros(spec.inputs) })
    }

    /// The specification.
    pub fn spec(&self) -> &DaeSpec {
        &self.spec
    }

    fn decoder(&self) -> &DMatrix<f32> {
        self.decoder_t.as_ref().unwrap_or(&self.encoder)
    }

    /// Encodes `x` (no corruption): pre-activations and code.
    ///
    /// # Panics
    /// If `x` has the wrong number of features.
    pub fn encode(&self, x: &Features, dispatch: &mut Dispatch) -> (DMatrix<f32>, Features) {
        assert_eq!(x.dim(), self.spec.inputs, "Dae::encode: input dimension");
        let mut z = DMatrix::zeros(self.spec.hidden, x.len());
        match x {
            Features::Sparse(s) => {
                dispatch.affine(&self.encoder, s, &self.encoder_bias, &mut z);
            }
            Features::Dense(m) => dense_affine(&self.encoder, m, &self.encoder_bias, &mut z),
        }
        let h = if self.spec.activation.sparse_output() {
            Features::Sparse(self.spec.activation.apply_sparse(&z))
        } else {
            let mut h = z.clone();
            self.spec.activation.apply_in_place(&mut h);
            Features::Dense(h)
        };
        (z, h)
    }

    /// Mean reconstruction error per example of `target` from `input` (no corruption, every
    /// input reconstructed, no L1 term).
    pub fn reconstruction_error(&self, input: &Features, target: &DMatrix<f32>, dispatch: &mut Dispatch) -> f64 {
        let (_, h) = self.encode(input, dispatch);
        let a = self.decode_all(&h);
        let total: f64 = a.iter().zip(target.iter()).map(|(&a, &t)| self.spec.reconstruction.loss_and_grad(a, t).0 as f64).sum();
        total / input.len().max(1) as f64
    }

    /// Decoder pre-activations for every input: `Vᵀ… = decoder_tᵀ·h + c`.
    fn decode_all(&self, h: &Features) -> DMatrix<f32> {
        let hd = h.to_dense();
        let mut a = DMatrix::zeros(self.spec.inputs, hd.ncols());
        dense_backward(self.decoder(), &hd, &mut a);
        for mut col in a.column_iter_mut() {
            col += &self.decoder_bias;
        }
        a
    }

    /// Gradients of the batch loss (mean reconstruction loss + mean L1 penalty) for corrupted
    /// input `input` and clean `target` (`inputs × batch`), reconstructing every input or only
    /// `selection`. Does not change the auto-encoder.
    pub fn gradients(
        &self,
        input: &Features,
        target: &DMatrix<f32>,
        selection: Option<&Selection>,
        dispatch: &mut Dispatch,
    ) -> (DaeGradients, DaeLoss) {
        let (h, i) = (self.spec.hidden, self.spec.inputs);
        let mut g = DaeGradients {
            encoder: DMatrix::zeros(h, i),
            encoder_bias: DVector::zeros(h),
            decoder_t: (!self.spec.tied).then(|| DMatrix::zeros(h, i)),
            decoder_bias: DVector::zeros(i),
        };
        let (loss, back) = self.backward(input, target, selection, dispatch);
        back.add_decoder(1.0, if self.spec.tied { &mut g.encoder } else { g.decoder_t.as_mut().expect("untied") }, &mut g.decoder_bias);
        back.add_encoder(1.0, input, dispatch, &mut g.encoder, &mut g.encoder_bias);
        (g, loss)
    }

    /// One SGD step with learning rate `lr` on a batch (see [`Dae::gradients`]); returns the
    /// batch's loss before the step.
    pub fn step(
        &mut self,
        input: &Features,
        target: &DMatrix<f32>,
        selection: Option<&Selection>,
        lr: f32,
        dispatch: &mut Dispatch,
    ) -> DaeLoss {
        let (loss, back) = self.backward(input, target, selection, dispatch);
        let decoder_t = if self.spec.tied { &mut self.encoder } else { self.decoder_t.as_mut().expect("untied") };
        back.add_decoder(-lr, decoder_t, &mut self.decoder_bias);
        back.add_encoder(-lr, input, dispatch, &mut self.encoder, &mut self.encoder_bias);
        loss
    }

    /// The batch's loss and the δs of its parameter gradients, from the parameters as they are
    /// (nothing moves here; [`Dae::step`] and [`Dae::gradients`] then write the gradients into the
    /// parameters or into gradient buffers).
    fn backward(&self, x: &Features, target: &DMatrix<f32>, selection: Option<&Selection>, dispatch: &mut Dispatch) -> (DaeLoss, Backward) {
        let batch = x.len();
        assert_eq!(target.shape(), (self.spec.inputs, batch), "Dae: target must be inputs × batch");
        let inv = 1.0 / batch.max(1) as f32;
        let rec = self.spec.reconstruction;
        let (z, code) = self.encode(x, dispatch);
        let hd = code.to_dense();
        let mut loss =
            DaeLoss { penalty: self.spec.l1 as f64 * hd.iter().map(|v| v.abs() as f64).sum::<f64>() * inv as f64, ..DaeLoss::default() };

        // Decoder: pre-activations, loss, and δ_a (already divided by the batch size).
        let (dh, delta_a): (DMatrix<f32>, DeltaA) = match selection {
            None => {
                let mut a = self.decode_all(&code);
                let mut total = 0.0f64;
                a.zip_apply(target, |av, t| {
                    let (l, d) = rec.loss_and_grad(*av, t);
                    total += l as f64;
                    *av = d * inv;
                });
                loss.reconstruction = total * inv as f64;
                let mut dh = DMatrix::zeros(self.spec.hidden, batch);
                let zero = DVector::zeros(self.spec.hidden);
                dense_affine(self.decoder(), &a, &zero, &mut dh);
                (dh, DeltaA::Dense(a))
            }
            Some(sel) => {
                assert_eq!(sel.weights.batch_size(), batch, "Dae: selection batch size");
                let mut a = vec![0.0f32; sel.weights.nnz()];
                masked_backward(self.decoder(), &hd, &sel.weights, sel.weights.by_unit(), &mut a);
                let mut total = 0.0f64;
                let mut deltas = sel.weights.clone();
                for (((d, &i), &w), (&av, &t)) in
                    deltas.values_mut().iter_mut().zip(sel.weights.indices()).zip(sel.weights.values()).zip(a.iter().zip(&sel.targets))
                {
                    let (l, g) = rec.loss_and_grad(av + self.decoder_bias[i as usize], t);
                    total += (w * l) as f64;
                    *d = w * g * inv;
                }
                loss.reconstruction = total * inv as f64;
                let mut dh = DMatrix::zeros(self.spec.hidden, batch);
                sparse_affine(self.decoder(), &deltas, &DVector::zeros(self.spec.hidden), &mut dh);
                (dh, DeltaA::Sparse(deltas))
            }
        };

        // Encoder δ_z = (dh + λ·sign(h)) ⊙ f'(z), computed before any weight moves.
        let l1 = self.spec.l1 * inv;
        let act = self.spec.activation;
        let mut delta_z = dh;
        for ((d, &zv), &hv) in delta_z.iter_mut().zip(z.iter()).zip(hd.iter()) {
            let s = if hv > 0.0 {
                1.0
            } else if hv < 0.0 {
                -1.0
            } else {
                0.0
            };
            *d = (*d + l1 * s) * act.df(zv);
        }

        (loss, Backward { hd, delta_a, delta_z })
    }
}

/// What [`Dae::backward`] leaves for the parameter gradients of one batch, computed before any
/// weight moves.
struct Backward {
    /// The code, dense: `hidden × batch`.
    hd: DMatrix<f32>,
    /// δ of the decoder's pre-activations (already divided by the batch size).
    delta_a: DeltaA,
    /// δ of the encoder's pre-activations, L1 term included.
    delta_z: DMatrix<f32>,
}

impl Backward {
    /// Decoder parameters: `dec_t += alpha·∂L/∂Vᵀ` with `∂L/∂Vᵀ = h·δ_aᵀ`, and
    /// `dec_b += alpha·∂L/∂c` with `∂L/∂c = Σ δ_a`.
    fn add_decoder(&self, alpha: f32, dec_t: &mut DMatrix<f32>, dec_b: &mut DVector<f32>) {
        match &self.delta_a {
            DeltaA::Dense(da) => {
                dense_weight_grad(alpha, &self.hd, da, 1.0, dec_t);
                dec_b.axpy(alpha, &da.column_sum(), 1.0);
            }
            DeltaA::Sparse(ds) => {
                sparse_weight_grad(alpha, &self.hd, ds.by_unit(), 1.0, dec_t);
                for e in 0..ds.batch_size() {
                    let (idx, val) = ds.example(e);
                    for (&i, &v) in idx.iter().zip(val) {
                        dec_b[i as usize] += alpha * v;
                    }
                }
            }
        }
    }

    /// Encoder parameters for the (corrupted) input `x`: `enc += alpha·∂L/∂W` with
    /// `∂L/∂W = δ_z·x̃ᵀ`, and `enc_b += alpha·∂L/∂b` with `∂L/∂b = Σ δ_z`.
    fn add_encoder(&self, alpha: f32, x: &Features, dispatch: &mut Dispatch, enc: &mut DMatrix<f32>, enc_b: &mut DVector<f32>) {
        match x {
            Features::Sparse(s) => {
                dispatch.weight_grad(alpha, &self.delta_z, s, s.by_unit(), 1.0, enc);
            }
            Features::Dense(m) => dense_weight_grad(alpha, &self.delta_z, m, 1.0, enc),
        }
        enc_b.axpy(alpha, &self.delta_z.column_sum(), 1.0);
    }
}

/// δ of the decoder's pre-activations: dense, or at the selected positions.
enum DeltaA {
    Dense(DMatrix<f32>),
    Sparse(SparseBatch),
}

/// Checks that targets fit a cross-entropy reconstruction.
pub(crate) fn check_targets(rec: Reconstruction, target: &Features) -> Result<()> {
    if rec.cross_entropy() {
        let ok = match target {
            Features::Dense(m) => m.iter().all(|v| (0.0..=1.0).contains(v)),
            Features::Sparse(s) => s.values().iter().all(|v| (0.0..=1.0).contains(v)),
        };
        if !ok {
            return Err(PretrainError::DataMismatch(format!("{rec} reconstruction uses cross-entropy, which needs targets in [0, 1]")));
        }
    }
    Ok(())
}
