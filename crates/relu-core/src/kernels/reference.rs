//! Slow, obviously correct reference kernels: triple loops in `f64`, for tests only.
//!
//! Each function computes exactly what its fast counterpart documents, with no blocking,
//! threading or sparsity tricks, so a disagreement always points at the fast path.

use nalgebra::{DMatrix, DVector};

use crate::sparse::SparseBatch;

/// `Z = W·H + b`.
pub fn affine(w: &DMatrix<f32>, h: &DMatrix<f32>, b: &DVector<f32>) -> DMatrix<f32> {
    DMatrix::from_fn(w.nrows(), h.ncols(), |i, e| {
        let mut s = b[i] as f64;
        for j in 0..w.ncols() {
            s += w[(i, j)] as f64 * h[(j, e)] as f64;
        }
        s as f32
    })
}

/// `dH = Wᵀ·δ` everywhere.
pub fn backward(w: &DMatrix<f32>, delta: &DMatrix<f32>) -> DMatrix<f32> {
    DMatrix::from_fn(w.ncols(), delta.ncols(), |j, e| {
        let mut s = 0.0f64;
        for i in 0..w.nrows() {
            s += w[(i, j)] as f64 * delta[(i, e)] as f64;
        }
        s as f32
    })
}

/// `Wᵀ·δ` at the stored positions of `s`, aligned with `s.values()`.
pub fn masked_backward(w: &DMatrix<f32>, delta: &DMatrix<f32>, s: &SparseBatch) -> Vec<f32> {
    let full = backward(w, delta);
    let mut out = Vec::with_capacity(s.nnz());
    for e in 0..s.batch_size() {
        out.extend(s.example(e).0.iter().map(|&j| full[(j as usize, e)]));
    }
    out
}

/// `α·δ·Hᵀ + β·dW0`.
pub fn weight_grad(alpha: f32, delta: &DMatrix<f32>, h: &DMatrix<f32>, beta: f32, dw0: &DMatrix<f32>) -> DMatrix<f32> {
    DMatrix::from_fn(delta.nrows(), h.nrows(), |i, j| {
        let mut s = 0.0f64;
        for e in 0..delta.ncols() {
            s += delta[(i, e)] as f64 * h[(j, e)] as f64;
        }
        let old = if beta == 0.0 { 0.0 } else { beta as f64 * dw0[(i, j)] as f64 };
        (alpha as f64 * s + old) as f32
    })
}
