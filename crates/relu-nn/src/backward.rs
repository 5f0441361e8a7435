//! Backpropagation over sparse activations, the L1 activation penalty, and the losses.
//!
//! The backward pass walks the layers top-down. For each layer it first computes the gradient for
//! the layer below (with the layer's current weights), then hands the layer's δ to an
//! [`Update`] — which either stores the gradient ([`Store`] into [`Gradients`]) or applies an SGD step in place.
//! When the layer below is a rectifier, its sparse output is the whole backward state: the
//! gradient is computed only at its active positions (relu-core's masked backward), and the
//! weight update touches only the columns of units active somewhere in the batch.

use nalgebra::{DMatrix, DVector};
use relu_core::kernels::{dense_backward, dense_weight_grad};
use relu_core::{Dispatch, SparseBatch, UnitMajor};

use crate::network::{ForwardCache, HiddenCache, Layer, Network, Workspace, activation_of, rows_of};
use crate::spec::{HiddenKind, LayerSpec, NetworkSpec, OutputKind};
use relu_core::{Features, Targets};

/// Loss and error counts of one batch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchLoss {
    /// Mean data loss per example (NLL, or `½‖y − t‖²` for regression).
    pub data: f64,
    /// Mean L1 activation penalty per example, `Σ_l λ_l Σ_u |h_lu|`.
    pub penalty: f64,
    /// Misclassified examples (classification and ratings).
    pub errors: usize,
    /// Sum of squared errors: of outputs (regression) or of expected ratings (ratings).
    pub squared_error: f64,
    /// Examples in the batch.
    pub examples: usize,
}

/// The layers a backward pass walks: shared (`&[Layer]`) for a sink that only reads them, such
/// as [`Gradients`], so computing gradients never needs a copy of the network; mutable
/// (`&mut [Layer]`) for an update that steps the parameters in place.
pub(crate) trait Layers {
    /// Layer `i` as the update receives it: `&Layer` or `&mut Layer`.
    type One<'a>: std::ops::Deref<Target = Layer>
    where
        Self: 'a;
    /// The number of layers.
    fn count(&self) -> usize;
    /// Layers `0..i` to read, and layer `i` for the update.
    fn split(&mut self, i: usize) -> (&[Layer], Self::One<'_>);
}

impl Layers for &[Layer] {
    type One<'a>
        = &'a Layer
    where
        Self: 'a;
    fn count(&self) -> usize {
        self.len()
    }
    fn split(&mut self, i: usize) -> (&[Layer], &Layer) {
        (&self[..i], &self[i])
    }
}

impl Layers for &mut [Layer] {
    type One<'a>
        = &'a mut Layer
    where
        Self: 'a;
    fn count(&self) -> usize {
        self.len()
    }
    fn split(&mut self, i: usize) -> (&[Layer], &mut Layer) {
        let (lower, upper) = self.split_at_mut(i);
        (lower, &mut upper[0])
    }
}

/// Receives each layer's δ (the gradient of the batch loss with respect to its pre-activations)
/// during the backward pass over layers `L`.
pub(crate) trait Update<L: Layers> {
    /// Called once per layer, top-down, after the gradient for the layer below was computed, so
    /// an update over `&mut [Layer]` may change the layer's parameters in place.
    ///
    /// # Shapes
    /// `delta`: `rows × batch`; `input`: `in × batch` (the layer's input); `input_units` is the
    /// transpose of a sparse input.
    fn layer(
        &mut self,
        index: usize,
        layer: L::One<'_>,
        delta: &DMatrix<f32>,
        input: &Features,
        input_units: Option<&UnitMajor>,
        dispatch: &mut Dispatch,
    );

    /// Called instead of [`Update::layer`] for a layer whose input is sparse: first writes the
    /// gradient for the layer below at the input's active positions into `grad` (when given,
    /// aligned with the input's values, computed with the weights as they were), then updates.
    /// The default runs relu-core's masked backward, then [`Update::layer`]; plain SGD overrides
    /// it with the fused kernel that does both in one pass over the active weight columns.
    fn sparse_layer(
        &mut self,
        index: usize,
        layer: L::One<'_>,
        delta: &DMatrix<f32>,
        input: &Features,
        grad: Option<&mut [f32]>,
        dispatch: &mut Dispatch,
    ) {
        let units = match input {
            Features::Sparse(s) => {
                if let Some(g) = grad {
                    dispatch.masked_backward(&layer.weight, delta, s, s.by_unit(), g);
                }
                Some(s.by_unit())
            }
            Features::Dense(_) => None,
        };
        self.layer(index, layer, delta, input, units, dispatch);
    }
}

/// Gradients of the batch loss, one entry per layer (hidden layers then the output layer).
#[derive(Debug, Clone, PartialEq)]
pub struct Gradients {
    /// `∂loss/∂W` per layer.
    pub weights: Vec<DMatrix<f32>>,
    /// `∂loss/∂b` per layer.
    pub biases: Vec<DVector<f32>>,
}

impl Gradients {
    pub(crate) fn new(layers: usize) -> Self {
        Self { weights: vec![DMatrix::zeros(0, 0); layers], biases: vec![DVector::zeros(0); layers] }
    }

    /// Zero gradients shaped like `net`'s parameters.
    pub(crate) fn zeros_like(net: &Network) -> Self {
        Self {
            weights: net.layers().iter().map(|l| DMatrix::zeros(l.weight.nrows(), l.weight.ncols())).collect(),
            biases: net.layers().iter().map(|l| DVector::zeros(l.bias.len())).collect(),
        }
    }
}

impl Gradients {
    /// Stores `scale` times layer `index`'s gradient over its previous buffers (reused when
    /// shaped like the layer, as a data-parallel step does every batch): a dense input's in one
    /// pass (β = 0), a sparse input's active columns into a zeroed buffer.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn store(
        &mut self,
        scale: f32,
        index: usize,
        layer: &Layer,
        delta: &DMatrix<f32>,
        input: &Features,
        input_units: Option<&UnitMajor>,
        dispatch: &mut Dispatch,
    ) {
        let g = &mut self.weights[index];
        if g.shape() != layer.weight.shape() {
            *g = DMatrix::zeros(layer.weight.nrows(), layer.weight.ncols());
        }
        match input {
            Features::Dense(h) => dense_weight_grad(scale, delta, h, 0.0, g),
            Features::Sparse(_) => {
                g.fill(0.0);
                add_outer(scale, delta, input, input_units, g, dispatch);
            }
        }
        let gb = &mut self.biases[index];
        *gb = delta.column_sum();
        if scale != 1.0 {
            *gb *= scale;
        }
    }
}

/// The gradient sink of a backward pass: every layer's gradient times `scale` stored into
/// `grads` ([`Gradients::store`]). Scale 1 for [`Network::gradients`]; a data-parallel member's
/// share of the global batch in a synchronous step, so the group's sum is the batch's gradient.
pub(crate) struct Store<'g> {
    pub(crate) grads: &'g mut Gradients,
    pub(crate) scale: f32,
}

impl<L: Layers> Update<L> for Store<'_> {
    fn layer(
        &mut self,
        index: usize,
        layer: L::One<'_>,
        delta: &DMatrix<f32>,
        input: &Features,
        input_units: Option<&UnitMajor>,
        dispatch: &mut Dispatch,
    ) {
        self.grads.store(self.scale, index, &layer, delta, input, input_units, dispatch);
    }
}

/// `target ← target + α·δ·xᵀ`, touching only the columns of active inputs when `x` is sparse.
pub(crate) fn add_outer(
    alpha: f32,
    delta: &DMatrix<f32>,
    x: &Features,
    x_units: Option<&UnitMajor>,
    target: &mut DMatrix<f32>,
    dispatch: &mut Dispatch,
) {
    match x {
        Features::Sparse(s) => {
            let units = x_units.expect("sparse inputs come with their transpose");
            dispatch.weight_grad(alpha, delta, s, units, 1.0, target);
        }
        Features::Dense(h) => dense_weight_grad(alpha, delta, h, 1.0, target),
    }
}

/// Runs the backward pass of the network `spec`/`layers` for a batch whose forward pass produced
/// `cache`, calling `update` for every layer top-down, and returns the batch's loss.
///
/// # Panics
/// If `targets` or `x` do not match the cache's batch.
pub(crate) fn backward<L: Layers>(
    spec: &NetworkSpec,
    mut layers: L,
    x: &Features,
    cache: &ForwardCache,
    targets: &Targets,
    ws: &mut Workspace,
    update: &mut impl Update<L>,
) -> BatchLoss {
    let batch = x.len();
    assert_eq!(targets.len(), batch, "backward: {} targets for a batch of {batch}", targets.len());
    let (mut delta, mut loss) = output_delta(spec.output, &cache.output, targets);
    loss.penalty = penalty(&spec.hidden, cache, batch);
    for i in (0..layers.count()).rev() {
        let input = if i == 0 { x } else { &cache.hidden[i - 1].output };
        let (lower, layer) = layers.split(i);
        let dispatch = &mut ws.dispatch[i];
        // For i > 0 the input is the output of hidden layer i − 1, whose δ is computed here.
        let below = match input {
            Features::Sparse(s) => {
                let mut grad = (i > 0).then(|| vec![0.0f32; s.nnz()]);
                update.sparse_layer(i, layer, &delta, input, grad.as_deref_mut(), dispatch);
                grad.map(|g| sparse_delta(&spec.hidden[i - 1], &lower[i - 1], &cache.hidden[i - 1], s, &g, batch))
            }
            Features::Dense(h) => {
                let below =
                    (i > 0).then(|| dense_delta(&spec.hidden[i - 1], &lower[i - 1], &layer.weight, &delta, &cache.hidden[i - 1], h, batch));
                update.layer(i, layer, &delta, input, None, dispatch);
                below
            }
        };
        if let Some(d) = below {
            delta = d;
        }
    }
    loss
}

/// Sign for the L1 subgradient, 0 at 0.
fn sign(v: f32) -> f32 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// δ of a hidden layer with sparse outputs `s` (gradient w.r.t. its pre-activations), from the
/// gradient `grad` w.r.t. its outputs at the active positions (aligned with `s.values()`),
/// including the layer's own L1 penalty.
fn sparse_delta(spec: &LayerSpec, layer: &Layer, cache: &HiddenCache, s: &SparseBatch, grad: &[f32], batch: usize) -> DMatrix<f32> {
    let l1 = spec.l1 / batch as f32;
    let activation = activation_of(spec).expect("sparse outputs come from affine layers");
    let mut d = DMatrix::zeros(rows_of(spec), s.batch_size());
    for e in 0..s.batch_size() {
        let mut col = d.column_mut(e);
        let range = s.offsets()[e]..s.offsets()[e + 1];
        for ((&j, &h), &gk) in s.indices()[range.clone()].iter().zip(&s.values()[range.clone()]).zip(&grad[range]) {
            let j = j as usize;
            let g = gk + l1 * sign(h);
            // h = sign_j · f(z): dh/dz = sign_j · f'(z), with f' read from the output
            // (rectifier: 1 on the active set) or from the kept pre-activation (LIF).
            let derivative = match (&cache.pre, &layer.sign) {
                (Some(z), _) => activation.df(z[(j, e)]),
                (None, Some(flip)) => flip[j],
                (None, None) => activation.df_from_output(h).expect("derivative from output"),
            };
            col[j] = g * derivative;
        }
    }
    d
}

/// δ of a hidden layer with dense outputs `h`, from the weights `w` and δ of the layer above,
/// including the layer's own L1 penalty.
fn dense_delta(
    spec: &LayerSpec,
    below: &Layer,
    w: &DMatrix<f32>,
    delta: &DMatrix<f32>,
    cache: &HiddenCache,
    h: &DMatrix<f32>,
    batch: usize,
) -> DMatrix<f32> {
    let l1 = spec.l1 / batch as f32;
    let mut dx = DMatrix::zeros(w.ncols(), h.ncols());
    dense_backward(w, delta, &mut dx);
    if l1 > 0.0 {
        dx.zip_apply(h, |d, y| *d += l1 * sign(y));
    }
    match spec.kind {
        HiddenKind::Affine { activation } => {
            let df = |y: f32| activation.df_from_output(y).expect("dense outputs come from activations with output derivatives");
            match &below.sign {
                // h = sign_u · f(z): dh/dz = sign_u · f'(z), and f' is read from sign_u · h.
                Some(sign) => {
                    for (mut dcol, hcol) in dx.column_iter_mut().zip(h.column_iter()) {
                        for ((d, &y), &s) in dcol.iter_mut().zip(hcol.iter()).zip(sign.iter()) {
                            *d *= s * df(s * y);
                        }
                    }
                }
                None => dx.zip_apply(h, |d, y| *d *= df(y)),
            }
            dx
        }
        HiddenKind::Maxout { pieces } => {
            let argmax = cache.argmax.as_ref().expect("maxout keeps its argmax");
            let units = spec.units;
            let mut dz = DMatrix::zeros(units * pieces, h.ncols());
            for e in 0..h.ncols() {
                for u in 0..units {
                    dz[(u * pieces + argmax[e * units + u] as usize, e)] = dx[(u, e)];
                }
            }
            dz
        }
    }
}

/// Mean L1 penalty of a batch: `Σ_l λ_l · (1/B) Σ_{u,e} |h_lue|`.
pub(crate) fn penalty(hidden: &[LayerSpec], cache: &ForwardCache, batch: usize) -> f64 {
    if batch == 0 {
        return 0.0;
    }
    hidden
        .iter()
        .zip(&cache.hidden)
        .filter(|(s, _)| s.l1 > 0.0)
        .map(|(s, c)| {
            let total: f64 = match &c.output {
                Features::Sparse(sb) => sb.values().iter().map(|v| v.abs() as f64).sum(),
                Features::Dense(m) => m.iter().map(|v| v.abs() as f64).sum(),
            };
            s.l1 as f64 * total / batch as f64
        })
        .sum()
}

/// The output layer's δ (already divided by the batch size, as the loss is a batch mean) and the
/// batch's data loss and error counts.
///
/// # Panics
/// If the targets' kind does not fit the output kind.
pub(crate) fn output_delta(kind: OutputKind, out: &DMatrix<f32>, targets: &Targets) -> (DMatrix<f32>, BatchLoss) {
    let batch = out.ncols();
    let inv = if batch == 0 { 0.0 } else { 1.0 / batch as f32 };
    let mut loss = BatchLoss { examples: batch, ..BatchLoss::default() };
    let mut delta = out.clone();
    match (kind, targets) {
        (OutputKind::Softmax { .. } | OutputKind::Ratings { .. }, Targets::Classes(labels)) => {
            let ratings = matches!(kind, OutputKind::Ratings { .. });
            let mut nll = 0.0f64;
            for (e, &y) in labels.iter().enumerate() {
                let col = out.column(e);
                let y = y as usize;
                nll -= (col[y].max(f32::MIN_POSITIVE) as f64).ln();
                if col.imax() != y {
                    loss.errors += 1;
                }
                if ratings {
                    let expected: f64 = col.iter().enumerate().map(|(k, &p)| p as f64 * (k + 1) as f64).sum();
                    loss.squared_error += (expected - (y + 1) as f64).powi(2);
                }
                delta[(y, e)] -= 1.0;
            }
            delta *= inv;
            loss.data = nll * inv as f64;
        }
        (OutputKind::Regression { .. }, Targets::Values(t)) => {
            assert_eq!(t.shape(), out.shape(), "regression targets must be outputs × batch");
            delta -= t;
            loss.squared_error = delta.iter().map(|&d| (d as f64).powi(2)).sum();
            loss.data = 0.5 * loss.squared_error * inv as f64;
            delta *= inv;
        }
        (k, _) => panic!("targets do not fit a {k:?} output"),
    }
    (delta, loss)
}
