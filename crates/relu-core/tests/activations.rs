//! Activation derivatives against central finite differences, and numerical edge cases.

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use relu_core::activation::{LeakyRectifier, Softplus};
use relu_core::{Activation, ActivationFn};

fn all_activations() -> Vec<Activation> {
    vec![
        Activation::Rectifier,
        Activation::LeakyRectifier(LeakyRectifier::new(0.01).unwrap()),
        Activation::LeakyRectifier(LeakyRectifier::new(0.3).unwrap()),
        Activation::Softplus(Softplus::new(1.0).unwrap()),
        Activation::Softplus(Softplus::new(3.0).unwrap()),
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Linear,
        Activation::Lif,
    ]
}

/// Central difference in f64 around the f32 function (step chosen for f32 round-off).
fn numeric_derivative(a: Activation, x: f32) -> f64 {
    let h = 1e-2f64.min(x.abs() as f64 * 0.5).max(1e-3);
    let (xp, xm) = ((x as f64 + h) as f32, (x as f64 - h) as f32);
    (a.f(xp) as f64 - a.f(xm) as f64) / (xp as f64 - xm as f64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, rng_seed: RngSeed::Fixed(2011), .. ProptestConfig::default() })]

    /// Inputs are kept at least 0.05 away from the kink at 0 (rectifiers, LIF), where no finite
    /// difference is meaningful. Tolerance is mixed absolute + relative.
    #[test]
    fn derivatives_match_finite_differences(x in prop_oneof![-8.0f32..-0.05, 0.05f32..8.0], which in 0usize..9) {
        let a = all_activations()[which];
        let numeric = numeric_derivative(a, x);
        let analytic = a.df(x) as f64;
        let tol = 2e-3 + 2e-2 * numeric.abs().max(analytic.abs());
        prop_assert!((numeric - analytic).abs() <= tol, "{a}: x={x} analytic {analytic} numeric {numeric}");
        if let Some(from_y) = a.df_from_output(a.f(x)) {
            prop_assert!(a.derivative_from_output());
            let tol = 1e-5 + 1e-3 * analytic.abs();
            prop_assert!((from_y as f64 - analytic).abs() <= tol, "{a}: df from output {from_y} vs {analytic} at x={x}");
        } else {
            prop_assert!(!a.derivative_from_output());
        }
    }
}

/// Worked cases: rectifier'(0) = 0 by convention; leaky slope below 0; softplus(0) = ln 2 / α
/// and softplus'(0) = 1/2; tanh'(0) = 1; sigmoid'(0) = 1/4.
#[test]
fn literal_values() {
    assert_eq!(Activation::Rectifier.f(-0.5), 0.0);
    assert_eq!(Activation::Rectifier.df(0.0), 0.0);
    assert_eq!(Activation::Rectifier.df_from_output(0.0), Some(0.0));
    let leaky = Activation::LeakyRectifier(LeakyRectifier::new(0.1).unwrap());
    assert!((leaky.f(-2.0) + 0.2).abs() < 1e-7);
    assert_eq!(leaky.df(-2.0), 0.1);
    let sp = Softplus::new(2.0).unwrap();
    assert!((sp.f(0.0) - std::f32::consts::LN_2 / 2.0).abs() < 1e-6);
    assert!((sp.df(0.0) - 0.5).abs() < 1e-6);
    assert!((Activation::Tanh.df(0.0) - 1.0).abs() < 1e-7);
    assert!((Activation::Sigmoid.df(0.0) - 0.25).abs() < 1e-7);
    assert_eq!(Activation::Lif.f(0.0), 0.0);
    assert_eq!(Activation::Lif.df(0.0), 0.0);
    // LIF: f(1) = 1/(1 + 5 ln 2).
    assert!((Activation::Lif.f(1.0) - 1.0 / (1.0 + 5.0 * std::f32::consts::LN_2)).abs() < 1e-6);
}

/// softplus(αx)/α must neither overflow nor lose the linear regime at |x| = 100.
#[test]
fn softplus_is_stable_far_out() {
    for alpha in [1.0f32, 3.0, 10.0] {
        let sp = Softplus::new(alpha).unwrap();
        assert_eq!(sp.f(100.0), 100.0, "alpha {alpha}");
        assert!(sp.f(-100.0) >= 0.0 && sp.f(-100.0) < 1e-30, "alpha {alpha}: {}", sp.f(-100.0));
        assert_eq!(sp.df(100.0), 1.0);
        assert!(sp.df(-100.0) >= 0.0 && sp.df(-100.0) < 1e-30);
        assert!(sp.f(1e30).is_finite() && sp.df(-1e30).is_finite());
        // Derivative from output: for large outputs it is 1, for tiny outputs ≈ α·y.
        assert_eq!(sp.df_from_output(100.0), Some(1.0));
    }
    assert!(Activation::Sigmoid.f(-100.0) >= 0.0 && Activation::Sigmoid.f(100.0) <= 1.0);
}

/// NaN is propagated, not silently mapped to zero, so divergence is detectable.
#[test]
fn rectifier_propagates_nan() {
    assert!(Activation::Rectifier.f(f32::NAN).is_nan());
    let z = nalgebra::DMatrix::from_column_slice(2, 1, &[f32::NAN, -1.0]);
    let s = Activation::Rectifier.apply_sparse(&z);
    assert_eq!(s.nnz(), 1);
}
