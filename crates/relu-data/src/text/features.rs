//! Turning documents into sparse bag-of-words batches (vocabulary × examples).

use std::collections::HashMap;

use relu_core::SparseBatch;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::text::readers::{Content, Document};
use crate::text::tokenize::Tokenizer;
use crate::text::vocab::{DEFAULT_VOCAB_SIZE, Vocabulary};

/// The value of a term's feature in a document. Serialised by [`Weighting::name`]; reading also
/// takes what [`FromStr`](std::str::FromStr) takes (so the `"Binary"`, `"Counts"` and `"TfIdf"`
/// of models saved before are still read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Weighting {
    /// 1 if the term occurs, else 0: the paper's choice. The default.
    #[default]
    Binary,
    /// The number of occurrences.
    Counts,
    /// `count · idf`, with the smoothed `idf = ln((1 + N) / (1 + df)) + 1` of the training
    /// documents, each document then scaled to unit Euclidean norm.
    TfIdf,
}

impl Weighting {
    /// Every weighting, in the order of its documentation.
    pub const ALL: [Weighting; 3] = [Weighting::Binary, Weighting::Counts, Weighting::TfIdf];

    /// The name [`FromStr`](std::str::FromStr) parses and [`Display`](std::fmt::Display) prints:
    /// `binary`, `counts` or `tfidf`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Binary => "binary",
            Self::Counts => "counts",
            Self::TfIdf => "tfidf",
        }
    }
}

named_option!(Weighting);

impl std::str::FromStr for Weighting {
    type Err = DataError;

    /// Parses `binary`, `counts` (or `count`) and `tfidf` (or `tf-idf`), ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "binary" => Ok(Self::Binary),
            "counts" | "count" => Ok(Self::Counts),
            "tfidf" | "tf-idf" => Ok(Self::TfIdf),
            _ => Err(DataError::InvalidParameter { name: "weighting", value: s.into(), expected: "binary, counts or tfidf".into() }),
        }
    }
}

/// Settings for [`Vectorizer::fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct VectorizerConfig {
    /// How text is split into terms. Default: [`Tokenizer::default`].
    pub tokenizer: Tokenizer,
    /// Vocabulary size. Default 5,000 ([`DEFAULT_VOCAB_SIZE`]).
    pub max_terms: usize,
    /// Minimum training document frequency of a kept term. Default 1.
    pub min_df: u32,
    /// Feature values. Default [`Weighting::Binary`].
    pub weighting: Weighting,
}

impl Default for VectorizerConfig {
    fn default() -> Self {
        Self { tokenizer: Tokenizer::default(), max_terms: DEFAULT_VOCAB_SIZE, min_df: 1, weighting: Weighting::Binary }
    }
}

/// A fitted bag-of-words transformation: tokeniser, vocabulary and weighting. Serialisable, so a
/// saved model carries exactly how its inputs were built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vectorizer {
    tokenizer: Tokenizer,
    vocab: Vocabulary,
    weighting: Weighting,
}

/// The terms of a document with their counts, sorted by term.
pub fn term_counts(tokenizer: &Tokenizer, doc: &Document) -> Vec<(String, u32)> {
    let mut counts: HashMap<String, u32> = HashMap::new();
    match &doc.content {
        Content::Text(t) => {
            for term in tokenizer.tokenize(t) {
                *counts.entry(term).or_insert(0) += 1;
            }
        }
        Content::Counts(c) => {
            for (term, n) in c {
                let e = counts.entry(term.clone()).or_insert(0);
                *e = e.saturating_add(*n);
            }
        }
    }
    let mut v: Vec<_> = counts.into_iter().collect();
    v.sort_unstable();
    v
}

impl Vectorizer {
    /// Learns the vocabulary from `train` (labelled or not; pass only the training split, never
    /// validation or test documents). Pre-counted documents ([`Content::Counts`]) bypass the
    /// tokeniser.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] for a zero or huge `max_terms`, or when the documents
    /// hold no term at all (an empty vocabulary cannot feed a model).
    pub fn fit(train: &[Document], config: &VectorizerConfig) -> Result<Self> {
        let counted: Vec<Vec<(String, u32)>> = train.iter().map(|d| term_counts(&config.tokenizer, d)).collect();
        let vocab = Vocabulary::fit(counted.iter().map(|d| d.iter().map(|(t, _)| t.as_str())), config.max_terms, config.min_df)?;
        if vocab.is_empty() {
            let rule = if config.min_df > 1 { format!(" in at least {} of them (min_df)", config.min_df) } else { String::new() };
            return Err(DataError::InvalidParameter {
                name: "vocabulary",
                value: "0 terms".into(),
                expected: format!(
                    "at least one term: none of the {} training documents has a word the tokeniser keeps{rule} (empty, punctuation-only or stop-word-only text?)",
                    train.len()
                ),
            });
        }
        Ok(Self { tokenizer: config.tokenizer.clone(), vocab, weighting: config.weighting })
    }

    /// Wraps an existing vocabulary (e.g. loaded with a saved model).
    pub fn from_parts(tokenizer: Tokenizer, vocab: Vocabulary, weighting: Weighting) -> Self {
        Self { tokenizer, vocab, weighting }
    }

    /// The vocabulary.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocab
    }

    /// The tokeniser.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The weighting.
    pub fn weighting(&self) -> Weighting {
        self.weighting
    }

    /// The feature dimension (vocabulary size).
    pub fn dim(&self) -> usize {
        self.vocab.len()
    }

    /// The sparse `vocabulary × documents` batch of `docs`; terms outside the vocabulary are
    /// dropped, so a document may have no active feature.
    ///
    /// # Errors
    /// [`DataError::Core`] only if the batch cannot be represented (more than `u32::MAX` terms).
    pub fn transform(&self, docs: &[Document]) -> Result<SparseBatch> {
        let n_docs = self.vocab.num_docs() as f64;
        let idf: Vec<f32> = match self.weighting {
            Weighting::TfIdf => {
                self.vocab.doc_freqs().iter().map(|&df| (((1.0 + n_docs) / (1.0 + f64::from(df))).ln() + 1.0) as f32).collect()
            }
            _ => Vec::new(),
        };
        let mut offsets = Vec::with_capacity(docs.len() + 1);
        let mut indices = Vec::new();
        let mut values = Vec::new();
        offsets.push(0);
        let mut row: Vec<(u32, u32)> = Vec::new();
        for doc in docs {
            row.clear();
            row.extend(term_counts(&self.tokenizer, doc).into_iter().filter_map(|(t, c)| self.vocab.get(&t).map(|i| (i, c))));
            row.sort_unstable();
            let start = values.len();
            for &(i, c) in &row {
                indices.push(i);
                values.push(match self.weighting {
                    Weighting::Binary => 1.0,
                    Weighting::Counts => c as f32,
                    Weighting::TfIdf => c as f32 * idf[i as usize],
                });
            }
            if self.weighting == Weighting::TfIdf {
                let norm = values[start..].iter().map(|v| v * v).sum::<f32>().sqrt();
                if norm > 0.0 {
                    values[start..].iter_mut().for_each(|v| *v /= norm);
                }
            }
            offsets.push(values.len());
        }
        Ok(SparseBatch::try_from_parts(self.vocab.len(), offsets, indices, values)?)
    }
}

/// The class indices of labelled documents.
///
/// # Errors
/// [`DataError::InvalidParameter`] naming the first document without a label.
pub fn labels(docs: &[Document]) -> Result<Vec<u32>> {
    docs.iter()
        .enumerate()
        .map(|(i, d)| {
            d.label.ok_or_else(|| DataError::InvalidParameter {
                name: "document",
                value: i.to_string(),
                expected: "a labelled document (this one has no label)".into(),
            })
        })
        .collect()
}
