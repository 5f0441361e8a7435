//! `relu-nn`: deep sparse rectifier networks (Glorot, Bordes & Bengio 2011) — layers,
//! backpropagation over sparse activations, the L1 activation penalty, SGD training and
//! safetensors checkpoints.
//!
//! * [`NetworkSpec`] describes a network: hidden layers (affine + any relu-core activation, or
//!   maxout), each with its L1 weight and optional sign flip, and an output (softmax, regression
//!   or star ratings).
//! * [`Network::forward`] returns an explicit [`ForwardCache`]; a rectifier layer's entry is its
//!   sparse output, which is all the backward pass needs.
//! * [`Network::sgd_step`] is one training step — forward, backward, update — with gradients
//!   computed only where units were active and SGD moving only the weight columns of inputs
//!   active in the batch; [`Network::gradients`] returns the gradients instead.
//! * [`Trainer`] runs the epochs: seeded shuffling, validation, early stopping, best parameters,
//!   weight averaging over epochs ([`WeightAverage`]), target sparsity ([`TargetSparsity`]),
//!   dead-unit revival ([`DeadUnits`]), progress through an [`Observer`], divergence checks,
//!   resumable state.
//! * [`checkpoint`] reads and writes `model.safetensors` in PyTorch's layout.
//!
//! # Example
//! ```
//! use nalgebra::DMatrix;
//! use relu_core::Activation;
//! use relu_nn::{Dataset, Features, Network, NetworkSpec, OutputKind, Silent, Targets, TrainConfig, Trainer};
//!
//! // XOR-like data: two inputs, two classes.
//! let x = DMatrix::from_column_slice(2, 4, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
//! let data = Dataset::new(Features::Dense(x), Targets::Classes(vec![0, 1, 1, 0]))?;
//! let spec = NetworkSpec::mlp(2, &[16, 16], Activation::Rectifier, 0.0, OutputKind::Softmax { classes: 2 });
//! let mut net = Network::new(spec, &mut relu_core::seeded_rng(3))?;
//! let config = TrainConfig { epochs: 300, batch_size: 4, sgd: relu_nn::Sgd { lr: 0.1, ..Default::default() }, ..Default::default() };
//! Trainer::new(config)?.fit(&mut net, &data, None, &mut Silent)?;
//! let mut ws = relu_nn::Workspace::new(&net, Default::default(), Default::default());
//! assert_eq!(net.evaluate(&data, 4, &mut ws).error, Some(0.0));
//! # Ok::<(), relu_nn::NnError>(())
//! ```
#![deny(missing_docs)]

mod average;
mod backward;
pub mod checkpoint;
mod dead;
mod error;
mod metrics;
mod network;
mod optim;
pub mod parallel;
mod sparsity;
mod spec;
mod step;
mod train;

pub use average::WeightAverage;
pub use backward::{BatchLoss, Gradients};
pub use dead::DeadUnits;
pub use error::{NnError, Result};
pub use metrics::Evaluation;
pub use network::{ForwardCache, HiddenCache, Layer, Network, Workspace};
pub use optim::{LrSchedule, Sgd, SgdState};
/// The dataset types are relu-core's, shared with relu-data's loaders.
pub use relu_core::{Dataset, Features, Targets};
pub use sparsity::TargetSparsity;
pub use spec::{HiddenKind, LayerSpec, MAX_PARAMETERS, MAX_UNITS, NetworkSpec, OutputKind};
pub use train::{
    BatchProgress, EpochMetrics, Observer, RngState, Silent, StopReason, TrainConfig, TrainReport, TrainState, Trainer, check_dataset,
};
