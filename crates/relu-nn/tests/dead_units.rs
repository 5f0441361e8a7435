//! Dead units: counted per epoch, revived without changing the network's function, reproducible
//! across an interruption.

mod common;

use common::{StopAfter, blobs};

use nalgebra::DMatrix;
use relu_core::testing::rng;
use relu_core::{Activation, DispatchMode};
use relu_nn::checkpoint::{load_training, save_training};
use relu_nn::{DeadUnits, Features, Network, NetworkSpec, OutputKind, Sgd, Silent, StopReason, TrainConfig, Trainer, Workspace};

/// The units killed in [`killed_net`]: (hidden layer, unit).
const KILLED: [(usize, usize); 5] = [(0, 2), (0, 7), (0, 31), (1, 0), (1, 19)];

/// A 30-40-40-4 rectifier network in which the units of [`KILLED`] have a bias of −1000: zero on
/// every input for good (no gradient reaches them).
fn killed_net(kind: relu_nn::HiddenKind) -> Network {
    let layers = (0..2).map(|_| relu_nn::LayerSpec { units: 40, kind, l1: 1e-3, sign_flip: false }).collect();
    let spec = NetworkSpec { inputs: 30, hidden: layers, output: OutputKind::Softmax { classes: 4 } };
    let net = Network::new(spec.clone(), &mut rng(5)).unwrap();
    let mut layers: Vec<relu_nn::Layer> = net.layers().to_vec();
    let pieces = layers[0].weight.nrows() / 40;
    for (l, u) in KILLED {
        for p in 0..pieces {
            layers[l].bias[u * pieces + p] = -1000.0;
        }
    }
    Network::from_parts(spec, layers).unwrap()
}

fn affine() -> relu_nn::HiddenKind {
    relu_nn::HiddenKind::Affine { activation: Activation::Rectifier }
}

fn config(epochs: usize, dead_units: DeadUnits) -> TrainConfig {
    TrainConfig { dead_units, ..common::config(epochs) }
}

fn outputs(net: &Network, x: &Features) -> DMatrix<f32> {
    net.forward(x, &mut Workspace::new(net, DispatchMode::Auto, Default::default())).output
}

#[test]
fn revived_units_change_nothing_the_network_computes() {
    for kind in [affine(), relu_nn::HiddenKind::Maxout { pieces: 3 }] {
        let x = blobs(200, 1).inputs;
        let mut net = killed_net(kind);
        let before = outputs(&net, &x);
        let old = net.clone();
        let pieces = net.layers()[0].weight.nrows() / 40;
        assert_eq!(net.revive_units(0, &[2, 7, 31], &mut rng(3)), 3);
        assert_eq!(net.revive_units(1, &[0, 19], &mut rng(4)), 2);
        // A killed rectifier unit outputs 0 everywhere, so zeroing its outgoing weights changes
        // nothing; a maxout unit is never exactly zero (its bias only shifts it), so only the
        // mechanics are checked for maxout.
        if kind == affine() {
            assert_eq!(outputs(&net, &x), before, "the function changed");
        }
        let limit = (6.0f32 / 70.0).sqrt();
        for (l, u) in KILLED {
            for p in 0..pieces {
                let row = u * pieces + p;
                assert_eq!(net.layers()[l].bias[row], 0.0);
                assert_ne!(net.layers()[l].weight.row(row), old.layers()[l].weight.row(row), "new incoming weights");
                assert!(net.layers()[l].weight.row(row).iter().all(|w| w.abs() <= limit * 1.0001), "Glorot range");
            }
            // Outgoing weights are zero, except into units revived in the layer above (whose own
            // outgoing weights are zero, so the function still does not change).
            let revived_above: Vec<usize> =
                KILLED.iter().filter(|(k, _)| *k == l + 1).flat_map(|&(_, v)| v * pieces..(v + 1) * pieces).collect();
            let out = net.layers()[l + 1].weight.column(u);
            assert!(out.iter().enumerate().all(|(r, &w)| w == 0.0 || revived_above.contains(&r)), "outgoing weights zeroed");
        }
        // Every other parameter is untouched.
        for other in [1, 3, 30, 39] {
            assert_eq!(net.layers()[0].weight.row(other * pieces), old.layers()[0].weight.row(other * pieces));
        }
    }
}

/// Per epoch: (dead units per layer, revived per layer).
type DeadPerEpoch = Vec<(Vec<usize>, Vec<usize>)>;

fn dead_history(cfg: TrainConfig) -> (DeadPerEpoch, Network) {
    let (tr, va) = (blobs(600, 1), blobs(200, 2));
    let mut net = killed_net(affine());
    let r = Trainer::new(cfg).unwrap().fit(&mut net, &tr, Some(&va), &mut Silent).unwrap();
    (r.history.iter().map(|h| (h.dead_units.clone(), h.revived.clone())).collect(), net)
}

#[test]
fn dead_units_are_counted_and_revive_brings_them_back() {
    let (report, _) = dead_history(config(3, DeadUnits::Report));
    for (dead, revived) in &report {
        // At least the killed units; a bias of −1000 never recovers.
        assert!(dead[0] >= 3 && dead[1] >= 2, "{report:?}");
        assert!(revived.is_empty());
    }
    let (revive, net) = dead_history(config(3, DeadUnits::Revive));
    let (dead1, revived1) = &revive[0];
    assert_eq!(dead1, &report[0].0, "epoch 1 is the same run until its end");
    assert_eq!(revived1, dead1, "every dead unit revived");
    let (last_dead, _) = revive.last().unwrap();
    assert!(last_dead.iter().sum::<usize>() < dead1.iter().sum::<usize>(), "{revive:?}");
    for (l, u) in KILLED {
        assert!(net.layers()[l].bias[u] > -1.0, "unit {u} of layer {l} still has its killing bias");
    }
}

#[test]
fn revival_resumes_exactly() {
    for momentum in [0.0, 0.5] {
        let cfg = TrainConfig { sgd: Sgd { lr: 0.05, momentum, ..Sgd::default() }, ..config(3, DeadUnits::Revive) };
        let (tr, va) = (blobs(600, 1), blobs(200, 2));
        let mut straight = killed_net(affine());
        Trainer::new(cfg).unwrap().fit(&mut straight, &tr, Some(&va), &mut Silent).unwrap();
        // Stop in epoch 2 (60 batches per epoch), after a revival; save, load, resume.
        let mut net = killed_net(affine());
        let mut t = Trainer::new(cfg).unwrap();
        assert_eq!(t.fit(&mut net, &tr, Some(&va), &mut StopAfter(85, 0)).unwrap().stop, StopReason::Interrupted);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train_state.safetensors");
        save_training(&path, &net, t.state().unwrap(), t.config()).unwrap();
        let (mut net2, state, cfg2) = load_training(&path).unwrap();
        assert_eq!(cfg2, cfg);
        let r = Trainer::resume(cfg2, state).unwrap().fit(&mut net2, &tr, Some(&va), &mut Silent).unwrap();
        assert_eq!(r.history.len(), 3);
        assert_eq!(net2, straight, "momentum {momentum}: the resumed run revived differently");
    }
}

#[test]
fn a_dead_layer_is_revived_instead_of_stopping() {
    // Every unit of layer 2 killed: Report stops with DeadLayer, Revive carries on.
    let spec = NetworkSpec::mlp(30, &[40, 40], Activation::Rectifier, 0.0, OutputKind::Softmax { classes: 4 });
    let net = Network::new(spec.clone(), &mut rng(5)).unwrap();
    let mut layers = net.layers().to_vec();
    layers[1].bias.fill(-1000.0);
    let dead = Network::from_parts(spec, layers).unwrap();
    let (tr, va) = (blobs(300, 1), blobs(100, 2));
    let e = Trainer::new(config(2, DeadUnits::Report)).unwrap().fit(&mut dead.clone(), &tr, Some(&va), &mut Silent).unwrap_err();
    assert!(matches!(e, relu_nn::NnError::DeadLayer { .. }), "{e}");
    let mut n = dead.clone();
    let r = Trainer::new(config(4, DeadUnits::Revive)).unwrap().fit(&mut n, &tr, Some(&va), &mut Silent).unwrap();
    assert_eq!(r.history[0].revived, vec![0, 40]);
    assert!(r.history.last().unwrap().dead_units[1] < 40, "{:?}", r.history.iter().map(|h| &h.dead_units).collect::<Vec<_>>());
}

#[test]
fn policies_parse_and_print() {
    for p in [DeadUnits::Report, DeadUnits::Revive] {
        assert_eq!(p.to_string().parse::<DeadUnits>().unwrap(), p);
    }
    assert!("resurrect".parse::<DeadUnits>().unwrap_err().to_string().contains("report or revive"));
    assert_eq!(DeadUnits::default(), DeadUnits::Report);
}
