//! Training throughput of the paper's MLP, mirroring `shared/reference/torch_throughput.py`
//! exactly so the two can be compared in one command: 784-1000-1000-1000-10, rectifier, L1 1e-3
//! on hidden activations, plain SGD lr 0.01, softmax NLL, the first EXAMPLES training images in
//! order, 20 warm-up batches, then one timed pass.
//!
//! `cargo run --release -p relu-nn --example throughput -- THREADS BATCH [EXAMPLES] [MNIST_DIR] [WARM_EXAMPLES]`
//!
//! Prints examples/s and the mean fraction of exact zeros per hidden layer during the timed pass.
//! The optional WARM_EXAMPLES (default: 20 batches, like the PyTorch script) trains on that many
//! training images first, so the timed pass sees the sparsity of a network in training rather
//! than of a fresh initialisation (e.g. 50000 = one epoch of the paper's training set).

use std::io::Read;
use std::time::Instant;

use nalgebra::DMatrix;
use rand::Rng;
use relu_core::{Activation, SparseBatch};
use relu_nn::{Features, NetworkSpec, OutputKind, Sgd, SgdState, Targets, Workspace};

fn read_gz(path: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .read_to_end(&mut bytes)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: throughput THREADS BATCH [EXAMPLES] [MNIST_DIR] [WARM_EXAMPLES]";
    let threads: usize = args.first().and_then(|a| a.parse().ok()).expect(usage);
    let batch: usize = args.get(1).and_then(|a| a.parse().ok()).expect(usage);
    let n: usize = args.get(2).map_or(10_000, |a| a.parse().expect(usage));
    let warm: usize = args.get(4).map_or(20 * batch, |a| a.parse().expect(usage));
    let total = n.max(warm);
    let (x, y) = match args.get(3) {
        Some(dir) => {
            let dir = std::path::Path::new(dir);
            let img = read_gz(&dir.join("train-images-idx3-ubyte.gz"));
            let lab = read_gz(&dir.join("train-labels-idx1-ubyte.gz"));
            let x = DMatrix::from_iterator(784, total, img[16..16 + total * 784].iter().map(|&p| p as f32 / 255.0));
            (x, lab[8..8 + total].iter().map(|&l| l as u32).collect::<Vec<_>>())
        }
        None => {
            let mut r = relu_core::seeded_rng(0);
            (DMatrix::from_fn(784, total, |_, _| r.random::<f32>()), (0..total).map(|_| r.random_range(0..10u32)).collect())
        }
    };
    let x = SparseBatch::from_dense(&x);
    let spec = NetworkSpec::mlp(784, &[1000, 1000, 1000], Activation::Rectifier, 1e-3, OutputKind::Softmax { classes: 10 });
    let mut net = relu_nn::Network::new(spec, &mut relu_core::seeded_rng(0)).expect("valid spec");
    let sgd = Sgd { lr: 0.01, ..Sgd::default() };
    let mut state = SgdState::new(&net, sgd);
    let mut ws = Workspace::new(&net, Default::default(), Default::default());
    let pool = relu_core::thread_pool(threads).expect("thread pool");
    let make = |count: usize| -> Vec<(Features, Targets)> {
        (0..count / batch)
            .map(|b| {
                let idx: Vec<usize> = (b * batch..(b + 1) * batch).collect();
                (Features::Sparse(x.select_examples(&idx)), Targets::Classes(idx.iter().map(|&i| y[i]).collect()))
            })
            .collect()
    };
    let warm_batches = make(warm);
    let batches = make(n);
    pool.install(|| {
        for (xb, yb) in &warm_batches {
            net.sgd_step(xb, yb, sgd, sgd.lr, &mut state, &mut ws);
        }
        let mut zeros = [0.0f64; 3];
        let t = Instant::now();
        for (xb, yb) in &batches {
            let (_, cache) = net.sgd_step(xb, yb, sgd, sgd.lr, &mut state, &mut ws);
            for (z, h) in zeros.iter_mut().zip(&cache.hidden) {
                *z += 1.0 - h.output.density() as f64;
            }
        }
        let dt = t.elapsed().as_secs_f64();
        let sparsity: Vec<String> = zeros.iter().map(|z| format!("{:.1}%", 100.0 * z / batches.len() as f64)).collect();
        println!(
            "relu threads={threads} batch={batch}: {:.0} examples/s train (hidden zeros {})",
            (batches.len() * batch) as f64 / dt,
            sparsity.join("/")
        );
    });
}
