//! Data-parallel training over an in-process group of threads (the same contract relu-cli's MPI
//! group fulfils): synchronous SGD equals the one-process run up to float reassociation, local
//! SGD keeps every member's network identical, and both stop and resume together.

mod common;

use std::sync::{Arc, Barrier, Mutex};

use common::{StopAfter, blobs};
use relu_core::Activation;
use relu_core::testing::rng;
use relu_nn::parallel::{Collective, DataParallel};
use relu_nn::{Dataset, Network, NetworkSpec, Observer, OutputKind, Sgd, Silent, StopReason, TrainConfig, TrainReport, Trainer};

/// Members that deposit their values, wait for each other and all sum the deposits in rank
/// order (so every member gets the same bits, as MPI's allreduce gives).
struct Threads {
    rank: usize,
    size: usize,
    slots: Arc<Mutex<Vec<Vec<f64>>>>,
    barrier: Arc<Barrier>,
    calls: usize,
}

impl Threads {
    fn group(size: usize) -> Vec<Threads> {
        let slots = Arc::new(Mutex::new(vec![Vec::new(); size]));
        let barrier = Arc::new(Barrier::new(size));
        (0..size).map(|rank| Threads { rank, size, slots: slots.clone(), barrier: barrier.clone(), calls: 0 }).collect()
    }

    fn sum(&mut self, values: &[f64]) -> Vec<f64> {
        self.calls += 1;
        self.slots.lock().unwrap()[self.rank] = values.to_vec();
        self.barrier.wait();
        let total = {
            let slots = self.slots.lock().unwrap();
            assert!(slots.iter().all(|s| s.len() == values.len()), "every member sums the same length");
            (0..values.len()).map(|i| slots.iter().map(|s| s[i]).sum()).collect()
        };
        self.barrier.wait();
        total
    }
}

impl Collective for Threads {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn sum_f32(&mut self, values: &mut [f32]) {
        let total = self.sum(&values.iter().map(|&v| f64::from(v)).collect::<Vec<_>>());
        values.iter_mut().zip(total).for_each(|(v, t)| *v = t as f32);
    }
    fn sum_f64(&mut self, values: &mut [f64]) {
        let total = self.sum(values);
        values.copy_from_slice(&total);
    }
}

fn net() -> Network {
    Network::new(NetworkSpec::mlp(30, &[40, 40], Activation::Rectifier, 1e-3, OutputKind::Softmax { classes: 4 }), &mut rng(5)).unwrap()
}

fn data() -> (Dataset, Dataset) {
    (blobs(400, 1), blobs(100, 2))
}

/// Trains `size` members from `start` (with `make_observer`'s observer each), returning each
/// member's network, report and trainer.
fn group_fit(
    size: usize,
    sync_every: usize,
    config: TrainConfig,
    start: Vec<(Network, Trainer)>,
    make_observer: impl Fn() -> Box<dyn Observer + Send> + Sync,
) -> Vec<(Network, TrainReport, Trainer)> {
    let (train, valid) = data();
    std::thread::scope(|s| {
        let handles: Vec<_> = Threads::group(size)
            .into_iter()
            .zip(start)
            .map(|(mut member, (mut net, mut trainer))| {
                let (train, valid, make_observer) = (&train, &valid, &make_observer);
                s.spawn(move || {
                    let mut observer = make_observer();
                    let mut par = DataParallel { group: &mut member, sync_every };
                    let report = trainer.fit_data_parallel(&mut net, train, Some(valid), &mut *observer, &mut par).unwrap();
                    assert_eq!(trainer.config(), &config);
                    (net, report, trainer)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn fresh(size: usize, config: TrainConfig) -> Vec<(Network, Trainer)> {
    (0..size).map(|_| (net(), Trainer::new(config).unwrap())).collect()
}

/// A report's history with the wall-clock fields cleared.
fn without_timing(r: &TrainReport) -> Vec<relu_nn::EpochMetrics> {
    r.history.iter().map(|h| relu_nn::EpochMetrics { seconds: 0.0, examples_per_second: 0.0, ..h.clone() }).collect()
}

fn max_diff(a: &Network, b: &Network) -> f32 {
    a.layers().iter().zip(b.layers()).map(|(x, y)| (&x.weight - &y.weight).amax().max((&x.bias - &y.bias).amax())).fold(0.0, f32::max)
}

#[test]
fn synchronous_sgd_equals_the_one_process_run() {
    // Momentum, weight decay, input dropout, a target sparsity and weight averaging: every part
    // of a step or an epoch's end that the members must agree on. Batch 10 over 3 members splits
    // 3/3/4.
    let config = TrainConfig {
        epochs: 3,
        sgd: Sgd { lr: 0.05, momentum: 0.5, weight_decay: 1e-4, ..Sgd::default() },
        input_dropout: 0.2,
        target_sparsity: Some("0.8".parse().unwrap()),
        average_from: Some(2),
        ..common::config(3)
    };
    let (train, valid) = data();
    let mut solo = net();
    let one = Trainer::new(config).unwrap().fit(&mut solo, &train, Some(&valid), &mut Silent).unwrap();
    assert_eq!(one.history.iter().map(|h| h.averaged_epochs).collect::<Vec<_>>(), [0, 1, 2]);
    for size in [2, 3] {
        let members = group_fit(size, 1, config, fresh(size, config), || Box::new(Silent));
        for (rank, (n, report, _)) in members.iter().enumerate() {
            assert_eq!(max_diff(n, &members[0].0), 0.0, "{size} members: member {rank} differs from member 0");
            assert_eq!(report.history.len(), one.history.len());
            let d = max_diff(n, &solo);
            assert!(d < 2e-4, "{size} members: parameters differ from the one-process run by {d}");
            assert!(d > 0.0 || size == 1, "the group really computed its own gradients");
            for (h, o) in report.history.iter().zip(&one.history) {
                assert!((h.train_loss - o.train_loss).abs() < 1e-4, "epoch {}: loss {} vs {}", h.epoch, h.train_loss, o.train_loss);
                let close = |a: f64, b: f64| (a - b).abs() < 1e-3 * (1.0 + b.abs());
                assert!(
                    h.sparsity.iter().zip(&o.sparsity).all(|(&a, &b)| close(a, b)),
                    "epoch {}: sparsity {:?} vs {:?}",
                    h.epoch,
                    h.sparsity,
                    o.sparsity
                );
                assert!(h.l1.iter().zip(&o.l1).all(|(&a, &b)| close(a.into(), b.into())), "epoch {}: λ {:?} vs {:?}", h.epoch, h.l1, o.l1);
                assert_eq!(h.valid.as_ref().unwrap().error, o.valid.as_ref().unwrap().error);
                assert_eq!(h.dead_units, o.dead_units, "epoch {}: the members merged the units that fired", h.epoch);
                assert_eq!(h.averaged_epochs, o.averaged_epochs);
            }
        }
    }
}

#[test]
fn local_sgd_keeps_the_members_identical_and_learns() {
    let config = TrainConfig { sgd: Sgd { lr: 0.05, momentum: 0.5, ..Sgd::default() }, ..common::config(4) };
    let members = group_fit(2, 4, config, fresh(2, config), || Box::new(Silent));
    let (n0, r0, _) = &members[0];
    assert_eq!(max_diff(&members[1].0, n0), 0.0, "members agree after the last average");
    assert_eq!(without_timing(&members[1].1), without_timing(r0), "and report the same");
    let last = r0.history.last().unwrap();
    assert!(last.valid.as_ref().unwrap().error.unwrap() < 0.1, "local SGD learns the blobs: {last:?}");
    assert!(last.train_loss < r0.history[0].train_loss);
}

#[test]
fn a_group_stops_together_and_resumes_exactly() {
    for sync_every in [1, 3] {
        let config = common::config(3);
        let whole = group_fit(2, sync_every, config, fresh(2, config), || Box::new(Silent));
        // Member 1's observer alone asks to stop after 7 batches: both stop at the same batch
        // (for local SGD, the next averaging point) and resume from member 0's state.
        let stopped = group_fit(2, sync_every, config, fresh(2, config), || Box::new(StopAfter(7, 0)));
        for (_, r, _) in &stopped {
            assert_eq!(r.stop, StopReason::Interrupted, "sync every {sync_every}");
        }
        let (n0, _, t0) = &stopped[0];
        let state = t0.state().unwrap().clone();
        assert_eq!(state.completed_epochs, 0);
        let batch = state.next_batch;
        assert!(batch >= 8 && batch % sync_every == 0, "sync every {sync_every}: stopped before batch {batch}");
        assert_eq!(max_diff(&stopped[1].0, n0), 0.0);
        let again = (0..2).map(|_| (n0.clone(), Trainer::resume(config, state.clone()).unwrap())).collect();
        let resumed = group_fit(2, sync_every, config, again, || Box::new(Silent));
        assert_eq!(max_diff(&resumed[0].0, &whole[0].0), 0.0, "sync every {sync_every}: resumed = uninterrupted");
        assert_eq!(without_timing(&resumed[0].1), without_timing(&whole[0].1), "sync every {sync_every}: the same history");
    }
}

#[test]
fn bad_settings_are_refused() {
    let mut group = relu_nn::parallel::Solo;
    let mut par = DataParallel { group: &mut group, sync_every: 0 };
    let (train, _) = data();
    let e = Trainer::new(common::config(1)).unwrap().fit_data_parallel(&mut net(), &train, None, &mut Silent, &mut par).unwrap_err();
    assert!(e.to_string().contains("synchronisation interval"), "{e}");
}
