//! Dense kernels, all through [`crate::matrix::gemm`].

use nalgebra::{DMatrix, DVector};

use super::check;
use super::parallel::for_row_blocks;
use crate::matrix::{MatMut, MatRef, gemm};

/// Dense affine map `Z = W·H + b` (bias added to every column).
///
/// # Shapes
/// `w`: out×in, `h`: in×batch, `b`: out, `z`: out×batch (overwritten; never read).
///
/// # Panics
/// If the shapes disagree.
#[track_caller]
pub fn dense_affine(w: &DMatrix<f32>, h: &DMatrix<f32>, b: &DVector<f32>, z: &mut DMatrix<f32>) {
    check::affine(w, h.nrows(), h.ncols(), b, z);
    let (wv, hv, bias) = (MatRef::from(w), MatRef::from(h), b.as_slice());
    let work = w.nrows() * w.ncols() * h.ncols();
    for_row_blocks(MatMut::from(z), work, &|r0, mut zb| {
        let rows = zb.nrows();
        for e in 0..zb.ncols() {
            zb.col_mut(e).copy_from_slice(&bias[r0..r0 + rows]);
        }
        gemm(1.0, wv.rows_range(r0, r0 + rows), hv, 1.0, zb);
    });
}

/// Dense backward `dH = Wᵀ·δ` at every position.
///
/// # Shapes
/// `w`: out×in, `delta`: out×batch, `dh`: in×batch (overwritten; never read).
///
/// # Panics
/// If the shapes disagree.
#[track_caller]
pub fn dense_backward(w: &DMatrix<f32>, delta: &DMatrix<f32>, dh: &mut DMatrix<f32>) {
    check::backward(w, delta);
    assert_eq!(dh.shape(), (w.ncols(), delta.ncols()), "dense_backward: dH must be in×batch");
    let (wt, dv) = (MatRef::from(w).t(), MatRef::from(delta));
    let work = w.nrows() * w.ncols() * delta.ncols();
    for_row_blocks(MatMut::from(dh), work, &|r0, block| {
        let rows = block.nrows();
        gemm(1.0, wt.rows_range(r0, r0 + rows), dv, 0.0, block);
    });
}

/// Dense weight gradient `dW ← α·δ·Hᵀ + β·dW`. With `β = 0`, `dw` is never read; with `dw = W`,
/// `α = −lr` and `β = 1` it is a fused SGD step.
///
/// # Shapes
/// `delta`: out×batch, `h`: in×batch, `dw`: out×in.
///
/// # Panics
/// If the shapes disagree.
#[track_caller]
pub fn dense_weight_grad(alpha: f32, delta: &DMatrix<f32>, h: &DMatrix<f32>, beta: f32, dw: &mut DMatrix<f32>) {
    assert_eq!(delta.ncols(), h.ncols(), "dense_weight_grad: δ and H batch sizes differ");
    assert_eq!(dw.shape(), (delta.nrows(), h.nrows()), "dense_weight_grad: dW must be out×in");
    let (dv, ht) = (MatRef::from(delta), MatRef::from(h).t());
    let work = dw.nrows() * dw.ncols() * h.ncols();
    for_row_blocks(MatMut::from(dw), work, &|r0, block| {
        let rows = block.nrows();
        gemm(alpha, dv.rows_range(r0, r0 + rows), ht, beta, block);
    });
}
