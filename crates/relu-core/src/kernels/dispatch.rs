//! Choosing the dense or the sparse path per call from the measured density.

use nalgebra::{DMatrix, DVector};

use super::{
    StepRule, dense_affine, dense_backward, dense_step, dense_weight_grad, masked_backward, sparse_affine, sparse_backward_step,
    sparse_weight_grad,
};
use crate::CoreError;
use crate::sparse::{SparseBatch, UnitMajor};

/// Which implementation a kernel call used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KernelPath {
    /// sgemm on the densified batch.
    Dense,
    /// The sparse kernel.
    Sparse,
}

/// How [`Dispatch`] chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DispatchMode {
    /// Sparse below the crossover density, dense at or above it (the default).
    #[default]
    Auto,
    /// Always the dense path (e.g. to compare against, or for dense activations).
    ForceDense,
    /// Always the sparse path.
    ForceSparse,
}

/// Densities (fractions of non-zero inputs) at or above which each kernel takes the dense path.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Densities {
    /// For `Z = W·S + b`.
    pub forward: f32,
    /// For the masked `Wᵀ·δ` and the fused backward + update.
    pub backward: f32,
    /// For `δ·Sᵀ`.
    pub weight_grad: f32,
}

impl Densities {
    /// The same density for every kernel.
    pub fn uniform(density: f32) -> Self {
        Self { forward: density, backward: density, weight_grad: density }
    }
}

/// Where [`Dispatch`] switches from the sparse to the dense kernels, as a function of the batch
/// size: sgemm gets more efficient with wider batches, so the sparse kernels must skip more
/// work to win.
///
/// `small` applies to batches of [`Crossover::SMALL_BATCH`] examples or fewer, `large` to
/// [`Crossover::LARGE_BATCH`] or more, with linear interpolation in log(batch) between. The
/// defaults are the densities where the sparse kernels' median time meets the dense path's in
/// `cargo bench -p relu-core --bench kernels` (1000×1000, 2 threads) on the development machine;
/// `docs/benchmarks.md` has the table.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Crossover {
    /// For batches of 10 or fewer.
    pub small: Densities,
    /// For batches of 128 or more.
    pub large: Densities,
}

impl Default for Crossover {
    fn default() -> Self {
        Self {
            // From `cargo bench -p relu-core --bench kernels` (2 threads, 1000×1000 and 1000×784;
            // docs/benchmarks.md): the sparse kernels' time grows linearly with density, sgemm's
            // does not, and these are the densities where the two meet. At batch 10 the masked
            // backward and the fused backward + update never lose to sgemm (1.2× and 1.0–2.2×
            // faster even at 100 %), so they stay sparse.
            small: Densities { forward: 0.50, backward: 1.0, weight_grad: 0.45 },
            large: Densities { forward: 0.40, backward: 0.45, weight_grad: 0.40 },
        }
    }
}

impl Crossover {
    /// The batch size `small` applies to.
    pub const SMALL_BATCH: usize = 10;
    /// The batch size `large` applies to.
    pub const LARGE_BATCH: usize = 128;

    /// The same crossover for every kernel and batch size.
    ///
    /// # Errors
    /// [`CoreError::InvalidCrossover`] unless `density` is finite and in `[0, 1]`.
    pub fn uniform(density: f32) -> Result<Self, CoreError> {
        Self { small: Densities::uniform(density), large: Densities::uniform(density) }.check()
    }

    /// Validates every field.
    ///
    /// # Errors
    /// [`CoreError::InvalidCrossover`] for the first value that is not finite and in `[0, 1]`.
    pub fn check(self) -> Result<Self, CoreError> {
        for d in [self.small, self.large] {
            for v in [d.forward, d.backward, d.weight_grad] {
                if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                    return Err(CoreError::InvalidCrossover(v));
                }
            }
        }
        Ok(self)
    }

    /// The crossover densities for a batch of `batch` examples.
    pub fn at(&self, batch: usize) -> Densities {
        let (lo, hi) = ((Self::SMALL_BATCH as f32).ln(), (Self::LARGE_BATCH as f32).ln());
        let t = (((batch.max(1) as f32).ln() - lo) / (hi - lo)).clamp(0.0, 1.0);
        let mix = |a: f32, b: f32| a + (b - a) * t;
        Densities {
            forward: mix(self.small.forward, self.large.forward),
            backward: mix(self.small.backward, self.large.backward),
            weight_grad: mix(self.small.weight_grad, self.large.weight_grad),
        }
    }
}

/// Which columns of a weight matrix a weight-gradient call wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touched<'a> {
    /// Every column (dense path).
    All,
    /// Only these columns, increasing (sparse path).
    Columns(&'a [u32]),
}

/// Picks the dense or sparse kernel per call.
///
/// The sparse input is always available (a rectifier layer produces it in one pass); the dense
/// path densifies it into a reusable scratch matrix first.
///
/// ```
/// use nalgebra::{DMatrix, DVector};
/// use relu_core::{Dispatch, KernelPath, SparseBatch};
/// let w = DMatrix::from_element(3, 4, 0.5f32);
/// let h = DMatrix::from_column_slice(4, 2, &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0]);
/// let s = SparseBatch::from_dense(&h);
/// let mut z = DMatrix::zeros(3, 2);
/// let path = Dispatch::default().affine(&w, &s, &DVector::zeros(3), &mut z);
/// assert_eq!(path, KernelPath::Sparse); // density 25% is below the crossover
/// assert_eq!(z[(0, 1)], 1.0);
/// ```
#[derive(Debug, Clone)]
pub struct Dispatch {
    /// How to choose.
    pub mode: DispatchMode,
    /// Where `Auto` switches.
    pub crossover: Crossover,
    scratch: DMatrix<f32>,
    /// The scaled gradient of a dense step with decay or momentum.
    step_scratch: DMatrix<f32>,
}

impl Default for Dispatch {
    fn default() -> Self {
        Self::new(DispatchMode::Auto, Crossover::default())
    }
}

impl Dispatch {
    /// A dispatcher with the given mode and crossover.
    pub fn new(mode: DispatchMode, crossover: Crossover) -> Self {
        Self { mode, crossover, scratch: DMatrix::zeros(0, 0), step_scratch: DMatrix::zeros(0, 0) }
    }

    /// The path chosen for a batch of this density against this crossover.
    pub fn choose(&self, density: f32, crossover: f32) -> KernelPath {
        match self.mode {
            DispatchMode::ForceDense => KernelPath::Dense,
            DispatchMode::ForceSparse => KernelPath::Sparse,
            DispatchMode::Auto if density >= crossover => KernelPath::Dense,
            DispatchMode::Auto => KernelPath::Sparse,
        }
    }

    /// The scratch matrix, shaped `units × batch` like `s` (reallocated only when the shape
    /// changes; contents unspecified).
    fn scratch_like(&mut self, s: &SparseBatch) -> &mut DMatrix<f32> {
        scratch_like(&mut self.scratch, s)
    }

    fn densify(&mut self, s: &SparseBatch) -> &DMatrix<f32> {
        let scratch = self.scratch_like(s);
        s.write_dense(scratch);
        scratch
    }

    /// `Z = W·S + b`; see [`sparse_affine`] and [`dense_affine`].
    ///
    /// # Panics
    /// If the shapes disagree.
    #[track_caller]
    pub fn affine(&mut self, w: &DMatrix<f32>, s: &SparseBatch, b: &DVector<f32>, z: &mut DMatrix<f32>) -> KernelPath {
        let path = self.choose(s.density(), self.crossover.at(s.batch_size()).forward);
        match path {
            KernelPath::Sparse => sparse_affine(w, s, b, z),
            KernelPath::Dense => {
                let h = self.densify(s);
                dense_affine(w, h, b, z);
            }
        }
        path
    }

    /// `Wᵀ·δ` at the active positions of `s`, written aligned with `s.values()`; see
    /// [`masked_backward`]. The dense path computes the full product and gathers.
    ///
    /// # Panics
    /// If the shapes disagree.
    #[track_caller]
    pub fn masked_backward(
        &mut self,
        w: &DMatrix<f32>,
        delta: &DMatrix<f32>,
        s: &SparseBatch,
        s_units: &UnitMajor,
        out: &mut [f32],
    ) -> KernelPath {
        let path = self.choose(s.density(), self.crossover.at(s.batch_size()).backward);
        match path {
            KernelPath::Sparse => masked_backward(w, delta, s, s_units, out),
            KernelPath::Dense => self.masked_backward_dense(w, delta, s, out),
        }
        path
    }

    /// The dense path of the masked backward: the full `Wᵀ·δ`, gathered at `s`'s positions.
    fn masked_backward_dense(&mut self, w: &DMatrix<f32>, delta: &DMatrix<f32>, s: &SparseBatch, out: &mut [f32]) {
        assert_eq!(out.len(), s.nnz(), "masked_backward: output must hold one value per active entry");
        let full = self.scratch_like(s);
        dense_backward(w, delta, full);
        let mut k = 0;
        for e in 0..s.batch_size() {
            let col = full.column(e);
            for &j in s.example(e).0 {
                out[k] = col[j as usize];
                k += 1;
            }
        }
    }

    /// `dW ← α·δ·Sᵀ + β·dW`; see [`sparse_weight_grad`] and [`dense_weight_grad`]. The dense
    /// path writes every column.
    ///
    /// # Panics
    /// If the shapes disagree.
    #[track_caller]
    pub fn weight_grad<'s>(
        &mut self,
        alpha: f32,
        delta: &DMatrix<f32>,
        s: &SparseBatch,
        s_units: &'s UnitMajor,
        beta: f32,
        dw: &mut DMatrix<f32>,
    ) -> (KernelPath, Touched<'s>) {
        match self.choose(s.density(), self.crossover.at(s.batch_size()).weight_grad) {
            KernelPath::Sparse => (KernelPath::Sparse, Touched::Columns(sparse_weight_grad(alpha, delta, s_units, beta, dw))),
            KernelPath::Dense => {
                let h = self.densify(s);
                dense_weight_grad(alpha, delta, h, beta, dw);
                (KernelPath::Dense, Touched::All)
            }
        }
    }

    /// The masked backward (into `dx`, when given) and the step `W ← W + α·δ·Sᵀ` in one call; see
    /// [`Dispatch::backward_step`], of which this is the plain rule.
    ///
    /// # Panics
    /// If the shapes disagree.
    #[track_caller]
    pub fn backward_update<'s>(
        &mut self,
        alpha: f32,
        w: &mut DMatrix<f32>,
        delta: &DMatrix<f32>,
        s: &'s SparseBatch,
        dx: Option<&mut [f32]>,
    ) -> (KernelPath, Touched<'s>) {
        self.backward_step(StepRule::add(alpha), w, None, delta, s, dx)
    }

    /// The masked backward (into `dx`, when given, with the weights before the step) and an
    /// optimiser step of `W` (and its velocity) with the gradient `δ·Sᵀ`; see
    /// [`sparse_backward_step`]. The sparse path moves only the columns of inputs active in the
    /// batch ([`Touched::Columns`]; with decay or momentum the others are owed idle steps, see
    /// [`super::catch_up_columns`]); the dense path runs [`dense_backward`] (then gathers) and
    /// [`dense_step`] on every weight. Uses the `backward` crossover.
    ///
    /// # Panics
    /// If the shapes disagree, or `rule` has momentum and no velocity is given.
    #[track_caller]
    pub fn backward_step<'s>(
        &mut self,
        rule: StepRule,
        w: &mut DMatrix<f32>,
        velocity: Option<&mut DMatrix<f32>>,
        delta: &DMatrix<f32>,
        s: &'s SparseBatch,
        dx: Option<&mut [f32]>,
    ) -> (KernelPath, Touched<'s>) {
        match self.choose(s.density(), self.crossover.at(s.batch_size()).backward) {
            KernelPath::Sparse => (KernelPath::Sparse, Touched::Columns(sparse_backward_step(rule, w, velocity, delta, s, dx))),
            KernelPath::Dense => {
                if let Some(out) = dx {
                    self.masked_backward_dense(w, delta, s, out);
                }
                let h = scratch_like(&mut self.scratch, s);
                s.write_dense(h);
                dense_step(rule, w, velocity, delta, h, &mut self.step_scratch);
                (KernelPath::Dense, Touched::All)
            }
        }
    }

    /// [`dense_step`] with a dense input `h`, reusing this dispatcher's gradient scratch (a
    /// weight-sized matrix for decay and momentum) from call to call.
    ///
    /// # Panics
    /// If the shapes disagree, or `rule` has momentum and no velocity is given.
    #[track_caller]
    pub fn dense_step(
        &mut self,
        rule: StepRule,
        w: &mut DMatrix<f32>,
        velocity: Option<&mut DMatrix<f32>>,
        delta: &DMatrix<f32>,
        h: &DMatrix<f32>,
    ) {
        dense_step(rule, w, velocity, delta, h, &mut self.step_scratch);
    }
}

/// `scratch`, shaped `units × batch` like `s` (reallocated only when the shape changes; contents
/// unspecified).
fn scratch_like<'a>(scratch: &'a mut DMatrix<f32>, s: &SparseBatch) -> &'a mut DMatrix<f32> {
    if scratch.shape() != (s.units(), s.batch_size()) {
        *scratch = DMatrix::zeros(s.units(), s.batch_size());
    }
    scratch
}
