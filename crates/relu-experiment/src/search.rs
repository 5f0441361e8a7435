//! Learning-rate search and the jobs of a sweep.
//!
//! [`fit`] is the paper's selection protocol: train from the same starting point with every
//! rate of a grid, judge each trial by its best validation score, keep the rate with the lowest
//! one, and train with it (or, when the trials were full runs, keep the best trial itself).
//! A [`Job`] is one independent network of a sweep — its starting point, its training settings,
//! each with its own seed — and [`run_job`] trains it with [`fit`] and evaluates it.

use std::time::Instant;

use relu_nn::{Dataset, Evaluation, Network, NetworkSpec, NnError, StopReason, TrainConfig, TrainReport, Trainer};
use serde::{Deserialize, Serialize};

use crate::error::{ExperimentError, Result, invalid};
use crate::{Budget, Monitor, Run};

/// The learning rates to try and how long each trial runs.
#[derive(Debug, Clone, PartialEq)]
pub struct LrSearch {
    /// Rates to try, in order. With one rate there are no trials: the network trains with it.
    pub grid: Vec<f32>,
    /// Epochs per trial. At least the run's epochs makes every trial a full run (with the
    /// run's patience), and the best trial is kept instead of trained again.
    pub select_epochs: usize,
}

impl LrSearch {
    /// No search: train with `lr`.
    pub fn single(lr: f32) -> Self {
        Self { grid: vec![lr], select_epochs: 1 }
    }

    /// Validates the grid and the trial length.
    ///
    /// # Errors
    /// [`ExperimentError::InvalidParameter`] naming `lr_grid` (empty, or a rate that is not a
    /// finite number > 0) or `select_epochs` (0).
    pub fn check(&self) -> Result<()> {
        if self.grid.is_empty() || self.grid.iter().any(|&r| !(r.is_finite() && r > 0.0)) {
            return Err(invalid("lr_grid", &self.grid, "one or more finite learning rates > 0"));
        }
        if self.select_epochs == 0 {
            return Err(invalid("select_epochs", 0, "at least 1 epoch"));
        }
        Ok(())
    }

    /// Whether the trials are full runs of `epochs` epochs.
    pub fn full_trials(&self, epochs: usize) -> bool {
        self.select_epochs >= epochs
    }

    /// Whether training needs a validation split: to choose among several rates, or to stop
    /// early (`patience`). Without one a network trains every epoch and keeps the last.
    pub fn needs_validation(&self, patience: Option<usize>) -> bool {
        self.grid.len() > 1 || patience.is_some()
    }
}

/// One learning-rate trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrTrial {
    /// Its rate.
    pub lr: f32,
    /// Best validation score (error, or RMSE for ratings) over the trial's epochs; `None` if it
    /// diverged.
    pub valid: Option<f64>,
}

/// A network trained with the chosen learning rate.
#[derive(Debug, Clone)]
pub struct Fitted {
    /// The trained network (the best validation epoch's parameters when there was a validation
    /// split).
    pub net: Network,
    /// The report of its training run.
    pub report: TrainReport,
    /// The chosen rate.
    pub lr: f32,
    /// Every trial, in grid order; empty for a grid of one rate.
    pub trials: Vec<LrTrial>,
}

/// The score validation is judged by: error, or RMSE for ratings, or the loss for regression.
pub fn validation_score(e: &Evaluation) -> f64 {
    e.error.or(e.rmse).unwrap_or(e.loss)
}

/// Trains a copy of `start` with the learning rate chosen from `search`'s grid (see the module
/// documentation); `base` gives every other setting, its `sgd.lr` is replaced by the rate.
/// `budget` caps the seconds of trials and the final run together: each trial may use an even
/// share of what is left (full trials only; the final run always gets at least one epoch).
/// A trial that diverges ([`NnError::NonFinite`], [`NnError::DeadLayer`]) is no candidate.
/// `Ok(None)` when the monitor's observer asked to stop.
///
/// # Errors
/// [`ExperimentError::NeedsValidation`] without `valid` when the search or `base.patience`
/// needs one; [`ExperimentError::AllDiverged`] when no trial finished;
/// [`ExperimentError::Trial`] / [`ExperimentError::Training`] for other training errors; the
/// errors of [`LrSearch::check`] and [`TrainConfig::check`].
pub fn fit<M: Monitor>(
    start: &Network,
    base: &TrainConfig,
    search: &LrSearch,
    train: &Dataset,
    valid: Option<&Dataset>,
    budget: Option<f64>,
    monitor: &mut M,
) -> Result<Option<Fitted>> {
    search.check()?;
    base.check()?;
    if valid.is_none() && search.needs_validation(base.patience) {
        return Err(ExperimentError::NeedsValidation);
    }
    let budget = Budget::new(budget);
    // One training run from the starting point; `Ok(None)` when interrupted.
    let run = |monitor: &mut M, run: Run, lr: f32, epochs: usize, patience: Option<usize>, time_limit: Option<f64>| {
        let mut net = start.clone();
        let cfg = TrainConfig { epochs, patience, time_limit, sgd: relu_nn::Sgd { lr, ..base.sgd }, ..*base };
        let mut observer = monitor.start(run, epochs);
        let fitted = Trainer::new(cfg)?.fit(&mut net, train, valid, &mut observer);
        monitor.finish(observer);
        Ok::<_, NnError>(fitted.map(|rep| (rep.stop != StopReason::Interrupted).then_some((net, rep))))
    };
    let full_trials = search.full_trials(base.epochs);
    let mut trials = Vec::new();
    let mut best: Option<(f64, Network, TrainReport)> = None;
    if search.grid.len() > 1 {
        for (k, &lr) in search.grid.iter().enumerate() {
            let (epochs, patience, limit) = if full_trials {
                (base.epochs, base.patience, budget.share(search.grid.len() - k))
            } else {
                (search.select_epochs, None, None)
            };
            let valid = match run(monitor, Run::Trial { lr }, lr, epochs, patience, limit)? {
                Ok(None) => return Ok(None),
                Ok(Some((net, rep))) => {
                    let v = rep.history.iter().filter_map(|m| m.valid.as_ref().map(validation_score)).reduce(f64::min);
                    if full_trials
                        && let Some(v) = v
                        && best.as_ref().is_none_or(|b| v < b.0)
                    {
                        best = Some((v, net, rep));
                    }
                    v
                }
                // A learning rate too high for the network: not a candidate.
                Err(NnError::NonFinite { .. } | NnError::DeadLayer { .. }) => None,
                Err(source) => return Err(ExperimentError::Trial { lr, source }),
            };
            monitor.trial(lr, valid);
            trials.push(LrTrial { lr, valid });
        }
    }
    let lr = if trials.is_empty() {
        search.grid[0]
    } else {
        match trials.iter().filter_map(|t| t.valid.map(|v| (t.lr, v))).min_by(|a, b| a.1.total_cmp(&b.1)) {
            Some((lr, _)) => lr,
            None => return Err(ExperimentError::AllDiverged { grid: search.grid.clone() }),
        }
    };
    let (net, report) = match best {
        Some((_, net, rep)) => (net, rep),
        None => match run(monitor, Run::Final { lr }, lr, base.epochs, base.patience, budget.share(1)) {
            Ok(Ok(Some(done))) => done,
            Ok(Ok(None)) => return Ok(None),
            Ok(Err(source)) | Err(source) => return Err(ExperimentError::Training { lr, source }),
        },
    };
    Ok(Some(Fitted { net, report, lr, trials }))
}

/// Where a job's network starts.
#[derive(Debug, Clone)]
pub enum Start {
    /// Glorot-uniform initialisation of `spec` from `seed` ([`Network::new`]).
    Random {
        /// The architecture.
        spec: NetworkSpec,
        /// The initialisation seed.
        seed: u64,
    },
    /// A given network, e.g. a pre-trained one.
    From(Network),
}

impl Start {
    /// The starting network.
    ///
    /// # Errors
    /// [`ExperimentError::Nn`] for an invalid spec.
    pub fn network(&self) -> Result<Network> {
        match self {
            Start::Random { spec, seed } => Ok(Network::new(spec.clone(), &mut relu_core::seeded_rng(*seed))?),
            Start::From(net) => Ok(net.clone()),
        }
    }
}

/// One independent network of a sweep: everything it needs, each random choice seeded
/// (initialisation in `start`, shuffling and noise in `config.seed`), so jobs can run in any
/// order or place and give the same results.
#[derive(Debug, Clone)]
pub struct Job {
    /// Its name in tables and progress lines.
    pub name: String,
    /// Where it starts.
    pub start: Start,
    /// Its training settings; `sgd.lr` is replaced by the search's rate.
    pub config: TrainConfig,
    /// The learning rates to try.
    pub search: LrSearch,
}

/// A finished job.
#[derive(Debug, Clone)]
pub struct JobResult {
    /// The trained network, its report, the chosen rate and the trials.
    pub fitted: Fitted,
    /// Evaluation on the validation split, when there was one.
    pub valid: Option<Evaluation>,
    /// Evaluation on the test split.
    pub test: Evaluation,
    /// Seconds of trials, training and evaluation.
    pub seconds: f64,
}

/// Trains `job` with [`fit`] on `train` (validated on `valid`) within `budget` seconds, and
/// evaluates the result on `valid` and `test` with `job.config.threads` threads. `Ok(None)`
/// when interrupted.
///
/// # Errors
/// As [`fit`] and [`Start::network`].
pub fn run_job(
    job: &Job,
    train: &Dataset,
    valid: Option<&Dataset>,
    test: &Dataset,
    budget: Option<f64>,
    monitor: &mut impl Monitor,
) -> Result<Option<JobResult>> {
    let started = Instant::now();
    // A given network is trained from as it is: `fit` copies it for each run anyway.
    let built;
    let start = match &job.start {
        Start::From(net) => net,
        Start::Random { .. } => {
            built = job.start.network()?;
            &built
        }
    };
    let Some(fitted) = fit(start, &job.config, &job.search, train, valid, budget, monitor)? else {
        return Ok(None);
    };
    let net = &fitted.net;
    let (valid, test) = relu_core::thread_pool(job.config.threads)?.install(|| {
        let mut ws = crate::workspace(net);
        (valid.map(|v| net.evaluate(v, crate::EVAL_BATCH, &mut ws)), net.evaluate(test, crate::EVAL_BATCH, &mut ws))
    });
    Ok(Some(JobResult { fitted, valid, test, seconds: started.elapsed().as_secs_f64() }))
}
