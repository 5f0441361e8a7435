//! Trains a small sparse rectifier network on seeded synthetic data and prints each epoch's
//! metrics: the library's training loop end to end, with no data files.
//!
//! `cargo run --release -p relu-nn --example train_blobs`

use nalgebra::DMatrix;
use rand::Rng;
use relu_core::Activation;
use relu_nn::{Dataset, EpochMetrics, Features, Network, NetworkSpec, Observer, OutputKind, Targets, TrainConfig, Trainer};

/// Prints one line per epoch.
struct Print;

impl Observer for Print {
    fn on_epoch(&mut self, m: &EpochMetrics) {
        let v = m.valid.as_ref().expect("validated");
        let sparsity: Vec<String> = m.sparsity.iter().map(|s| format!("{:.0}%", 100.0 * s)).collect();
        println!(
            "epoch {:2}: train loss {:.4}  penalty {:.4}  valid error {:5.2}%  zeros {}  {:.0} ex/s",
            m.epoch,
            m.train_loss,
            m.penalty,
            100.0 * v.error.unwrap_or(0.0),
            sparsity.join("/"),
            m.examples_per_second
        );
    }
}

/// `n` examples of 8 classes in 100 dimensions; class `c` activates features `c, c+8, c+16, …`.
fn data(n: usize, seed: u64) -> Dataset {
    let mut r = relu_core::seeded_rng(seed);
    let labels: Vec<u32> = (0..n).map(|_| r.random_range(0..8)).collect();
    let x =
        DMatrix::from_fn(100, n, |j, e| if j as u32 % 8 == labels[e] || r.random_bool(0.05) { r.random_range(0.5f32..1.5) } else { 0.0 });
    Dataset::new(Features::Dense(x), Targets::Classes(labels)).expect("finite data")
}

fn main() -> Result<(), relu_nn::NnError> {
    let spec = NetworkSpec::mlp(100, &[200, 200], Activation::Rectifier, 1e-3, OutputKind::Softmax { classes: 8 });
    let mut net = Network::new(spec, &mut relu_core::seeded_rng(1))?;
    let config = TrainConfig { epochs: 5, ..TrainConfig::default() };
    let report = Trainer::new(config)?.fit(&mut net, &data(4000, 2), Some(&data(1000, 3)), &mut Print)?;
    println!("kept the parameters of epoch {:?}", report.best_epoch);
    Ok(())
}
