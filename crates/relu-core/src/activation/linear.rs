use super::ActivationFn;

/// The identity, for linear layers and regression outputs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Linear;

impl ActivationFn for Linear {
    const DERIVATIVE_FROM_OUTPUT: bool = true;
    const SPARSE_OUTPUT: bool = false;

    #[inline(always)]
    fn f(self, x: f32) -> f32 {
        x
    }

    #[inline(always)]
    fn df(self, _x: f32) -> f32 {
        1.0
    }

    #[inline(always)]
    fn df_from_output(self, _y: f32) -> Option<f32> {
        Some(1.0)
    }
}
