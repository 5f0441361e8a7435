//! The vocabulary: the most frequent terms of the training documents.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// The paper's vocabulary size.
pub const DEFAULT_VOCAB_SIZE: usize = 5_000;

/// The `N` terms with the highest document frequency on the training documents (the number of
/// documents containing the term), ties broken by the term's string order so the result never
/// depends on hashing or input order. Term `i` is feature row `i`.
///
/// Serialises as its term list with document frequencies; the lookup table is rebuilt (and the
/// terms checked for duplicates) on deserialisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "VocabRepr", into = "VocabRepr")]
pub struct Vocabulary {
    terms: Vec<String>,
    doc_freq: Vec<u32>,
    num_docs: u64,
    index: HashMap<String, u32>,
}

#[derive(Serialize, Deserialize)]
struct VocabRepr {
    terms: Vec<String>,
    doc_freq: Vec<u32>,
    num_docs: u64,
}

impl TryFrom<VocabRepr> for Vocabulary {
    type Error = String;

    fn try_from(r: VocabRepr) -> std::result::Result<Self, String> {
        if r.terms.len() != r.doc_freq.len() || u32::try_from(r.terms.len()).is_err() {
            return Err(format!("vocabulary: {} terms but {} document frequencies", r.terms.len(), r.doc_freq.len()));
        }
        let mut index = HashMap::with_capacity(r.terms.len());
        for (i, t) in r.terms.iter().enumerate() {
            if index.insert(t.clone(), i as u32).is_some() {
                return Err(format!("vocabulary: duplicate term `{t}`"));
            }
        }
        Ok(Self { terms: r.terms, doc_freq: r.doc_freq, num_docs: r.num_docs, index })
    }
}

impl From<Vocabulary> for VocabRepr {
    fn from(v: Vocabulary) -> Self {
        Self { terms: v.terms, doc_freq: v.doc_freq, num_docs: v.num_docs }
    }
}

impl Vocabulary {
    /// Learns the `max_terms` most frequent terms from documents given as their distinct terms
    /// (repeats within a document are ignored). Terms seen in fewer than `min_df` documents are
    /// never kept.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if `max_terms` is 0 or above `u32::MAX`.
    pub fn fit<'a, D, T>(docs: D, max_terms: usize, min_df: u32) -> Result<Self>
    where
        D: IntoIterator<Item = T>,
        T: IntoIterator<Item = &'a str>,
    {
        if max_terms == 0 || u32::try_from(max_terms).is_err() {
            return Err(DataError::InvalidParameter {
                name: "vocabulary size",
                value: max_terms.to_string(),
                expected: "a size between 1 and 2^32 − 1".into(),
            });
        }
        let mut df: HashMap<&'a str, u32> = HashMap::new();
        let mut seen: Vec<&'a str> = Vec::new();
        let mut num_docs = 0u64;
        for doc in docs {
            num_docs += 1;
            seen.clear();
            seen.extend(doc);
            seen.sort_unstable();
            seen.dedup();
            for &t in &seen {
                *df.entry(t).or_insert(0) += 1;
            }
        }
        let mut ranked: Vec<(&str, u32)> = df.into_iter().filter(|&(_, c)| c >= min_df.max(1)).collect();
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        ranked.truncate(max_terms);
        let terms: Vec<String> = ranked.iter().map(|(t, _)| (*t).to_string()).collect();
        let doc_freq = ranked.iter().map(|&(_, c)| c).collect();
        let index = terms.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        Ok(Self { terms, doc_freq, num_docs, index })
    }

    /// The number of terms (the feature dimension).
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// Whether no term was kept.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The feature index of `term`, if it is in the vocabulary.
    pub fn get(&self, term: &str) -> Option<u32> {
        self.index.get(term).copied()
    }

    /// The terms, most frequent first.
    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// The training document frequency of each term.
    pub fn doc_freqs(&self) -> &[u32] {
        &self.doc_freq
    }

    /// The number of training documents the vocabulary was learned from.
    pub fn num_docs(&self) -> u64 {
        self.num_docs
    }
}
