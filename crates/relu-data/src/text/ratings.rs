//! Star-rating read-outs: a classifier over the 5 star classes (0 = 1 star … 4 = 5 stars) can be
//! read out as an expected rating and scored by root-mean-square error.

/// The expected star rating `Σ_k p_k·(k + 1)` of one example's class probabilities (normalised
/// here, so unnormalised non-negative scores work too). Returns NaN for an empty or all-zero input.
pub fn expected_rating(probs: &[f32]) -> f32 {
    let total: f32 = probs.iter().sum();
    probs.iter().enumerate().map(|(k, &p)| p * (k as f32 + 1.0)).sum::<f32>() / total
}

/// [`expected_rating`] of every column of a `classes × examples` probability matrix.
pub fn expected_ratings(probs: &nalgebra::DMatrix<f32>) -> Vec<f32> {
    probs.column_iter().map(|c| expected_rating(c.as_slice())).collect()
}

/// The star rating (1–5) of a star class index (0–4).
pub fn stars_of_class(class: u32) -> f32 {
    class as f32 + 1.0
}

/// Root-mean-square error between predicted and true ratings (NaN for empty input).
///
/// # Panics
/// If the slices differ in length.
#[track_caller]
pub fn rmse(predicted: &[f32], truth: &[f32]) -> f32 {
    assert_eq!(predicted.len(), truth.len(), "rmse: {} predictions for {} ratings", predicted.len(), truth.len());
    let sum: f64 = predicted.iter().zip(truth).map(|(&p, &t)| f64::from(p - t).powi(2)).sum();
    (sum / predicted.len() as f64).sqrt() as f32
}
