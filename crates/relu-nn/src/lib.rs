//! `relu-nn`: deep sparse rectifier networks (Glorot, Bordes & Bengio 2011) — layers,
//! backpropagation over sparse activations, the L1 activation penalty, SGD training and
//! safetensors checkpoints.
//!
//! * [`NetworkSpec`] describes a network: hidden layers (affine + any relu-core activation, or
//!   maxout), each with its L1 weight and optional sign flip, and an output (softmax, regression
//!   or star ratings).
//! * [`Network::forward`] returns an explicit [`ForwardCache`]; a rectifier layer's entry is its
//!   sparse output, which is all the backward pass needs.
//! * [`backward`] computes gradients only where units were active, and plain SGD moves only the
//!   weight columns of inputs active in the batch.
//! * [`Trainer`] runs the epochs: seeded shuffling, validation, early stopping, best parameters,
//!   progress through an [`Observer`], divergence checks, resumable state.
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

mod backward;
pub mod checkpoint;
mod dead;
mod error;
mod metrics;
mod network;
mod optim;
mod spec;
mod train;

pub use backward::{BatchLoss, Gradients, Update, backward};
pub use dead::DeadUnits;
pub use error::{NnError, Result};
pub use metrics::Evaluation;
pub use network::{ForwardCache, HiddenCache, Layer, Network, Workspace};
pub use optim::{LrSchedule, Sgd, SgdState};
/// The dataset types are relu-core's, shared with relu-data's loaders.
pub use relu_core::{Dataset, Features, Targets};
pub use spec::{HiddenKind, LayerSpec, MAX_PARAMETERS, MAX_UNITS, NetworkSpec, OutputKind};
pub use train::{
    BatchProgress, EpochMetrics, Observer, RngState, Silent, StopReason, TrainConfig, TrainReport, TrainState, Trainer, check_dataset,
};

impl Network {
    /// One SGD step on a batch: forward, backward, and the update (fused with the backward pass,
    /// and sparse for every form of SGD), with learning rate `lr`. Returns the batch's loss
    /// before the step. This is the training loop's inner step, for callers who write their own
    /// loop. With momentum or weight decay some columns may owe idle steps afterwards: call
    /// [`SgdState::flush`] before reading or saving the parameters.
    ///
    /// # Panics
    /// If `x` or `targets` do not fit the network (check with [`check_dataset`]).
    pub fn sgd_step(
        &mut self,
        x: &Features,
        targets: &Targets,
        sgd: Sgd,
        lr: f32,
        state: &mut SgdState,
        ws: &mut Workspace,
    ) -> (BatchLoss, ForwardCache) {
        let cache = self.forward_for_step(x, ws, sgd.rule(lr), state);
        let loss = backward(self, x, &cache, targets, ws, &mut optim::SgdStep { sgd, lr, state });
        state.end_step();
        (loss, cache)
    }

    /// Gradients of the batch loss (data loss + L1 penalty) with respect to every parameter,
    /// without changing the network.
    pub fn gradients(&self, x: &Features, targets: &Targets, ws: &mut Workspace) -> (Gradients, BatchLoss) {
        let cache = self.forward(x, ws);
        let mut grads = Gradients::new(self.layers().len());
        // The gradient sink never changes parameters, but the backward pass takes `&mut` so the
        // same code can also apply SGD steps in place; work on a copy.
        let mut copy = self.clone();
        let loss = backward(&mut copy, x, &cache, targets, ws, &mut grads);
        (grads, loss)
    }
}
