//! `relu-experiment`: the experiments run over deep sparse rectifier networks — the library
//! half of `relu reproduce` and `relu train --folds`, for callers who want a grid-searched or
//! cross-validated network from Rust without the command line.
//!
//! * [`search::fit`] trains a network with its learning rate chosen from a grid by validation
//!   score (every trial a short or a full run), under an optional wall-clock share, and
//!   [`search::Job`] / [`search::run_job`] add the test evaluation: one independent network with
//!   its own seed, the unit a sweep is made of.
//! * [`cv::cross_validate`] trains one network per fold and scores it on the fold's held-out
//!   part ([`cv::CvReport`], the layout of `cv.json`).
//! * [`Budget`] shares a wall-clock budget among the jobs of a sweep.
//! * [`stats::mean_std`] summarises scores over folds or seeds.
//! * [`analysis`] holds the paper's analyses of the sparse codes: sparsity, active-set
//!   stability under noise, linear probes.
//!
//! Progress reaches the caller through a [`Monitor`], which hands out one
//! [`relu_nn::Observer`] per training run; [`relu_nn::Silent`] is the monitor that shows
//! nothing.
//!
//! # Example
//! ```
//! use nalgebra::DMatrix;
//! use relu_core::Activation;
//! use relu_experiment::search::{self, LrSearch};
//! use relu_nn::{Dataset, Features, Network, NetworkSpec, OutputKind, Silent, Targets, TrainConfig};
//!
//! // XOR-like data, the same four examples for training and validation.
//! let x = DMatrix::from_column_slice(2, 4, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
//! let data = Dataset::new(Features::Dense(x), Targets::Classes(vec![0, 1, 1, 0]))?;
//! let spec = NetworkSpec::mlp(2, &[16, 16], Activation::Rectifier, 0.0, OutputKind::Softmax { classes: 2 });
//! let start = Network::new(spec, &mut relu_core::seeded_rng(3))?;
//! let config = TrainConfig { epochs: 300, batch_size: 4, ..Default::default() };
//! let grid = LrSearch { grid: vec![0.3, 0.1], select_epochs: 300 };
//! let fitted = search::fit(&start, &config, &grid, &data, Some(&data), None, &mut Silent)?.expect("not interrupted");
//! assert_eq!(fitted.trials.len(), 2);
//! assert!(grid.grid.contains(&fitted.lr));
//! # Ok::<(), relu_experiment::ExperimentError>(())
//! ```
#![deny(missing_docs)]

pub mod analysis;
mod budget;
pub mod cv;
mod error;
mod monitor;
pub mod search;
pub mod stats;

pub use budget::Budget;
pub use error::{ExperimentError, Result};
pub use monitor::{Monitor, Run};

use relu_nn::{Dataset, Evaluation, Network, Workspace};

/// Batch size of the forward passes that evaluate a trained network.
pub const EVAL_BATCH: usize = 1000;

/// `net` evaluated on `data` in batches of [`EVAL_BATCH`] with the default kernel choice, on
/// `threads` kernel threads (0: every core).
///
/// # Errors
/// [`ExperimentError::Core`] if the thread pool cannot be built.
pub fn evaluate(net: &Network, data: &Dataset, threads: usize) -> Result<Evaluation> {
    Ok(relu_core::thread_pool(threads)?.install(|| net.evaluate(data, EVAL_BATCH, &mut workspace(net))))
}

/// A workspace for `net` with the default kernel choice and crossovers.
pub fn workspace(net: &Network) -> Workspace {
    Workspace::new(net, Default::default(), Default::default())
}
