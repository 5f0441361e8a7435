//! `relu reproduce`: the paper's experiments, each a list of networks trained by one runner.
//!
//! Every experiment follows the same steps: load the data once, build the list of networks
//! ([`Job`]s), train each one ([`train_job`]: learning rate chosen from a grid by validation
//! error, then the full run, the best validation epoch kept), evaluate it on the test split, and
//! write `report.json` (every network's settings, learning-rate trials, errors and sparsity) and
//! `table.md` (the paper's layout with the paper's numbers beside ours), plus an SVG for the
//! figures. Files are written atomically at the end; Ctrl-C writes the networks finished so far
//! (marked `"interrupted": true`) and exits with code 130.

mod fig3;
mod fig4;
mod sentiment;
mod table1;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, bail};
use relu_core::Activation;
use relu_core::activation::Softplus;
use relu_experiment::search::{self, Fitted, JobResult, LrSearch, LrTrial, Start};
use relu_experiment::{Budget, ExperimentError, stats};
use relu_nn::{Dataset, Features, Network, NetworkSpec};
use relu_pretrain::Reconstruction;
use serde::{Deserialize, Serialize};

use crate::cli::{ReproduceCommand, ReproduceCommon};
use crate::cluster::{Cluster, Swept};
use crate::cmd::train::EXIT_INTERRUPTED;
use crate::flags;
use crate::progress::{self, Display};
use crate::report::PretrainingInfo;
use crate::settings::{HiddenActivation, Settings, resolve_threads};

/// Runs `relu reproduce …`; returns the exit code (0, or 130 when interrupted).
///
/// # Errors
/// Bad flags, unreadable data, or files that cannot be written.
pub fn run(command: &ReproduceCommand, cluster: &Cluster) -> Result<u8> {
    match command {
        ReproduceCommand::Table1(a) => table1::run(a, cluster),
        ReproduceCommand::Fig3(a) => fig3::run(a, cluster),
        ReproduceCommand::Fig4(a) => fig4::run(a, cluster),
        ReproduceCommand::Sentiment(a) => sentiment::run(a, cluster),
    }
}

/// Per-experiment defaults for the shared flags.
#[derive(Debug, Clone)]
struct Defaults {
    epochs: usize,
    patience: Option<usize>,
    lr_grid: &'static [f32],
    /// Learning-rate trials as long as the full run (small data) instead of one epoch.
    full_trials: bool,
    pretrain_epochs: usize,
    lr_schedule: relu_nn::LrSchedule,
    input_dropout: f32,
    /// [`relu_nn::TrainConfig::average_from`].
    average_from: Option<usize>,
    /// Whether a network whose hidden layer dies for a whole epoch is an error
    /// ([`relu_nn::TrainConfig::stop_on_dead_layer`]).
    stop_on_dead_layer: bool,
}

impl Defaults {
    /// The paper's protocol: constant learning rate, clean inputs.
    const fn paper(epochs: usize, patience: Option<usize>, lr_grid: &'static [f32], full_trials: bool) -> Defaults {
        Defaults {
            epochs,
            patience,
            lr_grid,
            full_trials,
            pretrain_epochs: 10,
            lr_schedule: relu_nn::LrSchedule::Constant,
            input_dropout: 0.0,
            average_from: None,
            stop_on_dead_layer: true,
        }
    }
}

/// The resolved shared flags and the run's bookkeeping.
struct Runner {
    experiment: &'static str,
    epochs: usize,
    patience: Option<usize>,
    /// The learning-rate grid and the trials' length.
    search: LrSearch,
    lr_schedule: relu_nn::LrSchedule,
    momentum: f32,
    weight_decay: f32,
    input_dropout: f32,
    dead_units: relu_nn::DeadUnits,
    average_from: Option<usize>,
    stop_on_dead_layer: bool,
    pretrain_epochs: usize,
    limit: Option<usize>,
    budget: Budget,
    seed: u64,
    threads: usize,
    out: PathBuf,
    /// Held for the whole run ([`super::claim_out`]); only rank 0 of an MPI run writes.
    _lock: Option<relu_nn::checkpoint::DirLock>,
    /// Processes sharing the jobs (MPI ranks; 1 without MPI).
    processes: usize,
    display: Display,
    stop: Arc<AtomicBool>,
}

impl Runner {
    fn new(experiment: &'static str, c: &ReproduceCommon, d: &Defaults, cluster: &Cluster) -> Result<Self> {
        let epochs = c.epochs.unwrap_or(d.epochs);
        let sgd_defaults = relu_nn::Sgd::default();
        let momentum = c.recipe.momentum.unwrap_or(sgd_defaults.momentum);
        let weight_decay = c.recipe.weight_decay.unwrap_or(sgd_defaults.weight_decay);
        let input_dropout = c.recipe.input_dropout.unwrap_or(d.input_dropout);
        let lr_schedule = c.recipe.lr_schedule.unwrap_or(d.lr_schedule);
        let pretrain_epochs = c.pretrain_epochs.unwrap_or(d.pretrain_epochs);
        // The libraries' rules, reported with the flags (the learning rate comes from the grid).
        let sgd = relu_nn::Sgd { lr: 0.01, momentum, weight_decay, schedule: lr_schedule };
        let patience = c.patience.or(d.patience);
        // The experiment's default start applies when the run is long enough to reach it.
        let average_from = c.recipe.average_from.map_or(d.average_from.filter(|&a| a <= epochs), |a| a.0);
        relu_nn::TrainConfig { epochs, patience, input_dropout, sgd, average_from, ..Default::default() }.check().map_err(flags::nn)?;
        relu_pretrain::PretrainConfig { epochs: pretrain_epochs, ..Default::default() }.check().map_err(flags::pretrain)?;
        let search = LrSearch {
            grid: c.lr_grid.clone().unwrap_or_else(|| d.lr_grid.to_vec()),
            select_epochs: c.select_epochs.unwrap_or(if d.full_trials { epochs } else { 1 }),
        };
        search.check().map_err(flags::experiment)?;
        if c.limit == Some(0) {
            bail!("--limit: invalid limit 0: expected at least 1 training example");
        }
        if let Some(m) = c.budget_minutes
            && !(m.is_finite() && m > 0.0)
        {
            bail!("--budget-minutes: invalid budget {m}: expected a number of minutes > 0");
        }
        let out = c.out.clone().unwrap_or_else(|| crate::cmd::train::timestamped_out(&format!("reproduce-{experiment}")));
        let lock = match cluster.is_root() {
            true => Some(super::claim_out(&out, &["report.json"], "a report", "choose another folder or delete it")?),
            false => None,
        };
        Ok(Self {
            experiment,
            epochs,
            patience,
            search,
            lr_schedule,
            momentum,
            weight_decay,
            input_dropout,
            dead_units: c.recipe.dead_units.unwrap_or_default(),
            average_from,
            stop_on_dead_layer: d.stop_on_dead_layer,
            pretrain_epochs,
            limit: c.limit,
            budget: Budget::new(c.budget_minutes.map(|m| m * 60.0)),
            seed: c.seed,
            threads: resolve_threads(c.threads),
            out,
            _lock: lock,
            processes: cluster.size(),
            display: if cluster.is_root() { Display::choose(c.quiet) } else { Display::Quiet },
            stop: progress::install_ctrlc(),
        })
    }

    /// Whether networks need a validation split: to choose among several learning rates, or to
    /// stop early. Without one every network trains all its epochs and keeps the last.
    fn needs_validation(&self) -> bool {
        self.search.needs_validation(self.patience)
    }

    fn say(&self, line: &str) {
        if self.display != Display::Quiet {
            println!("{line}");
        }
    }

    /// Trains jobs `0..jobs` with `work(job, budget)` — one process in order, or spread over
    /// MPI ranks — where `budget` is the seconds the job may use: the budget left divided by
    /// the jobs each process still has to run. `None` on ranks other than 0, which write
    /// nothing.
    fn sweep<T>(
        &self,
        cluster: &Cluster,
        jobs: usize,
        work: impl Fn(usize, Option<f64>) -> Result<Option<T>> + Sync,
    ) -> Result<Option<Swept<T>>>
    where
        T: Serialize + serde::de::DeserializeOwned + Send,
    {
        if cluster.size() > 1 {
            self.say(&format!("{jobs} networks shared by {} MPI processes", cluster.size()));
        }
        let processes = cluster.size();
        cluster.run_jobs(jobs, &self.stop, |i| work(i, self.budget.share(Cluster::rounds_of(jobs - i, processes))))
    }

    /// The base settings of every network: the paper's protocol with this run's seed, threads,
    /// epochs and patience.
    fn settings(&self) -> Settings {
        Settings {
            epochs: self.epochs,
            patience: self.patience,
            seed: self.seed,
            threads: self.threads,
            pretrain_epochs: self.pretrain_epochs,
            lr_schedule: self.lr_schedule,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            input_dropout: self.input_dropout,
            dead_units: self.dead_units,
            average_from: self.average_from,
            ..Settings::default()
        }
    }

    /// Greedy DAE pre-training of `spec`'s hidden layers on `unlabeled` with `settings`' options.
    fn pretrain(&self, settings: &Settings, unlabeled: &Features, spec: &NetworkSpec, name: &str) -> Result<(Network, PretrainingInfo)> {
        let cfg = settings.pretrain_config().context("internal: pre-training requested without --pretrain settings")?;
        let display = self.display;
        let prefix = name.to_owned();
        let say = move |line: &str| {
            if display != Display::Quiet {
                println!("{prefix}: {line}");
            }
        };
        crate::cmd::train::pretrain(settings, unlabeled, spec, &cfg, self.threads, &say)
    }

    /// Writes `report.json` and the other files (all rendered before anything is written).
    fn write(&self, report: &impl Serialize, files: &[(&str, Vec<u8>)]) -> Result<()> {
        std::fs::create_dir_all(&self.out).with_context(|| format!("--out {}: cannot create the folder", self.out.display()))?;
        // Complete or not at all: every file written before any is renamed, report.json last.
        let mut set = relu_nn::checkpoint::FileSet::new();
        for (name, bytes) in files {
            set.add(&self.out.join(name), bytes)?;
        }
        let mut json = serde_json::to_vec_pretty(report)?;
        json.push(b'\n');
        set.add(&self.out.join("report.json"), &json)?;
        Ok(set.commit()?)
    }

    /// The header shared by every report; `missing`: the jobs that did not finish.
    fn header(&self, data: &str, missing: &[usize]) -> Header {
        Header {
            relu_version: env!("CARGO_PKG_VERSION"),
            experiment: self.experiment,
            command: std::env::args().collect::<Vec<_>>().join(" "),
            data: data.to_owned(),
            machine: Machine {
                processes: self.processes,
                threads: self.threads,
                cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
                os: std::env::consts::OS,
                arch: std::env::consts::ARCH,
            },
            protocol: Protocol {
                epochs: self.epochs,
                patience: self.patience,
                lr_grid: self.search.grid.clone(),
                select_epochs: self.search.select_epochs,
                lr_schedule: self.lr_schedule.to_string(),
                momentum: self.momentum,
                weight_decay: self.weight_decay,
                input_dropout: self.input_dropout,
                dead_units: self.dead_units.to_string(),
                average_from: self.average_from,
                pretrain_epochs: self.pretrain_epochs,
                limit: self.limit,
                budget_minutes: self.budget.seconds().map(|s| s / 60.0),
                seed: self.seed,
            },
            wall_seconds: self.budget.elapsed(),
            interrupted: !missing.is_empty(),
            missing_jobs: missing.to_vec(),
        }
    }

    /// Finishes the run: writes the files, prints the table and where they went.
    fn finish(&self, report: &impl Serialize, table: &str, mut files: Vec<(&str, Vec<u8>)>, interrupted: bool) -> Result<u8> {
        files.push(("table.md", table.as_bytes().to_vec()));
        self.write(report, &files)?;
        println!("\n{table}");
        let names: Vec<&str> = files.iter().map(|(n, _)| *n).chain(["report.json"]).collect();
        println!("{:.1} minutes; files in {}: {}", self.budget.elapsed() / 60.0, self.out.display(), names.join(", "));
        if interrupted {
            eprintln!("interrupted: the report holds the networks finished before Ctrl-C");
            return Ok(EXIT_INTERRUPTED);
        }
        Ok(0)
    }
}

/// What every report starts with.
#[derive(Debug, Serialize)]
struct Header {
    relu_version: &'static str,
    experiment: &'static str,
    /// The command line that produced the report.
    command: String,
    data: String,
    machine: Machine,
    protocol: Protocol,
    wall_seconds: f64,
    /// Ctrl-C stopped the run; only the networks finished before it are reported.
    interrupted: bool,
    /// The jobs (0-based, in the order the experiment lists its networks) that did not finish.
    missing_jobs: Vec<usize>,
}

#[derive(Debug, Serialize)]
struct Machine {
    /// MPI ranks that shared the networks (1 without MPI).
    processes: usize,
    /// Kernel threads per process.
    threads: usize,
    cores: usize,
    os: &'static str,
    arch: &'static str,
}

#[derive(Debug, Serialize)]
struct Protocol {
    epochs: usize,
    patience: Option<usize>,
    lr_grid: Vec<f32>,
    select_epochs: usize,
    lr_schedule: String,
    momentum: f32,
    weight_decay: f32,
    input_dropout: f32,
    dead_units: String,
    average_from: Option<usize>,
    pretrain_epochs: usize,
    limit: Option<usize>,
    budget_minutes: Option<f64>,
    seed: u64,
}

/// How the paper's image experiments use a hidden activation: its L1 weight and the
/// reconstruction its layers are pre-trained with.
#[derive(Debug, Clone, Copy)]
struct PaperUnits {
    activation: HiddenActivation,
    l1: f32,
    /// `None`: relu-pretrain's default for the activation.
    reconstruction: Option<Reconstruction>,
}

impl PaperUnits {
    /// `rectifier`, `tanh` or `softplus`.
    fn named(name: &str) -> Option<PaperUnits> {
        let (activation, l1, reconstruction) = match name {
            // L1 1e-3 on rectifier activations only, as in the paper. Rectifier codes are
            // unbounded, so the auto-encoders reconstruct from codes scaled to [0, 1] with a
            // sigmoid (the paper's second strategy); softplus reconstruction left many
            // second-layer units dead.
            "rectifier" => (Activation::Rectifier, 1e-3, Some(Reconstruction::ScaledSigmoid)),
            "tanh" => (Activation::Tanh, 0.0, None),
            "softplus" => (Activation::Softplus(Softplus::default()), 0.0, None),
            _ => return None,
        };
        Some(PaperUnits { activation: HiddenActivation::Affine(activation), l1, reconstruction })
    }
}

/// One network to train.
struct Job {
    /// Its name in the tables and progress lines.
    name: String,
    /// Architecture and training settings (the learning rate comes from the grid).
    settings: Settings,
    spec: NetworkSpec,
    /// Pre-trained starting point; `None` starts from the seed's random initialisation.
    init: Option<Network>,
}

/// The splits a network sees. Without a validation split a network trains every epoch and the
/// last epoch is kept (the learning-rate grid must then have one rate).
struct Splits<'a> {
    train: &'a Dataset,
    valid: Option<&'a Dataset>,
    test: &'a Dataset,
}

/// A trained network's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NetResult {
    pub(crate) name: String,
    pub(crate) activation: String,
    pub(crate) hidden: Vec<usize>,
    /// The first hidden layer's L1 weight after training (with a target sparsity, where the
    /// controller left it).
    l1: f32,
    /// `--target-sparsity` of this network, if any.
    pub(crate) target_sparsity: Option<f32>,
    pub(crate) sign_flip: bool,
    pub(crate) input_dropout: f32,
    /// `report` or `revive`.
    pub(crate) dead_unit_policy: String,
    pub(crate) pretrained: bool,
    /// The learning rate chosen by the trials.
    pub(crate) lr: f32,
    pub(crate) lr_trials: Vec<LrTrial>,
    pub(crate) epochs_run: usize,
    pub(crate) best_epoch: Option<usize>,
    pub(crate) stop: String,
    pub(crate) train_examples: usize,
    pub(crate) valid_error: Option<f64>,
    pub(crate) test_error: Option<f64>,
    pub(crate) test_rmse: Option<f64>,
    pub(crate) test_loss: f64,
    /// Per hidden layer: fraction of exact zeros on the test split.
    pub(crate) sparsity: Vec<f64>,
    /// The mean of `sparsity` over the hidden layers (the paper's "average sparsity").
    pub(crate) mean_sparsity: f64,
    pub(crate) dead_units: Vec<usize>,
    pub(crate) examples_per_second: f64,
    /// Seconds of learning-rate trials and training (pre-training excluded).
    pub(crate) seconds: f64,
}

impl NetResult {
    /// The results of a finished job `name` trained with `settings` (`pretrained`: it started
    /// from pre-trained layers) on `train_examples` examples.
    pub(crate) fn new(name: String, settings: &Settings, pretrained: bool, train_examples: usize, done: JobResult) -> NetResult {
        let JobResult { fitted: Fitted { net, report, lr, trials }, valid, test, seconds } = done;
        NetResult {
            name,
            activation: settings.activation.to_string(),
            hidden: net.spec().hidden.iter().map(|l| l.units).collect(),
            l1: net.spec().hidden.first().map_or(0.0, |l| l.l1),
            target_sparsity: settings.target_sparsity.map(|t| t.target(0)),
            sign_flip: settings.sign_flip,
            input_dropout: settings.input_dropout,
            dead_unit_policy: settings.dead_units.to_string(),
            pretrained,
            lr,
            lr_trials: trials,
            epochs_run: report.history.len(),
            best_epoch: report.best_epoch,
            stop: serde_json::to_value(report.stop).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            train_examples,
            valid_error: valid.and_then(|v| v.error.or(v.rmse)),
            test_error: test.error,
            test_rmse: test.rmse,
            test_loss: test.loss,
            mean_sparsity: stats::mean_or_zero(&test.sparsity),
            sparsity: test.sparsity,
            dead_units: test.dead_units,
            examples_per_second: report.examples_per_second,
            seconds,
        }
    }

    /// Test error, or RMSE for ratings.
    pub(crate) fn score(&self) -> f64 {
        self.test_error.or(self.test_rmse).unwrap_or(f64::NAN)
    }
}

/// Chooses the learning rate from the grid (unless it has one value), trains the network with
/// it and evaluates it ([`relu_experiment::search::fit`]). `budget` caps the seconds of trials
/// and training together (the full run always gets at least one epoch). `None` when
/// interrupted.
fn train_job(r: &Runner, job: Job, data: &Splits<'_>, budget: Option<f64>) -> Result<Option<NetResult>> {
    let Job { name, settings, spec, init } = job;
    let pretrained = init.is_some();
    let job = search::Job {
        start: match init {
            Some(net) => Start::From(net),
            None => Start::Random { spec, seed: settings.seed },
        },
        config: relu_nn::TrainConfig { stop_on_dead_layer: r.stop_on_dead_layer, ..settings.train_config() },
        search: r.search.clone(),
        name,
    };
    let mut monitor = progress::Runs { display: r.display, stop: r.stop.clone(), stop_after: None, name: &job.name };
    let done = match search::run_job(&job, data.train, data.valid, data.test, budget, &mut monitor) {
        Ok(Some(done)) => done,
        Ok(None) => return Ok(None),
        Err(ExperimentError::AllDiverged { grid }) => {
            bail!("{}: every learning rate in --lr-grid {grid:?} diverged; add smaller rates", job.name)
        }
        Err(e) => return Err(e).with_context(|| job.name.clone()),
    };
    let result = NetResult::new(job.name, &settings, pretrained, data.train.len(), done);
    let lr = result.lr;
    r.say(&format!(
        "{}: lr {lr}, kept epoch {} of {}: test {}, sparsity {:.1} %, {:.0} s",
        result.name,
        result.best_epoch.map_or("-".into(), |e| e.to_string()),
        result.epochs_run,
        score_text(&result),
        100.0 * result.mean_sparsity,
        result.seconds
    ));
    Ok(Some(result))
}

/// `1.43 %` for errors, `0.812` for RMSE.
fn score_text(n: &NetResult) -> String {
    match (n.test_error, n.test_rmse) {
        (_, Some(rmse)) => format!("rmse {rmse:.3}"),
        (Some(e), None) => format!("{:.2} %", 100.0 * e),
        (None, None) => "-".into(),
    }
}

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}
