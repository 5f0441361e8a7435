//! Every fast kernel against its slow reference, on proptest-generated shapes and densities
//! (including 0 % and 100 %, batch 1), with outputs pre-filled with NaN so a missed write shows.
//! On CPUs with AVX-512 this checks the hand-written kernels; `tests/portable.rs` runs the same
//! checks on the portable ones.

use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use relu_core::kernels::{self, reference};
use relu_core::testing::{assert_close, rectified_matrix, rng, uniform_matrix, uniform_vector};
use relu_core::{Crossover, Densities, Dispatch, DispatchMode, KernelPath, SparseBatch, StepRule, Touched};

/// Every test calls this first. `tests/portable.rs` includes this file as its module `shared`,
/// and there it switches every kernel to its portable version, so both paths are checked on
/// machines with AVX-512.
fn setup() {
    if module_path!().starts_with("portable") {
        relu_core::kernels::use_portable_kernels();
    }
}

const RTOL: f32 = 1e-4;
const ATOL: f32 = 1e-4;

/// One random layer problem: W out×in, sparse input in×batch, δ out×batch, bias.
struct Case {
    w: DMatrix<f32>,
    h: DMatrix<f32>,
    s: SparseBatch,
    b: DVector<f32>,
    delta: DMatrix<f32>,
}

fn case(seed: u64, out: usize, inp: usize, batch: usize, density: f64) -> Case {
    let mut r = rng(seed);
    let w = uniform_matrix(&mut r, out, inp);
    let h = rectified_matrix(&mut r, inp, batch, density);
    let b = uniform_vector(&mut r, out);
    let delta = uniform_matrix(&mut r, out, batch);
    let s = SparseBatch::from_dense(&h);
    Case { w, h, s, b, delta }
}

fn nan(rows: usize, cols: usize) -> DMatrix<f32> {
    DMatrix::from_element(rows, cols, f32::NAN)
}

/// Shapes cover row counts below, at and above the 64-row register block and the 16-row
/// thread alignment; densities include exactly 0 and 1.
fn shapes() -> impl Strategy<Value = (u64, usize, usize, usize, f64)> {
    (
        any::<u64>(),
        prop_oneof![1usize..20, 60usize..70, 120usize..200],
        1usize..90,
        prop_oneof![Just(1usize), 2usize..12, Just(33usize), Just(130usize)],
        prop_oneof![Just(0.0), Just(1.0), 0.0f64..1.0],
    )
}

fn check_all(c: &Case) {
    check_kernels(c);
    check_steps(c);
}

/// Every kernel against its reference.
fn check_kernels(c: &Case) {
    let (out, inp, batch) = (c.w.nrows(), c.w.ncols(), c.h.ncols());
    let want_z = reference::affine(&c.w, &c.h, &c.b);

    let mut z = nan(out, batch);
    kernels::dense_affine(&c.w, &c.h, &c.b, &mut z);
    assert_close(z.as_slice(), want_z.as_slice(), RTOL, ATOL, "dense_affine");

    let mut z = nan(out, batch);
    kernels::sparse_affine(&c.w, &c.s, &c.b, &mut z);
    assert_close(z.as_slice(), want_z.as_slice(), RTOL, ATOL, "sparse_affine");

    let want_dh = reference::backward(&c.w, &c.delta);
    let mut dh = nan(inp, batch);
    kernels::dense_backward(&c.w, &c.delta, &mut dh);
    assert_close(dh.as_slice(), want_dh.as_slice(), RTOL, ATOL, "dense_backward");

    let units = c.s.by_unit();
    let want_masked = reference::masked_backward(&c.w, &c.delta, &c.s);
    let mut masked = vec![f32::NAN; c.s.nnz()];
    kernels::masked_backward(&c.w, &c.delta, &c.s, units, &mut masked);
    assert_close(&masked, &want_masked, RTOL, ATOL, "masked_backward");

    // Fused backward + SGD step: the gradient uses the weights before the step.
    for want_dx in [true, false] {
        let mut w = c.w.clone();
        let mut dx = vec![f32::NAN; if want_dx { c.s.nnz() } else { 0 }];
        let touched = kernels::sparse_backward_update(-0.1, &mut w, &c.delta, &c.s, want_dx.then_some(&mut dx[..])).to_vec();
        assert_eq!(touched, units.active_units());
        if want_dx {
            assert_close(&dx, &want_masked, RTOL, ATOL, "sparse_backward_update (dx)");
        }
        let want_w = reference::weight_grad(-0.1, &c.delta, &c.h, 1.0, &c.w);
        assert_close(w.as_slice(), want_w.as_slice(), RTOL, ATOL, "sparse_backward_update (W)");
    }

    // Weight gradient with β = 0 (output never read) and β = 1 with α = −lr (fused SGD step).
    let dw0 = uniform_matrix(&mut rng(7), out, inp);
    for (alpha, beta) in [(1.0f32, 0.0f32), (-0.01, 1.0), (0.5, 0.25)] {
        let want = reference::weight_grad(alpha, &c.delta, &c.h, beta, &dw0);
        let mut dw = if beta == 0.0 { nan(out, inp) } else { dw0.clone() };
        kernels::dense_weight_grad(alpha, &c.delta, &c.h, beta, &mut dw);
        assert_close(dw.as_slice(), want.as_slice(), RTOL, ATOL, "dense_weight_grad");

        let mut dw = if beta == 0.0 { nan(out, inp) } else { dw0.clone() };
        let touched = kernels::sparse_weight_grad(alpha, &c.delta, units, beta, &mut dw).to_vec();
        let active: Vec<u32> = (0..inp as u32).filter(|&j| c.h.row(j as usize).iter().any(|&v| v != 0.0)).collect();
        assert_eq!(touched, active, "sparse_weight_grad reports exactly the active input units");
        for j in 0..inp {
            let got = dw.column(j);
            if active.contains(&(j as u32)) {
                assert_close(got.as_slice(), want.column(j).as_slice(), RTOL, ATOL, "sparse_weight_grad (touched column)");
            } else if beta == 0.0 {
                assert!(got.iter().all(|v| v.is_nan()), "column {j} was written although no input was active");
            } else {
                assert_eq!(got, dw0.column(j), "column {j} changed although no input was active");
            }
        }
    }
}

/// `rule` applied in f64 to `(w, v)` with gradient `g`, on every weight.
fn reference_step(rule: StepRule, w: &DMatrix<f32>, v: &DMatrix<f32>, g: &DMatrix<f32>) -> (DMatrix<f32>, DMatrix<f32>) {
    let (mut w2, mut v2) = (w.clone(), v.clone());
    for k in 0..w.len() {
        let (wk, vk, gk) = (w[k] as f64, v[k] as f64, g[k] as f64);
        let sg = rule.scale as f64 * gk;
        if rule.momentum != 0.0 {
            let nv = rule.momentum as f64 * vk + sg - rule.decay as f64 * wk;
            v2[k] = nv as f32;
            w2[k] = (wk + nv) as f32;
        } else {
            w2[k] = (wk + sg - rule.decay as f64 * wk) as f32;
        }
    }
    (w2, v2)
}

/// The fused step with decay and momentum, sparse and dense: touched columns move by the rule,
/// the others not at all.
fn check_steps(c: &Case) {
    let (out, inp) = (c.w.nrows(), c.w.ncols());
    let g = reference::weight_grad(1.0, &c.delta, &c.h, 0.0, &DMatrix::zeros(out, inp));
    let v0 = uniform_matrix(&mut rng(9), out, inp) * 0.1;
    let active = c.s.by_unit().active_units().to_vec();
    let want_masked = reference::masked_backward(&c.w, &c.delta, &c.s);
    for rule in [StepRule::sgd(0.1, 0.0, 0.0), StepRule::sgd(0.1, 0.05, 0.0), StepRule::sgd(0.1, 0.0, 0.9), StepRule::sgd(0.05, 0.1, 0.5)] {
        let (want_w, want_v) = reference_step(rule, &c.w, &v0, &g);
        for want_dx in [true, false] {
            let (mut w, mut v) = (c.w.clone(), v0.clone());
            let mut dx = vec![f32::NAN; if want_dx { c.s.nnz() } else { 0 }];
            let vel = rule.has_velocity().then_some(&mut v);
            kernels::sparse_backward_step(rule, &mut w, vel, &c.delta, &c.s, want_dx.then_some(&mut dx[..]));
            if want_dx {
                assert_close(&dx, &want_masked, RTOL, ATOL, "sparse_backward_step dx");
            }
            for j in 0..inp {
                let touched = active.contains(&(j as u32));
                let (ww, wv) = if touched { (want_w.column(j), want_v.column(j)) } else { (c.w.column(j), v0.column(j)) };
                assert_close(w.column(j).as_slice(), ww.as_slice(), RTOL, ATOL, "sparse_backward_step W");
                if rule.has_velocity() {
                    assert_close(v.column(j).as_slice(), wv.as_slice(), RTOL, ATOL, "sparse_backward_step v");
                }
            }
        }
        // Dense: every weight moves.
        let (mut wd, mut vd) = (c.w.clone(), v0.clone());
        let vel = rule.has_velocity().then_some(&mut vd);
        kernels::dense_step(rule, &mut wd, vel, &c.delta, &c.h, &mut DMatrix::zeros(0, 0));
        assert_close(wd.as_slice(), want_w.as_slice(), RTOL, ATOL, "dense_step W");
        if rule.has_velocity() {
            assert_close(vd.as_slice(), want_v.as_slice(), RTOL, ATOL, "dense_step v");
        }
        // Through the dispatcher, both paths.
        for mode in [DispatchMode::ForceDense, DispatchMode::ForceSparse] {
            let (mut w, mut v) = (c.w.clone(), v0.clone());
            let mut dx = vec![f32::NAN; c.s.nnz()];
            let vel = rule.has_velocity().then_some(&mut v);
            let (_, touched) = Dispatch::new(mode, Crossover::default()).backward_step(rule, &mut w, vel, &c.delta, &c.s, Some(&mut dx));
            assert_close(&dx, &want_masked, RTOL, ATOL, "Dispatch::backward_step dx");
            if touched == Touched::All {
                assert_close(w.as_slice(), want_w.as_slice(), RTOL, ATOL, "Dispatch::backward_step W (dense)");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, rng_seed: RngSeed::Fixed(2011), .. ProptestConfig::default() })]

    #[test]
    fn kernels_match_references((seed, out, inp, batch, density) in shapes()) {
        setup();
        check_all(&case(seed, out, inp, batch, density));
    }

    #[test]
    fn dispatch_paths_agree((seed, out, inp, batch, density) in shapes()) {
        setup();
        let c = case(seed, out, inp, batch, density);
        let units = c.s.by_unit();
        let mut results = Vec::new();
        for mode in [DispatchMode::ForceDense, DispatchMode::ForceSparse] {
            let mut d = Dispatch::new(mode, Crossover::default());
            let mut z = nan(out, batch);
            d.affine(&c.w, &c.s, &c.b, &mut z);
            let mut m = vec![f32::NAN; c.s.nnz()];
            d.masked_backward(&c.w, &c.delta, &c.s, units, &mut m);
            let mut dw = DMatrix::zeros(out, inp);
            let (_, touched) = d.weight_grad(1.0, &c.delta, &c.s, units, 0.0, &mut dw);
            if let Touched::Columns(cols) = touched {
                prop_assert_eq!(cols, units.active_units());
            }
            let mut w = c.w.clone();
            let mut g = vec![f32::NAN; c.s.nnz()];
            d.backward_update(-0.1, &mut w, &c.delta, &c.s, Some(&mut g));
            prop_assert_eq!(&g[..], &m[..], "backward_update's dx equals masked_backward's on the same path");
            results.push((z, m, dw, w));
        }
        assert_close(results[0].3.as_slice(), results[1].3.as_slice(), RTOL, ATOL, "backward_update dense vs sparse");
        assert_close(results[0].0.as_slice(), results[1].0.as_slice(), RTOL, ATOL, "affine dense vs sparse");
        assert_close(&results[0].1, &results[1].1, RTOL, ATOL, "masked backward dense vs sparse");
        assert_close(results[0].2.as_slice(), results[1].2.as_slice(), RTOL, ATOL, "weight grad dense vs sparse");
    }
}

/// The 1000×1000 production shapes, on a pool of two threads, are bit-identical to one thread:
/// each output element is computed by one task in a fixed order.
#[test]
fn results_do_not_depend_on_thread_count() {
    setup();
    let c = case(11, 1000, 784, 10, 0.2);
    let run = |threads: usize| {
        relu_core::thread_pool(threads).unwrap().install(|| {
            let units = c.s.by_unit();
            let mut z = nan(1000, 10);
            kernels::sparse_affine(&c.w, &c.s, &c.b, &mut z);
            let mut zd = nan(1000, 10);
            kernels::dense_affine(&c.w, &c.h, &c.b, &mut zd);
            let mut m = vec![f32::NAN; c.s.nnz()];
            kernels::masked_backward(&c.w, &c.delta, &c.s, units, &mut m);
            let mut dw = nan(1000, 784);
            kernels::sparse_weight_grad(1.0, &c.delta, units, 0.0, &mut dw);
            let mut w2 = c.w.clone();
            let mut v2 = DMatrix::zeros(1000, 784);
            let mut m2 = vec![f32::NAN; c.s.nnz()];
            kernels::sparse_backward_step(StepRule::sgd(0.1, 0.01, 0.9), &mut w2, Some(&mut v2), &c.delta, &c.s, Some(&mut m2));
            let mut dh = nan(784, 10);
            kernels::dense_backward(&c.w, &c.delta, &mut dh);
            (z, zd, m, dw, (m2, w2, v2, dh))
        })
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.0, two.0);
    assert_eq!(one.1, two.1);
    assert_eq!(one.2, two.2);
    assert!(one.3.iter().zip(two.3.iter()).all(|(a, b)| a.to_bits() == b.to_bits()));
    assert_eq!(one.4, two.4);
    check_all(&c);
}

#[test]
fn auto_dispatch_follows_the_crossover() {
    setup();
    let d = Dispatch::new(DispatchMode::Auto, Crossover::uniform(0.3).unwrap());
    assert_eq!(d.choose(0.29, 0.3), KernelPath::Sparse);
    assert_eq!(d.choose(0.3, 0.3), KernelPath::Dense);
    // Interpolation in log(batch) between the small- and large-batch settings.
    let c = Crossover { small: Densities::uniform(0.6), large: Densities::uniform(0.2) };
    assert_eq!(c.at(1).forward, 0.6);
    assert_eq!(c.at(10).forward, 0.6);
    assert!((c.at(128).forward - 0.2).abs() < 1e-6);
    assert!((c.at(1000).forward - 0.2).abs() < 1e-6);
    let mid = c.at(36).forward; // log-midpoint of 10 and 128 is ≈35.8
    assert!((mid - 0.4).abs() < 0.01, "{mid}");
    assert!(Crossover::uniform(1.5).is_err());
    assert!(Crossover::uniform(f32::NAN).is_err());
}

/// Sparse steps with lazily applied idle steps equal dense steps on every weight: over a run of
/// batches with decay and momentum, columns of silent units are caught up (one closed-form map)
/// only when a batch next reads them, and all of them at the end.
#[test]
fn lazy_idle_steps_equal_dense_stepping() {
    setup();
    let (out, inp, batch, steps) = (70, 40, 3, 12);
    let mut r = rng(5);
    let w0 = uniform_matrix(&mut r, out, inp);
    for rule in [StepRule::sgd(0.05, 0.2, 0.9), StepRule::sgd(0.05, 0.3, 0.0), StepRule::sgd(0.05, 0.0, 0.8)] {
        let (mut wd, mut vd) = (w0.clone(), DMatrix::zeros(out, inp));
        let (mut ws, mut vs) = (wd.clone(), vd.clone());
        let mut current = vec![0u32; inp];
        for t in 0..steps {
            // Sparse inputs: each unit fires in about a tenth of the examples.
            let h = rectified_matrix(&mut r, inp, batch, 0.1);
            let s = SparseBatch::from_dense(&h);
            let delta = uniform_matrix(&mut r, out, batch);
            let vel = rule.has_velocity().then_some(&mut vd);
            kernels::dense_step(rule, &mut wd, vel, &delta, &h, &mut DMatrix::zeros(0, 0));
            // Catch up the columns this batch reads, step them, and record that they are current.
            let due: Vec<_> = s.by_unit().active_units().iter().map(|&j| (j, rule.idle_steps(t - current[j as usize]))).collect();
            kernels::catch_up_columns(&mut ws, rule.has_velocity().then_some(&mut vs), &due);
            let vel = rule.has_velocity().then_some(&mut vs);
            for &j in kernels::sparse_backward_step(rule, &mut ws, vel, &delta, &s, None) {
                current[j as usize] = t + 1;
            }
        }
        let due: Vec<_> = (0..inp as u32).map(|j| (j, rule.idle_steps(steps - current[j as usize]))).collect();
        kernels::catch_up_columns(&mut ws, rule.has_velocity().then_some(&mut vs), &due);
        assert_close(ws.as_slice(), wd.as_slice(), 1e-4, 1e-5, &format!("lazy vs dense weights, {rule:?}"));
        if rule.has_velocity() {
            assert_close(vs.as_slice(), vd.as_slice(), 1e-4, 1e-5, &format!("lazy vs dense velocity, {rule:?}"));
        }
    }
}

/// The rectifier's sparse output (compressing stores on AVX-512) keeps exactly the entries the
/// scalar definition keeps — positives and NaN, not −0 — in order, on every column length.
#[test]
fn rectifier_outputs_are_built_exactly() {
    setup();
    let mut r = rng(17);
    for units in [1usize, 15, 16, 17, 33, 1000] {
        let mut z = uniform_matrix(&mut r, units, 5);
        for (k, v) in z.iter_mut().enumerate() {
            match k % 11 {
                3 => *v = f32::NAN,
                5 => *v = -0.0,
                7 => *v = 0.0,
                _ => {}
            }
        }
        let s = relu_core::Activation::Rectifier.apply_sparse(&z);
        let mut d = z.clone();
        relu_core::Activation::Rectifier.apply_in_place(&mut d);
        let want = SparseBatch::from_dense(&d);
        assert_eq!(s.offsets(), want.offsets(), "{units} units: offsets");
        assert_eq!(s.indices(), want.indices(), "{units} units: indices");
        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(s.values()), bits(want.values()), "{units} units: values");
    }
}
