//! How a weight moves in one optimiser step, written once for every kernel, and the closed form
//! of many steps without gradient (what makes momentum and weight decay sparse).

/// [`StepRule::kind`]: `w ← w + scale·g`.
pub(crate) const PLAIN: u8 = 0;
/// [`StepRule::kind`]: `w ← w + scale·g − decay·w`.
pub(crate) const DECAY: u8 = 1;
/// [`StepRule::kind`]: with a velocity.
pub(crate) const MOMENTUM: u8 = 2;

/// One optimiser step of a weight `w` (with velocity `v` when `momentum > 0`) given the gradient
/// `g` of the loss:
///
/// * `momentum == 0`: `w ← w + scale·g − decay·w`;
/// * `momentum > 0`: `v ← momentum·v + scale·g − decay·w`, then `w ← w + v`.
///
/// SGD with learning rate `lr`, L2 weight decay `wd` and momentum `μ` is
/// `StepRule { scale: −lr, decay: lr·wd, momentum: μ }`; [`StepRule::add`] is the plain
/// `w ← w + α·g` that gradient accumulation and the paper's SGD use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepRule {
    /// The factor on the gradient (`−lr` for SGD).
    pub scale: f32,
    /// The factor on the weight itself (`lr·wd` for L2 weight decay; 0 for none).
    pub decay: f32,
    /// The momentum `μ` in `[0, 1)`; 0 for none (then no velocity is kept).
    pub momentum: f32,
}

impl StepRule {
    /// `w ← w + alpha·g`.
    pub fn add(alpha: f32) -> Self {
        Self { scale: alpha, decay: 0.0, momentum: 0.0 }
    }

    /// SGD with learning rate `lr`, L2 weight decay `weight_decay` and momentum `momentum`.
    pub fn sgd(lr: f32, weight_decay: f32, momentum: f32) -> Self {
        Self { scale: -lr, decay: lr * weight_decay, momentum }
    }

    /// Whether the rule keeps a velocity.
    pub fn has_velocity(&self) -> bool {
        self.momentum != 0.0
    }

    /// Whether a weight with zero gradient moves anyway (decay or momentum), so a sparse step must
    /// catch it up before it is read (see [`ColumnMap`]).
    pub fn moves_without_gradient(&self) -> bool {
        self.decay != 0.0 || self.momentum != 0.0
    }

    /// Which of the three forms the rule takes: [`PLAIN`], [`DECAY`] or [`MOMENTUM`]. Kernels
    /// branch on it once per call and are compiled once per form.
    pub(crate) fn kind(&self) -> u8 {
        if self.momentum != 0.0 {
            MOMENTUM
        } else if self.decay != 0.0 {
            DECAY
        } else {
            PLAIN
        }
    }

    /// The step for one weight whose scaled gradient is `sg = scale·g`, for a rule of kind `K`
    /// (see [`StepRule::kind`]); returns the new weight and updates `v` (only for momentum).
    #[inline(always)]
    pub(crate) fn apply<const K: u8>(&self, w: f32, sg: f32, v: &mut f32) -> f32 {
        match K {
            MOMENTUM => {
                *v = self.momentum * *v + sg - self.decay * w;
                w + *v
            }
            DECAY => w + sg - self.decay * w,
            _ => w + sg,
        }
    }

    /// The map of `steps` consecutive steps with zero gradient, as a [`ColumnMap`].
    pub fn idle_steps(&self, steps: u32) -> ColumnMap {
        // One idle step is linear in (w, v): w' = (1 − d)·w + μ·v, v' = −d·w + μ·v.
        let (d, mu) = (self.decay as f64, self.momentum as f64);
        let one = [1.0 - d, mu, -d, mu];
        let mut result = [1.0, 0.0, 0.0, 1.0];
        let (mut base, mut k) = (one, steps);
        while k > 0 {
            if k & 1 == 1 {
                result = mul(result, base);
            }
            base = mul(base, base);
            k >>= 1;
        }
        ColumnMap { m: result.map(|x| x as f32), steps }
    }
}

/// `w ← rule(w, sg)` element-wise, where `sg` is the scaled gradient.
pub(crate) fn apply_rule(rule: StepRule, w: &mut [f32], v: Option<&mut [f32]>, sg: &[f32]) {
    let mut dummy = 0.0;
    match (rule.kind(), v) {
        (MOMENTUM, Some(v)) => {
            for ((w, v), &g) in w.iter_mut().zip(v.iter_mut()).zip(sg) {
                *w = rule.apply::<MOMENTUM>(*w, g, v);
            }
        }
        (MOMENTUM, None) => panic!("a momentum step needs a velocity"),
        (DECAY, _) => w.iter_mut().zip(sg).for_each(|(w, &g)| *w = rule.apply::<DECAY>(*w, g, &mut dummy)),
        _ => w.iter_mut().zip(sg).for_each(|(w, &g)| *w = rule.apply::<PLAIN>(*w, g, &mut dummy)),
    }
}

/// One optimiser step of every weight from a gradient computed elsewhere (for example summed
/// over the processes of a data-parallel run): `w ← rule(w, scale·g)` element-wise, with the
/// same per-weight arithmetic as the fused kernels.
///
/// # Panics
/// If the lengths disagree, or `rule` has momentum and no velocity (of `w`'s length) is given.
#[track_caller]
pub fn apply_gradient(rule: StepRule, w: &mut [f32], v: Option<&mut [f32]>, g: &[f32]) {
    assert_eq!(w.len(), g.len(), "apply_gradient: {} weights, {} gradients", w.len(), g.len());
    let mut dummy = 0.0;
    let s = rule.scale;
    match (rule.kind(), v) {
        (MOMENTUM, Some(v)) => {
            assert_eq!(v.len(), w.len(), "apply_gradient: {} weights, {} velocities", w.len(), v.len());
            for ((w, v), &g) in w.iter_mut().zip(v.iter_mut()).zip(g) {
                *w = rule.apply::<MOMENTUM>(*w, s * g, v);
            }
        }
        (MOMENTUM, None) => panic!("a momentum step needs a velocity"),
        (DECAY, _) => w.iter_mut().zip(g).for_each(|(w, &g)| *w = rule.apply::<DECAY>(*w, s * g, &mut dummy)),
        _ => w.iter_mut().zip(g).for_each(|(w, &g)| *w = rule.apply::<PLAIN>(*w, s * g, &mut dummy)),
    }
}

/// 2×2 matrices `[a, b, c, d]` = `[[a, b], [c, d]]`, multiplied in f64.
fn mul(x: [f64; 4], y: [f64; 4]) -> [f64; 4] {
    [x[0] * y[0] + x[1] * y[2], x[0] * y[1] + x[1] * y[3], x[2] * y[0] + x[3] * y[2], x[2] * y[1] + x[3] * y[3]]
}

/// What `steps` optimiser steps without gradient do to a weight and its velocity:
/// `w ← m[0]·w + m[1]·v`, `v ← m[2]·w + m[3]·v` (the power of the one-step matrix, computed in
/// f64). A column that received no gradient for `k` steps is brought up to date with one such
/// map instead of `k` dense passes; the result equals the step-by-step update up to rounding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColumnMap {
    /// `[a, b, c, d]`.
    pub m: [f32; 4],
    /// How many idle steps it stands for.
    pub steps: u32,
}

impl ColumnMap {
    /// Applies the map to one weight and its velocity.
    #[inline(always)]
    pub(crate) fn apply(&self, w: &mut f32, v: &mut f32) {
        let (a, b, c, d) = (self.m[0], self.m[1], self.m[2], self.m[3]);
        let (w0, v0) = (*w, *v);
        *w = a * w0 + b * v0;
        *v = c * w0 + d * v0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_steps_match_stepping_one_at_a_time() {
        for rule in [StepRule::sgd(0.1, 0.01, 0.9), StepRule::sgd(0.05, 0.0, 0.5), StepRule::sgd(0.01, 0.1, 0.0)] {
            for k in [0u32, 1, 2, 7, 50] {
                let (mut w, mut v) = (0.7f64, -0.3f64);
                for _ in 0..k {
                    let (d, mu) = (rule.decay as f64, rule.momentum as f64);
                    if mu != 0.0 {
                        v = mu * v - d * w;
                        w += v;
                    } else {
                        w -= d * w;
                    }
                }
                let map = rule.idle_steps(k);
                let (mut w2, mut v2) = (0.7f32, if rule.has_velocity() { -0.3f32 } else { 0.0 });
                map.apply(&mut w2, &mut v2);
                assert!((w2 as f64 - w).abs() < 1e-5, "{rule:?} k={k}: {w2} vs {w}");
                if rule.has_velocity() {
                    assert!((v2 as f64 - v).abs() < 1e-5, "{rule:?} k={k}: v {v2} vs {v}");
                }
            }
        }
    }

    #[test]
    fn plain_sgd_never_moves_without_gradient() {
        let r = StepRule::sgd(0.01, 0.0, 0.0);
        assert!(!r.moves_without_gradient());
        assert_eq!(r.idle_steps(1000).m[..2], [1.0, 0.0]);
        let mut v = 0.0;
        assert_eq!(r.kind(), PLAIN);
        assert_eq!(r.apply::<PLAIN>(1.0, -0.5, &mut v), 0.5);
    }

    #[test]
    fn apply_gradient_is_the_dense_step_of_the_same_gradient() {
        use nalgebra::DMatrix;
        let delta = DMatrix::from_fn(3, 4, |i, j| ((i * 7 + j * 3) % 5) as f32 * 0.1 - 0.2);
        let h = DMatrix::from_fn(5, 4, |i, j| ((i + 2 * j) % 3) as f32 * 0.5);
        let w0 = DMatrix::from_fn(3, 5, |i, j| (i as f32 - j as f32) * 0.05);
        for rule in [StepRule::sgd(0.1, 0.0, 0.0), StepRule::sgd(0.1, 0.01, 0.0), StepRule::sgd(0.1, 0.01, 0.9)] {
            let v0 = DMatrix::from_element(3, 5, 0.02f32);
            let (mut w1, mut v1, mut scratch) = (w0.clone(), v0.clone(), DMatrix::zeros(0, 0));
            let vel = rule.has_velocity().then_some(&mut v1);
            crate::kernels::dense_step(rule, &mut w1, vel, &delta, &h, &mut scratch);
            let g = &delta * h.transpose();
            let (mut w2, mut v2) = (w0.clone(), v0.clone());
            let vel = rule.has_velocity().then_some(v2.as_mut_slice());
            apply_gradient(rule, w2.as_mut_slice(), vel, g.as_slice());
            assert!((&w1 - &w2).amax() < 1e-6, "{rule:?}: {w1} vs {w2}");
            assert!((&v1 - &v2).amax() < 1e-6, "{rule:?}: velocities");
            assert_ne!(w2, w0, "{rule:?}: the step moved the weights");
        }
    }
}
