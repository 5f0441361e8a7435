//! Image datasets as loaded — relu-core's [`Dataset`] (the one dataset type of every relu crate)
//! with what a loader also knows: how many classes the labels index and each example's shape —
//! and their train/validation/test splits.

use nalgebra::DMatrix;
use relu_core::{Dataset, Features, Targets};

use crate::error::{DataError, Result};
use crate::scale::{Scaler, Scaling};

/// One loaded set of labelled images (a file pair such as MNIST's, one CIFAR-10 batch, one small
/// NORB part): dense pixels, one example per column, with class targets.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    /// The examples: [`Features::Dense`] `pixels × examples` (pixels in `[0, 1]` as loaded) and
    /// [`Targets::Classes`].
    pub data: Dataset,
    /// The number of classes the labels index (10 for MNIST and CIFAR-10, 5 for NORB).
    pub num_classes: usize,
    /// The shape of one example before flattening (`[28, 28]`, `[3, 32, 32]`, `[2, 32, 32]`);
    /// features are flattened in row-major order of this shape.
    pub shape: Vec<usize>,
}

impl ImageSet {
    /// A set from a `pixels × examples` matrix and one class index per column. The loaders have
    /// checked that the pixels are finite and the labels are below `num_classes`.
    pub(crate) fn new(pixels: DMatrix<f32>, labels: Vec<u32>, num_classes: usize, shape: Vec<usize>) -> Self {
        debug_assert_eq!(pixels.ncols(), labels.len());
        ImageSet { data: Dataset { inputs: Features::Dense(pixels), targets: Targets::Classes(labels) }, num_classes, shape }
    }
}

/// The examples `range` of a loaded set (dense features, class targets), as a new dataset.
///
/// # Errors
/// [`DataError::InvalidParameter`] if the range is reversed or extends past the end.
pub(crate) fn slice(set: &Dataset, range: std::ops::Range<usize>) -> Result<Dataset> {
    if range.start > range.end || range.end > set.len() {
        return Err(DataError::InvalidParameter {
            name: "example range",
            value: format!("{range:?}"),
            expected: format!("a range within 0..{}", set.len()),
        });
    }
    Ok(set.select(&range.collect::<Vec<_>>()))
}

/// The two files of a dataset as distributed: the training file and the test file.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainTest {
    /// Every example of the training file(s).
    pub train: Dataset,
    /// Every example of the test file.
    pub test: Dataset,
    /// The number of classes the labels of both files index.
    pub num_classes: usize,
    /// The shape of one example before flattening (the same in both files).
    pub shape: Vec<usize>,
}

impl TrainTest {
    /// A pair from two loaded sets; both get the larger class count of the two.
    ///
    /// # Errors
    /// [`DataError::Inconsistent`] (naming `train_name` and `test_name`) if the examples' shapes
    /// differ.
    pub fn from_sets(train: ImageSet, train_name: &str, test: ImageSet, test_name: &str) -> Result<Self> {
        if train.shape != test.shape {
            return Err(DataError::Inconsistent {
                what: format!("{train_name} holds images of shape {:?} but {test_name} holds {:?}", train.shape, test.shape),
            });
        }
        Ok(TrainTest { train: train.data, test: test.data, num_classes: train.num_classes.max(test.num_classes), shape: train.shape })
    }

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
        // never holds a second copy of the (possibly huge) dense training features (sparse
        // features, which loaders do not produce, are copied).
        let valid = slice(&self.train, n - valid_len..n)?;
        let TrainTest { train: Dataset { inputs, targets }, test, num_classes, shape } = self;
        let keep = n - valid_len;
        let inputs = match inputs {
            Features::Dense(m) => Features::Dense(first_columns(m, keep)),
            sparse @ Features::Sparse(_) => sparse.select(&(0..keep).collect::<Vec<_>>()),
        };
        let targets = match targets {
            Targets::Classes(mut c) => {
                c.truncate(keep);
                c.shrink_to_fit();
                Targets::Classes(c)
            }
            Targets::Values(v) => Targets::Values(first_columns(v, keep)),
        };
        Ok(Splits { train: Dataset { inputs, targets }, valid, test, num_classes, shape })
    }
}

/// The first `keep` columns of `m`, shrunk in place (no second copy of the matrix).
fn first_columns(m: DMatrix<f32>, keep: usize) -> DMatrix<f32> {
    let rows = m.nrows();
    let mut values: Vec<f32> = m.data.into();
    values.truncate(rows * keep);
    values.shrink_to_fit();
    DMatrix::from_vec(rows, keep, values)
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
    /// The number of classes the labels of all three sets index.
    pub num_classes: usize,
    /// The shape of one example before flattening.
    pub shape: Vec<usize>,
}

impl Splits {
    /// Fits `scaling` on the training set only and applies it to all three sets; returns the
    /// fitted scaler so the same transformation can be applied to new data.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if the fitted scaler is not finite (non-finite features are
    /// possible in float IDX or NORB files); [`DataError::Inconsistent`] if a set's features are
    /// sparse or the validation or test set has a different number of features than the training
    /// set. The sets are then left unchanged.
    pub fn scale(&mut self, scaling: Scaling) -> Result<Scaler> {
        let dim = self.train.inputs.dim();
        for (name, set) in [("training", &self.train), ("validation", &self.valid), ("test", &self.test)] {
            if set.inputs.as_dense().is_none() {
                return Err(DataError::Inconsistent {
                    what: format!("the {name} set's features are sparse; scaling needs dense features"),
                });
            }
            if set.inputs.dim() != dim {
                return Err(DataError::Inconsistent {
                    what: format!("the {name} set has {} features but the training set has {dim}", set.inputs.dim()),
                });
            }
        }
        let scaler = Scaler::fit(scaling, self.train.inputs.as_dense().expect("checked dense above"));
        scaler.check()?;
        for set in [&mut self.train, &mut self.valid, &mut self.test] {
            scaler.apply(set.inputs.as_dense_mut().expect("checked dense above"))?;
        }
        Ok(scaler)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(n: usize, first_label: u32) -> ImageSet {
        let m = DMatrix::from_fn(2, n, |r, c| (r + 2 * c) as f32);
        ImageSet::new(m, (0..n as u32).map(|i| (first_label + i) % 3).collect(), 3, vec![2])
    }

    #[test]
    fn holding_out_the_last_examples_keeps_order_and_metadata() {
        let tt = TrainTest::from_sets(set(5, 0), "train", set(2, 1), "test").unwrap();
        let s = tt.clone().hold_out_last(2).unwrap();
        assert_eq!(s.train, tt.train.select(&[0, 1, 2]));
        assert_eq!(s.valid, tt.train.select(&[3, 4]));
        assert_eq!(s.test, tt.test);
        assert_eq!((s.num_classes, s.shape.as_slice()), (3, &[2][..]));
        let e = tt.hold_out_last(6).unwrap_err().to_string();
        assert!(e.contains("validation size") && e.contains("at most the 5"), "{e}");
    }

    #[test]
    fn holding_out_keeps_real_valued_targets_and_sparse_features_aligned() {
        let m = DMatrix::from_fn(2, 5, |r, c| if (r + c) % 2 == 0 { (1 + r + 2 * c) as f32 } else { 0.0 });
        let values = DMatrix::from_fn(1, 5, |_, c| c as f32 / 10.0);
        let train = Dataset { inputs: Features::Sparse(relu_core::SparseBatch::from_dense(&m)), targets: Targets::Values(values.clone()) };
        let test = train.select(&[0]);
        let s = TrainTest { train: train.clone(), test, num_classes: 0, shape: vec![2] }.hold_out_last(2).unwrap();
        assert_eq!(s.train, train.select(&[0, 1, 2]));
        assert_eq!(s.valid, train.select(&[3, 4]));
        assert_eq!(s.train.targets, Targets::Values(values.columns(0, 3).into_owned()));
    }

    #[test]
    fn pairs_of_sets_must_agree_on_shape() {
        let mut other = set(2, 0);
        other.shape = vec![1, 2];
        let e = TrainTest::from_sets(set(3, 0), "a.idx", other, "b.idx").unwrap_err().to_string();
        assert!(e.contains("a.idx") && e.contains("b.idx") && e.contains("[1, 2]"), "{e}");
    }

    #[test]
    fn scaling_refuses_sparse_features_and_leaves_the_sets_unchanged() {
        let mut s = TrainTest::from_sets(set(5, 0), "train", set(2, 1), "test").unwrap().hold_out_last(1).unwrap();
        s.test.inputs = Features::Sparse(relu_core::SparseBatch::from_dense(&s.test.inputs.to_dense()));
        let before = s.clone();
        let e = s.scale(Scaling::Standardize).unwrap_err().to_string();
        assert!(e.contains("test set") && e.contains("sparse"), "{e}");
        assert_eq!(s, before);
    }
}
