//! In-memory labelled datasets and their train/validation/test splits.

use nalgebra::DMatrix;

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
        let mut counts = vec![0; self.num_classes];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(l as usize) {
                *c += 1;
            }
        }
        counts
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
        Ok(Splits { train: self.train.slice(0..n - valid_len)?, valid: self.train.slice(n - valid_len..n)?, test: self.test })
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
    pub fn scale(&mut self, scaling: Scaling) -> Scaler {
        let scaler = Scaler::fit(scaling, &self.train.features);
        scaler.apply(&mut self.train.features);
        scaler.apply(&mut self.valid.features);
        scaler.apply(&mut self.test.features);
        scaler
    }
}
