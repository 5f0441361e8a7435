//! The bag-of-words review pipeline: read documents, tokenise, learn a vocabulary on the training
//! split, and emit sparse feature batches (vocabulary × examples) for the first layer's sparse
//! kernels.
//!
//! ```
//! use std::path::Path;
//! use relu_data::text::{Targets, Vectorizer, VectorizerConfig, parse_tsv, labels};
//!
//! let tsv = b"1\tA wonderful, moving film\n0\tDull and far too long\n";
//! let docs = parse_tsv(tsv, Path::new("inline.tsv"), Targets::Polarity)?;
//! let v = Vectorizer::fit(&docs, &VectorizerConfig::default())?;
//! let x = v.transform(&docs)?; // binary presence, vocabulary × 2
//! assert_eq!(x.batch_size(), 2);
//! assert_eq!(labels(&docs)?, vec![1, 0]);
//! # Ok::<(), relu_data::DataError>(())
//! ```

/// `Display` by the enum's `name()`, and serde's `String` conversions for
/// `#[serde(try_from = "String", into = "String")]` (by `name()`, reading whatever `FromStr`
/// reads), for the named option enums of this module.
macro_rules! named_option {
    ($t:ty) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.name().to_owned()
            }
        }

        impl TryFrom<String> for $t {
            type Error = crate::DataError;

            fn try_from(s: String) -> crate::Result<Self> {
                s.parse()
            }
        }
    };
}

mod compose;
mod evaluation;
mod features;
mod ratings;
mod readers;
mod tokenize;
mod vocab;

pub use evaluation::{TextSplit, folds, holdout, holdout_with};
pub use features::{Vectorizer, VectorizerConfig, Weighting, labels, term_counts};
pub use ratings::{expected_rating, expected_ratings, rmse, stars_of_class};
pub use readers::{
    AclDomain, ClassedDocuments, Content, Document, LabelKind, LabelledReviews, MAX_LABEL_CLASSES, Targets, parse_acl, parse_jsonl,
    parse_tsv, parse_tsv_as_classes, read_acl, read_acl_domain, read_jsonl, read_labelled_reviews, read_lines, read_reviews,
    read_reviews_as_classes, read_tsv, read_unlabeled,
};
pub use tokenize::{ENGLISH_STOP_WORDS, Tokenizer};
pub use vocab::{DEFAULT_VOCAB_SIZE, Vocabulary};
