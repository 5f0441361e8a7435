//! Stochastic gradient descent: plain (the paper's), with momentum, with weight decay.

use nalgebra::{DMatrix, DVector};
use relu_core::{Dispatch, UnitMajor};
use serde::{Deserialize, Serialize};

use crate::backward::{Update, add_outer, masked_then_layer};
use crate::error::{Result, invalid};
use crate::features::Features;
use crate::network::{Layer, Network};

/// SGD hyper-parameters.
///
/// With `momentum == 0` and `weight_decay == 0` (the paper's setting, the default), a step is
/// fused into the backward pass and moves only the weight columns of inputs that were active in
/// the batch — the others have zero gradient. Momentum and weight decay move every weight, so
/// they use full gradient matrices.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sgd {
    /// Learning rate (default 0.01).
    pub lr: f32,
    /// Momentum μ in `v ← μ·v − lr·g; W ← W + v` (default 0).
    pub momentum: f32,
    /// L2 weight decay added to weight gradients, not biases (default 0).
    pub weight_decay: f32,
    /// Learning-rate decay per epoch: epoch `t` (from 1) uses `lr / (1 + decay·(t − 1))`
    /// (default 0, a constant rate as in the paper).
    pub lr_decay: f32,
}

impl Default for Sgd {
    fn default() -> Self {
        Self { lr: 0.01, momentum: 0.0, weight_decay: 0.0, lr_decay: 0.0 }
    }
}

impl Sgd {
    /// Validates the values.
    ///
    /// # Errors
    /// [`crate::NnError::InvalidParameter`] naming the first bad value.
    pub fn check(self) -> Result<Self> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(invalid("learning rate", self.lr, "a finite number > 0"));
        }
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return Err(invalid("momentum", self.momentum, "a number in [0, 1)"));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(invalid("weight decay", self.weight_decay, "a finite number >= 0"));
        }
        if !(self.lr_decay.is_finite() && self.lr_decay >= 0.0) {
            return Err(invalid("learning-rate decay", self.lr_decay, "a finite number >= 0"));
        }
        Ok(self)
    }

    /// The learning rate of 1-based epoch `epoch`.
    pub fn lr_at(self, epoch: usize) -> f32 {
        self.lr / (1.0 + self.lr_decay * epoch.saturating_sub(1) as f32)
    }

    /// Whether steps can be fused and sparse (no momentum, no weight decay).
    pub fn is_plain(self) -> bool {
        self.momentum == 0.0 && self.weight_decay == 0.0
    }
}

/// Velocities for momentum, one per layer (empty for plain SGD).
#[derive(Debug, Clone, PartialEq)]
pub struct SgdState {
    /// Per layer: weight and bias velocities.
    pub velocity: Vec<(DMatrix<f32>, DVector<f32>)>,
}

impl SgdState {
    /// Zero velocities shaped like `net`'s parameters (none when momentum is 0).
    pub fn new(net: &Network, sgd: Sgd) -> Self {
        let velocity = if sgd.momentum > 0.0 {
            net.layers().iter().map(|l| (DMatrix::zeros(l.weight.nrows(), l.weight.ncols()), DVector::zeros(l.bias.len()))).collect()
        } else {
            Vec::new()
        };
        Self { velocity }
    }
}

/// An SGD step applied layer by layer during the backward pass.
pub(crate) struct SgdStep<'a> {
    pub(crate) sgd: Sgd,
    pub(crate) lr: f32,
    pub(crate) state: &'a mut SgdState,
}

/// `b ← b − lr·Σₑ δ[:, e]`.
fn step_bias(layer: &mut Layer, lr: f32, delta: &DMatrix<f32>) {
    layer.bias.axpy(-lr, &delta.column_sum(), 1.0);
}

impl Update for SgdStep<'_> {
    fn sparse_layer(
        &mut self,
        index: usize,
        layer: &mut Layer,
        delta: &DMatrix<f32>,
        input: &Features,
        grad: Option<&mut [f32]>,
        dispatch: &mut Dispatch,
    ) {
        match input {
            // One pass over the active weight columns: the gradient for the layer below (with
            // the weights before the step), then the step.
            Features::Sparse(s) if self.sgd.is_plain() => {
                dispatch.backward_update(-self.lr, &mut layer.weight, delta, s, grad);
                step_bias(layer, self.lr, delta);
            }
            _ => masked_then_layer(self, index, layer, delta, input, grad, dispatch),
        }
    }

    fn layer(
        &mut self,
        index: usize,
        layer: &mut Layer,
        delta: &DMatrix<f32>,
        input: &Features,
        input_units: Option<&UnitMajor>,
        dispatch: &mut Dispatch,
    ) {
        let lr = self.lr;
        if self.sgd.is_plain() {
            // W ← W − lr·δ·xᵀ, touching only the columns of active inputs.
            add_outer(-lr, delta, input, input_units, &mut layer.weight, dispatch);
            step_bias(layer, lr, delta);
            return;
        }
        let mut g = DMatrix::zeros(layer.weight.nrows(), layer.weight.ncols());
        add_outer(1.0, delta, input, input_units, &mut g, dispatch);
        if self.sgd.weight_decay > 0.0 {
            let wd = self.sgd.weight_decay;
            g.zip_apply(&layer.weight, |gv, w| *gv += wd * w);
        }
        let gb = delta.column_sum();
        match self.state.velocity.get_mut(index) {
            Some((vw, vb)) => {
                let mu = self.sgd.momentum;
                vw.zip_apply(&g, |v, gv| *v = mu * *v - lr * gv);
                vb.axpy(-lr, &gb, mu);
                layer.weight += &*vw;
                layer.bias += &*vb;
            }
            None => {
                layer.weight.zip_apply(&g, |w, gv| *w -= lr * gv);
                layer.bias.axpy(-lr, &gb, 1.0);
            }
        }
    }
}
