//! Loads MNIST (from a directory if given, else the embedded subset), prints the split sizes and
//! label histogram, then vectorises a few reviews.
//!
//! ```text
//! cargo run -p relu-data --example datasets               # embedded subset
//! cargo run -p relu-data --example datasets -- ../shared/data/mnist
//! ```

use std::path::{Path, PathBuf};

use relu_data::text::{Targets, Tokenizer, Vectorizer, VectorizerConfig, Weighting, parse_tsv};
use relu_data::{DataError, Scaling, Splits, mnist};

fn load(dir: Option<PathBuf>) -> Result<Splits, DataError> {
    match dir {
        Some(d) => mnist::paper_splits(&d),
        #[cfg(feature = "embedded-mnist")]
        None => relu_data::mnist_embedded(),
        #[cfg(not(feature = "embedded-mnist"))]
        None => Err(DataError::InvalidParameter {
            name: "MNIST directory",
            value: "(none)".into(),
            expected: "a directory argument (the embedded subset is disabled)".into(),
        }),
    }
}

fn main() -> Result<(), DataError> {
    let mut splits = load(std::env::args().nth(1).map(PathBuf::from))?;
    splits.scale(Scaling::Unit)?;
    println!(
        "MNIST: train {} / valid {} / test {} examples of {} features (images {:?}, {} classes)",
        splits.train.len(),
        splits.valid.len(),
        splits.test.len(),
        splits.train.inputs.dim(),
        splits.shape,
        splits.num_classes
    );
    println!("train label histogram: {:?}", splits.train.targets.class_counts(splits.num_classes).unwrap_or_default());

    let tsv = "1\tUne comédie délicieuse, vraiment réussie\n0\tLangweilig und viel zu lang\n1\tA moving, beautifully shot film\n";
    let docs = parse_tsv(tsv.as_bytes(), Path::new("inline.tsv"), Targets::Polarity)?;
    let cfg = VectorizerConfig { tokenizer: Tokenizer::new().bigrams(true), weighting: Weighting::Binary, ..Default::default() };
    let v = Vectorizer::fit(&docs, &cfg)?;
    let x = v.transform(&docs)?;
    println!("reviews: {} terms, {} documents, density {:.3}", v.dim(), x.batch_size(), x.density());
    Ok(())
}
