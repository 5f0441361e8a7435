//! Learning-rate search, jobs and cross-validation on small seeded problems.

use nalgebra::DMatrix;
use relu_core::Activation;
use relu_experiment::cv::{self, CvReport, FoldResult};
use relu_experiment::search::{self, Job, LrSearch, Start};
use relu_experiment::{ExperimentError, Monitor, Run};
use relu_nn::{Dataset, Features, Network, NetworkSpec, Observer, OutputKind, Silent, Targets, TrainConfig, Trainer};

/// Two Gaussian-ish blobs in 4 dimensions, deterministic.
fn blobs(n: usize, shift: u64) -> Dataset {
    let mut x = DMatrix::zeros(4, n);
    let mut labels = Vec::with_capacity(n);
    for j in 0..n {
        let class = (j as u64 + shift) % 2;
        for i in 0..4 {
            let h = ((j as u64 * 7919 + i as u64 * 104_729 + shift * 31) % 1000) as f32 / 1000.0 - 0.5;
            x[(i, j)] = h + if class == 1 { 0.8 } else { -0.8 } * if i % 2 == 0 { 1.0 } else { -1.0 };
        }
        labels.push(class as u32);
    }
    Dataset::new(Features::Dense(x), Targets::Classes(labels)).unwrap()
}

fn spec() -> NetworkSpec {
    NetworkSpec::mlp(4, &[8], Activation::Rectifier, 0.0, OutputKind::Softmax { classes: 2 })
}

fn net() -> Network {
    Network::new(spec(), &mut relu_core::seeded_rng(5)).unwrap()
}

fn config(epochs: usize) -> TrainConfig {
    TrainConfig { epochs, batch_size: 4, threads: 1, ..Default::default() }
}

/// Records what the experiment asked for.
#[derive(Default)]
struct Log {
    runs: Vec<(Run, usize)>,
    finished: usize,
    trials: Vec<(f32, Option<f64>)>,
    /// Ask to stop after this many batches of the run with this index.
    stop_in_run: Option<usize>,
}

struct Stopper(bool);

impl Observer for Stopper {
    fn stop_requested(&mut self) -> bool {
        self.0
    }
}

impl Monitor for Log {
    type Observer = Stopper;

    fn start(&mut self, run: Run, epochs: usize) -> Stopper {
        self.runs.push((run, epochs));
        Stopper(self.stop_in_run == Some(self.runs.len() - 1))
    }

    fn finish(&mut self, _: Stopper) {
        self.finished += 1;
    }

    fn trial(&mut self, lr: f32, valid: Option<f64>) {
        self.trials.push((lr, valid));
    }
}

/// The reference: one plain training run from the same start.
fn trained(lr: f32, epochs: usize, valid: Option<&Dataset>, patience: Option<usize>) -> (Network, relu_nn::TrainReport) {
    let mut n = net();
    let cfg = TrainConfig { sgd: relu_nn::Sgd { lr, ..Default::default() }, patience, ..config(epochs) };
    let rep = Trainer::new(cfg).unwrap().fit(&mut n, &blobs(40, 0), valid, &mut Silent).unwrap();
    (n, rep)
}

#[test]
fn short_trials_choose_the_best_rate_then_train_it_in_full() {
    let (train, valid) = (blobs(40, 0), blobs(20, 1));
    let grid = LrSearch { grid: vec![1e-5, 0.05], select_epochs: 1 };
    let mut log = Log::default();
    let f = search::fit(&net(), &config(6), &grid, &train, Some(&valid), None, &mut log).unwrap().unwrap();
    // A rate of 1e-5 barely moves the network in one epoch; 0.05 separates the blobs.
    assert_eq!(f.lr, 0.05);
    assert_eq!(f.trials.iter().map(|t| t.lr).collect::<Vec<_>>(), grid.grid);
    assert!(f.trials[1].valid.unwrap() < f.trials[0].valid.unwrap());
    assert_eq!(log.trials.len(), 2);
    assert_eq!(
        log.runs,
        vec![(Run::Trial { lr: 1e-5 }, 1), (Run::Trial { lr: 0.05 }, 1), (Run::Final { lr: 0.05 }, 6)],
        "two one-epoch trials, then the full run"
    );
    assert_eq!(log.finished, 3);
    // The final run is an ordinary run from the same start: same parameters.
    let (reference, rep) = trained(0.05, 6, Some(&valid), None);
    assert_eq!(f.report.history.len(), rep.history.len());
    assert_eq!(f.net, reference);
}

#[test]
fn full_trials_keep_the_best_trial_without_training_again() {
    let (train, valid) = (blobs(40, 0), blobs(20, 1));
    let grid = LrSearch { grid: vec![0.05, 1e-5], select_epochs: 5 };
    let mut log = Log::default();
    let f = search::fit(&net(), &config(5), &grid, &train, Some(&valid), None, &mut log).unwrap().unwrap();
    assert_eq!(log.runs.len(), 2, "no third run: {:?}", log.runs);
    assert_eq!(f.lr, 0.05);
    let (reference, _) = trained(0.05, 5, Some(&valid), None);
    assert_eq!(f.net, reference);
}

#[test]
fn a_single_rate_trains_without_trials_or_validation() {
    let train = blobs(40, 0);
    let mut log = Log::default();
    let f = search::fit(&net(), &config(3), &LrSearch::single(0.02), &train, None, None, &mut log).unwrap().unwrap();
    assert!(f.trials.is_empty() && log.trials.is_empty());
    assert_eq!(log.runs, vec![(Run::Final { lr: 0.02 }, 3)]);
    assert_eq!(f.net, trained(0.02, 3, None, None).0);
}

#[test]
fn diverging_rates_are_skipped_and_all_diverging_is_an_error() {
    let (train, valid) = (blobs(40, 0), blobs(20, 1));
    let huge = 1e30_f32;
    let grid = LrSearch { grid: vec![huge, 0.05], select_epochs: 2 };
    let f = search::fit(&net(), &config(4), &grid, &train, Some(&valid), None, &mut Silent).unwrap().unwrap();
    assert_eq!(f.trials[0].valid, None, "diverged");
    assert_eq!(f.lr, 0.05);
    let all = LrSearch { grid: vec![huge, 2.0 * huge], select_epochs: 2 };
    match search::fit(&net(), &config(4), &all, &train, Some(&valid), None, &mut Silent) {
        Err(ExperimentError::AllDiverged { grid }) => assert_eq!(grid, all.grid),
        other => panic!("expected AllDiverged, got {other:?}"),
    }
}

#[test]
fn bad_searches_are_refused_naming_the_setting() {
    let train = blobs(8, 0);
    for (bad, field) in [
        (LrSearch { grid: vec![], select_epochs: 1 }, "lr_grid"),
        (LrSearch { grid: vec![0.1, f32::NAN], select_epochs: 1 }, "lr_grid"),
        (LrSearch { grid: vec![-0.1], select_epochs: 1 }, "lr_grid"),
        (LrSearch { grid: vec![0.1], select_epochs: 0 }, "select_epochs"),
    ] {
        let e = search::fit(&net(), &config(1), &bad, &train, None, None, &mut Silent).unwrap_err();
        assert!(matches!(e, ExperimentError::InvalidParameter { name, .. } if name == field), "{bad:?}: {e}");
    }
    let grid = LrSearch { grid: vec![0.1, 0.01], select_epochs: 1 };
    assert!(matches!(search::fit(&net(), &config(1), &grid, &train, None, None, &mut Silent), Err(ExperimentError::NeedsValidation)));
    let patience = TrainConfig { patience: Some(2), ..config(3) };
    let one = LrSearch::single(0.1);
    assert!(matches!(search::fit(&net(), &patience, &one, &train, None, None, &mut Silent), Err(ExperimentError::NeedsValidation)));
}

#[test]
fn an_interrupted_trial_ends_the_search() {
    let (train, valid) = (blobs(40, 0), blobs(20, 1));
    let grid = LrSearch { grid: vec![0.05, 0.01], select_epochs: 1 };
    let mut log = Log { stop_in_run: Some(1), ..Default::default() };
    assert!(search::fit(&net(), &config(3), &grid, &train, Some(&valid), None, &mut log).unwrap().is_none());
    assert_eq!(log.runs.len(), 2);
    assert_eq!(log.finished, 2, "every observer handed back");
}

#[test]
fn a_job_is_its_seeds_and_evaluates_on_test() {
    let (train, valid, test) = (blobs(40, 0), blobs(20, 1), blobs(30, 2));
    let job = Job {
        name: "blobs".into(),
        start: Start::Random { spec: spec(), seed: 5 },
        config: config(4),
        search: LrSearch { grid: vec![0.05, 0.02], select_epochs: 1 },
    };
    let a = search::run_job(&job, &train, Some(&valid), &test, None, &mut Silent).unwrap().unwrap();
    let b = search::run_job(&job, &train, Some(&valid), &test, None, &mut Silent).unwrap().unwrap();
    assert_eq!(a.fitted.net, b.fitted.net, "same seeds, same network");
    assert_eq!(a.test, b.test);
    assert_eq!(a.test, relu_experiment::evaluate(&a.fitted.net, &test, 1).unwrap());
    assert!(a.valid.is_some());
    assert!(a.test.error.unwrap() < 0.2, "{:?}", a.test);
    // A given starting network is used as is.
    let from = Job { start: Start::From(net()), ..job.clone() };
    let c = search::run_job(&from, &train, Some(&valid), &test, None, &mut Silent).unwrap().unwrap();
    assert_eq!(c.fitted.net, a.fitted.net, "seed 5 either way");
    let other = Job { start: Start::Random { spec: spec(), seed: 6 }, ..job };
    let d = search::run_job(&other, &train, Some(&valid), &test, None, &mut Silent).unwrap().unwrap();
    assert_ne!(d.fitted.net, a.fitted.net);
}

#[test]
fn cross_validation_trains_each_fold_from_its_own_start() {
    let folds = [(blobs(40, 0), blobs(10, 1)), (blobs(30, 3), blobs(12, 4)), (blobs(20, 5), blobs(14, 6))];
    let mut seen = Vec::new();
    let mut log = Log::default();
    let rep = cv::cross_validate::<ExperimentError>(
        folds.iter().map(|(a, b)| (a, b)),
        OutputKind::Softmax { classes: 2 },
        &config(3),
        |i, train| {
            seen.push((i, train.len()));
            Ok(Network::new(spec(), &mut relu_core::seeded_rng(i as u64))?)
        },
        &mut log,
    )
    .unwrap()
    .unwrap();
    assert_eq!(seen, vec![(0, 40), (1, 30), (2, 20)]);
    assert_eq!(log.runs, (0..3).map(|i| (Run::Fold { index: i, of: 3 }, 3)).collect::<Vec<_>>());
    assert_eq!(rep.folds, 3);
    assert_eq!(rep.metric, "error");
    // Each fold equals a plain run from its start, scored on its own held-out part.
    for (i, ((train, test), r)) in folds.iter().zip(&rep.per_fold).enumerate() {
        let mut n = Network::new(spec(), &mut relu_core::seeded_rng(i as u64)).unwrap();
        Trainer::new(config(3)).unwrap().fit(&mut n, train, None, &mut Silent).unwrap();
        let e = relu_experiment::evaluate(&n, test, 1).unwrap();
        assert_eq!((r.fold, r.train, r.test, r.error, r.loss), (i + 1, train.len(), test.len(), e.error, e.loss));
        assert_eq!(r.sparsity, e.sparsity);
    }
    let errors: Vec<f64> = rep.per_fold.iter().map(|f| f.error.unwrap()).collect();
    assert_eq!((rep.mean, rep.std), relu_experiment::stats::mean_std(&errors));
    // The start's error is the caller's.
    let failed = cv::cross_validate::<Caller>(
        folds.iter().map(|(a, b)| (a, b)),
        OutputKind::Softmax { classes: 2 },
        &config(1),
        |i, _| Err(Caller(format!("no start for {i}"))),
        &mut Silent,
    );
    assert_eq!(failed.unwrap_err(), Caller("no start for 0".into()));
}

/// A caller's own error type.
#[derive(Debug, PartialEq)]
struct Caller(String);

impl From<ExperimentError> for Caller {
    fn from(e: ExperimentError) -> Caller {
        Caller(e.to_string())
    }
}

#[test]
fn ratings_are_summarised_by_rmse() {
    let fold = |fold, rmse| FoldResult { fold, train: 10, test: 5, error: None, rmse: Some(rmse), loss: 1.0, sparsity: vec![] };
    let rep = CvReport::new(OutputKind::Ratings { levels: 5 }, vec![fold(1, 1.0), fold(2, 0.5)]);
    assert_eq!((rep.metric, rep.mean, rep.std, rep.folds), ("rmse", 0.75, 0.25, 2));
}
