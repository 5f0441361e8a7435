//! Fixtures shared by relu-nn's integration tests.
#![allow(dead_code)]

use nalgebra::DMatrix;
use rand::Rng;
use relu_core::testing::rng;
use relu_nn::{BatchProgress, Dataset, Features, Observer, Sgd, Targets, TrainConfig};

/// Four Gaussian blobs in 30 dimensions, non-negative and sparse-ish (like pixels): each class
/// lights up its own subset of features.
pub fn blobs(n: usize, seed: u64) -> Dataset {
    let mut r = rng(seed);
    let mut x = DMatrix::zeros(30, n);
    let mut labels = Vec::with_capacity(n);
    for e in 0..n {
        let class = r.random_range(0..4u32);
        for j in 0..30 {
            let on = (j as u32 % 4) == class || r.random_bool(0.1);
            if on {
                x[(j, e)] = (1.0 + 0.5 * r.random_range(-1.0f32..1.0)).max(0.0);
            }
        }
        labels.push(class);
    }
    Dataset::new(Features::Dense(x), Targets::Classes(labels)).unwrap()
}

/// The tests' training settings: `epochs` epochs of minibatches of 10, lr 0.05, seed 99, one thread.
pub fn config(epochs: usize) -> TrainConfig {
    TrainConfig { epochs, batch_size: 10, sgd: Sgd { lr: 0.05, ..Sgd::default() }, seed: 99, threads: 1, ..TrainConfig::default() }
}

/// Requests a stop after a given number of batches (`StopAfter(n, 0)`).
pub struct StopAfter(pub usize, pub usize);

impl Observer for StopAfter {
    fn on_batch(&mut self, _: &BatchProgress) {
        self.1 += 1;
    }
    fn stop_requested(&mut self) -> bool {
        self.1 >= self.0
    }
}
