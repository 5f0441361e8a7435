//! The crate's error type.

use relu_core::CoreError;
use relu_nn::NnError;

/// Errors of `relu-experiment`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExperimentError {
    /// A setting is out of range.
    #[error("invalid {name} {value}: expected {expected}")]
    InvalidParameter {
        /// The setting, as the field is named.
        name: &'static str,
        /// The rejected value.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// A learning-rate grid or early stopping was asked for without a validation split.
    #[error("a learning-rate grid of several rates, or patience, needs a validation split")]
    NeedsValidation,
    /// Every learning rate of the grid diverged (non-finite loss or a dead layer).
    #[error("every learning rate in the grid {grid:?} diverged")]
    AllDiverged {
        /// The grid.
        grid: Vec<f32>,
    },
    /// A learning-rate trial failed for another reason than divergence.
    #[error("learning-rate trial {lr}")]
    Trial {
        /// The trial's rate.
        lr: f32,
        /// What failed.
        #[source]
        source: NnError,
    },
    /// The run with the chosen learning rate failed.
    #[error("training with lr {lr}")]
    Training {
        /// The chosen rate.
        lr: f32,
        /// What failed.
        #[source]
        source: NnError,
    },
    /// From relu-nn.
    #[error(transparent)]
    Nn(#[from] NnError),
    /// From relu-core (thread pools).
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// `Result` with [`ExperimentError`].
pub type Result<T, E = ExperimentError> = std::result::Result<T, E>;

pub(crate) fn invalid(name: &'static str, value: impl std::fmt::Debug, expected: &str) -> ExperimentError {
    ExperimentError::InvalidParameter { name, value: format!("{value:?}"), expected: expected.to_owned() }
}
