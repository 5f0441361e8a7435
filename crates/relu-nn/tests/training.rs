//! Training behaviour: learning a seeded problem, sparse vs dense paths, determinism across runs
//! and thread counts, exact resumption, early stopping, divergence detection, real MNIST.

mod common;

use common::{StopAfter, blobs, config};

use nalgebra::DMatrix;
use relu_core::testing::rng;
use relu_core::{Activation, DispatchMode};
use relu_nn::checkpoint::{load_training, save_training};
use relu_nn::{
    BatchProgress, Dataset, EpochMetrics, Features, LrSchedule, Network, NetworkSpec, NnError, Observer, OutputKind, Sgd, Silent,
    StopReason, Targets, TrainConfig, Trainer, Workspace,
};

fn spec() -> NetworkSpec {
    NetworkSpec::mlp(30, &[40, 40], Activation::Rectifier, 1e-3, OutputKind::Softmax { classes: 4 })
}

fn train(cfg: TrainConfig, mode: DispatchMode) -> (Network, relu_nn::TrainReport) {
    let (tr, va) = (blobs(600, 1), blobs(200, 2));
    let mut net = Network::new(spec(), &mut rng(5)).unwrap();
    let mut t = Trainer::new(TrainConfig { dispatch: mode, ..cfg }).unwrap();
    let report = t.fit(&mut net, &tr, Some(&va), &mut Silent).unwrap();
    (net, report)
}

#[test]
fn learns_a_seeded_problem_and_reports_metrics() {
    let (net, report) = train(config(8), DispatchMode::Auto);
    let test = blobs(400, 3);
    let e = net.evaluate(&test, 100, &mut Workspace::new(&net, DispatchMode::Auto, Default::default()));
    assert!(e.error.unwrap() < 0.05, "test error {:?}", e.error);
    assert_eq!(report.history.len(), 8);
    let last = report.history.last().unwrap();
    assert!(last.train_loss < report.history[0].train_loss, "loss did not decrease: {:?}", report.history);
    assert!(last.penalty > 0.0);
    assert_eq!(last.sparsity.len(), 2);
    assert!(last.sparsity.iter().all(|&s| s > 0.2 && s < 1.0), "{:?}", last.sparsity);
    assert!(last.valid.as_ref().unwrap().dead_units.len() == 2);
    assert!(report.best_epoch.is_some());
    assert!(report.examples_per_second > 0.0);
}

/// The sparse kernels (automatic and forced) and the forced-dense path train to the same weights.
#[test]
fn sparse_and_dense_paths_train_the_same_weights() {
    let (dense, _) = train(config(3), DispatchMode::ForceDense);
    for mode in [DispatchMode::Auto, DispatchMode::ForceSparse] {
        let (sparse, _) = train(config(3), mode);
        for (a, b) in dense.layers().iter().zip(sparse.layers()) {
            let diff = a.weight.iter().zip(b.weight.iter()).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
            assert!(diff < 1e-4, "{mode:?}: weights differ by {diff}");
            let diff = (&a.bias - &b.bias).amax();
            assert!(diff < 1e-4, "{mode:?}: biases differ by {diff}");
        }
    }
}

/// Momentum and weight decay stay sparse: the lazily applied idle steps of silent columns give the
/// weights of the dense update, where every weight moves every step.
#[test]
fn lazy_momentum_and_decay_train_the_dense_weights() {
    for sgd in [
        Sgd { lr: 0.05, momentum: 0.9, ..Sgd::default() },
        Sgd { lr: 0.05, weight_decay: 0.01, ..Sgd::default() },
        Sgd { lr: 0.05, momentum: 0.5, weight_decay: 0.01, schedule: LrSchedule::Inverse { decay: 0.5 } },
    ] {
        let cfg = TrainConfig { sgd, ..config(3) };
        let (dense, _) = train(cfg, DispatchMode::ForceDense);
        let (sparse, report) = train(cfg, DispatchMode::ForceSparse);
        assert!(report.history.iter().any(|h| h.sparsity.iter().any(|&s| s > 0.3)), "the run must have silent units to be lazy about");
        for (a, b) in dense.layers().iter().zip(sparse.layers()) {
            let diff = a.weight.iter().zip(b.weight.iter()).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
            assert!(diff < 1e-4, "{sgd:?}: weights differ by {diff}");
            assert!((&a.bias - &b.bias).amax() < 1e-4, "{sgd:?}: biases differ");
        }
    }
}

#[test]
fn input_dropout_changes_training_reproducibly() {
    let noisy = TrainConfig { input_dropout: 0.5, ..config(2) };
    let (a, _) = train(noisy, DispatchMode::Auto);
    let (b, _) = train(noisy, DispatchMode::Auto);
    let (clean, _) = train(config(2), DispatchMode::Auto);
    assert_eq!(a, b, "the same seed must draw the same masks");
    assert_ne!(a, clean, "input dropout 0.5 left the training unchanged");
}

#[test]
fn fixed_seed_gives_identical_results_at_any_thread_count() {
    let (a, ra) = train(config(2), DispatchMode::Auto);
    let (b, rb) = train(config(2), DispatchMode::Auto);
    let (c, _) = train(TrainConfig { threads: 2, ..config(2) }, DispatchMode::Auto);
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(ra.history.iter().map(|h| h.train_loss).collect::<Vec<_>>(), rb.history.iter().map(|h| h.train_loss).collect::<Vec<_>>());
}

#[test]
fn interrupted_and_resumed_run_equals_an_uninterrupted_one() {
    let momentum = Sgd { lr: 0.05, momentum: 0.5, ..Sgd::default() };
    for (sgd, input_dropout) in [(Sgd { lr: 0.05, ..Sgd::default() }, 0.0), (momentum, 0.0), (Sgd { lr: 0.05, ..Sgd::default() }, 0.3)] {
        let cfg = TrainConfig { sgd, input_dropout, ..config(3) };
        let (tr, va) = (blobs(600, 1), blobs(200, 2));
        let mut straight = Network::new(spec(), &mut rng(5)).unwrap();
        Trainer::new(cfg).unwrap().fit(&mut straight, &tr, Some(&va), &mut Silent).unwrap();

        // Stop in the middle of epoch 2 (60 batches per epoch), save, load, resume.
        let mut net = Network::new(spec(), &mut rng(5)).unwrap();
        let mut t = Trainer::new(cfg).unwrap();
        let r = t.fit(&mut net, &tr, Some(&va), &mut StopAfter(85, 0)).unwrap();
        assert_eq!(r.stop, StopReason::Interrupted);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train_state.safetensors");
        save_training(&path, &net, t.state().unwrap(), t.config()).unwrap();
        let (mut net2, state, cfg2) = load_training(&path).unwrap();
        assert_eq!(cfg2, cfg);
        assert_eq!(net2, net);
        let r2 = Trainer::resume(cfg2, state).unwrap().fit(&mut net2, &tr, Some(&va), &mut Silent).unwrap();
        assert_eq!(r2.stop, StopReason::Completed);
        assert_eq!(r2.history.len(), 3);
        assert_eq!(net2, straight, "resumed run differs ({sgd:?}, input dropout {input_dropout})");
    }
}

#[test]
fn early_stopping_keeps_the_best_parameters() {
    // A learning rate this high makes validation error bounce; patience 1 stops at the first
    // epoch that does not improve, and the returned network is the best epoch's.
    let cfg = TrainConfig { patience: Some(1), sgd: Sgd { lr: 0.4, ..Sgd::default() }, ..config(30) };
    let (net, report) = train(cfg, DispatchMode::Auto);
    assert_eq!(report.stop, StopReason::EarlyStopped);
    assert!(report.history.len() < 30);
    let best = report.best_epoch.unwrap();
    let best_err = report.history[best - 1].valid.as_ref().unwrap().error.unwrap();
    assert!(report.history.iter().all(|h| h.valid.as_ref().unwrap().error.unwrap() >= best_err));
    let va = blobs(200, 2);
    let e = net.evaluate(&va, 50, &mut Workspace::new(&net, DispatchMode::Auto, Default::default()));
    assert!((e.error.unwrap() - best_err).abs() < 1e-12, "kept network has error {:?}, best was {best_err}", e.error);
}

#[test]
fn a_time_limit_stops_after_the_epoch_that_reaches_it_and_keeps_the_best_parameters() {
    // A limit of 0 s is reached by the end of the first epoch, whatever the machine's speed.
    let (net, report) = train(TrainConfig { time_limit: Some(0.0), ..config(5) }, DispatchMode::Auto);
    assert_eq!(report.stop, StopReason::TimeLimit);
    assert_eq!(report.history.len(), 1);
    assert_eq!(report.best_epoch, Some(1));
    let (one_epoch, _) = train(config(1), DispatchMode::Auto);
    assert_eq!(net, one_epoch);
    // A generous limit changes nothing.
    let (_, all) = train(TrainConfig { time_limit: Some(1e9), ..config(3) }, DispatchMode::Auto);
    assert_eq!((all.stop, all.history.len()), (StopReason::Completed, 3));
    assert!(Trainer::new(TrainConfig { time_limit: Some(f64::NAN), ..config(3) }).is_err());
}

#[test]
fn divergence_is_reported_with_epoch_batch_and_layer() {
    let cfg = TrainConfig { sgd: Sgd { lr: 1e30, ..Sgd::default() }, ..config(2) };
    let (tr, va) = (blobs(600, 1), blobs(200, 2));
    let mut net = Network::new(spec(), &mut rng(5)).unwrap();
    let err = Trainer::new(cfg).unwrap().fit(&mut net, &tr, Some(&va), &mut Silent).unwrap_err();
    match &err {
        NnError::NonFinite { epoch, .. } => assert_eq!(*epoch, 1),
        e => panic!("unexpected error {e}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("epoch 1") && msg.contains("batch") && msg.contains("layer"), "{msg}");
}

#[test]
fn bad_configuration_and_data_are_errors() {
    for cfg in [
        TrainConfig { epochs: 0, ..config(1) },
        TrainConfig { batch_size: 0, ..config(1) },
        TrainConfig { sgd: Sgd { lr: f32::NAN, ..Sgd::default() }, ..config(1) },
        TrainConfig { sgd: Sgd { lr: -1.0, ..Sgd::default() }, ..config(1) },
        TrainConfig { sgd: Sgd { momentum: 1.0, ..Sgd::default() }, ..config(1) },
        TrainConfig { patience: Some(0), ..config(1) },
        TrainConfig { input_dropout: 1.0, ..config(1) },
        TrainConfig { input_dropout: -0.1, ..config(1) },
        TrainConfig { input_dropout: f32::NAN, ..config(1) },
    ] {
        assert!(matches!(Trainer::new(cfg), Err(NnError::InvalidParameter { .. })), "{cfg:?}");
    }
    let mut net = Network::new(spec(), &mut rng(5)).unwrap();
    let wrong_dim = Dataset::new(Features::Dense(DMatrix::zeros(29, 3)), Targets::Classes(vec![0, 1, 2])).unwrap();
    let err = Trainer::new(config(1)).unwrap().fit(&mut net, &wrong_dim, None, &mut Silent).unwrap_err();
    assert!(err.to_string().contains("29 input features"), "{err}");
    let bad_label = Dataset::new(Features::Dense(DMatrix::zeros(30, 2)), Targets::Classes(vec![0, 4])).unwrap();
    let err = Trainer::new(config(1)).unwrap().fit(&mut net, &bad_label, None, &mut Silent).unwrap_err();
    assert!(err.to_string().contains("class 4"), "{err}");
    assert!(Dataset::new(Features::Dense(DMatrix::from_element(2, 1, f32::NAN)), Targets::Classes(vec![0])).is_err());
    assert!(Dataset::new(Features::Dense(DMatrix::zeros(2, 2)), Targets::Classes(vec![0])).is_err());
}

/// Observers see every epoch.
#[test]
fn observer_sees_epochs_and_batches() {
    struct Count(usize, usize);
    impl Observer for Count {
        fn on_batch(&mut self, p: &BatchProgress) {
            assert!(p.batch < p.batches && p.examples_per_second > 0.0);
            self.0 += 1;
        }
        fn on_epoch(&mut self, m: &EpochMetrics) {
            assert!(m.valid.is_some());
            self.1 += 1;
        }
    }
    let (tr, va) = (blobs(95, 1), blobs(20, 2));
    let mut net = Network::new(spec(), &mut rng(5)).unwrap();
    let mut c = Count(0, 0);
    Trainer::new(config(2)).unwrap().fit(&mut net, &tr, Some(&va), &mut c).unwrap();
    assert_eq!((c.0, c.1), (20, 2), "95 examples in batches of 10 is 10 batches per epoch");
}

/// With the real MNIST files present (`../shared/data/mnist`), a 784-300-10 rectifier net with
/// L1 1e-3, trained for 3 epochs on 5,000 images at lr 0.05, classifies 1,000 test images with
/// < 10 % error and sparse hidden codes. Set `RELU_REQUIRE_SHARED_DATA=1` to fail instead of
/// skipping when the files are absent.
#[test]
fn real_mnist_subset_when_present() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist");
    if !dir.join("train-images-idx3-ubyte.gz").exists() {
        assert!(std::env::var_os("RELU_REQUIRE_SHARED_DATA").is_none(), "{} not present", dir.display());
        // Straight to stderr (eprintln! is hidden for passing tests): the skip shows in `cargo test`.
        let _ =
            std::io::Write::write_all(&mut std::io::stderr(), format!("SKIPPED real-data test: {} is absent\n", dir.display()).as_bytes());
        return;
    }
    let read = |name: &str, header: usize, count: usize, each: usize| -> Vec<u8> {
        use std::io::Read;
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(dir.join(name)).unwrap()).read_to_end(&mut bytes).unwrap();
        bytes[header..header + count * each].to_vec()
    };
    let load = |img: &str, lab: &str, n: usize| {
        let x = read(img, 16, n, 784);
        let y = read(lab, 8, n, 1);
        Dataset::new(
            Features::Dense(DMatrix::from_iterator(784, n, x.iter().map(|&p| p as f32 / 255.0))),
            Targets::Classes(y.iter().map(|&l| l as u32).collect()),
        )
        .unwrap()
    };
    let train = load("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 5000);
    let test = load("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 1000);
    let spec = NetworkSpec::mlp(784, &[300], Activation::Rectifier, 1e-3, OutputKind::Softmax { classes: 10 });
    let mut net = Network::new(spec, &mut rng(1)).unwrap();
    let cfg = TrainConfig { epochs: 3, threads: 2, sgd: Sgd { lr: 0.05, ..Sgd::default() }, ..TrainConfig::default() };
    Trainer::new(cfg).unwrap().fit(&mut net, &train, None, &mut Silent).unwrap();
    let e = net.evaluate(&test, 500, &mut Workspace::new(&net, DispatchMode::Auto, Default::default()));
    assert!(e.error.unwrap() < 0.10, "test error {:?}", e.error);
    assert!(e.sparsity[0] > 0.5, "sparsity {:?}", e.sparsity);
}

/// Rewrites the `training_state` JSON of a saved state with `edit`.
fn edit_state(from: &std::path::Path, to: &std::path::Path, edit: impl FnOnce(&mut serde_json::Value)) {
    use safetensors::tensor::{SafeTensors, TensorView};
    let bytes = std::fs::read(from).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    let mut state: serde_json::Value = serde_json::from_str(&meta["training_state"]).unwrap();
    edit(&mut state);
    meta.insert("training_state".into(), state.to_string());
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let views: Vec<_> =
        st.tensors().into_iter().map(|(name, t)| (name, TensorView::new(t.dtype(), t.shape().to_vec(), t.data()).unwrap())).collect();
    std::fs::write(to, safetensors::serialize(views, &Some(meta)).unwrap()).unwrap();
}

#[test]
fn an_edited_training_state_is_refused() {
    let (tr, va) = (blobs(600, 1), blobs(200, 2));
    let mut net = Network::new(spec(), &mut rng(5)).unwrap();
    let mut t = Trainer::new(config(3)).unwrap();
    // Interrupted in epoch 2, batch 25 of 60.
    t.fit(&mut net, &tr, Some(&va), &mut StopAfter(85, 0)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("train_state.safetensors");
    save_training(&good, &net, t.state().unwrap(), t.config()).unwrap();
    load_training(&good).expect("the saved state loads");
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit, &str); 7] = [
        ("epochs", |s| s["completed_epochs"] = 1_000_000_000u64.into(), "completed epochs"),
        ("history", |s| s["history"] = serde_json::json!([]), "epochs of history"),
        ("next_batch", |s| s["next_batch"] = 1_000_000_000_000u64.into(), "next batch"),
        ("examples", |s| s["partial"]["examples"] = 1_000_000_000_000_000u64.into(), "examples counted"),
        ("nnz", |s| s["partial"]["nnz"] = serde_json::json!([1]), "active-unit counts"),
        ("bad_epochs", |s| s["bad_epochs"] = 7.into(), "since the best epoch"),
        ("loss", |s| s["partial"]["data"] = (-1.0).into(), "totals"),
    ];
    for (name, edit, needle) in cases {
        let p = dir.path().join(format!("{name}.safetensors"));
        edit_state(&good, &p, edit);
        let e = load_training(&p).err().unwrap_or_else(|| panic!("edited `{name}` was accepted")).to_string();
        assert!(e.contains("inconsistent training state") && e.contains(needle) && e.contains(&p.display().to_string()), "{name}: {e}");
    }
    // A consistent state over other data: more batches done than the data has.
    let (net2, state, cfg) = load_training(&good).unwrap();
    let mut net2 = net2;
    let e = Trainer::resume(cfg, state).unwrap().fit(&mut net2, &blobs(100, 1), Some(&va), &mut Silent).unwrap_err();
    assert!(e.to_string().contains("before batch 25"), "{e}");
}

#[test]
fn a_hidden_layer_dead_for_a_whole_epoch_stops_training() {
    let cfg = TrainConfig { epochs: 3, ..config(3) };
    let mut s = spec();
    s.hidden.iter_mut().for_each(|l| l.l1 = 1e12);
    let mut net = Network::new(s, &mut rng(5)).unwrap();
    let err = Trainer::new(cfg).unwrap().fit(&mut net, &blobs(300, 1), None, &mut Silent).unwrap_err();
    match &err {
        NnError::DeadLayer { layer, examples, .. } => assert_eq!((layer.as_str(), *examples), ("hidden layer 1", 300), "{err}"),
        e => panic!("expected a dead-layer error, got {e}"),
    }
    // Opted out (an experiment that maps the collapse): the run completes.
    let mut net = Network::new(net.spec().clone(), &mut rng(5)).unwrap();
    let r =
        Trainer::new(TrainConfig { stop_on_dead_layer: false, ..cfg }).unwrap().fit(&mut net, &blobs(300, 1), None, &mut Silent).unwrap();
    assert_eq!(r.history.last().unwrap().sparsity[0], 1.0, "the layer is dead");
}
