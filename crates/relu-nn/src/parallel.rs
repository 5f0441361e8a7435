//! Data-parallel training: the members of a group (processes, e.g. MPI ranks) train one network
//! together, each on its share of every minibatch.
//!
//! Every member holds the whole training set and the same network, and draws the same shuffled
//! order from the run's seed; global batch `b` is the same examples everywhere, and member `r` of
//! `n` takes the contiguous slice `[r·m/n, (r+1)·m/n)` of its `m` examples (input dropout is drawn
//! on the whole batch first, so the masks are the one-process run's). Two ways to keep the
//! members' networks equal ([`DataParallel::sync_every`]):
//!
//! * **Synchronous SGD** (`sync_every = 1`): each member computes the gradient of its slice
//!   (weighted by its share of the batch), the gradients are summed over the group, and every
//!   member applies the same step — the one-process step on the global batch, up to float
//!   reassociation. The cost is one sum of every parameter per step (4 bytes each).
//! * **Local SGD** (`sync_every = K > 1`): each member steps on its slice alone, with the sparse
//!   fused kernels, and the members' parameters (and velocities) are averaged every K batches
//!   and at the end of every epoch. K times less communication; a different optimiser (model
//!   averaging), so results differ from the one-process run's.
//!
//! Per batch a few numbers more are summed (loss, error and active-unit counts, the stop flag),
//! so progress, `--target-sparsity`'s λ and stopping are the group's, identical on every member;
//! the units that fired are merged at the end of each epoch (dead-unit detection and revival
//! see the whole batch). After every epoch all members hold identical parameters, so member 0's
//! checkpoint resumes the whole group.

use relu_core::kernels::apply_gradient;
use relu_core::{Dataset, StepRule};

use crate::backward::{BatchLoss, Gradients, Store, backward};
use crate::dead::Fired;
use crate::network::{ForwardCache, Network, Workspace};
use crate::optim::{Sgd, SgdState};

/// A fixed group of members that can sum numbers across all of them: all that data-parallel
/// training needs. relu-cli implements it over MPI (its `mpi` feature); [`Solo`] is the group of
/// one.
///
/// Every member must make the same calls in the same order with the same lengths, and a sum
/// must come out bit-identical on every member (MPI's allreduce does, for a fixed group and
/// length), since each member then applies it to its own copy of the network. `Send`: training
/// runs on a worker thread of the kernels' thread pool.
pub trait Collective: Send {
    /// This member's index in `0..size()`. Member 0 is the one that writes files.
    fn rank(&self) -> usize;
    /// How many members the group has (at least 1).
    fn size(&self) -> usize;
    /// Replaces `values` on every member with the element-wise sum over the members.
    fn sum_f32(&mut self, values: &mut [f32]);
    /// Writes into `sum` the element-wise sum over the members of their `values` (same
    /// lengths). The default copies and calls [`Collective::sum_f32`]; an implementation with a
    /// two-buffer reduction (MPI's allreduce) saves that pass over the parameters.
    fn sum_f32_into(&mut self, values: &[f32], sum: &mut [f32]) {
        sum.copy_from_slice(values);
        self.sum_f32(sum);
    }
    /// As [`Collective::sum_f32`], for `f64`.
    fn sum_f64(&mut self, values: &mut [f64]);
}

/// The group of one process: sums are the values themselves.
#[derive(Debug, Clone, Copy, Default)]
pub struct Solo;

impl Collective for Solo {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn sum_f32(&mut self, _: &mut [f32]) {}
    fn sum_f64(&mut self, _: &mut [f64]) {}
}

/// How a data-parallel run communicates: the group, and how often the members synchronise.
pub struct DataParallel<'a> {
    /// The members.
    pub group: &'a mut dyn Collective,
    /// 1: synchronous SGD (gradients summed every batch); K > 1: local SGD, parameters averaged
    /// every K batches and at every epoch's end (see the [module docs](self)).
    pub sync_every: usize,
}

impl std::fmt::Debug for DataParallel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataParallel")
            .field("rank", &self.group.rank())
            .field("size", &self.group.size())
            .field("sync_every", &self.sync_every)
            .finish()
    }
}

/// What one data-parallel step reports to the training loop.
pub(crate) struct SharedStep {
    /// The group's loss on the whole global batch.
    pub(crate) loss: BatchLoss,
    /// Per hidden layer: non-zero outputs over the whole global batch.
    pub(crate) active: Vec<usize>,
    /// This member's forward pass on its slice (`None` for an empty slice).
    pub(crate) cache: Option<ForwardCache>,
    /// Whether some member asked to stop, at a point where every member holds the same network.
    pub(crate) stop: bool,
}

/// One member's side of a data-parallel run: the group and the gradient buffers.
pub(crate) struct Member<'p, 'a> {
    par: &'p mut DataParallel<'a>,
    /// This member's weighted gradients, and their sum over the group (synchronous SGD only).
    grads: Gradients,
    summed: Gradients,
}

impl<'p, 'a> Member<'p, 'a> {
    pub(crate) fn new(par: &'p mut DataParallel<'a>, net: &Network) -> Self {
        let (grads, summed) = match par.sync_every {
            1 => (Gradients::zeros_like(net), Gradients::zeros_like(net)),
            _ => (Gradients::new(0), Gradients::new(0)),
        };
        Self { par, grads, summed }
    }

    /// This member's slice of a batch of `m` examples.
    pub(crate) fn slice(&self, m: usize) -> std::ops::Range<usize> {
        let (r, n) = (self.par.group.rank(), self.par.group.size());
        r * m / n..(r + 1) * m / n
    }

    /// One step on global batch `batch` (0-based) of `batches`, of `m` examples of which
    /// `local` is this member's [`Member::slice`]. `stop_asked`: this member's observer wants
    /// to stop.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn step(
        &mut self,
        net: &mut Network,
        local: &Dataset,
        m: usize,
        sgd: Sgd,
        lr: f32,
        state: &mut SgdState,
        ws: &mut Workspace,
        (batch, batches): (usize, usize),
        stop_asked: bool,
    ) -> SharedStep {
        let synchronous = self.par.sync_every == 1;
        let (loss, cache) = match (local.is_empty(), synchronous) {
            (true, _) => {
                self.grads.weights.iter_mut().for_each(|g| g.fill(0.0));
                self.grads.biases.iter_mut().for_each(|g| g.fill(0.0));
                (BatchLoss::default(), None)
            }
            (false, true) => {
                let cache = net.forward(&local.inputs, ws);
                let share = local.len() as f32 / m as f32;
                let loss = backward(
                    net.spec(),
                    net.layers(),
                    &local.inputs,
                    &cache,
                    &local.targets,
                    ws,
                    &mut Store { grads: &mut self.grads, scale: share },
                );
                (loss, Some(cache))
            }
            (false, false) => {
                let (loss, cache) = net.sgd_step(&local.inputs, &local.targets, sgd, lr, state, ws);
                (loss, Some(cache))
            }
        };
        // The group's totals: loss, errors, examples, active units, the stop flag. A member whose
        // own step went non-finite (local SGD) makes the group's loss NaN, so every member
        // stops with the same error.
        let bad = !synchronous && net.layers().iter().any(|l| !l.bias.iter().all(|v| v.is_finite()));
        let active: Vec<f64> =
            cache.as_ref().map_or_else(|| vec![0.0; net.spec().hidden.len()], |c| c.hidden.iter().map(|h| h.active as f64).collect());
        let ex = loss.examples as f64;
        let mut totals = vec![
            if bad { f64::NAN } else { loss.data * ex },
            loss.penalty * ex,
            loss.errors as f64,
            loss.squared_error,
            ex,
            f64::from(u8::from(stop_asked)),
        ];
        totals.extend(active);
        self.par.group.sum_f64(&mut totals);
        let examples = totals[4].round() as usize;
        let per = |v: f64| if examples == 0 { 0.0 } else { v / examples as f64 };
        let group_loss = BatchLoss {
            data: per(totals[0]),
            penalty: per(totals[1]),
            errors: totals[2].round() as usize,
            squared_error: totals[3],
            examples,
        };
        let stop_flag = totals[5] > 0.0;
        let active = totals[6..].iter().map(|&a| a.round() as usize).collect();
        let stop = if synchronous {
            self.apply_summed(net, sgd, lr, state);
            stop_flag
        } else {
            // A stop waits for the next synchronisation point, so the members' networks agree
            // and a resumed run continues exactly.
            let sync = (batch + 1) % self.par.sync_every == 0 || batch + 1 == batches;
            if sync {
                self.average(net, state);
            }
            stop_flag && sync
        };
        SharedStep { loss: group_loss, active, cache, stop }
    }

    /// Synchronous SGD: sums the members' weighted gradients over the group and applies the
    /// step (the one every member applies).
    fn apply_summed(&mut self, net: &mut Network, sgd: Sgd, lr: f32, state: &mut SgdState) {
        // Biases are not decayed, as in the one-process step.
        let (rule, bias_rule) = (sgd.rule(lr), StepRule::sgd(lr, 0.0, sgd.momentum));
        if sgd.momentum > 0.0 && state.velocity.len() != net.layers().len() {
            *state = SgdState::new(net, sgd);
        }
        let (_, layers) = net.parts_mut();
        for (i, layer) in layers.iter_mut().enumerate() {
            let (g, gb) = (&mut self.summed.weights[i], &mut self.summed.biases[i]);
            self.par.group.sum_f32_into(self.grads.weights[i].as_slice(), g.as_mut_slice());
            self.par.group.sum_f32_into(self.grads.biases[i].as_slice(), gb.as_mut_slice());
            let (v, vb) = match state.velocity.get_mut(i) {
                Some((v, vb)) => (Some(v.as_mut_slice()), Some(vb.as_mut_slice())),
                None => (None, None),
            };
            apply_gradient(rule, layer.weight.as_mut_slice(), v, g.as_slice());
            apply_gradient(bias_rule, layer.bias.as_mut_slice(), vb, gb.as_slice());
        }
    }

    /// Local SGD: every member's parameters and velocities become the group's mean.
    fn average(&mut self, net: &mut Network, state: &mut SgdState) {
        state.flush(net);
        let inv = 1.0 / self.par.group.size() as f32;
        let mut mean = |m: &mut [f32]| {
            self.par.group.sum_f32(m);
            m.iter_mut().for_each(|x| *x *= inv);
        };
        let (_, layers) = net.parts_mut();
        for layer in layers.iter_mut() {
            mean(layer.weight.as_mut_slice());
            mean(layer.bias.as_mut_slice());
        }
        for (v, vb) in &mut state.velocity {
            mean(v.as_mut_slice());
            mean(vb.as_mut_slice());
        }
    }

    /// At an epoch's end: merges the units that fired on any member, and combines the members'
    /// end-of-epoch flags (any member's `true` is everyone's).
    pub(crate) fn end_epoch<const N: usize>(&mut self, fired: &mut Fired, units: &[usize], flags: [bool; N]) -> [bool; N] {
        let mut v = fired.flags(units);
        v.extend(flags.map(|f| f64::from(u8::from(f))));
        self.par.group.sum_f64(&mut v);
        let (bits, rest) = v.split_at(v.len() - N);
        fired.merge_flags(bits, units);
        std::array::from_fn(|k| rest[k] > 0.0)
    }
}

/// Bytes one member sends per synchronisation of a network of `parameters` parameters: every
/// parameter as `f32`, and for local SGD (`sync_every > 1`) with momentum every velocity too.
pub fn bytes_per_sync(parameters: usize, momentum: f32, sync_every: usize) -> usize {
    let copies = if sync_every > 1 && momentum > 0.0 { 2 } else { 1 };
    4 * parameters * copies
}

#[cfg(test)]
mod tests {
    #[test]
    fn bytes_per_sync_counts_parameters_and_averaged_velocities() {
        // The paper's MNIST network: 2,797,010 parameters.
        assert_eq!(super::bytes_per_sync(2_797_010, 0.9, 1), 11_188_040);
        assert_eq!(super::bytes_per_sync(2_797_010, 0.0, 8), 11_188_040);
        assert_eq!(super::bytes_per_sync(2_797_010, 0.9, 8), 22_376_080);
    }
}
