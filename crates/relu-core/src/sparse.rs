//! The sparse activation representation of a batch.
//!
//! A [`SparseBatch`] stores, for each example (column) of a `units × batch` activation matrix,
//! the indices and values of the units that are not exactly zero, in increasing unit order — the
//! compressed-sparse-column layout of the crate's one-example-per-column convention. For a
//! rectifier layer this *is* the backward state: the active set decides where gradients flow.
//!
//! [`UnitMajor`] is the transposed view (per unit, the examples in which it is active), which the
//! backward kernels use so each weight column is loaded once per batch.

use std::sync::OnceLock;

use nalgebra::DMatrix;

use crate::CoreError;

/// A `units × batch` activation matrix holding only its non-zero entries, example by example.
///
/// The unit-major transpose ([`SparseBatch::by_unit`]) is computed on first use and cached, so
/// the forward and backward passes of a layer share it.
#[derive(Debug, Clone)]
pub struct SparseBatch {
    units: usize,
    /// `offsets[e]..offsets[e + 1]` indexes `indices`/`values` for example `e`.
    offsets: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f32>,
    transposed: OnceLock<UnitMajor>,
}

/// Equality of the stored entries; the cached transpose is not compared.
impl PartialEq for SparseBatch {
    fn eq(&self, other: &Self) -> bool {
        self.units == other.units && self.offsets == other.offsets && self.indices == other.indices && self.values == other.values
    }
}

impl SparseBatch {
    /// An empty batch (zero examples) over `units` units.
    ///
    /// # Panics
    /// If `units` exceeds `u32::MAX`.
    #[track_caller]
    pub fn empty(units: usize) -> Self {
        assert!(u32::try_from(units).is_ok(), "SparseBatch: {units} units do not fit u32 indices");
        Self { units, offsets: vec![0], indices: Vec::new(), values: Vec::new(), transposed: OnceLock::new() }
    }

    /// Builds the sparse form of a dense `units × batch` matrix in one pass, dropping exact zeros
    /// (`0.0` and `-0.0`). NaN entries are kept, so they stay visible.
    pub fn from_dense(m: &DMatrix<f32>) -> Self {
        let mut s = Self::empty(m.nrows());
        s.fill_from_columns(m.nrows(), m.ncols(), m.as_slice(), |x| x);
        s
    }

    /// Rebuilds `self` from a column-major `units × batch` slice, applying `f` to each element
    /// and keeping the non-zero results. Reuses the existing allocations.
    pub(crate) fn fill_from_columns(&mut self, units: usize, batch: usize, data: &[f32], f: impl Fn(f32) -> f32) {
        self.fill_columns(units, batch, data, |column, indices, values| {
            for (i, &x) in column.iter().enumerate() {
                let y = f(x);
                if y != 0.0 {
                    // `i < units <= u32::MAX`, checked by `fill_columns`.
                    indices.push(i as u32);
                    values.push(y);
                }
            }
        });
    }

    /// Rebuilds `self` as the rectifier of a column-major `units × batch` slice (the same as
    /// `fill_from_columns` with the rectifier, with compressing stores on AVX-512).
    pub(crate) fn fill_rectified(&mut self, units: usize, batch: usize, data: &[f32]) {
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::avx512_available() {
            return self.fill_columns(units, batch, data, crate::kernels::push_rectified);
        }
        let r = crate::activation::Rectifier;
        self.fill_from_columns(units, batch, data, |x| crate::ActivationFn::f(r, x));
    }

    /// Rebuilds `self` from a column-major `units × batch` slice, `push(column, indices, values)`
    /// appending each column's kept entries. Reuses the existing allocations.
    fn fill_columns(&mut self, units: usize, batch: usize, data: &[f32], mut push: impl FnMut(&[f32], &mut Vec<u32>, &mut Vec<f32>)) {
        assert_eq!(data.len(), units * batch, "SparseBatch: data length does not match units × batch");
        assert!(u32::try_from(units).is_ok(), "SparseBatch: {units} units do not fit u32 indices");
        self.units = units;
        self.transposed = OnceLock::new();
        self.offsets.clear();
        self.indices.clear();
        self.values.clear();
        self.offsets.push(0);
        if units == 0 {
            self.offsets.resize(batch + 1, 0);
            return;
        }
        for column in data.chunks_exact(units) {
            push(column, &mut self.indices, &mut self.values);
            self.offsets.push(self.indices.len());
        }
    }

    /// Builds a batch from its parts, validating them: `offsets` has `batch + 1` non-decreasing
    /// entries starting at 0 and ending at `indices.len()`, `indices` and `values` have equal
    /// lengths, and within each example the indices are strictly increasing and below `units`.
    ///
    /// # Errors
    /// [`CoreError::InvalidSparseBatch`] naming the first violated rule.
    pub fn try_from_parts(units: usize, offsets: Vec<usize>, indices: Vec<u32>, values: Vec<f32>) -> Result<Self, CoreError> {
        let bad = |reason: String| Err(CoreError::InvalidSparseBatch { reason });
        if u32::try_from(units).is_err() {
            return bad(format!("{units} units do not fit u32 indices"));
        }
        if indices.len() != values.len() {
            return bad(format!("{} indices but {} values", indices.len(), values.len()));
        }
        if offsets.first() != Some(&0) {
            return bad("offsets must start with 0".into());
        }
        if offsets.last() != Some(&indices.len()) {
            return bad(format!("last offset must equal the number of entries ({})", indices.len()));
        }
        for (e, w) in offsets.windows(2).enumerate() {
            if w[0] > w[1] {
                return bad(format!("offsets decrease at example {e}"));
            }
            let idx = &indices[w[0]..w[1]];
            if let Some(&i) = idx.iter().find(|&&i| i as usize >= units) {
                return bad(format!("example {e}: unit index {i} is out of range for {units} units"));
            }
            if idx.windows(2).any(|p| p[0] >= p[1]) {
                return bad(format!("example {e}: unit indices are not strictly increasing"));
            }
        }
        Ok(Self { units, offsets, indices, values, transposed: OnceLock::new() })
    }

    /// Number of units (rows).
    pub fn units(&self) -> usize {
        self.units
    }

    /// Number of examples (columns).
    pub fn batch_size(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of stored (non-zero) entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Fraction of entries that are non-zero, in `[0, 1]`; 0 for an empty batch.
    pub fn density(&self) -> f32 {
        let total = self.units * self.batch_size();
        if total == 0 { 0.0 } else { (self.nnz() as f64 / total as f64) as f32 }
    }

    /// The active unit indices and their values for example `e`.
    ///
    /// # Panics
    /// If `e >= self.batch_size()`.
    #[track_caller]
    pub fn example(&self, e: usize) -> (&[u32], &[f32]) {
        let r = self.offsets[e]..self.offsets[e + 1];
        (&self.indices[r.clone()], &self.values[r])
    }

    /// `offsets[e]..offsets[e+1]` delimits example `e` in [`SparseBatch::indices`] and
    /// [`SparseBatch::values`].
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// All unit indices, example after example.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// All values, aligned with [`SparseBatch::indices`].
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Mutable access to the values (the pattern stays fixed), e.g. to scale activations in place.
    pub fn values_mut(&mut self) -> &mut [f32] {
        self.transposed = OnceLock::new();
        &mut self.values
    }

    /// The dense `units × batch` matrix.
    pub fn to_dense(&self) -> DMatrix<f32> {
        let mut m = DMatrix::zeros(self.units, self.batch_size());
        self.write_dense(&mut m);
        m
    }

    /// Writes the dense form into `out`, which must already be `units × batch`.
    ///
    /// # Panics
    /// If `out` has another shape.
    #[track_caller]
    pub fn write_dense(&self, out: &mut DMatrix<f32>) {
        assert_eq!(out.shape(), (self.units, self.batch_size()), "SparseBatch::write_dense: output shape");
        out.fill(0.0);
        for e in 0..self.batch_size() {
            let (idx, val) = self.example(e);
            let mut col = out.column_mut(e);
            for (&i, &v) in idx.iter().zip(val) {
                col[i as usize] = v;
            }
        }
    }

    /// The examples `cols` (in that order) as a new batch, e.g. a minibatch of a sparse dataset.
    ///
    /// # Panics
    /// If an index is out of range.
    #[track_caller]
    pub fn select_examples(&self, cols: &[usize]) -> SparseBatch {
        let mut out = SparseBatch::empty(self.units);
        for &c in cols {
            let (idx, val) = self.example(c);
            out.indices.extend_from_slice(idx);
            out.values.extend_from_slice(val);
            out.offsets.push(out.indices.len());
        }
        out
    }

    /// The examples of `parts`, in order, as one batch (e.g. a dataset encoded in blocks).
    ///
    /// # Errors
    /// [`CoreError::InvalidSparseBatch`] if the parts do not all have `units` units.
    pub fn concat(units: usize, parts: &[&SparseBatch]) -> Result<SparseBatch, CoreError> {
        if let Some(p) = parts.iter().find(|p| p.units != units) {
            return Err(CoreError::InvalidSparseBatch {
                reason: format!("cannot concatenate a batch of {} units to batches of {units}", p.units),
            });
        }
        let mut out = SparseBatch::empty(units);
        let nnz: usize = parts.iter().map(|p| p.nnz()).sum();
        out.indices.reserve_exact(nnz);
        out.values.reserve_exact(nnz);
        out.offsets.reserve_exact(parts.iter().map(|p| p.batch_size()).sum());
        for p in parts {
            let base = out.indices.len();
            out.indices.extend_from_slice(&p.indices);
            out.values.extend_from_slice(&p.values);
            out.offsets.extend(p.offsets[1..].iter().map(|&o| base + o));
        }
        Ok(out)
    }

    /// The transposed, unit-major form used by the backward kernels and the small-batch forward
    /// kernel; computed on first use, then cached.
    pub fn by_unit(&self) -> &UnitMajor {
        self.transposed.get_or_init(|| UnitMajor::from_batch(self))
    }

    /// Per-batch sparsity statistics.
    pub fn stats(&self) -> SparsityStats {
        let mut acc = FiringCounter::new(self.units);
        acc.add(self);
        acc.finish()
    }
}

/// The unit-major (transposed) form of a [`SparseBatch`]: for each unit, the examples in which it
/// is active, their values, and each entry's position in the example-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitMajor {
    batch: usize,
    offsets: Vec<usize>,
    examples: Vec<u32>,
    values: Vec<f32>,
    positions: Vec<u32>,
    active_units: Vec<u32>,
}

impl UnitMajor {
    /// Transposes `s` with a counting sort, O(nnz + units).
    ///
    /// # Panics
    /// If the batch has more than `u32::MAX` examples or entries.
    #[track_caller]
    pub fn from_batch(s: &SparseBatch) -> Self {
        assert!(u32::try_from(s.nnz()).is_ok() && u32::try_from(s.batch_size()).is_ok(), "UnitMajor: batch too large for u32 positions");
        let mut counts = vec![0usize; s.units + 1];
        for &i in &s.indices {
            counts[i as usize + 1] += 1;
        }
        let active_units: Vec<u32> = (0..s.units).filter(|&u| counts[u + 1] > 0).map(|u| u as u32).collect();
        for u in 0..s.units {
            counts[u + 1] += counts[u];
        }
        let offsets = counts.clone();
        let mut next = counts;
        let nnz = s.nnz();
        let mut examples = vec![0u32; nnz];
        let mut values = vec![0f32; nnz];
        let mut positions = vec![0u32; nnz];
        for e in 0..s.batch_size() {
            for p in s.offsets[e]..s.offsets[e + 1] {
                let u = s.indices[p] as usize;
                let dst = next[u];
                next[u] += 1;
                examples[dst] = e as u32;
                values[dst] = s.values[p];
                positions[dst] = p as u32;
            }
        }
        Self { batch: s.batch_size(), offsets, examples, values, positions, active_units }
    }

    /// Number of units.
    pub fn units(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of examples in the batch.
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.examples.len()
    }

    /// The units active in at least one example, increasing. These are the weight columns a
    /// sparse weight gradient touches.
    pub fn active_units(&self) -> &[u32] {
        &self.active_units
    }

    /// For unit `u`: the examples where it is active (increasing), and its values there.
    ///
    /// # Panics
    /// If `u >= self.units()`.
    #[track_caller]
    pub fn unit(&self, u: usize) -> (&[u32], &[f32]) {
        let r = self.offsets[u]..self.offsets[u + 1];
        (&self.examples[r.clone()], &self.values[r])
    }

    /// `offsets[u]..offsets[u+1]` delimits unit `u`'s entries.
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// For each unit-major entry, its index in the example-major [`SparseBatch::values`].
    pub fn positions(&self) -> &[u32] {
        &self.positions
    }
}

/// Sparsity statistics of one batch or of a whole dataset (see [`FiringCounter`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SparsityStats {
    /// Number of units.
    pub units: usize,
    /// Number of examples seen.
    pub examples: usize,
    /// Fraction of non-zero entries.
    pub density: f64,
    /// Fraction of exact zeros, `1 - density` (the paper's "sparsity").
    pub zero_fraction: f64,
    /// For each example, how many units were active.
    pub active_per_example: Vec<u32>,
    /// For each unit, in how many examples it was active.
    pub firing_counts: Vec<u64>,
    /// Units never active on any example seen.
    pub dead_units: usize,
}

impl SparsityStats {
    /// Mean number of active units per example.
    pub fn mean_active(&self) -> f64 {
        if self.examples == 0 { 0.0 } else { self.active_per_example.iter().map(|&a| a as f64).sum::<f64>() / self.examples as f64 }
    }
}

/// Accumulates [`SparsityStats`] over many batches, e.g. over a whole dataset, so dead units
/// (never active on any example) can be counted.
#[derive(Debug, Clone)]
pub struct FiringCounter {
    firing_counts: Vec<u64>,
    active_per_example: Vec<u32>,
    nnz: u64,
}

impl FiringCounter {
    /// A counter for a layer of `units` units.
    pub fn new(units: usize) -> Self {
        Self { firing_counts: vec![0; units], active_per_example: Vec::new(), nnz: 0 }
    }

    /// Adds a batch.
    ///
    /// # Panics
    /// If the batch has another number of units.
    #[track_caller]
    pub fn add(&mut self, s: &SparseBatch) {
        assert_eq!(s.units(), self.firing_counts.len(), "FiringCounter::add: unit count");
        for &i in s.indices() {
            self.firing_counts[i as usize] += 1;
        }
        self.active_per_example.extend(s.offsets().windows(2).map(|w| (w[1] - w[0]) as u32));
        self.nnz += s.nnz() as u64;
    }

    /// Adds a dense `units × batch` batch of activations (exact zeros are inactive), without
    /// building its sparse form.
    ///
    /// # Panics
    /// If the batch has another number of units.
    #[track_caller]
    pub fn add_dense(&mut self, m: &DMatrix<f32>) {
        assert_eq!(m.nrows(), self.firing_counts.len(), "FiringCounter::add_dense: unit count");
        for col in m.column_iter() {
            let mut active = 0u32;
            for (count, &v) in self.firing_counts.iter_mut().zip(col.iter()) {
                let on = v != 0.0;
                *count += on as u64;
                active += on as u32;
            }
            self.active_per_example.push(active);
            self.nnz += active as u64;
        }
    }

    /// The statistics of everything added.
    pub fn finish(self) -> SparsityStats {
        let units = self.firing_counts.len();
        let examples = self.active_per_example.len();
        let total = units as f64 * examples as f64;
        let density = if total == 0.0 { 0.0 } else { self.nnz as f64 / total };
        SparsityStats {
            units,
            examples,
            density,
            zero_fraction: if total == 0.0 { 0.0 } else { 1.0 - density },
            dead_units: self.firing_counts.iter().filter(|&&c| c == 0).count(),
            active_per_example: self.active_per_example,
            firing_counts: self.firing_counts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DMatrix<f32> {
        // 4 units × 3 examples.
        DMatrix::from_column_slice(4, 3, &[0.0, 1.5, 0.0, -2.0, 0.0, 0.0, 0.0, 0.0, 3.0, -0.0, 0.5, 0.0])
    }

    #[test]
    fn round_trip_and_layout() {
        let m = sample();
        let s = SparseBatch::from_dense(&m);
        assert_eq!(s.offsets(), &[0, 2, 2, 4]);
        assert_eq!(s.indices(), &[1, 3, 0, 2]);
        assert_eq!(s.values(), &[1.5, -2.0, 3.0, 0.5]);
        assert_eq!(s.to_dense(), m);
        assert!((s.density() - 4.0 / 12.0).abs() < 1e-7);
    }

    #[test]
    fn unit_major_transposes() {
        let s = SparseBatch::from_dense(&sample());
        let u = s.by_unit();
        assert_eq!(u.active_units(), &[0, 1, 2, 3]);
        assert_eq!(u.unit(0), (&[2u32][..], &[3.0f32][..]));
        assert_eq!(u.unit(3), (&[0u32][..], &[-2.0f32][..]));
        for k in 0..u.nnz() {
            assert_eq!(u.values[k], s.values()[u.positions()[k] as usize]);
        }
    }

    #[test]
    fn stats_count_dead_units_and_activity() {
        let m = DMatrix::from_column_slice(3, 2, &[1.0, 0.0, 0.0, 2.0, 0.0, 0.0]);
        let st = SparseBatch::from_dense(&m).stats();
        assert_eq!(st.dead_units, 2);
        assert_eq!(st.firing_counts, vec![2, 0, 0]);
        assert_eq!(st.active_per_example, vec![1, 1]);
        assert!((st.zero_fraction - 4.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn dense_and_sparse_batches_count_the_same() {
        let m = sample();
        let mut a = FiringCounter::new(4);
        a.add(&SparseBatch::from_dense(&m));
        let mut b = FiringCounter::new(4);
        b.add_dense(&m);
        assert_eq!(a.finish(), b.finish());
    }

    #[test]
    fn concat_equals_the_dense_columns_side_by_side() {
        let (a, b) = (sample(), DMatrix::from_column_slice(4, 2, &[0.0, 0.0, 7.0, 0.0, 1.0, 0.0, 0.0, 2.0]));
        let (sa, sb) = (SparseBatch::from_dense(&a), SparseBatch::from_dense(&b));
        let joined = SparseBatch::concat(4, &[&sa, &SparseBatch::empty(4), &sb]).unwrap();
        let mut want = DMatrix::zeros(4, 5);
        want.columns_mut(0, 3).copy_from(&a);
        want.columns_mut(3, 2).copy_from(&b);
        assert_eq!(joined.to_dense(), want);
        assert_eq!(joined.batch_size(), 5);
        assert_eq!(SparseBatch::concat(4, &[]).unwrap().batch_size(), 0);
        let e = SparseBatch::concat(4, &[&sa, &SparseBatch::empty(3)]).unwrap_err();
        assert!(matches!(e, CoreError::InvalidSparseBatch { .. }), "{e}");
    }

    #[test]
    fn from_parts_rejects_bad_parts() {
        assert!(SparseBatch::try_from_parts(3, vec![0, 1], vec![2], vec![1.0]).is_ok());
        for (units, off, idx, val) in [
            (3, vec![0, 1], vec![3u32], vec![1.0f32]),
            (3, vec![0, 2], vec![1, 1], vec![1.0, 1.0]),
            (3, vec![0, 2], vec![2, 1], vec![1.0, 1.0]),
            (3, vec![1, 1], vec![1], vec![1.0]),
            (3, vec![0, 1], vec![1], vec![]),
            (3, vec![0, 2, 1], vec![0, 1], vec![1.0, 1.0]),
        ] {
            let e = SparseBatch::try_from_parts(units, off, idx, val).unwrap_err();
            assert!(matches!(e, CoreError::InvalidSparseBatch { .. }));
        }
    }

    #[test]
    fn zero_units_and_zero_examples() {
        let s = SparseBatch::from_dense(&DMatrix::zeros(0, 3));
        assert_eq!(s.batch_size(), 3);
        assert_eq!(s.density(), 0.0);
        let s = SparseBatch::from_dense(&DMatrix::zeros(5, 0));
        assert_eq!(s.batch_size(), 0);
        assert_eq!(s.to_dense().shape(), (5, 0));
    }
}
