//! Batches of examples: dense or sparse feature matrices, targets, datasets — the one dataset
//! type of every relu crate (relu-data's loaders return it, relu-nn trains on it).

use crate::error::CoreError;
use crate::sparse::SparseBatch;
use nalgebra::DMatrix;

/// A `features × examples` matrix, dense or sparse (one example per column, as everywhere in relu).
///
/// Rectifier layers produce [`Features::Sparse`]; bag-of-words inputs arrive sparse; pixels can be
/// either (the trainer converts inputs with mostly exact zeros, like MNIST, to sparse once).
#[derive(Debug, Clone, PartialEq)]
pub enum Features {
    /// Every entry stored.
    Dense(DMatrix<f32>),
    /// Only the non-zero entries, per example.
    Sparse(SparseBatch),
}

impl Features {
    /// Number of features (rows).
    pub fn dim(&self) -> usize {
        match self {
            Features::Dense(m) => m.nrows(),
            Features::Sparse(s) => s.units(),
        }
    }

    /// Number of examples (columns).
    pub fn len(&self) -> usize {
        match self {
            Features::Dense(m) => m.ncols(),
            Features::Sparse(s) => s.batch_size(),
        }
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fraction of non-zero entries.
    pub fn density(&self) -> f32 {
        match self {
            Features::Dense(m) => {
                if m.is_empty() {
                    0.0
                } else {
                    (m.iter().filter(|&&v| v != 0.0).count() as f64 / m.len() as f64) as f32
                }
            }
            Features::Sparse(s) => s.density(),
        }
    }

    /// The examples `cols`, in that order.
    ///
    /// # Panics
    /// If an index is out of range.
    #[track_caller]
    pub fn select(&self, cols: &[usize]) -> Features {
        match self {
            Features::Dense(m) => Features::Dense(m.select_columns(cols)),
            Features::Sparse(s) => Features::Sparse(s.select_examples(cols)),
        }
    }

    /// The dense matrix itself, or `None` for sparse features.
    pub fn as_dense(&self) -> Option<&DMatrix<f32>> {
        match self {
            Features::Dense(m) => Some(m),
            Features::Sparse(_) => None,
        }
    }

    /// The dense matrix itself, mutable (e.g. to rescale pixels in place), or `None` for sparse
    /// features.
    pub fn as_dense_mut(&mut self) -> Option<&mut DMatrix<f32>> {
        match self {
            Features::Dense(m) => Some(m),
            Features::Sparse(_) => None,
        }
    }

    /// The dense matrix (a copy for sparse features).
    pub fn to_dense(&self) -> DMatrix<f32> {
        match self {
            Features::Dense(m) => m.clone(),
            Features::Sparse(s) => s.to_dense(),
        }
    }

    /// Inverted dropout on the entries: each non-zero entry is zeroed with probability `p` and
    /// the survivors are scaled by `1 / (1 − p)`, so the expected input is unchanged and the
    /// network is evaluated on clean inputs. Sparse features stay sparse (dropped entries are
    /// removed); `p = 0` returns a copy.
    ///
    /// # Panics
    /// If `p` is not in `[0, 1)`.
    #[track_caller]
    pub fn dropout(&self, p: f32, rng: &mut impl rand::Rng) -> Features {
        assert!((0.0..1.0).contains(&p), "Features::dropout: probability {p} is not in [0, 1)");
        let scale = 1.0 / (1.0 - p);
        let mut keep = |v: f32| if v != 0.0 && rng.random::<f32>() >= p { v * scale } else { 0.0 };
        match self {
            Features::Dense(m) => Features::Dense(m.map(&mut keep)),
            Features::Sparse(s) => {
                let (mut offsets, mut indices, mut values) = (vec![0], Vec::with_capacity(s.nnz()), Vec::with_capacity(s.nnz()));
                for e in 0..s.batch_size() {
                    let (idx, val) = s.example(e);
                    for (&i, &v) in idx.iter().zip(val) {
                        let v = keep(v);
                        if v != 0.0 {
                            indices.push(i);
                            values.push(v);
                        }
                    }
                    offsets.push(indices.len());
                }
                Features::Sparse(
                    SparseBatch::try_from_parts(s.units(), offsets, indices, values).expect("entries taken from a valid batch in order"),
                )
            }
        }
    }

    /// Whether every stored value is finite.
    pub fn all_finite(&self) -> bool {
        match self {
            Features::Dense(m) => m.iter().all(|v| v.is_finite()),
            Features::Sparse(s) => s.values().iter().all(|v| v.is_finite()),
        }
    }
}

/// What the network should predict for each example.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// A class index per example: a label for softmax outputs, `rating − 1` for ratings.
    Classes(Vec<u32>),
    /// Real-valued targets, `outputs × examples`, for regression.
    Values(DMatrix<f32>),
}

impl Targets {
    /// Number of examples.
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes(c) => c.len(),
            Targets::Values(v) => v.ncols(),
        }
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The class indices, or `None` for real-valued targets.
    pub fn classes(&self) -> Option<&[u32]> {
        match self {
            Targets::Classes(c) => Some(c),
            Targets::Values(_) => None,
        }
    }

    /// How many examples each of `num_classes` classes has, indexed by class (class indices of
    /// `num_classes` or more are not counted); `None` for real-valued targets.
    pub fn class_counts(&self, num_classes: usize) -> Option<Vec<usize>> {
        let mut counts = vec![0; num_classes];
        for &c in self.classes()? {
            if let Some(n) = counts.get_mut(c as usize) {
                *n += 1;
            }
        }
        Some(counts)
    }

    /// The targets of examples `cols`, in that order.
    ///
    /// # Panics
    /// If an index is out of range.
    #[track_caller]
    pub fn select(&self, cols: &[usize]) -> Targets {
        match self {
            Targets::Classes(c) => Targets::Classes(cols.iter().map(|&i| c[i]).collect()),
            Targets::Values(v) => Targets::Values(v.select_columns(cols)),
        }
    }
}

/// Inputs with their targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `features × examples`.
    pub inputs: Features,
    /// One target per example.
    pub targets: Targets,
}

impl Dataset {
    /// Pairs inputs with targets.
    ///
    /// # Errors
    /// [`CoreError::InvalidDataset`] if the counts differ or an input or target is not finite.
    pub fn new(inputs: Features, targets: Targets) -> Result<Self, CoreError> {
        let mismatch = |reason: String| CoreError::InvalidDataset { reason };
        if inputs.len() != targets.len() {
            return Err(mismatch(format!("{} inputs but {} targets", inputs.len(), targets.len())));
        }
        if !inputs.all_finite() {
            return Err(mismatch("an input value is NaN or infinite".into()));
        }
        if let Targets::Values(v) = &targets
            && !v.iter().all(|x| x.is_finite())
        {
            return Err(mismatch("a target value is NaN or infinite".into()));
        }
        Ok(Self { inputs, targets })
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The dataset with its inputs in the form the first layer's kernels should read: dense
    /// inputs with mostly exact zeros (MNIST pixels: ≈81 %) converted once to the sparse form when
    /// they are sparser than `dispatch`'s forward crossover for batches of `batch` examples (and
    /// the dense path is not forced), so the first layer reads only active inputs; otherwise the
    /// dataset as it is.
    pub fn for_kernels(&self, dispatch: &crate::Dispatch, batch: usize) -> std::borrow::Cow<'_, Dataset> {
        use std::borrow::Cow;
        match &self.inputs {
            Features::Dense(m)
                if dispatch.mode != crate::DispatchMode::ForceDense && self.inputs.density() < dispatch.crossover.at(batch).forward =>
            {
                Cow::Owned(Dataset { inputs: Features::Sparse(SparseBatch::from_dense(m)), targets: self.targets.clone() })
            }
            _ => Cow::Borrowed(self),
        }
    }

    /// The examples `cols`, in that order.
    ///
    /// # Panics
    /// If an index is out of range.
    #[track_caller]
    pub fn select(&self, cols: &[usize]) -> Dataset {
        Dataset { inputs: self.inputs.select(cols), targets: self.targets.select(cols) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_counts_and_dense_access() {
        let t = Targets::Classes(vec![2, 0, 2, 7]);
        assert_eq!(t.class_counts(3), Some(vec![1, 0, 2]), "class 7 is outside the 3 classes and not counted");
        assert_eq!(t.classes(), Some(&[2, 0, 2, 7][..]));
        let v = Targets::Values(DMatrix::zeros(1, 4));
        assert_eq!((v.classes(), v.class_counts(3)), (None, None));
        let m = DMatrix::from_column_slice(2, 2, &[0.0, 1.0, 2.0, 0.0]);
        let mut d = Features::Dense(m.clone());
        d.as_dense_mut().unwrap()[(0, 0)] = 5.0;
        assert_eq!(d.as_dense().unwrap()[(0, 0)], 5.0);
        let mut s = Features::Sparse(SparseBatch::from_dense(&m));
        assert!(s.as_dense().is_none() && s.as_dense_mut().is_none());
    }

    #[test]
    fn dropout_drops_about_p_of_the_non_zeros_and_rescales_the_rest() {
        // 4,000 non-zero entries (values 1..=4) among zeros, dense and sparse.
        let m = DMatrix::from_fn(100, 80, |r, c| if (r + c) % 2 == 0 { ((r + c) % 4 + 1) as f32 } else { 0.0 });
        let p = 0.25;
        for x in [Features::Dense(m.clone()), Features::Sparse(SparseBatch::from_dense(&m))] {
            let y = x.dropout(p, &mut crate::seeded_rng(7)).to_dense();
            let (mut kept, mut dropped) = (0, 0);
            for (a, b) in m.iter().zip(y.iter()) {
                match (*a == 0.0, *b == 0.0) {
                    (true, true) => {}
                    (true, false) => panic!("a zero input became {b}"),
                    (false, true) => dropped += 1,
                    (false, false) => {
                        kept += 1;
                        assert!((b - a / (1.0 - p)).abs() < 1e-6, "kept {a} became {b}, not {a}/(1-p)");
                    }
                }
            }
            // Binomial(4000, 0.25): mean 1000, sd ≈ 27; 5 sd either way.
            assert_eq!(kept + dropped, 4000);
            assert!((865..=1135).contains(&dropped), "dropped {dropped} of 4000 at p = {p}");
            assert_eq!(y, x.dropout(p, &mut crate::seeded_rng(7)).to_dense(), "same seed, different masks");
        }
        let s = Features::Sparse(SparseBatch::from_dense(&m));
        assert_eq!(s.dropout(0.0, &mut crate::seeded_rng(1)), s);
    }
}
