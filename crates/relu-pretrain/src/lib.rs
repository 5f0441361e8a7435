//! `relu-pretrain`: denoising auto-encoder (DAE) pre-training for deep sparse rectifier networks
//! (Glorot, Bordes & Bengio 2011, section 4.3).
//!
//! Each hidden layer of a [`relu_nn::NetworkSpec`] is trained greedily, bottom-up, as a
//! denoising auto-encoder on unlabeled data (which may be more than the labeled data); the
//! encoders then initialise a [`relu_nn::Network`] for supervised fine-tuning.
//!
//! * [`Corruption`]: masking noise (the paper: 0.25 on images), salt-and-pepper (binary
//!   bag-of-words), Gaussian; only in training, with an explicit RNG.
//! * [`Reconstruction`]: the paper's strategies for rectifier encoders — softplus
//!   reconstruction with squared error (best on images), scaled inputs with sigmoid
//!   cross-entropy (best on text), linear (targets after or before the rectifier), rectifier —
//!   and the classic sigmoid cross-entropy for tanh/sigmoid encoders.
//! * Tied or untied decoder weights, L1 on the code, and reconstruction sampling for sparse
//!   inputs (Dauphin, Glorot & Bengio 2011).
//!
//! # Example
//! ```
//! use nalgebra::DMatrix;
//! use relu_core::Activation;
//! use relu_nn::{Features, NetworkSpec, OutputKind};
//! use relu_pretrain::{PretrainConfig, initialise, pretrain};
//!
//! let x = DMatrix::from_fn(20, 200, |i, e| if (i + e) % 3 == 0 { 1.0 } else { 0.0 });
//! let spec = NetworkSpec::mlp(20, &[16, 8], Activation::Rectifier, 1e-3, OutputKind::Softmax { classes: 2 });
//! let cfg = PretrainConfig { epochs: 3, ..PretrainConfig::default() };
//! let pre = pretrain(&spec, &Features::Dense(x), &cfg, &mut |e| println!("{e:?}"))?;
//! assert!(pre.history.last().unwrap().reconstruction_error < pre.initial_error[1]);
//! let net = initialise(spec, &pre, &mut relu_core::seeded_rng(1))?;
//! assert_eq!(net.layers()[0].weight, pre.layers[0].weight);
//! # Ok::<(), relu_pretrain::PretrainError>(())
//! ```
#![deny(missing_docs)]

mod corruption;
mod dae;
mod error;
mod greedy;
mod reconstruction;

pub use corruption::Corruption;
pub use dae::{Dae, DaeGradients, DaeLoss, DaeSpec, Selection};
pub use error::{PretrainError, Result};
pub use greedy::{PretrainConfig, PretrainEpoch, Pretrained, initialise, pretrain};
pub use reconstruction::Reconstruction;
