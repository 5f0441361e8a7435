//! Input corruption for denoising auto-encoders. Applied only in training, with an explicit RNG.

use std::fmt;
use std::str::FromStr;

use nalgebra::DMatrix;
use rand::Rng;
use relu_core::SparseBatch;
use relu_nn::Features;
use serde::{Deserialize, Serialize};

use crate::error::{PretrainError, invalid};

/// How inputs are corrupted before encoding.
///
/// Parsed from `none`, `masking:P`, `salt-and-pepper:P` and `gaussian:SIGMA`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Corruption {
    /// No corruption (a plain auto-encoder).
    None,
    /// Each input set to 0 with probability `p` (the paper: 0.25 on images).
    Masking(f32),
    /// Each input, with probability `p`, set to 0 or 1 with equal chance — for binary inputs
    /// such as bag-of-words presence.
    SaltAndPepper(f32),
    /// Additive Gaussian noise with standard deviation `sigma` on every input.
    Gaussian(f32),
}

impl Corruption {
    /// Checks the parameter's range.
    ///
    /// # Errors
    /// [`PretrainError::InvalidParameter`] if a probability is outside `[0, 1)` or sigma is
    /// negative or not finite.
    pub fn check(self) -> Result<Self, PretrainError> {
        match self {
            Corruption::Masking(p) | Corruption::SaltAndPepper(p) if !(p.is_finite() && (0.0..1.0).contains(&p)) => {
                Err(invalid("corruption probability", p, "a probability in [0, 1)"))
            }
            Corruption::Gaussian(s) if !(s.is_finite() && s >= 0.0) => Err(invalid("corruption sigma", s, "a finite number >= 0")),
            c => Ok(c),
        }
    }

    /// A corrupted copy of `x`. Masking keeps sparse inputs sparse; salt-and-pepper and Gaussian
    /// noise produce dense outputs.
    pub fn apply(self, x: &Features, rng: &mut impl Rng) -> Features {
        match (self, x) {
            (Corruption::None, _) => x.clone(),
            (Corruption::Masking(p), Features::Sparse(s)) => {
                let mut offsets = Vec::with_capacity(s.batch_size() + 1);
                let (mut idx, mut val) = (Vec::with_capacity(s.nnz()), Vec::with_capacity(s.nnz()));
                offsets.push(0);
                for e in 0..s.batch_size() {
                    let (i, v) = s.example(e);
                    for (&i, &v) in i.iter().zip(v) {
                        if !rng.random_bool(p as f64) {
                            idx.push(i);
                            val.push(v);
                        }
                    }
                    offsets.push(idx.len());
                }
                Features::Sparse(SparseBatch::try_from_parts(s.units(), offsets, idx, val).expect("a subset of a valid batch is valid"))
            }
            (Corruption::Masking(p), Features::Dense(m)) => Features::Dense(m.map(|v| if rng.random_bool(p as f64) { 0.0 } else { v })),
            (Corruption::SaltAndPepper(p), _) => {
                let m: DMatrix<f32> = x.to_dense();
                Features::Dense(m.map(|v| if rng.random_bool(p as f64) { if rng.random_bool(0.5) { 1.0 } else { 0.0 } } else { v }))
            }
            (Corruption::Gaussian(sigma), _) => {
                let m: DMatrix<f32> = x.to_dense();
                Features::Dense(m.map(|v| v + sigma * relu_core::random::standard_normal(rng)))
            }
        }
    }
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corruption::None => f.write_str("none"),
            Corruption::Masking(p) => write!(f, "masking:{p}"),
            Corruption::SaltAndPepper(p) => write!(f, "salt-and-pepper:{p}"),
            Corruption::Gaussian(s) => write!(f, "gaussian:{s}"),
        }
    }
}

impl FromStr for Corruption {
    type Err = PretrainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const EXPECTED: &str = "none, masking:P, salt-and-pepper:P or gaussian:SIGMA";
        let (name, param) = s.trim().split_once(':').map_or((s.trim(), None), |(n, p)| (n, Some(p)));
        let value = || -> Result<f32, PretrainError> {
            param.and_then(|p| p.trim().parse::<f32>().ok()).ok_or_else(|| invalid("corruption", s, EXPECTED))
        };
        let c = match name {
            "none" if param.is_none() => Corruption::None,
            "masking" => Corruption::Masking(value()?),
            "salt-and-pepper" => Corruption::SaltAndPepper(value()?),
            "gaussian" => Corruption::Gaussian(value()?),
            _ => return Err(invalid("corruption", s, EXPECTED)),
        };
        c.check()
    }
}

impl TryFrom<String> for Corruption {
    type Error = PretrainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Corruption> for String {
    fn from(value: Corruption) -> Self {
        value.to_string()
    }
}
