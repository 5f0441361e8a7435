//! The random draws shared by the crates above: Glorot-uniform weights and standard normal
//! samples. Written once so that initialisation and noise are the same draws, in the same order,
//! wherever they are used.

use nalgebra::DMatrix;
use rand::Rng;

/// A `rows × cols` matrix with entries uniform in `[−l, l]`, `l = √(6 / (fan_in + fan_out))`
/// (Glorot & Bengio 2010), drawn in column-major order. `rows` may differ from `fan_out` (a
/// maxout layer has several affine pieces per unit).
pub fn glorot_uniform(rows: usize, cols: usize, fan_in: usize, fan_out: usize, rng: &mut impl Rng) -> DMatrix<f32> {
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
    DMatrix::from_fn(rows, cols, |_, _| rng.random_range(-limit..=limit))
}

/// A standard normal sample (Box–Muller: two uniform draws per sample), so no extra dependency
/// is needed for one distribution.
pub fn standard_normal(rng: &mut impl Rng) -> f32 {
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glorot_range_and_order() {
        let m = glorot_uniform(30, 20, 20, 30, &mut crate::seeded_rng(1));
        let limit = (6.0f64 / 50.0).sqrt() as f32;
        assert!(m.iter().all(|v| v.abs() <= limit));
        assert!(m.iter().any(|v| v.abs() > 0.9 * limit), "the range is used");
        // Column-major draws: the first column is the first 30 draws.
        let mut rng = crate::seeded_rng(1);
        let first: Vec<f32> = (0..30).map(|_| rng.random_range(-limit..=limit)).collect();
        assert_eq!(m.column(0).iter().copied().collect::<Vec<_>>(), first);
    }

    #[test]
    fn normal_moments() {
        let mut rng = crate::seeded_rng(2);
        let xs: Vec<f64> = (0..20_000).map(|_| f64::from(standard_normal(&mut rng))).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "mean {mean}, variance {var}");
        assert!(xs.iter().all(|x| x.is_finite()));
    }
}
