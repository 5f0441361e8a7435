//! In-memory labelled datasets and their train/validation/test splits.

use nalgebra::DMatrix;
use relu_core::SparseBatch;

use crate::error::{DataError, Result};
use crate::scale::{Scaler, Scaling};

/// A labelled dense dataset: one example per column of `features`, as relu-core expects.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `feature_dim × len` values; pixels are in `[0, 1]` as loaded.
    pub features: DMatrix<f32>,
    /// One class index per example, each `< num_classes`.
    pub labels: Vec<u32>,
    /// The number of classes (10 for MNIST and CIFAR-10, 5 for NORB).
    pub num_classes: usize,
    /// The shape of one example before flattening (`[28, 28]`, `[3, 32, 32]`, `[2, 32, 32]`);
    /// features are flattened in row-major order of this shape.
    pub shape: Vec<usize>,
}

impl Dataset {
    /// The number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the dataset has no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The number of features per example (rows of `features`).
    pub fn feature_dim(&self) -> usize {
        self.features.nrows()
    }

    /// The examples at `indices`, in that order.
    ///
    /// # Panics
    /// If an index is out of range.
    #[track_caller]
    pub fn select(&self, indices: &[usize]) -> Dataset {
        Dataset {
            features: self.features.select_columns(indices),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            num_classes: self.num_classes,
            shape: self.shape.clone(),
        }
    }

    /// The examples `range.start..range.end`.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if the range is reversed or extends past the end.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Result<Dataset> {
        if range.start > range.end || range.end > self.len() {
            return Err(DataError::InvalidParameter {
                name: "example range",
                value: format!("{range:?}"),
                expected: format!("a range within 0..{}", self.len()),
            });
        }
        Ok(Dataset {
            features: self.features.columns(range.start, range.len()).into_owned(),
            labels: self.labels[range].to_vec(),
            num_classes: self.num_classes,
            shape: self.shape.clone(),
        })
    }

    /// How many examples each class has, indexed by class.
    pub fn class_counts(&self) -> Vec<usize> {
        class_counts(&self.labels, self.num_classes)
    }

    /// The fraction of feature values that are non-zero, in `[0, 1]` (0 for an empty dataset):
    /// the input sparsity, e.g. ≈ 0.19 for MNIST pixels.
    pub fn density(&self) -> f64 {
        let total = self.features.len();
        if total == 0 { 0.0 } else { self.features.iter().filter(|&&x| x != 0.0).count() as f64 / total as f64 }
    }

    /// The examples as relu-core's [`relu_core::Dataset`] (dense inputs, class targets), the type
    /// relu-nn trains on; `num_classes` and `shape` stay here.
    ///
    /// # Errors
    /// [`DataError::Core`] if a feature value is not finite (possible in float IDX or NORB files).
    pub fn into_dataset(self) -> Result<relu_core::Dataset> {
        Ok(relu_core::Dataset::new(relu_core::Features::Dense(self.features), relu_core::Targets::Classes(self.labels))?)
    }
}

fn class_counts(labels: &[u32], num_classes: usize) -> Vec<usize> {
    let mut counts = vec![0; num_classes];
    for &l in labels {
        if let Some(c) = counts.get_mut(l as usize) {
            *c += 1;
        }
    }
    counts
}

/// A labelled sparse dataset, such as bag-of-words reviews: one example per column of
/// `features` (a `vocabulary × examples` [`SparseBatch`]), as relu-core's sparse kernels expect.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseDataset {
    /// `feature_dim × len` sparse values.
    pub features: SparseBatch,
    /// One class index per example, each `< num_classes`.
    pub labels: Vec<u32>,
    /// The number of classes.
    pub num_classes: usize,
}

impl SparseDataset {
    /// A dataset from its parts.
    ///
    /// # Errors
    /// [`DataError::Inconsistent`] if there is not one label per example;
    /// [`DataError::InvalidParameter`] for a label `>= num_classes`.
    pub fn new(features: SparseBatch, labels: Vec<u32>, num_classes: usize) -> Result<Self> {
        if labels.len() != features.batch_size() {
            return Err(DataError::Inconsistent {
                what: format!("a sparse dataset with {} examples but {} labels", features.batch_size(), labels.len()),
            });
        }
        if let Some((i, &l)) = labels.iter().enumerate().find(|&(_, &l)| l as usize >= num_classes) {
            return Err(DataError::InvalidParameter {
                name: "label",
                value: format!("{l} of example {i}"),
                expected: format!("a class index below {num_classes}"),
            });
        }
        Ok(Self { features, labels, num_classes })
    }

    /// The number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the dataset has no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The number of features per example (rows of `features`, the vocabulary size for text).
    pub fn feature_dim(&self) -> usize {
        self.features.units()
    }

    /// How many examples each class has, indexed by class.
    pub fn class_counts(&self) -> Vec<usize> {
        class_counts(&self.labels, self.num_classes)
    }

    /// The fraction of feature values that are stored (non-zero), in `[0, 1]`; 0 when empty.
    pub fn density(&self) -> f64 {
        let total = self.features.units() as f64 * self.features.batch_size() as f64;
        if total == 0.0 { 0.0 } else { self.features.nnz() as f64 / total }
    }

    /// The examples as relu-core's [`relu_core::Dataset`] (sparse inputs, class targets), the
    /// type relu-nn trains on.
    ///
    /// # Errors
    /// [`DataError::Core`] if a feature value is not finite.
    pub fn into_dataset(self) -> Result<relu_core::Dataset> {
        Ok(relu_core::Dataset::new(relu_core::Features::Sparse(self.features), relu_core::Targets::Classes(self.labels))?)
    }

    /// The examples at `indices`, in that order.
    ///
    /// # Panics
    /// If an index is out of range.
    #[track_caller]
    pub fn select(&self, indices: &[usize]) -> SparseDataset {
        SparseDataset {
            features: self.features.select_examples(indices),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            num_classes: self.num_classes,
        }
    }
}

/// The two files of a dataset as distributed: the training file and the test file.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainTest {
    /// Every example of the training file(s).
    pub train: Dataset,
    /// Every example of the test file.
    pub test: Dataset,
}

impl TrainTest {
    /// The split that holds out the **last** `valid_len` training examples as validation set and
    /// keeps the test file as test set (MNIST in the paper: 50,000 / 10,000 / 10,000).
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if `valid_len` exceeds the training set.
    pub fn hold_out_last(self, valid_len: usize) -> Result<Splits> {
        let n = self.train.len();
        if valid_len > n {
            return Err(DataError::InvalidParameter {
                name: "validation size",
                value: valid_len.to_string(),
                expected: format!("at most the {n} training examples"),
            });
        }
        // Copy only the validation part and shrink the training matrix in place, so the split
        // never holds a second copy of the (possibly huge) training features.
        let valid = self.train.slice(n - valid_len..n)?;
        let Dataset { features, mut labels, num_classes, shape } = self.train;
        let rows = features.nrows();
        let mut values: Vec<f32> = features.data.into();
        values.truncate(rows * (n - valid_len));
        values.shrink_to_fit();
        labels.truncate(n - valid_len);
        let train = Dataset { features: DMatrix::from_vec(rows, n - valid_len, values), labels, num_classes, shape };
        Ok(Splits { train, valid, test: self.test })
    }
}

/// Train, validation and test sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Splits {
    /// Examples to fit parameters on.
    pub train: Dataset,
    /// Examples for early stopping and hyper-parameter choice.
    pub valid: Dataset,
    /// Examples to report the final error on.
    pub test: Dataset,
}

impl Splits {
    /// Fits `scaling` on the training set only and applies it to all three sets; returns the
    /// fitted scaler so the same transformation can be applied to new data.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if the fitted scaler is not finite (non-finite features are
    /// possible in float IDX or NORB files); [`DataError::Inconsistent`] if the validation or test
    /// set has a different number of features than the training set. The sets are then left
    /// unchanged.
    pub fn scale(&mut self, scaling: Scaling) -> Result<Scaler> {
        let dim = self.train.feature_dim();
        for (name, set) in [("validation", &self.valid), ("test", &self.test)] {
            if set.feature_dim() != dim {
                return Err(DataError::Inconsistent {
                    what: format!("the {name} set has {} features but the training set has {dim}", set.feature_dim()),
                });
            }
        }
        let scaler = Scaler::fit(scaling, &self.train.features);
        scaler.check()?;
        scaler.apply(&mut self.train.features)?;
        scaler.apply(&mut self.valid.features)?;
        scaler.apply(&mut self.test.features)?;
        Ok(scaler)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datasets_hand_over_to_relu_core_unchanged() {
        let m = DMatrix::from_column_slice(2, 3, &[0.0, 1.0, 0.5, 0.0, 0.0, 0.25]);
        let d = Dataset { features: m.clone(), labels: vec![1, 0, 2], num_classes: 3, shape: vec![2] };
        let core = d.clone().into_dataset().unwrap();
        assert_eq!(core.inputs, relu_core::Features::Dense(m.clone()));
        assert_eq!(core.targets, relu_core::Targets::Classes(vec![1, 0, 2]));
        let s = SparseDataset::new(SparseBatch::from_dense(&m), vec![1, 0, 2], 3).unwrap();
        let core = s.into_dataset().unwrap();
        assert_eq!(core.inputs.to_dense(), m);
        assert_eq!(core.len(), 3);
        let bad = Dataset { features: DMatrix::from_element(2, 1, f32::NAN), labels: vec![0], ..d };
        let e = bad.into_dataset().unwrap_err().to_string();
        assert!(e.contains("not finite") || e.contains("NaN"), "{e}");
    }
}
