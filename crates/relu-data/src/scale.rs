//! Feature scaling: `[0, 1]`, `[−1, 1]`, or per-feature standardisation fitted on training data.

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// How to scale features. Loaders return pixels in `[0, 1]`; the other choices are defined
/// relative to that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Scaling {
    /// Keep values as loaded (`[0, 1]` for pixels). The default.
    #[default]
    Unit,
    /// Map `[0, 1]` to `[−1, 1]` by `2x − 1` (the paper's NORB input scaling).
    Symmetric,
    /// Subtract each feature's training mean and divide by its training standard deviation.
    /// Features constant on the training set (e.g. MNIST's border pixels) are only centred.
    Standardize,
}

impl std::str::FromStr for Scaling {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "unit" | "0-1" | "01" => Ok(Self::Unit),
            "symmetric" | "pm1" | "-1-1" => Ok(Self::Symmetric),
            "standardize" | "standardise" | "zscore" => Ok(Self::Standardize),
            _ => Err(DataError::InvalidParameter { name: "scaling", value: s.into(), expected: "unit, symmetric or standardize".into() }),
        }
    }
}

/// A fitted scaling, `x ↦ (x − shift) · scale`, global or per feature. Serialisable so a saved
/// model can carry the transformation of its inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Scaler {
    /// The same affine map for every feature.
    Global {
        /// Subtracted first.
        shift: f32,
        /// Multiplied after.
        scale: f32,
    },
    /// One affine map per feature (row).
    PerFeature {
        /// Per-feature training means.
        shift: Vec<f32>,
        /// Per-feature inverse standard deviations (1 for constant features).
        scale: Vec<f32>,
    },
}

impl Scaler {
    /// Fits `scaling` on `train` (features × examples). Only [`Scaling::Standardize`] looks at
    /// the data.
    pub fn fit(scaling: Scaling, train: &DMatrix<f32>) -> Scaler {
        match scaling {
            Scaling::Unit => Scaler::Global { shift: 0.0, scale: 1.0 },
            Scaling::Symmetric => Scaler::Global { shift: 0.5, scale: 2.0 },
            Scaling::Standardize => {
                let (d, n) = train.shape();
                // Accumulate in f64: 60,000 examples of f32 sums lose digits otherwise.
                let mut sum = vec![0f64; d];
                let mut sq = vec![0f64; d];
                for col in train.column_iter() {
                    for (i, &x) in col.iter().enumerate() {
                        sum[i] += f64::from(x);
                        sq[i] += f64::from(x) * f64::from(x);
                    }
                }
                let n = n.max(1) as f64;
                let mut shift = Vec::with_capacity(d);
                let mut scale = Vec::with_capacity(d);
                for i in 0..d {
                    let mean = sum[i] / n;
                    let var = (sq[i] / n - mean * mean).max(0.0);
                    shift.push(mean as f32);
                    scale.push(if var > 1e-12 { (1.0 / var.sqrt()) as f32 } else { 1.0 });
                }
                Scaler::PerFeature { shift, scale }
            }
        }
    }

    /// Applies the scaling in place.
    ///
    /// # Panics
    /// If a per-feature scaler was fitted on a different number of features.
    #[track_caller]
    pub fn apply(&self, m: &mut DMatrix<f32>) {
        match self {
            Scaler::Global { shift, scale } => m.apply(|x| *x = (*x - shift) * scale),
            Scaler::PerFeature { shift, scale } => {
                assert_eq!(shift.len(), m.nrows(), "Scaler: fitted on {} features, applied to {}", shift.len(), m.nrows());
                for mut col in m.column_iter_mut() {
                    for (i, x) in col.iter_mut().enumerate() {
                        *x = (*x - shift[i]) * scale[i];
                    }
                }
            }
        }
    }
}
