//! Target sparsity: a controller that adapts each hidden layer's L1 weight λ during training so
//! that the layer's fraction of exact zeros settles at a target.
//!
//! The paper chooses λ by hand to land at "50–80 % zeros". With a target, λ starts from the
//! layer's configured value and, after every training batch, moves multiplicatively by the
//! sparsity error of that batch — an integral controller on `ln λ`:
//!
//! `λ ← clamp(λ · exp(g · (s* − s) · b / N), 1e-7, 1)`
//!
//! with `s*` the target, `s` the layer's zero fraction on the batch, `b` the batch's examples and
//! `N` the training examples, so `ln λ` integrates the error at a rate of `g` per epoch whatever
//! the batch size (default `g` = [`TargetSparsity::DEFAULT_GAIN`]). λ is part of the network
//! (its [`crate::LayerSpec::l1`]), so it is saved and resumed with it. With a damping `d > 0`,
//! `ln λ` also moves by `−d · Δs̄`, each change of the layer's smoothed sparsity `s̄` (an
//! exponential average over about 2% of an epoch, kept in the resumable training state): a
//! velocity-form PI controller whose proportional part acts on the measurement.
//!
//! Why both terms (measured, docs/results.md): sparsity follows λ with a lag of epochs, zeros
//! are slow to undo — a unit pushed off on most inputs gets no gradient there — and training
//! itself keeps sparsifying the layers, so the integral term alone overshoots (gain 3: 92 / 89 /
//! 85% for an 85% target after 5 epochs on MNIST; gain 10: 91% in every layer). The damping
//! term lowers λ while sparsity is still rising, before it overshoots; with the defaults (gain
//! 10, damping 10) every layer ended within 1.2 points of 85% in 5 epochs on three seeds.
//! Limits: in a stack, an upper layer's penalty also sparsifies the layers below (its gradient
//! flows down), so a lower layer can stay sparser than a low target with its own λ near the
//! floor (a 70% target ended layer 1 at 75%); the controller does not guarantee a band.

use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// Smallest λ the controller uses (a λ of 0 could never grow multiplicatively).
pub const L1_FLOOR: f32 = 1e-7;
/// Largest λ the controller uses.
pub const L1_CEIL: f32 = 1.0;

/// Sparsity targets for the hidden layers: one for every layer, or one per layer. Serialised as
/// `{ targets = [0.85], gain = 10.0 }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(into = "Repr", try_from = "Repr")]
pub struct TargetSparsity {
    /// The targets; with `layers == 0` only `targets[0]`, for every layer.
    targets: [f32; TargetSparsity::MAX_LAYERS],
    /// How many per-layer targets are given (0: one target for all).
    layers: u8,
    /// Controller gain `g`: the rate, per epoch, at which `ln λ` follows the sparsity error.
    pub gain: f32,
    /// Damping `d`: `ln λ` also moves by `−d` times each change of the layer's smoothed sparsity,
    /// so λ eases off as soon as sparsity climbs (and before it overshoots); 0 for none.
    pub damping: f32,
}

impl TargetSparsity {
    /// Most hidden layers that can have a target of their own.
    pub const MAX_LAYERS: usize = 16;
    /// The default controller gain, per epoch.
    pub const DEFAULT_GAIN: f32 = 10.0;
    /// The default damping. With [`Self::DEFAULT_GAIN`] it put every hidden layer of MNIST's
    /// 784-1000-1000-1000-10 network within 1.2 points of an 85% target in 5 epochs, on three
    /// seeds (docs/results.md#target-sparsity-on-mnist).
    pub const DEFAULT_DAMPING: f32 = 10.0;
    /// The damping of a serialised target written without one (before damping existed): none,
    /// so such a run resumes with the controller it started with.
    const UNWRITTEN_DAMPING: f32 = 0.0;
    /// The smoothed sparsity follows each batch's by this fraction of the epoch's share: an
    /// exponential average over about 2% of an epoch, whatever the batch size.
    const SMOOTHING_PER_EPOCH: f64 = 50.0;

    /// The same target for every hidden layer.
    ///
    /// # Errors
    /// [`crate::NnError::InvalidParameter`] unless `target` is in `[0, 1)`.
    pub fn uniform(target: f32) -> Result<Self> {
        Self::new(&[target])
    }

    /// One target for all layers (`targets.len() == 1`) or one per hidden layer.
    ///
    /// # Errors
    /// [`crate::NnError::InvalidParameter`] for no targets, more than [`Self::MAX_LAYERS`], or a
    /// target outside `[0, 1)`.
    pub fn new(targets: &[f32]) -> Result<Self> {
        if targets.is_empty() || targets.len() > Self::MAX_LAYERS {
            return Err(invalid("target sparsity", format!("{targets:?}"), "one target, or one per hidden layer (at most 16)"));
        }
        if let Some(t) = targets.iter().find(|t| !(t.is_finite() && (0.0..1.0).contains(*t))) {
            return Err(invalid("target sparsity", t, "a fraction of zeros in [0, 1)"));
        }
        let mut a = [0.0; Self::MAX_LAYERS];
        a[..targets.len()].copy_from_slice(targets);
        Ok(Self {
            targets: a,
            layers: if targets.len() == 1 { 0 } else { targets.len() as u8 },
            gain: Self::DEFAULT_GAIN,
            damping: Self::DEFAULT_DAMPING,
        })
    }

    /// The targets as given.
    pub fn targets(&self) -> &[f32] {
        &self.targets[..usize::from(self.layers).max(1)]
    }

    /// The target of hidden layer `layer` (0-based).
    pub fn target(&self, layer: usize) -> f32 {
        if self.layers == 0 { self.targets[0] } else { self.targets[layer] }
    }

    /// Checks the targets and the gain (e.g. of a deserialised value).
    ///
    /// # Errors
    /// [`crate::NnError::InvalidParameter`] for a target or gain out of range.
    pub fn check_values(&self) -> Result<()> {
        if usize::from(self.layers) > Self::MAX_LAYERS {
            return Err(invalid("target sparsity", self.layers, "at most 16 per-layer targets"));
        }
        Self::new(self.targets())?;
        if !(self.gain.is_finite() && self.gain > 0.0) {
            return Err(invalid("target-sparsity gain", self.gain, "a finite number > 0"));
        }
        if !(self.damping.is_finite() && self.damping >= 0.0) {
            return Err(invalid("target-sparsity damping", self.damping, "a finite number >= 0"));
        }
        Ok(())
    }

    /// As [`Self::check_values`], and the count against a network with `hidden` hidden layers.
    ///
    /// # Errors
    /// [`crate::NnError::InvalidParameter`] for per-layer targets of another count, a target or
    /// gain out of range.
    pub fn check(&self, hidden: usize) -> Result<()> {
        self.check_values()?;
        if self.layers != 0 && usize::from(self.layers) != hidden {
            return Err(invalid(
                "target sparsity",
                format!("{} per-layer targets for {hidden} hidden layers", self.layers),
                "one target, or one per hidden layer",
            ));
        }
        Ok(())
    }

    /// λ after a batch on which the layer's zero fraction was `sparsity`; `fraction` is the
    /// batch's share of the epoch's examples; `smoothed` is the layer's smoothed sparsity, which
    /// this step updates (`None` before the first batch).
    pub fn step(&self, layer: usize, l1: f32, sparsity: f64, fraction: f64, smoothed: &mut Option<f64>) -> f32 {
        let error = f64::from(self.target(layer)) - sparsity;
        let before = smoothed.unwrap_or(sparsity);
        let after = before + (Self::SMOOTHING_PER_EPOCH * fraction).min(1.0) * (sparsity - before);
        *smoothed = Some(after);
        let log_step = f64::from(self.gain) * error * fraction - f64::from(self.damping) * (after - before);
        let next = f64::from(l1.max(L1_FLOOR)) * log_step.exp();
        (next as f32).clamp(L1_FLOOR, L1_CEIL)
    }
}

/// The serialised form.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Repr {
    targets: Vec<f32>,
    gain: f32,
    #[serde(default = "unwritten_damping")]
    damping: f32,
}

fn unwritten_damping() -> f32 {
    TargetSparsity::UNWRITTEN_DAMPING
}

impl From<TargetSparsity> for Repr {
    fn from(t: TargetSparsity) -> Repr {
        Repr { targets: t.targets().to_vec(), gain: t.gain, damping: t.damping }
    }
}

impl TryFrom<Repr> for TargetSparsity {
    type Error = crate::NnError;

    fn try_from(r: Repr) -> Result<Self> {
        let t = Self { gain: r.gain, damping: r.damping, ..Self::new(&r.targets)? };
        t.check_values()?;
        Ok(t)
    }
}

impl std::fmt::Display for TargetSparsity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t: Vec<String> = self.targets().iter().map(f32::to_string).collect();
        f.write_str(&t.join(","))
    }
}

impl std::str::FromStr for TargetSparsity {
    type Err = crate::NnError;

    /// `0.85` or `0.9,0.85,0.8` (one per hidden layer).
    fn from_str(s: &str) -> Result<Self> {
        let parsed: std::result::Result<Vec<f32>, _> = s.split(',').map(|p| p.trim().parse::<f32>()).collect();
        match parsed {
            Ok(v) => Self::new(&v),
            Err(_) => Err(invalid("target sparsity", s, "a fraction such as 0.85, or one per hidden layer: 0.9,0.85,0.8")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_check_and_step() {
        let u: TargetSparsity = "0.85".parse().unwrap();
        assert_eq!((u.target(0), u.target(5), u.to_string()), (0.85, 0.85, "0.85".to_owned()));
        u.check(3).unwrap();
        let p: TargetSparsity = "0.9, 0.8".parse().unwrap();
        assert_eq!((p.target(0), p.target(1)), (0.9, 0.8));
        assert!(p.check(2).is_ok() && p.check(3).is_err());
        for bad in ["", "1.0", "-0.1", "x", "0.5,nan"] {
            assert!(bad.parse::<TargetSparsity>().is_err(), "{bad}");
        }
        // Too dense → λ grows; too sparse → λ shrinks; on target → unchanged.
        assert!(u.step(0, 1e-3, 0.5, 0.01, &mut None) > 1e-3);
        assert!(u.step(0, 1e-3, 0.95, 0.01, &mut None) < 1e-3);
        assert_eq!(u.step(0, 1e-3, 0.85f32 as f64, 0.01, &mut None), 1e-3);
        // A whole epoch at error 1/g multiplies λ by e.
        let g = f64::from(TargetSparsity::DEFAULT_GAIN);
        assert!((u.step(0, 1e-3, 0.85 - 1.0 / g, 1.0, &mut None) / 1e-3 - std::f32::consts::E).abs() < 1e-3);
        assert_eq!(u.step(0, 0.0, 0.5, 0.01, &mut None), u.step(0, L1_FLOOR, 0.5, 0.01, &mut None), "0 starts from the floor");
        assert_eq!(u.step(0, 0.9, 0.0, 1.0, &mut None), L1_CEIL);
        // Damping: a rise of the smoothed sparsity lowers λ by exp(−d·rise); the smoothing
        // follows a batch by 50 × its share of the epoch.
        let (u, d) = (TargetSparsity { damping: 0.0, ..u }, TargetSparsity { damping: 4.0, ..u });
        let mut smoothed = Some(0.5);
        let (plain, damped) = (u.step(0, 1e-3, 0.7, 0.01, &mut Some(0.5)), d.step(0, 1e-3, 0.7, 0.01, &mut smoothed));
        assert!((smoothed.unwrap() - 0.6).abs() < 1e-12, "{smoothed:?}");
        assert!(((damped / plain) as f64 - (-4.0f64 * 0.1).exp()).abs() < 1e-4, "{damped} vs {plain}");
        assert!("0.85".parse::<TargetSparsity>().map(|t| TargetSparsity { damping: -1.0, ..t }).unwrap().check_values().is_err());
    }
}
