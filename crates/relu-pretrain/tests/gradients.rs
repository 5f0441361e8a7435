//! Auto-encoder gradients against finite differences of an independent f64 reference, for every
//! reconstruction strategy, tied and untied weights, with and without the L1 code penalty and
//! reconstruction sampling; sampling's exactness (q = 1) and unbiasedness; and that a step moves the
//! parameters by −lr times the gradients.

use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use relu_core::testing::{rectified_matrix, rng};
use relu_core::{Activation, Dispatch, SparseBatch};
use relu_nn::Features;
use relu_pretrain::{Dae, DaeSpec, Reconstruction, Selection};

fn act64(a: Activation, x: f64) -> f64 {
    match a {
        Activation::Rectifier => x.max(0.0),
        Activation::Tanh => x.tanh(),
        Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        Activation::Softplus(_) => (1.0 + x.exp()).ln(),
        _ => unreachable!("not used here"),
    }
}

fn rec_loss64(r: Reconstruction, a: f64, t: f64) -> f64 {
    match r {
        Reconstruction::Softplus => 0.5 * ((1.0 + a.exp()).ln() - t).powi(2),
        Reconstruction::Linear | Reconstruction::LinearPreActivation => 0.5 * (a - t).powi(2),
        Reconstruction::Rectifier => 0.5 * (a.max(0.0) - t).powi(2),
        Reconstruction::ScaledSigmoid | Reconstruction::Sigmoid => {
            let s = 1.0 / (1.0 + (-a).exp());
            -(t * s.ln() + (1.0 - t) * (1.0 - s).ln())
        }
    }
}

/// Parameters in f64: encoder, encoder bias, decoder (transposed; = encoder when tied), decoder bias.
type P = (DMatrix<f64>, DVector<f64>, Option<DMatrix<f64>>, DVector<f64>);

/// Mean loss per example, and the smallest |pre-activation| at a kink (rectifier encoder or
/// decoder) so cases near a kink can be skipped.
fn loss64(spec: &DaeSpec, p: &P, x: &DMatrix<f64>, t: &DMatrix<f64>, sel: Option<&Selection>) -> (f64, f64) {
    let (we, be, wd, bd) = p;
    let dec = wd.as_ref().unwrap_or(we);
    let batch = x.ncols() as f64;
    let mut z = we * x;
    for mut c in z.column_iter_mut() {
        c += be;
    }
    let mut margin = f64::INFINITY;
    if spec.activation == Activation::Rectifier {
        margin = z.iter().map(|v| v.abs()).fold(margin, f64::min);
    }
    let h = z.map(|v| act64(spec.activation, v));
    if spec.l1 > 0.0 && spec.activation != Activation::Rectifier {
        // The L1 term |h| has its own kink at h = 0 (tanh crosses it; the rectifier's is at z = 0).
        margin = h.iter().map(|v| v.abs()).fold(margin, f64::min);
    }
    let mut a = dec.transpose() * &h;
    for mut c in a.column_iter_mut() {
        c += bd;
    }
    if spec.reconstruction == Reconstruction::Rectifier {
        margin = a.iter().map(|v| v.abs()).fold(margin, f64::min);
    }
    let mut total = 0.0;
    match sel {
        None => {
            for (av, tv) in a.iter().zip(t.iter()) {
                total += rec_loss64(spec.reconstruction, *av, *tv);
            }
        }
        Some(s) => {
            let mut k = 0;
            for e in 0..s.weights.batch_size() {
                let (idx, w) = s.weights.example(e);
                for (&i, &wv) in idx.iter().zip(w) {
                    total += wv as f64 * rec_loss64(spec.reconstruction, a[(i as usize, e)], s.targets[k] as f64);
                    k += 1;
                }
            }
        }
    }
    let penalty = spec.l1 as f64 * h.iter().map(|v| v.abs()).sum::<f64>();
    ((total + penalty) / batch, margin)
}

#[derive(Debug, Clone, Copy)]
struct Case {
    strategy: usize,
    activation: usize,
    tied: bool,
    l1: bool,
    sampled: bool,
    sparse_input: bool,
    seed: u64,
}

fn check(c: Case) -> Result<(), TestCaseError> {
    let activation = [Activation::Rectifier, Activation::Tanh, Activation::Sigmoid][c.activation];
    let reconstruction = Reconstruction::ALL[c.strategy];
    let spec = DaeSpec { inputs: 9, hidden: 6, activation, reconstruction, tied: c.tied, l1: if c.l1 { 0.05 } else { 0.0 } };
    let mut r = rng(c.seed);
    let mut dae = Dae::new(spec, &mut r).unwrap();
    dae.encoder_bias = DVector::from_fn(6, |i, _| 0.2 * ((i as f32 + c.seed as f32) * 1.3).sin());
    dae.decoder_bias = DVector::from_fn(9, |i, _| 0.1 * ((i as f32 * 0.7 + c.seed as f32).cos()));
    // Inputs in [0, 1) (cross-entropy targets must be), three quarters zero for sampling to bite.
    let xd = rectified_matrix(&mut r, 9, 4, 0.5).map(|v| v * 0.49);
    let x = if c.sparse_input { Features::Sparse(SparseBatch::from_dense(&xd)) } else { Features::Dense(xd.clone()) };
    let sel = c.sampled.then(|| Selection::sample(&SparseBatch::from_dense(&xd), 0.5, &mut r));
    let (g, _) = dae.gradients(&x, &xd, sel.as_ref(), &mut Dispatch::default());
    let base: P = (
        dae.encoder.map(f64::from),
        dae.encoder_bias.map(f64::from),
        dae.decoder_t.as_ref().map(|d| d.map(f64::from)),
        dae.decoder_bias.map(f64::from),
    );
    let (x64, t64) = (xd.map(f64::from), xd.map(f64::from));
    let (_, margin) = loss64(&spec, &base, &x64, &t64, sel.as_ref());
    // A perturbation of 1e-5 moves any pre-activation by far less than 1e-3.
    prop_assume!(margin > 1e-3);
    let eps = 1e-5;
    let check_param =
        |name: &str, len: usize, analytic: &dyn Fn(usize) -> f32, perturb: &dyn Fn(&mut P, usize, f64)| -> Result<(), TestCaseError> {
            for k in 0..len {
                let (mut p1, mut p2) = (base.clone(), base.clone());
                perturb(&mut p1, k, eps);
                perturb(&mut p2, k, -eps);
                let numeric =
                    (loss64(&spec, &p1, &x64, &t64, sel.as_ref()).0 - loss64(&spec, &p2, &x64, &t64, sel.as_ref()).0) / (2.0 * eps);
                let a = analytic(k) as f64;
                prop_assert!(
                    (numeric - a).abs() <= 2e-4 + 2e-3 * numeric.abs().max(a.abs()),
                    "{c:?} {name}[{k}]: analytic {a} numeric {numeric}"
                );
            }
            Ok(())
        };
    check_param("encoder", 54, &|k| g.encoder[k], &|p, k, d| p.0[k] += d)?;
    check_param("encoder bias", 6, &|k| g.encoder_bias[k], &|p, k, d| p.1[k] += d)?;
    check_param("decoder bias", 9, &|k| g.decoder_bias[k], &|p, k, d| p.3[k] += d)?;
    if !c.tied {
        check_param("decoder", 54, &|k| g.decoder_t.as_ref().unwrap()[k], &|p, k, d| p.2.as_mut().unwrap()[k] += d)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, max_global_rejects: 5000, rng_seed: RngSeed::Fixed(2011), .. ProptestConfig::default() })]

    #[test]
    fn gradients_match_finite_differences(
        strategy in 0usize..6, activation in 0usize..3, tied in any::<bool>(), l1 in any::<bool>(),
        sampled in any::<bool>(), sparse_input in any::<bool>(), seed in 0u64..10_000,
    ) {
        check(Case { strategy, activation, tied, l1, sampled, sparse_input, seed })?;
    }
}

/// Every strategy, tied and untied, sampled or not, at least once.
#[test]
fn every_strategy_once() {
    for strategy in 0..6 {
        for (tied, sampled) in [(false, false), (true, false), (false, true), (true, true)] {
            let ok = (0..30u64).any(|seed| {
                match check(Case { strategy, activation: 0, tied, l1: true, sampled, sparse_input: seed % 2 == 0, seed }) {
                    Ok(()) => true,
                    Err(TestCaseError::Reject(_)) => false,
                    Err(e) => panic!("{e}"),
                }
            });
            assert!(ok, "no seed away from kinks for strategy {strategy}");
        }
    }
}

/// With q = 1 every input is selected with weight 1: sampled gradients equal full ones.
#[test]
fn sampling_with_q_one_is_exact() {
    let spec = DaeSpec {
        inputs: 30,
        hidden: 12,
        activation: Activation::Rectifier,
        reconstruction: Reconstruction::Sigmoid,
        tied: false,
        l1: 0.01,
    };
    let mut r = rng(3);
    let dae = Dae::new(spec, &mut r).unwrap();
    let xd = rectified_matrix(&mut r, 30, 5, 0.2).map(|v| v.min(1.0));
    let x = Features::Sparse(SparseBatch::from_dense(&xd));
    let sel = Selection::sample(&SparseBatch::from_dense(&xd), 1.0, &mut r);
    assert_eq!(sel.weights.nnz(), 150);
    let mut d = Dispatch::default();
    let (full, lf) = dae.gradients(&x, &xd, None, &mut d);
    let (samp, ls) = dae.gradients(&x, &xd, Some(&sel), &mut d);
    assert!((lf.reconstruction - ls.reconstruction).abs() < 1e-4 * lf.reconstruction.abs().max(1.0));
    let close =
        |a: &DMatrix<f32>, b: &DMatrix<f32>| a.iter().zip(b.iter()).all(|(x, y)| (x - y).abs() <= 1e-5 + 1e-4 * x.abs().max(y.abs()));
    assert!(close(&full.encoder, &samp.encoder));
    assert!(close(full.decoder_t.as_ref().unwrap(), samp.decoder_t.as_ref().unwrap()));
}

/// Averaged over many draws, sampled gradients approach the full gradient (importance weights
/// make the estimate unbiased), while each draw reconstructs far fewer inputs.
#[test]
fn sampling_is_unbiased() {
    let spec =
        DaeSpec { inputs: 60, hidden: 8, activation: Activation::Rectifier, reconstruction: Reconstruction::Sigmoid, tied: true, l1: 0.0 };
    let mut r = rng(4);
    let dae = Dae::new(spec, &mut r).unwrap();
    let xd = rectified_matrix(&mut r, 60, 6, 0.1).map(|v| v.min(1.0));
    let x = Features::Dense(xd.clone());
    let mut d = Dispatch::default();
    let (full, _) = dae.gradients(&x, &xd, None, &mut d);
    let mut mean = DMatrix::<f64>::zeros(8, 60);
    let draws = 4000;
    let mut selected = 0;
    for _ in 0..draws {
        let sel = Selection::sample(&SparseBatch::from_dense(&xd), 0.1, &mut r);
        selected += sel.weights.nnz();
        let (g, _) = dae.gradients(&x, &xd, Some(&sel), &mut d);
        mean += g.encoder.map(f64::from) / draws as f64;
    }
    assert!(selected / draws < 360 / 4, "sampling should select about 19% of 360 positions, got {}", selected / draws);
    let err = (&mean - full.encoder.map(f64::from)).norm() / full.encoder.map(f64::from).norm();
    assert!(err < 0.05, "relative error of the mean sampled gradient: {err}");
}

/// One SGD step moves every parameter by −lr times [`Dae::gradients`], and reports the same
/// loss: the step and the gradient sink share one backward pass, tied decoders included (whose
/// encoder takes both the encoder's and the decoder's share).
#[test]
fn a_step_moves_the_parameters_by_minus_lr_times_the_gradients() {
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-6 + 1e-5 * x.abs().max(y.abs()));
    for (tied, sampled, sparse_input) in [(false, false, false), (true, false, true), (false, true, true), (true, true, false)] {
        let spec =
            DaeSpec { inputs: 9, hidden: 6, activation: Activation::Rectifier, reconstruction: Reconstruction::Softplus, tied, l1: 0.05 };
        let mut r = rng(11);
        let dae = Dae::new(spec, &mut r).unwrap();
        let xd = rectified_matrix(&mut r, 9, 4, 0.5).map(|v| v * 0.49);
        let x = if sparse_input { Features::Sparse(SparseBatch::from_dense(&xd)) } else { Features::Dense(xd.clone()) };
        let sel = sampled.then(|| Selection::sample(&SparseBatch::from_dense(&xd), 0.5, &mut r));
        let mut d = Dispatch::default();
        let (g, loss) = dae.gradients(&x, &xd, sel.as_ref(), &mut d);
        let lr = 0.3;
        let mut stepped = dae.clone();
        assert_eq!(stepped.step(&x, &xd, sel.as_ref(), lr, &mut d), loss, "tied {tied} sampled {sampled}");
        let moved = |before: &[f32], grad: &[f32]| before.iter().zip(grad).map(|(p, g)| p - lr * g).collect::<Vec<_>>();
        let case = format!("tied {tied} sampled {sampled} sparse {sparse_input}");
        assert!(g.encoder.iter().any(|&v| v != 0.0) && g.decoder_bias.iter().any(|&v| v != 0.0), "{case}: no gradient to check");
        assert!(close(stepped.encoder.as_slice(), &moved(dae.encoder.as_slice(), g.encoder.as_slice())), "{case}: encoder");
        assert!(
            close(stepped.encoder_bias.as_slice(), &moved(dae.encoder_bias.as_slice(), g.encoder_bias.as_slice())),
            "{case}: encoder bias"
        );
        assert!(
            close(stepped.decoder_bias.as_slice(), &moved(dae.decoder_bias.as_slice(), g.decoder_bias.as_slice())),
            "{case}: decoder bias"
        );
        match (&stepped.decoder_t, &dae.decoder_t, &g.decoder_t) {
            (None, None, None) => assert!(tied),
            (Some(s), Some(b), Some(gd)) => assert!(!tied && close(s.as_slice(), &moved(b.as_slice(), gd.as_slice())), "{case}: decoder"),
            _ => panic!("{case}: decoder weights and their gradient disagree on tying"),
        }
    }
}
