//! Summaries of scores over folds, seeds or networks.

/// Mean and population standard deviation of `values`; both NaN when there are none.
///
/// ```
/// assert_eq!(relu_experiment::stats::mean_std(&[1.0, 3.0]), (2.0, 1.0));
/// ```
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
    (mean, var.sqrt())
}

/// The mean of `values`, 0 when there are none (e.g. the average sparsity of a network without
/// hidden layers).
pub fn mean_or_zero(values: &[f64]) -> f64 {
    if values.is_empty() { 0.0 } else { values.iter().sum::<f64>() / values.len() as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_std() {
        assert_eq!(mean_std(&[1.0, 3.0]), (2.0, 1.0));
        assert_eq!(mean_std(&[2.0, 2.0, 2.0]), (2.0, 0.0));
        let (m, s) = mean_std(&[]);
        assert!(m.is_nan() && s.is_nan());
        assert_eq!(mean_or_zero(&[]), 0.0);
        assert_eq!(mean_or_zero(&[0.5, 1.0]), 0.75);
    }
}
