//! Target sparsity: the controller brings each hidden layer to its target from any starting λ,
//! records λ per epoch, and resumes exactly.

mod common;

use common::{StopAfter, blobs};

use relu_core::Activation;
use relu_core::testing::rng;
use relu_nn::checkpoint::{load_training, save_training};
use relu_nn::{Network, NetworkSpec, OutputKind, Silent, StopReason, TrainConfig, Trainer};

fn net(l1: f32) -> Network {
    net_of(&[60, 60], l1)
}

fn net_of(hidden: &[usize], l1: f32) -> Network {
    Network::new(NetworkSpec::mlp(30, hidden, Activation::Rectifier, l1, OutputKind::Softmax { classes: 4 }), &mut rng(5)).unwrap()
}

fn config(epochs: usize, target: &str) -> TrainConfig {
    TrainConfig { target_sparsity: Some(target.parse().unwrap()), ..common::config(epochs) }
}

fn fit(mut n: Network, cfg: TrainConfig) -> (Network, relu_nn::TrainReport) {
    let (tr, va) = (blobs(800, 1), blobs(200, 2));
    let r = Trainer::new(cfg).unwrap().fit(&mut n, &tr, Some(&va), &mut Silent).unwrap();
    (n, r)
}

#[test]
fn lambda_moves_towards_the_target_and_the_layer_ends_nearer_it() {
    // (start λ, target): too dense at the start (λ must rise) and too sparse (λ must fall).
    for (start, target) in [(1e-6, 0.85), (1e-3, 0.7), (1e-1, 0.6)] {
        let cfg = config(10, &target.to_string());
        let (_, r) = fit(net_of(&[60], start), cfg);
        let (_, fixed) = fit(net_of(&[60], start), TrainConfig { target_sparsity: None, ..cfg });
        let (s, s_fixed) = (r.history.last().unwrap().sparsity[0], fixed.history.last().unwrap().sparsity[0]);
        let trace = r.history.iter().map(|h| (h.sparsity[0], h.l1[0])).collect::<Vec<_>>();
        assert!((s - target).abs() < (s_fixed - target).abs(), "start {start}, target {target}: {s} vs fixed λ {s_fixed}: {trace:?}");
        let l1_end = r.history.last().unwrap().l1[0];
        let l1_peak = r.history.iter().map(|h| h.l1[0]).fold(0.0, f32::max);
        if s_fixed < target {
            // The damping term eases λ back from its peak as sparsity climbs, so the end value
            // sits between the start and the peak.
            assert!(l1_peak > 10.0 * start && l1_end > start, "λ should rise: {trace:?}");
        } else {
            assert!(l1_end < start / 2.0, "λ should fall: {trace:?}");
        }
        assert!(r.history.iter().all(|h| h.l1.iter().all(|&v| v > 0.0 && v.is_finite())));
        let e = r.history.last().unwrap().valid.as_ref().unwrap().error.unwrap();
        assert!(e < 0.2, "the network still learns: valid error {e}");
    }
}

/// Two layers with their own targets move apart in the targets' direction. (The lower layer
/// overshoots its 90 % here: the upper layer's penalty also sparsifies the layer below, and zeros
/// are slow to undo — the module documentation's limitation.)
#[test]
fn per_layer_targets_are_followed_layer_by_layer() {
    let (_, r) = fit(net(1e-4), config(15, "0.9,0.7"));
    let last = r.history.last().unwrap();
    let trace = r.history.iter().map(|h| (&h.sparsity, &h.l1)).collect::<Vec<_>>();
    assert!(last.sparsity[0] > 0.87 && (last.sparsity[1] - 0.7).abs() < 0.08, "{trace:?}");
    assert!(last.sparsity[0] > last.sparsity[1] + 0.1, "{trace:?}");
}

#[test]
fn a_higher_target_needs_a_larger_penalty() {
    let (_, lo) = fit(net(1e-4), config(6, "0.6"));
    let (_, hi) = fit(net(1e-4), config(6, "0.9"));
    let (l_lo, l_hi) = (lo.history.last().unwrap().l1[0], hi.history.last().unwrap().l1[0]);
    assert!(l_hi > 3.0 * l_lo, "λ for 90 % {l_hi} vs for 60 % {l_lo}");
}

#[test]
fn without_a_target_lambda_stays() {
    let cfg = TrainConfig { target_sparsity: None, ..config(2, "0.5") };
    let (n, r) = fit(net(1e-3), cfg);
    assert!(r.history.iter().all(|h| h.l1 == vec![1e-3, 1e-3]));
    assert!(n.spec().hidden.iter().all(|l| l.l1 == 1e-3));
}

#[test]
fn per_layer_targets_must_match_the_layers() {
    let (tr, va) = (blobs(50, 1), blobs(20, 2));
    let e = Trainer::new(config(1, "0.9,0.8,0.7")).unwrap().fit(&mut net(1e-3), &tr, Some(&va), &mut Silent).unwrap_err();
    assert!(e.to_string().contains("3 per-layer targets for 2 hidden layers"), "{e}");
}

#[test]
fn the_controller_resumes_exactly() {
    // With damping the controller's smoothed sparsity is state too, saved with the run.
    for damping in [0.0, 3.0] {
        let mut cfg = config(3, "0.85");
        cfg.target_sparsity.as_mut().unwrap().damping = damping;
        let (straight, _) = fit(net(1e-3), cfg);
        let (tr, va) = (blobs(800, 1), blobs(200, 2));
        let mut n = net(1e-3);
        let mut t = Trainer::new(cfg).unwrap();
        // 80 batches per epoch: stop inside epoch 3, after a best epoch with another λ was kept.
        assert_eq!(t.fit(&mut n, &tr, Some(&va), &mut StopAfter(200, 0)).unwrap().stop, StopReason::Interrupted);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.safetensors");
        save_training(&path, &n, t.state().unwrap(), t.config()).unwrap();
        let (mut n2, state, cfg2) = load_training(&path).unwrap();
        assert_eq!(n2.spec(), n.spec(), "λ travels with the network");
        Trainer::resume(cfg2, state).unwrap().fit(&mut n2, &tr, Some(&va), &mut Silent).unwrap();
        assert_eq!(n2, straight, "damping {damping}: the resumed run differs (weights or λ)");
    }
}

#[test]
fn damping_eases_lambda_off_while_sparsity_climbs() {
    let mut cfg = config(4, "0.85");
    cfg.target_sparsity.as_mut().unwrap().damping = 0.0;
    let (_, plain) = fit(net_of(&[60], 1e-3), cfg);
    let mut cfg = config(4, "0.85");
    cfg.target_sparsity.as_mut().unwrap().damping = 5.0;
    let (_, damped) = fit(net_of(&[60], 1e-3), cfg);
    let (l_plain, l_damped) = (plain.history[0].l1[0], damped.history[0].l1[0]);
    assert!(damped.history[0].sparsity[0] > 0.0);
    assert!(l_damped < l_plain, "after epoch 1 the damped λ is lower: {l_damped} vs {l_plain}");
}
