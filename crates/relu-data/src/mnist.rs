//! MNIST and every dataset distributed as four IDX files with MNIST's names (Fashion-MNIST,
//! Kuzushiji-MNIST, EMNIST after renaming, …).
//!
//! Accepted spellings for each file, in order: `train-images-idx3-ubyte`, `.gz` of it,
//! `train-images.idx3-ubyte`, `.gz` of it (and the same for `train-labels-idx1-ubyte`,
//! `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`).

use std::path::{Path, PathBuf};

use nalgebra::DMatrix;

use crate::dataset::{ImageSet, Splits, TrainTest};
use crate::error::{DataError, Result};
use crate::idx::{IdxArray, read_idx};

/// The paper's MNIST validation size: the last 10,000 examples of the training file.
pub const PAPER_VALID_LEN: usize = 10_000;

/// Labels at or above this are refused: they would make absurd one-hot targets.
const MAX_CLASSES: f64 = 65_536.0;

/// Finds `{stem}-{kind}` in `dir` under any accepted spelling.
fn find(dir: &Path, stem: &str, kind: &str) -> Result<PathBuf> {
    let candidates = [format!("{stem}-{kind}"), format!("{stem}-{kind}.gz"), format!("{stem}.{kind}"), format!("{stem}.{kind}.gz")];
    candidates
        .iter()
        .map(|c| dir.join(c))
        .find(|p| p.is_file())
        .ok_or_else(|| DataError::MissingFile { dir: dir.to_path_buf(), candidates: candidates.to_vec() })
}

/// The four files of an MNIST-style directory: (train images, train labels, test images, test labels).
///
/// # Errors
/// [`DataError::MissingFile`] naming the spellings tried for the first file not found.
pub fn files(dir: &Path) -> Result<[PathBuf; 4]> {
    Ok([
        find(dir, "train-images", "idx3-ubyte")?,
        find(dir, "train-labels", "idx1-ubyte")?,
        find(dir, "t10k-images", "idx3-ubyte")?,
        find(dir, "t10k-labels", "idx1-ubyte")?,
    ])
}

/// Loads an image file and a label file into an [`ImageSet`] with pixels scaled to `[0, 1]` (byte
/// images; other element types are converted unscaled) and `num_classes = max label + 1`.
///
/// # Errors
/// Any error of [`read_idx`]; [`DataError::Inconsistent`] when the files disagree on the number
/// of examples; [`DataError::Malformed`] for non-integer, negative or absurd labels, or images
/// that are not at least two-dimensional (`n × …`); [`DataError::TooLarge`] if the images would
/// take more than 2 GiB as `f32`.
pub fn load_pair(images: &Path, labels: &Path) -> Result<ImageSet> {
    from_arrays(read_idx(images)?, images, read_idx(labels)?, labels, MAX_CLASSES)
}

/// The number of classes of MNIST: labels are the digits 0–9.
pub const MNIST_CLASSES: usize = 10;

/// Loads both files of an MNIST-style directory; the pair's class count is the larger of the two
/// files' ([`TrainTest::from_sets`]).
///
/// # Errors
/// As [`files`] and [`load_pair`], and [`DataError::Malformed`] (naming the label file and the
/// byte offset) for a label that is not a digit 0–9.
pub fn load_dir(dir: &Path) -> Result<TrainTest> {
    let [tri, trl, tei, tel] = files(dir)?;
    let digits = MNIST_CLASSES as f64;
    let train = from_arrays(read_idx(&tri)?, &tri, read_idx(&trl)?, &trl, digits)?;
    let test = from_arrays(read_idx(&tei)?, &tei, read_idx(&tel)?, &tel, digits)?;
    TrainTest::from_sets(train, &tri.display().to_string(), test, &tei.display().to_string())
}

/// The paper's MNIST split: the first 50,000 training images, the last 10,000 as validation set,
/// and the 10,000 test images; pixels in `[0, 1]`.
///
/// # Errors
/// As [`load_dir`], or [`DataError::InvalidParameter`] if the training file has fewer than
/// 10,000 images.
pub fn paper_splits(dir: &Path) -> Result<Splits> {
    load_dir(dir)?.hold_out_last(PAPER_VALID_LEN)
}

/// Turns parsed image and label arrays into a dataset, checking that they belong together.
/// Labels must be integers in `0..classes`.
pub(crate) fn from_arrays(images: IdxArray, images_path: &Path, labels: IdxArray, labels_path: &Path, classes: f64) -> Result<ImageSet> {
    let dims = images.dims();
    if dims.len() < 2 {
        return Err(DataError::malformed(
            images_path,
            3,
            format!("an image array of rank at least 2 (examples × pixels…), found rank {}", dims.len()),
        ));
    }
    if labels.dims().len() != 1 || !labels.dtype().is_integer() {
        return Err(DataError::malformed(
            labels_path,
            2,
            format!("a one-dimensional integer label array, found {:?} of rank {}", labels.dtype(), labels.dims().len()),
        ));
    }
    let n = dims[0];
    if labels.len() != n {
        return Err(DataError::Inconsistent {
            what: format!("{} holds {n} images but {} holds {} labels", images_path.display(), labels_path.display(), labels.len()),
        });
    }
    let header = 8u64;
    let width = labels.dtype().size() as u64;
    let mut out = Vec::with_capacity(n);
    let mut max = 0u32;
    for i in 0..n {
        let v = labels.get(i);
        if !(0.0..classes).contains(&v) {
            return Err(DataError::malformed(
                labels_path,
                header + width * i as u64,
                format!("a class label in 0..{classes} for example {i}, found {v}"),
            ));
        }
        let l = v as u32;
        max = max.max(l);
        out.push(l);
    }
    let shape = dims[1..].to_vec();
    let dim: usize = shape.iter().product();
    crate::io::check_f32_len(images_path, images.len() as u64, "image features")?;
    let pixels = images.to_f32(true);
    // Float IDX files (type 0x0D/0x0E) can hold NaN or infinities; no network can learn from them.
    if let Some(k) = pixels.iter().position(|v| !v.is_finite()) {
        let offset = (4 + 4 * dims.len() as u64) + images.dtype().size() as u64 * k as u64;
        return Err(DataError::malformed(
            images_path,
            offset,
            format!("finite pixel values, found {} in image {} (pixel {})", pixels[k], k / dim.max(1), k % dim.max(1)),
        ));
    }
    Ok(ImageSet::new(DMatrix::from_vec(dim, n, pixels), out, if n == 0 { 0 } else { max as usize + 1 }, shape))
}
