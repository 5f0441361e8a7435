//! Weight averaging over epochs (stochastic weight averaging, Izmailov et al. 2018): the running
//! mean of the parameters at the end of every epoch from a chosen epoch on.
//!
//! Minibatch SGD at the paper's batch of 10 leaves a lot of noise in any one epoch's parameters;
//! their mean over several epochs sits nearer the middle of the region SGD wanders in. With
//! [`crate::TrainConfig::average_from`] the trainer validates, early-stops on and keeps the
//! *averaged* network, while SGD itself continues from the current parameters.

use crate::network::Network;

/// The running mean of the epoch-end parameters of `epochs` epochs.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightAverage {
    /// How many epochs' parameters the mean holds (≥ 1).
    pub epochs: usize,
    /// The mean parameters, with the latest epoch's L1 weights and sign vectors.
    pub net: Network,
}

impl WeightAverage {
    /// The mean of one epoch: `net` itself.
    pub fn start(net: &Network) -> Self {
        Self { epochs: 1, net: net.clone() }
    }

    /// Adds an epoch's parameters: `mean ← mean + (θ − mean) / (k + 1)`, layer by layer. The L1
    /// weights become `net`'s (a target-sparsity controller may have moved them).
    ///
    /// # Panics
    /// If `net` is not shaped like the mean.
    pub fn add(&mut self, net: &Network) {
        self.epochs += 1;
        let w = 1.0 / self.epochs as f32;
        let (_, layers) = self.net.parts_mut();
        assert_eq!(layers.len(), net.layers().len(), "weight average: the network changed shape");
        for (mean, now) in layers.iter_mut().zip(net.layers()) {
            assert_eq!(mean.weight.shape(), now.weight.shape(), "weight average: the network changed shape");
            mean.weight.zip_apply(&now.weight, |m, x| *m += (x - *m) * w);
            mean.bias.zip_apply(&now.bias, |m, x| *m += (x - *m) * w);
        }
        for (i, l) in net.spec().hidden.iter().enumerate() {
            self.net.set_l1(i, l.l1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NetworkSpec, OutputKind};
    use relu_core::Activation;
    use relu_core::testing::rng;

    #[test]
    fn the_running_mean_is_the_mean() {
        let spec = NetworkSpec::mlp(4, &[3], Activation::Rectifier, 1e-3, OutputKind::Softmax { classes: 2 });
        let nets: Vec<Network> = (0..3).map(|s| Network::new(spec.clone(), &mut rng(s)).unwrap()).collect();
        let mut avg = WeightAverage::start(&nets[0]);
        avg.add(&nets[1]);
        avg.add(&nets[2]);
        assert_eq!(avg.epochs, 3);
        for (i, l) in avg.net.layers().iter().enumerate() {
            let want = (&nets[0].layers()[i].weight + &nets[1].layers()[i].weight + &nets[2].layers()[i].weight) / 3.0;
            assert!((&l.weight - want).amax() < 1e-6);
            let want = (&nets[0].layers()[i].bias + &nets[1].layers()[i].bias + &nets[2].layers()[i].bias) / 3.0;
            assert!((&l.bias - want).amax() < 1e-6);
        }
        let mut moved = nets[2].clone();
        moved.set_l1(0, 0.5);
        avg.add(&moved);
        assert_eq!(avg.net.spec().hidden[0].l1, 0.5, "the latest λ");
    }
}
