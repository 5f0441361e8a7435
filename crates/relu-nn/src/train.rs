//! The training loop: seeded shuffling, minibatch SGD, validation every epoch, early stopping,
//! best-validation parameters, progress callbacks, divergence checks and exact resumption.

use std::time::Instant;

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use relu_core::{Crossover, DispatchMode};
use serde::{Deserialize, Serialize};

use crate::average::WeightAverage;
use crate::dead::{DeadUnits, Fired};
use crate::error::{NnError, Result, invalid};
use crate::metrics::{Evaluation, LossTotals};
use crate::network::{Network, Workspace};
use crate::optim::{Sgd, SgdState};
use crate::parallel::{DataParallel, Member};
use crate::sparsity::TargetSparsity;
use crate::spec::OutputKind;
use relu_core::{Dataset, Targets};

/// Training hyper-parameters. Defaults are the paper's MNIST protocol where it has one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Maximum number of epochs (default 10).
    pub epochs: usize,
    /// Minibatch size (default 10, the paper's).
    pub batch_size: usize,
    /// The optimiser (default: plain SGD, lr 0.01).
    pub sgd: Sgd,
    /// Stop after this many epochs without a new best validation score; `None` trains all
    /// epochs (default `None`). The best-validation parameters are kept either way.
    pub patience: Option<usize>,
    /// Seed for shuffling (default 1234). Initialisation has its own seed (see [`Network::new`]).
    pub seed: u64,
    /// Threads for the kernels; 0 means all cores (default 0). Results with a fixed seed are
    /// identical from run to run at any fixed thread count.
    pub threads: usize,
    /// Kernel choice (default automatic by density).
    pub dispatch: DispatchMode,
    /// Densities where the kernels switch to dense (default: relu-core's measured crossovers).
    pub crossover: Crossover,
    /// Batch size for evaluation passes (default 1000).
    pub eval_batch: usize,
    /// Stop after the first epoch that ends this many seconds or more after [`Trainer::fit`]
    /// was called (`None`, the default: no limit). The best-validation parameters are kept, as
    /// with early stopping, and the report says [`StopReason::TimeLimit`]. For experiments run
    /// under a wall-clock budget; with a limit the number of epochs depends on the machine, so
    /// results are reproducible only without one.
    #[serde(default)]
    pub time_limit: Option<f64>,
    /// Inverted dropout on the training inputs ([`crate::Features::dropout`]): each non-zero input is
    /// zeroed with this probability in every training batch, fresh each time (default 0: off).
    /// Masking noise as a regulariser for supervised training; evaluation sees clean inputs.
    /// The noise is drawn from its own seeded stream per (epoch, batch), so runs and resumed
    /// runs are reproducible.
    #[serde(default)]
    pub input_dropout: f32,
    /// Stop with [`NnError::DeadLayer`] after an epoch in which a hidden layer was zero on every
    /// training example (default `true`). Off for experiments that map where training
    /// collapses, such as the paper's error-against-sparsity sweep up to huge L1 weights.
    #[serde(default = "yes")]
    pub stop_on_dead_layer: bool,
    /// What to do with hidden units that were zero on every training example of an epoch
    /// (default [`DeadUnits::Report`]: count them in [`EpochMetrics::dead_units`]). With
    /// [`DeadUnits::Revive`] they are re-initialised after the epoch (see [`DeadUnits`]), and a
    /// layer that died entirely is revived instead of stopping training.
    #[serde(default)]
    pub dead_units: DeadUnits,
    /// Adapt each hidden layer's L1 weight after every batch so that its fraction of exact zeros
    /// settles at this target ([`TargetSparsity`]), starting from the spec's λ (default `None`:
    /// λ stays as specified). The λ of every epoch's end is in [`EpochMetrics::l1`].
    #[serde(default)]
    pub target_sparsity: Option<TargetSparsity>,
    /// Average the parameters of every epoch's end from this (1-based) epoch on
    /// ([`WeightAverage`], stochastic weight averaging), and validate, early-stop on and keep the
    /// averaged network instead of the current one; SGD continues from the current parameters
    /// (default `None`: no averaging). Before this epoch validation sees the current parameters.
    #[serde(default)]
    pub average_from: Option<usize>,
}

fn yes() -> bool {
    true
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 10,
            sgd: Sgd::default(),
            patience: None,
            seed: 1234,
            threads: 0,
            dispatch: DispatchMode::Auto,
            crossover: Crossover::default(),
            eval_batch: 1000,
            time_limit: None,
            input_dropout: 0.0,
            stop_on_dead_layer: true,
            dead_units: DeadUnits::Report,
            target_sparsity: None,
            average_from: None,
        }
    }
}

impl TrainConfig {
    /// Validates every field.
    ///
    /// # Errors
    /// [`NnError::InvalidParameter`] naming the first bad value.
    pub fn check(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(invalid("number of epochs", self.epochs, "at least 1"));
        }
        if self.batch_size == 0 || self.batch_size > 1 << 20 {
            return Err(invalid("batch size", self.batch_size, "1 to 1,048,576"));
        }
        if self.eval_batch == 0 || self.eval_batch > 1 << 20 {
            return Err(invalid("evaluation batch size", self.eval_batch, "1 to 1,048,576"));
        }
        if self.patience == Some(0) {
            return Err(invalid("patience", 0, "at least 1 epoch (or none)"));
        }
        if let Some(a) = self.average_from
            && !(1..=self.epochs).contains(&a)
        {
            return Err(invalid("weight-averaging start epoch", a, "an epoch from 1 to the number of epochs"));
        }
        if let Some(t) = self.time_limit
            && !(t.is_finite() && t >= 0.0)
        {
            return Err(invalid("time limit", t, "a finite number of seconds >= 0 (or none)"));
        }
        if !(self.input_dropout.is_finite() && (0.0..1.0).contains(&self.input_dropout)) {
            return Err(invalid("input dropout", self.input_dropout, "a probability in [0, 1)"));
        }
        self.sgd.check()?;
        self.crossover.check()?;
        if let Some(t) = self.target_sparsity {
            t.check_values()?;
        }
        Ok(())
    }
}

/// Progress after one training batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchProgress {
    /// 1-based epoch.
    pub epoch: usize,
    /// 0-based batch within the epoch.
    pub batch: usize,
    /// Batches per epoch.
    pub batches: usize,
    /// Running mean data loss this epoch.
    pub loss: f64,
    /// Running mean penalty this epoch.
    pub penalty: f64,
    /// Running training error this epoch (classification), if any.
    pub error: Option<f64>,
    /// Running fraction of exact zeros over all hidden units this epoch.
    pub sparsity: f64,
    /// Training examples per second this epoch.
    pub examples_per_second: f64,
}

/// Metrics of one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training data loss over the epoch's batches.
    pub train_loss: f64,
    /// Mean training L1 penalty.
    pub penalty: f64,
    /// Training error over the epoch's batches (as the parameters moved), if classification.
    pub train_error: Option<f64>,
    /// Per hidden layer: fraction of exact zeros over the epoch's training batches.
    pub sparsity: Vec<f64>,
    /// Per hidden layer: units that were zero on every training example of the epoch.
    #[serde(default)]
    pub dead_units: Vec<usize>,
    /// Per hidden layer: units revived after the epoch ([`DeadUnits::Revive`]; empty otherwise).
    #[serde(default)]
    pub revived: Vec<usize>,
    /// Per hidden layer: the L1 weight λ at the epoch's end (moved by
    /// [`TrainConfig::target_sparsity`], else the spec's).
    #[serde(default)]
    pub l1: Vec<f32>,
    /// Validation metrics, when a validation set was given: of the averaged network when
    /// [`Self::averaged_epochs`] > 0.
    pub valid: Option<Evaluation>,
    /// How many epochs' parameters the averaged network holds at this epoch's end
    /// ([`TrainConfig::average_from`]; 0 without averaging or before it starts).
    #[serde(default)]
    pub averaged_epochs: usize,
    /// Training examples per second (training batches only, evaluation excluded).
    pub examples_per_second: f64,
    /// Wall-clock seconds for the epoch, evaluation included.
    pub seconds: f64,
}

/// Why [`Trainer::fit`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// All epochs ran.
    Completed,
    /// `patience` epochs passed without improvement.
    EarlyStopped,
    /// The observer asked to stop (e.g. Ctrl-C) after a batch; the state can be resumed.
    Interrupted,
    /// [`TrainConfig::time_limit`] was reached at the end of an epoch.
    TimeLimit,
}

/// The outcome of [`Trainer::fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Every epoch completed so far (including those before a resume).
    pub history: Vec<EpochMetrics>,
    /// The epoch whose parameters were kept (best validation score), if validated.
    pub best_epoch: Option<usize>,
    /// Why training stopped.
    pub stop: StopReason,
    /// Training examples per second over this call's batches.
    pub examples_per_second: f64,
}

/// Receives progress; every method has a no-op default. The CLI draws progress bars from it.
pub trait Observer {
    /// After every training batch.
    fn on_batch(&mut self, _progress: &BatchProgress) {}
    /// After every epoch (validation included).
    fn on_epoch(&mut self, _metrics: &EpochMetrics) {}
    /// After every epoch that training continues from or ends on, with the network and the state
    /// that [`Trainer::resume`] continues from exactly (what [`crate::checkpoint::save_training`]
    /// saves): the place for a per-epoch checkpoint, so that a killed run loses at most one
    /// epoch. Called after [`Observer::on_epoch`] with the epoch already in `state.history`.
    fn on_epoch_state(&mut self, _net: &Network, _state: &TrainState) {}
    /// Polled after every batch; returning `true` stops training with [`StopReason::Interrupted`]
    /// at a resumable point.
    fn stop_requested(&mut self) -> bool {
        false
    }
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Observer for Silent {}

/// A portable snapshot of a ChaCha8 stream position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    /// The 32-byte key.
    pub seed: [u8; 32],
    /// The stream number.
    pub stream: u64,
    /// The position in the stream, in 32-bit words.
    pub word_pos: u128,
}

impl RngState {
    /// Captures `rng`'s position.
    pub fn capture(rng: &ChaCha8Rng) -> Self {
        Self { seed: rng.get_seed(), stream: rng.get_stream(), word_pos: rng.get_word_pos() }
    }

    /// An RNG at exactly this position.
    pub fn restore(&self) -> ChaCha8Rng {
        use rand::SeedableRng;
        let mut rng = ChaCha8Rng::from_seed(self.seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(self.word_pos);
        rng
    }
}

/// Everything needed to continue a training run exactly where it stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainState {
    /// Epochs fully completed.
    pub completed_epochs: usize,
    /// When interrupted mid-epoch: the next batch of epoch `completed_epochs + 1`.
    pub next_batch: usize,
    /// The shuffling RNG as it was at the start of the current epoch (before its permutation
    /// was drawn), so the permutation can be redrawn on resume.
    pub epoch_rng: RngState,
    /// The epoch's partial loss totals (when interrupted mid-epoch).
    pub(crate) partial: PartialEpoch,
    /// The best validation score so far, its epoch and parameters.
    pub best: Option<(usize, f64, Network)>,
    /// Epochs since the best one.
    pub bad_epochs: usize,
    /// Completed epochs' metrics.
    pub history: Vec<EpochMetrics>,
    /// Momentum buffers.
    pub sgd: SgdState,
    /// Per hidden layer: the target-sparsity controller's smoothed sparsity (`None` before its
    /// first batch).
    pub(crate) smoothed_sparsity: Vec<Option<f64>>,
    /// The running mean of the epoch-end parameters ([`TrainConfig::average_from`]).
    pub average: Option<WeightAverage>,
}

/// Running totals of an epoch in progress.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PartialEpoch {
    pub(crate) data: f64,
    pub(crate) penalty: f64,
    pub(crate) errors: usize,
    pub(crate) squared_error: f64,
    pub(crate) examples: usize,
    pub(crate) nnz: Vec<u64>,
    /// Which units have fired so far this epoch.
    #[serde(default)]
    pub(crate) fired: Fired,
    pub(crate) seconds: f64,
    pub(crate) train_seconds: f64,
}

impl PartialEpoch {
    fn totals(&self) -> LossTotals {
        LossTotals {
            data: self.data,
            penalty: self.penalty,
            errors: self.errors,
            squared_error: self.squared_error,
            examples: self.examples,
        }
    }
}

impl TrainState {
    /// A fresh state for training `net` with `config`.
    pub fn new(net: &Network, config: &TrainConfig) -> Self {
        Self {
            completed_epochs: 0,
            next_batch: 0,
            epoch_rng: RngState::capture(&relu_core::seeded_rng(config.seed)),
            partial: PartialEpoch::default(),
            best: None,
            bad_epochs: 0,
            history: Vec::new(),
            sgd: SgdState::new(net, config.sgd),
            smoothed_sparsity: Vec::new(),
            average: None,
        }
    }
}

/// Trains a [`Network`] with minibatch SGD.
#[derive(Debug, Clone)]
pub struct Trainer {
    config: TrainConfig,
    state: Option<TrainState>,
}

/// Checks that `data` fits `net` (input dimension, target kind and range).
///
/// # Errors
/// [`NnError::DataMismatch`] naming `name` and what disagrees.
pub fn check_dataset(net: &Network, data: &Dataset, name: &str) -> Result<()> {
    let bad = |reason: String| Err(NnError::DataMismatch { dataset: name.to_owned(), reason });
    let spec = net.spec();
    if data.inputs.dim() != spec.inputs {
        return bad(format!("{} input features, the network expects {}", data.inputs.dim(), spec.inputs));
    }
    match (spec.output, &data.targets) {
        (OutputKind::Softmax { classes: k } | OutputKind::Ratings { levels: k }, Targets::Classes(labels)) => {
            if let Some((i, &y)) = labels.iter().enumerate().find(|&(_, &y)| y as usize >= k) {
                return bad(format!("example {i} has class {y}, the network has {k} outputs (classes 0..{})", k - 1));
            }
        }
        (OutputKind::Regression { outputs }, Targets::Values(v)) => {
            if v.nrows() != outputs {
                return bad(format!("{} target values per example, the network has {outputs} outputs", v.nrows()));
            }
        }
        (kind, _) => return bad(format!("its targets do not fit a {kind:?} output")),
    }
    Ok(())
}

impl Trainer {
    /// A trainer starting from scratch.
    ///
    /// # Errors
    /// [`NnError::InvalidParameter`] if the configuration does not pass [`TrainConfig::check`].
    pub fn new(config: TrainConfig) -> Result<Self> {
        config.check()?;
        Ok(Self { config, state: None })
    }

    /// A trainer continuing from a saved state (see [`crate::checkpoint::load_training`]).
    ///
    /// # Errors
    /// As [`Trainer::new`].
    pub fn resume(config: TrainConfig, state: TrainState) -> Result<Self> {
        config.check()?;
        Ok(Self { config, state: Some(state) })
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The current state (after [`Trainer::fit`] returned, what a checkpoint should save).
    pub fn state(&self) -> Option<&TrainState> {
        self.state.as_ref()
    }

    /// Trains `net` on `train`, validating on `valid` after every epoch. On return `net` holds the
    /// best-validation parameters when training completed or stopped early (the last ones when
    /// there is no validation set), and the current ones when interrupted — with momentum or
    /// weight decay, interrupted mid-epoch, some weight columns may then still owe idle steps
    /// (the state saved by [`crate::checkpoint::save_training`] records them, so a resumed run is
    /// identical; [`crate::SgdState::flush`] applies them).
    ///
    /// # Errors
    /// [`NnError::DataMismatch`] if a dataset does not fit the network, [`NnError::NonFinite`] if
    /// training diverges, [`NnError::Core`] if the thread pool cannot be built.
    pub fn fit(
        &mut self,
        net: &mut Network,
        train: &Dataset,
        valid: Option<&Dataset>,
        observer: &mut (dyn Observer + Send),
    ) -> Result<TrainReport> {
        self.fit_with(net, train, valid, observer, None)
    }

    /// [`Trainer::fit`] as one member of a data-parallel group ([`crate::parallel`]): every
    /// member calls it with the same network, data and configuration, and each trains on its
    /// share of every batch. On return every member holds the same network and report.
    ///
    /// # Errors
    /// As [`Trainer::fit`], and [`NnError::InvalidParameter`] for `sync_every` 0 or an empty
    /// group.
    pub fn fit_data_parallel(
        &mut self,
        net: &mut Network,
        train: &Dataset,
        valid: Option<&Dataset>,
        observer: &mut (dyn Observer + Send),
        parallel: &mut DataParallel<'_>,
    ) -> Result<TrainReport> {
        if parallel.sync_every == 0 {
            return Err(invalid("synchronisation interval", 0, "at least 1 batch"));
        }
        if parallel.group.size() == 0 || parallel.group.rank() >= parallel.group.size() {
            return Err(invalid(
                "data-parallel group",
                format!("rank {} of {}", parallel.group.rank(), parallel.group.size()),
                "a rank below a size of at least 1",
            ));
        }
        self.fit_with(net, train, valid, observer, Some(parallel))
    }

    fn fit_with(
        &mut self,
        net: &mut Network,
        train: &Dataset,
        valid: Option<&Dataset>,
        observer: &mut (dyn Observer + Send),
        parallel: Option<&mut DataParallel<'_>>,
    ) -> Result<TrainReport> {
        check_dataset(net, train, "train")?;
        if let Some(t) = self.config.target_sparsity {
            t.check(net.spec().hidden.len())?;
        }
        if let Some(v) = valid {
            check_dataset(net, v, "valid")?;
        }
        if train.is_empty() {
            return Err(NnError::DataMismatch { dataset: "train".into(), reason: "no examples".into() });
        }
        let threads =
            if self.config.threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { self.config.threads };
        let pool = relu_core::thread_pool(threads)?;
        let mut state = self.state.take().unwrap_or_else(|| TrainState::new(net, &self.config));
        let member = parallel.map(|p| Member::new(p, net));
        let result = pool.install(|| self.run(net, train, valid, observer, &mut state, member));
        self.state = Some(state);
        result
    }

    fn run(
        &self,
        net: &mut Network,
        train: &Dataset,
        valid: Option<&Dataset>,
        observer: &mut (dyn Observer + Send),
        st: &mut TrainState,
        mut member: Option<Member<'_, '_>>,
    ) -> Result<TrainReport> {
        let fit_start = Instant::now();
        let cfg = &self.config;
        let kind = net.spec().output;
        let mut ws = Workspace::new(net, cfg.dispatch, cfg.crossover);
        let train = train.for_kernels(&ws.dispatch[0], cfg.batch_size);
        let train = train.as_ref();
        let n = train.len();
        let batches = n.div_ceil(cfg.batch_size);
        let units: Vec<usize> = net.spec().hidden.iter().map(|l| l.units).collect();
        let (mut run_examples, mut run_seconds) = (0usize, 0.0f64);
        let mut stop = StopReason::Completed;
        if st.next_batch > 0 && st.next_batch >= batches {
            return Err(NnError::DataMismatch {
                dataset: "train".into(),
                reason: format!(
                    "the resumed state stopped before batch {} of an epoch, but {n} examples make {batches} batches of {}",
                    st.next_batch, cfg.batch_size
                ),
            });
        }
        while st.completed_epochs < cfg.epochs {
            // A state saved after the epoch that exhausted the patience (a per-epoch checkpoint
            // of a run killed before it finished) resumes to the same early stop.
            if cfg.patience.is_some_and(|p| st.bad_epochs >= p) {
                stop = StopReason::EarlyStopped;
                break;
            }
            let epoch = st.completed_epochs + 1;
            let mut rng = st.epoch_rng.restore();
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut rng);
            let lr = cfg.sgd.lr_at(epoch, cfg.epochs);
            if st.partial.nnz.len() != units.len() {
                st.partial.nnz = vec![0; units.len()];
            }
            if !st.partial.fired.fits(&units) {
                st.partial.fired = Fired::new(&units);
            }
            let epoch_start = Instant::now();
            let seconds_before = st.partial.seconds;
            for b in st.next_batch..batches {
                let t = Instant::now();
                let idx = &order[b * cfg.batch_size..((b + 1) * cfg.batch_size).min(n)];
                let dropped = |ids: &[usize]| {
                    let mut batch = train.select(ids);
                    if cfg.input_dropout > 0.0 {
                        batch.inputs = batch.inputs.dropout(cfg.input_dropout, &mut dropout_rng(cfg.seed, epoch, b));
                    }
                    batch
                };
                // A data-parallel member sees its slice of the batch; the dropout masks are drawn
                // on the whole batch, as in one process.
                let (loss, cache, active, shared_stop) = match member.as_mut() {
                    None => {
                        let batch = dropped(idx);
                        let (loss, cache) = net.sgd_step(&batch.inputs, &batch.targets, cfg.sgd, lr, &mut st.sgd, &mut ws);
                        let active: Vec<usize> = cache.hidden.iter().map(|h| h.active).collect();
                        (loss, Some(cache), active, None)
                    }
                    Some(m) => {
                        let slice = m.slice(idx.len());
                        let batch = match cfg.input_dropout > 0.0 {
                            true => dropped(idx).select(&slice.collect::<Vec<_>>()),
                            false => train.select(&idx[slice]),
                        };
                        let asked = observer.stop_requested();
                        let s = m.step(net, &batch, idx.len(), cfg.sgd, lr, &mut st.sgd, &mut ws, (b, batches), asked);
                        (s.loss, s.cache, s.active, Some(s.stop))
                    }
                };
                let dt = t.elapsed().as_secs_f64();
                check_batch(net, &loss, epoch, b)?;
                let p = &mut st.partial;
                p.data += loss.data * loss.examples as f64;
                p.penalty += loss.penalty * loss.examples as f64;
                p.errors += loss.errors;
                p.squared_error += loss.squared_error;
                p.examples += loss.examples;
                p.train_seconds += dt;
                for (l, (acc, &active)) in p.nnz.iter_mut().zip(&active).enumerate() {
                    *acc += active as u64;
                    if let Some(c) = &cache {
                        p.fired.add(l, &c.hidden[l].output);
                    }
                    if let Some(t) = cfg.target_sparsity {
                        let zeros = 1.0 - active as f64 / (units[l] * loss.examples).max(1) as f64;
                        if st.smoothed_sparsity.len() != units.len() {
                            st.smoothed_sparsity = vec![None; units.len()];
                        }
                        let fraction = loss.examples as f64 / n as f64;
                        let l1 = t.step(l, net.spec().hidden[l].l1, zeros, fraction, &mut st.smoothed_sparsity[l]);
                        net.set_l1(l, l1);
                    }
                }
                run_examples += loss.examples;
                run_seconds += dt;
                let totals = p.totals();
                let all_units: usize = units.iter().sum();
                observer.on_batch(&BatchProgress {
                    epoch,
                    batch: b,
                    batches,
                    loss: totals.mean_loss(),
                    penalty: totals.mean_penalty(),
                    error: totals.error(kind),
                    sparsity: 1.0 - p.nnz.iter().sum::<u64>() as f64 / (all_units.max(1) * p.examples) as f64,
                    examples_per_second: p.examples as f64 / p.train_seconds.max(1e-12),
                });
                if shared_stop.unwrap_or_else(|| observer.stop_requested()) && b + 1 < batches {
                    st.next_batch = b + 1;
                    st.partial.seconds = seconds_before + epoch_start.elapsed().as_secs_f64();
                    return Ok(self.report(st, StopReason::Interrupted, run_examples, run_seconds));
                }
            }
            // The epoch is complete: apply every idle step the lazy optimiser owes, so the
            // parameters evaluated, kept and saved are exactly the dense update's.
            st.sgd.flush(net);
            check_parameters(net, epoch, batches.saturating_sub(1))?;
            // A group agrees on the units that fired and on whether to stop after this epoch.
            let shared_end = member.as_mut().map(|m| {
                let time_up = cfg.time_limit.is_some_and(|t| fit_start.elapsed().as_secs_f64() >= t);
                let stop = observer.stop_requested();
                m.end_epoch(&mut st.partial.fired, &units, [time_up, stop])
            });
            let dead = st.partial.fired.dead(&units);
            let revived = match cfg.dead_units {
                DeadUnits::Report => Vec::new(),
                DeadUnits::Revive => crate::dead::revive(net, &mut st.sgd, &dead, cfg.seed, epoch),
            };
            if let Some(layer) = st.partial.nnz.iter().position(|&active| active == 0).filter(|_| cfg.stop_on_dead_layer)
                && cfg.dead_units == DeadUnits::Report
            {
                return Err(NnError::DeadLayer { epoch, layer: layer_name(net, layer), examples: st.partial.examples });
            }
            if cfg.average_from.is_some_and(|a| epoch >= a) {
                match &mut st.average {
                    Some(avg) => avg.add(net),
                    None => st.average = Some(WeightAverage::start(net)),
                }
            }
            // The network validated and kept: the average once there is one.
            let candidate = st.average.as_ref().map_or(&*net, |a| &a.net);
            let valid_eval = valid.map(|v| candidate.evaluate(v, cfg.eval_batch, &mut ws));
            let p = std::mem::take(&mut st.partial);
            let totals = p.totals();
            let metrics = EpochMetrics {
                epoch,
                train_loss: totals.mean_loss(),
                penalty: totals.mean_penalty(),
                train_error: totals.error(kind),
                sparsity: p.nnz.iter().zip(&units).map(|(&z, &u)| 1.0 - z as f64 / (u * p.examples.max(1)) as f64).collect(),
                dead_units: dead.iter().map(Vec::len).collect(),
                revived,
                l1: net.spec().hidden.iter().map(|l| l.l1).collect(),
                valid: valid_eval,
                averaged_epochs: st.average.as_ref().map_or(0, |a| a.epochs),
                examples_per_second: p.examples as f64 / p.train_seconds.max(1e-12),
                seconds: seconds_before + epoch_start.elapsed().as_secs_f64(),
            };
            st.completed_epochs = epoch;
            st.next_batch = 0;
            st.epoch_rng = RngState::capture(&rng);
            if let Some(score) = metrics.valid.as_ref().map(|v| v.error.or(v.rmse).unwrap_or(v.loss)) {
                if st.best.as_ref().is_none_or(|(_, best, _)| score < *best) {
                    st.best = Some((epoch, score, candidate.clone()));
                    st.bad_epochs = 0;
                } else {
                    st.bad_epochs += 1;
                }
            }
            observer.on_epoch(&metrics);
            st.history.push(metrics);
            observer.on_epoch_state(net, st);
            if cfg.patience.is_some_and(|p| st.bad_epochs >= p) {
                stop = StopReason::EarlyStopped;
                break;
            }
            let time_up = shared_end.map_or_else(|| cfg.time_limit.is_some_and(|t| fit_start.elapsed().as_secs_f64() >= t), |f| f[0]);
            if time_up && st.completed_epochs < cfg.epochs {
                stop = StopReason::TimeLimit;
                break;
            }
            if shared_end.map_or_else(|| observer.stop_requested(), |f| f[1]) && st.completed_epochs < cfg.epochs {
                return Ok(self.report(st, StopReason::Interrupted, run_examples, run_seconds));
            }
        }
        if let Some((_, _, best)) = &st.best {
            *net = best.clone();
        } else if let Some(avg) = &st.average {
            *net = avg.net.clone();
        }
        Ok(self.report(st, stop, run_examples, run_seconds))
    }

    fn report(&self, st: &TrainState, stop: StopReason, examples: usize, seconds: f64) -> TrainReport {
        TrainReport {
            history: st.history.clone(),
            best_epoch: st.best.as_ref().map(|b| b.0),
            stop,
            examples_per_second: if seconds > 0.0 { examples as f64 / seconds } else { 0.0 },
        }
    }
}

/// The input-dropout noise of one batch: its own ChaCha stream of the run's seed, so it depends
/// on nothing but (seed, epoch, batch) and a resumed run draws the same masks.
fn dropout_rng(seed: u64, epoch: usize, batch: usize) -> ChaCha8Rng {
    let mut rng = relu_core::seeded_rng(seed ^ 0xD809_0D7A_5EED_0001);
    rng.set_stream(((epoch as u64) << 40) ^ batch as u64);
    rng
}

/// After every batch: the loss, the penalty and every bias must be finite. A NaN anywhere in a
/// layer's δ reaches that layer's bias in the same step, so this catches divergence at once
/// without scanning every weight per batch.
fn check_batch(net: &Network, loss: &crate::backward::BatchLoss, epoch: usize, batch: usize) -> Result<()> {
    let nonfinite = |layer: String, what| Err(NnError::NonFinite { epoch, batch, layer, what });
    if !loss.data.is_finite() {
        return nonfinite("output layer".into(), "loss");
    }
    if !loss.penalty.is_finite() {
        return nonfinite("hidden layers".into(), "L1 penalty");
    }
    for (i, l) in net.layers().iter().enumerate() {
        if !l.bias.iter().all(|v| v.is_finite()) {
            return nonfinite(layer_name(net, i), "bias");
        }
    }
    Ok(())
}

/// After every epoch: every weight must be finite.
fn check_parameters(net: &Network, epoch: usize, batch: usize) -> Result<()> {
    for (i, l) in net.layers().iter().enumerate() {
        if !l.weight.iter().all(|v| v.is_finite()) {
            return Err(NnError::NonFinite { epoch, batch, layer: layer_name(net, i), what: "weight" });
        }
    }
    Ok(())
}

fn layer_name(net: &Network, i: usize) -> String {
    if i == net.spec().hidden.len() { "output layer".into() } else { format!("hidden layer {}", i + 1) }
}
