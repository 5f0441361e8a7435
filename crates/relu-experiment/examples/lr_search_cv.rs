//! A learning-rate search and a 4-fold cross-validation of a small rectifier network on
//! synthetic data: `cargo run -p relu-experiment --example lr_search_cv`.

use nalgebra::DMatrix;
use rand::Rng;
use relu_core::Activation;
use relu_experiment::search::{self, Job, LrSearch, Start};
use relu_experiment::{ExperimentError, cv, stats};
use relu_nn::{Dataset, Features, Network, NetworkSpec, OutputKind, Silent, Targets, TrainConfig};

/// `n` points of two noisy concentric rings in 2-D (class = ring).
fn rings(n: usize, seed: u64) -> Dataset {
    let mut rng = relu_core::seeded_rng(seed);
    let mut x = DMatrix::zeros(2, n);
    let mut y = Vec::with_capacity(n);
    for j in 0..n {
        let class = j % 2;
        let angle: f32 = rng.random_range(0.0..std::f32::consts::TAU);
        let radius = if class == 0 { 0.6 } else { 0.9 } + rng.random_range(-0.2..0.2);
        x[(0, j)] = radius * angle.cos();
        x[(1, j)] = radius * angle.sin();
        y.push(class as u32);
    }
    Dataset::new(Features::Dense(x), Targets::Classes(y)).expect("columns and labels agree")
}

fn main() -> Result<(), ExperimentError> {
    let spec = NetworkSpec::mlp(2, &[32, 32], Activation::Rectifier, 1e-4, OutputKind::Softmax { classes: 2 });
    let config = TrainConfig { epochs: 40, batch_size: 10, patience: Some(10), threads: 1, ..Default::default() };
    let (train, valid, test) = (rings(400, 1), rings(200, 2), rings(400, 3));

    // One job: the rate chosen from a grid by 5-epoch trials, then the full run.
    let job = Job {
        name: "rings".into(),
        start: Start::Random { spec: spec.clone(), seed: 7 },
        config,
        search: LrSearch { grid: vec![0.3, 0.1, 0.03], select_epochs: 5 },
    };
    let done = search::run_job(&job, &train, Some(&valid), &test, None, &mut Silent)?.expect("not interrupted");
    for t in &done.fitted.trials {
        println!("lr {}: best validation error {:?}", t.lr, t.valid);
    }
    println!(
        "chosen lr {}: kept epoch {:?} of {}, test error {:.2} %, hidden sparsity {:?}",
        done.fitted.lr,
        done.fitted.report.best_epoch,
        done.fitted.report.history.len(),
        100.0 * done.test.error.unwrap_or(f64::NAN),
        done.test.sparsity
    );

    // 4-fold cross-validation of the same network with the chosen rate (no early stopping).
    let all = rings(800, 4);
    let folds: Vec<(Dataset, Dataset)> = (0..4)
        .map(|k| {
            let (held, kept): (Vec<usize>, Vec<usize>) = (0..all.len()).partition(|i| i % 4 == k);
            (all.select(&kept), all.select(&held))
        })
        .collect();
    let fold_config = TrainConfig { epochs: 20, patience: None, sgd: relu_nn::Sgd { lr: done.fitted.lr, ..Default::default() }, ..config };
    let report = cv::cross_validate::<ExperimentError>(
        folds.iter().map(|(a, b)| (a, b)),
        OutputKind::Softmax { classes: 2 },
        &fold_config,
        |k, _train| Ok(Network::new(spec.clone(), &mut relu_core::seeded_rng(100 + k as u64))?),
        &mut Silent,
    )?
    .expect("not interrupted");
    let errors: Vec<f64> = report.per_fold.iter().map(|f| f.error.unwrap_or(f64::NAN)).collect();
    let (mean, std) = stats::mean_std(&errors);
    println!("4-fold error {:.2} % ± {:.2} (per fold {errors:.3?})", 100.0 * mean, 100.0 * std);
    Ok(())
}
