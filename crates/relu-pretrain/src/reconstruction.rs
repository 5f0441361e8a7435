//! Reconstruction layers and losses, including the paper's rectifier-specific strategies.

use std::fmt;
use std::str::FromStr;

use relu_core::activation::Softplus;
use relu_core::{Activation, ActivationFn};
use serde::{Deserialize, Serialize};

use crate::error::{PretrainError, invalid};

/// How a denoising auto-encoder reconstructs its input, and with which loss.
///
/// The paper (section 4.3) found rectifier encoders hard to pre-train with the usual sigmoid
/// reconstruction and compared these alternatives. Parsed from `softplus`, `scaled-sigmoid`,
/// `linear`, `linear-pre` (targets before the rectifier), `rectifier` and `sigmoid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Reconstruction {
    /// 1. Softplus reconstruction `r = softplus(a)` with squared error — the paper's best on
    ///    images.
    Softplus,
    /// 2. The previous layer's rectifier activations are divided by their maximum over the
    ///    pre-training data (so inputs and targets lie in `[0, 1]`), reconstructed by a sigmoid
    ///    with cross-entropy — the paper's best on text. The scale is folded back into the
    ///    encoder's weights when the layer is handed to the supervised network.
    ScaledSigmoid,
    /// 3. Linear reconstruction with squared error, targets after the previous rectifier (the
    ///    layer's own input).
    Linear,
    /// 3'. Linear reconstruction with squared error, targets *before* the previous layer's
    ///    rectifier (its pre-activations). On the first layer, the same as [`Reconstruction::Linear`].
    LinearPreActivation,
    /// 4. Rectifier reconstruction `r = max(0, a)` with squared error.
    Rectifier,
    /// Sigmoid reconstruction with cross-entropy, for inputs in `[0, 1]` and tanh/sigmoid
    /// encoders (the classic denoising auto-encoder). Inputs in `[−1, 1]` (a lower tanh layer's
    /// codes) are reconstructed as `(x + 1) / 2`.
    Sigmoid,
}

impl Reconstruction {
    /// Every strategy, in the order of the paper's numbering (3' after 3).
    pub const ALL: [Reconstruction; 6] = [
        Reconstruction::Softplus,
        Reconstruction::ScaledSigmoid,
        Reconstruction::Linear,
        Reconstruction::LinearPreActivation,
        Reconstruction::Rectifier,
        Reconstruction::Sigmoid,
    ];

    /// The reconstruction for an encoder activation when none is given: softplus for rectifier
    /// encoders (the paper's choice on images), sigmoid otherwise.
    pub fn default_for(activation: Activation) -> Self {
        match activation {
            Activation::Rectifier | Activation::LeakyRectifier(_) | Activation::Softplus(_) | Activation::Lif => Reconstruction::Softplus,
            _ => Reconstruction::Sigmoid,
        }
    }

    /// Whether the loss is cross-entropy (targets must lie in `[0, 1]`).
    pub fn cross_entropy(self) -> bool {
        matches!(self, Reconstruction::ScaledSigmoid | Reconstruction::Sigmoid)
    }

    /// The reconstruction `r = g(a)`.
    pub(crate) fn output(self, a: f32) -> f32 {
        match self {
            Reconstruction::Softplus => Softplus::default().f(a),
            Reconstruction::ScaledSigmoid | Reconstruction::Sigmoid => Activation::Sigmoid.f(a),
            Reconstruction::Linear | Reconstruction::LinearPreActivation => a,
            Reconstruction::Rectifier => Activation::Rectifier.f(a),
        }
    }

    /// Loss of one reconstructed value `r = g(a)` against target `t`, and its derivative with
    /// respect to the pre-activation `a`.
    ///
    /// Squared error: `½(r − t)²`, derivative `(r − t)·g'(a)`. Cross-entropy with a sigmoid:
    /// `−t·ln r − (1 − t)·ln(1 − r)`, derivative `r − t` (computed stably from `a`).
    pub(crate) fn loss_and_grad(self, a: f32, t: f32) -> (f32, f32) {
        let r = self.output(a);
        if self.cross_entropy() {
            // ln σ(a) = −softplus(−a), ln(1 − σ(a)) = −softplus(a).
            let sp = Softplus::default();
            (t * sp.f(-a) + (1.0 - t) * sp.f(a), r - t)
        } else {
            let d = match self {
                Reconstruction::Softplus => Softplus::default().df(a),
                Reconstruction::Rectifier => Activation::Rectifier.df(a),
                _ => 1.0,
            };
            (0.5 * (r - t) * (r - t), (r - t) * d)
        }
    }
}

impl fmt::Display for Reconstruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reconstruction::Softplus => "softplus",
            Reconstruction::ScaledSigmoid => "scaled-sigmoid",
            Reconstruction::Linear => "linear",
            Reconstruction::LinearPreActivation => "linear-pre",
            Reconstruction::Rectifier => "rectifier",
            Reconstruction::Sigmoid => "sigmoid",
        })
    }
}

impl FromStr for Reconstruction {
    type Err = PretrainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "softplus" | "1" => Reconstruction::Softplus,
            "scaled-sigmoid" | "2" => Reconstruction::ScaledSigmoid,
            "linear" | "3" => Reconstruction::Linear,
            "linear-pre" => Reconstruction::LinearPreActivation,
            "rectifier" | "4" => Reconstruction::Rectifier,
            "sigmoid" => Reconstruction::Sigmoid,
            _ => return Err(invalid("reconstruction", s, "softplus, scaled-sigmoid, linear, linear-pre, rectifier or sigmoid (or 1-4)")),
        })
    }
}

impl TryFrom<String> for Reconstruction {
    type Error = PretrainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Reconstruction> for String {
    fn from(value: Reconstruction) -> Self {
        value.to_string()
    }
}
