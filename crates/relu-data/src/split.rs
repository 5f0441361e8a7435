//! Seeded index splits: stratified k-fold cross-validation (the paper uses 10-fold on the
//! sentiment data) and shuffles.

use rand::seq::SliceRandom;

use crate::error::{DataError, Result};

/// One cross-validation fold: indices to train on and indices to evaluate on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    /// Every index not in `test`, ascending.
    pub train: Vec<usize>,
    /// This fold's held-out indices, ascending.
    pub test: Vec<usize>,
}

/// The indices `0..n` in a seeded random order.
pub fn shuffled_indices(n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut relu_core::seeded_rng(seed));
    idx
}

/// A stratified, seeded held-out split: from each class, `round(test_fraction · class size)`
/// examples (chosen at random) go to `test`, the rest to `train`. The same labels, fraction and
/// seed always give the same split.
///
/// # Errors
/// [`DataError::InvalidParameter`] if `test_fraction` is not strictly between 0 and 1, or the
/// split would leave the training or the test part empty.
pub fn stratified_holdout(labels: &[u32], test_fraction: f64, seed: u64) -> Result<Fold> {
    let bad = |why: String| DataError::InvalidParameter { name: "test fraction", value: test_fraction.to_string(), expected: why };
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(bad("a fraction strictly between 0 and 1".into()));
    }
    let mut by_class: std::collections::BTreeMap<u32, Vec<usize>> = std::collections::BTreeMap::new();
    for (i, &l) in labels.iter().enumerate() {
        by_class.entry(l).or_default().push(i);
    }
    let mut rng = relu_core::seeded_rng(seed);
    let mut in_test = vec![false; labels.len()];
    for members in by_class.values_mut() {
        members.shuffle(&mut rng);
        let take = (test_fraction * members.len() as f64).round() as usize;
        for &i in &members[..take.min(members.len())] {
            in_test[i] = true;
        }
    }
    let test: Vec<usize> = (0..labels.len()).filter(|&i| in_test[i]).collect();
    let train: Vec<usize> = (0..labels.len()).filter(|&i| !in_test[i]).collect();
    if test.is_empty() || train.is_empty() {
        return Err(bad(format!("a fraction leaving examples in both parts of the {} examples", labels.len())));
    }
    Ok(Fold { train, test })
}

/// Stratified, seeded k-fold split of examples with the given labels: every example is in
/// exactly one test fold, each class is spread over the folds as evenly as possible (fold counts
/// of a class differ by at most one), and fold sizes differ by at most one. The same labels and
/// seed always give the same folds.
///
/// The examples of each class are shuffled, then dealt to the folds round-robin, continuing from
/// one class to the next so small classes do not all land in the first folds.
///
/// # Errors
/// [`DataError::InvalidParameter`] if `k < 2` or `k` exceeds the number of examples.
pub fn stratified_k_fold(labels: &[u32], k: usize, seed: u64) -> Result<Vec<Fold>> {
    if k < 2 || k > labels.len() {
        return Err(DataError::InvalidParameter {
            name: "number of folds",
            value: k.to_string(),
            expected: format!("between 2 and the {} examples", labels.len()),
        });
    }
    let mut by_class: std::collections::BTreeMap<u32, Vec<usize>> = std::collections::BTreeMap::new();
    for (i, &l) in labels.iter().enumerate() {
        by_class.entry(l).or_default().push(i);
    }
    let mut rng = relu_core::seeded_rng(seed);
    let mut tests: Vec<Vec<usize>> = vec![Vec::new(); k];
    let mut next = 0;
    for members in by_class.values_mut() {
        members.shuffle(&mut rng);
        for &i in members.iter() {
            tests[next].push(i);
            next = (next + 1) % k;
        }
    }
    let mut fold_of = vec![0usize; labels.len()];
    for (f, t) in tests.iter_mut().enumerate() {
        t.sort_unstable();
        for &i in t.iter() {
            fold_of[i] = f;
        }
    }
    Ok(tests
        .into_iter()
        .enumerate()
        .map(|(f, test)| Fold { train: (0..labels.len()).filter(|&i| fold_of[i] != f).collect(), test })
        .collect())
}
