//! The crate's one error type.

/// Everything in `relu-core` that can fail on outside input (strings, sizes, hyper-parameters)
/// reports one of these. Mismatched shapes passed by library code are programmer errors and panic
/// instead (see each function's `# Panics` section).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// An activation name that is not one of the known ones.
    #[error("unknown activation `{name}`: expected one of rectifier, leaky-rectifier:SLOPE, softplus[:ALPHA], tanh, sigmoid, linear, lif")]
    UnknownActivation {
        /// The name as given.
        name: String,
    },
    /// An activation parameter that does not parse or is out of range.
    #[error("bad parameter `{value}` for activation `{activation}`: expected {expected}")]
    InvalidActivationParameter {
        /// The activation's name.
        activation: &'static str,
        /// The parameter text as given.
        value: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// Parts handed to [`crate::SparseBatch::try_from_parts`] that do not describe a valid batch.
    #[error("invalid sparse batch: {reason}")]
    InvalidSparseBatch {
        /// What is wrong with the parts.
        reason: String,
    },
    /// Inputs and targets that do not make a dataset (different counts, a value that is not
    /// finite).
    #[error("invalid dataset: {reason}")]
    InvalidDataset {
        /// What is wrong.
        reason: String,
    },
    /// A density crossover outside `[0, 1]` or not finite.
    #[error("invalid density crossover {0}: expected a finite number in [0, 1]")]
    InvalidCrossover(f32),
    /// A thread count of zero or a thread pool that could not be built.
    #[error("cannot build a thread pool with {threads} threads: {reason}")]
    ThreadPool {
        /// The requested number of threads.
        threads: usize,
        /// Why it failed.
        reason: String,
    },
}
