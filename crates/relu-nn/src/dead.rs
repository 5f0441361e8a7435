//! Dead units: hidden units that output exactly zero on every training example of an epoch, and
//! what training does about them ([`DeadUnits`]).
//!
//! A rectifier unit whose pre-activation is negative on every input gets no gradient and stays
//! dead for good. The paper names this as the rectifier's risk; on small text data after
//! pre-training, hundreds of a layer's units end up dead. [`DeadUnits::Revive`] gives such a
//! unit new, seeded Glorot-uniform incoming weights and a zero bias, and zeroes its outgoing
//! weights: the network computes the same function right after the revival (the unit's output
//! is multiplied by zeros), but the unit can learn again.

use nalgebra::DMatrix;
use rand::Rng;
use relu_core::Features;
use serde::{Deserialize, Serialize};

use crate::error::{NnError, Result, invalid};
use crate::network::Network;
use crate::optim::SgdState;

/// What training does with units that were zero on every training example of an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeadUnits {
    /// Count them per epoch ([`crate::EpochMetrics::dead_units`]) and leave them (the default).
    #[default]
    Report,
    /// Count them, then re-initialise each one's incoming weights (Glorot-uniform, seeded by
    /// the run's seed and the epoch) and bias (0) and zero its outgoing weights.
    Revive,
}

impl std::str::FromStr for DeadUnits {
    type Err = NnError;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "report" => Ok(Self::Report),
            "revive" => Ok(Self::Revive),
            _ => Err(invalid("dead-unit policy", s, "report or revive")),
        }
    }
}

impl std::fmt::Display for DeadUnits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Report => "report",
            Self::Revive => "revive",
        })
    }
}

/// Which units of each hidden layer have been non-zero at least once: one bit per unit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Fired {
    /// Per hidden layer: 64 units per word.
    words: Vec<Vec<u64>>,
    /// Per hidden layer: how many bits are set (a full layer is skipped).
    set: Vec<usize>,
}

impl Fired {
    /// Nothing fired yet, for layers of `units` units.
    pub(crate) fn new(units: &[usize]) -> Self {
        Self { words: units.iter().map(|&u| vec![0; u.div_ceil(64)]).collect(), set: vec![0; units.len()] }
    }

    /// Whether this tracker is shaped for layers of `units` units.
    pub(crate) fn fits(&self, units: &[usize]) -> bool {
        self.words.len() == units.len()
            && self.set.len() == units.len()
            && self.words.iter().zip(units).all(|(w, &u)| w.len() == u.div_ceil(64))
            && self.set.iter().zip(units).all(|(&s, &u)| s <= u)
    }

    /// Marks the units that are non-zero somewhere in `output`, layer `layer`'s output on a batch.
    pub(crate) fn add(&mut self, layer: usize, output: &Features) {
        let units = output.dim();
        if self.set[layer] == units {
            return;
        }
        let words = &mut self.words[layer];
        let mut mark = |u: usize| {
            let (w, b) = (u / 64, 1u64 << (u % 64));
            if words[w] & b == 0 {
                words[w] |= b;
                self.set[layer] += 1;
            }
        };
        match output {
            Features::Sparse(s) => s.indices().iter().for_each(|&u| mark(u as usize)),
            Features::Dense(m) => {
                for col in m.column_iter() {
                    col.iter().enumerate().filter(|(_, v)| **v != 0.0).for_each(|(u, _)| mark(u));
                }
            }
        }
    }

    /// One 0/1 flag per unit (layer after layer): whether it fired, to be summed over the
    /// members of a data-parallel run.
    pub(crate) fn flags(&self, units: &[usize]) -> Vec<f64> {
        self.words
            .iter()
            .zip(units)
            .flat_map(|(w, &n)| (0..n).map(move |u| f64::from(u8::from(w[u / 64] & (1 << (u % 64)) != 0))))
            .collect()
    }

    /// Marks every unit whose flag (as [`Fired::flags`] lays them out) is positive.
    pub(crate) fn merge_flags(&mut self, flags: &[f64], units: &[usize]) {
        let mut at = 0;
        for (l, &n) in units.iter().enumerate() {
            for u in 0..n {
                let (w, b) = (u / 64, 1u64 << (u % 64));
                if flags[at + u] > 0.0 && self.words[l][w] & b == 0 {
                    self.words[l][w] |= b;
                    self.set[l] += 1;
                }
            }
            at += n;
        }
    }

    /// Per hidden layer, the units that never fired, ascending.
    pub(crate) fn dead(&self, units: &[usize]) -> Vec<Vec<usize>> {
        self.words.iter().zip(units).map(|(w, &n)| (0..n).filter(|&u| w[u / 64] & (1 << (u % 64)) == 0).collect()).collect()
    }
}

impl Network {
    /// Revives the units `units` of hidden layer `layer` (0-based): new Glorot-uniform incoming
    /// weights drawn from `rng` (every affine piece of a maxout unit), bias 0, and zero outgoing
    /// weights in the layer above, so the network's outputs do not change. Returns the number
    /// revived.
    ///
    /// # Panics
    /// If `layer` is not a hidden layer or a unit index is out of range.
    #[track_caller]
    pub fn revive_units(&mut self, layer: usize, units: &[usize], rng: &mut impl Rng) -> usize {
        let spec = self.spec().hidden[layer];
        let pieces = spec.kind.pieces();
        let fan_in = self.layers()[layer].weight.ncols();
        let fresh = relu_core::random::glorot_uniform(units.len() * pieces, fan_in, fan_in, spec.units, rng);
        let (_, layers) = self.parts_mut();
        let (below, above) = layers.split_at_mut(layer + 1);
        let (this, next) = (&mut below[layer], &mut above[0]);
        for (k, &u) in units.iter().enumerate() {
            assert!(u < spec.units, "revive_units: unit {u} of a layer of {} units", spec.units);
            for p in 0..pieces {
                let row = u * pieces + p;
                this.weight.row_mut(row).copy_from(&fresh.row(k * pieces + p));
                this.bias[row] = 0.0;
            }
            next.weight.column_mut(u).fill(0.0);
        }
        units.len()
    }
}

/// Revives every dead unit of `dead` (per hidden layer) and zeroes its momentum, with noise of
/// its own seeded stream per (seed, epoch), so a resumed run revives the same way; returns the
/// counts per layer.
pub(crate) fn revive(net: &mut Network, sgd: &mut SgdState, dead: &[Vec<usize>], seed: u64, epoch: usize) -> Vec<usize> {
    let mut rng = relu_core::seeded_rng(seed ^ 0x2E71_DEAD_0417_0002);
    rng.set_stream(epoch as u64);
    dead.iter()
        .enumerate()
        .map(|(l, units)| {
            if units.is_empty() {
                return 0;
            }
            reset_velocity(&mut sgd.velocity, l, net.spec().hidden[l].kind.pieces(), units);
            net.revive_units(l, units, &mut rng)
        })
        .collect()
}

/// Zeroes the momentum of revived units (their incoming rows and outgoing columns).
fn reset_velocity(velocity: &mut [(DMatrix<f32>, nalgebra::DVector<f32>)], layer: usize, pieces: usize, units: &[usize]) {
    if velocity.is_empty() {
        return;
    }
    for &u in units {
        for p in 0..pieces {
            velocity[layer].0.row_mut(u * pieces + p).fill(0.0);
            velocity[layer].1[u * pieces + p] = 0.0;
        }
        velocity[layer + 1].0.column_mut(u).fill(0.0);
    }
}
