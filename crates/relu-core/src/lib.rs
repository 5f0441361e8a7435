//! `relu-core`: the numerical core of relu, a library for deep sparse rectifier networks
//! (Glorot, Bordes & Bengio, AISTATS 2011).
//!
//! * [`activation`]: rectifier, leaky rectifier, softplus(α), tanh, sigmoid, linear and the
//!   rescaled leaky integrate-and-fire rate, each written once as an [`ActivationFn`] and chosen
//!   at run time with [`Activation`].
//! * [`SparseBatch`]: a batch of activations holding only its non-zero entries — the rectifier's
//!   active set, which is also the backward pass's only state — with [`SparsityStats`].
//! * [`kernels`]: forward, backward, weight-gradient and fused optimiser-step kernels in a dense
//!   form (sgemm through [`matrix::gemm`], the one wrapper around matrixmultiply, and a
//!   register-blocked micro-kernel for small batches) and a sparse form that skips zero
//!   activations, with a density-based [`Dispatch`] between them; [`StepRule`] writes SGD,
//!   weight decay and momentum once, and the idle steps of silent columns are applied lazily, so
//!   decay and momentum stay sparse.
//!
//! # Matrix convention
//! Matrices are nalgebra `DMatrix<f32>` (column-major) with **one example per column**:
//! activations are `units × batch`, weights `out × in`. An example's activations are contiguous,
//! and so are the weights leaving one input unit (a column of `W`), which is what lets the sparse
//! kernels read only the columns of active inputs.
//!
//! # Example
//! ```
//! use nalgebra::{DMatrix, DVector};
//! use relu_core::{Activation, kernels};
//!
//! // A layer 3 ← 4 and a batch of two examples.
//! let w = DMatrix::from_fn(3, 4, |i, j| (i as f32) - (j as f32) * 0.5);
//! let b = DVector::from_element(3, 0.1);
//! let x = DMatrix::from_column_slice(4, 2, &[1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0]);
//!
//! // The rectifier's output, built sparse in one pass.
//! let mut z = DMatrix::zeros(3, 2);
//! kernels::dense_affine(&w, &x, &b, &mut z);
//! let h = Activation::Rectifier.apply_sparse(&z);
//! assert!(h.density() < 1.0);
//!
//! // The next layer reads only the weight columns of active units.
//! let w2 = DMatrix::from_element(2, 3, 1.0f32);
//! let mut z2 = DMatrix::zeros(2, 2);
//! kernels::sparse_affine(&w2, &h, &DVector::zeros(2), &mut z2);
//! assert_eq!(z2, &w2 * h.to_dense());
//! ```
#![deny(missing_docs)]

pub mod activation;
mod dataset;
mod error;
pub mod kernels;
pub mod matrix;
pub mod random;
mod sparse;
pub mod testing;

pub use activation::{Activation, ActivationFn};
pub use dataset::{Dataset, Features, Targets};
pub use error::CoreError;
pub use kernels::{ColumnMap, Crossover, Densities, Dispatch, DispatchMode, KernelPath, StepRule, Touched};
pub use sparse::{FiringCounter, SparseBatch, SparsityStats, UnitMajor};

/// The seeded, portable RNG every relu crate uses (ChaCha8): the same seed gives the same stream
/// on every platform and in every release of relu, which is what makes `--seed` reproducible.
pub fn seeded_rng(seed: u64) -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    rand_chacha::ChaCha8Rng::seed_from_u64(seed)
}

/// Builds a rayon thread pool with `threads` threads; run kernels inside `pool.install(|| …)`
/// to control how many cores they use. Results do not depend on the thread count.
///
/// # Errors
/// [`CoreError::ThreadPool`] if `threads` is 0 or the pool cannot be created.
pub fn thread_pool(threads: usize) -> Result<rayon::ThreadPool, CoreError> {
    if threads == 0 {
        return Err(CoreError::ThreadPool { threads, reason: "need at least one thread".into() });
    }
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| CoreError::ThreadPool { threads, reason: e.to_string() })
}
