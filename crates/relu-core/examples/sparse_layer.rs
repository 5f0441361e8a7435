//! One 1000 ← 784 rectifier layer on a batch of 10 MNIST-like inputs (≈19 % non-zero pixels):
//! forward, masked backward and weight gradient through the dense and the sparse kernels,
//! checking that they agree and printing each one's median time over 50 runs.
//!
//! `cargo run --release -p relu-core --example sparse_layer`

use std::time::Instant;

use nalgebra::DMatrix;
use relu_core::testing::{rectified_matrix, rng, uniform_matrix, uniform_vector};
use relu_core::{Activation, Crossover, Dispatch, DispatchMode, SparseBatch};

fn median_us(mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..50)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let (out, inp, batch) = (1000, 784, 10);
    let mut r = rng(2011);
    let w = uniform_matrix(&mut r, out, inp) * 0.05;
    let b = uniform_vector(&mut r, out) * 0.05;
    let x = SparseBatch::from_dense(&rectified_matrix(&mut r, inp, batch, 0.19));
    let x_units = x.by_unit();
    let delta = uniform_matrix(&mut r, out, batch);
    println!("input: {inp}×{batch}, density {:.1} %", 100.0 * x.density());

    let mut results = Vec::new();
    for (name, mode) in [("dense", DispatchMode::ForceDense), ("sparse", DispatchMode::ForceSparse)] {
        let mut d = Dispatch::new(mode, Crossover::default());
        let mut z = DMatrix::zeros(out, batch);
        let mut dx = vec![0.0f32; x.nnz()];
        let mut dw = DMatrix::zeros(out, inp);
        let t_fwd = median_us(|| {
            d.affine(&w, &x, &b, &mut z);
        });
        let t_bwd = median_us(|| {
            d.masked_backward(&w, &delta, &x, x_units, &mut dx);
        });
        let t_grad = median_us(|| {
            d.weight_grad(1.0, &delta, &x, x_units, 0.0, &mut dw);
        });
        println!("{name:>6}: forward {t_fwd:7.1} µs   masked backward {t_bwd:7.1} µs   weight gradient {t_grad:7.1} µs");
        results.push((z, dx, dw));
    }
    let max_diff = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
    println!(
        "max |dense − sparse|: forward {:.2e}, backward {:.2e}, weight gradient {:.2e}",
        max_diff(results[0].0.as_slice(), results[1].0.as_slice()),
        max_diff(&results[0].1, &results[1].1),
        max_diff(results[0].2.as_slice(), results[1].2.as_slice()),
    );
    let h = Activation::Rectifier.apply_sparse(&results[1].0);
    let stats = h.stats();
    println!("layer output: {:.1} % exact zeros, {} dead units in this batch", 100.0 * stats.zero_fraction, stats.dead_units);
}
