//! Seeded helpers shared by the tests and benchmarks of every relu crate.
//!
//! They live here, once, instead of being copied into each crate's tests.

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A seeded, portable RNG; the same as [`crate::seeded_rng`].
pub fn rng(seed: u64) -> ChaCha8Rng {
    crate::seeded_rng(seed)
}

/// A `rows × cols` matrix with entries uniform in `[-1, 1)`.
pub fn uniform_matrix(rng: &mut impl Rng, rows: usize, cols: usize) -> DMatrix<f32> {
    DMatrix::from_fn(rows, cols, |_, _| rng.random_range(-1.0f32..1.0))
}

/// A vector with entries uniform in `[-1, 1)`.
pub fn uniform_vector(rng: &mut impl Rng, len: usize) -> DVector<f32> {
    DVector::from_fn(len, |_, _| rng.random_range(-1.0f32..1.0))
}

/// A `rows × cols` matrix of non-negative "rectifier outputs": each entry is non-zero with
/// probability `density` (values uniform in `(0, 2)`), exactly zero otherwise.
pub fn rectified_matrix(rng: &mut impl Rng, rows: usize, cols: usize, density: f64) -> DMatrix<f32> {
    DMatrix::from_fn(rows, cols, |_, _| if rng.random_bool(density.clamp(0.0, 1.0)) { rng.random_range(1e-3f32..2.0) } else { 0.0 })
}

/// Asserts `|a - b| <= atol + rtol·max(|a|, |b|)` element-wise, naming the first offending
/// element. NaN never compares close, so outputs pre-filled with NaN expose missed writes.
///
/// # Panics
/// On a shape mismatch or the first element out of tolerance.
#[track_caller]
pub fn assert_close(actual: &[f32], expected: &[f32], rtol: f32, atol: f32, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    for (i, (&a, &b)) in actual.iter().zip(expected).enumerate() {
        let tol = atol + rtol * a.abs().max(b.abs());
        assert!((a - b).abs() <= tol, "{what}: element {i}: got {a}, expected {b} (tolerance {tol})");
    }
}
