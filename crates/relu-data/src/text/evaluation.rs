//! Cross-validation and held-out splits of labelled documents that refit the vectorizer on each
//! split's training documents only, so no vocabulary term or document frequency of a test
//! document leaks into the features it is evaluated on.

use relu_core::{Dataset, Features, SparseBatch, Targets};

use crate::error::{DataError, Result};
use crate::split::{self, stratified_holdout, stratified_k_fold};
use crate::text::features::{Vectorizer, VectorizerConfig, labels, term_counts};
use crate::text::readers::{Content, Document};

/// One train/test split of labelled documents, vectorised: the vectorizer fitted on the training
/// documents only, and the training and test sets it produces (sparse features, class targets).
#[derive(Debug, Clone, PartialEq)]
pub struct TextSplit {
    /// Fitted on `train_indices`' documents only.
    pub vectorizer: Vectorizer,
    /// The training documents' features and labels, in `train_indices` order.
    pub train: Dataset,
    /// The test documents' features and labels, in `test_indices` order.
    pub test: Dataset,
    /// The positions (in the input) of the training documents, ascending.
    pub train_indices: Vec<usize>,
    /// The positions (in the input) of the test documents, ascending.
    pub test_indices: Vec<usize>,
}

/// The paper's evaluation: stratified, seeded `k`-fold cross-validation
/// ([`split::stratified_k_fold`]) of labelled documents, each fold with its own vectorizer
/// fitted on that fold's training documents. Labels must index `num_classes` classes (e.g.
/// [`crate::text::Targets::num_classes`]); a class absent from a small fold still counts.
///
/// Documents are tokenised once, not once per fold.
///
/// # Errors
/// [`DataError::InvalidParameter`] for an unlabelled document, a label `>= num_classes`, or a `k`
/// that [`split::stratified_k_fold`] refuses; the errors of [`Vectorizer::fit`].
pub fn folds(docs: &[Document], num_classes: usize, k: usize, seed: u64, config: &VectorizerConfig) -> Result<Vec<TextSplit>> {
    let labels = checked_labels(docs, num_classes)?;
    let counted = count_terms(docs, config);
    stratified_k_fold(&labels, k, seed)?.into_iter().map(|f| vectorise(&counted, &labels, f, config)).collect()
}

/// A stratified, seeded held-out split ([`split::stratified_holdout`]) of labelled documents:
/// about `test_fraction` of each class is held out as test set, and the vectorizer is fitted on
/// the remaining documents only.
///
/// # Errors
/// As [`folds`], with [`split::stratified_holdout`]'s errors for the fraction.
pub fn holdout(docs: &[Document], num_classes: usize, test_fraction: f64, seed: u64, config: &VectorizerConfig) -> Result<TextSplit> {
    let labels = checked_labels(docs, num_classes)?;
    let fold = stratified_holdout(&labels, test_fraction, seed)?;
    vectorise(&count_terms(docs, config), &labels, fold, config)
}

/// [`holdout`]'s split of `docs` — the same documents, in the same order — transformed with a
/// vectorizer fitted earlier (e.g. the one stored with a model trained on `holdout`'s training
/// set): how a trained model's test set is rebuilt without re-deriving the split.
///
/// # Errors
/// As [`holdout`], and [`Vectorizer::transform`]'s.
pub fn holdout_with(
    docs: &[Document],
    num_classes: usize,
    test_fraction: f64,
    seed: u64,
    vectorizer: &Vectorizer,
) -> Result<(Dataset, Dataset)> {
    let labels = checked_labels(docs, num_classes)?;
    let fold = stratified_holdout(&labels, test_fraction, seed)?;
    let set = |idx: &[usize]| -> Result<Dataset> {
        let picked: Vec<Document> = idx.iter().map(|&i| docs[i].clone()).collect();
        labelled(vectorizer.transform(&picked)?, &labels, idx)
    };
    Ok((set(&fold.train)?, set(&fold.test)?))
}

fn checked_labels(docs: &[Document], num_classes: usize) -> Result<Vec<u32>> {
    let labels = labels(docs)?;
    if let Some(i) = labels.iter().position(|&l| l as usize >= num_classes) {
        return Err(DataError::InvalidParameter {
            name: "document label",
            value: format!("{} of document {i}", labels[i]),
            expected: format!("a class index below the {num_classes} classes"),
        });
    }
    Ok(labels)
}

/// The documents as term counts, so each fold's fit and transform skip the tokeniser.
fn count_terms(docs: &[Document], config: &VectorizerConfig) -> Vec<Document> {
    docs.iter().map(|d| Document { content: Content::Counts(term_counts(&config.tokenizer, d)), label: d.label }).collect()
}

/// The vectorised documents `idx` with their labels.
fn labelled(features: SparseBatch, labels: &[u32], idx: &[usize]) -> Result<Dataset> {
    Ok(Dataset::new(Features::Sparse(features), Targets::Classes(idx.iter().map(|&i| labels[i]).collect()))?)
}

fn vectorise(counted: &[Document], labels: &[u32], fold: split::Fold, config: &VectorizerConfig) -> Result<TextSplit> {
    let pick = |idx: &[usize]| idx.iter().map(|&i| counted[i].clone()).collect::<Vec<_>>();
    let (train_docs, test_docs) = (pick(&fold.train), pick(&fold.test));
    let vectorizer = Vectorizer::fit(&train_docs, config)?;
    let set = |docs: &[Document], idx: &[usize]| labelled(vectorizer.transform(docs)?, labels, idx);
    let train = set(&train_docs, &fold.train)?;
    let test = set(&test_docs, &fold.test)?;
    Ok(TextSplit { vectorizer, train, test, train_indices: fold.train, test_indices: fold.test })
}
