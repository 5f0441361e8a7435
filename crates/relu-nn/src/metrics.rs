//! Evaluation: loss, error or RMSE, per-layer sparsity and dead units on a dataset.

use relu_core::FiringCounter;
use serde::{Deserialize, Serialize};

use crate::backward::{BatchLoss, output_delta, penalty};
use crate::network::{Network, Workspace};
use crate::spec::OutputKind;
use relu_core::{Dataset, Features};

/// Metrics of a network on a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Examples evaluated.
    pub examples: usize,
    /// Mean data loss (NLL, or `½‖y − t‖²`).
    pub loss: f64,
    /// Mean L1 activation penalty.
    pub penalty: f64,
    /// Fraction misclassified (classification and ratings); `None` for regression.
    pub error: Option<f64>,
    /// Root-mean-square error of the expected rating (ratings) or of the outputs (regression).
    pub rmse: Option<f64>,
    /// Per hidden layer: the fraction of exact zeros in its outputs (the paper's sparsity).
    pub sparsity: Vec<f64>,
    /// Per hidden layer: units never active on this dataset.
    pub dead_units: Vec<usize>,
}

/// Accumulates [`BatchLoss`]es into means.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LossTotals {
    pub(crate) data: f64,
    pub(crate) penalty: f64,
    pub(crate) errors: usize,
    pub(crate) squared_error: f64,
    pub(crate) examples: usize,
}

impl LossTotals {
    pub(crate) fn add(&mut self, b: &BatchLoss) {
        self.data += b.data * b.examples as f64;
        self.penalty += b.penalty * b.examples as f64;
        self.errors += b.errors;
        self.squared_error += b.squared_error;
        self.examples += b.examples;
    }

    pub(crate) fn mean_loss(&self) -> f64 {
        if self.examples == 0 { 0.0 } else { self.data / self.examples as f64 }
    }

    pub(crate) fn mean_penalty(&self) -> f64 {
        if self.examples == 0 { 0.0 } else { self.penalty / self.examples as f64 }
    }

    pub(crate) fn error(&self, kind: OutputKind) -> Option<f64> {
        match kind {
            OutputKind::Regression { .. } => None,
            _ if self.examples == 0 => Some(0.0),
            _ => Some(self.errors as f64 / self.examples as f64),
        }
    }

    pub(crate) fn rmse(&self, kind: OutputKind) -> Option<f64> {
        let n = match kind {
            OutputKind::Softmax { .. } => return None,
            OutputKind::Ratings { .. } => self.examples,
            OutputKind::Regression { outputs } => self.examples * outputs,
        };
        Some(if n == 0 { 0.0 } else { (self.squared_error / n as f64).sqrt() })
    }
}

impl Network {
    /// Evaluates the network on `data` in batches of `batch_size` examples (forward only).
    ///
    /// # Panics
    /// If `data` does not fit the network (check with [`crate::check_dataset`] first) or
    /// `batch_size` is 0.
    #[track_caller]
    pub fn evaluate(&self, data: &Dataset, batch_size: usize, ws: &mut Workspace) -> Evaluation {
        assert!(batch_size > 0, "evaluate: batch size must be positive");
        let mut totals = LossTotals::default();
        let mut counters: Vec<FiringCounter> = self.spec().hidden.iter().map(|l| FiringCounter::new(l.units)).collect();
        let n = data.len();
        // Converted once here, not per batch.
        let data = data.for_kernels(&ws.dispatch[0], batch_size.min(n));
        let data = data.as_ref();
        let mut start = 0;
        while start < n {
            let idx: Vec<usize> = (start..(start + batch_size).min(n)).collect();
            let batch = data.select(&idx);
            let cache = self.forward(&batch.inputs, ws);
            let (_, mut loss) = output_delta(self.spec().output, &cache.output, &batch.targets);
            loss.penalty = penalty(&self.spec().hidden, &cache, idx.len());
            totals.add(&loss);
            for (counter, h) in counters.iter_mut().zip(&cache.hidden) {
                match &h.output {
                    Features::Sparse(s) => counter.add(s),
                    Features::Dense(m) => counter.add_dense(m),
                }
            }
            start += batch_size;
        }
        let stats: Vec<_> = counters.into_iter().map(FiringCounter::finish).collect();
        let kind = self.spec().output;
        Evaluation {
            examples: n,
            loss: totals.mean_loss(),
            penalty: totals.mean_penalty(),
            error: totals.error(kind),
            rmse: totals.rmse(kind),
            sparsity: stats.iter().map(|s| s.zero_fraction).collect(),
            dead_units: stats.iter().map(|s| s.dead_units).collect(),
        }
    }
}
