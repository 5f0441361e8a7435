//! A wall-clock budget shared by the jobs of a sweep.

use std::time::Instant;

/// A wall-clock budget in seconds, counted from [`Budget::new`], shared evenly by the jobs that
/// remain: each job may use what is left divided by the number of jobs left, so time one job
/// saves goes to the later ones. `None` seconds: no budget.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    seconds: Option<f64>,
    started: Instant,
}

impl Budget {
    /// A budget of `seconds` (or none) starting now.
    pub fn new(seconds: Option<f64>) -> Self {
        Self { seconds, started: Instant::now() }
    }

    /// The total budget in seconds.
    pub fn seconds(&self) -> Option<f64> {
        self.seconds
    }

    /// Seconds since the budget started.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// The seconds a job may still use when `jobs_left` jobs (this one included) remain; never
    /// negative.
    pub fn share(&self, jobs_left: usize) -> Option<f64> {
        self.seconds.map(|b| (b - self.elapsed()).max(0.0) / jobs_left.max(1) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_what_is_left() {
        assert_eq!(Budget::new(None).share(3), None);
        let b = Budget::new(Some(60.0));
        let s = b.share(3).unwrap();
        assert!(s <= 20.0 && s > 19.0, "{s}");
        assert!(b.share(0).unwrap() > 59.0, "zero jobs left counts as one");
        let spent = Budget { seconds: Some(1.0), started: Instant::now() - std::time::Duration::from_secs(5) };
        assert_eq!(spent.share(2), Some(0.0));
    }
}
