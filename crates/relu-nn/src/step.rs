//! One training step, as one path: forward → backward → update.
//!
//! [`Network::sgd_step`] runs the forward pass (keeping each layer's output: a rectifier's active
//! set is the whole backward state), then the backward pass top-down; at each layer the backward
//! pass hands the layer's δ to the optimiser, which updates the layer in place right after the
//! gradient for the layer below was computed with the old weights. For sparse inputs the SGD
//! update is fused with that gradient (one pass over the active weight columns, see
//! `relu_core::kernels::sparse_backward_step`), so no dense gradient is ever materialised.
//! [`Network::gradients`] runs the same backward pass with a sink that records the gradients
//! instead.

use crate::backward::{BatchLoss, Gradients, Store, backward};
use crate::network::{ForwardCache, Network, Workspace};
use crate::optim::{self, Sgd, SgdState};
use relu_core::{Features, Targets};

impl Network {
    /// One SGD step on a batch: forward, backward, and the update (fused with the backward pass,
    /// and sparse for every form of SGD), with learning rate `lr`. Returns the batch's loss
    /// before the step. This is the training loop's inner step, for callers who write their own
    /// loop. With momentum or weight decay some columns may owe idle steps afterwards: call
    /// [`SgdState::flush`] before reading or saving the parameters.
    ///
    /// # Panics
    /// If `x` or `targets` do not fit the network (check with [`crate::check_dataset`]).
    pub fn sgd_step(
        &mut self,
        x: &Features,
        targets: &Targets,
        sgd: Sgd,
        lr: f32,
        state: &mut SgdState,
        ws: &mut Workspace,
    ) -> (BatchLoss, ForwardCache) {
        let cache = self.forward_for_step(x, ws, sgd.rule(lr), state);
        let (spec, layers) = self.parts_mut();
        let loss = backward(spec, layers, x, &cache, targets, ws, &mut optim::SgdStep { sgd, lr, state });
        state.end_step();
        (loss, cache)
    }

    /// Gradients of the batch loss (data loss + L1 penalty) with respect to every parameter,
    /// without changing the network.
    pub fn gradients(&self, x: &Features, targets: &Targets, ws: &mut Workspace) -> (Gradients, BatchLoss) {
        let cache = self.forward(x, ws);
        let mut grads = Gradients::new(self.layers().len());
        // The gradient sink only reads the layers: the same backward pass over `&[Layer]`.
        let loss = backward(self.spec(), self.layers(), x, &cache, targets, ws, &mut Store { grads: &mut grads, scale: 1.0 });
        (grads, loss)
    }
}
