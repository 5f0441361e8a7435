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
/// model can carry the transformation of its inputs; deserialisation checks that a per-feature
/// scaler has as many scales as shifts and that every value is finite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ScalerRepr", into = "ScalerRepr")]
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

/// The serialised form of [`Scaler`], checked by [`Scaler::check`] on the way in.
#[derive(Serialize, Deserialize)]
enum ScalerRepr {
    Global { shift: f32, scale: f32 },
    PerFeature { shift: Vec<f32>, scale: Vec<f32> },
}

impl TryFrom<ScalerRepr> for Scaler {
    type Error = String;

    fn try_from(r: ScalerRepr) -> std::result::Result<Self, String> {
        let s = match r {
            ScalerRepr::Global { shift, scale } => Scaler::Global { shift, scale },
            ScalerRepr::PerFeature { shift, scale } => Scaler::PerFeature { shift, scale },
        };
        s.check().map_err(|e| e.to_string())?;
        Ok(s)
    }
}

impl From<Scaler> for ScalerRepr {
    fn from(s: Scaler) -> Self {
        match s {
            Scaler::Global { shift, scale } => ScalerRepr::Global { shift, scale },
            Scaler::PerFeature { shift, scale } => ScalerRepr::PerFeature { shift, scale },
        }
    }
}

fn invalid(value: String, expected: String) -> DataError {
    DataError::InvalidParameter { name: "scaler", value, expected }
}

impl Scaler {
    /// Checks the scaler's own consistency: as many per-feature scales as shifts, and finite
    /// values throughout (a scaler built in code or read from a model file may violate either).
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] naming the mismatched lengths or the first non-finite
    /// value.
    pub fn check(&self) -> Result<()> {
        let (shift, scale): (&[f32], &[f32]) = match self {
            Scaler::Global { shift, scale } => (std::slice::from_ref(shift), std::slice::from_ref(scale)),
            Scaler::PerFeature { shift, scale } => (shift, scale),
        };
        if shift.len() != scale.len() {
            return Err(invalid(
                format!("with {} shifts and {} scales", shift.len(), scale.len()),
                "one shift and one scale per feature".into(),
            ));
        }
        for (name, values) in [("shift", shift), ("scale", scale)] {
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(invalid(format!("with {name} {} for feature {i}", values[i]), "finite shifts and scales".into()));
            }
        }
        Ok(())
    }

    /// The number of features a per-feature scaler was fitted on (`None` for a global one).
    pub fn num_features(&self) -> Option<usize> {
        match self {
            Scaler::Global { .. } => None,
            Scaler::PerFeature { shift, .. } => Some(shift.len()),
        }
    }

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

    /// Applies the scaling in place (`m` is features × examples).
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if the scaler fails [`Scaler::check`] or was fitted on a
    /// different number of features than `m` has rows; `m` is then left unchanged.
    pub fn apply(&self, m: &mut DMatrix<f32>) -> Result<()> {
        self.check()?;
        match self {
            Scaler::Global { shift, scale } => m.apply(|x| *x = (*x - shift) * scale),
            Scaler::PerFeature { shift, scale } => {
                if shift.len() != m.nrows() {
                    return Err(invalid(
                        format!("fitted on {} features", shift.len()),
                        format!("a matrix with {} feature rows, found {} rows", shift.len(), m.nrows()),
                    ));
                }
                for mut col in m.column_iter_mut() {
                    for ((x, s), k) in col.iter_mut().zip(shift).zip(scale) {
                        *x = (*x - s) * k;
                    }
                }
            }
        }
        Ok(())
    }
}
