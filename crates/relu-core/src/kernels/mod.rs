//! Dense and sparse matrix kernels of one layer's forward and backward pass.
//!
//! | kernel | dense | sparse |
//! | --- | --- | --- |
//! | forward `Z = W·H + b` | [`dense_affine`] | [`sparse_affine`] (reads only active inputs' weight columns) |
//! | backward `dH = Wᵀ·δ` | [`dense_backward`] | [`masked_backward`] (only where the input was active) |
//! | weight gradient `dW = δ·Hᵀ` | [`dense_weight_grad`] | [`sparse_weight_grad`] (only columns of active inputs) |
//! | backward + optimiser step, fused | [`dense_backward`] then [`dense_step`] | [`sparse_backward_step`] (one pass over the active columns) |
//!
//! How a weight moves in an optimiser step (plain SGD, weight decay, momentum) is one
//! [`StepRule`]; [`catch_up_columns`] applies the idle steps that a sparse step skipped for the
//! columns of silent units, so decay and momentum stay sparse and exact.
//!
//! [`Dispatch`] picks the path per call from the batch's measured density. [`reference`](mod@reference) holds
//! slow, obviously correct versions that the tests compare every fast path against.
//!
//! All kernels run on the calling rayon pool (see [`crate::thread_pool`]).

#[cfg(target_arch = "x86_64")]
mod avx512;
mod dense;
mod dispatch;
mod parallel;
pub mod reference;
mod simd;
mod sparse;
mod step;

/// Whether the hand-written AVX-512 kernels are in use.
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx512_available() -> bool {
    avx512::available()
}

#[cfg(target_arch = "x86_64")]
pub(crate) use avx512::push_rectified;

/// Makes every kernel use its portable version from now on, even on CPUs with AVX-512 (for
/// tests that check the portable kernels on such machines; results agree up to rounding).
pub fn use_portable_kernels() {
    #[cfg(target_arch = "x86_64")]
    avx512::PORTABLE.store(true, std::sync::atomic::Ordering::Relaxed);
}

pub use dense::{dense_affine, dense_backward, dense_step, dense_weight_grad};
pub use dispatch::{Crossover, Densities, Dispatch, DispatchMode, KernelPath, Touched};
pub use sparse::{catch_up_columns, masked_backward, sparse_affine, sparse_backward_step, sparse_backward_update, sparse_weight_grad};
pub use step::{ColumnMap, StepRule, apply_gradient};

/// Shape checks shared by the dense and sparse paths, so both panic with the same message.
mod check {
    use nalgebra::{DMatrix, DVector};

    use super::StepRule;
    use crate::sparse::{SparseBatch, UnitMajor};

    #[track_caller]
    pub(super) fn affine(w: &DMatrix<f32>, in_rows: usize, batch: usize, b: &DVector<f32>, z: &DMatrix<f32>) {
        let (out, inp) = w.shape();
        if inp != in_rows || b.len() != out || z.shape() != (out, batch) {
            shape_panic("affine", format!("W {out}×{inp}, input {in_rows}×{batch}, b {}, Z {}×{}", b.len(), z.nrows(), z.ncols()));
        }
    }

    #[track_caller]
    pub(super) fn backward(w: &DMatrix<f32>, delta: &DMatrix<f32>) {
        if w.nrows() != delta.nrows() {
            shape_panic("backward", format!("W {}×{}, δ {}×{}", w.nrows(), w.ncols(), delta.nrows(), delta.ncols()));
        }
    }

    #[track_caller]
    pub(super) fn sparse_pair(units: usize, batch: usize, s: &SparseBatch, s_units: &UnitMajor) {
        if s.units() != units
            || s.batch_size() != batch
            || s_units.units() != units
            || s_units.batch_size() != batch
            || s_units.nnz() != s.nnz()
        {
            shape_panic(
                "masked backward",
                format!(
                    "expected S {units}×{batch}, got S {}×{} and its transpose {}×{}",
                    s.units(),
                    s.batch_size(),
                    s_units.units(),
                    s_units.batch_size()
                ),
            );
        }
    }

    /// A rule with momentum needs a velocity shaped like the weights.
    #[track_caller]
    pub(super) fn velocity(rule: &StepRule, w: &DMatrix<f32>, v: Option<&DMatrix<f32>>) {
        match v {
            Some(v) if v.shape() != w.shape() => {
                shape_panic("optimiser step", format!("velocity {}×{} for W {}×{}", v.nrows(), v.ncols(), w.nrows(), w.ncols()))
            }
            None if rule.has_velocity() => shape_panic("optimiser step", "momentum needs a velocity".into()),
            _ => {}
        }
    }

    #[cold]
    #[inline(never)]
    #[track_caller]
    fn shape_panic(op: &str, detail: String) -> ! {
        panic!("{op}: shapes do not agree: {detail}")
    }
}
