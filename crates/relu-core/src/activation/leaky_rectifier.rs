use super::ActivationFn;
use crate::CoreError;

/// The leaky rectifier: `x` for `x > 0`, `slope · x` otherwise (Maas et al. 2013).
///
/// The slope lies in `[0, 1]`; with slope 0 it is the plain rectifier. The derivative at 0 is
/// `slope`, matching the rectifier's convention of taking the left derivative at the kink. Because
/// `slope >= 0`, the sign of the output equals the sign of the input, so the derivative can be read
/// from the output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakyRectifier {
    slope: f32,
}

impl LeakyRectifier {
    /// A leaky rectifier with the given negative-side slope.
    ///
    /// # Errors
    /// [`CoreError::InvalidActivationParameter`] unless `slope` is finite and in `[0, 1]`.
    pub fn new(slope: f32) -> Result<Self, CoreError> {
        if slope.is_finite() && (0.0..=1.0).contains(&slope) {
            Ok(Self { slope })
        } else {
            Err(CoreError::InvalidActivationParameter {
                activation: "leaky-rectifier",
                value: slope.to_string(),
                expected: "a slope in [0, 1], e.g. leaky-rectifier:0.01",
            })
        }
    }

    /// The slope on the negative side.
    pub fn slope(self) -> f32 {
        self.slope
    }
}

impl ActivationFn for LeakyRectifier {
    const DERIVATIVE_FROM_OUTPUT: bool = true;
    const SPARSE_OUTPUT: bool = false;

    #[inline(always)]
    fn f(self, x: f32) -> f32 {
        if x > 0.0 { x } else { self.slope * x }
    }

    #[inline(always)]
    fn df(self, x: f32) -> f32 {
        if x > 0.0 { 1.0 } else { self.slope }
    }

    #[inline(always)]
    fn df_from_output(self, y: f32) -> Option<f32> {
        Some(if y > 0.0 { 1.0 } else { self.slope })
    }
}
