//! The crate's one error type.

use std::path::PathBuf;

/// Everything in `relu-nn` that can fail on outside input: hyper-parameters, datasets handed in
/// by the caller, checkpoint files, and numerical divergence during training.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NnError {
    /// A hyper-parameter or architecture value out of range.
    #[error("invalid {name} {value}: expected {expected}")]
    InvalidParameter {
        /// The parameter's name (e.g. `learning rate`).
        name: &'static str,
        /// The value given, formatted.
        value: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// A dataset whose shape or targets do not fit the network.
    #[error("dataset `{dataset}` does not fit the network: {reason}")]
    DataMismatch {
        /// Which dataset (`train`, `valid`, …).
        dataset: String,
        /// What disagrees.
        reason: String,
    },
    /// Training diverged: a loss or a parameter became NaN or infinite.
    #[error("training diverged at epoch {epoch}, batch {batch}: {what} in {layer} is not finite")]
    NonFinite {
        /// 1-based epoch.
        epoch: usize,
        /// 0-based batch within the epoch.
        batch: usize,
        /// `layer 2`, `output layer` or `loss`.
        layer: String,
        /// `loss`, `bias`, `weight`.
        what: &'static str,
    },
    /// Training collapsed: a hidden layer output exact zeros for every training example of an
    /// epoch, so nothing above it can learn (typically a learning rate or L1 weight far too large).
    #[error(
        "training collapsed at epoch {epoch}: every unit of {layer} was zero on all {examples} training examples (a dead layer); lower the learning rate or the L1 penalty"
    )]
    DeadLayer {
        /// 1-based epoch.
        epoch: usize,
        /// `hidden layer 2`.
        layer: String,
        /// Training examples of the epoch.
        examples: usize,
    },
    /// A checkpoint that cannot be read or does not describe a valid network.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An I/O failure on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An output folder another live process holds the lock of ([`crate::checkpoint::DirLock`]).
    #[error("{path} is being written by another relu process (pid {pid}); wait for it to finish or choose another folder")]
    Busy {
        /// The folder.
        path: PathBuf,
        /// The process holding it.
        pid: u32,
    },
    /// An error from relu-core (thread pool, activation parsing, …).
    #[error(transparent)]
    Core(#[from] relu_core::CoreError),
}

/// `Result` with [`NnError`].
pub type Result<T, E = NnError> = std::result::Result<T, E>;

pub(crate) fn invalid(name: &'static str, value: impl std::fmt::Display, expected: &'static str) -> NnError {
    NnError::InvalidParameter { name, value: value.to_string(), expected }
}
