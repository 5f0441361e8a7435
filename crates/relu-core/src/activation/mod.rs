//! Activation functions, with each one's math written exactly once.
//!
//! Every activation is a small `Copy` type implementing [`ActivationFn`]: the scalar value `f`,
//! its derivative `df` with respect to the pre-activation, and — where the derivative can be
//! recovered from the output alone — `df_from_output`. Dense, sparse and backward code paths are
//! generic over [`ActivationFn`], so a formula never appears twice. [`Activation`] is the
//! run-time choice (parsed from strings such as `leaky-rectifier:0.01`, serialised the same way)
//! and dispatches once per matrix to the generic code.
//!
//! # The rectifier's kink
//! `max(0, x)` is not differentiable at 0. We use `rectifier'(0) = 0`: a unit whose
//! pre-activation is exactly zero outputs an exact zero and receives no gradient, which is what
//! keeps outputs sparse and lets the backward pass use the active set as its only state.

mod leaky_rectifier;
mod lif;
mod linear;
mod rectifier;
mod sigmoid;
mod softplus;
mod tanh;

pub use leaky_rectifier::LeakyRectifier;
pub use lif::Lif;
pub use linear::Linear;
pub use rectifier::Rectifier;
pub use sigmoid::Sigmoid;
pub use softplus::Softplus;
pub use tanh::Tanh;

use std::fmt;
use std::str::FromStr;

use nalgebra::DMatrix;

use crate::{CoreError, SparseBatch};

/// The scalar math of one activation function.
///
/// Implementors are tiny `Copy` values (a slope, a sharpness) so generic kernels monomorphise to
/// tight loops.
pub trait ActivationFn: Copy + Send + Sync {
    /// Whether [`ActivationFn::df_from_output`] is exact, so the backward pass needs only the
    /// layer's output and never its pre-activation.
    const DERIVATIVE_FROM_OUTPUT: bool;
    /// Whether `f(x) == 0.0` exactly for every `x <= 0`, so outputs are naturally sparse and the
    /// derivative is zero wherever the output is zero.
    const SPARSE_OUTPUT: bool;

    /// The activation value `f(x)`.
    fn f(self, x: f32) -> f32;
    /// The derivative `f'(x)` with respect to the pre-activation `x`.
    fn df(self, x: f32) -> f32;
    /// The derivative expressed through the output `y = f(x)`. Only meaningful when
    /// [`ActivationFn::DERIVATIVE_FROM_OUTPUT`] is `true`; otherwise it returns `None`.
    fn df_from_output(self, y: f32) -> Option<f32>;
}

/// A run-time choice of activation function.
///
/// Parsed from and displayed as `rectifier`, `leaky-rectifier:SLOPE`, `softplus` or
/// `softplus:ALPHA`, `tanh`, `sigmoid`, `linear` and `lif`; serde uses the same strings, so
/// configuration files and checkpoint metadata read naturally.
///
/// ```
/// use relu_core::Activation;
/// let a: Activation = "softplus:3".parse()?;
/// assert_eq!(a.to_string(), "softplus:3");
/// assert!("swish".parse::<Activation>().is_err());
/// # Ok::<(), relu_core::CoreError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Activation {
    /// `max(0, x)`; see [`Rectifier`].
    Rectifier,
    /// `x` for `x > 0`, `slope · x` otherwise; see [`LeakyRectifier`].
    LeakyRectifier(LeakyRectifier),
    /// `softplus(αx)/α`; see [`Softplus`].
    Softplus(Softplus),
    /// Hyperbolic tangent; see [`Tanh`].
    Tanh,
    /// Logistic sigmoid; see [`Sigmoid`].
    Sigmoid,
    /// Identity; see [`Linear`].
    Linear,
    /// Rescaled leaky integrate-and-fire firing rate; see [`Lif`].
    Lif,
}

/// Calls `$body` with `$f` bound to the concrete [`ActivationFn`] behind an [`Activation`], so
/// run-time dispatch happens once per call and the body is monomorphised per activation.
macro_rules! with_activation {
    ($act:expr, |$f:ident| $body:expr) => {
        match $act {
            Activation::Rectifier => {
                let $f = Rectifier;
                $body
            }
            Activation::LeakyRectifier(a) => {
                let $f = a;
                $body
            }
            Activation::Softplus(a) => {
                let $f = a;
                $body
            }
            Activation::Tanh => {
                let $f = Tanh;
                $body
            }
            Activation::Sigmoid => {
                let $f = Sigmoid;
                $body
            }
            Activation::Linear => {
                let $f = Linear;
                $body
            }
            Activation::Lif => {
                let $f = Lif;
                $body
            }
        }
    };
}

impl Activation {
    /// The activation's value at `x`.
    pub fn f(self, x: f32) -> f32 {
        with_activation!(self, |a| a.f(x))
    }

    /// The derivative with respect to the pre-activation at `x`.
    pub fn df(self, x: f32) -> f32 {
        with_activation!(self, |a| a.df(x))
    }

    /// The derivative from the output `y`, when the activation allows it.
    pub fn df_from_output(self, y: f32) -> Option<f32> {
        with_activation!(self, |a| a.df_from_output(y))
    }

    /// Whether the derivative can be computed from the output alone.
    pub fn derivative_from_output(self) -> bool {
        with_activation!(self, |a| derivative_from_output_of(a))
    }

    /// Whether outputs are exactly zero for non-positive inputs (rectifier, LIF), so a layer's
    /// output is best stored as a [`SparseBatch`].
    pub fn sparse_output(self) -> bool {
        with_activation!(self, |a| sparse_output_of(a))
    }

    /// Applies the activation to every element of `z` in place.
    pub fn apply_in_place(self, z: &mut DMatrix<f32>) {
        with_activation!(self, |a| z.iter_mut().for_each(|v| *v = a.f(*v)))
    }

    /// Applies the activation to `z` and returns the result as a sparse batch in one pass over
    /// `z` (exact zeros are dropped). `z` is left untouched.
    pub fn apply_sparse(self, z: &DMatrix<f32>) -> SparseBatch {
        let mut out = SparseBatch::empty(z.nrows());
        self.apply_sparse_into(z, &mut out);
        out
    }

    /// Like [`Activation::apply_sparse`] but reuses `out`'s buffers.
    pub fn apply_sparse_into(self, z: &DMatrix<f32>, out: &mut SparseBatch) {
        match self {
            Activation::Rectifier => out.fill_rectified(z.nrows(), z.ncols(), z.as_slice()),
            _ => with_activation!(self, |a| out.fill_from_columns(z.nrows(), z.ncols(), z.as_slice(), |x| a.f(x))),
        }
    }

    /// How many entries of `z` the activation maps to something other than exactly zero.
    pub fn count_active(self, z: &[f32]) -> usize {
        with_activation!(self, |a| z.iter().filter(|&&v| a.f(v) != 0.0).count())
    }

    /// Multiplies `delta` element-wise by the derivative, given the pre-activations `z` and the
    /// outputs `y` of the same shape. Uses the outputs when the derivative allows it.
    ///
    /// # Panics
    /// If the three matrices differ in shape.
    #[track_caller]
    pub fn backward_in_place(self, delta: &mut DMatrix<f32>, z: &DMatrix<f32>, y: &DMatrix<f32>) {
        assert_eq!(delta.shape(), z.shape(), "activation backward: delta and pre-activation shapes differ");
        assert_eq!(delta.shape(), y.shape(), "activation backward: delta and output shapes differ");
        with_activation!(self, |a| {
            if derivative_from_output_of(a) {
                for (d, &yv) in delta.iter_mut().zip(y.iter()) {
                    *d *= a.df_from_output(yv).unwrap_or(0.0);
                }
            } else {
                for (d, &zv) in delta.iter_mut().zip(z.iter()) {
                    *d *= a.df(zv);
                }
            }
        })
    }

    /// The canonical name without parameters (`leaky-rectifier`, `softplus`, …).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Rectifier => "rectifier",
            Activation::LeakyRectifier(_) => "leaky-rectifier",
            Activation::Softplus(_) => "softplus",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Linear => "linear",
            Activation::Lif => "lif",
        }
    }
}

fn derivative_from_output_of<A: ActivationFn>(_: A) -> bool {
    A::DERIVATIVE_FROM_OUTPUT
}

fn sparse_output_of<A: ActivationFn>(_: A) -> bool {
    A::SPARSE_OUTPUT
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::LeakyRectifier(a) => write!(f, "leaky-rectifier:{}", a.slope()),
            Activation::Softplus(a) => write!(f, "softplus:{}", a.alpha()),
            other => f.write_str(other.name()),
        }
    }
}

fn parse_param(activation: &'static str, text: &str, expected: &'static str) -> Result<f32, CoreError> {
    let bad = || CoreError::InvalidActivationParameter { activation, value: text.to_owned(), expected };
    let v: f32 = text.trim().parse().map_err(|_| bad())?;
    if v.is_finite() { Ok(v) } else { Err(bad()) }
}

impl FromStr for Activation {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (name, param) = match s.split_once(':') {
            Some((n, p)) => (n.trim(), Some(p)),
            None => (s, None),
        };
        let lower = name.to_ascii_lowercase();
        let no_param = |a: Activation| match param {
            None => Ok(a),
            Some(p) => Err(CoreError::InvalidActivationParameter { activation: a.name(), value: p.to_owned(), expected: "no parameter" }),
        };
        match lower.as_str() {
            "rectifier" | "relu" => no_param(Activation::Rectifier),
            "tanh" => no_param(Activation::Tanh),
            "sigmoid" | "logistic" => no_param(Activation::Sigmoid),
            "linear" | "identity" => no_param(Activation::Linear),
            "lif" => no_param(Activation::Lif),
            "leaky-rectifier" | "leaky-relu" => {
                const EXPECTED: &str = "a slope in [0, 1], e.g. leaky-rectifier:0.01";
                let Some(p) = param else {
                    return Err(CoreError::InvalidActivationParameter {
                        activation: "leaky-rectifier",
                        value: String::new(),
                        expected: EXPECTED,
                    });
                };
                let slope = parse_param("leaky-rectifier", p, EXPECTED)?;
                LeakyRectifier::new(slope).map(Activation::LeakyRectifier)
            }
            "softplus" => {
                const EXPECTED: &str = "a sharpness alpha > 0, e.g. softplus:3";
                let alpha = match param {
                    Some(p) => parse_param("softplus", p, EXPECTED)?,
                    None => 1.0,
                };
                Softplus::new(alpha).map(Activation::Softplus)
            }
            _ => Err(CoreError::UnknownActivation { name: s.to_owned() }),
        }
    }
}

impl TryFrom<String> for Activation {
    type Error = CoreError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Activation> for String {
    fn from(value: Activation) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for s in ["rectifier", "leaky-rectifier:0.01", "softplus:3", "softplus:1", "tanh", "sigmoid", "linear", "lif"] {
            let a: Activation = s.parse().unwrap();
            assert_eq!(a.to_string(), s);
            let again: Activation = a.to_string().parse().unwrap();
            assert_eq!(a, again);
        }
        assert_eq!("softplus".parse::<Activation>().unwrap().to_string(), "softplus:1");
        assert_eq!("ReLU".parse::<Activation>().unwrap(), Activation::Rectifier);
    }

    #[test]
    fn parse_errors_name_the_problem() {
        let e = "swish".parse::<Activation>().unwrap_err();
        assert!(matches!(e, CoreError::UnknownActivation { ref name } if name == "swish"), "{e}");
        for bad in [
            "softplus:0",
            "softplus:-1",
            "softplus:abc",
            "softplus:inf",
            "leaky-rectifier",
            "leaky-rectifier:2",
            "leaky-rectifier:-0.1",
            "tanh:3",
        ] {
            let e = bad.parse::<Activation>().unwrap_err();
            assert!(matches!(e, CoreError::InvalidActivationParameter { .. }), "{bad}: {e}");
            assert!(e.to_string().contains("expected"), "{e}");
        }
    }

    #[test]
    fn serde_uses_the_string_form() {
        let a = Activation::Softplus(Softplus::new(2.5).unwrap());
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "\"softplus:2.5\"");
        let back: Activation = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
        assert!(serde_json::from_str::<Activation>("\"softplus:-2\"").is_err());
    }

    #[test]
    fn sparse_apply_matches_dense_apply() {
        let z = DMatrix::from_column_slice(3, 2, &[-1.0, 0.0, 2.0, 3.0, -0.5, 0.25]);
        let s = Activation::Rectifier.apply_sparse(&z);
        let mut d = z.clone();
        Activation::Rectifier.apply_in_place(&mut d);
        assert_eq!(s.to_dense(), d);
        assert_eq!(s.nnz(), 3);
    }
}
