//! `report.json`: the stable, documented summary of a training run (schema in the crate docs).

use relu_nn::{Evaluation, NetworkSpec, OutputKind, TrainReport};
use serde::Serialize;

use crate::settings::Settings;

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// relu's version.
    pub relu_version: &'static str,
    /// What was trained on.
    pub dataset: DatasetInfo,
    /// The architecture.
    pub model: ModelInfo,
    /// How training went.
    pub training: TrainingInfo,
    /// Best-epoch validation metrics.
    pub valid: ValidInfo,
    /// Test metrics of the kept parameters.
    pub test: TestInfo,
    /// Per hidden layer: fraction of exact zeros on the test set.
    pub sparsity: Vec<f64>,
    /// Per hidden layer: units never active on the test set.
    pub dead_units: Vec<usize>,
    /// One entry per epoch.
    pub history: Vec<HistoryEntry>,
    /// With `--pretrain`: the auto-encoders' reconstruction error per layer and epoch (`null`
    /// otherwise, and after `--resume`, which continues the supervised phase only).
    pub pretraining: Option<PretrainingInfo>,
}

/// What `--pretrain` did.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PretrainingInfo {
    /// `dae` or `dae:STRATEGY`.
    pub method: String,
    /// The reconstruction used for each hidden layer.
    pub reconstruction: Vec<String>,
    /// Input corruption.
    pub corruption: String,
    /// Epochs each hidden layer was pre-trained for (one number, the same for every layer).
    pub epochs: usize,
    /// Unlabeled examples used.
    pub unlabeled: usize,
    /// Per layer: mean reconstruction error per example before pre-training.
    pub initial_error: Vec<f64>,
    /// Per layer and epoch: training loss, reconstruction error and code sparsity of up to
    /// 2,000 clean monitoring examples.
    pub history: Vec<relu_pretrain::PretrainEpoch>,
}

/// `dataset`.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetInfo {
    /// The data spec.
    pub name: String,
    /// Training examples used.
    pub train: usize,
    /// Validation examples.
    pub valid: usize,
    /// Test examples.
    pub test: usize,
}

/// `model`.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    /// Units per layer from input to output, e.g. `[784, 1000, 1000, 1000, 10]`.
    pub layers: Vec<usize>,
    /// The hidden activation (`rectifier`, `maxout:3`, …).
    pub activation: String,
    /// L1 penalty weight on the hidden activations.
    pub l1: f32,
    /// Whether half the units of each layer are sign-flipped.
    pub sign_flip: bool,
    /// `softmax`, `ratings` or `regression`.
    pub output: &'static str,
    /// Trainable parameters.
    pub parameters: usize,
}

/// `training`.
#[derive(Debug, Clone, Serialize)]
pub struct TrainingInfo {
    /// Epochs completed.
    pub epochs_run: usize,
    /// The epoch whose parameters were kept.
    pub best_epoch: Option<usize>,
    /// Minibatch size.
    pub batch: usize,
    /// Learning rate.
    pub lr: f32,
    /// Momentum.
    pub momentum: f32,
    /// The learning-rate schedule (`constant`, `inverse:D`, `step:E:F`, `cosine[:FLOOR]`).
    pub lr_schedule: String,
    /// L2 weight decay.
    pub weight_decay: f32,
    /// Inverted dropout probability on the training inputs.
    pub input_dropout: f32,
    /// `report` or `revive` (`--dead-units`).
    pub dead_units: String,
    /// `--average-from`: the first epoch of the weight average; null without averaging.
    pub average_from: Option<usize>,
    /// `--target-sparsity` per hidden layer (one value: every layer); null when λ is fixed.
    pub target_sparsity: Option<Vec<f32>>,
    /// Kernel threads used (per process).
    pub threads: usize,
    /// Processes that trained together (MPI ranks, data-parallel; 1 without MPI).
    pub processes: usize,
    /// With more than one process: batches between synchronisations (1: synchronous SGD).
    pub sync_every: usize,
    /// The seed.
    pub seed: u64,
    /// Training examples per second.
    pub examples_per_second: f64,
    /// Seconds of training and evaluation.
    pub wall_seconds: f64,
    /// `completed` or `early-stopped`.
    pub stop: String,
}

/// `valid`.
#[derive(Debug, Clone, Serialize)]
pub struct ValidInfo {
    /// Error fraction (null for regression).
    pub error: Option<f64>,
    /// Mean data loss.
    pub loss: f64,
}

/// `test`.
#[derive(Debug, Clone, Serialize)]
pub struct TestInfo {
    /// Error fraction.
    pub error: Option<f64>,
    /// Mean data loss.
    pub loss: f64,
    /// RMSE of the expected rating; null unless ratings.
    pub rmse: Option<f64>,
}

/// One `history` entry.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training data loss.
    pub train_loss: f64,
    /// Mean training L1 penalty.
    pub penalty: f64,
    /// Validation error fraction.
    pub valid_error: Option<f64>,
    /// Per hidden layer: training-batch sparsity during the epoch.
    pub sparsity: Vec<f64>,
    /// Per hidden layer: units zero on every training example of the epoch.
    pub dead_units: Vec<usize>,
    /// Per hidden layer: units revived after the epoch (`--dead-units revive`; else empty).
    pub revived: Vec<usize>,
    /// Per hidden layer: the L1 weight λ at the epoch's end (moved by --target-sparsity).
    pub l1: Vec<f32>,
    /// Epochs in the weight average whose validation error `valid_error` is (0: the current
    /// parameters' own; `--average-from`).
    pub averaged_epochs: usize,
    /// Wall-clock seconds of the epoch.
    pub seconds: f64,
}

/// The name of an output kind in the report.
pub fn output_name(o: OutputKind) -> &'static str {
    match o {
        OutputKind::Softmax { .. } => "softmax",
        OutputKind::Regression { .. } => "regression",
        OutputKind::Ratings { .. } => "ratings",
    }
}

/// Inputs of [`Report::new`] that are not already in the other arguments.
#[derive(Debug, Clone, Copy)]
pub struct RunFacts {
    /// Examples per split.
    pub sizes: [usize; 3],
    /// Threads used.
    pub threads: usize,
    /// Seconds of training and evaluation.
    pub wall_seconds: f64,
    /// Processes that trained the network together (MPI ranks; 1 without MPI).
    pub processes: usize,
}

impl Report {
    /// Builds the report.
    pub fn new(
        settings: &Settings,
        spec: &NetworkSpec,
        train: &TrainReport,
        valid: &Evaluation,
        test: &Evaluation,
        facts: RunFacts,
    ) -> Self {
        let mut layers = vec![spec.inputs];
        layers.extend(spec.hidden.iter().map(|l| l.units));
        layers.push(spec.output.units());
        Report {
            relu_version: env!("CARGO_PKG_VERSION"),
            dataset: DatasetInfo { name: settings.data.clone(), train: facts.sizes[0], valid: facts.sizes[1], test: facts.sizes[2] },
            model: ModelInfo {
                layers,
                activation: settings.activation.to_string(),
                l1: settings.l1,
                sign_flip: settings.sign_flip,
                output: output_name(spec.output),
                parameters: spec.parameter_count(),
            },
            training: TrainingInfo {
                epochs_run: train.history.len(),
                best_epoch: train.best_epoch,
                batch: settings.batch,
                lr: settings.lr,
                momentum: settings.momentum,
                lr_schedule: settings.lr_schedule.to_string(),
                weight_decay: settings.weight_decay,
                input_dropout: settings.input_dropout,
                dead_units: settings.dead_units.to_string(),
                average_from: settings.average_from,
                target_sparsity: settings.target_sparsity.map(|t| t.targets().to_vec()),
                threads: facts.threads,
                processes: facts.processes,
                sync_every: settings.sync_every,
                seed: settings.seed,
                examples_per_second: train.examples_per_second,
                wall_seconds: facts.wall_seconds,
                stop: serde_json::to_value(train.stop).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            },
            valid: ValidInfo { error: valid.error, loss: valid.loss },
            test: TestInfo { error: test.error, loss: test.loss, rmse: test.rmse },
            sparsity: test.sparsity.clone(),
            dead_units: test.dead_units.clone(),
            history: train
                .history
                .iter()
                .map(|m| HistoryEntry {
                    epoch: m.epoch,
                    train_loss: m.train_loss,
                    penalty: m.penalty,
                    valid_error: m.valid.as_ref().and_then(|v| v.error),
                    sparsity: m.sparsity.clone(),
                    dead_units: m.dead_units.clone(),
                    revived: m.revived.clone(),
                    l1: m.l1.clone(),
                    averaged_epochs: m.averaged_epochs,
                    seconds: m.seconds,
                })
                .collect(),
            pretraining: None,
        }
    }
}
