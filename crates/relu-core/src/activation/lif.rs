use super::ActivationFn;

/// The rescaled firing rate of a leaky integrate-and-fire neuron, the biological motivation of
/// the paper's Figure 1 (Dayan & Abbott 2001, ch. 5).
///
/// A LIF neuron driven by a constant current `I` fires at rate
///
/// ```text
/// rate(I) = 1 / (t_ref + τ · ln((E + R·I − V_r) / (E + R·I − V_th)))   if E + R·I > V_th
///         = 0                                                           otherwise
/// ```
///
/// with membrane time constant τ, refractory period `t_ref`, reset potential `V_r`, threshold
/// `V_th`, resting potential `E` and membrane resistance `R`. We use Dayan & Abbott's constants
/// τ = 10 ms, `V_th` = −54 mV, `V_r` = −80 mV, and a refractory period `t_ref` = 2 ms (a typical
/// absolute refractory period; the book's basic model has none).
///
/// **Rescaling.** The input `x` is the drive above threshold, `E + R·I − V_th`, measured in units
/// of `V_th − V_r` = 26 mV, so the threshold sits at `x = 0`; the output is the rate divided by the
/// maximal rate `1/t_ref`, so it lies in `[0, 1)`:
///
/// ```text
/// f(x) = 1 / (1 + (τ/t_ref) · ln(1 + 1/x))   for x > 0,   0 otherwise.
/// ```
///
/// Like the rectifier it is exactly zero below threshold (sparse outputs, derivative 0 there,
/// including at `x = 0`), but it saturates and its slope is unbounded just above threshold.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Lif;

impl Lif {
    /// Membrane time constant τ in seconds.
    pub const TAU: f32 = 0.010;
    /// Refractory period `t_ref` in seconds.
    pub const T_REF: f32 = 0.002;
    /// Threshold potential in volts.
    pub const V_THRESHOLD: f32 = -0.054;
    /// Reset potential in volts.
    pub const V_RESET: f32 = -0.080;
    /// `τ / t_ref`, the only ratio that survives the rescaling.
    const RATIO: f32 = Self::TAU / Self::T_REF;
}

impl ActivationFn for Lif {
    // Recovering x from y needs an exp and a division, no cheaper than keeping the input.
    const DERIVATIVE_FROM_OUTPUT: bool = false;
    const SPARSE_OUTPUT: bool = true;

    #[inline(always)]
    fn f(self, x: f32) -> f32 {
        if x > 0.0 { 1.0 / (1.0 + Self::RATIO * (1.0 / x).ln_1p()) } else { 0.0 }
    }

    #[inline(always)]
    fn df(self, x: f32) -> f32 {
        if x > 0.0 {
            // f = 1/(1 + r·L), L = ln(1 + 1/x), dL/dx = -1/(x(x+1)),
            // so f' = r / (x(x+1)) · f².
            let fx = self.f(x);
            Self::RATIO * fx * fx / (x * (x + 1.0))
        } else {
            0.0
        }
    }

    #[inline(always)]
    fn df_from_output(self, _y: f32) -> Option<f32> {
        None
    }
}
