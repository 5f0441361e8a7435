//! The crate's one error type.

/// Everything in `relu-pretrain` that can fail on outside input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PretrainError {
    /// A hyper-parameter or option out of range or unparseable.
    #[error("invalid {name} `{value}`: expected {expected}")]
    InvalidParameter {
        /// What it is (`corruption`, `reconstruction`, …).
        name: &'static str,
        /// The value given.
        value: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// Data that does not fit the auto-encoder.
    #[error("data does not fit the auto-encoder: {0}")]
    DataMismatch(String),
    /// Pre-training diverged.
    #[error("pre-training layer {layer} diverged at epoch {epoch}, batch {batch}: the reconstruction error is not finite")]
    NonFinite {
        /// 1-based layer.
        layer: usize,
        /// 1-based epoch.
        epoch: usize,
        /// 0-based batch.
        batch: usize,
    },
    /// An error from relu-nn (network construction, thread pool).
    #[error(transparent)]
    Nn(#[from] relu_nn::NnError),
    /// An error from relu-core.
    #[error(transparent)]
    Core(#[from] relu_core::CoreError),
}

/// `Result` with [`PretrainError`].
pub type Result<T, E = PretrainError> = std::result::Result<T, E>;

pub(crate) fn invalid(name: &'static str, value: impl std::fmt::Display, expected: &'static str) -> PretrainError {
    PretrainError::InvalidParameter { name, value: value.to_string(), expected }
}
