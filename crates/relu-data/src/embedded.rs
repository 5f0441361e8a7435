//! A real MNIST subset compiled into the crate (feature `embedded-mnist`, on by default), so the
//! library trains on real digits offline on a fresh machine.
//!
//! The files in `crates/relu-data/data/` hold the **first 20,000 training** images and **every
//! fifth test** image (2,000: a systematic sample, so its error estimates the whole test set's)
//! with their labels, from the canonical MNIST files, unchanged, re-encoded as gzip IDX files
//! (see `data/README.md` for how they were made).

use std::path::Path;

use crate::dataset::Splits;
use crate::error::Result;
use crate::idx::parse_idx;
use crate::mnist;

const TRAIN_IMAGES: &[u8] = include_bytes!("../data/train-images-idx3-ubyte-20k.gz");
const TRAIN_LABELS: &[u8] = include_bytes!("../data/train-labels-idx1-ubyte-20k.gz");
const TEST_IMAGES: &[u8] = include_bytes!("../data/t10k-images-idx3-ubyte-every5th.gz");
const TEST_LABELS: &[u8] = include_bytes!("../data/t10k-labels-idx1-ubyte-every5th.gz");

/// Training examples of the embedded split; the remaining 2,000 of the 20,000 are validation.
pub const EMBEDDED_TRAIN_LEN: usize = 18_000;
/// Validation examples of the embedded split (the last 2,000 of the embedded training images).
pub const EMBEDDED_VALID_LEN: usize = 2_000;
/// Test examples of the embedded split (MNIST test images 0, 5, 10, …, 9,995).
pub const EMBEDDED_TEST_LEN: usize = 2_000;

/// The embedded MNIST subset as train (MNIST training images 0–17,999), validation
/// (18,000–19,999) and test (every fifth MNIST test image: 0, 5, …, 9,995) sets, pixels in
/// `[0, 1]`, 10 classes.
///
/// # Errors
/// Never in a correctly built crate; the embedded bytes go through the same checked parser as
/// files do, so corruption would be reported, not panic.
pub fn mnist_embedded() -> Result<Splits> {
    let src = |name: &str| Path::new("<embedded>").join(name);
    let (tri, trl) = (src("train-images-idx3-ubyte-20k.gz"), src("train-labels-idx1-ubyte-20k.gz"));
    let (tei, tel) = (src("t10k-images-idx3-ubyte-every5th.gz"), src("t10k-labels-idx1-ubyte-every5th.gz"));
    let digits = mnist::MNIST_CLASSES as f64;
    let train = mnist::from_arrays(parse_idx(TRAIN_IMAGES, &tri)?, &tri, parse_idx(TRAIN_LABELS, &trl)?, &trl, digits)?;
    let test = mnist::from_arrays(parse_idx(TEST_IMAGES, &tei)?, &tei, parse_idx(TEST_LABELS, &tel)?, &tel, digits)?;
    let mut pair = crate::TrainTest::from_sets(train, &tri.display().to_string(), test, &tei.display().to_string())?;
    pair.num_classes = mnist::MNIST_CLASSES;
    pair.hold_out_last(EMBEDDED_VALID_LEN)
}
