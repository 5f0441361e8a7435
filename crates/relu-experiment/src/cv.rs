//! K-fold cross-validation.

use relu_nn::{Dataset, Evaluation, Network, OutputKind, StopReason, TrainConfig, Trainer};
use serde::Serialize;

use crate::error::ExperimentError;
use crate::{Monitor, Run, stats};

/// One fold's network scored on the fold's held-out part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoldResult {
    /// 1-based fold number.
    pub fold: usize,
    /// Training examples.
    pub train: usize,
    /// Held-out examples.
    pub test: usize,
    /// Error rate on the held-out part (classes).
    pub error: Option<f64>,
    /// RMSE on the held-out part (ratings).
    pub rmse: Option<f64>,
    /// Mean loss on the held-out part.
    pub loss: f64,
    /// Per hidden layer: the fraction of exact zeros on the held-out part.
    pub sparsity: Vec<f64>,
}

impl FoldResult {
    fn new(fold: usize, train: usize, test: usize, e: Evaluation) -> Self {
        Self { fold, train, test, error: e.error, rmse: e.rmse, loss: e.loss, sparsity: e.sparsity }
    }
}

/// Cross-validation results (written by `relu train --folds` as `cv.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CvReport {
    /// Number of folds.
    pub folds: usize,
    /// `error` or `rmse`: what `mean` and `std` summarise (lower is better either way).
    pub metric: &'static str,
    /// Mean of the metric over the folds.
    pub mean: f64,
    /// Its population standard deviation.
    pub std: f64,
    /// Every fold, in order.
    pub per_fold: Vec<FoldResult>,
}

impl CvReport {
    /// Summarises per-fold results: RMSE when `output` is star ratings, error otherwise.
    pub fn new(output: OutputKind, per_fold: Vec<FoldResult>) -> Self {
        let rating = matches!(output, OutputKind::Ratings { .. });
        let scores: Vec<f64> = per_fold.iter().map(|f| if rating { f.rmse } else { f.error }.unwrap_or(f64::NAN)).collect();
        let (mean, std) = stats::mean_std(&scores);
        Self { folds: per_fold.len(), metric: if rating { "rmse" } else { "error" }, mean, std, per_fold }
    }
}

/// Trains one network per fold and scores it on the fold's held-out part. For fold `i`
/// (0-based) `start(i, train)` gives the starting network (e.g. a fresh initialisation, or one
/// pre-trained on that fold's training inputs: nothing of the held-out part may reach it); it
/// then trains with `config` for all its epochs on the fold's training part (no validation
/// split, so `config.patience` must be `None`) and the last epoch is kept. Evaluation uses
/// `config.threads`. `Ok(None)` when the monitor's observer asked to stop.
///
/// # Errors
/// Whatever `start` returns, and [`ExperimentError`]s (converted into `E`) from training and
/// evaluation.
pub fn cross_validate<'a, E>(
    folds: impl IntoIterator<Item = (&'a Dataset, &'a Dataset)>,
    output: OutputKind,
    config: &TrainConfig,
    mut start: impl FnMut(usize, &Dataset) -> Result<Network, E>,
    monitor: &mut impl Monitor,
) -> Result<Option<CvReport>, E>
where
    E: From<ExperimentError>,
{
    let folds: Vec<(&Dataset, &Dataset)> = folds.into_iter().collect();
    let k = folds.len();
    let mut per_fold = Vec::with_capacity(k);
    for (i, (train, test)) in folds.into_iter().enumerate() {
        let mut net = start(i, train)?;
        let mut trainer = Trainer::new(*config).map_err(ExperimentError::from)?;
        let mut observer = monitor.start(Run::Fold { index: i, of: k }, config.epochs);
        let fitted = trainer.fit(&mut net, train, None, &mut observer);
        monitor.finish(observer);
        if fitted.map_err(ExperimentError::from)?.stop == StopReason::Interrupted {
            return Ok(None);
        }
        let e = crate::evaluate(&net, test, config.threads)?;
        per_fold.push(FoldResult::new(i + 1, train.len(), test.len(), e));
    }
    Ok(Some(CvReport::new(output, per_fold)))
}
