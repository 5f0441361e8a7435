//! The network: parameters, initialisation and the forward pass with its explicit cache.

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use rand::seq::SliceRandom;
use relu_core::kernels::dense_affine;
use relu_core::random::glorot_uniform;
use relu_core::{Activation, Crossover, Dispatch, DispatchMode, SparseBatch};

use crate::error::Result;
use crate::spec::{HiddenKind, LayerSpec, NetworkSpec, OutputKind};
use relu_core::Features;

/// One layer's parameters.
///
/// `weight` is `rows × in` (column-major, so the weights leaving one input unit are contiguous);
/// for maxout, row `u·k + p` is piece `p` of unit `u`.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// `rows × in`.
    pub weight: DMatrix<f32>,
    /// `rows`.
    pub bias: DVector<f32>,
    /// For sign-flipped rectifier layers: ±1 per unit, multiplied into the outputs.
    pub sign: Option<DVector<f32>>,
}

/// A feed-forward network: hidden layers, then the output layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    spec: NetworkSpec,
    /// Hidden layers then the output layer (`layers.len() == spec.hidden.len() + 1`).
    layers: Vec<Layer>,
}

/// What one hidden layer's forward pass keeps for the backward pass — nothing hidden in the layer.
///
/// For a rectifier layer, `output` is sparse and *is* the backward state: its active set decides
/// where gradients flow.
#[derive(Debug, Clone)]
pub struct HiddenCache {
    /// The layer's output.
    pub output: Features,
    /// Pre-activations, kept only when the derivative cannot be read from the output (LIF).
    pub pre: Option<DMatrix<f32>>,
    /// For maxout: the winning piece of each (unit, example), column-major `units × batch`.
    pub argmax: Option<Vec<u8>>,
    /// How many outputs are not exactly zero (counted once here, for sparsity statistics).
    pub active: usize,
}

/// The explicit result of [`Network::forward`].
#[derive(Debug, Clone)]
pub struct ForwardCache {
    /// One entry per hidden layer.
    pub hidden: Vec<HiddenCache>,
    /// The output layer: class probabilities (softmax, ratings) or predictions (regression),
    /// `outputs × batch`.
    pub output: DMatrix<f32>,
}

/// Reusable per-layer kernel dispatchers (each with its scratch buffer), so the hot loop does not
/// allocate dense copies of sparse batches.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub(crate) dispatch: Vec<Dispatch>,
}

impl Workspace {
    /// A workspace for `network` choosing kernels with `mode` and `crossover`.
    pub fn new(network: &Network, mode: DispatchMode, crossover: Crossover) -> Self {
        Self { dispatch: (0..network.layers.len()).map(|_| Dispatch::new(mode, crossover)).collect() }
    }
}

impl Network {
    /// A network with Glorot-uniform weights `U(±√(6/(fan_in + fan_out)))`, zero biases and (for
    /// sign-flipped layers) exactly half the units flipped, all drawn from `rng` layer by layer.
    /// For maxout, `fan_out` is the number of units.
    ///
    /// # Errors
    /// [`crate::NnError::InvalidParameter`] if the spec does not pass [`NetworkSpec::check`].
    pub fn new(spec: NetworkSpec, rng: &mut impl Rng) -> Result<Self> {
        spec.check()?;
        let mut layers = Vec::with_capacity(spec.hidden.len() + 1);
        let mut fan_in = spec.inputs;
        for l in &spec.hidden {
            let rows = rows_of(l);
            let weight = glorot_uniform(rows, fan_in, fan_in, l.units, rng);
            let sign = l.sign_flip.then(|| {
                let mut order: Vec<usize> = (0..l.units).collect();
                order.shuffle(rng);
                let mut s = DVector::from_element(l.units, 1.0f32);
                for &u in &order[..l.units / 2] {
                    s[u] = -1.0;
                }
                s
            });
            layers.push(Layer { weight, bias: DVector::zeros(rows), sign });
            fan_in = l.units;
        }
        let out = spec.output.units();
        layers.push(Layer { weight: glorot_uniform(out, fan_in, fan_in, out, rng), bias: DVector::zeros(out), sign: None });
        Ok(Self { spec, layers })
    }

    /// Builds a network from given parameters (e.g. a checkpoint), checking every shape.
    ///
    /// # Errors
    /// [`crate::NnError::InvalidParameter`] for a bad spec or a parameter of the wrong shape.
    pub fn from_parts(spec: NetworkSpec, layers: Vec<Layer>) -> Result<Self> {
        spec.check()?;
        let bad = |what: String| crate::error::invalid("parameter shape", what, "shapes matching the architecture");
        if layers.len() != spec.hidden.len() + 1 {
            return Err(bad(format!("{} layers for {} hidden + 1 output", layers.len(), spec.hidden.len())));
        }
        let mut fan_in = spec.inputs;
        for (i, layer) in layers.iter().enumerate() {
            let (rows, units, flip) = match spec.hidden.get(i) {
                Some(l) => (rows_of(l), l.units, l.sign_flip),
                None => (spec.output.units(), spec.output.units(), false),
            };
            if layer.weight.shape() != (rows, fan_in) {
                return Err(bad(format!(
                    "layer {i} weight is {}×{}, expected {rows}×{fan_in}",
                    layer.weight.nrows(),
                    layer.weight.ncols()
                )));
            }
            if layer.bias.len() != rows {
                return Err(bad(format!("layer {i} bias has {} entries, expected {rows}", layer.bias.len())));
            }
            match (&layer.sign, flip) {
                (Some(s), true) if s.len() == units && s.iter().all(|&v| v == 1.0 || v == -1.0) => {}
                (None, false) => {}
                _ => {
                    return Err(bad(format!(
                        "layer {i} sign-flip vector does not match (expected {} of ±1)",
                        if flip { units } else { 0 }
                    )));
                }
            }
            if !(layer.weight.iter().all(|v| v.is_finite()) && layer.bias.iter().all(|v| v.is_finite())) {
                return Err(crate::error::invalid(
                    "parameter value",
                    format!("non-finite value in layer {i}"),
                    "finite weights and biases",
                ));
            }
            fan_in = units;
        }
        Ok(Self { spec, layers })
    }

    /// The architecture.
    pub fn spec(&self) -> &NetworkSpec {
        &self.spec
    }

    /// All layers: hidden ones, then the output layer.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Sets hidden layer `layer`'s L1 weight λ (e.g. a target-sparsity controller's).
    ///
    /// # Panics
    /// If `layer` is not a hidden layer or `l1` is not a finite number ≥ 0.
    #[track_caller]
    pub fn set_l1(&mut self, layer: usize, l1: f32) {
        assert!(l1.is_finite() && l1 >= 0.0, "set_l1: λ {l1} is not a finite number >= 0");
        self.spec.hidden[layer].l1 = l1;
    }

    /// Forward pass on a batch of inputs (`inputs × batch`).
    ///
    /// # Shapes
    /// `x`: `spec.inputs × batch`; the cache holds each hidden layer's `units × batch` output and
    /// the `outputs × batch` output.
    ///
    /// # Panics
    /// If `x` has the wrong number of features.
    #[track_caller]
    pub fn forward(&self, x: &Features, ws: &mut Workspace) -> ForwardCache {
        self.check_input(x);
        let mut hidden: Vec<HiddenCache> = Vec::with_capacity(self.spec.hidden.len());
        for (i, layer) in self.layers[..self.spec.hidden.len()].iter().enumerate() {
            let input = if i == 0 { x } else { &hidden[i - 1].output };
            let h = self.hidden_forward(i, layer, input, ws);
            hidden.push(h);
        }
        let last = self.layers.len() - 1;
        let output = self.output_forward(&self.layers[last], hidden.last().map_or(x, |h| &h.output), ws);
        ForwardCache { hidden, output }
    }

    /// The forward pass of a training step: like [`Network::forward`], but `prepare(i, layer,
    /// input, dispatch)` may change layer `i` just before it reads its input (the optimiser
    /// brings the weight columns that the input will read up to date there).
    #[track_caller]
    pub(crate) fn forward_preparing(
        &mut self,
        x: &Features,
        ws: &mut Workspace,
        mut prepare: impl FnMut(usize, &mut Layer, &Features, &Dispatch),
    ) -> ForwardCache {
        self.check_input(x);
        let mut hidden: Vec<HiddenCache> = Vec::with_capacity(self.spec.hidden.len());
        for i in 0..self.spec.hidden.len() {
            let input = if i == 0 { x } else { &hidden[i - 1].output };
            prepare(i, &mut self.layers[i], input, &ws.dispatch[i]);
            let h = self.hidden_forward(i, &self.layers[i], input, ws);
            hidden.push(h);
        }
        let last = self.layers.len() - 1;
        let input = hidden.last().map_or(x, |h| &h.output);
        prepare(last, &mut self.layers[last], input, &ws.dispatch[last]);
        let output = self.output_forward(&self.layers[last], input, ws);
        ForwardCache { hidden, output }
    }

    #[track_caller]
    fn check_input(&self, x: &Features) {
        assert_eq!(x.dim(), self.spec.inputs, "Network::forward: input has {} features, the network expects {}", x.dim(), self.spec.inputs);
    }

    /// Hidden layer `i` on its input.
    fn hidden_forward(&self, i: usize, layer: &Layer, input: &Features, ws: &mut Workspace) -> HiddenCache {
        let z = affine(layer, input, &mut ws.dispatch[i]);
        // The next layer reads this output; when it would take the dense path anyway, the
        // output is kept dense and never converted to sparse and back.
        let next = &ws.dispatch[i + 1];
        let dense_at = match next.mode {
            DispatchMode::ForceSparse => f32::INFINITY,
            DispatchMode::ForceDense => 0.0,
            DispatchMode::Auto => next.crossover.at(input.len()).forward,
        };
        activate(&self.spec.hidden[i], layer, z, dense_at)
    }

    /// The output layer on the last hidden layer's output.
    fn output_forward(&self, layer: &Layer, input: &Features, ws: &mut Workspace) -> DMatrix<f32> {
        let last = self.layers.len() - 1;
        let mut z = affine(layer, input, &mut ws.dispatch[last]);
        if matches!(self.spec.output, OutputKind::Softmax { .. } | OutputKind::Ratings { .. }) {
            softmax_columns(&mut z);
        }
        z
    }
}

pub(crate) fn rows_of(l: &LayerSpec) -> usize {
    l.units * l.kind.pieces()
}

/// `W·x + b`, through the density dispatch for sparse inputs.
fn affine(layer: &Layer, x: &Features, dispatch: &mut Dispatch) -> DMatrix<f32> {
    let mut z = DMatrix::zeros(layer.weight.nrows(), x.len());
    match x {
        Features::Sparse(s) => {
            dispatch.affine(&layer.weight, s, &layer.bias, &mut z);
        }
        Features::Dense(h) => dense_affine(&layer.weight, h, &layer.bias, &mut z),
    }
    z
}

/// Applies a hidden layer's activation to its pre-activations `z`. Sparse-output activations
/// (rectifier, LIF) give a sparse output unless its density reaches `dense_at` and the
/// derivative can be read from the output (rectifier), in which case the output stays dense.
fn activate(spec: &LayerSpec, layer: &Layer, mut z: DMatrix<f32>, dense_at: f32) -> HiddenCache {
    match spec.kind {
        HiddenKind::Affine { activation } if activation.sparse_output() && activation.derivative_from_output() && !z.is_empty() => {
            let active = activation.count_active(z.as_slice());
            if active as f32 >= dense_at * z.len() as f32 {
                let mut h = z;
                activation.apply_in_place(&mut h);
                if let Some(sign) = &layer.sign {
                    for mut col in h.column_iter_mut() {
                        col.component_mul_assign(sign);
                    }
                }
                return HiddenCache { output: Features::Dense(h), pre: None, argmax: None, active };
            }
            let mut s = activation.apply_sparse(&z);
            if let Some(sign) = &layer.sign {
                flip_signs(&mut s, sign);
            }
            HiddenCache { output: Features::Sparse(s), pre: None, argmax: None, active }
        }
        HiddenKind::Affine { activation } if activation.sparse_output() => {
            let mut s = activation.apply_sparse(&z);
            if let Some(sign) = &layer.sign {
                flip_signs(&mut s, sign);
            }
            let active = s.nnz();
            let pre = (!activation.derivative_from_output()).then_some(z);
            HiddenCache { output: Features::Sparse(s), pre, argmax: None, active }
        }
        HiddenKind::Affine { activation } => {
            debug_assert!(activation.derivative_from_output(), "dense activations have output derivatives");
            activation.apply_in_place(&mut z);
            let active = z.iter().filter(|&&v| v != 0.0).count();
            HiddenCache { output: Features::Dense(z), pre: None, argmax: None, active }
        }
        HiddenKind::Maxout { pieces } => {
            let (units, batch) = (spec.units, z.ncols());
            let mut h = DMatrix::zeros(units, batch);
            let mut argmax = vec![0u8; units * batch];
            for e in 0..batch {
                let col = z.column(e);
                for u in 0..units {
                    let (mut best, mut arg) = (col[u * pieces], 0);
                    for p in 1..pieces {
                        if col[u * pieces + p] > best {
                            best = col[u * pieces + p];
                            arg = p;
                        }
                    }
                    h[(u, e)] = best;
                    argmax[e * units + u] = arg as u8;
                }
            }
            let active = h.iter().filter(|&&v| v != 0.0).count();
            HiddenCache { output: Features::Dense(h), pre: None, argmax: Some(argmax), active }
        }
    }
}

fn flip_signs(s: &mut SparseBatch, sign: &DVector<f32>) {
    let (offsets, n) = (s.offsets().to_vec(), s.batch_size());
    let idx = s.indices().to_vec();
    let vals = s.values_mut();
    for e in 0..n {
        for k in offsets[e]..offsets[e + 1] {
            vals[k] *= sign[idx[k] as usize];
        }
    }
}

/// Column-wise softmax in place, shifted by the column maximum for stability.
pub(crate) fn softmax_columns(z: &mut DMatrix<f32>) {
    for mut col in z.column_iter_mut() {
        let m = col.max();
        let mut sum = 0.0f32;
        for v in col.iter_mut() {
            *v = (*v - m).exp();
            sum += *v;
        }
        col /= sum;
    }
}

/// The activation of a hidden layer spec, for code that needs its derivative.
pub(crate) fn activation_of(spec: &LayerSpec) -> Option<Activation> {
    match spec.kind {
        HiddenKind::Affine { activation } => Some(activation),
        HiddenKind::Maxout { .. } => None,
    }
}

impl Network {
    /// The architecture and mutable parameters at once (for the backward pass).
    pub(crate) fn parts_mut(&mut self) -> (&NetworkSpec, &mut [Layer]) {
        (&self.spec, &mut self.layers)
    }
}
