//! `relu train`: settings → data → network → SGD with progress → evaluation → files → summary.
//!
//! Nothing is written to `--out` until training has finished (or was interrupted), and every file
//! is written atomically (temporary file + rename), so a failure never leaves a half-written
//! file; `report.json` is written last and marks a complete run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use relu_nn::checkpoint::{self, write_atomic};
use relu_nn::{Dataset, Evaluation, Network, NetworkSpec, Observer, StopReason, TrainReport, Trainer};
use serde::Serialize;

use crate::cli::TrainArgs;
use crate::cluster::Cluster;
use crate::data::{self, DataSpec, InputKind, TextOptions};
use crate::model_dir::{self, MODEL_FILE};
use crate::plots;
use crate::progress::{self, Display, Progress};
use crate::report::{PretrainingInfo, Report, RunFacts};
use crate::settings::{Settings, resolve_threads};
use relu_experiment::cv::CvReport;
use relu_experiment::{EVAL_BATCH, analysis};

/// The resumable state's file name.
pub const STATE_FILE: &str = "train_state.safetensors";
/// The resolved configuration's file name.
pub const CONFIG_FILE: &str = "config.toml";
/// The report's file name.
pub const REPORT_FILE: &str = "report.json";
/// Cross-validation results (with `--folds`).
pub const CV_FILE: &str = "cv.json";

/// Exit code of an interrupted run (128 + SIGINT, as shells report Ctrl-C).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Runs `relu train`; returns the process exit code (0, or 130 when interrupted).
///
/// # Errors
/// Bad settings, unreadable data, divergence, or files that cannot be written.
pub fn run(args: &TrainArgs, cluster: &Cluster) -> Result<u8> {
    let (settings, out, resuming) = resolve(args)?;
    // Held until the run returns. A resumed run continues the folder's state on purpose. Under
    // MPI only rank 0 writes (and locks) the folder; every rank reads it on --resume.
    let finished: &[&str] = if resuming { &[] } else { &[REPORT_FILE, STATE_FILE] };
    let _lock = match cluster.is_root() {
        true => Some(super::claim_out(
            &out,
            finished,
            "a training run",
            "choose another folder, delete it, or continue an interrupted run with --resume",
        )?),
        false => None,
    };
    if settings.folds.is_some() {
        cluster.refuse("--folds")?;
    }
    let display = if cluster.is_root() { Display::choose(args.quiet) } else { Display::Quiet };
    let say = |line: &str| display.say(line);
    let spec = settings.data_spec()?;
    let text = settings.text_options();
    let loaded = data::load(&spec, text, settings.limit)?;
    let net_spec = NetworkSpec { inputs: loaded.dim(), hidden: settings.layers(), output: loaded.output };
    net_spec.check().context("the network architecture")?;
    let threads = resolve_threads(settings.threads);
    say(&format!(
        "data {}: {} train, {} valid, {} test examples, {} inputs ({})",
        loaded.name,
        loaded.train.len(),
        loaded.valid.len(),
        loaded.test.len(),
        loaded.dim(),
        if loaded.input.kind == InputKind::Text { "sparse bag of words" } else { "pixels in [0, 1]" },
    ));
    say(&format!(
        "network {} ({} parameters), {} hidden units, L1 {}, {} threads, output to {}",
        layer_string(&net_spec),
        net_spec.parameter_count(),
        settings.activation,
        settings.l1,
        threads,
        out.display()
    ));
    say(&recipe_line(&settings));
    if cluster.size() > 1 {
        say(&format!(
            "data-parallel over {} MPI processes: each takes 1/{} of every batch of {}; {}, {:.1} MB sent per process each time",
            cluster.size(),
            cluster.size(),
            settings.batch,
            match settings.sync_every {
                1 => "gradients summed every batch (synchronous SGD)".to_owned(),
                k => format!("networks averaged every {k} batches and after every epoch (local SGD)"),
            },
            relu_nn::parallel::bytes_per_sync(net_spec.parameter_count(), settings.momentum, settings.sync_every) as f64 / 1e6
        ));
    }
    let stop = progress::install_ctrlc();

    if let Some(k) = settings.folds
        && !(resuming && out.join(CV_FILE).is_file())
    {
        match cross_validate(&settings, &spec, text, k, display, &stop, args.stop_after_batches)? {
            Some(cv) => {
                std::fs::create_dir_all(&out).with_context(|| format!("--out {}: cannot create the folder", out.display()))?;
                write_atomic(&out.join(CV_FILE), &json_bytes(&cv)?)?;
                // Errors as percentages like every other line; RMSE in stars.
                let score = if cv.metric == "rmse" {
                    format!("rmse {:.4} ± {:.4}", cv.mean, cv.std)
                } else {
                    format!("error {:.2} % ± {:.2} (accuracy {:.2} %)", 100.0 * cv.mean, 100.0 * cv.std, 100.0 * (1.0 - cv.mean))
                };
                say(&format!("cross-validation ({k} folds): mean test {score}; written to {}", out.join(CV_FILE).display()));
            }
            None => {
                eprintln!("interrupted during cross-validation: nothing was saved");
                return Ok(EXIT_INTERRUPTED);
            }
        }
    }

    let config = settings.train_config();
    let mut pretraining: Option<PretrainingInfo> = None;
    let (mut net, mut trainer) = if resuming {
        let path = out.join(STATE_FILE);
        let (net, state, saved) = checkpoint::load_training(&path).with_context(|| format!("--resume {}", out.display()))?;
        // Only --epochs, --patience and --threads may change on resume; everything else that
        // shapes training must be what the state was trained with.
        let same = relu_nn::TrainConfig { epochs: config.epochs, patience: config.patience, threads: config.threads, ..saved };
        if same != config {
            bail!(
                "--resume {}: {CONFIG_FILE} does not describe the run in {} (the state was trained with batch {}, lr {}, momentum {}, \
                 schedule {}, weight decay {}, input dropout {}, seed {}); was {CONFIG_FILE} edited?",
                out.display(),
                path.display(),
                saved.batch_size,
                saved.sgd.lr,
                saved.sgd.momentum,
                saved.sgd.schedule,
                saved.sgd.weight_decay,
                saved.input_dropout,
                saved.seed
            );
        }
        if net.spec() != &net_spec {
            bail!(
                "--resume {}: {} holds a {} network but config.toml and the data call for {}",
                out.display(),
                path.display(),
                layer_string_vs(net.spec(), &net_spec),
                layer_string_vs(&net_spec, net.spec())
            );
        }
        say(&format!("resuming after {} complete epochs (batch {} of the next)", state.completed_epochs, state.next_batch));
        (net, Trainer::resume(config, state)?)
    } else if let Some(cfg) = settings.pretrain_config() {
        let all = data::load(&spec, text, None)?;
        let (net, info) = pretrain(&settings, &pretraining_inputs(&settings, &all, text)?, &net_spec, &cfg, threads, &say)?;
        pretraining = Some(info);
        (net, Trainer::new(config)?)
    } else if let Some(dir) = &settings.init {
        let (net, _) = checkpoint::load_model(&dir.join(MODEL_FILE)).with_context(|| format!("--init {}", dir.display()))?;
        if net.spec() != &net_spec {
            bail!(
                "--init {}: holds a {} network but the data and flags call for {}",
                dir.display(),
                layer_string_vs(net.spec(), &net_spec),
                layer_string_vs(&net_spec, net.spec())
            );
        }
        say(&format!("starting from the network in {}", dir.display()));
        (net, Trainer::new(config)?)
    } else {
        (Network::new(net_spec.clone(), &mut relu_core::seeded_rng(settings.seed))?, Trainer::new(config)?)
    };
    // First-layer weights at the start, for filter_updates.svg: kept from this process's
    // start, or on resume rebuilt from the seed when the run began from a random one.
    let initial_filters = match (&loaded.input.shape, resuming) {
        (None, _) => None,
        (Some(_), false) => Some(net.layers()[0].weight.clone()),
        (Some(_), true) if settings.pretrain.is_none() && settings.init.is_none() => {
            Some(Network::new(net.spec().clone(), &mut relu_core::seeded_rng(settings.seed))?.layers()[0].weight.clone())
        }
        (Some(_), true) => None,
    };
    let done = trainer.state().map_or(0, |s| s.completed_epochs);
    let mut progress = Progress::new(display, stop, args.stop_after_batches, settings.epochs, done, "");
    let mut observer = EpochCheckpoints {
        inner: &mut progress,
        out: &out,
        config: *trainer.config(),
        toml: Some(settings.to_toml()),
        // Under MPI only rank 0 saves the per-epoch state (every rank holds the same one).
        failed: !cluster.is_root(),
        kill_after: args.kill_after_batches,
    };
    let fitted = match cluster.group() {
        Some(mut group) => {
            let mut parallel = relu_nn::parallel::DataParallel { group: &mut *group, sync_every: settings.sync_every };
            trainer.fit_data_parallel(&mut net, &loaded.train, Some(&loaded.valid), &mut observer, &mut parallel)
        }
        None => trainer.fit(&mut net, &loaded.train, Some(&loaded.valid), &mut observer),
    };
    progress.finish();
    let report = fitted?;
    if !cluster.is_root() {
        // Every rank ends with the same network; rank 0 evaluates it and writes the files.
        return Ok(if report.stop == StopReason::Interrupted { EXIT_INTERRUPTED } else { 0 });
    }

    if report.stop == StopReason::Interrupted {
        std::fs::create_dir_all(&out).with_context(|| format!("--out {}: cannot create the folder", out.display()))?;
        write_atomic(&out.join(CONFIG_FILE), settings.to_toml().as_bytes())?;
        let state = trainer.state().context("the trainer has no state after an interrupted run")?;
        checkpoint::save_training(&out.join(STATE_FILE), &net, state, trainer.config())?;
        eprintln!(
            "interrupted after {} complete epochs: state saved to {}; continue with `relu train --resume {}`",
            state.completed_epochs,
            out.join(STATE_FILE).display(),
            out.display()
        );
        return Ok(EXIT_INTERRUPTED);
    }

    let t_eval = Instant::now();
    let pool = relu_core::thread_pool(threads)?;
    let (valid_eval, test_eval, stats) = pool.install(|| {
        let mut ws = relu_experiment::workspace(&net);
        let v = net.evaluate(&loaded.valid, EVAL_BATCH, &mut ws);
        let t = net.evaluate(&loaded.test, EVAL_BATCH, &mut ws);
        (v, t, analysis::layer_stats(&net, &loaded.test))
    });
    let wall_seconds = report.history.iter().map(|m| m.seconds).sum::<f64>() + t_eval.elapsed().as_secs_f64();
    let facts =
        RunFacts { sizes: [loaded.train.len(), loaded.valid.len(), loaded.test.len()], threads, wall_seconds, processes: cluster.size() };
    let mut rep = Report::new(&settings, net.spec(), &report, &valid_eval, &test_eval, facts);
    rep.pretraining = pretraining;

    // Everything is rendered in memory first; files are written only when all of it succeeded.
    let data_title = spec.title();
    let mut files: Vec<(&str, Vec<u8>)> = vec![
        ("learning_curves.svg", plots::learning_curves(&report.history, &data_title, report.best_epoch)?.into_bytes()),
        ("sparsity.svg", plots::sparsity_curves(&report.history, &data_title)?.into_bytes()),
        (
            "active_units.svg",
            plots::active_units(&stats.iter().map(|s| s.active_per_example.clone()).collect::<Vec<_>>(), &settings.hidden)?.into_bytes(),
        ),
    ];
    if settings.target_sparsity.is_some() {
        files.push(("l1.svg", plots::l1_curves(&report.history, &data_title)?.into_bytes()));
    }
    if let Some(shape) = &loaded.input.shape {
        let w = &net.layers()[0].weight;
        let shown = w.nrows().div_ceil(maxout_step(&net)).min(100);
        let units = net.spec().hidden[0].units;
        let title = format!("First-layer filters on {data_title} ({shown} of {units} units)");
        files.push(("filters.svg", plots::filter_grid(w, shape, 100, maxout_step(&net), &title)?.into_bytes()));
        // MNIST's first-layer weights move little from their start in a few epochs; W − W₀
        // shows the strokes training added.
        if let Some(w0) = &initial_filters {
            let title = format!("What training changed in the first-layer filters on {data_title} (trained − initial weights)");
            files.push(("filter_updates.svg", plots::filter_grid(&(w - w0), shape, 100, maxout_step(&net), &title)?.into_bytes()));
        }
    }
    std::fs::create_dir_all(&out).with_context(|| format!("--out {}: cannot create the folder", out.display()))?;
    // All final files are written in full before any is renamed into place, report.json (the
    // mark of a complete run) last: a full disk leaves the resumable state, not half a run.
    let model_path = out.join(MODEL_FILE);
    let mut set = checkpoint::FileSet::new();
    set.add(&out.join(CONFIG_FILE), settings.to_toml().as_bytes())?;
    set.add(&model_path, &checkpoint::model_bytes(&model_path, &net, &model_dir::metadata(&loaded.input, loaded.vectorizer.as_ref()))?)?;
    for (name, bytes) in &files {
        set.add(&out.join(name), bytes)?;
    }
    set.add(&out.join(REPORT_FILE), &json_bytes(&rep)?)?;
    set.commit()?;
    // The run is complete; its per-epoch or interrupted state is stale now.
    let _ = std::fs::remove_file(out.join(STATE_FILE));
    if display != Display::Quiet {
        let mut names = vec![MODEL_FILE, CONFIG_FILE, REPORT_FILE];
        names.extend(files.iter().map(|(n, _)| *n));
        if out.join(CV_FILE).is_file() {
            names.push(CV_FILE);
        }
        print_summary(&rep, &report, &test_eval, &out, &names);
    }
    Ok(0)
}

/// Relays progress and, after every epoch, saves the resumable state (`config.toml` and
/// `train_state.safetensors`, each written atomically), so that a run killed without warning
/// (SIGKILL, power loss) continues with `relu train --resume DIR` from its last complete epoch
/// and ends as the uninterrupted run would. A failed save is reported once and training goes on.
struct EpochCheckpoints<'a> {
    inner: &'a mut Progress,
    out: &'a Path,
    config: relu_nn::TrainConfig,
    /// `config.toml`'s text until it has been written (it does not change between epochs).
    toml: Option<String>,
    failed: bool,
    /// `--kill-after-batches`: batches left before exiting as if killed.
    kill_after: Option<usize>,
}

impl Observer for EpochCheckpoints<'_> {
    fn on_batch(&mut self, p: &relu_nn::BatchProgress) {
        self.inner.on_batch(p);
        if let Some(n) = &mut self.kill_after {
            *n = n.saturating_sub(1);
            if *n == 0 {
                std::process::exit(137);
            }
        }
    }

    fn on_epoch(&mut self, m: &relu_nn::EpochMetrics) {
        self.inner.on_epoch(m);
    }

    fn on_epoch_state(&mut self, net: &Network, state: &relu_nn::TrainState) {
        if self.failed {
            return;
        }
        let _writing = progress::writing();
        let saved = (|| -> Result<()> {
            if let Some(toml) = &self.toml {
                std::fs::create_dir_all(self.out).with_context(|| format!("--out {}: cannot create the folder", self.out.display()))?;
                write_atomic(&self.out.join(CONFIG_FILE), toml.as_bytes())?;
                self.toml = None;
            }
            Ok(checkpoint::save_training(&self.out.join(STATE_FILE), net, state, &self.config)?)
        })();
        if let Err(e) = saved {
            eprintln!("warning: the end-of-epoch checkpoint was not saved ({e:#}); training goes on, but a killed run cannot resume");
            self.failed = true;
        }
    }

    fn stop_requested(&mut self) -> bool {
        self.inner.stop_requested()
    }
}

/// `n` and `noun`, plural unless `n` is 1: "1 epoch", "20 epochs".
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// The optimiser recipe in one line, e.g. `recipe: SGD lr 0.01 (constant), batch 10, up to 20
/// epochs`.
fn recipe_line(s: &Settings) -> String {
    let mut line = format!("recipe: SGD lr {} ({}), batch {}", s.lr, s.lr_schedule, s.batch);
    if s.momentum > 0.0 {
        line += &format!(", momentum {}", s.momentum);
    }
    if s.weight_decay > 0.0 {
        line += &format!(", weight decay {}", s.weight_decay);
    }
    if s.input_dropout > 0.0 {
        line += &format!(", input dropout {}", s.input_dropout);
    }
    let epochs = count(s.epochs, "epoch");
    line += &match s.patience {
        Some(p) => format!(", up to {epochs} (patience {p})"),
        None => format!(", up to {epochs}"),
    };
    line
}

/// Settings, output folder and whether this is a resume.
pub(crate) fn resolve(args: &TrainArgs) -> Result<(Settings, PathBuf, bool)> {
    if let Some(dir) = &args.resume {
        let fixed: [(&str, bool); 30] = [
            ("--data", args.data.is_some()),
            ("--hidden", args.net.hidden.is_some()),
            ("--activation", args.net.activation.is_some()),
            ("--l1", args.net.l1.is_some()),
            ("--sign-flip", args.net.sign_flip),
            ("--lr", args.lr.is_some()),
            ("--momentum", args.recipe.momentum.is_some()),
            ("--lr-schedule", args.recipe.lr_schedule.is_some()),
            ("--weight-decay", args.recipe.weight_decay.is_some()),
            ("--input-dropout", args.recipe.input_dropout.is_some()),
            ("--dead-units", args.recipe.dead_units.is_some()),
            ("--average-from", args.recipe.average_from.is_some()),
            ("--target-sparsity", args.target_sparsity.is_some()),
            ("--sparsity-gain", args.sparsity_gain.is_some()),
            ("--sparsity-damping", args.sparsity_damping.is_some()),
            ("--batch", args.batch.is_some()),
            ("--seed", args.seed.is_some()),
            ("--limit", args.limit.is_some()),
            ("--vocab", args.text.vocab.is_some()),
            ("--bow", args.text.bow.is_some()),
            ("--target", args.text.target.is_some()),
            ("--folds", args.folds.is_some()),
            ("--pretrain", args.pretrain.is_some()),
            ("--pretrain-epochs", args.dae.pretrain_epochs.is_some()),
            ("--corruption", args.dae.corruption.is_some()),
            ("--tied-decoder", args.dae.tied_decoder),
            ("--sampling", args.dae.sampling.is_some()),
            ("--init", args.init.is_some()),
            ("--unlabeled", args.unlabeled.is_some()),
            ("--sync-every", args.sync_every.is_some()),
        ];
        if let Some((flag, _)) = fixed.iter().find(|(_, given)| *given) {
            bail!(
                "{flag} cannot be combined with --resume: the run's {CONFIG_FILE} fixes it (only --epochs, --patience, --threads and --quiet may change)"
            );
        }
        let state = dir.join(STATE_FILE);
        if !state.is_file() {
            bail!("--resume {}: no {STATE_FILE} there; expected the --out folder of an interrupted `relu train`", dir.display());
        }
        let mut s = Settings::from_file(&dir.join(CONFIG_FILE)).with_context(|| format!("--resume {}", dir.display()))?;
        s.epochs = args.epochs.unwrap_or(s.epochs);
        s.patience = args.patience.or(s.patience);
        s.threads = args.threads.unwrap_or(s.threads);
        s.check()?;
        return Ok((s, dir.clone(), true));
    }
    let (mut s, config_keys) = match &args.config {
        Some(path) => Settings::from_file_with_keys(path).with_context(|| format!("--config {}", path.display()))?,
        None => (Settings::default(), Vec::new()),
    };
    // Each given flag replaces the setting of the same name (`args.GROUP.field` → `s.field`).
    macro_rules! set {
        ($group:expr => $($field:ident),*) => { $( if let Some(v) = &$group.$field { s.$field = v.clone(); } )* };
    }
    set!(args => data, lr, batch, epochs, seed, threads, sync_every);
    set!(args.recipe => momentum, lr_schedule, weight_decay, input_dropout, dead_units);
    s.average_from = args.recipe.average_from.map_or(s.average_from, |a| a.0);
    s.target_sparsity = args.target_sparsity.or(s.target_sparsity);
    if let (Some(g), Some(t)) = (args.sparsity_gain, s.target_sparsity.as_mut()) {
        t.gain = g;
    }
    if let (Some(d), Some(t)) = (args.sparsity_damping, s.target_sparsity.as_mut()) {
        t.damping = d;
    }
    set!(args.net => activation, l1);
    set!(args.text => vocab, bow, target);
    set!(args.dae => pretrain_epochs, corruption);
    s.pretrain = args.pretrain.or(s.pretrain);
    s.sampling = args.dae.sampling.or(s.sampling);
    s.unlabeled = args.unlabeled.clone().or(s.unlabeled);
    s.init = args.init.clone().or(s.init);
    s.tied_decoder |= args.dae.tied_decoder;
    if let Some(h) = &args.net.hidden {
        s.hidden.clone_from(&h.0);
    }
    s.sign_flip |= args.net.sign_flip;
    s.patience = args.patience.or(s.patience);
    s.limit = args.limit.or(s.limit);
    s.folds = args.folds.or(s.folds);
    let flagged = |key: &str| match key {
        "lr" => args.lr.is_some(),
        "lr_schedule" => args.recipe.lr_schedule.is_some(),
        "input_dropout" => args.recipe.input_dropout.is_some(),
        _ => false,
    };
    s.apply_text_recipe(|key| flagged(key) || config_keys.iter().any(|k| k == key));
    s.check()?;
    let out = args.out.clone().unwrap_or_else(|| timestamped_out("train"));
    Ok((s, out, false))
}

/// What pre-training sees: every training input of `all` (--data loaded before --limit), with
/// [`Settings::unlabeled`]'s added — review text through `all`'s vocabulary, beside its own
/// documents — or, for an image spec, that spec's training inputs instead.
///
/// # Errors
/// Unreadable or mismatched --unlabeled data, named with the flag.
pub(crate) fn pretraining_inputs(settings: &Settings, all: &data::Loaded, text: TextOptions) -> Result<relu_nn::Features> {
    // `unlabeled_spec` has checked the kind: reviews:FILE for review data, images otherwise.
    match settings.unlabeled_spec()? {
        None => Ok(all.train.inputs.clone()),
        Some(DataSpec::Reviews(file)) => {
            let vectorizer = all.vectorizer.as_ref().context("--unlabeled: review text needs review --data")?;
            data::with_unlabeled(&all.train.inputs, &data::read_unlabeled(&file)?, vectorizer)
        }
        Some(spec) => {
            let u = settings.unlabeled.as_deref().unwrap_or_default();
            let other = data::load(&spec, text, None).with_context(|| format!("--unlabeled {u}"))?;
            if other.dim() != all.dim() {
                bail!("--unlabeled {u}: {} input features, but --data {} has {}", other.dim(), settings.data, all.dim());
            }
            Ok(other.train.inputs)
        }
    }
}

/// Greedy denoising auto-encoder pre-training on `unlabeled` (for `relu train --pretrain`, every
/// training input, before `--limit`), then the network for fine-tuning: pre-trained hidden
/// layers and a fresh output layer.
pub(crate) fn pretrain(
    settings: &Settings,
    unlabeled: &relu_nn::Features,
    net_spec: &NetworkSpec,
    cfg: &relu_pretrain::PretrainConfig,
    threads: usize,
    say: &(dyn Fn(&str) + Sync),
) -> Result<(Network, PretrainingInfo)> {
    say(&format!(
        "pre-training {} as denoising auto-encoders on {} unlabeled examples ({} each, corruption {}, {} decoder)",
        count(net_spec.hidden.len(), "hidden layer"),
        unlabeled.len(),
        count(cfg.epochs, "epoch"),
        cfg.corruption,
        if cfg.tied { "tied" } else { "untied" },
    ));
    let pool = relu_core::thread_pool(threads)?;
    let pre = pool
        .install(|| {
            relu_pretrain::pretrain(net_spec, unlabeled, cfg, &mut |e| {
                say(&format!(
                    "pre-train layer {} epoch {}/{}  reconstruction error {:.4}  code zeros {:.1} %  dead units {}",
                    e.layer,
                    e.epoch,
                    cfg.epochs,
                    e.reconstruction_error,
                    100.0 * e.sparsity,
                    e.dead_units
                ))
            })
        })
        .context("--pretrain")?;
    let net = relu_pretrain::initialise(net_spec.clone(), &pre, &mut relu_core::seeded_rng(settings.seed)).context("--pretrain")?;
    let info = PretrainingInfo {
        method: settings.pretrain.map(|p| p.to_string()).unwrap_or_default(),
        reconstruction: pre.reconstruction.iter().map(ToString::to_string).collect(),
        corruption: cfg.corruption.to_string(),
        epochs: cfg.epochs,
        unlabeled: unlabeled.len(),
        initial_error: pre.initial_error.clone(),
        history: pre.history.clone(),
    };
    Ok((net, info))
}

/// `runs/PREFIX-YYYYMMDD-HHMMSS` in UTC, with a suffix if that folder exists.
pub(crate) fn timestamped_out(prefix: &str) -> PathBuf {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let base = format!("runs/{prefix}-{y:04}{m:02}{d:02}-{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    let mut out = PathBuf::from(&base);
    let mut k = 2;
    while out.exists() {
        out = PathBuf::from(format!("{base}-{k}"));
        k += 1;
    }
    out
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn layer_string(spec: &NetworkSpec) -> String {
    let mut v = vec![spec.inputs.to_string()];
    v.extend(spec.hidden.iter().map(|l| l.units.to_string()));
    v.push(spec.output.units().to_string());
    v.join("-")
}

/// `784-1000-1000-10`, followed by the first hidden layer's activation, L1 and sign flip when
/// `other` has the same sizes (so a mismatch message always shows what differs).
fn layer_string_vs(spec: &NetworkSpec, other: &NetworkSpec) -> String {
    let mut text = layer_string(spec);
    if text == layer_string(other) {
        let layers: Vec<String> = spec
            .hidden
            .iter()
            .map(|l| {
                let kind = match l.kind {
                    relu_nn::HiddenKind::Affine { activation } => activation.to_string(),
                    relu_nn::HiddenKind::Maxout { pieces } => format!("maxout:{pieces}"),
                };
                format!("{kind}, L1 {}{}", l.l1, if l.sign_flip { ", sign flip" } else { "" })
            })
            .collect();
        text += &format!(" ({})", layers.join("; "));
    }
    text
}

fn json_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut v = serde_json::to_vec_pretty(value)?;
    v.push(b'\n');
    Ok(v)
}

/// Rows of the first layer's weight matrix that belong to different units (maxout layers have
/// one row per piece; the grid shows each unit's first piece).
fn maxout_step(net: &Network) -> usize {
    net.spec().hidden.first().map_or(1, |l| l.kind.pieces())
}

/// Trains one network per fold (no validation set, every epoch) and scores it on the fold's
/// held-out documents ([`relu_experiment::cv`]). `None` when interrupted.
fn cross_validate(
    settings: &Settings,
    spec: &DataSpec,
    text: TextOptions,
    k: usize,
    display: Display,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
    stop_after: Option<usize>,
) -> Result<Option<CvReport>> {
    let (folds, output) = data::text_folds(spec, text, k, settings.limit)?;
    let threads = resolve_threads(settings.threads);
    // Pre-training, like the vocabulary, is refitted per fold: on the fold's training documents
    // and the --unlabeled text (never on the fold's test documents).
    // Cross-validation is for review data, so `unlabeled_spec` allows only reviews:FILE here.
    let extra = match settings.unlabeled_spec()? {
        Some(DataSpec::Reviews(file)) if settings.pretrain.is_some() => data::read_unlabeled(&file)?,
        _ => Vec::new(),
    };
    let start = |i: usize, train: &Dataset| -> Result<Network> {
        let net_spec = NetworkSpec { inputs: train.inputs.dim(), hidden: settings.layers(), output };
        match settings.pretrain_config() {
            Some(cfg) => {
                let say = |line: &str| {
                    if display != Display::Quiet {
                        println!("fold {}/{k} {line}", i + 1);
                    }
                };
                Ok(pretrain(settings, &folds[i].pretraining_inputs(&extra)?, &net_spec, &cfg, threads, &say)?.0)
            }
            None => Ok(Network::new(net_spec, &mut relu_core::seeded_rng(settings.seed))?),
        }
    };
    let config = relu_nn::TrainConfig { threads, ..settings.train_config() };
    let mut monitor = progress::Runs { display, stop: stop.clone(), stop_after, name: "" };
    relu_experiment::cv::cross_validate(folds.iter().map(|f| (&f.train, &f.test)), output, &config, start, &mut monitor)
}

fn percent(x: f64) -> String {
    format!("{:.2} %", 100.0 * x)
}

fn print_summary(rep: &Report, train: &TrainReport, test: &Evaluation, out: &Path, names: &[&str]) {
    println!();
    let mut line = String::from("test: ");
    if let Some(e) = test.error {
        line += &format!("error {}  ", percent(e));
    }
    if let Some(r) = test.rmse {
        line += &format!("rmse {r:.4}  ");
    }
    line += &format!("loss {:.4} on {} examples", test.loss, test.examples);
    println!("{line}");
    println!("kept epoch {} of {} ({})", train.best_epoch.map_or("-".into(), |e| e.to_string()), train.history.len(), rep.training.stop);
    let sparsity: Vec<String> = test.sparsity.iter().map(|&s| format!("{:.1} %", 100.0 * s)).collect();
    println!("sparsity per hidden layer (test): {}", sparsity.join(", "));
    let dead: Vec<String> = test.dead_units.iter().zip(&rep.model.layers[1..]).map(|(d, u)| format!("{d} of {u}")).collect();
    println!("dead units per hidden layer (test): {}", dead.join(", "));
    println!(
        "speed: {:.0} examples/s on {} threads; {:.1} s training and evaluation",
        train.examples_per_second, rep.training.threads, rep.training.wall_seconds
    );
    println!("files in {}: {}", out.display(), names.join(", "));
}

/// The dataset a network would be evaluated on, checked against the network.
///
/// # Errors
/// If the data does not fit the network (input dimension or classes).
pub fn check_fits(net: &Network, data: &Dataset, flag_value: &str, model: &Path) -> Result<()> {
    relu_nn::check_dataset(net, data, "test").with_context(|| {
        format!("--data {flag_value} does not fit the model in {} (a {} network)", model.display(), layer_string(net.spec()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
