//! Weight averaging (`TrainConfig::average_from`): the kept network is the mean of the epoch-end
//! parameters, SGD itself is unchanged, validation scores the average, and a run resumes exactly.

mod common;

use common::{StopAfter, blobs};

use relu_core::Activation;
use relu_core::testing::rng;
use relu_nn::checkpoint::{load_training, save_training};
use relu_nn::{EpochMetrics, Network, NetworkSpec, Observer, OutputKind, Silent, StopReason, TrainConfig, TrainState, Trainer};

fn net() -> Network {
    Network::new(NetworkSpec::mlp(30, &[40, 40], Activation::Rectifier, 1e-4, OutputKind::Softmax { classes: 4 }), &mut rng(5)).unwrap()
}

/// Records the current parameters at every epoch's end.
#[derive(Default)]
struct Snapshots(Vec<Network>);

impl Observer for Snapshots {
    fn on_epoch(&mut self, _: &EpochMetrics) {}
    fn on_epoch_state(&mut self, net: &Network, _: &TrainState) {
        self.0.push(net.clone());
    }
}

#[test]
fn the_kept_network_is_the_mean_of_the_epoch_ends_and_sgd_is_unchanged() {
    let train = blobs(400, 1);
    let mut plain = net();
    let mut snaps = Snapshots::default();
    Trainer::new(common::config(5)).unwrap().fit(&mut plain, &train, None, &mut snaps).unwrap();
    let mut averaged = net();
    let mut snaps_avg = Snapshots::default();
    let cfg = TrainConfig { average_from: Some(3), ..common::config(5) };
    let r = Trainer::new(cfg).unwrap().fit(&mut averaged, &train, None, &mut snaps_avg).unwrap();
    assert_eq!(snaps.0, snaps_avg.0, "averaging does not change the SGD trajectory");
    assert_eq!(r.history.iter().map(|h| h.averaged_epochs).collect::<Vec<_>>(), [0, 0, 1, 2, 3]);
    // Without validation the average of epochs 3..=5 is kept.
    for (i, l) in averaged.layers().iter().enumerate() {
        let mean = (&snaps.0[2].layers()[i].weight + &snaps.0[3].layers()[i].weight + &snaps.0[4].layers()[i].weight) / 3.0;
        assert!((&l.weight - &mean).amax() < 1e-5, "layer {i}: {}", (&l.weight - &mean).amax());
        assert_ne!(l.weight, snaps.0[4].layers()[i].weight, "not the last epoch's parameters");
    }
    assert_ne!(averaged, plain);
}

#[test]
fn validation_scores_and_keeps_the_average() {
    let (train, valid) = (blobs(400, 1), blobs(200, 2));
    let cfg = TrainConfig { average_from: Some(2), ..common::config(4) };
    let mut n = net();
    let mut snaps = Snapshots::default();
    let r = Trainer::new(cfg).unwrap().fit(&mut n, &train, Some(&valid), &mut snaps).unwrap();
    let best = r.best_epoch.unwrap();
    let mut ws = relu_nn::Workspace::new(&n, Default::default(), Default::default());
    // The kept network's validation error is the one recorded for its epoch, and with averaging
    // from epoch 2 on that network is an average, not any epoch's own parameters.
    assert_eq!(n.evaluate(&valid, 1000, &mut ws).error, r.history[best - 1].valid.as_ref().unwrap().error);
    if best >= 2 {
        assert!(snaps.0.iter().all(|s| *s != n), "an averaged network is kept");
    }
    let own = snaps.0[3].evaluate(&valid, 1000, &mut ws).loss;
    assert_ne!(r.history[3].valid.as_ref().unwrap().loss, own, "epoch 4 is scored on the average, not its own parameters");
}

#[test]
fn an_averaging_run_resumes_exactly() {
    let (train, valid) = (blobs(400, 1), blobs(200, 2));
    let cfg = TrainConfig { average_from: Some(2), ..common::config(4) };
    let mut straight = net();
    Trainer::new(cfg).unwrap().fit(&mut straight, &train, Some(&valid), &mut Silent).unwrap();
    // 40 batches per epoch: stop inside epoch 3, with a two-epoch average to carry over.
    let mut n = net();
    let mut t = Trainer::new(cfg).unwrap();
    assert_eq!(t.fit(&mut n, &train, Some(&valid), &mut StopAfter(100, 0)).unwrap().stop, StopReason::Interrupted);
    assert_eq!(t.state().unwrap().average.as_ref().map(|a| a.epochs), Some(1));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.safetensors");
    save_training(&path, &n, t.state().unwrap(), t.config()).unwrap();
    let (mut n2, state, cfg2) = load_training(&path).unwrap();
    assert_eq!(state.average, t.state().unwrap().average, "the average travels with the state");
    Trainer::resume(cfg2, state).unwrap().fit(&mut n2, &train, Some(&valid), &mut Silent).unwrap();
    assert_eq!(n2, straight);
}

#[test]
fn the_start_epoch_must_be_one_of_the_epochs() {
    for bad in [0, 5] {
        let e = Trainer::new(TrainConfig { average_from: Some(bad), ..common::config(4) }).unwrap_err();
        assert!(e.to_string().contains("weight-averaging start epoch"), "{e}");
    }
}
