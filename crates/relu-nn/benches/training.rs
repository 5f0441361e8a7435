//! One SGD step of the paper's MNIST network (784-1000-1000-1000-10, rectifier, L1 1e-3,
//! lr 0.01), batch 10 and 128, through the automatic dense/sparse dispatch and through the
//! forced-dense path. Inputs are real MNIST images when `../shared/data/mnist` exists, otherwise
//! seeded synthetic images with MNIST's pixel density (≈19 % non-zero). The network is first
//! trained for 200 batches so its hidden layers have the sparsity of early training, not of a
//! random initialisation. Throughput is in examples.

use std::hint::black_box;
use std::io::Read;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nalgebra::DMatrix;
use rand::Rng;
use relu_core::{Activation, DispatchMode, SparseBatch};
use relu_nn::{Features, Network, NetworkSpec, OutputKind, Sgd, SgdState, Targets, Workspace};

fn mnist_like(n: usize) -> (DMatrix<f32>, Vec<u32>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist");
    let read = |name: &str| -> Option<Vec<u8>> {
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(dir.join(name)).ok()?).read_to_end(&mut bytes).ok()?;
        Some(bytes)
    };
    if let (Some(img), Some(lab)) = (read("train-images-idx3-ubyte.gz"), read("train-labels-idx1-ubyte.gz")) {
        let x = DMatrix::from_iterator(784, n, img[16..16 + n * 784].iter().map(|&p| p as f32 / 255.0));
        return (x, lab[8..8 + n].iter().map(|&l| l as u32).collect());
    }
    let mut r = relu_core::seeded_rng(0);
    let x = DMatrix::from_fn(784, n, |_, _| if r.random_bool(0.19) { r.random_range(0.0f32..1.0) } else { 0.0 });
    (x, (0..n).map(|_| r.random_range(0..10)).collect())
}

fn train_step(c: &mut Criterion) {
    let threads = std::env::var("RELU_BENCH_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let pool = relu_core::thread_pool(threads).expect("thread pool");
    let (x, y) = mnist_like(4096);
    let x = SparseBatch::from_dense(&x);
    let mut g = c.benchmark_group("train_step");
    for batch in [10usize, 128] {
        let batches: Vec<(Features, Targets)> = (0..4096 / batch)
            .map(|b| {
                let idx: Vec<usize> = (b * batch..(b + 1) * batch).collect();
                (Features::Sparse(x.select_examples(&idx)), Targets::Classes(idx.iter().map(|&i| y[i]).collect()))
            })
            .collect();
        for (name, mode) in [("auto", DispatchMode::Auto), ("dense", DispatchMode::ForceDense)] {
            let spec = NetworkSpec::mlp(784, &[1000, 1000, 1000], Activation::Rectifier, 1e-3, OutputKind::Softmax { classes: 10 });
            let mut net = Network::new(spec, &mut relu_core::seeded_rng(0)).expect("valid spec");
            let sgd = Sgd::default();
            let mut state = SgdState::new(&net, sgd);
            let mut ws = Workspace::new(&net, mode, Default::default());
            pool.install(|| {
                for (xb, yb) in batches.iter().cycle().take(200) {
                    net.sgd_step(xb, yb, sgd, sgd.lr, &mut state, &mut ws);
                }
            });
            g.throughput(Throughput::Elements(batch as u64));
            let mut i = 0;
            g.bench_function(BenchmarkId::new(name, format!("b{batch}")), |bn| {
                bn.iter(|| {
                    let (xb, yb) = &batches[i % batches.len()];
                    i += 1;
                    pool.install(|| black_box(net.sgd_step(xb, yb, sgd, sgd.lr, &mut state, &mut ws).0))
                })
            });
        }
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default().sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3)).without_plots()
}

criterion_group! { name = benches; config = config(); targets = train_step }
criterion_main!(benches);
