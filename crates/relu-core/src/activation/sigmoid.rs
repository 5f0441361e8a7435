use super::ActivationFn;

/// The logistic sigmoid `1 / (1 + exp(-x))`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sigmoid;

/// Numerically stable logistic function, shared by [`Sigmoid`] and the softplus derivative.
#[inline(always)]
pub(crate) fn logistic(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl ActivationFn for Sigmoid {
    const DERIVATIVE_FROM_OUTPUT: bool = true;
    const SPARSE_OUTPUT: bool = false;

    #[inline(always)]
    fn f(self, x: f32) -> f32 {
        logistic(x)
    }

    #[inline(always)]
    fn df(self, x: f32) -> f32 {
        let y = logistic(x);
        y * (1.0 - y)
    }

    #[inline(always)]
    fn df_from_output(self, y: f32) -> Option<f32> {
        Some(y * (1.0 - y))
    }
}
