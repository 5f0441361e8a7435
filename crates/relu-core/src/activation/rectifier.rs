use super::ActivationFn;

/// The rectifier `max(0, x)` (Glorot, Bordes & Bengio 2011).
///
/// Its derivative is 1 for `x > 0` and 0 for `x <= 0`: we take `rectifier'(0) = 0`, so a unit
/// whose output is exactly zero gets no gradient and the active set (the units with `y > 0`) is
/// all the backward pass needs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rectifier;

impl ActivationFn for Rectifier {
    const DERIVATIVE_FROM_OUTPUT: bool = true;
    const SPARSE_OUTPUT: bool = true;

    #[inline(always)]
    fn f(self, x: f32) -> f32 {
        // NaN is passed through (not mapped to 0 as `x.max(0.0)` would) so a diverging network
        // is caught by the training loop's finiteness checks instead of silently going dead.
        if x > 0.0 || x.is_nan() { x } else { 0.0 }
    }

    #[inline(always)]
    fn df(self, x: f32) -> f32 {
        if x > 0.0 { 1.0 } else { 0.0 }
    }

    #[inline(always)]
    fn df_from_output(self, y: f32) -> Option<f32> {
        Some(if y > 0.0 { 1.0 } else { 0.0 })
    }
}
