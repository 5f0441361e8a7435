//! Dense vs sparse kernels on the paper's layer shapes.
//!
//! Shapes 1000×1000 and 1000×784 (out × in), batch 10 and 128, input densities 5–100 %, for the
//! forward, masked backward, weight-gradient and fused backward+update kernels (plain SGD and
//! with momentum 0.9), each through the dense path (on the densified batch, densification
//! included) and the sparse path, on a pool of `RELU_BENCH_THREADS` threads (default: all
//! cores). The `sgemm` group compares the dense path with matrixmultiply's sgemm (and, with
//! `--features relu-core/bench-gemm`, the `gemm` crate's, AVX-512 kernels) on one thread and on
//! the pool. Data are seeded and built outside the timed closures. `cargo xtask bench` runs this
//! and summarises the medians.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nalgebra::DMatrix;
use relu_core::testing::{rectified_matrix, rng, uniform_matrix, uniform_vector};
use relu_core::{Crossover, Dispatch, DispatchMode, SparseBatch, StepRule, kernels};

const SHAPES: [(usize, usize); 2] = [(1000, 1000), (1000, 784)];
const BATCHES: [usize; 2] = [10, 128];
const DENSITIES: [f64; 5] = [0.05, 0.10, 0.20, 0.50, 1.00];

fn threads() -> usize {
    std::env::var("RELU_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn kernels_bench(c: &mut Criterion) {
    let pool = relu_core::thread_pool(threads()).expect("thread pool");
    for (out, inp) in SHAPES {
        for batch in BATCHES {
            for density in DENSITIES {
                let mut r = rng(42);
                let w = uniform_matrix(&mut r, out, inp);
                let b = uniform_vector(&mut r, out);
                let h = rectified_matrix(&mut r, inp, batch, density);
                let delta = uniform_matrix(&mut r, out, batch);
                let s = SparseBatch::from_dense(&h);
                let units = s.by_unit();
                let param = format!("{out}x{inp}/b{batch}/d{:03}", (density * 100.0).round() as u32);
                let flops = 2 * out * inp * batch;
                for (name, mode) in [("dense", DispatchMode::ForceDense), ("sparse", DispatchMode::ForceSparse)] {
                    let mut d = Dispatch::new(mode, Crossover::default());
                    let mut z = DMatrix::zeros(out, batch);
                    let mut g = c.benchmark_group("forward");
                    g.throughput(Throughput::Elements(flops as u64));
                    g.bench_function(BenchmarkId::new(name, &param), |bn| {
                        bn.iter(|| pool.install(|| d.affine(&w, black_box(&s), &b, &mut z)))
                    });
                    g.finish();

                    let mut m = vec![0.0f32; s.nnz()];
                    let mut g = c.benchmark_group("masked_backward");
                    g.throughput(Throughput::Elements(flops as u64));
                    g.bench_function(BenchmarkId::new(name, &param), |bn| {
                        bn.iter(|| pool.install(|| d.masked_backward(&w, black_box(&delta), &s, units, &mut m)))
                    });
                    g.finish();

                    let mut dw = DMatrix::zeros(out, inp);
                    let mut g = c.benchmark_group("weight_grad");
                    g.throughput(Throughput::Elements(flops as u64));
                    g.bench_function(BenchmarkId::new(name, &param), |bn| {
                        bn.iter(|| pool.install(|| d.weight_grad(1.0, black_box(&delta), &s, units, 0.0, &mut dw).0))
                    });
                    g.finish();

                    let mut w2 = w.clone();
                    let mut dx = vec![0.0f32; s.nnz()];
                    let mut g = c.benchmark_group("backward_update");
                    g.throughput(Throughput::Elements(2 * flops as u64));
                    g.bench_function(BenchmarkId::new(name, &param), |bn| {
                        // A tiny step keeps the weights bounded over millions of iterations.
                        bn.iter(|| pool.install(|| d.backward_update(-1e-9, &mut w2, black_box(&delta), &s, Some(&mut dx)).0))
                    });
                    g.finish();

                    let mut v2 = DMatrix::zeros(out, inp);
                    let rule = StepRule::sgd(1e-9, 0.0, 0.9);
                    let mut g = c.benchmark_group("backward_momentum");
                    g.throughput(Throughput::Elements(2 * flops as u64));
                    g.bench_function(BenchmarkId::new(name, &param), |bn| {
                        bn.iter(|| pool.install(|| d.backward_step(rule, &mut w2, Some(&mut v2), black_box(&delta), &s, Some(&mut dx)).0))
                    });
                    g.finish();
                }
            }
        }
    }
}

/// The dense path against matrixmultiply's own sgemm (one thread, same shapes, `C = A·B`).
fn sgemm_bench(c: &mut Criterion) {
    let one = relu_core::thread_pool(1).expect("thread pool");
    let all = relu_core::thread_pool(threads()).expect("thread pool");
    let mut g = c.benchmark_group("sgemm");
    for (out, inp) in SHAPES {
        for batch in BATCHES {
            let mut r = rng(7);
            let w = uniform_matrix(&mut r, out, inp);
            let h = uniform_matrix(&mut r, inp, batch);
            let b = uniform_vector(&mut r, out);
            let mut z = DMatrix::zeros(out, batch);
            let param = format!("{out}x{inp}/b{batch}");
            g.throughput(Throughput::Elements((2 * out * inp * batch) as u64));
            g.bench_function(BenchmarkId::new("matrixmultiply", &param), |bn| {
                bn.iter(|| {
                    // SAFETY: w, h and z are column-major out×inp, inp×batch and out×batch
                    // matrices owned by this closure's environment; the strides below address
                    // exactly their elements.
                    unsafe {
                        matrixmultiply::sgemm(
                            out,
                            inp,
                            batch,
                            1.0,
                            w.as_ptr(),
                            1,
                            out as isize,
                            h.as_ptr(),
                            1,
                            inp as isize,
                            0.0,
                            z.as_mut_ptr(),
                            1,
                            out as isize,
                        )
                    }
                })
            });
            #[cfg(feature = "bench-gemm")]
            for (name, par) in [("gemm_1t", gemm::Parallelism::None), ("gemm_2t", gemm::Parallelism::Rayon(2))] {
                g.bench_function(BenchmarkId::new(name, &param), |bn| {
                    bn.iter(|| {
                        // SAFETY: as above; gemm's `dst = alpha·dst + beta·lhs·rhs` with
                        // read_dst = false never reads `z`.
                        unsafe {
                            gemm::gemm(
                                out,
                                batch,
                                inp,
                                z.as_mut_ptr(),
                                out as isize,
                                1,
                                false,
                                w.as_ptr(),
                                out as isize,
                                1,
                                h.as_ptr(),
                                inp as isize,
                                1,
                                0.0,
                                1.0,
                                false,
                                false,
                                false,
                                par,
                            )
                        }
                    })
                });
            }
            g.bench_function(BenchmarkId::new("dense_affine_1t", &param), |bn| {
                bn.iter(|| one.install(|| kernels::dense_affine(&w, black_box(&h), &b, &mut z)))
            });
            if threads() > 1 {
                g.bench_function(BenchmarkId::new(format!("dense_affine_{}t", threads()), &param), |bn| {
                    bn.iter(|| all.install(|| kernels::dense_affine(&w, black_box(&h), &b, &mut z)))
                });
            }
        }
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(900))
        .without_plots()
}

criterion_group! { name = benches; config = config(); targets = sgemm_bench, kernels_bench }
criterion_main!(benches);
