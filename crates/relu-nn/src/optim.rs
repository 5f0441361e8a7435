//! Stochastic gradient descent: plain (the paper's), with momentum, with weight decay — all sparse
//! (how momentum and decay stay sparse: [`SgdState`]).

use nalgebra::{DMatrix, DVector};
use relu_core::kernels::catch_up_columns;
use relu_core::{ColumnMap, Dispatch, DispatchMode, KernelPath, StepRule, Touched, UnitMajor};
use serde::{Deserialize, Serialize};

use crate::backward::{Update, add_outer};
use crate::error::{Result, invalid};
use crate::network::{Layer, Network};
use relu_core::Features;

/// SGD hyper-parameters.
///
/// Every form is sparse: a step computes gradients only for the weight columns of inputs active
/// in the batch; with momentum or weight decay the other columns' idle steps are applied lazily,
/// exactly up to rounding (see [`SgdState`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sgd {
    /// Learning rate (default 0.01).
    pub lr: f32,
    /// Momentum μ in `v ← μ·v − lr·g; W ← W + v` (default 0).
    pub momentum: f32,
    /// L2 weight decay added to weight gradients, not biases (default 0).
    pub weight_decay: f32,
    /// How the learning rate changes from epoch to epoch (default: constant, as in the paper).
    #[serde(default)]
    pub schedule: LrSchedule,
}

impl Default for Sgd {
    fn default() -> Self {
        Self { lr: 0.01, momentum: 0.0, weight_decay: 0.0, schedule: LrSchedule::Constant }
    }
}

/// The learning rate of each epoch, as a multiple of [`Sgd::lr`]: epoch `t` counts from 1 and
/// `T` is the run's maximum number of epochs ([`crate::TrainConfig::epochs`]). The rate changes
/// between epochs, never inside one, so a resumed run uses the same rates.
///
/// Written (flags, TOML, model metadata) as `constant`, `inverse:D`, `step:E:F` or
/// `cosine[:FLOOR]`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum LrSchedule {
    /// The same rate every epoch (the paper's protocol).
    #[default]
    Constant,
    /// `lr / (1 + decay·(t − 1))`: 1/t decay.
    Inverse {
        /// The decay per epoch (> 0).
        decay: f32,
    },
    /// `lr · factor^⌊(t − 1) / every⌋`: multiplied by `factor` every `every` epochs.
    Step {
        /// Epochs between steps (≥ 1).
        every: usize,
        /// The multiplier at each step, in (0, 1].
        factor: f32,
    },
    /// `lr · (floor + (1 − floor)·(1 + cos(π·(t − 1)/T))/2)`: half a cosine from `lr` at epoch 1
    /// towards `floor·lr` after the last epoch.
    Cosine {
        /// The fraction of `lr` the curve ends at, in [0, 1) (default 0).
        floor: f32,
    },
}

impl LrSchedule {
    /// The multiple of the base rate for 1-based epoch `epoch` of a run of at most `epochs`.
    pub fn factor(self, epoch: usize, epochs: usize) -> f32 {
        let t = epoch.saturating_sub(1) as f32;
        match self {
            Self::Constant => 1.0,
            Self::Inverse { decay } => 1.0 / (1.0 + decay * t),
            Self::Step { every, factor } => factor.powi((epoch.saturating_sub(1) / every.max(1)).min(i32::MAX as usize) as i32),
            Self::Cosine { floor } => {
                let progress = (t / epochs.max(1) as f32).min(1.0);
                floor + (1.0 - floor) * 0.5 * (1.0 + (std::f32::consts::PI * progress).cos())
            }
        }
    }

    /// Validates the parameters.
    ///
    /// # Errors
    /// [`crate::NnError::InvalidParameter`] naming the bad value.
    pub fn check(self) -> Result<Self> {
        match self {
            Self::Constant => {}
            Self::Inverse { decay } if !(decay.is_finite() && decay > 0.0) => {
                return Err(invalid("inverse learning-rate decay", decay, "a finite number > 0"));
            }
            Self::Step { every: 0, .. } => return Err(invalid("learning-rate step interval", 0, "at least 1 epoch")),
            Self::Step { factor, .. } if !(factor > 0.0 && factor <= 1.0) => {
                return Err(invalid("learning-rate step factor", factor, "a number in (0, 1]"));
            }
            Self::Cosine { floor } if !(0.0..1.0).contains(&floor) => {
                return Err(invalid("cosine learning-rate floor", floor, "a fraction in [0, 1)"));
            }
            _ => {}
        }
        Ok(self)
    }
}

impl std::str::FromStr for LrSchedule {
    type Err = crate::NnError;

    fn from_str(s: &str) -> Result<Self> {
        const EXPECTED: &str = "constant, inverse:DECAY, step:EPOCHS:FACTOR or cosine[:FLOOR]";
        let bad = || invalid("learning-rate schedule", s, EXPECTED);
        let parts: Vec<&str> = s.trim().split(':').collect();
        let num = |p: &str| p.trim().parse::<f32>().map_err(|_| bad());
        let schedule = match parts.as_slice() {
            ["constant"] => Self::Constant,
            ["inverse", d] => Self::Inverse { decay: num(d)? },
            ["step", e, f] => Self::Step { every: e.trim().parse().map_err(|_| bad())?, factor: num(f)? },
            ["cosine"] => Self::Cosine { floor: 0.0 },
            ["cosine", f] => Self::Cosine { floor: num(f)? },
            _ => return Err(bad()),
        };
        schedule.check()
    }
}

impl std::fmt::Display for LrSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::Constant => f.write_str("constant"),
            Self::Inverse { decay } => write!(f, "inverse:{decay}"),
            Self::Step { every, factor } => write!(f, "step:{every}:{factor}"),
            Self::Cosine { floor: 0.0 } => f.write_str("cosine"),
            Self::Cosine { floor } => write!(f, "cosine:{floor}"),
        }
    }
}

impl TryFrom<String> for LrSchedule {
    type Error = crate::NnError;
    fn try_from(value: String) -> Result<Self> {
        value.parse()
    }
}

impl From<LrSchedule> for String {
    fn from(value: LrSchedule) -> Self {
        value.to_string()
    }
}

impl Sgd {
    /// Validates the values.
    ///
    /// # Errors
    /// [`crate::NnError::InvalidParameter`] naming the first bad value.
    pub fn check(self) -> Result<Self> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(invalid("learning rate", self.lr, "a finite number > 0"));
        }
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return Err(invalid("momentum", self.momentum, "a number in [0, 1)"));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(invalid("weight decay", self.weight_decay, "a finite number >= 0"));
        }
        self.schedule.check()?;
        Ok(self)
    }

    /// The learning rate of 1-based epoch `epoch` in a run of at most `epochs` epochs.
    pub fn lr_at(self, epoch: usize, epochs: usize) -> f32 {
        self.lr * self.schedule.factor(epoch, epochs)
    }

    /// Whether a step moves only the weights that received gradient (no momentum, no weight
    /// decay), so no idle steps are owed.
    pub fn is_plain(self) -> bool {
        self.momentum == 0.0 && self.weight_decay == 0.0
    }

    /// The weights' step rule at learning rate `lr`.
    pub fn rule(self, lr: f32) -> StepRule {
        StepRule::sgd(lr, self.weight_decay, self.momentum)
    }
}

/// The optimiser's state: velocities for momentum, and the lazy bookkeeping of idle steps.
///
/// A weight column whose input unit was silent in the whole batch has zero gradient. Momentum
/// and weight decay still move it, by a fixed linear map of the weight and its velocity, so relu
/// applies those idle steps lazily: each column remembers how many steps it has had, and just
/// before a forward pass reads it the owed steps are applied at once in closed form (relu-core's
/// [`StepRule::idle_steps`] and [`catch_up_columns`]). [`SgdState::flush`] brings every column up
/// to date; the trainer calls it at the end of every epoch. The result equals the dense update up
/// to rounding, at the cost of the sparse one.
#[derive(Debug, Clone, PartialEq)]
pub struct SgdState {
    /// Per layer: weight and bias velocities (empty without momentum). Only up to date for
    /// every column after [`SgdState::flush`].
    pub velocity: Vec<(DMatrix<f32>, DVector<f32>)>,
    /// Per layer and weight column: how many steps of the current segment it has had.
    current: Vec<Vec<u32>>,
    /// Steps taken since the last flush, and the rule they followed.
    steps: u32,
    rule: Option<StepRule>,
    /// `idle[k]` = the map of `k` idle steps under `rule`, computed on first use.
    idle: Vec<Option<ColumnMap>>,
}

impl SgdState {
    /// Zero velocities shaped like `net`'s parameters (none when momentum is 0).
    pub fn new(net: &Network, sgd: Sgd) -> Self {
        let velocity = if sgd.momentum > 0.0 {
            net.layers().iter().map(|l| (DMatrix::zeros(l.weight.nrows(), l.weight.ncols()), DVector::zeros(l.bias.len()))).collect()
        } else {
            Vec::new()
        };
        Self::from_velocity(velocity)
    }

    /// A state with these velocities, every column up to date (e.g. read from a checkpoint,
    /// which is written after a flush).
    pub fn from_velocity(velocity: Vec<(DMatrix<f32>, DVector<f32>)>) -> Self {
        Self { velocity, current: Vec::new(), steps: 0, rule: None, idle: Vec::new() }
    }

    /// Whether some columns still owe idle steps.
    pub fn is_pending(&self) -> bool {
        self.steps > 0 && self.rule.is_some_and(|r| r.moves_without_gradient())
    }

    /// Applies every owed idle step, so `net`'s parameters (and the velocities) are exactly
    /// those of the dense update. Call before reading or saving the parameters; the trainer does
    /// at the end of every epoch.
    pub fn flush(&mut self, net: &mut Network) {
        if self.is_pending() {
            let (_, layers) = net.parts_mut();
            for (i, layer) in layers.iter_mut().enumerate() {
                let cols = layer.weight.ncols();
                self.catch_up(i, layer, None, cols);
            }
        }
        self.steps = 0;
        self.current.clear();
        self.idle.clear();
        self.rule = None;
    }

    /// Prepares a step with `rule`: a different rule than the pending steps' first flushes them,
    /// and momentum gets its velocities.
    fn begin(&mut self, net: &mut Network, rule: StepRule) {
        if self.rule.is_some_and(|r| r != rule) {
            self.flush(net);
        }
        if rule.has_velocity() && self.velocity.len() != net.layers().len() {
            self.velocity =
                net.layers().iter().map(|l| (DMatrix::zeros(l.weight.nrows(), l.weight.ncols()), DVector::zeros(l.bias.len()))).collect();
        }
        if self.rule.is_none() {
            self.rule = Some(rule);
            self.current = net.layers().iter().map(|l| vec![0; l.weight.ncols()]).collect();
        }
    }

    /// The pending idle steps' bookkeeping, for checkpoints: the steps since the last flush, the
    /// rule they follow and each layer's per-column step counts (`None` when nothing is pending).
    pub(crate) fn pending(&self) -> Option<(u32, StepRule, &[Vec<u32>])> {
        self.rule.filter(|_| self.is_pending()).map(|r| (self.steps, r, &self.current[..]))
    }

    /// A state with pending idle steps, as [`SgdState::pending`] described them.
    ///
    /// # Errors
    /// A description of the first count that does not fit `net` or exceeds `steps`.
    pub(crate) fn with_pending(
        velocity: Vec<(DMatrix<f32>, DVector<f32>)>,
        net: &Network,
        steps: u32,
        rule: StepRule,
        current: Vec<Vec<u32>>,
    ) -> std::result::Result<Self, String> {
        if current.len() != net.layers().len() {
            return Err(format!("step counts for {} layers, the network has {}", current.len(), net.layers().len()));
        }
        for (i, (c, l)) in current.iter().zip(net.layers()).enumerate() {
            if c.len() != l.weight.ncols() {
                return Err(format!("layer {i}: {} column step counts for {} columns", c.len(), l.weight.ncols()));
            }
            if let Some(&bad) = c.iter().find(|&&k| k > steps) {
                return Err(format!("layer {i}: a column has {bad} steps of {steps}"));
            }
        }
        if rule.has_velocity() == velocity.is_empty() {
            return Err("momentum and velocities do not match".into());
        }
        Ok(Self { velocity, current, steps, rule: Some(rule), idle: Vec::new() })
    }

    /// Brings the columns of layer `i` that `only` lists (all columns when `None`) up to the
    /// current step.
    fn catch_up(&mut self, i: usize, layer: &mut Layer, only: Option<&[u32]>, cols: usize) {
        let Some(rule) = self.rule else { return };
        if !rule.moves_without_gradient() || self.current.len() <= i {
            return;
        }
        let steps = self.steps;
        let mut due = Vec::new();
        let mut add = |j: u32, current: &mut [u32], idle: &mut Vec<Option<ColumnMap>>| {
            let k = steps - current[j as usize];
            if k > 0 {
                if idle.len() <= k as usize {
                    idle.resize(k as usize + 1, None);
                }
                let map = *idle[k as usize].get_or_insert_with(|| rule.idle_steps(k));
                due.push((j, map));
                current[j as usize] = steps;
            }
        };
        match only {
            Some(list) => list.iter().for_each(|&j| add(j, &mut self.current[i], &mut self.idle)),
            None => (0..cols as u32).for_each(|j| add(j, &mut self.current[i], &mut self.idle)),
        }
        if !due.is_empty() {
            let v = self.velocity.get_mut(i).map(|(v, _)| v);
            catch_up_columns(&mut layer.weight, v, &due);
        }
    }

    /// Ends a step: the next one's columns are counted from here.
    pub(crate) fn end_step(&mut self) {
        self.steps += 1;
    }

    /// Records that the columns `touched` of layer `i` had this step.
    fn mark(&mut self, i: usize, touched: Touched<'_>) {
        let Some(current) = self.current.get_mut(i) else { return };
        let next = self.steps + 1;
        match touched {
            Touched::All => current.iter_mut().for_each(|c| *c = next),
            Touched::Columns(cols) => cols.iter().for_each(|&j| current[j as usize] = next),
        }
    }
}

/// Which columns of a layer a step will read and write: the active inputs when both the forward
/// and the backward kernel take the sparse path, every column otherwise.
fn columns_read<'a>(input: &'a Features, dispatch: &Dispatch) -> Option<&'a UnitMajor> {
    match input {
        Features::Sparse(s) => {
            let at = dispatch.crossover.at(s.batch_size());
            let sparse = |c: f32| dispatch.choose(s.density(), c) == KernelPath::Sparse;
            (dispatch.mode != DispatchMode::ForceDense && sparse(at.forward) && sparse(at.backward)).then(|| s.by_unit())
        }
        Features::Dense(_) => None,
    }
}

impl Network {
    /// The forward pass of an SGD step: with momentum or weight decay, each layer's columns that
    /// the step will read are first brought up to date.
    pub(crate) fn forward_for_step(
        &mut self,
        x: &Features,
        ws: &mut crate::Workspace,
        rule: StepRule,
        state: &mut SgdState,
    ) -> crate::ForwardCache {
        state.begin(self, rule);
        if !rule.moves_without_gradient() {
            return self.forward(x, ws);
        }
        self.forward_preparing(x, ws, |i, layer, input, dispatch| {
            let cols = layer.weight.ncols();
            let only = columns_read(input, dispatch).map(|u| u.active_units());
            state.catch_up(i, layer, only, cols);
        })
    }
}

/// An SGD step applied layer by layer during the backward pass.
pub(crate) struct SgdStep<'a> {
    pub(crate) sgd: Sgd,
    pub(crate) lr: f32,
    pub(crate) state: &'a mut SgdState,
}

impl SgdStep<'_> {
    /// `b ← b − lr·Σₑ δ[:, e]`, with momentum `v_b ← μ·v_b − lr·Σₑ δ[:, e]; b ← b + v_b` (biases
    /// are few: always updated densely).
    fn step_bias(&mut self, index: usize, layer: &mut Layer, delta: &DMatrix<f32>) {
        let g = delta.column_sum();
        match self.state.velocity.get_mut(index) {
            Some((_, vb)) => {
                vb.axpy(-self.lr, &g, self.sgd.momentum);
                layer.bias += &*vb;
            }
            None => layer.bias.axpy(-self.lr, &g, 1.0),
        }
    }
}

impl Update<&mut [Layer]> for SgdStep<'_> {
    fn sparse_layer(
        &mut self,
        index: usize,
        layer: &mut Layer,
        delta: &DMatrix<f32>,
        input: &Features,
        grad: Option<&mut [f32]>,
        dispatch: &mut Dispatch,
    ) {
        let Features::Sparse(s) = input else { unreachable!("sparse_layer is called for sparse inputs") };
        // One pass over the active weight columns: the gradient for the layer below (with the
        // weights before the step), then the step.
        let rule = self.sgd.rule(self.lr);
        let velocity = self.state.velocity.get_mut(index).map(|(v, _)| v);
        let (_, touched) = dispatch.backward_step(rule, &mut layer.weight, velocity, delta, s, grad);
        self.state.mark(index, touched);
        self.step_bias(index, layer, delta);
    }

    fn layer(
        &mut self,
        index: usize,
        layer: &mut Layer,
        delta: &DMatrix<f32>,
        input: &Features,
        input_units: Option<&UnitMajor>,
        dispatch: &mut Dispatch,
    ) {
        let rule = self.sgd.rule(self.lr);
        match input {
            Features::Dense(h) => {
                let velocity = self.state.velocity.get_mut(index).map(|(v, _)| v);
                dispatch.dense_step(rule, &mut layer.weight, velocity, delta, h);
                self.state.mark(index, Touched::All);
            }
            Features::Sparse(_) => {
                // `backward` hands sparse inputs to `sparse_layer`, which this type overrides, so
                // this is only reached by callers of `Update::layer` itself: the plain sparse
                // step of the rule's gradient scale (weight columns of active inputs only).
                debug_assert!(!rule.moves_without_gradient(), "sparse inputs with decay or momentum go through sparse_layer");
                add_outer(rule.scale, delta, input, input_units, &mut layer.weight, dispatch);
                self.state.mark(index, input_units.map_or(Touched::All, |u| Touched::Columns(u.active_units())));
            }
        }
        self.step_bias(index, layer, delta);
    }
}

#[cfg(test)]
mod tests {
    use super::LrSchedule;

    #[test]
    fn schedules_give_the_documented_rates() {
        let f = |s: &str, t| s.parse::<LrSchedule>().unwrap().factor(t, 10);
        assert_eq!(f("constant", 7), 1.0);
        assert_eq!(f("inverse:0.5", 1), 1.0);
        assert!((f("inverse:0.5", 3) - 0.5).abs() < 1e-7);
        assert_eq!((f("step:4:0.5", 4), f("step:4:0.5", 5), f("step:4:0.5", 9)), (1.0, 0.5, 0.25));
        assert_eq!(f("cosine", 1), 1.0);
        assert!((f("cosine", 6) - 0.5).abs() < 1e-6, "half-way down at (t − 1)/T = 1/2");
        assert!(f("cosine", 10) > 0.0 && f("cosine", 10) < 0.03, "the last epoch still learns a little");
        assert!((f("cosine:0.1", 6) - 0.55).abs() < 1e-6);
        let rates: Vec<f32> = (1..=10).map(|t| f("cosine", t)).collect();
        assert!(rates.windows(2).all(|w| w[1] < w[0]), "cosine decreases every epoch: {rates:?}");
    }

    #[test]
    fn schedules_round_trip_and_reject_bad_values() {
        for s in ["constant", "inverse:0.25", "step:10:0.5", "cosine", "cosine:0.05"] {
            assert_eq!(s.parse::<LrSchedule>().unwrap().to_string(), s);
        }
        for bad in ["", "linear", "inverse", "inverse:0", "inverse:-1", "step:0:0.5", "step:3:1.5", "step:3", "cosine:1", "cosine:x"] {
            let e = bad.parse::<LrSchedule>().unwrap_err().to_string();
            assert!(e.contains("learning-rate") || e.contains("learning rate"), "`{bad}`: {e}");
        }
    }
}
