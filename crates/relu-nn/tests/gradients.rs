//! Gradient tests: literal cases derived by hand, and finite-difference property tests of every
//! activation × output kind × L1 on/off × sign flip on/off × maxout, through the non-linear
//! losses (NLL, squared error), against an independent f64 reference forward pass.

use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use relu_core::activation::{LeakyRectifier, Lif, Softplus};
use relu_core::testing::{rectified_matrix, rng, uniform_matrix};
use relu_core::{Activation, DispatchMode, SparseBatch};
use relu_nn::{Features, HiddenKind, LayerSpec, Network, NetworkSpec, OutputKind, Targets, Workspace};

fn ws(net: &Network, mode: DispatchMode) -> Workspace {
    Workspace::new(net, mode, Default::default())
}

/// Softmax regression, W = 0, b = 0, x = (1, 2), label 0: p = (½, ½), δ = p − e₀ = (−½, ½),
/// so ∂L/∂W = δ·xᵀ = [[−½, −1], [½, 1]] and ∂L/∂b = δ.
#[test]
fn literal_softmax_gradient() {
    let spec = NetworkSpec { inputs: 2, hidden: vec![], output: OutputKind::Softmax { classes: 2 } };
    let net =
        Network::from_parts(spec, vec![relu_nn::Layer { weight: DMatrix::zeros(2, 2), bias: DVector::zeros(2), sign: None }]).unwrap();
    let x = Features::Dense(DMatrix::from_column_slice(2, 1, &[1.0, 2.0]));
    let (g, loss) = net.gradients(&x, &Targets::Classes(vec![0]), &mut ws(&net, DispatchMode::Auto));
    assert_eq!(g.weights[0], DMatrix::from_row_slice(2, 2, &[-0.5, -1.0, 0.5, 1.0]));
    assert_eq!(g.biases[0], DVector::from_vec(vec![-0.5, 0.5]));
    assert!((loss.data - std::f64::consts::LN_2).abs() < 1e-6);
}

/// One rectifier unit with L1 λ = 0.1 feeding a linear regression output:
/// x = 2, W₁ = 1, b₁ = 0 → z = h = 2; W₂ = 3, b₂ = 0 → y = 6; target t = 4.
/// L = ½(y − t)² + λ|h| = 2 + 0.2. ∂L/∂y = 2; ∂L/∂W₂ = 2·h = 4; ∂L/∂h = 2·W₂ + λ = 6.1;
/// ∂L/∂W₁ = 6.1·x = 12.2; ∂L/∂b₁ = 6.1. With the unit's sign flipped (h = −2, y = −6, t = −8 so
/// y − t = 2 again): ∂L/∂h = 2·3 + λ·sign(h) = 5.9 and ∂h/∂z = −1, so ∂L/∂W₁ = −11.8.
#[test]
fn literal_rectifier_l1_and_sign_flip() {
    for (flip, t, want_w1) in [(false, 4.0f32, 12.2f32), (true, -8.0, -11.8)] {
        let spec = NetworkSpec {
            inputs: 1,
            hidden: vec![LayerSpec { units: 1, kind: HiddenKind::Affine { activation: Activation::Rectifier }, l1: 0.1, sign_flip: flip }],
            output: OutputKind::Regression { outputs: 1 },
        };
        let layers = vec![
            relu_nn::Layer {
                weight: DMatrix::from_element(1, 1, 1.0),
                bias: DVector::zeros(1),
                sign: flip.then(|| DVector::from_element(1, -1.0)),
            },
            relu_nn::Layer { weight: DMatrix::from_element(1, 1, 3.0), bias: DVector::zeros(1), sign: None },
        ];
        let net = Network::from_parts(spec, layers).unwrap();
        let x = Features::Dense(DMatrix::from_element(1, 1, 2.0));
        let (g, loss) = net.gradients(&x, &Targets::Values(DMatrix::from_element(1, 1, t)), &mut ws(&net, DispatchMode::Auto));
        assert!((loss.data - 2.0).abs() < 1e-6 && (loss.penalty - 0.2).abs() < 1e-6, "{loss:?}");
        assert!((g.weights[1][(0, 0)] - if flip { -4.0 } else { 4.0 }).abs() < 1e-5, "{:?}", g.weights[1]);
        assert!((g.weights[0][(0, 0)] - want_w1).abs() < 1e-5, "flip {flip}: {:?}", g.weights[0]);
    }
}

// ---------------------------------------------------------------------------------------------
// Independent f64 reference.

fn f64_activation(a: Activation, x: f64) -> f64 {
    match a {
        Activation::Rectifier => x.max(0.0),
        Activation::LeakyRectifier(l) => {
            if x > 0.0 {
                x
            } else {
                l.slope() as f64 * x
            }
        }
        Activation::Softplus(s) => {
            let al = s.alpha() as f64;
            (1.0 + (al * x).exp()).ln() / al
        }
        Activation::Tanh => x.tanh(),
        Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        Activation::Linear => x,
        Activation::Lif => {
            if x > 0.0 {
                1.0 / (1.0 + (Lif::TAU / Lif::T_REF) as f64 * (1.0 + 1.0 / x).ln())
            } else {
                0.0
            }
        }
    }
}

/// Parameters as f64 matrices, so single entries can be perturbed.
type Params = Vec<(DMatrix<f64>, DVector<f64>, Option<DVector<f64>>)>;

fn params_of(net: &Network) -> Params {
    net.layers()
        .iter()
        .map(|l| (l.weight.map(|v| v as f64), l.bias.map(|v| v as f64), l.sign.as_ref().map(|s| s.map(|v| v as f64))))
        .collect()
}

/// The batch loss (mean NLL or ½‖y − t‖², plus the mean L1 penalty) and the smallest distance of
/// any pre-activation to a kink (rectifier/LIF at 0, maxout ties).
fn reference_loss(spec: &NetworkSpec, p: &Params, x: &DMatrix<f64>, t: &Targets) -> (f64, f64) {
    let batch = x.ncols() as f64;
    let mut h = x.clone();
    let (mut penalty, mut margin) = (0.0, f64::INFINITY);
    for (l, (w, b, sign)) in spec.hidden.iter().zip(p) {
        let mut z = w * &h;
        for mut c in z.column_iter_mut() {
            c += b;
        }
        let out = match l.kind {
            HiddenKind::Affine { activation } => {
                if matches!(activation, Activation::Rectifier | Activation::LeakyRectifier(_) | Activation::Lif) {
                    margin = margin.min(z.iter().map(|v| v.abs()).fold(f64::INFINITY, f64::min));
                }
                let mut o = z.map(|v| f64_activation(activation, v));
                if let Some(s) = sign {
                    for mut c in o.column_iter_mut() {
                        c.component_mul_assign(s);
                    }
                }
                o
            }
            HiddenKind::Maxout { pieces } => DMatrix::from_fn(l.units, z.ncols(), |u, e| {
                let mut vals: Vec<f64> = (0..pieces).map(|k| z[(u * pieces + k, e)]).collect();
                vals.sort_by(|a, b| b.total_cmp(a));
                margin = margin.min(vals[0] - vals[1]);
                vals[0]
            }),
        };
        if l.l1 > 0.0 {
            // |h| has its own kink at h = 0 (linear, tanh and leaky units cross it; a rectifier's
            // exact zeros stay zero, as their z is already kept away from 0).
            margin = margin.min(out.iter().filter(|v| **v != 0.0).map(|v| v.abs()).fold(f64::INFINITY, f64::min));
        }
        penalty += l.l1 as f64 * out.iter().map(|v| v.abs()).sum::<f64>() / batch;
        h = out;
    }
    let (w, b, _) = p.last().unwrap();
    let mut z = w * &h;
    for mut c in z.column_iter_mut() {
        c += b;
    }
    let data = match t {
        Targets::Classes(labels) => {
            let mut nll = 0.0;
            for (e, &y) in labels.iter().enumerate() {
                let c = z.column(e);
                let m = c.max();
                let lse = m + c.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                nll += lse - c[y as usize];
            }
            nll / batch
        }
        Targets::Values(tv) => {
            (0..z.ncols()).map(|e| 0.5 * (0..z.nrows()).map(|i| (z[(i, e)] - tv[(i, e)] as f64).powi(2)).sum::<f64>()).sum::<f64>() / batch
        }
    };
    (data + penalty, margin)
}

fn activations() -> Vec<Activation> {
    vec![
        Activation::Rectifier,
        Activation::LeakyRectifier(LeakyRectifier::new(0.1).unwrap()),
        Activation::Softplus(Softplus::new(2.0).unwrap()),
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Linear,
        Activation::Lif,
    ]
}

#[derive(Debug, Clone, Copy)]
struct Case {
    activation: usize,
    output: usize,
    l1: bool,
    flip: bool,
    maxout: bool,
    sparse_input: bool,
    seed: u64,
}

fn build(c: Case) -> (Network, Features, DMatrix<f64>, Targets) {
    let activation = activations()[c.activation];
    let output = [OutputKind::Softmax { classes: 3 }, OutputKind::Regression { outputs: 2 }, OutputKind::Ratings { levels: 5 }][c.output];
    let l1 = if c.l1 { 0.05 } else { 0.0 };
    let rect = activation == Activation::Rectifier;
    let mut hidden = vec![
        LayerSpec { units: 6, kind: HiddenKind::Affine { activation }, l1, sign_flip: c.flip && rect },
        LayerSpec { units: 5, kind: HiddenKind::Affine { activation }, l1, sign_flip: c.flip && rect },
    ];
    if c.maxout {
        hidden[1] = LayerSpec { units: 4, kind: HiddenKind::Maxout { pieces: 3 }, l1, sign_flip: false };
    }
    let spec = NetworkSpec { inputs: 7, hidden, output };
    let mut r = rng(c.seed);
    let mut net = Network::new(spec, &mut r).unwrap();
    // Non-zero biases so units are not all symmetric around the kink.
    let mut layers = net.layers().to_vec();
    for l in &mut layers {
        l.bias = DVector::from_fn(l.bias.len(), |i, _| 0.3 * ((i as f32 * 1.7 + c.seed as f32).sin()));
    }
    net = Network::from_parts(net.spec().clone(), layers).unwrap();
    let xd = if c.sparse_input { rectified_matrix(&mut r, 7, 4, 0.5) } else { uniform_matrix(&mut r, 7, 4) };
    let x = if c.sparse_input { Features::Sparse(SparseBatch::from_dense(&xd)) } else { Features::Dense(xd.clone()) };
    let targets = match output {
        OutputKind::Regression { outputs } => Targets::Values(uniform_matrix(&mut r, outputs, 4)),
        k => Targets::Classes((0..4).map(|e| ((e as u64 * 7 + c.seed) % k.units() as u64) as u32).collect()),
    };
    (net, x, xd.map(|v| v as f64), targets)
}

fn check_case(c: Case, mode: DispatchMode) -> Result<(), TestCaseError> {
    let (net, x, xd, targets) = build(c);
    let spec = net.spec().clone();
    let base = params_of(&net);
    let (_, margin) = reference_loss(&spec, &base, &xd, &targets);
    // The parameters move by 1e-5, so pre-activations and outputs move by far less than 1e-3.
    prop_assume!(margin > 1e-3, "too close to a kink: {}", margin);
    let (grads, _) = net.gradients(&x, &targets, &mut ws(&net, mode));
    let eps = 1e-5;
    for (li, (w, b, _)) in base.iter().enumerate() {
        for which in 0..2 {
            let len = if which == 0 { w.len() } else { b.len() };
            for k in 0..len {
                let loss_at = |delta: f64| {
                    let mut p = base.clone();
                    if which == 0 {
                        p[li].0[k] += delta;
                    } else {
                        p[li].1[k] += delta;
                    }
                    reference_loss(&spec, &p, &xd, &targets).0
                };
                let numeric = (loss_at(eps) - loss_at(-eps)) / (2.0 * eps);
                let analytic = if which == 0 { grads.weights[li][k] } else { grads.biases[li][k] } as f64;
                let tol = 2e-4 + 2e-3 * numeric.abs().max(analytic.abs());
                prop_assert!(
                    (numeric - analytic).abs() <= tol,
                    "{c:?} layer {li} {} #{k}: analytic {analytic} numeric {numeric}",
                    if which == 0 { "weight" } else { "bias" }
                );
            }
        }
    }
    Ok(())
}

fn cases() -> impl Strategy<Value = Case> {
    (0usize..7, 0usize..3, any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), any::<u64>()).prop_map(
        |(activation, output, l1, flip, maxout, sparse_input, seed)| Case {
            activation,
            output,
            l1,
            flip,
            maxout,
            sparse_input,
            seed: seed % 10_000,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, max_global_rejects: 4000, rng_seed: RngSeed::Fixed(2011), .. ProptestConfig::default() })]

    #[test]
    fn gradients_match_finite_differences(c in cases()) {
        check_case(c, DispatchMode::Auto)?;
    }

    #[test]
    fn forced_sparse_and_dense_paths_match_finite_differences(c in cases(), sparse in any::<bool>()) {
        check_case(c, if sparse { DispatchMode::ForceSparse } else { DispatchMode::ForceDense })?;
    }
}

/// Every combination is covered at least once, deterministically (the property tests sample).
#[test]
fn every_combination_once() {
    let mut checked = 0;
    for activation in 0..7 {
        for output in 0..3 {
            for (l1, flip, maxout) in [(false, false, false), (true, true, false), (true, false, true), (false, true, true)] {
                // Try a few seeds until one is away from every kink.
                let ok = (0..20u64).any(|seed| {
                    let c = Case { activation, output, l1, flip, maxout, sparse_input: seed % 2 == 0, seed };
                    match check_case(c, DispatchMode::Auto) {
                        Ok(()) => true,
                        Err(TestCaseError::Reject(_)) => false,
                        Err(e) => panic!("{c:?}: {e}"),
                    }
                });
                assert!(ok, "no seed away from kinks for activation {activation} output {output}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 7 * 3 * 4);
}
