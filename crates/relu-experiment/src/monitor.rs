//! How experiments report progress.

use relu_nn::{Observer, Silent};

/// Which training run of an experiment is starting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Run {
    /// A learning-rate trial.
    Trial {
        /// Its learning rate.
        lr: f32,
    },
    /// The run with the chosen learning rate (also a grid of one rate).
    Final {
        /// The learning rate.
        lr: f32,
    },
    /// The network of one cross-validation fold.
    Fold {
        /// 0-based fold index.
        index: usize,
        /// Number of folds.
        of: usize,
    },
}

/// Hands out one [`Observer`] per training run of an experiment and hears about each
/// finished learning-rate trial. The CLI draws a progress bar per run with it.
pub trait Monitor {
    /// The observer of one run.
    type Observer: Observer + Send;
    /// A run of at most `epochs` epochs is starting.
    fn start(&mut self, run: Run, epochs: usize) -> Self::Observer;
    /// The run `observer` watched has ended (e.g. to close its progress bar).
    fn finish(&mut self, observer: Self::Observer) {
        drop(observer);
    }
    /// A learning-rate trial ended with this best validation score (`None`: it diverged).
    fn trial(&mut self, _lr: f32, _valid: Option<f64>) {}
}

impl Monitor for Silent {
    type Observer = Silent;

    fn start(&mut self, _run: Run, _epochs: usize) -> Silent {
        Silent
    }
}
