//! Network architecture: what a checkpoint's metadata stores and what a network is built from.

use relu_core::Activation;
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// The most trainable parameters [`NetworkSpec::check`] accepts: 2^30, 4 GiB of `f32` weights.
/// Training holds about three times the weights (the best epoch's copy, gradients, velocities
/// with momentum), so a network at the limit needs ≈12 GiB. The check runs before anything is
/// allocated, so an absurd `--hidden` is an error instead of an allocation failure.
pub const MAX_PARAMETERS: usize = 1 << 30;

/// The most units (or input features) one layer may have: 2^24 = 16,777,216. The one limit for
/// every front end (`relu train --hidden`, `relu reproduce sentiment --units`, …).
pub const MAX_UNITS: usize = 1 << 24;

/// The kind of a hidden layer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum HiddenKind {
    /// `h = f(W·x + b)` for any relu-core activation.
    Affine {
        /// The activation `f`.
        activation: Activation,
    },
    /// Maxout (Goodfellow et al. 2013): `h_u = max_p (W_p·x + b_p)_u` over `pieces` affine pieces.
    Maxout {
        /// Number of pieces per unit, at least 2.
        pieces: usize,
    },
}

impl HiddenKind {
    /// Affine pieces per unit: `pieces` for maxout, 1 otherwise (a layer has `units · pieces`
    /// weight rows, piece `p` of unit `u` in row `u·pieces + p`).
    pub fn pieces(self) -> usize {
        match self {
            HiddenKind::Maxout { pieces } => pieces,
            HiddenKind::Affine { .. } => 1,
        }
    }
}

/// One hidden layer's architecture and regularisation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LayerSpec {
    /// Number of units.
    pub units: usize,
    /// Affine + activation, or maxout.
    #[serde(flatten)]
    pub kind: HiddenKind,
    /// L1 penalty weight λ on this layer's activations (the paper: 1e-3 for rectifiers).
    pub l1: f32,
    /// Multiply the outputs of half the units (chosen with the network's seed) by −1, as the
    /// paper does to cancel the mean activation of rectifier layers. Only allowed on rectifier
    /// layers.
    pub sign_flip: bool,
}

/// The output layer and its loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum OutputKind {
    /// Softmax over `classes` with negative log-likelihood; error = argmax ≠ label.
    Softmax {
        /// Number of classes.
        classes: usize,
    },
    /// Linear outputs with squared error `½‖y − t‖²` per example.
    Regression {
        /// Number of outputs.
        outputs: usize,
    },
    /// Softmax over rating levels `1..=levels` with NLL; the prediction read out is the expected
    /// rating `Σ_k p_k·k`, scored by RMSE (the paper's star-rating setting).
    Ratings {
        /// Number of rating levels (5 for 1–5 stars).
        levels: usize,
    },
}

impl OutputKind {
    /// Number of output units.
    pub fn units(self) -> usize {
        match self {
            OutputKind::Softmax { classes } => classes,
            OutputKind::Regression { outputs } => outputs,
            OutputKind::Ratings { levels } => levels,
        }
    }
}

/// A whole network's architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// Input dimension.
    pub inputs: usize,
    /// Hidden layers, bottom to top.
    pub hidden: Vec<LayerSpec>,
    /// The output layer.
    pub output: OutputKind,
}

impl NetworkSpec {
    /// A multi-layer perceptron with the same activation and L1 weight on every hidden layer —
    /// the paper's networks. `NetworkSpec::mlp(784, &[1000, 1000, 1000], Activation::Rectifier,
    /// 1e-3, OutputKind::Softmax { classes: 10 })` is its MNIST model.
    pub fn mlp(inputs: usize, hidden: &[usize], activation: Activation, l1: f32, output: OutputKind) -> Self {
        let hidden =
            hidden.iter().map(|&units| LayerSpec { units, kind: HiddenKind::Affine { activation }, l1, sign_flip: false }).collect();
        Self { inputs, hidden, output }
    }

    /// Validates sizes and hyper-parameters, and the parameter count against
    /// [`MAX_PARAMETERS`] before anything is allocated.
    ///
    /// # Errors
    /// [`crate::NnError::InvalidParameter`] naming the first bad value.
    pub fn check(&self) -> Result<()> {
        if self.inputs == 0 || self.inputs > MAX_UNITS {
            return Err(invalid("input dimension", self.inputs, "1 to 16,777,216"));
        }
        for l in &self.hidden {
            if l.units == 0 || l.units > MAX_UNITS {
                return Err(invalid("hidden layer size", l.units, "1 to 16,777,216"));
            }
            if !(l.l1.is_finite() && l.l1 >= 0.0) {
                return Err(invalid("L1 penalty", l.l1, "a finite number >= 0"));
            }
            if let HiddenKind::Maxout { pieces } = l.kind
                && !(2..=64).contains(&pieces)
            {
                return Err(invalid("maxout pieces", pieces, "2 to 64"));
            }
            if l.sign_flip && l.kind != (HiddenKind::Affine { activation: Activation::Rectifier }) {
                return Err(invalid("sign flip", "on a non-rectifier layer", "sign flip only on rectifier layers"));
            }
        }
        let out = self.output.units();
        if out == 0 || out > MAX_UNITS {
            return Err(invalid("output size", out, "1 to 16,777,216"));
        }
        if matches!(self.output, OutputKind::Softmax { classes: 1 } | OutputKind::Ratings { levels: 1 }) {
            return Err(invalid("number of classes", 1, "at least 2"));
        }
        let n = self.parameter_count();
        if n > MAX_PARAMETERS {
            let value = format!("{n} ({:.1} GB of f32 weights, about three times that to train)", n as f64 * 4e-9);
            return Err(invalid("parameter count", value, "at most 1,073,741,824 parameters (4 GiB of f32 weights)"));
        }
        Ok(())
    }

    /// Number of trainable parameters (saturating at `usize::MAX` for absurd sizes).
    pub fn parameter_count(&self) -> usize {
        let mut fan_in = self.inputs;
        let mut n = 0usize;
        for l in &self.hidden {
            let rows = l.units.saturating_mul(l.kind.pieces());
            n = n.saturating_add(rows.saturating_mul(fan_in.saturating_add(1)));
            fan_in = l.units;
        }
        n.saturating_add(self.output.units().saturating_mul(fan_in.saturating_add(1)))
    }
}
