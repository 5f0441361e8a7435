//! Dense kernels: sgemm through [`crate::matrix::gemm`], and a register-blocked micro-kernel for
//! the forward product of small batches.
//!
//! A general sgemm packs both operands into cache-sized panels on every call. For a batch of ten
//! examples that packing of the 4 MB weight matrix costs more than the product itself, so
//! [`dense_affine`] streams the weights straight from their column-major storage through a
//! 64-row × 6-example register tile instead (`docs/benchmarks.md` compares it with matrixmultiply
//! and the `gemm` crate).

use multiversion::multiversion;
use multiversion::target::target_cfg_f;
use nalgebra::{DMatrix, DVector};

use super::check;
use super::parallel::for_row_blocks;
use super::simd::madd;
use super::step::{StepRule, apply_rule};
use crate::matrix::{MatMut, MatRef, gemm};

/// Batches up to this size take the micro-kernel in [`dense_affine`]; larger ones sgemm, whose
/// packing pays for itself there (`cargo bench -p relu-core --bench kernels -- sgemm`).
pub(crate) const MICRO_MAX_BATCH: usize = 48;

/// Examples per register tile of the forward micro-kernel: 64 rows × 6 examples are 24 AVX-512
/// accumulators.
const NR: usize = 6;

/// Packs `h` (k×n, column-major) into blocks of [`NR`] columns, row after row:
/// `out[blk·k·NR + kk·NR + c] = h[kk, blk·NR + c]`, zero-padded.
fn pack_columns(h: &DMatrix<f32>) -> Vec<f32> {
    let (k, n) = h.shape();
    let mut out = vec![0.0f32; n.div_ceil(NR) * k * NR];
    for (e, col) in h.column_iter().enumerate() {
        let (blk, c) = (e / NR, e % NR);
        let dst = &mut out[blk * k * NR..(blk + 1) * k * NR];
        for (kk, &v) in col.iter().enumerate() {
            dst[kk * NR + c] = v;
        }
    }
    out
}

/// Rows `row..row + n` of `W·H + b` from the packed batch, into rows `r..r + n` of `zb`.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "aarch64+neon"))]
#[allow(clippy::too_many_arguments)]
fn micro_rows<'z>(
    w: &[f32],
    ld: usize,
    row: usize,
    n: usize,
    bias: &[f32],
    packed: &[f32],
    k: usize,
    batch: usize,
    zb: &mut MatMut<'z>,
    r: usize,
) {
    let fma = target_cfg_f!(target_feature = "fma");
    for blk in 0..batch.div_ceil(NR) {
        let hp = &packed[blk * k * NR..(blk + 1) * k * NR];
        let mut t = 0;
        while t < n {
            // Tiles of 64 rows, then 16, 8, 4 and single rows for the bottom of the matrix (1,000 =
            // 15·64 + 2·16 + 8).
            let m = match n - t {
                64.. => 64,
                16.. => 16,
                8.. => 8,
                4.. => 4,
                _ => 1,
            };
            macro_rules! tile {
                ($m:literal) => {{
                    let acc = micro_tile::<$m>(fma, w, ld, row + t, hp, k);
                    for c in 0..NR.min(batch - blk * NR) {
                        let col = &mut zb.col_mut(blk * NR + c)[r + t..r + t + $m];
                        for (i, z) in col.iter_mut().enumerate() {
                            *z = acc[c][i] + bias[row + t + i];
                        }
                    }
                }};
            }
            match m {
                64 => tile!(64),
                16 => tile!(16),
                8 => tile!(8),
                4 => tile!(4),
                _ => tile!(1),
            }
            t += m;
        }
    }
}

/// `R` rows of `W` (from row `t0`, column stride `ld`) times `k` packed rows of [`NR`] columns:
/// the outer-product micro-kernel, `R·NR` accumulators and one load of the weights per `NR`
/// multiply-adds.
#[inline(always)]
fn micro_tile<const R: usize>(fma: bool, w: &[f32], ld: usize, t0: usize, hp: &[f32], k: usize) -> [[f32; R]; NR] {
    let mut acc = [[0.0f32; R]; NR];
    // Checked once, so the loop walks exact chunks without bounds checks (which would keep the
    // accumulators in memory).
    assert!(t0 + R <= ld && w.len() >= k * ld && hp.len() >= k * NR, "micro_tile: tile out of bounds");
    for (wcol, hb) in w[..k * ld].chunks_exact(ld).zip(hp.chunks_exact(NR)) {
        let wc = &wcol[t0..t0 + R];
        for c in 0..NR {
            for i in 0..R {
                acc[c][i] = madd(fma, hb[c], wc[i], acc[c][i]);
            }
        }
    }
    acc
}

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
    let work = w.nrows() * w.ncols() * h.ncols();
    if h.ncols() <= MICRO_MAX_BATCH {
        let (k, batch) = h.shape();
        let packed = pack_columns(h);
        let (wd, ld, bias) = (w.as_slice(), w.nrows(), b.as_slice());
        for_row_blocks(MatMut::from(z), work, &|r0, mut zb| {
            let n = zb.nrows();
            micro_rows(wd, ld, r0, n, bias, &packed, k, batch, &mut zb, 0);
        });
        return;
    }
    let (wv, hv, bias) = (MatRef::from(w), MatRef::from(h), b.as_slice());
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

/// A dense optimiser step `W ← rule(W, δ·Hᵀ)` on every weight (and its velocity, for momentum):
/// the plain rule goes straight through [`dense_weight_grad`]; decay and momentum first compute
/// the scaled gradient into `scratch` (reshaped to `W`'s shape as needed).
///
/// # Panics
/// If the shapes disagree, or `rule` has momentum and no velocity is given.
#[track_caller]
pub fn dense_step(
    rule: StepRule,
    w: &mut DMatrix<f32>,
    velocity: Option<&mut DMatrix<f32>>,
    delta: &DMatrix<f32>,
    h: &DMatrix<f32>,
    scratch: &mut DMatrix<f32>,
) {
    check::velocity(&rule, w, velocity.as_deref());
    if !rule.moves_without_gradient() {
        dense_weight_grad(rule.scale, delta, h, 1.0, w);
        return;
    }
    if scratch.shape() != w.shape() {
        *scratch = DMatrix::zeros(w.nrows(), w.ncols());
    }
    dense_weight_grad(rule.scale, delta, h, 0.0, scratch);
    apply_rule(rule, w.as_mut_slice(), velocity.map(|v| v.as_mut_slice()), scratch.as_slice());
}
