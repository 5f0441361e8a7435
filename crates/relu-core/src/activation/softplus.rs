use super::ActivationFn;
use crate::CoreError;

/// Softplus with sharpness α: `softplus(αx)/α = log(1 + exp(αx))/α`.
///
/// The smooth counterpart of the rectifier studied in the paper; larger α approaches
/// `max(0, x)`. Evaluated as `max(t, 0) + log1p(exp(-|t|))` with `t = αx`, which neither
/// overflows for large positive `t` nor loses precision for large negative `t`.
/// The derivative is `sigmoid(αx)`, which also equals `1 - exp(-α·y)` for output `y`, so it can be
/// computed from the output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Softplus {
    alpha: f32,
}

impl Softplus {
    /// Softplus with sharpness `alpha`.
    ///
    /// # Errors
    /// [`CoreError::InvalidActivationParameter`] unless `alpha` is finite and positive.
    pub fn new(alpha: f32) -> Result<Self, CoreError> {
        if alpha.is_finite() && alpha > 0.0 {
            Ok(Self { alpha })
        } else {
            Err(CoreError::InvalidActivationParameter {
                activation: "softplus",
                value: alpha.to_string(),
                expected: "a sharpness alpha > 0, e.g. softplus:3",
            })
        }
    }

    /// The sharpness α.
    pub fn alpha(self) -> f32 {
        self.alpha
    }
}

impl Default for Softplus {
    fn default() -> Self {
        Self { alpha: 1.0 }
    }
}

impl ActivationFn for Softplus {
    const DERIVATIVE_FROM_OUTPUT: bool = true;
    const SPARSE_OUTPUT: bool = false;

    #[inline(always)]
    fn f(self, x: f32) -> f32 {
        let t = self.alpha * x;
        (t.max(0.0) + (-t.abs()).exp().ln_1p()) / self.alpha
    }

    #[inline(always)]
    fn df(self, x: f32) -> f32 {
        super::sigmoid::logistic(self.alpha * x)
    }

    #[inline(always)]
    fn df_from_output(self, y: f32) -> Option<f32> {
        // sigmoid(t) = 1 - exp(-softplus(t)); expm1 keeps precision when y is tiny.
        Some(-(-self.alpha * y).exp_m1())
    }
}
