use super::ActivationFn;

/// The hyperbolic tangent, the paper's main dense baseline.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tanh;

impl ActivationFn for Tanh {
    const DERIVATIVE_FROM_OUTPUT: bool = true;
    const SPARSE_OUTPUT: bool = false;

    #[inline(always)]
    fn f(self, x: f32) -> f32 {
        x.tanh()
    }

    #[inline(always)]
    fn df(self, x: f32) -> f32 {
        let y = x.tanh();
        1.0 - y * y
    }

    #[inline(always)]
    fn df_from_output(self, y: f32) -> Option<f32> {
        Some(1.0 - y * y)
    }
}
